//! The fast path of `POST /mcp` for the two requests that carry the traffic, `tools/call` and
//! `tools/list`, in the stateless cases where it answers exactly what rmcp's Streamable HTTP service
//! answers; every other request goes to rmcp.
//!
//! For each stateless POST, rmcp's service builds a service loop (`serve_directly`) with its channels
//! and spawns three tasks (the loop, the handler, the response send) to answer one message. The fast
//! path calls rmcp's own request dispatch (`Service::handle_request` of the handler, which applies
//! rmcp's per-era result rules) inline, with a peer built once per protocol version, and serialises
//! the JSON-RPC response once, as rmcp does (`serde_json::to_vec` of a `ServerJsonRpcMessage`).
//!
//! A request takes the fast path only when every check rmcp makes before dispatching is known to
//! pass: an allowed `Host` and no `Origin`; `Accept` naming both JSON and SSE with no parameters;
//! JSON `Content-Type`; a body within rmcp's limit; a known `MCP-Protocol-Version` (or none: 2025-03-26);
//! per-request `_meta` that is complete and matches the header (2026-07-28), or none with a header
//! before 2026-07-28; SEP-2243 `Mcp-Method`/`Mcp-Name` exactly as the body says them; and no progress
//! token (progress would turn the answer into an SSE stream). Anything else, including every
//! refusal, is rmcp's to answer. `tests/integration/fast_path.rs` compares both paths.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header, request::Parts, uri::Authority};
use axum::response::Response;
use rmcp::model::{
    ClientCapabilities, ClientJsonRpcMessage, ClientRequest, ErrorCode, ErrorData, GetExtensions, GetMeta,
    Implementation, InitializeRequestParams, JsonRpcMessage, JsonRpcRequest, ProtocolVersion, RequestId,
    ServerJsonRpcMessage, ServerResult,
};
use rmcp::service::{Peer, RequestContext, RoleServer, RunningService, Service};
use rmcp::transport::common::http_header::{
    BASE64_HEADER_PREFIX, EVENT_STREAM_MIME_TYPE, HEADER_MCP_METHOD, HEADER_MCP_NAME, HEADER_MCP_PROTOCOL_VERSION,
    JSON_MIME_TYPE,
};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

use super::super::McpServer;
use super::jsonrpc::Parsed;

/// rmcp's request body limit (its default, which `http.rs` keeps): larger bodies are rmcp's to refuse.
const RMCP_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Requests taken by the fast path since the process started (for tests: a request shape that
/// should take it, did).
static SERVED: AtomicU64 = AtomicU64::new(0);

/// How many requests the fast path has taken in this process.
#[doc(hidden)]
pub fn served() -> u64 {
    SERVED.load(Ordering::Relaxed)
}

/// One MCP endpoint (`/mcp` or `/mcp/<toolset>`): the fast path in front of rmcp's service. The
/// router clones its service for every request: a clone is one reference count.
#[derive(Clone)]
pub struct Endpoint(Arc<Held>);

/// What an [`Endpoint`] holds.
struct Held {
    server: McpServer,
    rmcp: StreamableHttpService<McpServer, LocalSessionManager>,
    shared: Arc<Shared>,
}

impl Endpoint {
    pub fn new(
        server: McpServer,
        rmcp: StreamableHttpService<McpServer, LocalSessionManager>,
        shared: Arc<Shared>,
    ) -> Self {
        Endpoint(Arc::new(Held { server, rmcp, shared }))
    }
}

impl tower::Service<Request> for Endpoint {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let endpoint = self.clone();
        Box::pin(async move { Ok(endpoint.serve(request).await) })
    }
}

