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
use rmcp::service::{RequestContext, RoleServer};

use crate::call::Caller;

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
        // The call is dropped (and the upstream request with it) when the client cancels.
        Ok(self.run_tool(tool_index, arguments, context.ct.cancelled()).await.into())
    }
}

impl McpServer {
    async fn run_tool(
        &self,
        tool_index: usize,
        arguments: serde_json::Map<String, serde_json::Value>,
        cancelled: impl std::future::Future<Output = ()>,
    ) -> rmcp::model::CallToolResult {
        let tool = &self.caller.catalogue().tools[tool_index];
        let outcome = tokio::select! {
            outcome = self.caller.call(tool_index, arguments) => outcome,
            () = cancelled => Err(crate::classify::Outcome::Cancelled),
        };
        let secrets = self.caller.secrets(tool);
        result::tool_result(&tool.name, outcome, &secrets)
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
        let result = self.run_tool(tool_index, arguments, std::future::pending()).await;
        serde_json::to_value(&result).map_err(|error| error.to_string())
    }
}
