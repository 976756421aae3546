//! The circuit breaker of one upstream: closed while the failure rate over a sliding window stays
//! under the threshold; open (calls fail fast) for `open_for` once it is crossed; then half-open,
//! letting `probes` requests through: all succeed → closed, any fails → open again.
//!
//! Failures are timeouts, 5xx and connection errors, never 4xx: a caller's bad request says nothing
//! about the upstream's health. Every method has an `_at(now)` form, so tests drive time exactly.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::catalogue::resilience::BreakerSettings;

/// Sub-windows of the sliding window: counts older than the window are dropped a slice at a time.
const SLICES: u32 = 10;

/// What the breaker says about one request about to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it (closed).
    Allowed,
    /// Send it as one of the half-open probes; its result decides the state.
    Probe,
    /// Do not send it: the next probe is due in this long.
    Open { retry_after: Duration },
}

/// The breaker's state, for metrics and `/ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    /// The gauge value: 0 closed, 1 half-open, 2 open.
    pub fn as_gauge(self) -> i64 {
        match self {
            State::Closed => 0,
            State::HalfOpen => 1,
            State::Open => 2,
        }
    }
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { started: u32, succeeded: u32 },
}

#[derive(Debug, Clone, Copy, Default)]
struct Slice {
    start: Option<Instant>,
    requests: u32,
    failures: u32,
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    slices: [Slice; SLICES as usize],
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            inner: Mutex::new(Inner { phase: Phase::Closed, slices: [Slice::default(); SLICES as usize] }),
        }
    }

    pub fn state(&self) -> State {
        self.state_at(Instant::now())
    }

    pub fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    /// Records the result of a request admitted by [`Self::admit`]; `failure` only for timeouts, 5xx
    /// and connection errors. Returns the new state when it changed.
    pub fn record(&self, admission: Admission, failure: bool) -> Option<State> {
        self.record_at(admission, failure, Instant::now())
    }

    fn state_at(&self, now: Instant) -> State {
        let Ok(mut inner) = self.inner.lock() else { return State::Closed };
        if let Phase::Open { until } = inner.phase
            && now >= until
        {
            inner.phase = Phase::HalfOpen { started: 0, succeeded: 0 };
        }
        match inner.phase {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }

    fn admit_at(&self, now: Instant) -> Admission {
        let Ok(mut inner) = self.inner.lock() else { return Admission::Allowed };
        if let Phase::Open { until } = inner.phase {
            if now < until {
                return Admission::Open { retry_after: until - now };
            }
            inner.phase = Phase::HalfOpen { started: 0, succeeded: 0 };
        }
        match &mut inner.phase {
            Phase::Closed => Admission::Allowed,
            Phase::HalfOpen { started, .. } if *started < self.settings.probes => {
                *started += 1;
                Admission::Probe
            }
            // Every probe is out: wait for their results; the next probe comes at the earliest in one open period.
            Phase::HalfOpen { .. } => Admission::Open { retry_after: self.settings.open_for },
            Phase::Open { .. } => Admission::Open { retry_after: self.settings.open_for },
        }
    }

    fn record_at(&self, admission: Admission, failure: bool, now: Instant) -> Option<State> {
        let Ok(mut inner) = self.inner.lock() else { return None };
        match (&mut inner.phase, admission) {
            (Phase::HalfOpen { .. }, Admission::Probe) if failure => {
                inner.phase = Phase::Open { until: now + self.settings.open_for };
                Some(State::Open)
            }
            (Phase::HalfOpen { succeeded, .. }, Admission::Probe) => {
                *succeeded += 1;
                if *succeeded >= self.settings.probes {
                    inner.phase = Phase::Closed;
                    inner.slices = [Slice::default(); SLICES as usize];
                    return Some(State::Closed);
                }
                None
            }
            (Phase::Closed, Admission::Allowed) => {
                let slice_length = self.settings.window / SLICES;
                let current = current_slice(&mut inner.slices, now, slice_length, self.settings.window);
                current.requests += 1;
                current.failures += u32::from(failure);
                let (requests, failures) = inner
                    .slices
                    .iter()
                    .filter(|s| s.start.is_some_and(|start| now.duration_since(start) < self.settings.window))
                    .fold((0u32, 0u32), |(r, f), s| (r + s.requests, f + s.failures));
                if failure
                    && requests >= self.settings.min_requests
                    && f64::from(failures) >= self.settings.failure_rate * f64::from(requests)
                {
                    inner.phase = Phase::Open { until: now + self.settings.open_for };
                    return Some(State::Open);
                }
                None
            }
            // A result that arrives after the state moved on (a slow request from before) changes nothing.
            _ => None,
        }
    }
}

