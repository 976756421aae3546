//! Operational endpoints beside `/mcp`: the capability summary (`GET /` as JSON or HTML,
//! `/.well-known/api2mcp.json`), the draft MCP Server Card and Catalog (behind
//! `server.discovery.server_card`), `/health` (liveness) and `/ready` (readiness), plus the client
//! side of `api2mcp healthcheck`. Nothing here knows MCP types: the MCP module hands over a
//! [`Served`] snapshot on every request, so what these endpoints say is what `tools/list` and
//! `server/discover` serve at that moment.

pub mod health;
pub mod summary;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::catalogue::Catalogue;

/// What the server serves right now: the catalogue, its `tools/list` entries exactly as served, the
/// protocol versions `server/discover` announces and the version in `serverInfo`.
#[derive(Clone)]
pub struct Served {
    pub catalogue: Arc<Catalogue>,
    pub tools: Vec<Value>,
    pub protocol_versions: Vec<String>,
    pub version: String,
}

/// Where the endpoints read what is served, on every request (so a replaced catalogue shows at once).
pub trait ServedSource: Send + Sync + 'static {
    /// The full snapshot, for the documents that list tools.
    fn served(&self) -> Served;
    /// Only the catalogue, for readiness (cheaper: no tool is serialized).
    fn catalogue(&self) -> Arc<Catalogue>;
    /// Rate-limit sharing and circuit breaker states (`checks` of `/ready`); they never make it not ready.
    fn resilience(&self) -> Value {
        Value::Null
    }
}

#[derive(Clone)]
struct OpsState {
    source: Arc<dyn ServedSource>,
    readiness: Arc<health::Readiness>,
    shutdown: CancellationToken,
}

/// The operational routes. They sit outside the MCP request limits so that a busy server still
/// answers its health checks. `shutdown` turns `/ready` false while in-flight calls drain.
pub fn router(source: Arc<dyn ServedSource>, shutdown: CancellationToken) -> axum::Router {
    let state = OpsState { source, readiness: Arc::new(health::Readiness::new()), shutdown };
    axum::Router::new()
        .route("/", get(root))
        .route(summary::WELL_KNOWN_PATH, get(well_known))
        .route("/health", get(liveness))
        .route("/ready", get(readiness))
        .route("/mcp/server-card", get(server_card))
        .route("/.well-known/mcp/catalog.json", get(catalog))
        .with_state(state)
}

/// The MCP endpoint's absolute URL: `server.discovery.public_url`, else from the request's authority.
fn mcp_url(catalogue: &Catalogue, uri: &Uri, headers: &HeaderMap) -> String {
    if let Some(url) = &catalogue.server.discovery.public_url {
        return url.clone();
    }
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string))
        .filter(|host| host.parse::<axum::http::uri::Authority>().is_ok() && !host.contains('@'));
    match authority {
        Some(host) => format!("http://{host}/mcp"),
        None => summary::DEFAULT_MCP_URL.to_string(),
    }
}

async fn root(State(state): State<OpsState>, uri: Uri, headers: HeaderMap) -> Response {
    let served = state.source.served();
    let document = summary::document(&served, &mcp_url(&served.catalogue, &uri, &headers));
    let accept = headers.get(header::ACCEPT).and_then(|accept| accept.to_str().ok()).unwrap_or_default();
    if prefers_html(accept) {
        let mut response = summary::html(&document).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("accept"));
        // Defence in depth behind the escaping: the page runs no script and loads nothing.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        return response;
    }
    let mut response = public_json(document, "no-cache");
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// HTML only when the client ranks `text/html` above `application/json` (browsers list only the
/// former; `curl` sends `*/*` and gets JSON).
fn prefers_html(accept: &str) -> bool {
    let quality = |media_type: &str| {
        accept
            .split(',')
            .filter_map(|entry| {
                let mut parts = entry.split(';');
                let name = parts.next()?.trim();
                name.eq_ignore_ascii_case(media_type).then(|| {
                    parts
                        .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                        .next()
                        .unwrap_or(1.0)
                })
            })
            .fold(0.0_f32, f32::max)
    };
    let html = quality("text/html");
    html > 0.0 && html > quality("application/json")
}

