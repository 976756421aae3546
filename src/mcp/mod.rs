//! The only module that knows MCP and JSON-RPC (through rmcp): the server handler that lists the
//! catalogue's tools and turns a `tools/call` into an upstream call, and the transports
//! (Streamable HTTP, stdio). A config-driven server implements only info, list and call; everything
//! else keeps rmcp's safe defaults.

mod client_log;
mod discovery;
mod flags;
mod guard;
pub mod http;
mod resources;
mod result;
pub mod stdio;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use rmcp::ServerHandler;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, ErrorData, GetPromptRequestParams, GetPromptResponse,
    Implementation, InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ServerCapabilities, ServerConfig, Tool,
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

/// What one catalogue serves: the caller and the `tools/list` entries of each view, swapped together
/// on reload.
struct Snapshot {
    caller: Arc<Caller>,
    views: Vec<ServedView>,
}

/// The `tools/list` entries of one view (`/mcp` or `/mcp/<toolset>`): each tool listed directly
/// (with its catalogue position) and, when the view uses discovery, the three discovery tools.
struct ServedView {
    toolset: Option<String>,
    entries: Vec<(Option<usize>, Tool)>,
    /// Per entry, the argument descriptions left out because an earlier entry shows them
    /// (`catalogue::descriptions`): put back when a caller's list hides that earlier entry.
    repeated: Vec<Vec<Arc<(String, String)>>>,
}

impl ServedView {
    /// The entries a caller may see, in order. When the caller's list hides an entry that showed an
    /// argument description later entries left out, the first visible entry with that argument shows
    /// it again: every list served is described as if built for that caller alone.
    fn visible(&self, may_call: impl Fn(usize) -> bool) -> Vec<Tool> {
        let shown: Vec<bool> = self.entries.iter().map(|(index, _)| index.is_none_or(&may_call)).collect();
        if shown.iter().all(|shown| *shown) {
            return self.entries.iter().map(|(_, tool)| tool.clone()).collect();
        }
        let mut described = crate::catalogue::descriptions::Shown::default();
        let mut tools = Vec::new();
        for (((_, listed), left_out), _) in
            self.entries.iter().zip(&self.repeated).zip(&shown).filter(|(_, shown)| **shown)
        {
            let mut tool = listed.clone();
            for pair in left_out {
                if described.show(&pair.0, &pair.1) {
                    crate::catalogue::descriptions::restore(Arc::make_mut(&mut tool.input_schema), &pair.0, &pair.1);
                }
            }
            for (name, description) in crate::catalogue::descriptions::described_arguments(&listed.input_schema) {
                described.show(name, description);
            }
            tools.push(tool);
        }
        tools
    }
}

impl Snapshot {
    fn view(&self, toolset: Option<&str>) -> Result<(&ServedView, &crate::catalogue::views::View), ErrorData> {
        let catalogue = self.caller.catalogue();
        match (self.views.iter().find(|v| v.toolset.as_deref() == toolset), catalogue.view(toolset)) {
            (Some(served), Some(view)) => Ok((served, view)),
            _ => Err(ErrorData::invalid_request(
                format!("toolset '{}' is no longer served", toolset.unwrap_or_default()),
                None,
            )),
        }
    }
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
    /// Whether this connection's client was added to `listeners` (set once per connection).
    registered: Arc<std::sync::atomic::AtomicBool>,
    /// The toolset this handler serves (`/mcp/<toolset>`); `None`: the main endpoint.
    toolset: Option<Arc<str>>,
    /// The level the one client of a long-lived transport (stdio) asked for with `logging/setLevel`
    /// (`client_log::OFF` until it asks); `None` where no level can outlive its request (stateless HTTP).
    client_log_level: Option<Arc<std::sync::atomic::AtomicU8>>,
}

impl McpServer {
    pub fn new(caller: Arc<Caller>) -> Result<Self, String> {
        Self::with_metrics(caller, Arc::new(Metrics::new()))
    }

