//! Load shedding in front of `/mcp`: an adaptive admission limit lowered by queueing delay (CPU
//! overload), and a fixed cap on concurrency.
//!
//! Under CPU overload every runnable task waits longer for its turn, so every request in flight
//! slows down together, and each one needs many turns (read, check, call upstream, shape, write).
//! Shedding only while the delay stands above a target, and admitting everything otherwise, let
//! hundreds of requests in between two measurements: admitted calls then took seconds
//! (`BENCHMARKS.md`, "Overload"). What bounds their latency is how many run at once, so that is
//! what is controlled: an AIMD limit on the requests in flight, as TCP controls its window. A probe
//! task asks to be woken every [`PROBE_PERIOD`] and records how late it runs (exactly the wait of
//! any runnable step of a request, and a signal of this process's CPU, not of slow upstreams: a
//! call waiting on its upstream is not runnable). Each late reading cuts the limit to three
//! quarters of what is in flight; each reading on time raises it by an eighth, back to the cap.
//! A request over the limit is answered 503 with `Retry-After` at once, before its body is read.
//!
//! Refusing a request still costs a turn of the runtime (its head is read and parsed), and every
//! turn of every connection lengthens the wait of all the others: at 3x overload, refusals alone
//! kept the queue seconds long. So while the delay stands above the target (for
//! [`SHED_INTERVAL`], a standing queue rather than a burst: CoDel's rule), new connections are
//! refused in the accept loop itself (`connections.rs`), with a 503 written without reading: the
//! cheapest refusal there is, and it keeps the work in the queue to the connections already open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::connections::Arrived;
use crate::telemetry::metrics::{Metrics, SHED_CONCURRENCY, SHED_QUEUE_DELAY};

/// How often the probe measures the runtime's queueing delay (and the limit adapts).
pub const PROBE_PERIOD: Duration = Duration::from_millis(10);

/// Consecutive late probe readings (20 ms at the probe period) before the limit is cut: one late
/// reading is a stall (a writer thread, the kernel's scheduler on a saturated machine), not a queue,
/// and cutting on it refused closed-loop clients at concurrency 8 that never overloaded anything.
pub const LATE_READINGS_TO_CUT: usize = 2;

/// How long the delay must stay above the target before new connections are refused.
pub const SHED_INTERVAL: Duration = Duration::from_millis(100);

/// The admission limit never falls below this: a few requests at once keep every worker thread
/// busy, and fewer would not make a single request faster.
pub const MIN_LIMIT: usize = 4;

#[derive(Clone)]
pub struct Shedding {
    permits: Arc<Semaphore>,
    /// `None`: queueing delay is not measured (only the fixed cap sheds).
    control: Option<Arc<Control>>,
    probe_started: Arc<std::sync::Once>,
    metrics: Arc<Metrics>,
}

/// The adaptive limit and the requests it admitted that are still in flight.
struct Control {
    target: Duration,
    max: usize,
    limit: AtomicUsize,
    in_flight: AtomicUsize,
    /// Consecutive probe readings above the target.
    late_readings: AtomicUsize,
}

/// Whether new connections are refused now (the accept loop asks before serving one).
#[derive(Clone)]
pub struct Overload(Arc<Control>);

impl Overload {
    pub fn refusing_connections(&self) -> bool {
        let standing = SHED_INTERVAL.as_millis().div_ceil(PROBE_PERIOD.as_millis()) as usize;
        self.0.late_readings.load(Ordering::Acquire) >= standing
    }
}

impl Control {
    fn try_enter(self: &Arc<Self>) -> Option<Entered> {
        let limit = self.limit.load(Ordering::Acquire);
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= limit {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Entered(self.clone()))
    }

    /// Adapts the limit to one probe reading; returns the new limit. A late reading cuts it only
    /// when the one before was late too ([`LATE_READINGS_TO_CUT`]); meanwhile the limit stays.
    fn observe(&self, delay: Duration) -> usize {
        let late = if delay > self.target {
            self.late_readings.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.late_readings.store(0, Ordering::Release);
            0
        };
        let limit = self.limit.load(Ordering::Acquire);
        if late > 0 && late < LATE_READINGS_TO_CUT {
            return limit;
        }
        let next = next_limit(limit, self.in_flight.load(Ordering::Acquire), delay, self.target, self.max);
        self.limit.store(next, Ordering::Release);
        next
    }

    /// Whether the delay stands above the target (enough late readings in a row to cut the limit).
    fn queue_standing(&self) -> bool {
        self.late_readings.load(Ordering::Acquire) >= LATE_READINGS_TO_CUT
    }
}

/// One admitted request in flight; leaving frees its place.
struct Entered(Arc<Control>);

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// AIMD: a reading over the target cuts the limit to three quarters of the requests in flight (of
/// the limit, when fewer are in flight: the limit must bind to have an effect), never below
/// [`MIN_LIMIT`]; a reading within it raises the limit by an eighth (at least one), up to `max`.
pub fn next_limit(limit: usize, in_flight: usize, delay: Duration, target: Duration, max: usize) -> usize {
    if delay > target {
        (limit.min(in_flight) * 3 / 4).max(MIN_LIMIT).min(max)
    } else {
        limit.saturating_add((limit / 8).max(1)).min(max)
    }
}

impl Shedding {
    pub fn new(max_concurrent_requests: usize, queue_target: Option<Duration>, metrics: Arc<Metrics>) -> Self {
        let control = queue_target.filter(|target| !target.is_zero()).map(|target| {
            Arc::new(Control {
                target,
                max: max_concurrent_requests,
                limit: AtomicUsize::new(max_concurrent_requests),
                in_flight: AtomicUsize::new(0),
                late_readings: AtomicUsize::new(0),
            })
        });
        metrics.admission_limit(max_concurrent_requests);
        Shedding {
            permits: Arc::new(Semaphore::new(max_concurrent_requests)),
            control,
            probe_started: Arc::new(std::sync::Once::new()),
            metrics,
        }
    }