async fn well_known(State(state): State<OpsState>, uri: Uri, headers: HeaderMap) -> Response {
    let served = state.source.served();
    public_json(summary::document(&served, &mcp_url(&served.catalogue, &uri, &headers)), "no-cache")
}

async fn server_card(State(state): State<OpsState>, uri: Uri, headers: HeaderMap) -> Response {
    let served = state.source.served();
    if !served.catalogue.server.discovery.server_card {
        return not_found();
    }
    let card = summary::server_card(&served, &mcp_url(&served.catalogue, &uri, &headers));
    let mut response = public_json(card, card_cache_control(&served.catalogue));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/mcp-server-card+json"));
    response
}

async fn catalog(State(state): State<OpsState>, uri: Uri, headers: HeaderMap) -> Response {
    let served = state.source.served();
    if !served.catalogue.server.discovery.server_card {
        return not_found();
    }
    let catalog = summary::catalog(&served, &mcp_url(&served.catalogue, &uri, &headers));
    public_json(catalog, card_cache_control(&served.catalogue))
}

/// Shared caches may keep the card only when its URLs do not come from the request's `Host`.
fn card_cache_control(catalogue: &Catalogue) -> &'static str {
    if catalogue.server.discovery.public_url.is_some() { "public, max-age=300" } else { "no-cache" }
}

async fn liveness() -> Response {
    let body = serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")});
    let mut response = axum::Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn readiness(State(state): State<OpsState>) -> Response {
    let catalogue = state.source.catalogue();
    let (ready, mut body) = state.readiness.check(&catalogue, state.shutdown.is_cancelled()).await;
    // Live, not cached: a breaker opens between two rounds of probes.
    if let (Value::Object(resilience), Some(Value::Object(checks))) =
        (state.source.resilience(), body.get_mut("checks"))
    {
        checks.extend(resilience);
    }
    let degraded = body["checks"].as_object().is_some_and(|checks| {
        checks.values().any(|check| {
            check["status"] == "degraded"
                || check.as_object().is_some_and(|inner| inner.values().any(|c| c["status"] == "degraded"))
        })
    });
    if ready && degraded {
        body["status"] = Value::from("degraded");
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Public metadata: readable from any origin (the discovery draft asks for CORS `*`).
fn public_json(body: Value, cache_control: &'static str) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found: enable server.discovery.server_card to serve the MCP Server Card\n")
        .into_response()
}

/// `api2mcp healthcheck`: GET `url`, healthy when the answer is 2xx within `timeout`. Returns the
/// status line and body for the caller to print.
pub async fn healthcheck(url: &str, timeout: Duration) -> Result<String, String> {
    let client = crate::tls::client_builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| format!("cannot build an HTTP client: {error}"))?;
    let response = client.get(url).send().await.map_err(|error| format!("{url}: {}", describe(&error)))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let line = format!("{url}: HTTP {} {}", status.as_u16(), body.trim());
    if status.is_success() { Ok(line) } else { Err(line) }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut last = error.to_string();
    while let Some(current) = source {
        last = current.to_string();
        source = current.source();
    }
    last
}

/// The URL `api2mcp healthcheck` asks by default: `/ready` on the address `serve` listens on, with an
/// unspecified address (`0.0.0.0`, `[::]`) replaced by loopback.
pub fn default_healthcheck_url(listen: &str) -> String {
    let (host, port) = match listen.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => (listen, "8080"),
    };
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "[::]" | "::" => "[::1]",
        host => host,
    };
    format!("http://{host}:{port}/ready")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_only_for_clients_that_rank_it_first() {
        assert!(prefers_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html(""));
        assert!(!prefers_html("application/json, text/html;q=0.5"));
        assert!(!prefers_html("text/html;q=0"));
        assert!(prefers_html("application/json;q=0.2, TEXT/HTML"));
    }

    #[test]
    fn healthcheck_asks_loopback_for_unspecified_addresses() {
        assert_eq!(default_healthcheck_url("0.0.0.0:8080"), "http://127.0.0.1:8080/ready");
        assert_eq!(default_healthcheck_url("[::]:9000"), "http://[::1]:9000/ready");
        assert_eq!(default_healthcheck_url("127.0.0.1:18080"), "http://127.0.0.1:18080/ready");
        assert_eq!(default_healthcheck_url("localhost:1"), "http://localhost:1/ready");
    }
}
