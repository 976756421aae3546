//! Every metric api2mcp exports, with its name, help, labels and buckets: this module is the only
//! place that names one (`specs/observability.md` lists them). One [`Metrics`] belongs to one server
//! and outlives catalogue reloads; it is rendered in the Prometheus text format at `/metrics`.
//!
//! Labels are bounded: tool and upstream names come from the catalogue, categories and results from
//! closed lists, and status is an HTTP status code or `none`. Nothing from a request (arguments,
//! subjects, tokens) ever becomes a label.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The outcome category of a tool call: `ok`, or the error classification's `CLIENT` / `SERVER` /
/// `EXTERNAL`, or `cancelled` when the client went away.
pub const OUTCOME_OK: &str = "ok";
pub const OUTCOME_CANCELLED: &str = "cancelled";
/// The `status` of a shaped result, which may merge several pages (each 2xx).
pub const STATUS_2XX: Status = Status::Class2xx;

/// The `status` label: an HTTP status code, or `2xx` for shaped results, or `none` for no response.
#[derive(Clone, Copy, Debug)]
pub enum Status {
    Code(u16),
    Class2xx,
}

impl From<u16> for Status {
    fn from(code: u16) -> Self {
        Status::Code(code)
    }
}

fn status_label(status: Option<Status>) -> String {
    match status {
        Some(Status::Code(code)) => code.to_string(),
        Some(Status::Class2xx) => "2xx".to_string(),
        None => "none".to_string(),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub tool: String,
    pub category: &'static str,
    /// The upstream's HTTP status, or `none` when no response came (or none was needed).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabels {
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub upstream: String,
    /// The upstream's HTTP status, or `none` for a transport failure (refused, reset, timeout, ...).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms .. ~33 s: upstream calls span from cache hits to slow reports.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn tokens_histogram() -> Histogram {
    // 16 .. ~260k tokens: from a one-line answer past the largest budgets.
    Histogram::new(exponential_buckets(16.0, 2.0, 15))
}

/// Why a request was refused before reaching a tool.
pub const SHED_CONCURRENCY: &str = "concurrency";
/// Requests shed because they waited too long before their work could start (CPU overload).
pub const SHED_QUEUE_DELAY: &str = "queue_delay";
/// Connections refused because `--max-connections` were open.
pub const SHED_CONNECTIONS: &str = "connections";

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    tool_calls: Family<CallLabels, Counter>,
    tool_call_duration: HistogramFamily<ToolLabels>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_duration: HistogramFamily<UpstreamLabels>,
    result_bytes: Family<ToolLabels, Counter>,
    result_tokens: HistogramFamily<ToolLabels>,
    tools_list_tools: Gauge,
    tools_list_tokens: Gauge,
    requests_shed: Family<ReasonLabels, Counter>,
    admission_limit: Gauge,
    jwks_refreshes: Family<ResultLabels, Counter>,
    reloads: Family<ResultLabels, Counter>,
    characters_removed: Family<ToolLabels, Counter>,
    resilience: ResilienceMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("api2mcp");
        let tool_calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls answered, by tool, outcome category (ok, CLIENT, SERVER, EXTERNAL, cancelled) and upstream status",
            tool_calls.clone(),
        );
        let tool_call_duration: HistogramFamily<ToolLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "tool_call_duration",
            "Time from a tools/call request to its result, all pages included",
            prometheus_client::registry::Unit::Seconds,
            tool_call_duration.clone(),
        );
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "HTTP requests sent to upstream APIs, by upstream and response status (none: no response)",
            upstream_requests.clone(),
        );
        let upstream_duration: HistogramFamily<UpstreamLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "upstream_request_duration",
            "Time of one upstream HTTP request, body included",
            prometheus_client::registry::Unit::Seconds,
            upstream_duration.clone(),
        );
        let result_bytes = Family::<ToolLabels, Counter>::default();
        registry.register_with_unit(
            "tool_result",
            "Bytes of text returned to agents in tool results",
            prometheus_client::registry::Unit::Bytes,
            result_bytes.clone(),
        );
        let result_tokens: HistogramFamily<ToolLabels> = Family::new_with_constructor(tokens_histogram);
        registry.register(
            "tool_result_tokens",
            "Approximate tokens (bytes/4) of each tool result's text",
            result_tokens.clone(),
        );
        let tools_list_tools = Gauge::default();
        registry.register("tools_list_tools", "Tools in the served catalogue", tools_list_tools.clone());
        let tools_list_tokens = Gauge::default();
        registry.register(
            "tools_list_tokens",
            "Approximate tokens (bytes/4) of the whole tools/list result, before per-caller filtering",
            tools_list_tokens.clone(),
        );
        let requests_shed = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "requests_shed",
            "MCP requests refused with 503 before reaching a tool (reason: concurrency, queue_delay, connections)",
            requests_shed.clone(),
        );
        let admission_limit = Gauge::default();
        registry.register(
            "admission_limit",
            "MCP requests admitted at once now: the adaptive limit that queueing delay lowers under CPU overload",
            admission_limit.clone(),
        );
        let jwks_refreshes = Family::<ResultLabels, Counter>::default();
        registry.register(
            "jwks_refreshes",
            "Fetches of an issuer's JWKS, by result (ok, error)",
            jwks_refreshes.clone(),
        );
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "catalogue_reloads",
            "Configuration reloads, by result (ok: swapped in, refused: the old catalogue stays)",
            reloads.clone(),
        );
        let characters_removed = Family::<ToolLabels, Counter>::default();
        registry.register(
            "result_characters_removed",
            "Invisible characters (controls, bidi, zero-width, tags) removed from successful tool results, by tool",
            characters_removed.clone(),
        );
        let resilience = ResilienceMetrics::register(&mut registry);
        registry.register(
            "log_backpressure_waits",
            "Times a thread logging waited because the log buffer was full (stderr slower than the lines)",
            super::log_writer::backpressure_waits(),
        );
        let build = Info::new(BuildLabels { version: env!("CARGO_PKG_VERSION") });
        registry.register("build", "The running api2mcp build", build);
        Metrics {
            registry,
            tool_calls,
            tool_call_duration,
            upstream_requests,
            upstream_duration,
            result_bytes,
            result_tokens,
            tools_list_tools,
            tools_list_tokens,
            requests_shed,
            admission_limit,
            jwks_refreshes,
            reloads,
            characters_removed,
            resilience,
        }
    }

    /// One answered tool call: its outcome `category` (see [`OUTCOME_OK`]), the upstream status when
    /// there was one, the time it took and the text returned.
    pub fn tool_call(
        &self,
        tool: &str,
        category: &'static str,
        status: Option<Status>,
        took: Duration,
        text_bytes: usize,
    ) {
        let status = status_label(status);
        self.tool_calls.get_or_create(&CallLabels { tool: tool.to_string(), category, status }).inc();
        let labels = ToolLabels { tool: tool.to_string() };
        self.tool_call_duration.get_or_create(&labels).observe(took.as_secs_f64());
        self.result_bytes.get_or_create(&labels).inc_by(text_bytes as u64);
        // Tokens ≈ bytes / 4, as everywhere in api2mcp (`shape::approx_tokens`).
        self.result_tokens.get_or_create(&labels).observe(text_bytes.div_ceil(4) as f64);
    }

    /// One upstream HTTP request: `status` is `None` when no response came.
    pub fn upstream_request(&self, upstream: &str, status: Option<u16>, took: Duration) {
        let labels = UpstreamLabels { upstream: upstream.to_string(), status: status_label(status.map(Status::Code)) };
        self.upstream_requests.get_or_create(&labels).inc();
        self.upstream_duration.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// The served catalogue's size, set at startup and on every reload.
    pub fn catalogue(&self, tools: usize, tools_list_tokens: usize) {
        self.tools_list_tools.set(tools as i64);
        self.tools_list_tokens.set(tools_list_tokens as i64);
    }

    pub fn request_shed(&self, reason: &'static str) {
        self.requests_shed.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// The adaptive admission limit of `/mcp` requests (`mcp::http::shed`), set when it changes.
    pub fn admission_limit(&self, limit: usize) {
        self.admission_limit.set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    /// A JWKS fetch by inbound auth: `ok` false when the issuer could not be reached or answered garbage.
    pub fn jwks_refresh(&self, ok: bool) {
        self.jwks_refreshes.get_or_create(&ResultLabels { result: if ok { "ok" } else { "error" } }).inc();
    }

    /// A configuration reload: `swapped` false when it was refused and the old catalogue stayed.
    pub fn reload(&self, swapped: bool) {
        self.reloads.get_or_create(&ResultLabels { result: if swapped { "ok" } else { "refused" } }).inc();
    }

    /// Invisible characters removed from one tool result (`clean`).
    pub fn characters_removed(&self, tool: &str, count: usize) {
        self.characters_removed.get_or_create(&ToolLabels { tool: tool.to_string() }).inc_by(count as u64);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// Which limit refused: `tool:total`, `upstream:per_caller`, `global:per_client`, `anonymous`, `http`, ...
    pub limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamOnlyLabels {
    pub upstream: String,
}

/// Rate limits, breakers, retries and bulkheads (`specs/resilience.md`).
struct ResilienceMetrics {
    rate_limited: Family<LimitLabels, Counter>,
    rate_limit_fallbacks: Counter,
    circuit_state: Family<UpstreamOnlyLabels, Gauge>,
    retries: Family<UpstreamOnlyLabels, Counter>,
    bulkhead_rejected: Family<UpstreamOnlyLabels, Counter>,
}

impl ResilienceMetrics {
    fn register(registry: &mut Registry) -> Self {
        let metrics = ResilienceMetrics {
            rate_limited: Family::default(),
            rate_limit_fallbacks: Counter::default(),
            circuit_state: Family::default(),
            retries: Family::default(),
            bulkhead_rejected: Family::default(),
        };
        registry.register(
            "rate_limited",
            "Calls and requests refused by a rate limit, by limit",
            metrics.rate_limited.clone(),
        );
        registry.register(
            "rate_limit_fallbacks",
            "Rate-limit decisions made by this instance's share because Redis did not answer",
            metrics.rate_limit_fallbacks.clone(),
        );
        registry.register(
            "circuit_state",
            "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open",
            metrics.circuit_state.clone(),
        );
        registry.register(
            "upstream_retries",
            "Upstream requests sent again after a transient failure",
            metrics.retries.clone(),
        );
        registry.register(
            "bulkhead_rejected",
            "Calls refused because an upstream's concurrency cap stayed full for its whole wait",
            metrics.bulkhead_rejected.clone(),
        );
        metrics
    }
}

impl Metrics {
    pub fn rate_limited(&self, limit: &str) {
        self.resilience.rate_limited.get_or_create(&LimitLabels { limit: limit.to_string() }).inc();
    }

    pub fn rate_limit_fallback(&self) {
        self.resilience.rate_limit_fallbacks.inc();
    }

    pub fn circuit_state(&self, upstream: &str, state: i64) {
        self.resilience.circuit_state.get_or_create(&UpstreamOnlyLabels { upstream: upstream.to_string() }).set(state);
    }

    pub fn upstream_retry(&self, upstream: &str) {
        self.resilience.retries.get_or_create(&UpstreamOnlyLabels { upstream: upstream.to_string() }).inc();
    }

    pub fn bulkhead_rejected(&self, upstream: &str) {
        self.resilience.bulkhead_rejected.get_or_create(&UpstreamOnlyLabels { upstream: upstream.to_string() }).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_its_labels() {
        let metrics = Metrics::new();
        metrics.tool_call("list_pets", OUTCOME_OK, Some(200.into()), Duration::from_millis(3), 8);
        metrics.tool_call("list_pets", "EXTERNAL", None, Duration::from_millis(3), 0);
        metrics.upstream_request("petstore", Some(200), Duration::from_millis(2));
        metrics.catalogue(3, 250);
        metrics.request_shed(SHED_CONCURRENCY);
        metrics.jwks_refresh(true);
        metrics.reload(false);
        let text = metrics.render();
        for line in [
            r#"api2mcp_tool_calls_total{tool="list_pets",category="ok",status="200"} 1"#,
            r#"api2mcp_tool_calls_total{tool="list_pets",category="EXTERNAL",status="none"} 1"#,
            r#"api2mcp_tool_call_duration_seconds_count{tool="list_pets"} 2"#,
            r#"api2mcp_tool_result_bytes_total{tool="list_pets"} 8"#,
            r#"api2mcp_upstream_requests_total{upstream="petstore",status="200"} 1"#,
            r#"api2mcp_upstream_request_duration_seconds_count{upstream="petstore",status="200"} 1"#,
            "api2mcp_tools_list_tools 3",
            "api2mcp_tools_list_tokens 250",
            r#"api2mcp_requests_shed_total{reason="concurrency"} 1"#,
            r#"api2mcp_jwks_refreshes_total{result="ok"} 1"#,
            r#"api2mcp_catalogue_reloads_total{result="refused"} 1"#,
            r#"api2mcp_build_info{version=""#,
            "api2mcp_log_backpressure_waits_total ",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
    }
}
