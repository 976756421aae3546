//! Retry rules: which outcomes a retry can help (and which count against the circuit breaker), the
//! backoff (exponential with full jitter, or the upstream's `Retry-After` when it fits the call's
//! deadline), and the retry budget that keeps retries to a fraction of an upstream's requests so a
//! failing upstream never sees a retry storm.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use crate::catalogue::resilience::RetryPolicy;
use crate::classify::{Outcome, TimeoutPhase};

/// Retry tokens are counted in thousandths.
const MILLI: i64 = 1000;
/// Most retries saved up in a budget: a quiet period never buys a storm later.
const BUDGET_CAP: i64 = 100 * MILLI;

/// Whether an outcome says something about the upstream's health: timeouts, 5xx and connection
/// errors. Never a 4xx: the caller's mistakes do not open a breaker.
pub fn is_upstream_failure(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::UpstreamStatus { status, .. } => *status >= 500,
        Outcome::Timeout { .. }
        | Outcome::ConnectionRefused
        | Outcome::ConnectionReset
        | Outcome::Dns { .. }
        | Outcome::Tls { .. } => true,
        _ => false,
    }
}

/// Whether repeating the same request may succeed: transient statuses (408, 429, 502, 503, 504),
/// timeouts and broken or refused connections. A plain 500 is usually the same bug hit again.
pub fn is_transient(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::UpstreamStatus { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
        Outcome::Timeout { phase } => matches!(phase, TimeoutPhase::Connect | TimeoutPhase::Response),
        Outcome::ConnectionRefused | Outcome::ConnectionReset | Outcome::Dns { .. } => true,
        _ => false,
    }
}

/// The wait before attempt `retry + 1` (`retry` counts from 0): the upstream's `Retry-After` when it
/// gave one, otherwise a uniformly random delay up to `base_delay × 2^retry`, capped at `max_delay`.
pub fn delay(policy: &RetryPolicy, retry: u32, outcome: &Outcome, now: SystemTime) -> Duration {
    if let Outcome::UpstreamStatus { retry_after: Some(raw), .. } = outcome
        && let Some(seconds) = crate::classify::parse_retry_after(raw, now)
    {
        return Duration::from_secs(seconds);
    }
    let ceiling = policy.base_delay.saturating_mul(1u32 << retry.min(20)).min(policy.max_delay);
    ceiling.mul_f64(random_fraction())
}

/// A uniform number in [0, 1), from the OS's generator.
fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// A fresh idempotency key for one call (sent unchanged on every attempt).
pub fn idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Each first attempt deposits `fraction` of a retry; each retry withdraws one whole retry.
#[derive(Debug)]
pub struct RetryBudget {
    deposit: i64,
    balance: AtomicI64,
}

impl RetryBudget {
    pub fn new(fraction: f64) -> Self {
        RetryBudget { deposit: (fraction.clamp(0.0, 1.0) * MILLI as f64).round() as i64, balance: AtomicI64::new(0) }
    }

    /// A first attempt was sent.
    pub fn deposit(&self) {
        let _ = self
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some((b + self.deposit).min(BUDGET_CAP)));
    }

    /// Takes one retry from the budget; false when there is none left.
    pub fn withdraw(&self) -> bool {
        self.balance.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| (b >= MILLI).then_some(b - MILLI)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_allows_one_retry_per_ten_requests() {
        let budget = RetryBudget::new(0.1);
        assert!(!budget.withdraw(), "no traffic, no retries");
        let mut retries = 0;
        for _ in 0..100 {
            budget.deposit();
            if budget.withdraw() {
                retries += 1;
            }
        }
        assert_eq!(retries, 10);
    }

    #[test]
    fn full_jitter_stays_under_the_exponential_ceiling() {
        let policy = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        let outcome = Outcome::ConnectionReset;
        for retry in 0..5 {
            let ceiling = Duration::from_millis(100 * (1 << retry)).min(Duration::from_millis(300));
            for _ in 0..50 {
                assert!(delay(&policy, retry, &outcome, SystemTime::now()) <= ceiling);
            }
        }
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| delay(&policy, 2, &outcome, SystemTime::now())).collect();
        assert!(spread.len() > 10, "delays are random: {spread:?}");
    }

    #[test]
    fn retry_after_wins_over_backoff() {
        let outcome = Outcome::UpstreamStatus { status: 503, retry_after: Some("2".into()), body: None };
        assert_eq!(delay(&RetryPolicy::default(), 0, &outcome, SystemTime::now()), Duration::from_secs(2));
    }

    #[test]
    fn four_hundreds_are_neither_failures_nor_transient_except_408_and_429() {
        let status = |status| Outcome::UpstreamStatus { status, retry_after: None, body: None };
        assert!(!is_upstream_failure(&status(404)) && !is_transient(&status(404)));
        assert!(is_transient(&status(429)) && !is_upstream_failure(&status(429)));
        assert!(is_upstream_failure(&status(500)) && !is_transient(&status(500)));
        assert!(is_upstream_failure(&status(503)) && is_transient(&status(503)));
    }
}
