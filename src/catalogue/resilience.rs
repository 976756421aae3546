//! The runtime form of the resilience settings: rate limits with their defaults filled in, the
//! cost of each tool, and each upstream's retry, breaker and bulkhead settings.

use std::time::Duration;

/// `count` cost units per `period`; up to `count` at once (GCRA with a burst of `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    /// This instance's share when `instances` share the rate and cannot coordinate: at least 1.
    #[must_use]
    pub fn share(self, instances: u32) -> Rate {
        Rate { count: (self.count / instances.max(1)).max(1), period: self.period }
    }

    /// `100/60s`-style text for the summary.
    pub fn describe(self) -> String {
        let seconds = self.period.as_secs_f64();
        let unit = match self.period.as_secs() {
            1 if self.period.subsec_nanos() == 0 => "second".to_string(),
            60 if self.period.subsec_nanos() == 0 => "minute".to_string(),
            3600 if self.period.subsec_nanos() == 0 => "hour".to_string(),
            86_400 if self.period.subsec_nanos() == 0 => "day".to_string(),
            _ => format!("{seconds}s"),
        };
        format!("{}/{unit}", self.count)
    }
}

/// The limits of one level (server, upstream or tool).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitSet {
    pub total: Option<Rate>,
    pub per_caller: Option<Rate>,
    pub per_client: Option<Rate>,
}

impl LimitSet {
    pub fn is_empty(&self) -> bool {
        self.total.is_none() && self.per_caller.is_none() && self.per_client.is_none()
    }

    /// `{"total": "100/minute", ...}` for the summary; only the limits set.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for (name, rate) in [("total", self.total), ("per_caller", self.per_caller), ("per_client", self.per_client)] {
            if let Some(rate) = rate {
                out.insert(name.into(), rate.describe().into());
            }
        }
        serde_json::Value::Object(out)
    }
}

/// Server-wide limits (`server.limits`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    pub global: LimitSet,
    /// The shared budget of unidentified callers; `None`: the strictest `per_caller` that applies.
    pub anonymous: Option<Rate>,
    pub http_per_address: Option<Rate>,
    pub instances: u32,
    pub redis_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            global: LimitSet::default(),
            anonymous: None,
            http_per_address: None,
            instances: 1,
            redis_timeout: Duration::from_millis(50),
        }
    }
}

/// Retry settings of one tool (its upstream's, overridden field by field).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1: no retries.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The method is idempotent, or the tool is marked safe, or it sends an idempotency key.
    pub repeatable: bool,
    /// The header that carries a per-call idempotency key, sent on every attempt.
    pub idempotency_key: Option<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            repeatable: false,
            idempotency_key: None,
        }
    }
}

/// The circuit breaker of one upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    pub failure_rate: f64,
    pub min_requests: u32,
    pub window: Duration,
    pub open_for: Duration,
    pub probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failure_rate: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            open_for: Duration::from_secs(10),
            probes: 3,
        }
    }
}

/// Everything about how one upstream is protected.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamResilience {
    pub limits: LimitSet,
    /// `None`: the breaker is off.
    pub breaker: Option<BreakerSettings>,
    /// Fraction of the upstream's requests that retries may add.
    pub retry_budget: f64,
    pub max_concurrent: u32,
    pub max_wait: Duration,
}

impl Default for UpstreamResilience {
    fn default() -> Self {
        UpstreamResilience {
            limits: LimitSet::default(),
            breaker: Some(BreakerSettings::default()),
            retry_budget: 0.1,
            max_concurrent: 64,
            max_wait: Duration::from_secs(1),
        }
    }
}

/// Everything about how one tool's calls are limited and retried.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResilience {
    pub limits: LimitSet,
    /// Units used from every limit per call.
    pub cost: u32,
    pub retry: RetryPolicy,
    /// Time for the whole call (attempts, backoff, pages).
    pub deadline: Duration,
}

impl Default for ToolResilience {
    fn default() -> Self {
        ToolResilience {
            limits: LimitSet::default(),
            cost: 1,
            retry: RetryPolicy::default(),
            deadline: Duration::from_secs(60),
        }
    }
}
