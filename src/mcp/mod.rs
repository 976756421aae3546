//! The only module that knows MCP and JSON-RPC (through rmcp): the server handler that lists the
//! catalogue's tools and turns a `tools/call` into an upstream call, and the transports
//! (Streamable HTTP, stdio). A config-driven server implements only info, list and call; everything
//! else keeps rmcp's safe defaults.

pub mod http;
mod result;

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use rmcp::ServerHandler;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, ErrorData, Implementation, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext, RoleServer};

use crate::call::{CallContext, CallOutput, Caller, Progress};
use crate::classify::Outcome;
use crate::telemetry::metrics::{self, Metrics, Status};

/// Tools per `tools/list` page: large catalogues are paginated with a cursor.
pub const TOOLS_PAGE_SIZE: usize = 200;
/// How long a client may treat a `tools/list` page as fresh (2026-07-28 `ttlMs`).
const TOOLS_TTL_MS: u64 = 300_000;

/// What one catalogue serves: the caller and its `tools/list` entries, swapped together on reload.
struct Snapshot {
    caller: Arc<Caller>,
    tools: Vec<Tool>,
}

/// One handler serves every request; it holds only shared state, read once per request as an
/// immutable snapshot, so any instance can serve any request (no session state) and a reload never
/// changes the catalogue under a call in flight.
#[derive(Clone)]
pub struct McpServer {
    current: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
    /// Clients that can be told `notifications/tools/list_changed` (stdio; stateless HTTP cannot be pushed to).
    listeners: Arc<Mutex<Vec<Peer<RoleServer>>>>,
    /// Whether this transport announces `tools.listChanged`.
    list_changed: bool,
}

impl McpServer {
    pub fn new(caller: Arc<Caller>) -> Result<Self, String> {
        Self::with_metrics(caller, Arc::new(Metrics::new()))
    }