/// What the endpoints of one router share.
pub struct Shared {
    /// Whether the fast path is on (tests turn it off to compare with rmcp).
    enabled: bool,
    /// The `Host` allow-list as rmcp reads it; `None`: every host (an empty list).
    allowed_hosts: Option<Vec<(String, Option<u16>)>>,
    /// Fires when the shutdown grace period is over (rmcp's cancellation token).
    stop: CancellationToken,
    /// One peer per known protocol version, built on the first request (it needs the runtime).
    peers: OnceLock<Vec<(ProtocolVersion, RunningService<RoleServer, McpServer>)>>,
    /// The handler the peers' idle services hold (never called).
    idle: McpServer,
}

impl Shared {
    pub fn new(enabled: bool, allowed_hosts: &[String], stop: CancellationToken, idle: McpServer) -> Self {
        let allowed_hosts =
            (!allowed_hosts.is_empty()).then(|| allowed_hosts.iter().filter_map(|a| allowed_authority(a)).collect());
        Shared { enabled, allowed_hosts, stop, peers: OnceLock::new(), idle }
    }

    /// The peer a stateless request of `version` is served with: rmcp's `serve_directly` gives each
    /// request a peer whose client info names the version from `MCP-Protocol-Version` (2025-03-26
    /// without it), which handlers read through `RequestContext::protocol_version`. Nothing is ever
    /// sent through it: requests that could send (progress) are not served here.
    fn peer(&self, version: &ProtocolVersion) -> Option<Peer<RoleServer>> {
        let peers = self.peers.get_or_init(|| {
            ProtocolVersion::KNOWN_VERSIONS
                .iter()
                .map(|version| {
                    let mut info =
                        InitializeRequestParams::new(ClientCapabilities::default(), Implementation::default());
                    info.protocol_version = version.clone();
                    (version.clone(), rmcp::service::serve_directly(self.idle.clone(), Idle, Some(info)))
                })
                .collect()
        });
        peers.iter().find(|(v, _)| v == version).map(|(_, running)| running.peer().clone())
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(allowed) = &self.allowed_hosts else { return true };
        let Some(authority) =
            headers.get(header::HOST).and_then(|h| h.to_str().ok()).and_then(|h| Authority::try_from(h).ok())
        else {
            return false;
        };
        let host = normalize_host(authority.host());
        let port = authority.port_u16();
        allowed.iter().any(|(h, p)| *h == host && p.is_none_or(|p| port == Some(p)))
    }
}

/// An allow-list entry as rmcp reads it: an authority (host and optional port), else a bare host.
fn allowed_authority(allowed: &str) -> Option<(String, Option<u16>)> {
    let allowed = allowed.trim();
    if allowed.is_empty() {
        return None;
    }
    match Authority::try_from(allowed) {
        Ok(authority) => Some((normalize_host(authority.host()), authority.port_u16())),
        Err(_) => Some((normalize_host(allowed), None)),
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_matches('[').trim_matches(']').to_ascii_lowercase()
}

/// A transport that never delivers a message: it keeps a prebuilt peer's service loop idle.
struct Idle;

impl rmcp::transport::Transport<RoleServer> for Idle {
    type Error = std::io::Error;

    fn send(&mut self, _item: ServerJsonRpcMessage) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        std::future::ready(Ok(()))
    }

    fn receive(&mut self) -> impl Future<Output = Option<ClientJsonRpcMessage>> + Send {
        std::future::pending()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        std::future::ready(Ok(()))
    }
}

/// Who answers a request. Moved once, from `plan` to `serve`: the size difference costs nothing,
/// where boxing the plan would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Route {
    Fast(Plan),
    Rmcp(Request),
}

/// A request the fast path answers.
struct Plan {
    parts: Parts,
    id: RequestId,
    request: ClientRequest,
    peer: Peer<RoleServer>,
    /// The request negotiates its version in `_meta` (2026-07-28): rmcp maps some errors to HTTP statuses.
    negotiated: bool,
}

impl Endpoint {
    /// Serves one request at this endpoint.
    pub async fn serve(self, request: Request) -> Response {
        let request = if self.0.shared.enabled && request.method() == Method::POST {
            match self.plan(request) {
                Route::Fast(plan) => return self.run(plan).await,
                Route::Rmcp(request) => request,
            }
        } else {
            request
        };
        let (mut parts, body) = request.into_parts();
        parts.extensions.remove::<Parsed>();
        self.0.rmcp.handle(Request::from_parts(parts, body)).await.map(Body::new)
    }

