//! Resilience settings, mapping → catalogue: defaults filled in, a tool's settings over its
//! upstream's, the default cost and retry eligibility derived from the HTTP method.

use std::time::Duration;

use crate::catalogue::resilience::{
    BreakerSettings, LimitSet, Rate, RetryPolicy, ServerLimits, ToolResilience, UpstreamResilience,
};
use crate::mapping::{LimitsConfig, RateSpec, ServerLimitsConfig, UpstreamSettings};
use crate::spec::HttpMethod;

/// Cost of a call to a tool whose method only reads.
pub const READ_COST: u32 = 1;
/// Cost of a call to a tool whose method writes: writes use a budget up faster.
pub const WRITE_COST: u32 = 5;

pub fn server_limits(config: &ServerLimitsConfig) -> ServerLimits {
    let defaults = ServerLimits::default();
    ServerLimits {
        global: limit_set(&LimitsConfig {
            total: config.total,
            per_caller: config.per_caller,
            per_client: config.per_client,
        }),
        anonymous: config.anonymous.map(rate),
        http_per_address: config.http_per_address.map(rate),
        instances: config.instances.unwrap_or(1).max(1),
        redis_timeout: config.redis_timeout.map_or(defaults.redis_timeout, |d| d.0),
    }
}

/// A mapping rate (`100/minute`) as the limiter reads it.
pub fn rate(spec: RateSpec) -> Rate {
    Rate { count: spec.count, period: spec.period }
}

pub fn limit_set(config: &LimitsConfig) -> LimitSet {
    LimitSet {
        total: config.total.map(rate),
        per_caller: config.per_caller.map(rate),
        per_client: config.per_client.map(rate),
    }
}

pub fn upstream(settings: &UpstreamSettings) -> UpstreamResilience {
    let defaults = UpstreamResilience::default();
    let breaker = match &settings.circuit_breaker {
        Some(config) if config.enabled == Some(false) => None,
        Some(config) => {
            let d = BreakerSettings::default();
            Some(BreakerSettings {
                failure_rate: config.failure_rate.unwrap_or(d.failure_rate),
                min_requests: config.min_requests.unwrap_or(d.min_requests).max(1),
                window: config.window.map_or(d.window, |w| w.0),
                open_for: config.open_for.map_or(d.open_for, |w| w.0),
                probes: config.probes.unwrap_or(d.probes).max(1),
            })
        }
        None => defaults.breaker.clone(),
    };
    let bulkhead = settings.bulkhead.clone().unwrap_or_default();
    UpstreamResilience {
        limits: settings.limits.as_ref().map(limit_set).unwrap_or_default(),
        breaker,
        retry_budget: settings.retry.as_ref().and_then(|r| r.budget).unwrap_or(defaults.retry_budget),
        max_concurrent: bulkhead.max_concurrent.unwrap_or(defaults.max_concurrent).max(1),
        max_wait: bulkhead.max_wait.map_or(defaults.max_wait, |w| w.0),
    }
}

/// A tool's settings: its own (`tool`) over its upstream's, then the defaults of its method.
pub fn tool(method: HttpMethod, upstream: &UpstreamSettings, tool: Option<&UpstreamSettings>) -> ToolResilience {
    let defaults = ToolResilience::default();
    let retry_defaults = RetryPolicy::default();
    let own = tool.and_then(|t| t.retry.as_ref());
    let inherited = upstream.retry.as_ref();
    let pick =
        |get: &dyn Fn(&crate::mapping::RetryConfig) -> Option<Duration>| own.and_then(get).or(inherited.and_then(get));
    let attempts = own.and_then(|r| r.attempts).or(inherited.and_then(|r| r.attempts)).unwrap_or(1).max(1);
    let safe = own.and_then(|r| r.safe).or(inherited.and_then(|r| r.safe)).unwrap_or(false);
    let idempotency_key = own
        .and_then(|r| r.idempotency_key.clone())
        .or_else(|| inherited.and_then(|r| r.idempotency_key.clone()))
        .filter(|header| !header.trim().is_empty());
    let idempotent_method = matches!(
        method,
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Options | HttpMethod::Put | HttpMethod::Delete
    );
    let reading_method = matches!(method, HttpMethod::Get | HttpMethod::Head | HttpMethod::Options);
    ToolResilience {
        limits: tool.and_then(|t| t.limits.as_ref()).map(limit_set).unwrap_or_default(),
        cost: tool
            .and_then(|t| t.cost)
            .or(upstream.cost)
            .unwrap_or(if reading_method { READ_COST } else { WRITE_COST })
            .max(1),
        retry: RetryPolicy {
            attempts,
            base_delay: pick(&|r| r.base_delay.map(|d| d.0)).unwrap_or(retry_defaults.base_delay),
            max_delay: pick(&|r| r.max_delay.map(|d| d.0)).unwrap_or(retry_defaults.max_delay),
            repeatable: idempotent_method || safe || idempotency_key.is_some(),
            idempotency_key,
        },
        deadline: tool.and_then(|t| t.deadline).or(upstream.deadline).map_or(defaults.deadline, |d| d.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_cost_more_and_are_not_repeatable_without_a_key() {
        let upstream = UpstreamSettings::default();
        let get = tool(HttpMethod::Get, &upstream, None);
        let post = tool(HttpMethod::Post, &upstream, None);
        assert_eq!((get.cost, post.cost), (READ_COST, WRITE_COST));
        assert!(get.retry.repeatable && !post.retry.repeatable);
        let keyed = UpstreamSettings {
            retry: Some(crate::mapping::RetryConfig {
                idempotency_key: Some("Idempotency-Key".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(tool(HttpMethod::Post, &keyed, None).retry.repeatable);
        assert!(tool(HttpMethod::Patch, &upstream, Some(&keyed)).retry.repeatable);
    }

    #[test]
    fn a_tools_retry_fields_override_its_upstreams() {
        let upstream = UpstreamSettings {
            retry: Some(crate::mapping::RetryConfig { attempts: Some(3), ..Default::default() }),
            cost: Some(2),
            ..Default::default()
        };
        let own = UpstreamSettings {
            retry: Some(crate::mapping::RetryConfig {
                base_delay: Some(crate::mapping::DurationSpec(Duration::from_millis(7))),
                ..Default::default()
            }),
            ..Default::default()
        };
        let compiled = tool(HttpMethod::Get, &upstream, Some(&own));
        assert_eq!(compiled.retry.attempts, 3);
        assert_eq!(compiled.retry.base_delay, Duration::from_millis(7));
        assert_eq!(compiled.cost, 2);
    }
}