    /// A server whose calls and catalogue are recorded in `metrics` (which outlive reloads).
    pub fn with_metrics(caller: Arc<Caller>, metrics: Arc<Metrics>) -> Result<Self, String> {
        let snapshot = snapshot(caller)?;
        record_catalogue(&metrics, &snapshot);
        warm_search_indexes(&snapshot.caller);
        Ok(McpServer {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
            metrics,
            listeners: Arc::default(),
            list_changed: false,
            registered: Arc::default(),
            toolset: None,
            client_log_level: None,
        })
    }

    /// The same server, answering for one toolset (`/mcp/<toolset>`).
    #[must_use]
    pub fn for_toolset(&self, toolset: &str) -> Self {
        McpServer { toolset: Some(Arc::from(toolset)), ..self.clone() }
    }

    /// The toolsets of the catalogue served now, each served on `/mcp/<name>`.
    pub fn toolsets(&self) -> Vec<String> {
        self.caller().catalogue().views.iter().filter_map(|v| v.toolset.clone()).collect()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The caller of the catalogue served right now.
    pub fn caller(&self) -> Arc<Caller> {
        self.current.load().caller.clone()
    }

    /// For a transport with one long-lived client (stdio): `tools.listChanged` is announced, and
    /// clients registered with [`Self::push_list_changes_to`] are told after every reload; the level
    /// the client sets with `logging/setLevel` holds for the rest of the connection.
    #[must_use]
    pub fn announcing_list_changes(mut self) -> Self {
        self.list_changed = true;
        self.registered = Arc::default();
        self.client_log_level = Some(Arc::new(std::sync::atomic::AtomicU8::new(client_log::OFF)));
        self
    }

    /// Registers this connection's client to be told of reloads, once per connection; nothing on a
    /// transport that does not announce `tools.listChanged`. Called while `initialize` is answered,
    /// so that a reload right after the answer cannot miss the client (the serving task that
    /// returned from the handshake may not have run yet), and once serving has begun, for a client
    /// that never sends `initialize` (2026-07-28 carries the handshake in each request).
    pub fn push_list_changes_to(&self, peer: &Peer<RoleServer>) {
        if !self.list_changed || self.registered.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.push(peer.clone());
        }
    }

    /// Swaps in a new catalogue atomically: requests already running finish on the old one, every
    /// later request sees the new one, and clients that can be pushed to are told the list changed.
    /// Nothing changes when the new catalogue cannot be served.
    pub async fn replace(&self, caller: Arc<Caller>) -> Result<(), String> {
        let snapshot = snapshot(caller)?;
        record_catalogue(&self.metrics, &snapshot);
        warm_search_indexes(&snapshot.caller);
        self.current.store(Arc::new(snapshot));
        // Taken out and the reachable ones put back, so that a client registering meanwhile is kept.
        let listeners: Vec<Peer<RoleServer>> =
            self.listeners.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
        let mut alive = Vec::new();
        for peer in listeners {
            match peer.notify_tool_list_changed().await {
                Ok(()) => alive.push(peer),
                Err(error) => tracing::warn!(%error, "a client could not be told that the tool list changed"),
            }
        }
        tracing::debug!(clients = alive.len(), "clients told that the tool list changed");
        if let Ok(mut listeners) = self.listeners.lock() {
            listeners.extend(alive);
        }
        Ok(())
    }
}

/// The snapshot the HTTP guard decided on, riding in the request's extensions: the handler serves
/// the request from that same catalogue instead of loading it again (a reload in between cannot make
/// the guard and the handler disagree).
#[derive(Clone)]
pub(crate) struct Pinned(Arc<Snapshot>);

impl McpServer {
    /// The snapshot this request is served from: the guard's, or the current one without a guard.
    fn snapshot_for(&self, context: &RequestContext<RoleServer>) -> Arc<Snapshot> {
        let pinned = context.extensions.get::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<Pinned>());
        match pinned {
            Some(Pinned(snapshot)) => snapshot.clone(),
            None => self.current.load_full(),
        }
    }

    /// Pins the current snapshot for one request (the guard calls it once per request).
    pub(crate) fn pin(&self) -> Pinned {
        Pinned(self.current.load_full())
    }
}

