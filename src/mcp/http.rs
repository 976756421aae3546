//! Streamable HTTP at `/mcp` (both protocol eras, stateless, JSON responses unless a request needs a
//! stream) and stdio. The HTTP server is hyper's, driven here rather than through `axum::serve`, so
//! that accepted sockets get `TCP_NODELAY` (without it SSE responses stall about 40 ms each) and
//! every connection is bounded (`connections`). In front of rmcp's service, outermost first: the
//! request span and head checks (`framing`) on every route, then on `/mcp` paths the rate per
//! address, load shedding (`shed`), the body limit, Host/Origin (`framing`), the JSON-RPC envelope
//! (`jsonrpc`), the auth guard (two middlewares calling plain functions in that order), then per
//! endpoint the fast path of `tools/call` and `tools/list` (`fast`), which leaves every other
//! request to rmcp.

mod connections;
mod fast;
mod framing;
mod jsonrpc;
mod shed;

pub use fast::served as fast_path_served;
pub use framing::{MAX_HEAD_BYTES, MAX_REQUEST_TARGET_BYTES};

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::McpServer;

/// The peer address of the connection a request came on (set by [`serve`] on every request).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub std::net::SocketAddr);

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Hosts accepted in `Host` (DNS-rebinding protection); loopback names by default.
    pub allowed_hosts: Vec<String>,
    /// Origins accepted in `Origin` when present; local origins by default.
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Requests handled at once; more are answered 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Time a client has to send its request headers, counted from the connection's accept or the end
    /// of its previous response: a connection with no request in flight for this long is closed.
    pub header_read_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed at once.
    pub max_connections: usize,
    /// Queueing delay of the runtime above which fewer `/mcp` requests are admitted at once (the
    /// rest answered 503) and, standing for 100 ms, new connections are refused; `None` (the default
    /// here; `serve` sets [`DEFAULT_QUEUE_TARGET`]) turns queue-delay shedding off, so that servers
    /// embedded in tests on a busy machine never shed.
    pub queue_target: Option<Duration>,
    /// Whether `/metrics` is served here (false when it has its own listener).
    pub metrics: bool,
    /// How long in-flight requests may run after shutdown starts before they are dropped.
    pub shutdown_grace: Duration,
    /// Whether `tools/call` and `tools/list` take the fast path (`http/fast.rs`) where it answers as
    /// rmcp would; always on in `serve`, off only in tests that compare the two.
    #[doc(hidden)]
    pub fast_path: bool,
}

/// Open connections by default: an idle HTTP/1 connection costs hyper's buffers (up to 64 KiB while a
/// head is read), an HTTP/2 one its stream windows; 2,048 of them stay well within 1 GiB and within
/// a common 4,096 file-descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// Queueing delay above which `api2mcp serve` sheds load by default: above what a busy but healthy
/// runtime shows (well under a millisecond per turn), and low because a call waits this long at
/// each of its turns, a few dozen of them (read, check, the upstream request and its answer, write).
/// `bench/overload` on a quiet machine, 3x overload: with 20 ms the probe read 15-19 ms per turn,
/// never late, and admitted calls took 500 ms (the fixed cap of 1,024 did the shedding); 10 ms:
/// 260 ms; 5 ms: 13-14 ms at the median for 81-86% of the sustainable rate, while at 0.9x it
/// refuses 0.4% (2 ms: 3.7%).
pub const DEFAULT_QUEUE_TARGET: Duration = Duration::from_millis(5);

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into(), "[::1]".into()],
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into(), "http://[::1]:*".into()],
            max_body_bytes: 4 * 1024 * 1024,
            max_concurrent_requests: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            queue_target: None,
            metrics: true,
            shutdown_grace: Duration::from_secs(30),
            fast_path: true,
        }
    }
}

