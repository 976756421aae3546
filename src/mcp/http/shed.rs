//! Load shedding in front of `/mcp`: an adaptive admission limit lowered by queueing delay (CPU
//! overload), and a fixed cap on concurrency.
//!
//! Under CPU overload every runnable task waits longer for its turn, so every request in flight
//! slows down together, and each one needs many turns (read, check, call upstream, shape, write).
//! What bounds their latency is how many run at once, so that is what is controlled: an AIMD limit
//! on the requests in flight, as TCP controls its window. A probe task asks to be woken every
//! [`PROBE_PERIOD`], yields its turn once (so that it waits behind every task already runnable
//! rather than jumping ahead of them in tokio's LIFO slot) and records how late it then runs:
//! the wait of any runnable step of a request, and a signal of this process's CPU, not of slow
//! upstreams (a call waiting on its upstream is not runnable). Two late readings in a row cut the
//! limit to three quarters of what is in flight, never below [`MIN_LIMIT_PER_WORKER`] per worker;
//! each reading on time raises it by an eighth, back to the cap.
//!
//! Refusing costs CPU that admitted calls need, so it is done as early and as cheaply as possible:
//! the limit is checked in the connection (`connections.rs`) as soon as a request head is parsed,
//! before routing, logging or any other check, with a 503 and `Retry-After` and without reading
//! the body ([`Shedding::admit`] does the same for a router served without that accept loop).
//! While the delay stands above the target (for [`SHED_INTERVAL`], a standing queue rather than a
//! burst: CoDel's rule), new connections are refused in the accept loop itself with a 503 written
//! without reading: the cheapest refusal there is, and it keeps the work to the connections already
//! open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
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

/// The admission limit never falls below this many requests per worker thread of the runtime. A
/// worker stays busy only with enough calls in flight to cover their waits on upstreams (Little's
/// law: upstream latency over CPU per call, ~10 for a few ms against ~0.3-1 ms), so fewer would
/// not make one call faster, only refuse more. It also keeps closed-loop clients within capacity
/// from ever being refused: with a floor of 4, `wrk -c32` against two workers saw 1,700-2,600
/// refusals in 5 s (a saturated CPU is a queue of 32, not an overload); with 16 per worker, none.
pub const MIN_LIMIT_PER_WORKER: usize = 16;

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
    /// The lowest limit: [`MIN_LIMIT_PER_WORKER`] times the runtime's workers.
    floor: usize,
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
    /// Admits one `/mcp` request under the adaptive limit, or `None`: refuse it.
    pub fn try_enter(&self) -> Option<Entered> {
        self.0.try_enter()
    }

    /// While the delay has stood above the target for [`SHED_INTERVAL`] and the requests in flight
    /// fill at least half the limit. A stall of the whole process (a CPU quota's throttling, a
    /// saturated machine) also reads late, but with few requests in flight refusing a newcomer
    /// would not make anyone faster.
    pub fn refusing_connections(&self) -> bool {
        let standing = SHED_INTERVAL.as_millis().div_ceil(PROBE_PERIOD.as_millis()) as usize;
        self.0.late_readings.load(Ordering::Acquire) >= standing
            && self.0.in_flight.load(Ordering::Acquire) * 2 >= self.0.limit.load(Ordering::Acquire)
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
        let in_flight = self.in_flight.load(Ordering::Acquire);
        let next = next_limit(limit, in_flight, delay, self.target, self.floor, self.max);
        self.limit.store(next, Ordering::Release);
        next
    }

    /// Whether the delay stands above the target (enough late readings in a row to cut the limit).
    fn queue_standing(&self) -> bool {
        self.late_readings.load(Ordering::Acquire) >= LATE_READINGS_TO_CUT
    }
}

/// One admitted request in flight; leaving frees its place.
pub struct Entered(Arc<Control>);

/// Marks a request admitted by the connection (`connections.rs`) before any middleware:
/// [`Shedding::admit`] does not count it again.
#[derive(Debug, Clone, Copy)]
pub struct AdmittedEarly;