impl Pinned {
    pub(crate) fn catalogue(&self) -> &crate::catalogue::Catalogue {
        self.0.caller.catalogue()
    }
}

fn snapshot(caller: Arc<Caller>) -> Result<Snapshot, String> {
    let catalogue = caller.catalogue();
    let mut views = Vec::new();
    for view in &catalogue.views {
        let mut entries = Vec::new();
        let mut repeated = Vec::new();
        // One shared copy of each left-out (argument, description) pair, however many tools repeat it.
        let mut interned: HashMap<(String, String), Arc<(String, String)>> = HashMap::new();
        for ServedEntry { tool_index, entry, left_out } in served_entries_with_left_out(catalogue, view) {
            let name = entry["name"].as_str().unwrap_or_default().to_string();
            let tool = serde_json::from_value::<Tool>(entry)
                .map_err(|error| format!("tool '{name}' is not a valid MCP tool: {error}"))?;
            entries.push((tool_index, tool));
            repeated.push(
                left_out
                    .into_iter()
                    .map(|pair| interned.entry(pair.clone()).or_insert_with(|| Arc::new(pair)).clone())
                    .collect(),
            );
        }
        views.push(ServedView { toolset: view.toolset.clone(), entries, repeated });
    }
    Ok(Snapshot { caller, views })
}

/// The `tools/list` entries of a view as JSON (profile applied), with the catalogue position of each
/// directly listed tool (`None` for the discovery tools).
pub fn served_entries(
    catalogue: &crate::catalogue::Catalogue,
    view: &crate::catalogue::views::View,
) -> Vec<(Option<usize>, serde_json::Value)> {
    served_entries_with_left_out(catalogue, view).into_iter().map(|served| (served.tool_index, served.entry)).collect()
}

/// One `tools/list` entry as served, with the argument descriptions left out of it because an
/// earlier entry of the list shows them (`catalogue::descriptions`).
struct ServedEntry {
    tool_index: Option<usize>,
    entry: serde_json::Value,
    left_out: Vec<(String, String)>,
}

fn served_entries_with_left_out(
    catalogue: &crate::catalogue::Catalogue,
    view: &crate::catalogue::views::View,
) -> Vec<ServedEntry> {
    use crate::catalogue::descriptions;
    let entries = full_entries(catalogue, view);
    let repeated: Vec<Vec<String>> = descriptions::repeated_in_list(
        view.repeated_descriptions,
        entries.iter().map(|(_, entry)| entry.get("inputSchema").and_then(serde_json::Value::as_object)),
    )
    .into_iter()
    .map(|names| names.into_iter().map(str::to_string).collect())
    .collect();
    entries
        .into_iter()
        .zip(repeated)
        .map(|((tool_index, mut entry), names)| {
            let left_out = match entry.get_mut("inputSchema").and_then(serde_json::Value::as_object_mut) {
                Some(schema) => descriptions::strip(schema, &names),
                None => Vec::new(),
            };
            ServedEntry { tool_index, entry, left_out }
        })
        .collect()
}

/// The entries of a view with every description (profile applied).
fn full_entries(
    catalogue: &crate::catalogue::Catalogue,
    view: &crate::catalogue::views::View,
) -> Vec<(Option<usize>, serde_json::Value)> {
    let mut entries: Vec<(Option<usize>, serde_json::Value)> = view
        .direct
        .iter()
        .map(|&index| {
            (Some(index), crate::discovery::profile::apply_to_tool(view.profile, catalogue.tools[index].to_mcp_json()))
        })
        .collect();
    if view.uses_discovery() {
        for entry in discovery::tool_entries(catalogue, view) {
            entries.push((None, crate::discovery::profile::apply_to_tool(view.profile, entry)));
        }
    }
    entries
}