/// The slice `now` falls in, reset when it is older than the window.
fn current_slice(slices: &mut [Slice], now: Instant, slice_length: Duration, window: Duration) -> &mut Slice {
    let index = slices
        .iter()
        .position(|s| s.start.is_some_and(|start| now.duration_since(start) < slice_length))
        .or_else(|| slices.iter().position(|s| s.start.is_none_or(|start| now.duration_since(start) >= window)))
        .unwrap_or_else(|| {
            // Every slice is inside the window but none is current: reuse the oldest.
            slices.iter().enumerate().min_by_key(|(_, s)| s.start).map_or(0, |(i, _)| i)
        });
    let slice = &mut slices[index];
    if slice.start.is_none_or(|start| now.duration_since(start) >= slice_length) {
        *slice = Slice { start: Some(now), requests: 0, failures: 0 };
    }
    slice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            failure_rate: 0.5,
            min_requests: 4,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            probes: 2,
        }
    }

    fn run(breaker: &Breaker, failure: bool, now: Instant) -> Admission {
        let admission = breaker.admit_at(now);
        if !matches!(admission, Admission::Open { .. }) {
            breaker.record_at(admission, failure, now);
        }
        admission
    }

    #[test]
    fn opens_on_the_failure_rate_probes_then_closes() {
        let breaker = Breaker::new(settings());
        let t0 = Instant::now();
        let at = |seconds: u64| t0 + Duration::from_secs(seconds);
        // Under min_requests nothing opens, whatever the rate.
        for _ in 0..3 {
            assert_eq!(run(&breaker, true, at(0)), Admission::Allowed);
        }
        assert_eq!(breaker.state_at(at(0)), State::Closed);
        assert_eq!(run(&breaker, true, at(0)), Admission::Allowed);
        assert_eq!(breaker.state_at(at(0)), State::Open);
        assert_eq!(breaker.admit_at(at(0)), Admission::Open { retry_after: Duration::from_secs(5) });
        assert_eq!(breaker.admit_at(at(2)), Admission::Open { retry_after: Duration::from_secs(3) });
        // Half-open: two probes go through; a third waits for their results.
        let first = breaker.admit_at(at(5));
        let second = breaker.admit_at(at(5));
        assert_eq!((first, second), (Admission::Probe, Admission::Probe));
        assert_eq!(breaker.state_at(at(5)), State::HalfOpen);
        assert!(matches!(breaker.admit_at(at(5)), Admission::Open { .. }));
        assert_eq!(breaker.record_at(first, false, at(5)), None);
        assert_eq!(breaker.record_at(second, false, at(5)), Some(State::Closed));
        assert_eq!(run(&breaker, false, at(6)), Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let breaker = Breaker::new(settings());
        let t0 = Instant::now();
        for _ in 0..4 {
            run(&breaker, true, t0);
        }
        let later = t0 + Duration::from_secs(5);
        assert_eq!(run(&breaker, true, later), Admission::Probe);
        assert_eq!(breaker.state_at(later), State::Open);
        assert_eq!(breaker.admit_at(later), Admission::Open { retry_after: Duration::from_secs(5) });
    }

    #[test]
    fn four_hundreds_never_open_it_and_old_failures_are_forgotten() {
        let breaker = Breaker::new(settings());
        let t0 = Instant::now();
        for _ in 0..3 {
            run(&breaker, true, t0);
        }
        // Eleven seconds later the three failures are out of the 10s window: one failure in one request
        // is under min_requests, and three successes make it 25%.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(run(&breaker, true, later), Admission::Allowed);
        for _ in 0..3 {
            run(&breaker, false, later);
        }
        assert_eq!(breaker.state_at(later), State::Closed);
    }
}
