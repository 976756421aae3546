//! The mapping file's resilience settings (`specs/resilience.md`): rate limits and costs, retries,
//! the circuit breaker, the bulkhead and the call deadline, as the user writes them.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use super::DurationSpec;

/// A rate: `N/unit` with unit `s`, `second`, `m`, `minute`, `h`, `hour`, `d`, `day`, or a duration
/// (`10/30s`). Up to N calls (N cost units) may come at once; the budget refills evenly over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    pub count: u32,
    pub period: std::time::Duration,
}

impl RateSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (count, unit) =
            text.split_once('/').ok_or_else(|| format!("'{text}' is not a rate like 100/minute or 10/s"))?;
        let count: u32 = count.trim().parse().map_err(|_| format!("'{text}': '{count}' is not a whole number"))?;
        if count == 0 {
            return Err(format!("'{text}': the count must be at least 1"));
        }
        let unit = unit.trim();
        let period = match unit {
            "s" | "sec" | "second" => std::time::Duration::from_secs(1),
            "m" | "min" | "minute" => std::time::Duration::from_secs(60),
            "h" | "hour" => std::time::Duration::from_secs(3600),
            "d" | "day" => std::time::Duration::from_secs(86_400),
            other => DurationSpec::parse(other).map(|d| d.0).map_err(|error| format!("'{text}': {error}"))?,
        };
        if period.is_zero() {
            return Err(format!("'{text}': the period must be more than 0"));
        }
        Ok(RateSpec { count, period })
    }
}

impl<'de> Deserialize<'de> for RateSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RateSpec::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for RateSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A rate: `N/unit` (unit s, second, m, minute, h, hour, d, day) or `N/duration` (e.g. `10/30s`).",
            "type": "string",
            "pattern": "^[0-9]+ */ *[0-9a-z.]+$"
        })
    }
}

/// Rate limits at one level (the server, an upstream or a tool). Every limit set applies; a call
/// must fit all of them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Shared by every caller: on the server the global backstop, on an upstream all its tools
    /// together, on a tool that tool alone.
    pub total: Option<RateSpec>,
    /// Each caller's own budget (token subject or API key id; the client address for anonymous callers).
    pub per_caller: Option<RateSpec>,
    /// Each client instance's own budget (its network address), when it is known.
    pub per_client: Option<RateSpec>,
}

/// Server-wide limits and how shared limits behave (`server.limits`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerLimitsConfig {
    /// Shared by every call of every tool: the global backstop.
    pub total: Option<RateSpec>,
    /// Each caller's own budget across every tool.
    pub per_caller: Option<RateSpec>,
    /// Each client instance's own budget across every tool.
    pub per_client: Option<RateSpec>,
    /// The one budget shared by every caller that cannot be identified (no subject, no address),
    /// in place of their `per_caller` limits. Default: the strictest `per_caller` limit that applies.
    pub anonymous: Option<RateSpec>,
    /// Requests to `/mcp` per client address, before any tool is known; beyond it the answer is
    /// HTTP 429 with `Retry-After`. Counted per instance.
    pub http_per_address: Option<RateSpec>,
    /// How many instances share the limits: with `redis_url` set and Redis unreachable, each instance
    /// enforces its share (every count divided by this). Default 1.
    #[schemars(range(min = 1))]
    pub instances: Option<u32>,
    /// Longest wait for one Redis command before the instance falls back to its own share. Default 50ms.
    pub redis_timeout: Option<DurationSpec>,
}

/// When and how failed upstream requests are retried. Only idempotent methods (GET, HEAD, OPTIONS,
/// PUT, DELETE) or tools marked `safe` are retried, or POST/PATCH with an `idempotency_key` header.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Most attempts of one request, the first included. Default 1 (no retries); 3 is a good value.
    #[schemars(range(min = 1, max = 10))]
    pub attempts: Option<u32>,
    /// Backoff before the first retry (exponential, full jitter). Default 100ms.
    pub base_delay: Option<DurationSpec>,
    /// Longest backoff between two attempts. Default 2s.
    pub max_delay: Option<DurationSpec>,
    /// Upstream only: retries may add at most this fraction of the upstream's requests. Default 0.1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub budget: Option<f64>,
    /// The operation is safe to repeat even though its method is not idempotent.
    pub safe: Option<bool>,
    /// Header carrying a key generated once per call and sent on every attempt (e.g.
    /// `Idempotency-Key`): POST and PATCH are retried only with it.
    pub idempotency_key: Option<String>,
}

/// Upstream only: the circuit breaker that fails calls fast while the upstream keeps failing.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Set false to turn the breaker off. Default true.
    pub enabled: Option<bool>,
    /// Fraction of failed requests (timeouts, 5xx, connection errors; never 4xx) over `window` that opens it. Default 0.5.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub failure_rate: Option<f64>,
    /// Fewest requests in `window` before the rate is trusted. Default 20.
    #[schemars(range(min = 1))]
    pub min_requests: Option<u32>,
    /// The sliding window the failure rate is measured over. Default 30s.
    pub window: Option<DurationSpec>,
    /// How long it stays open before probing. Default 10s.
    pub open_for: Option<DurationSpec>,
    /// Probe requests let through while half-open; all must succeed to close. Default 3.
    #[schemars(range(min = 1))]
    pub probes: Option<u32>,
}

/// Upstream only: the concurrency cap that keeps one slow upstream from taking every call.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Requests to this upstream in flight at once. Default 64.
    #[schemars(range(min = 1))]
    pub max_concurrent: Option<u32>,
    /// Longest wait for a free slot before the call fails (EXTERNAL `upstream_busy`). Default 1s.
    pub max_wait: Option<DurationSpec>,
}