    /// The plan for a request the fast path can answer exactly as rmcp would; otherwise the request.
    fn plan(&self, request: Request) -> Route {
        let (mut parts, body) = request.into_parts();
        let give_back = |parts: Parts, body: Body| Route::Rmcp(Request::from_parts(parts, body));
        let Some(parsed) = parts.extensions.remove::<Parsed>() else { return give_back(parts, body) };
        let headers = &parts.headers;
        let Some(version) = eligible_headers(headers) else { return give_back(parts, body) };
        if parsed.body_bytes > RMCP_MAX_BODY_BYTES || !self.0.shared.host_allowed(headers) {
            return give_back(parts, body);
        }
        let JsonRpcMessage::Request(JsonRpcRequest { id, request, .. }) = &*parsed.message else {
            return give_back(parts, body);
        };
        let id = id.clone();
        let (method, name) = match request {
            ClientRequest::CallToolRequest(call) => ("tools/call", Some(call.params.name.as_ref())),
            ClientRequest::ListToolsRequest(_) => ("tools/list", None),
            _ => return give_back(parts, body),
        };
        let meta = request.get_meta();
        if meta.get_progress_token().is_some() {
            return give_back(parts, body);
        }
        let negotiated = match (meta.protocol_version(), &version) {
            // 2026-07-28: the `_meta` version must be the header's and the `_meta` complete.
            (Some(in_meta), Some(header)) => {
                if in_meta != *header || !meta.missing_required_keys(&ProtocolVersion::V_2026_07_28).is_empty() {
                    return give_back(parts, body);
                }
                true
            }
            (Some(_), None) => return give_back(parts, body),
            (None, Some(header)) if header.as_str() >= ProtocolVersion::V_2026_07_28.as_str() => {
                return give_back(parts, body);
            }
            (None, _) => false,
        };
        let version = version.unwrap_or(ProtocolVersion::V_2025_03_26);
        if version.as_str() >= ProtocolVersion::STANDARD_HEADERS.as_str()
            && !standard_headers_match(headers, method, name)
        {
            return give_back(parts, body);
        }
        let Some(peer) = self.0.shared.peer(&version) else { return give_back(parts, body) };
        // The message is this request's alone from here on (the extension was removed above).
        let message = Arc::try_unwrap(parsed.message).unwrap_or_else(|shared| (*shared).clone());
        let JsonRpcMessage::Request(JsonRpcRequest { id: _, request, .. }) = message else {
            unreachable!("matched as a request above")
        };
        Route::Fast(Plan { parts, id, request, peer, negotiated })
    }

    /// Runs the request through rmcp's dispatch, inline, and answers with the JSON-RPC response.
    async fn run(self, plan: Plan) -> Response {
        let Plan { parts, id, mut request, peer, negotiated } = plan;
        SERVED.fetch_add(1, Ordering::Relaxed);
        // As rmcp's transport and service loop do: the HTTP parts ride in the request's extensions,
        // and the handler's context takes the request's `_meta` and extensions.
        request.extensions_mut().insert(parts);
        let mut context = RequestContext::new(id.clone(), peer);
        context.meta = std::mem::take(request.get_meta_mut());
        context.extensions = std::mem::take(request.extensions_mut());
        let cancel = CancellationToken::new();
        context.ct = cancel.child_token();
        let held = self.0.clone();
        let handling: Handling = Box::pin(async move { Service::handle_request(&held.server, request, context).await });
        let mut handling = Inline { handling: Some(handling), cancel };
        let result = tokio::select! {
            result = &mut handling => result,
            () = self.0.shared.stop.cancelled() => {
                // What rmcp answers when the grace period ends before the handler does.
                drop(handling);
                return Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(Body::from("Encounter an error when empty response: no response message received from handler"))
                    .unwrap_or_default();
            }
        };
        let message = match result {
            Ok(result) => ServerJsonRpcMessage::response(result, id),
            Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
        };
        let status = if negotiated { negotiated_status(&message) } else { StatusCode::OK };
        match serde_json::to_vec(&message) {
            Ok(body) => Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, JSON_MIME_TYPE)
                .body(Body::from(body))
                .unwrap_or_default(),
            Err(error) => Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::from(format!("Encounter an error when serialize json response: {error}")))
                .unwrap_or_default(),
        }
    }
}

