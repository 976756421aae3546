//! Streamable HTTP at `/mcp` (both protocol eras, stateless, JSON responses unless a request needs a
//! stream) and stdio. The HTTP server is hyper's, driven here rather than through `axum::serve`, so
//! that accepted sockets get `TCP_NODELAY` (without it SSE responses stall about 40 ms each) and
//! slow clients get a header read timeout; a body size limit and a cap on concurrent requests sit in
//! front of rmcp's service.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::McpServer;

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
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Whether `/metrics` is served here (false when it has its own listener).
    pub metrics: bool,
    /// How long in-flight requests may run after shutdown starts before they are dropped.
    pub shutdown_grace: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into(), "[::1]".into()],
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into(), "http://[::1]:*".into()],
            max_body_bytes: 4 * 1024 * 1024,
            max_concurrent_requests: 1024,
            header_read_timeout: Duration::from_secs(10),
            metrics: true,
            shutdown_grace: Duration::from_secs(30),
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
    let ops_shutdown = draining;
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(stop);
    config.allowed_hosts = settings.allowed_hosts.clone();
    config.allowed_origins = settings.allowed_origins.clone();
    let mut ops = crate::ops::router(Arc::new(server.clone()), ops_shutdown);
    if settings.metrics {
        ops = ops.merge(crate::telemetry::metrics_router(server.metrics().clone()));
    }
    let metrics = server.metrics().clone();
    // Inbound auth comes from the catalogue's own settings, so a server cannot be started without
    // the auth its configuration asks for. Settings that cannot be used fail closed.
    let auth_settings = server.caller().catalogue().server.auth.clone();
    let guard = auth_settings.as_ref().map(|settings| {
        crate::auth::Inbound::new(settings, server.metrics().clone())
            .map(|inbound| crate::auth::Guard { inbound: Arc::new(inbound), server: server.clone() })
    });
    let metadata = match &guard {
        Some(Ok(guard)) => Some(crate::auth::metadata_router(guard.inbound.clone(), server.clone())),
        _ => None,
    };
    let handler = server.clone();
    let service: StreamableHttpService<McpServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(handler.clone()), Arc::default(), config.clone());
    let permits = Limits { permits: Arc::new(Semaphore::new(settings.max_concurrent_requests)), metrics };
    let mut mcp = axum::Router::new().nest_service("/mcp", service);
    // Each toolset is a small server of its own at `/mcp/<toolset>` (the ones of the catalogue served
    // at startup; a reload changes what they serve, not which paths exist).
    for toolset in server.toolsets() {
        let handler = server.for_toolset(&toolset);
        let service: StreamableHttpService<McpServer, LocalSessionManager> =
            StreamableHttpService::new(move || Ok(handler.clone()), Arc::default(), config.clone());
        mcp = mcp.nest_service(&format!("/mcp/{toolset}"), service);
    }
    match guard {
        None => {}
        Some(Ok(guard)) => mcp = mcp.layer(middleware::from_fn_with_state(guard, crate::auth::guard)),
        Some(Err(error)) => {
            tracing::error!(%error, "inbound auth settings cannot be used: refusing every MCP request");
            mcp = mcp.layer(middleware::from_fn(refuse_all));
        }
    }
    if let Some(metadata) = metadata {
        ops = ops.merge(metadata);
    }
    mcp.layer(tower_http::limit::RequestBodyLimitLayer::new(settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(permits, limit_concurrency))
        // Added after the limits: health checks are answered even when MCP traffic is shed.
        .merge(ops)
        .layer(middleware::from_fn(crate::telemetry::request_span))
}

async fn refuse_all(_request: Request, _next: Next) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "inbound auth is misconfigured; see the server log\n").into_response()
}

/// Sheds load instead of queueing it: a client told to come back soon does better than one whose
/// request waits behind thousands of others.
async fn limit_concurrency(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    match limits.permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            limits.metrics.request_shed(crate::telemetry::metrics::SHED_CONCURRENCY);
            (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "too many concurrent requests\n").into_response()
        }
    }
}

#[derive(Clone)]
struct Limits {
    permits: Arc<Semaphore>,
    metrics: Arc<crate::telemetry::metrics::Metrics>,
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
    let app = router(server, settings, shutdown.child_token(), stop.clone());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(_) => continue,
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    // New connections are refused from here on; the ones open finish their requests.
    drop(listener);
    // In-flight calls get a grace period, then are dropped (their upstream requests with them).
    if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!(grace = ?settings.shutdown_grace, "shutdown grace period over: dropping the requests still running");
    }
    stop.cancel();
    Ok(())
}

/// Serves MCP over stdin/stdout until the client closes it. Nothing else may write to stdout.
pub async fn serve_stdio(server: McpServer) -> Result<(), String> {
    // One long-lived client: it can be told when a reload changes the tool list.
    let server = server.announcing_list_changes();
    let running = server.clone().serve(rmcp::transport::stdio()).await.map_err(|error| error.to_string())?;
    server.push_list_changes_to(running.peer().clone());
    running.waiting().await.map_err(|error| error.to_string())?;
    Ok(())
}