/// Builds the search indexes of a served catalogue on a thread of their own, so the first
/// `search_tools` after a start or reload rarely pays for it (~0.1 CPU-s on GitHub) while commands
/// that never search (`tools`, `check`) never build them. A search that comes first waits for the
/// same one build (`SearchIndex` is built once).
fn warm_search_indexes(caller: &Arc<Caller>) {
    if caller.catalogue().views.iter().all(|view| view.index.is_none()) {
        return;
    }
    let caller = caller.clone();
    let spawned = std::thread::Builder::new().name("search-index".into()).spawn(move || {
        let catalogue = caller.catalogue();
        for view in &catalogue.views {
            let _ = view.search_index(&catalogue.tools);
        }
    });
    if let Err(error) = spawned {
        // The first search builds it instead.
        tracing::debug!(%error, "search indexes not built ahead");
    }
}

fn record_catalogue(metrics: &Metrics, snapshot: &Snapshot) {
    let Some(main) = snapshot.views.first() else { return };
    let list = serde_json::json!({"tools": main.entries.iter().map(|(_, tool)| tool).collect::<Vec<_>>()}).to_string();
    metrics.catalogue(main.entries.len(), crate::shape::approx_tokens(&list));
}

impl ServerHandler for McpServer {
    #[allow(deprecated)] // `enable_logging`: logging is deprecated from 2026-07-28 on (SEP-2577)
    fn get_info(&self) -> ServerConfig {
        let current = self.current.load();
        let server = &current.caller.catalogue().server;
        // Tools, plus the catalogue as resources and the `use_api` prompt (`resources.rs`): never an
        // empty capability, which would invite clients to ask for lists that are always empty.
        let capabilities =
            ServerCapabilities::builder().enable_logging().enable_tools().enable_prompts().enable_resources();
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

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        self.push_list_changes_to(&context.peer);
        self.negotiate_initialize(&request)
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let current = self.snapshot_for(&context);
        let authenticated = authenticated(&context);
        let (served, _) = current.view(self.toolset.as_deref())?;
        let catalogue = current.caller.catalogue();
        // With inbound auth, each caller sees only the tools its scopes permit: the same rule as calls.
        let tools = served.visible(|index| may_call(authenticated.as_ref(), catalogue, index));
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

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let current = self.snapshot_for(&context);
        let mut result = ListResourcesResult::with_all_items(resources::list(current.caller.catalogue()));
        if speaks_2026_era(&context) {
            result = result.with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(CacheScope::Public);
        }
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let current = self.snapshot_for(&context);
        let mut result = ListResourceTemplatesResult::with_all_items(resources::templates(current.caller.catalogue()));
        if speaks_2026_era(&context) {
            result = result.with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(CacheScope::Public);
        }
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let current = self.snapshot_for(&context);
        let (_, view) = current.view(self.toolset.as_deref())?;
        let catalogue = current.caller.catalogue();
        let authenticated = authenticated(&context);
        let visible = |index: usize| may_call(authenticated.as_ref(), catalogue, index);
        let mut result = resources::read(catalogue, view, &request.uri, &visible)?;
        if speaks_2026_era(&context) {
            let scope = if authenticated.is_some() { CacheScope::Private } else { CacheScope::Public };
            result = result.with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(scope);
        }
        Ok(result.into())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let current = self.snapshot_for(&context);
        let mut result = ListPromptsResult::with_all_items(resources::prompts(current.caller.catalogue()));
        if speaks_2026_era(&context) {
            result = result.with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(CacheScope::Public);
        }
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let current = self.snapshot_for(&context);
        let (_, view) = current.view(self.toolset.as_deref())?;
        let arguments = request.arguments.as_ref();
        Ok(resources::get_prompt(current.caller.catalogue(), view, &request.name, arguments)?.into())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let current = self.snapshot_for(&context);
        let caller = current.caller.clone();
        let catalogue = caller.catalogue().clone();
        let (_, view) = current.view(self.toolset.as_deref())?;
        let authenticated = authenticated(&context);
        let visible = |tool_index: usize| may_call(authenticated.as_ref(), &catalogue, tool_index);
        let mut arguments = request.arguments.clone().unwrap_or_default();
        let tool_index = if view.uses_discovery() && discovery::is_discovery_tool(&request.name) {
            // The discovery tools answer from the catalogue; `call_tool` continues below as the call
            // it names, through exactly the path of a direct `tools/call`.
            let started = std::time::Instant::now();
            arguments = crate::discovery::profile::map_back(
                view.profile,
                &discovery_schema(&catalogue, view, &request.name),
                arguments,
            );
            let answered = match request.name.as_ref() {
                discovery::SEARCH_TOOLS => Some(discovery::search(&catalogue, view, &arguments, &visible)),
                discovery::DESCRIBE_TOOLS => Some(discovery::describe(&catalogue, view, &arguments, &visible)),
                _ => None,
            };
            match answered {
                Some(answer) => return Ok(self.discovery_answer(&request.name, answer, started).into()),
                None => match discovery::unwrap_call(&catalogue, view, &arguments, &visible) {
                    Ok((tool_index, inner)) => {
                        arguments = inner;
                        tool_index
                    }
                    Err(outcome) => {
                        return Ok(self.discovery_answer(&request.name, Err(outcome), started).into());
                    }
                },
            }
        } else {
            // An unknown tool is a protocol error, as the spec says; everything after is a tool result.
            let Some(tool_index) = catalogue.tool_index(&request.name).filter(|&index| view.contains(index)) else {
                return Err(ErrorData::invalid_params(format!("unknown tool '{}'", request.name), None));
            };
            tool_index
        };
        if let Some(authenticated) = &authenticated {
            // The HTTP guard already answered 403 for this; a second check costs nothing.
            let required = &catalogue.tools[tool_index].scopes;
            if !crate::auth::permits(&authenticated.principal.scopes, required) {
                return Err(ErrorData::invalid_request(
                    format!(
                        "insufficient scope: tool '{}' needs {}",
                        catalogue.tools[tool_index].name,
                        required.join(" ")
                    ),
                    None,
                ));
            }
        }
        // Arguments shaped for the client's profile become arguments of the original schema, then are
        // validated like any others.
        let arguments =
            crate::discovery::profile::map_back(view.profile, &catalogue.tools[tool_index].input_schema, arguments);
        let tool_name = catalogue.tools[tool_index].name.clone();

        let progress = context.meta.get_progress_token().map(|token| (context.peer.clone(), token));
        let span = tool_span(&tool_name);
        // A trace context in `_meta` (SEP-414) is the call's own; it wins over the HTTP request's.
        let traceparent = context.meta.get("traceparent").and_then(|v| v.as_str());
        let tracestate = context.meta.get("tracestate").and_then(|v| v.as_str());
        crate::telemetry::traces::continue_trace(&span, traceparent, tracestate);
        // The call is dropped (and the upstream request with it) when the client cancels.
        let client = client_address(&context);
        let cancelled = context.ct.cancelled();
        let call = self.run_tool(&caller, tool_index, arguments, cancelled, progress, authenticated, client);
        let (result, failure) = tracing::Instrument::instrument(call, span).await;
        if let (Some(level), Some(category)) = (&self.client_log_level, failure) {
            client_log::failed_call(level, &context.peer, &tool_name, category, &result).await;
        }
        Ok(result.into())
    }