    /// A server whose calls and catalogue are recorded in `metrics` (which outlive reloads).
    pub fn with_metrics(caller: Arc<Caller>, metrics: Arc<Metrics>) -> Result<Self, String> {
        let snapshot = snapshot(caller)?;
        record_catalogue(&metrics, &snapshot);
        Ok(McpServer {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
            metrics,
            listeners: Arc::default(),
            list_changed: false,
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The caller of the catalogue served right now.
    pub fn caller(&self) -> Arc<Caller> {
        self.current.load().caller.clone()
    }

    /// For a transport with one long-lived client (stdio): `tools.listChanged` is announced, and
    /// clients registered with [`Self::push_list_changes_to`] are told after every reload.
    #[must_use]
    pub fn announcing_list_changes(mut self) -> Self {
        self.list_changed = true;
        self
    }

    pub fn push_list_changes_to(&self, peer: Peer<RoleServer>) {
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.push(peer);
        }
    }

    /// Swaps in a new catalogue atomically: requests already running finish on the old one, every
    /// later request sees the new one, and clients that can be pushed to are told the list changed.
    /// Nothing changes when the new catalogue cannot be served.
    pub async fn replace(&self, caller: Arc<Caller>) -> Result<(), String> {
        let snapshot = snapshot(caller)?;
        record_catalogue(&self.metrics, &snapshot);
        self.current.store(Arc::new(snapshot));
        let listeners: Vec<Peer<RoleServer>> = self.listeners.lock().map(|l| l.clone()).unwrap_or_default();
        let mut alive = Vec::new();
        for peer in listeners {
            if peer.notify_tool_list_changed().await.is_ok() {
                alive.push(peer);
            }
        }
        if let Ok(mut listeners) = self.listeners.lock() {
            *listeners = alive;
        }
        Ok(())
    }
}

fn snapshot(caller: Arc<Caller>) -> Result<Snapshot, String> {
    let tools = caller
        .catalogue()
        .tools
        .iter()
        .map(|tool| {
            serde_json::from_value::<Tool>(tool.to_mcp_json())
                .map_err(|error| format!("tool '{}' is not a valid MCP tool: {error}", tool.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Snapshot { caller, tools })
}

fn record_catalogue(metrics: &Metrics, snapshot: &Snapshot) {
    let list = snapshot.caller.catalogue().tools_list_json().to_string();
    metrics.catalogue(snapshot.tools.len(), crate::compile::text::approx_tokens(&list));
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let current = self.current.load();
        let server = &current.caller.catalogue().server;
        // Tools only: api2mcp has no prompts or resources, and an empty capability invites clients to
        // ask for lists that are always empty (rmcp answers those methods as unsupported).
        let capabilities = ServerCapabilities::builder().enable_tools();
        let capabilities =
            if self.list_changed { capabilities.enable_tool_list_changed().build() } else { capabilities.build() };
        let mut info = InitializeResult::new(capabilities);
        let mut implementation = Implementation::new(server.name.clone(), env!("CARGO_PKG_VERSION"));
        implementation.title = server.title.clone();
        implementation.description = server.description.clone();
        info.server_info = implementation;
        info.instructions = server.instructions.clone();
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let current = self.current.load();
        let authenticated = authenticated(&context);
        // With inbound auth, each caller sees only the tools its scopes permit: the same rule as calls.
        let visible: Vec<Tool>;
        let tools = match &authenticated {
            None => &current.tools,
            Some(authenticated) => {
                let catalogue = current.caller.catalogue();
                visible = current
                    .tools
                    .iter()
                    .zip(&catalogue.tools)
                    .filter(|(_, tool)| crate::auth::permits(&authenticated.principal.scopes, &tool.scopes))
                    .map(|(served, _)| served.clone())
                    .collect();
                &visible
            }
        };
        let cache_scope = if authenticated.is_some() { CacheScope::Private } else { CacheScope::Public };
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .filter(|start| *start < tools.len())
                .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor '{cursor}'"), None))?,
        };
        let end = (start + TOOLS_PAGE_SIZE).min(tools.len());
        let mut result = ListToolsResult::with_all_items(tools[start..end].to_vec());
        // `ttlMs` and `cacheScope` exist from 2026-07-28 on: a client that negotiated an earlier
        // version gets the result as its schema describes it.
        if speaks_2026_era(&context) {
            result = result.with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(cache_scope);
        }
        if end < tools.len() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller();
        // An unknown tool is a protocol error, as the spec says; everything after is a tool result.
        let Some(tool_index) = caller.catalogue().tool_index(&request.name) else {
            return Err(ErrorData::invalid_params(format!("unknown tool '{}'", request.name), None));
        };
        let authenticated = authenticated(&context);
        if let Some(authenticated) = &authenticated {
            // The HTTP guard already answered 403 for this; a second check costs nothing.
            let required = &caller.catalogue().tools[tool_index].scopes;
            if !crate::auth::permits(&authenticated.principal.scopes, required) {
                return Err(ErrorData::invalid_request(
                    format!("insufficient scope: tool '{}' needs {}", request.name, required.join(" ")),
                    None,
                ));
            }
        }
        let arguments = request.arguments.unwrap_or_default();
        let progress = context.meta.get_progress_token().map(|token| (context.peer.clone(), token));
        let span = tool_span(&request.name);
        // A trace context in `_meta` (SEP-414) is the call's own; it wins over the HTTP request's.
        let traceparent = context.meta.get("traceparent").and_then(|v| v.as_str());
        let tracestate = context.meta.get("tracestate").and_then(|v| v.as_str());
        crate::telemetry::traces::continue_trace(&span, traceparent, tracestate);
        // The call is dropped (and the upstream request with it) when the client cancels.
        let result = self.run_tool(&caller, tool_index, arguments, context.ct.cancelled(), progress, authenticated);
        Ok(tracing::Instrument::instrument(result, span).await.into())
    }
}

impl McpServer {
    async fn run_tool(
        &self,
        caller: &Caller,
        tool_index: usize,
        arguments: serde_json::Map<String, serde_json::Value>,
        cancelled: impl std::future::Future<Output = ()>,
        progress: Option<(Peer<RoleServer>, ProgressToken)>,
        authenticated: Option<crate::auth::Authenticated>,
    ) -> rmcp::model::CallToolResult {
        let started = std::time::Instant::now();
        let tool = &caller.catalogue().tools[tool_index];
        let (sender, mut receiver) = match progress {
            Some(_) => {
                let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
                (Some(sender), Some(receiver))
            }
            None => (None, None),
        };
        let mut arguments = arguments;
        // Lossless conversions (`42` for a string id) happen before the call so the audit line says which.
        let coerced = caller.coerce_arguments(tool_index, &mut arguments);
        let coerced = coerced.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let audited_arguments = crate::auth::audited_arguments(authenticated.as_ref(), &arguments);
        let context = CallContext {
            caller: authenticated.as_ref().and_then(|a| a.principal.subject.clone()),
            forward: authenticated.as_ref().map(|a| a.forwarded.clone()).unwrap_or_default(),
            subject_token: authenticated.as_ref().and_then(|a| a.token.clone()),
            progress: sender,
        };
        if let Some(subject) = &context.caller {
            tracing::Span::current().record("enduser.id", subject.as_str());
        }
        let call = caller.call(tool_index, arguments, &context);
        tokio::pin!(call, cancelled);
        // Progress is sent from this task, before the result, so a client never sees it after the result.
        let outcome = loop {
            tokio::select! {
                biased;
                outcome = &mut call => break outcome,
                () = &mut cancelled => break Err(Outcome::Cancelled),
                Some(update) = next_progress(&mut receiver) => {
                    if let Some((peer, token)) = &progress {
                        notify_progress(peer, token, update).await;
                    }
                }
            }
        };
        if let (Some(receiver), Some((peer, token))) = (&mut receiver, &progress) {
            while let Ok(update) = receiver.try_recv() {
                notify_progress(peer, token, update).await;
            }
        }
        let secrets = caller.secrets(tool);
        let status = upstream_status(&outcome);
        let cancelled = matches!(outcome, Err(Outcome::Cancelled));
        let (result, failure) = result::tool_result(&tool.name, outcome, &secrets);
        let category = match (cancelled, failure) {
            (true, _) => metrics::OUTCOME_CANCELLED,
            (false, Some(category)) => category.as_str(),
            (false, None) => metrics::OUTCOME_OK,
        };
        let span = tracing::Span::current();
        span.record("api2mcp.outcome", category);
        if let Some(Status::Code(code)) = status {
            span.record("http.response.status_code", code);
        }
        let text_bytes: usize = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.len())).sum();
        self.metrics.tool_call(&tool.name, category, status, started.elapsed(), text_bytes);
        crate::auth::audit_allowed(
            authenticated.as_ref(),
            &tool.name,
            category,
            started.elapsed(),
            (&audited_arguments, &coerced),
        );
        result
    }

    /// The `tools/list` entries as served.
    pub fn tools(&self) -> Vec<serde_json::Value> {
        self.current.load().tools.iter().filter_map(|tool| serde_json::to_value(tool).ok()).collect()
    }

    /// What this handler serves, for the capability summary (`ops/`).
    pub fn served(&self) -> crate::ops::Served {
        let versions = ServerHandler::supported_protocol_versions(self);
        crate::ops::Served {
            catalogue: self.caller().catalogue().clone(),
            tools: self.tools(),
            protocol_versions: versions.iter().map(|v| v.as_str().to_string()).collect(),
            version: self.get_info().server_info.version,
        }
    }

    /// One tool call outside any MCP session (for `api2mcp call`): the `CallToolResult` as JSON, exactly
    /// as a client would receive it.
    pub async fn call_once(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let caller = self.caller();
        let catalogue = caller.catalogue();
        let tool_index = catalogue.tool_index(tool).ok_or_else(|| {
            let names = catalogue.tools.iter().map(|t| t.name.as_str());
            let hint = crate::diag::did_you_mean(tool, names).map(|h| format!(" ({h})")).unwrap_or_default();
            format!("unknown tool '{tool}'{hint}")
        })?;
        let result = self.run_tool(&caller, tool_index, arguments, std::future::pending(), None, None).await;
        serde_json::to_value(&result).map_err(|error| error.to_string())
    }
}

impl crate::ops::ServedSource for McpServer {
    fn served(&self) -> crate::ops::Served {
        McpServer::served(self)
    }

