//! Load shedding in front of `/mcp`: on queueing delay (CPU overload) and on concurrency.
//!
//! Under CPU overload every runnable task waits longer for its turn, so every request slows down
//! together; admitting more only makes all of them late. The wait is measured by a probe task that
//! asks to be woken every [`PROBE_PERIOD`] and records how late it actually runs: exactly the
//! delay any runnable piece of work (a request's next step) spends queued behind others. (A request
//! cannot measure its own wait before it first runs: that time passes while its bytes sit in the
//! socket.) When that delay has stayed above the target for a whole interval (CoDel's rule: a
//! standing queue, not a burst), requests are answered 503 with `Retry-After` until the delay is
//! back under the target. Admitted requests then keep their latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::connections::Arrived;
use crate::telemetry::metrics::{Metrics, SHED_CONCURRENCY, SHED_QUEUE_DELAY};

/// How long the delay must stay above the target before shedding starts.
pub const SHED_INTERVAL: Duration = Duration::from_millis(100);

/// Marks "the delay is not above the target".
const NOT_ABOVE: u64 = u64::MAX;

/// How often the probe measures the runtime's queueing delay.
pub const PROBE_PERIOD: Duration = Duration::from_millis(10);

#[derive(Clone)]
pub struct Shedding {
    permits: Arc<Semaphore>,
    /// `None`: queueing delay is not measured (only the concurrency cap sheds).
    queue_target: Option<Duration>,
    epoch: Instant,
    /// Milliseconds after `epoch` since when every request waited longer than the target.
    above_since_ms: Arc<AtomicU64>,
    /// The probe's latest measurement, in microseconds.
    delay: Arc<AtomicU64>,
    probe_started: Arc<std::sync::Once>,
    metrics: Arc<Metrics>,
}

impl Shedding {
    pub fn new(max_concurrent_requests: usize, queue_target: Option<Duration>, metrics: Arc<Metrics>) -> Self {
        Shedding {
            permits: Arc::new(Semaphore::new(max_concurrent_requests)),
            queue_target: queue_target.filter(|target| !target.is_zero()),
            epoch: Instant::now(),
            above_since_ms: Arc::new(AtomicU64::new(NOT_ABOVE)),
            delay: Arc::new(AtomicU64::new(0)),
            probe_started: Arc::new(std::sync::Once::new()),
            metrics,
        }
    }

    /// The runtime's queueing delay now; starts the probe on first use (inside the runtime).
    fn queueing_delay(&self) -> Duration {
        self.probe_started.call_once(|| {
            // The probe holds only a weak reference: it ends when the router is dropped.
            let delay = Arc::downgrade(&self.delay);
            tokio::spawn(async move {
                loop {
                    let asked = tokio::time::Instant::now() + PROBE_PERIOD;
                    tokio::time::sleep_until(asked).await;
                    let late = tokio::time::Instant::now().saturating_duration_since(asked);
                    let Some(delay) = delay.upgrade() else { return };
                    delay.store(u64::try_from(late.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
                }
            });
        });
        Duration::from_micros(self.delay.load(Ordering::Relaxed))
    }

    /// Whether a request that waited `waited` is shed, updating the standing-queue state.
    fn overloaded(&self, target: Duration, waited: Duration, now: Instant) -> bool {
        let now_ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(NOT_ABOVE - 1);
        if waited <= target {
            self.above_since_ms.store(NOT_ABOVE, Ordering::Relaxed);
            return false;
        }
        let since = match self.above_since_ms.compare_exchange(NOT_ABOVE, now_ms, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => now_ms,
            Err(since) => since,
        };
        now_ms.saturating_sub(since) >= SHED_INTERVAL.as_millis() as u64
    }
}

/// Middleware: sheds on queueing delay, then on concurrency. A client told to come back soon does
/// better than one whose request waits behind thousands of others.
pub async fn admit(State(shedding): State<Shedding>, request: Request, next: Next) -> Response {
    if let Some(target) = shedding.queue_target {
        // A request that itself waited long to start counts too (a runtime with one blocked worker).
        let waited = request.extensions().get::<Arrived>().map_or(Duration::ZERO, |arrived| arrived.0.elapsed());
        let now = Instant::now();
        if shedding.overloaded(target, shedding.queueing_delay().max(waited), now) {
            shedding.metrics.request_shed(SHED_QUEUE_DELAY);
            return busy("the server is overloaded; retry shortly\n");
        }
    }
    match shedding.permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            shedding.metrics.request_shed(SHED_CONCURRENCY);
            busy("too many concurrent requests\n")
        }
    }
}

fn busy(message: &'static str) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheds_only_a_standing_queue() {
        let shedding = Shedding::new(1, Some(Duration::from_millis(10)), Arc::new(Metrics::new()));
        let target = Duration::from_millis(10);
        let start = shedding.epoch;
        let slow = Duration::from_millis(30);
        assert!(!shedding.overloaded(target, slow, start), "a first late request starts the clock");
        assert!(!shedding.overloaded(target, slow, start + Duration::from_millis(50)), "a burst is admitted");
        assert!(shedding.overloaded(target, slow, start + Duration::from_millis(120)), "a standing queue is shed");
        assert!(!shedding.overloaded(target, Duration::from_millis(1), start + Duration::from_millis(130)));
        assert!(!shedding.overloaded(target, slow, start + Duration::from_millis(140)), "the clock restarted");
    }
}