    #[allow(deprecated)] // logging is deprecated from 2026-07-28 on (SEP-2577); 2025-era clients use it
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if let Some(level) = &self.client_log_level {
            level.store(client_log::rank(request.level), std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

impl McpServer {
    // Everything a call needs from its transport, passed as it is: a struct would be built once and used once.
    #[allow(clippy::too_many_arguments)]
    async fn run_tool(
        &self,
        caller: &Caller,
        tool_index: usize,
        arguments: serde_json::Map<String, serde_json::Value>,
        cancelled: impl std::future::Future<Output = ()>,
        progress: Option<(Peer<RoleServer>, ProgressToken)>,
        authenticated: Option<crate::auth::Authenticated>,
        client: Option<String>,
    ) -> (rmcp::model::CallToolResult, Option<crate::classify::Category>) {
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
            client,
        };
        if let Some(subject) = &context.caller {
            tracing::Span::current().record("enduser.id", subject.as_str());
        }
        // Boxed: the call's future (limits, retries, pages) is deep, and each transport nests it further.
        let mut call = Box::pin(caller.call(tool_index, arguments, &context));
        tokio::pin!(cancelled);
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
        let status = upstream_status(&outcome);
        let cancelled = matches!(outcome, Err(Outcome::Cancelled));
        // The upstream's secrets are gathered only for a failure, the one result they are redacted from.
        let (mut result, failure) = result::tool_result(&tool.name, outcome, || caller.secrets(tool));
        if tool.flag_instructions && failure.is_none() && !cancelled {
            let flagged = flags::flags_of(&result);
            if !flagged.is_empty() {
                let patterns: Vec<String> = flagged.iter().map(|f| format!("{} {}", f.path, f.pattern)).collect();
                tracing::warn!(target: "audit", tool = %tool.name, flagged = flagged.len(), patterns = %patterns.join(", "), "instruction-like text in an upstream result");
                flags::mark(&mut result, &flagged);
            }
        }
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
        (result, failure.filter(|_| !cancelled))
    }

    /// A discovery tool's own answer (search, describe, or a `call_tool` that names no callable tool),
    /// recorded like any call; failures go through the classification table.
    fn discovery_answer(
        &self,
        name: &str,
        answer: Result<rmcp::model::CallToolResult, Outcome>,
        started: std::time::Instant,
    ) -> rmcp::model::CallToolResult {
        let (result, category) = match answer {
            Ok(result) => (result, metrics::OUTCOME_OK),
            Err(outcome) => {
                let (result, failure) = result::tool_result(name, Err(outcome), Vec::new);
                (result, failure.map_or(metrics::OUTCOME_OK, |c| c.as_str()))
            }
        };
        let text_bytes: usize = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.len())).sum();
        self.metrics.tool_call(name, category, None, started.elapsed(), text_bytes);
        result
    }

