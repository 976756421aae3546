//! Streamable HTTP at `/mcp` (both protocol eras, stateless, JSON responses unless a request needs a
//! stream) and stdio.

use std::sync::Arc;

use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::McpServer;

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Hosts accepted in `Host` (DNS-rebinding protection); loopback names by default.
    pub allowed_hosts: Vec<String>,
    /// Origins accepted in `Origin` when present.
    pub allowed_origins: Vec<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into(), "[::1]".into()],
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()],
        }
    }
}

/// The axum router serving MCP at `/mcp`.
pub fn router(server: McpServer, settings: &HttpSettings, shutdown: CancellationToken) -> axum::Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(shutdown);
    config.allowed_hosts = settings.allowed_hosts.clone();
    config.allowed_origins = settings.allowed_origins.clone();
    let service: StreamableHttpService<McpServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::default(), config);
    axum::Router::new().nest_service("/mcp", service)
}

/// Serves MCP over HTTP on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: McpServer,
    settings: &HttpSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(server, settings, shutdown.child_token());
    axum::serve(listener, app).with_graceful_shutdown(async move { shutdown.cancelled_owned().await }).await
}

/// Serves MCP over stdin/stdout until the client closes it. Nothing else may write to stdout.
pub async fn serve_stdio(server: McpServer) -> Result<(), String> {
    let running = server.serve(rmcp::transport::stdio()).await.map_err(|error| error.to_string())?;
    running.waiting().await.map_err(|error| error.to_string())?;
    Ok(())
}