/// The axum router serving MCP at `/mcp` and the operational endpoints (`ops::router`).
/// `draining` turns `/ready` false (shutdown has begun); `stop` ends whatever rmcp still runs (the
/// grace period is over).
pub fn router(
    server: McpServer,
    settings: &HttpSettings,
    draining: CancellationToken,
    stop: CancellationToken,
) -> axum::Router {
    let shedding =
        shed::Shedding::new(settings.max_concurrent_requests, settings.queue_target, server.metrics().clone());
    router_with(server, settings, draining, stop, shedding)
}

/// [`router`] with the load shedding the accept loop shares.
fn router_with(
    server: McpServer,
    settings: &HttpSettings,
    draining: CancellationToken,
    stop: CancellationToken,
    shedding: shed::Shedding,
) -> axum::Router {
    let ops_shutdown = draining;
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(stop.clone());
    config.allowed_hosts = settings.allowed_hosts.clone();
    config.allowed_origins = settings.allowed_origins.clone();
    let mut ops = crate::ops::router(Arc::new(server.clone()), ops_shutdown);
    if settings.metrics {
        ops = ops.merge(crate::telemetry::metrics_router(server.metrics().clone()));
    }
    // Inbound auth comes from the catalogue's own settings, so a server cannot be started without
    // the auth its configuration asks for. The settings were checked when they were compiled; an
    // HTTP client for the JWKS or introspection endpoint that cannot be built fails closed.
    let auth_settings = server.caller().catalogue().server.auth.clone();
    let guard = auth_settings.as_ref().map(|settings| {
        crate::auth::Inbound::new(settings, server.metrics().clone())
            .map(|inbound| super::guard::Guard { inbound: Arc::new(inbound), server: server.clone() })
    });
    let metadata = match &guard {
        Some(Ok(guard)) => Some(super::guard::metadata_router(guard.inbound.clone(), server.clone())),
        _ => None,
    };
    let fast = Arc::new(fast::Shared::new(settings.fast_path, &settings.allowed_hosts, stop, server.clone()));
    let endpoint = |handler: McpServer| {
        let server = handler.clone();
        let rmcp: StreamableHttpService<McpServer, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(handler.clone()), Arc::default(), config.clone());
        fast::Endpoint::new(server, rmcp, fast.clone())
    };
    let mut mcp = axum::Router::new().nest_service("/mcp", endpoint(server.clone()));
    // Each toolset is a small server of its own at `/mcp/<toolset>` (the ones of the catalogue served
    // at startup; a reload changes what they serve, not which paths exist).
    for toolset in server.toolsets() {
        mcp = mcp.nest_service(&format!("/mcp/{toolset}"), endpoint(server.for_toolset(&toolset)));
    }
    let auth = match guard {
        None => Auth::Open,
        Some(Ok(guard)) => Auth::Guard(guard),
        Some(Err(error)) => {
            tracing::error!(%error, "inbound auth cannot start: refusing every MCP request");
            Auth::Broken
        }
    };
    if let Some(metadata) = metadata {
        ops = ops.merge(metadata);
    }
    let front = Arc::new(Front { server, shedding, max_body_bytes: settings.max_body_bytes, auth });
    mcp.layer(middleware::from_fn_with_state(front, in_front_of_mcp))
        // Added after the limits: health checks are answered even when MCP traffic is shed.
        .merge(ops)
        .layer(middleware::from_fn(on_every_request))
}

/// What runs in front of the MCP endpoints (see [`in_front_of_mcp`]).
struct Front {
    server: McpServer,
    shedding: shed::Shedding,
    max_body_bytes: usize,
    auth: Auth,
}

/// The inbound auth in front of `/mcp`.
enum Auth {
    /// The catalogue asks for none.
    Open,
    Guard(super::guard::Guard),
    /// Configured, but its HTTP client cannot be built: every request is refused (fails closed).
    Broken,
}

/// Every request, outermost: its span and request id, then the checks on its head.
async fn on_every_request(request: Request, next: Next) -> Response {
    crate::telemetry::request_span(request, |request| async move {
        match framing::check_head(&request) {
            None => next.run(request).await,
            Some(refusal) => refusal,
        }
    })
    .await
}