    /// The `tools/list` entries as served at this handler's endpoint.
    pub fn tools(&self) -> Vec<serde_json::Value> {
        let current = self.current.load();
        let toolset = self.toolset.as_deref();
        current
            .views
            .iter()
            .find(|v| v.toolset.as_deref() == toolset)
            .map(|v| v.entries.iter().filter_map(|(_, tool)| serde_json::to_value(tool).ok()).collect())
            .unwrap_or_default()
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
        let (result, _) = self.run_tool(&caller, tool_index, arguments, std::future::pending(), None, None, None).await;
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

    fn resilience(&self) -> serde_json::Value {
        self.caller().resilience().status()
    }
}

/// The original input schema of a discovery tool (what its arguments are mapped back to).
fn discovery_schema(
    catalogue: &crate::catalogue::Catalogue,
    view: &crate::catalogue::views::View,
    name: &str,
) -> serde_json::Map<String, serde_json::Value> {
    discovery::tool_entries(catalogue, view)
        .into_iter()
        .find(|entry| entry["name"] == name)
        .and_then(|entry| entry["inputSchema"].as_object().cloned())
        .unwrap_or_default()
}

/// Whether the request's protocol version (from its `_meta`, or the session's handshake) is of the
/// 2026-07-28 era or later; version names are dates, so they compare as strings.
fn speaks_2026_era(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|version| version.as_str() >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str())
}

/// Whether the caller may call (and so see) a tool: the one rule of `tools/list`, `tools/call`, the
/// discovery tools and the resources. Without inbound auth everyone may.
fn may_call(
    authenticated: Option<&crate::auth::Authenticated>,
    catalogue: &crate::catalogue::Catalogue,
    tool_index: usize,
) -> bool {
    authenticated.is_none_or(|a| crate::auth::permits(&a.principal.scopes, &catalogue.tools[tool_index].scopes))
}

/// What the HTTP guard established about the caller; `None` on stdio and without inbound auth.
fn authenticated(context: &RequestContext<RoleServer>) -> Option<crate::auth::Authenticated> {
    context.extensions.get::<axum::http::request::Parts>()?.extensions.get::<crate::auth::Authenticated>().cloned()
}

/// The client's IP address, when the call came over HTTP.
fn client_address(context: &RequestContext<RoleServer>) -> Option<String> {
    let parts = context.extensions.get::<axum::http::request::Parts>()?;
    parts.extensions.get::<http::ClientAddress>().map(|address| address.0.ip().to_string())
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