    /// Starts measuring (inside the runtime; at most once). The probe holds only a weak reference
    /// to the limit: it ends when the router is dropped.
    pub fn start(&self) {
        if let Some(control) = &self.control {
            self.probe_started.call_once(|| {
                tokio::spawn(probe(Arc::downgrade(control), self.metrics.clone()));
            });
        }
    }

    /// What the accept loop asks; `None` when queueing delay is not measured.
    pub fn overload(&self) -> Option<Overload> {
        self.control.clone().map(Overload)
    }
}

async fn probe(control: Weak<Control>, metrics: Arc<Metrics>) {
    loop {
        let asked = tokio::time::Instant::now() + PROBE_PERIOD;
        tokio::time::sleep_until(asked).await;
        let late = tokio::time::Instant::now().saturating_duration_since(asked);
        let Some(control) = control.upgrade() else { return };
        let before = control.limit.load(Ordering::Acquire);
        let limit = control.observe(late);
        if limit != before {
            metrics.admission_limit(limit);
        }
    }
}

/// Middleware: sheds on the adaptive limit, then on the fixed cap. A client told to come back soon
/// does better than one whose request waits behind thousands of others.
pub async fn admit(State(shedding): State<Shedding>, request: Request, next: Next) -> Response {
    let mut entered = None;
    if let Some(control) = &shedding.control {
        shedding.start();
        // A request that itself waited long to get here counts too (a runtime with one blocked
        // worker), while the delay stands above the target: one stall alone refuses nothing.
        let waited = request.extensions().get::<Arrived>().map_or(Duration::ZERO, |arrived| arrived.0.elapsed());
        entered = control.try_enter().filter(|_| waited <= control.target || !control.queue_standing());
        if entered.is_none() {
            shedding.metrics.request_shed(SHED_QUEUE_DELAY);
            return busy("the server is overloaded; retry shortly\n");
        }
    }
    match shedding.permits.try_acquire() {
        Ok(_permit) => {
            let response = next.run(request).await;
            drop(entered);
            response
        }
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

    const TARGET: Duration = Duration::from_millis(10);
    const LATE: Duration = Duration::from_millis(30);
    const ON_TIME: Duration = Duration::from_millis(1);

    #[test]
    fn late_readings_cut_the_limit_to_what_is_in_flight_and_on_time_readings_raise_it() {
        assert_eq!(next_limit(1024, 0, LATE, TARGET, 1024), MIN_LIMIT, "nothing in flight: the floor");
        assert_eq!(next_limit(1024, 40, LATE, TARGET, 1024), 30, "three quarters of what is in flight");
        assert_eq!(next_limit(20, 20, LATE, TARGET, 1024), 15);
        assert_eq!(next_limit(5, 5, LATE, TARGET, 1024), MIN_LIMIT, "never below the floor");
        assert_eq!(next_limit(2, 2, LATE, TARGET, 2), 2, "never above the cap");
        assert_eq!(next_limit(4, 4, ON_TIME, TARGET, 1024), 5, "at least one more");
        assert_eq!(next_limit(80, 3, ON_TIME, TARGET, 1024), 90, "an eighth more");
        assert_eq!(next_limit(1000, 0, ON_TIME, TARGET, 1024), 1024, "up to the cap");
        assert_eq!(next_limit(10, 10, TARGET, TARGET, 1024), 11, "exactly the target is on time");
    }

    #[test]
    fn the_limit_recovers_to_the_cap_within_a_few_dozen_readings() {
        let mut limit = MIN_LIMIT;
        let mut readings = 0;
        while limit < 1024 {
            limit = next_limit(limit, limit, ON_TIME, TARGET, 1024);
            readings += 1;
        }
        assert!(readings <= 50, "{readings} readings (of {PROBE_PERIOD:?}) to recover");
    }

    #[tokio::test]
    async fn only_the_limit_is_admitted_and_leaving_frees_a_place() {
        let shedding = Shedding::new(1024, Some(TARGET), Arc::new(Metrics::new()));
        let control = shedding.control.clone().unwrap();
        assert_eq!(control.observe(LATE), 1024, "one late reading is a stall, not a queue");
        assert!(!control.queue_standing());
        assert_eq!(control.observe(LATE), MIN_LIMIT, "two in a row cut the limit");
        assert!(control.queue_standing());
        let entered: Vec<Entered> = (0..MIN_LIMIT).map(|_| control.try_enter().unwrap()).collect();
        assert!(control.try_enter().is_none(), "over the limit");
        drop(entered);
        assert_eq!(control.in_flight.load(Ordering::Acquire), 0);
        assert!(control.try_enter().is_some());
    }

    #[test]
    fn new_connections_are_refused_only_while_the_delay_stands_above_the_target() {
        let shedding = Shedding::new(1024, Some(TARGET), Arc::new(Metrics::new()));
        let control = shedding.control.clone().unwrap();
        let overload = shedding.overload().unwrap();
        let standing = (SHED_INTERVAL.as_millis() / PROBE_PERIOD.as_millis()) as usize;
        for _ in 0..standing - 1 {
            control.observe(LATE);
        }
        assert!(!overload.refusing_connections(), "a burst");
        control.observe(LATE);
        assert!(overload.refusing_connections(), "a standing queue");
        control.observe(ON_TIME);
        assert!(!overload.refusing_connections(), "one reading on time ends it");
        assert!(Shedding::new(8, None, Arc::new(Metrics::new())).overload().is_none());
    }
}
