//! Checks of the resilience settings (`server.limits`, and `limits`, `cost`, `retry`, `deadline`,
//! `circuit_breaker`, `bulkhead` under an upstream's or a tool's `settings`): values that could never
//! work, upstream-only settings under a tool, and costs that no limit could ever admit.

use super::locate;
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::MappingSource;
use crate::mapping::{LimitsConfig, MappingFile, UpstreamSettings};
use crate::spec::HttpMethod;

/// Longest Redis timeout accepted: a rate-limit decision must never hold a call for long.
const MAX_REDIS_TIMEOUT_MS: u128 = 5_000;

pub fn check_server(mapping: &MappingFile, source: Option<&MappingSource>, diagnostics: &mut Diagnostics) {
    let limits = &mapping.server.limits;
    if limits.instances == Some(0) {
        diagnostics.push(
            Diagnostic::error("mapping/invalid-limits", "server.limits.instances must be at least 1")
                .at(locate(source, "/server/limits/instances")),
        );
    }
    if let Some(timeout) = limits.redis_timeout
        && (timeout.0.is_zero() || timeout.0.as_millis() > MAX_REDIS_TIMEOUT_MS)
    {
        diagnostics.push(
            Diagnostic::error(
                "mapping/invalid-limits",
                format!("server.limits.redis_timeout must be more than 0 and at most {MAX_REDIS_TIMEOUT_MS}ms"),
            )
            .at(locate(source, "/server/limits/redis_timeout"))
            .with_help("a few tens of milliseconds: Redis answers in well under one on a local network"),
        );
    }
}

/// Where a `settings` block sits, for messages and upstream-only checks.
pub struct Owner<'a> {
    /// `upstream 'x'` or `tool 'y'`.
    pub who: String,
    /// JSON pointer of the `settings` block.
    pub pointer: String,
    /// The tool's HTTP method, when this is a tool's block.
    pub method: Option<HttpMethod>,
    /// For a tool: its upstream's settings (inherited cost and limits).
    pub upstream: Option<&'a UpstreamSettings>,
}

