//! Protection of the upstreams and of api2mcp itself (`specs/resilience.md`): rate limits with costs
//! ([`limits`], in process or shared through Redis), a circuit breaker per upstream ([`breaker`]),
//! retries with a budget ([`retry`]) and a bulkhead (a bounded concurrency cap) per upstream.
//! One [`Resilience`] belongs to one catalogue; `call/` consults it around every upstream request.
//! Nothing here knows MCP; refusals become `classify::Outcome`s in `call/`.

pub mod breaker;
pub mod limits;
pub mod retry;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::catalogue::Catalogue;
use crate::telemetry::metrics::Metrics;

/// The resilience state of one catalogue: limits, and per upstream a breaker, a retry budget and a bulkhead.
pub struct Resilience {
    pub limiter: limits::Limiter,
    upstreams: Vec<UpstreamGuard>,
    metrics: Option<Arc<Metrics>>,
}

/// One upstream's breaker, retry budget and bulkhead.
pub struct UpstreamGuard {
    pub name: String,
    pub breaker: Option<breaker::Breaker>,
    pub budget: retry::RetryBudget,
    slots: Arc<Semaphore>,
    max_wait: Duration,
}

/// The bulkhead stayed full for the whole `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkheadFull {
    pub waited: Duration,
}

impl Resilience {
    pub fn new(catalogue: &Catalogue) -> Result<Self, String> {
        let upstreams = catalogue
            .upstreams
            .iter()
            .map(|upstream| {
                let settings = &upstream.resilience;
                UpstreamGuard {
                    name: upstream.name.clone(),
                    breaker: settings.breaker.clone().map(breaker::Breaker::new),
                    budget: retry::RetryBudget::new(settings.retry_budget),
                    slots: Arc::new(Semaphore::new(settings.max_concurrent as usize)),
                    max_wait: settings.max_wait,
                }
            })
            .collect();
        Ok(Resilience { limiter: limits::Limiter::new(catalogue)?, upstreams, metrics: None })
    }

    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.limiter.set_metrics(metrics.clone());
        self.metrics = Some(metrics);
    }

    pub fn upstream(&self, index: usize) -> &UpstreamGuard {
        &self.upstreams[index]
    }

    /// Records a breaker transition in the metrics.
    pub fn breaker_changed(&self, index: usize, state: breaker::State) {
        let guard = &self.upstreams[index];
        tracing::warn!(upstream = %guard.name, state = state.as_str(), "circuit breaker changed state");
        if let Some(metrics) = &self.metrics {
            metrics.circuit_state(&guard.name, state.as_gauge());
        }
    }

    /// A slot in the upstream's bulkhead, waiting at most its `max_wait` (never past `deadline`).
    pub async fn enter(
        &self,
        index: usize,
        deadline: tokio::time::Instant,
    ) -> Result<OwnedSemaphorePermit, BulkheadFull> {
        let guard = &self.upstreams[index];
        if let Ok(permit) = guard.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let started = tokio::time::Instant::now();
        let until = (started + guard.max_wait).min(deadline);
        match tokio::time::timeout_at(until, guard.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                if let Some(metrics) = &self.metrics {
                    metrics.bulkhead_rejected(&guard.name);
                }
                Err(BulkheadFull { waited: started.elapsed() })
            }
        }
    }

    /// The `/ready` view: whether limits are shared, degraded or local, and each breaker's state.
    /// A degraded limiter or an open breaker leaves the instance ready: it still serves.
    pub fn status(&self) -> Value {
        let limits = match self.limiter.sharing() {
            limits::Sharing::Local => json!({"status": "ok", "detail": "limits enforced in this instance"}),
            limits::Sharing::Shared => json!({"status": "ok", "detail": "limits shared through redis"}),
            limits::Sharing::Degraded => json!({
                "status": "degraded",
                "detail": "redis unreachable: this instance enforces its share of every limit"
            }),
        };
        let mut breakers = Map::new();
        for guard in &self.upstreams {
            if let Some(breaker) = &guard.breaker {
                let state = breaker.state();
                let status = if state == breaker::State::Closed { "ok" } else { "degraded" };
                breakers.insert(guard.name.clone(), json!({"status": status, "state": state.as_str()}));
            }
        }
        json!({"rate_limits": limits, "circuit_breakers": breakers})
    }
}