/// The checks in front of the MCP endpoints, in this order, each answering at once when it refuses:
/// the rate per address, load shedding (its places held until the answer), the body limit, Host
/// and Origin, the JSON-RPC envelope, the auth guard. One middleware calling plain functions
/// rather than a layer each: every layer cost a clone of the boxed service below it and a boxed
/// future per request.
async fn in_front_of_mcp(State(front): State<Arc<Front>>, request: Request, next: Next) -> Response {
    if let Some(refusal) = limit_rate(&front.server, &request) {
        return refusal;
    }
    let admission = match front.shedding.admit(&request) {
        Ok(admission) => admission,
        Err(refusal) => return *refusal,
    };
    let request = match limit_body(request, front.max_body_bytes) {
        Ok(request) => request,
        Err(refusal) => return *refusal,
    };
    if let Some(refusal) = framing::check_host_and_origin(&request) {
        return refusal;
    }
    let request = match jsonrpc::check_envelope(request).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let request = match &front.auth {
        Auth::Open => request,
        Auth::Guard(guard) => match super::guard::authorize(guard, request).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        },
        Auth::Broken => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "inbound auth is misconfigured; see the server log\n")
                .into_response();
        }
    };
    let response = next.run(request).await;
    drop(admission);
    response
}

/// The body limit (`max_body_bytes`), as tower-http's `RequestBodyLimitLayer` sets it: a declared
/// length over it is refused at once (413, its text), any other body is cut at the limit (or at the
/// declared length) while it is read, which `jsonrpc` answers 413.
fn limit_body(request: Request, max_body_bytes: usize) -> Result<Request, Box<Response>> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    let limit = match declared {
        Some(length) if length > max_body_bytes => {
            return Err(Box::new((StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response()));
        }
        Some(length) => max_body_bytes.min(length),
        None => max_body_bytes,
    };
    Ok(request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit))))
}

/// A flood from one address is refused before anything is parsed: 429 with the exact wait
/// (`server.limits.http_per_address`); `Some` is that answer.
fn limit_rate(server: &McpServer, request: &Request) -> Option<Response> {
    let address = request.extensions().get::<ClientAddress>().map(|a| a.0.ip())?;
    match server.caller().resilience().limiter.admit_http(address) {
        Ok(()) => None,
        Err(refusal) => {
            server.metrics().rate_limited(&refusal.limit);
            let seconds = refusal.retry_after.as_secs() + u64::from(refusal.retry_after.subsec_nanos() > 0);
            Some(
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", seconds.max(1).to_string())], "too many requests\n")
                    .into_response(),
            )
        }
    }
}

/// Serves MCP over HTTP on `listener` until `shutdown` is cancelled, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: McpServer,
    settings: &HttpSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // rmcp cancels the calls it runs when its token fires: that waits for the grace period.
    let stop = CancellationToken::new();
    let metrics = server.metrics().clone();
    let shedding = shed::Shedding::new(settings.max_concurrent_requests, settings.queue_target, metrics.clone());
    shedding.start();
    let overload = shedding.overload();
    let app = router_with(server, settings, shutdown.child_token(), stop.clone(), shedding);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(framing::PARSER_BUFFER_BYTES);
    builder.http2().max_header_list_size(framing::MAX_HEAD_BYTES as u32);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let accepting = connections::Accepting {
        app,
        builder,
        max_connections: settings.max_connections,
        idle_timeout: settings.header_read_timeout,
        overload,
        metrics,
    };
    connections::accept_loop(&listener, accepting, &graceful, &shutdown).await;
    // New connections are refused from here on; the ones open finish their requests.
    drop(listener);
    // In-flight calls get a grace period, then are dropped (their upstream requests with them).
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace = ?settings.shutdown_grace, "shutdown grace period over: dropping the requests still running");
    }
    stop.cancel();
    Ok(())
}