pub fn check_settings(
    owner: &Owner<'_>,
    settings: &UpstreamSettings,
    server: &LimitsConfig,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    let Owner { who, pointer, method, upstream } = owner;
    let is_tool = upstream.is_some();
    let error = |code: &'static str, field: &str, message: String| {
        Diagnostic::error(code, format!("{who}: {message}")).at(locate(source, &format!("{pointer}/{field}")))
    };
    if is_tool {
        for (set, field) in [
            (settings.circuit_breaker.is_some(), "circuit_breaker"),
            (settings.bulkhead.is_some(), "bulkhead"),
            (settings.retry.as_ref().is_some_and(|r| r.budget.is_some()), "retry/budget"),
        ] {
            if set {
                diagnostics.push(
                    error("mapping/upstream-only", field, format!("{field} applies to a whole upstream, not one tool"))
                        .with_help("move it under the upstream's `settings`"),
                );
            }
        }
    }
    if settings.cost == Some(0) {
        diagnostics.push(error("mapping/invalid-limits", "cost", "cost must be at least 1".into()));
    }
    // A cost above a bucket's size can never be paid: every call would be refused.
    let cost = settings.cost.or(upstream.and_then(|u| u.cost)).or(method.map(|method| {
        if matches!(method, HttpMethod::Get | HttpMethod::Head | HttpMethod::Options) {
            crate::compile::resilience::READ_COST
        } else {
            crate::compile::resilience::WRITE_COST
        }
    }));
    if let Some(cost) = cost {
        let applying =
            [Some(("this level", settings.limits.as_ref())), upstream.map(|u| ("the upstream", u.limits.as_ref()))]
                .into_iter()
                .flatten()
                .filter_map(|(level, limits)| limits.map(|l| (level, l.clone())))
                .chain([("the server", server.clone())]);
        for (level, limits) in applying {
            for (scope, rate) in
                [("total", limits.total), ("per_caller", limits.per_caller), ("per_client", limits.per_client)]
            {
                if let Some(rate) = rate.map(crate::compile::resilience::rate)
                    && rate.count < cost
                {
                    diagnostics.push(
                        error(
                            "mapping/invalid-limits",
                            "cost",
                            format!(
                                "a call costs {cost} but the {scope} limit of {level} ({}) holds only {}: no call could ever be made",
                                rate.describe(),
                                rate.count
                            ),
                        )
                        .with_help("lower `cost`, or raise the limit's count (e.g. 50/10m instead of 5/m)"),
                    );
                }
            }
        }
    }
    if settings.deadline.is_some_and(|d| d.0.is_zero()) {
        diagnostics.push(error("mapping/invalid-retry", "deadline", "deadline must be more than 0".into()));
    }
    if let Some(retry) = &settings.retry {
        if retry.attempts.is_some_and(|a| a == 0 || a > 10) {
            diagnostics.push(error("mapping/invalid-retry", "retry/attempts", "retry.attempts must be 1 to 10".into()));
        }
        if retry.budget.is_some_and(|b| !(0.0..=1.0).contains(&b)) {
            diagnostics.push(error("mapping/invalid-retry", "retry/budget", "retry.budget must be 0 to 1".into()));
        }
        if let (Some(base), Some(max)) = (retry.base_delay, retry.max_delay)
            && base.0 > max.0
        {
            diagnostics.push(error(
                "mapping/invalid-retry",
                "retry/base_delay",
                "retry.base_delay is longer than retry.max_delay".into(),
            ));
        }
        if let Some(header) = &retry.idempotency_key
            && (header.is_empty()
                || !header.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)))
        {
            diagnostics.push(error(
                "mapping/invalid-retry",
                "retry/idempotency_key",
                format!("retry.idempotency_key '{header}' is not an HTTP header name"),
            ));
        }
        if let Some(method) = method
            && matches!(method, HttpMethod::Post | HttpMethod::Patch)
            && retry.attempts.unwrap_or(1) > 1
            && retry.safe != Some(true)
            && retry.idempotency_key.is_none()
            && upstream.and_then(|u| u.retry.as_ref()).and_then(|r| r.idempotency_key.as_ref()).is_none()
        {
            diagnostics.push(
                Diagnostic::warning(
                    "mapping/retry-not-repeatable",
                    format!(
                        "{who}: retry.attempts is set, but a {} is never retried without an idempotency key",
                        method.upper()
                    ),
                )
                .at(locate(source, &format!("{pointer}/retry/attempts")))
                .with_help(
                    "set `retry.idempotency_key: Idempotency-Key` if the API supports it, or `retry.safe: true`",
                ),
            );
        }
    }
    if let Some(breaker) = &settings.circuit_breaker {
        if breaker.failure_rate.is_some_and(|r| !(r > 0.0 && r <= 1.0)) {
            diagnostics.push(error(
                "mapping/invalid-breaker",
                "circuit_breaker/failure_rate",
                "circuit_breaker.failure_rate must be more than 0 and at most 1".into(),
            ));
        }
        for (value, field) in [(breaker.min_requests, "min_requests"), (breaker.probes, "probes")] {
            if value == Some(0) {
                diagnostics.push(error(
                    "mapping/invalid-breaker",
                    &format!("circuit_breaker/{field}"),
                    format!("circuit_breaker.{field} must be at least 1"),
                ));
            }
        }
        for (value, field) in [(breaker.window, "window"), (breaker.open_for, "open_for")] {
            if value.is_some_and(|d| d.0.is_zero()) {
                diagnostics.push(error(
                    "mapping/invalid-breaker",
                    &format!("circuit_breaker/{field}"),
                    format!("circuit_breaker.{field} must be more than 0"),
                ));
            }
        }
    }
    if let Some(bulkhead) = &settings.bulkhead
        && bulkhead.max_concurrent == Some(0)
    {
        diagnostics.push(error(
            "mapping/invalid-bulkhead",
            "bulkhead/max_concurrent",
            "bulkhead.max_concurrent must be at least 1".into(),
        ));
    }
}