    fn catalogue(&self) -> Arc<crate::catalogue::Catalogue> {
        self.caller().catalogue().clone()
    }
}

/// Whether the request's protocol version (from its `_meta`, or the session's handshake) is of the
/// 2026-07-28 era or later; version names are dates, so they compare as strings.
fn speaks_2026_era(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version.as_str() >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str())
}

/// What the HTTP guard established about the caller; `None` on stdio and without inbound auth.
fn authenticated(context: &RequestContext<RoleServer>) -> Option<crate::auth::Authenticated> {
    context.extensions.get::<axum::http::request::Parts>()?.extensions.get::<crate::auth::Authenticated>().cloned()
}

/// The span of one tool call (its attributes are listed in `specs/observability.md`).
fn tool_span(tool: &str) -> tracing::Span {
    tracing::info_span!(
        "mcp.tools.call",
        otel.name = %format!("tools/call {tool}"),
        gen_ai.tool.name = %tool,
        api2mcp.outcome = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        enduser.id = tracing::field::Empty,
    )
}

/// The `status` label of a call's outcome: the upstream's status, `2xx` for a shaped result, `None`
/// when no response came.
fn upstream_status(outcome: &Result<CallOutput, Outcome>) -> Option<Status> {
    match outcome {
        Ok(CallOutput::Raw(response)) => Some(response.status.into()),
        // Shaped results may merge several pages, each 2xx.
        Ok(CallOutput::Shaped(_)) => Some(metrics::STATUS_2XX),
        Err(Outcome::UpstreamStatus { status, .. }) => Some((*status).into()),
        Err(_) => None,
    }
}

async fn next_progress(receiver: &mut Option<tokio::sync::mpsc::UnboundedReceiver<Progress>>) -> Option<Progress> {
    match receiver {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// `notifications/progress` for a paginated call: pages fetched so far, out of `max_pages` when collecting.
async fn notify_progress(peer: &Peer<RoleServer>, token: &ProgressToken, update: Progress) {
    let mut param = ProgressNotificationParam::new(token.clone(), update.pages as f64)
        .with_message(format!("{} pages, {} items", update.pages, update.items));
    if let Some(max_pages) = update.max_pages {
        param = param.with_total(max_pages as f64);
    }
    // A client that went away is handled by cancellation; a lost progress note is not an error.
    let _ = peer.notify_progress(param).await;
}