/// The protocol version of a request whose headers pass rmcp's checks as they are: `Some(None)`
/// without `MCP-Protocol-Version`; `None` when the request is rmcp's to answer.
fn eligible_headers(headers: &HeaderMap) -> Option<Option<ProtocolVersion>> {
    if headers.contains_key(header::ORIGIN) || !accepts_json_and_sse(headers) {
        return None;
    }
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = content_type.split_once(';').map_or(content_type, |(essence, _)| essence);
    if !essence.trim().eq_ignore_ascii_case(JSON_MIME_TYPE) {
        return None;
    }
    let mut versions = headers.get_all(HEADER_MCP_PROTOCOL_VERSION).iter();
    let Some(version) = versions.next() else { return Some(None) };
    if versions.next().is_some() {
        return None;
    }
    let version = version.to_str().ok()?;
    ProtocolVersion::KNOWN_VERSIONS.iter().find(|known| known.as_str() == version).map(|known| Some(known.clone()))
}

/// `Accept` lists both JSON and SSE, in the plain form whose reading cannot differ from rmcp's
/// (no parameters, no quoted strings).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { return false };
        if value.contains([';', '"']) {
            return false;
        }
        for essence in value.split(',').map(str::trim) {
            json |= essence.eq_ignore_ascii_case(JSON_MIME_TYPE);
            sse |= essence.eq_ignore_ascii_case(EVENT_STREAM_MIME_TYPE);
        }
    }
    json && sse
}

/// SEP-2243 (2026-07-28): one `Mcp-Method` naming the body's method and, for `tools/call`, one
/// plain `Mcp-Name` naming the tool (a Base64-wrapped one is rmcp's to decode).
fn standard_headers_match(headers: &HeaderMap, method: &str, name: Option<&str>) -> bool {
    let single = |header: &str| {
        let mut values = headers.get_all(header).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok(),
            _ => None,
        }
    };
    if single(HEADER_MCP_METHOD) != Some(method) {
        return false;
    }
    match name {
        None => true,
        Some(name) => {
            single(HEADER_MCP_NAME).is_some_and(|header| header == name && !header.starts_with(BASE64_HEADER_PREFIX))
        }
    }
}

/// The HTTP status rmcp gives the answer to a request that negotiates its version in `_meta`.
fn negotiated_status(message: &ServerJsonRpcMessage) -> StatusCode {
    let ServerJsonRpcMessage::Error(error) = message else { return StatusCode::OK };
    match error.error.code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

type Handling = Pin<Box<dyn Future<Output = Result<ServerResult, ErrorData>> + Send>>;

/// The handler, run inline in the request's own task. When the request is dropped before the
/// handler is done (the client went away, or the grace period ended), the handler is cancelled and
/// finishes on a task of its own, as under rmcp: the call is still recorded (metrics, audit) as
/// cancelled, and its upstream request is dropped.
struct Inline {
    handling: Option<Handling>,
    cancel: CancellationToken,
}

impl Future for Inline {
    type Output = Result<ServerResult, ErrorData>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(handling) = self.handling.as_mut() else { return Poll::Pending };
        let output = std::task::ready!(handling.as_mut().poll(cx));
        self.handling = None;
        Poll::Ready(output)
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        if let Some(handling) = self.handling.take() {
            self.cancel.cancel();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = handling.await;
                });
            }
        }
    }
}