/// Whether `path` is MCP traffic (`/mcp`, `/mcp/<toolset>`): what is shed; the operational
/// endpoints never are.
pub fn is_mcp(path: &str) -> bool {
    path == "/mcp" || path.starts_with("/mcp/")
}

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// AIMD: a reading over the target cuts the limit to three quarters of the requests in flight (of
/// the limit, when fewer are in flight: the limit must bind to have an effect), never below
/// `floor`; a reading within it raises the limit by an eighth (at least one), up to `max`.
pub fn next_limit(
    limit: usize,
    in_flight: usize,
    delay: Duration,
    target: Duration,
    floor: usize,
    max: usize,
) -> usize {
    if delay > target {
        (limit.min(in_flight) * 3 / 4).max(floor).min(max)
    } else {
        limit.saturating_add((limit / 8).max(1)).min(max)
    }
}

impl Shedding {
    pub fn new(max_concurrent_requests: usize, queue_target: Option<Duration>, metrics: Arc<Metrics>) -> Self {
        let control = queue_target.filter(|target| !target.is_zero()).map(|target| {
            Arc::new(Control {
                target,
                floor: (MIN_LIMIT_PER_WORKER * workers()).min(max_concurrent_requests),
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

/// Worker threads of the runtime serving requests (outside one: what a default runtime would have).
fn workers() -> usize {
    tokio::runtime::Handle::try_current().map_or_else(
        |_| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        |runtime| runtime.metrics().num_workers(),
    )
}

async fn probe(control: Weak<Control>, metrics: Arc<Metrics>) {
    loop {
        let asked = tokio::time::Instant::now() + PROBE_PERIOD;
        tokio::time::sleep_until(asked).await;
        // A task woken by its timer runs next on its worker (tokio's LIFO slot), ahead of every
        // task already waiting: its lateness alone missed queues seconds long. Yielding puts the
        // probe behind them, so the reading is the wait of a step that became runnable now.
        tokio::task::yield_now().await;
        let late = tokio::time::Instant::now().saturating_duration_since(asked);
        let Some(control) = control.upgrade() else { return };
        let before = control.limit.load(Ordering::Acquire);
        let limit = control.observe(late);
        if limit != before {
            metrics.admission_limit(limit);
        }
    }
}

/// One `/mcp` request admitted by [`Shedding::admit`]: its places under the adaptive limit and the
/// fixed cap, held until it is dropped (after the response).
pub struct Admission<'a> {
    _entered: Option<Entered>,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Shedding {
    /// Sheds on the adaptive limit, then on the fixed cap: `Err` is the answer to send instead. A
    /// client told to come back soon does better than one whose request waits behind thousands of
    /// others.
    pub fn admit(&self, request: &Request) -> Result<Admission<'_>, Box<Response>> {
        let mut entered = None;
        let admitted_early = request.extensions().get::<AdmittedEarly>().is_some();
        if let Some(control) = self.control.as_ref().filter(|_| !admitted_early) {
            self.start();
            // A request that itself waited long to get here counts too (a runtime with one blocked
            // worker), while the delay stands above the target: one stall alone refuses nothing.
            let waited = request.extensions().get::<Arrived>().map_or(Duration::ZERO, |arrived| arrived.0.elapsed());
            entered = control.try_enter().filter(|_| waited <= control.target || !control.queue_standing());
            if entered.is_none() {
                self.metrics.request_shed(SHED_QUEUE_DELAY);
                return Err(Box::new(overloaded()));
            }
        }
        match self.permits.try_acquire() {
            Ok(permit) => Ok(Admission { _entered: entered, _permit: permit }),
            Err(_) => {
                self.metrics.request_shed(SHED_CONCURRENCY);
                Err(Box::new(busy("too many concurrent requests\n")))
            }
        }
    }
}

/// The answer to a request refused for queueing delay. The connection stays open: closing it made
/// clients reconnect, and at 3x overload the accept queue overflowed, so that calls waited for
/// SYN retransmissions (1 s, 3 s) instead of being refused (`BENCHMARKS.md`, "Overload").
pub fn overloaded() -> Response {
    busy("the server is overloaded; retry shortly\n")
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
    const FLOOR: usize = 16;

    #[test]
    fn late_readings_cut_the_limit_to_what_is_in_flight_and_on_time_readings_raise_it() {
        let next = |limit, in_flight, delay| next_limit(limit, in_flight, delay, TARGET, FLOOR, 1024);
        assert_eq!(next(1024, 0, LATE), FLOOR, "nothing in flight: the floor");
        assert_eq!(next(1024, 40, LATE), 30, "three quarters of what is in flight");
        assert_eq!(next(24, 24, LATE), 18);
        assert_eq!(next(20, 20, LATE), FLOOR, "never below the floor");
        assert_eq!(next_limit(2, 2, LATE, TARGET, FLOOR, 2), 2, "never above the cap, even for the floor");
        assert_eq!(next(4, 4, ON_TIME), 5, "at least one more");
        assert_eq!(next(80, 3, ON_TIME), 90, "an eighth more");
        assert_eq!(next(1000, 0, ON_TIME), 1024, "up to the cap");
        assert_eq!(next(20, 20, TARGET), 22, "exactly the target is on time");
    }

    #[test]
    fn the_limit_recovers_to_the_cap_within_a_few_dozen_readings() {
        let mut limit = FLOOR;
        let mut readings = 0;
        while limit < 1024 {
            limit = next_limit(limit, limit, ON_TIME, TARGET, FLOOR, 1024);
            readings += 1;
        }
        assert!(readings <= 50, "{readings} readings (of {PROBE_PERIOD:?}) to recover");
    }

    #[tokio::test]
    async fn only_the_limit_is_admitted_and_leaving_frees_a_place() {
        let shedding = Shedding::new(1024, Some(TARGET), Arc::new(Metrics::new()));
        let control = shedding.control.clone().unwrap();
        let floor = MIN_LIMIT_PER_WORKER; // one worker: the test's current-thread runtime
        assert_eq!(control.observe(LATE), 1024, "one late reading is a stall, not a queue");
        assert!(!control.queue_standing());
        assert_eq!(control.observe(LATE), floor, "two in a row cut the limit");
        assert!(control.queue_standing());
        let entered: Vec<Entered> = (0..floor).map(|_| control.try_enter().unwrap()).collect();
        assert!(control.try_enter().is_none(), "over the limit");
        drop(entered);
        assert_eq!(control.in_flight.load(Ordering::Acquire), 0);
        assert!(control.try_enter().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 3)]
    async fn the_floor_is_per_worker_and_never_above_the_cap() {
        let floor = |cap| Shedding::new(cap, Some(TARGET), Arc::new(Metrics::new())).control.unwrap().floor;
        assert_eq!(floor(1024), 3 * MIN_LIMIT_PER_WORKER);
        assert_eq!(floor(8), 8);
    }

    #[test]
    fn new_connections_are_refused_only_while_the_delay_stands_above_the_target() {
        let shedding = Shedding::new(1024, Some(TARGET), Arc::new(Metrics::new()));
        let control = shedding.control.clone().unwrap();
        let overload = shedding.overload().unwrap();
        let standing = (SHED_INTERVAL.as_millis() / PROBE_PERIOD.as_millis()) as usize;
        for _ in 0..standing {
            control.observe(LATE);
        }
        assert!(!overload.refusing_connections(), "a stall with nothing in flight is not a queue");
        let mut held: Vec<Entered> = (0..control.floor).map_while(|_| control.try_enter()).collect();
        for _ in 0..standing {
            control.observe(ON_TIME);
        }
        for _ in 0..standing - 1 {
            control.observe(LATE);
        }
        assert!(!overload.refusing_connections(), "a burst");
        control.observe(LATE);
        assert!(overload.refusing_connections(), "a standing queue");
        held.truncate(control.limit.load(Ordering::Acquire) / 2 - 1);
        assert!(!overload.refusing_connections(), "a standing delay with few requests in flight");
        held.extend((0..8).map_while(|_| control.try_enter()));
        assert!(overload.refusing_connections());
        control.observe(ON_TIME);
        assert!(!overload.refusing_connections(), "one reading on time ends it");
        assert!(Shedding::new(8, None, Arc::new(Metrics::new())).overload().is_none());
    }

    #[test]
    fn only_mcp_paths_are_shed() {
        assert!(is_mcp("/mcp") && is_mcp("/mcp/admin"));
        assert!(!is_mcp("/health") && !is_mcp("/metrics") && !is_mcp("/mcpx") && !is_mcp("/"));
    }
}
