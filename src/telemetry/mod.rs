//! What operators see of a running server: metrics ([`metrics`]), structured logs with request ids,
//! and OpenTelemetry traces ([`traces`]), all through `tracing`.

mod json_log;
pub mod log_writer;
pub mod metrics;
pub mod traces;

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;

/// `GET /metrics` in the Prometheus text format (version 0.0.4, which every scraper reads).
pub fn metrics_router(metrics: Arc<metrics::Metrics>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    metrics.render(),
                )
                    .into_response()
            }
        }),
    )
}

/// Serves only `/metrics` on its own listener (`--metrics-listen`), until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<metrics::Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(metrics)).with_graceful_shutdown(shutdown.cancelled_owned()).await
}

/// How log lines are written: JSON (one object per line, for collectors) or text (for people).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// `API2MCP_LOG_FORMAT` (`json` or `text`) when set, else text on a terminal and JSON elsewhere
    /// (containers, files, pipes).
    pub fn from_env(value: Option<&str>, terminal: bool) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") => Ok(if terminal { LogFormat::Text } else { LogFormat::Json }),
            Some(v) if v.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            Some(v) if v.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            Some(other) => Err(format!("API2MCP_LOG_FORMAT is '{other}'; use json or text")),
        }
    }
}

/// The levels without `RUST_LOG`. rmcp's service loop logs every JSON-RPC error answer at WARN,
/// including harmless probes of methods api2mcp does not offer (`tasks/get`, `completion/complete`)
/// and clients' own mistakes: those go to its `rmcp::service` target, kept at ERROR here
/// (`RUST_LOG=debug` shows them). Failures that matter are logged by api2mcp itself.
pub const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn,rmcp::service=error";

/// Installs the global subscriber: logs to stderr (stdout belongs to the protocol in stdio mode),
/// levels from `RUST_LOG` (default `info`, rmcp at `warn`), and OpenTelemetry traces when the
/// standard `OTEL_*` variables ask for them. Call outside the async runtime; keep the guard until exit.
pub fn init() -> Guards {
    use std::io::IsTerminal;
    // Before the OTLP exporter builds its HTTP client.
    crate::tls::install_crypto_provider();
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let terminal = std::io::stderr().is_terminal();
    // Log lines are batched and written by a dedicated thread (`log_writer`): a request neither waits
    // on stderr nor wakes a thread per line. Not lossy: a full buffer makes requests wait, counted.
    let (writer, writer_guard) = log_writer::batch_writer(std::io::stderr(), log_writer::BatchSettings::default());
    let format = LogFormat::from_env(std::env::var("API2MCP_LOG_FORMAT").ok().as_deref(), terminal);
    let mut warnings = Vec::new();
    let format = format.unwrap_or_else(|warning| {
        warnings.push(warning);
        if terminal { LogFormat::Text } else { LogFormat::Json }
    });
    let (json, text) = match format {
        LogFormat::Json => (
            Some(
                // tracing-subscriber's JSON lines (flattened, with the current span), written
                // without its per-line and per-record re-parsing (`json_log`).
                tracing_subscriber::fmt::layer()
                    .fmt_fields(json_log::JsonSpanFields)
                    .event_format(json_log::JsonLines)
                    .with_writer(writer.clone()),
            ),
            None,
        ),
        LogFormat::Text => {
            (None, Some(tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(terminal).with_target(false)))
        }
    };
    let (guard, otel, warning) = traces::from_env(|name| std::env::var(name).ok());
    warnings.extend(warning);
    tracing_subscriber::registry().with(otel).with(filter).with(json).with(text).init();
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    Guards { traces: guard, _logs: writer_guard }
}

/// Keep until exit: dropping flushes queued spans and log lines.
pub struct Guards {
    traces: traces::Guard,
    _logs: log_writer::FlushGuard,
}

impl Guards {
    pub fn shutdown(self) {
        self.traces.shutdown();
    }
}

/// A request id: the client's `x-request-id` when it is short and printable, else a new one: 16 hex
/// digits that no other request of this process gets and that a client cannot predict.
pub fn request_id(header: Option<&str>) -> String {
    if let Some(id) = header.filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
    {
        return id.to_string();
    }
    // A counter hashed with SipHash under random keys drawn once (std's `RandomState`): ids stay
    // unique (the counter) and unguessable (the keys) without a `getrandom` system call per request.
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let counter = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let hash = std::hash::BuildHasher::hash_one(KEYS.get_or_init(Default::default), counter);
    format!("{hash:016x}")
}

/// Every HTTP request gets a request id (the client's `x-request-id` when sane, echoed back) and a
/// span carrying it, continuing the caller's W3C trace when `traceparent` is sent; `serve` answers
/// the request inside that span, so log lines written while it runs carry the id.
pub async fn request_span<Serve, Answer>(request: axum::extract::Request, serve: Serve) -> axum::response::Response
where
    Serve: FnOnce(axum::extract::Request) -> Answer,
    Answer: std::future::Future<Output = axum::response::Response>,
{
    use tracing::Instrument;
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let id = request_id(text("x-request-id").as_deref());
    let span = tracing::info_span!(
        "mcp.request",
        otel.name = tracing::field::Empty,
        request_id = %id,
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        mcp.method.name = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(method) = text("mcp-method") {
        // Only a name for the span; what the request does is read from its body by the MCP layer.
        let method: String = method.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
        span.record("mcp.method.name", method.as_str());
        span.record("otel.name", format!("mcp {method}").as_str());
    } else {
        span.record("otel.name", format!("{} {}", request.method(), request.uri().path()).as_str());
    }
    traces::continue_trace(&span, text("traceparent").as_deref(), text("tracestate").as_deref());
    let mut response = serve(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_follows_the_variable_then_the_terminal() {
        assert_eq!(LogFormat::from_env(None, true), Ok(LogFormat::Text));
        assert_eq!(LogFormat::from_env(None, false), Ok(LogFormat::Json));
        assert_eq!(LogFormat::from_env(Some("JSON"), true), Ok(LogFormat::Json));
        assert_eq!(LogFormat::from_env(Some("text"), false), Ok(LogFormat::Text));
        assert!(LogFormat::from_env(Some("xml"), false).unwrap_err().contains("json or text"));
    }

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        assert_eq!(request_id(Some("abc-123")), "abc-123");
        for bad in [None, Some(""), Some("has space"), Some("new\nline")] {
            let id = request_id(bad);
            assert_eq!(id.len(), 16, "{bad:?} -> {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(request_id(None), request_id(None));
        assert_eq!(request_id(Some(&"x".repeat(200))).len(), 16);
    }
}
