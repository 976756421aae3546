//! The only module that knows MCP and JSON-RPC (through rmcp): the server handler that lists the
//! catalogue's tools and turns a `tools/call` into an upstream call, and the transports
//! (Streamable HTTP, stdio). A config-driven server implements only info, list and call; everything
//! else keeps rmcp's safe defaults.

pub mod http;
mod result;

use std::sync::Arc;

use rmcp::ServerHandler;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, ErrorData, Implementation, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext, RoleServer};

use crate::call::{CallContext, Caller, Progress};

/// Tools per `tools/list` page: large catalogues are paginated with a cursor.
pub const TOOLS_PAGE_SIZE: usize = 200;
/// How long a client may treat a `tools/list` page as fresh (2026-07-28 `ttlMs`).
const TOOLS_TTL_MS: u64 = 300_000;

/// One handler serves every request; it holds only immutable, shared state, so any instance can serve
/// any request (no session state).
#[derive(Clone)]
pub struct McpServer {
    caller: Arc<Caller>,
    tools: Arc<Vec<Tool>>,
}

impl McpServer {
    pub fn new(caller: Arc<Caller>) -> Result<Self, String> {
        let tools = caller
            .catalogue()
            .tools
            .iter()
            .map(|tool| {
                serde_json::from_value::<Tool>(tool.to_mcp_json())
                    .map_err(|error| format!("tool '{}' is not a valid MCP tool: {error}", tool.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(McpServer { caller, tools: Arc::new(tools) })
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let server = &self.caller.catalogue().server;
        let mut info = InitializeResult::new(
            ServerCapabilities::builder().enable_tools().enable_prompts().enable_resources().build(),
        );
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
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .filter(|start| *start < self.tools.len())
                .ok_or_else(|| ErrorData::invalid_params(format!("invalid cursor '{cursor}'"), None))?,
        };
        let end = (start + TOOLS_PAGE_SIZE).min(self.tools.len());
        let mut result = ListToolsResult::with_all_items(self.tools[start..end].to_vec())
            .with_ttl_ms(TOOLS_TTL_MS)
            .with_cache_scope(CacheScope::Public);
        if end < self.tools.len() {
            result.next_cursor = Some(end.to_string());
        }
        Ok(result)
    }

    // api2mcp offers no prompts or resources, but declares both with empty, cacheable lists: clients
    // and the conformance suite then get a well-formed answer instead of a capability mismatch.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::default().with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(CacheScope::Public))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::default().with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(CacheScope::Public))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::default().with_ttl_ms(TOOLS_TTL_MS).with_cache_scope(CacheScope::Public))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        Err(ErrorData::invalid_params("resource not found", Some(serde_json::json!({"uri": request.uri}))))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let catalogue = self.caller.catalogue();
        // An unknown tool is a protocol error, as the spec says; everything after is a tool result.
        let Some(tool_index) = catalogue.tool_index(&request.name) else {
            return Err(ErrorData::invalid_params(format!("unknown tool '{}'", request.name), None));
        };
        let arguments = request.arguments.unwrap_or_default();
        let progress = context.meta.get_progress_token().map(|token| (context.peer.clone(), token));
        // The call is dropped (and the upstream request with it) when the client cancels.
        Ok(self.run_tool(tool_index, arguments, context.ct.cancelled(), progress).await.into())
    }
}

impl McpServer {
    async fn run_tool(
        &self,
        tool_index: usize,
        arguments: serde_json::Map<String, serde_json::Value>,
        cancelled: impl std::future::Future<Output = ()>,
        progress: Option<(Peer<RoleServer>, ProgressToken)>,
    ) -> rmcp::model::CallToolResult {
        let tool = &self.caller.catalogue().tools[tool_index];
        let (sender, mut receiver) = match progress {
            Some(_) => {
                let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
                (Some(sender), Some(receiver))
            }
            None => (None, None),
        };
        let context = CallContext { caller: None, progress: sender };
        let call = self.caller.call(tool_index, arguments, &context);
        tokio::pin!(call, cancelled);
        // Progress is sent from this task, before the result, so a client never sees it after the result.
        let outcome = loop {
            tokio::select! {
                biased;
                outcome = &mut call => break outcome,
                () = &mut cancelled => break Err(crate::classify::Outcome::Cancelled),
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
        let secrets = self.caller.secrets(tool);
        result::tool_result(&tool.name, outcome, &secrets)
    }

    /// The `tools/list` entries as served.
    pub fn tools(&self) -> Vec<serde_json::Value> {
        self.tools.iter().filter_map(|tool| serde_json::to_value(tool).ok()).collect()
    }

    /// What this handler serves, for the capability summary (`ops/`).
    pub fn served(&self) -> crate::ops::Served {
        let versions = ServerHandler::supported_protocol_versions(self);
        crate::ops::Served {
            catalogue: self.caller.catalogue().clone(),
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
        let catalogue = self.caller.catalogue();
        let tool_index = catalogue.tool_index(tool).ok_or_else(|| {
            let names = catalogue.tools.iter().map(|t| t.name.as_str());
            let hint = crate::diag::did_you_mean(tool, names).map(|h| format!(" ({h})")).unwrap_or_default();
            format!("unknown tool '{tool}'{hint}")
        })?;
        let result = self.run_tool(tool_index, arguments, std::future::pending(), None).await;
        serde_json::to_value(&result).map_err(|error| error.to_string())
    }
}

impl crate::ops::ServedSource for McpServer {
    fn served(&self) -> crate::ops::Served {
        McpServer::served(self)
    }

    fn catalogue(&self) -> Arc<crate::catalogue::Catalogue> {
        self.caller.catalogue().clone()
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
