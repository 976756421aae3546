//! The runtime IR: what `compile/` produces and every later stage reads. Immutable once built, shared
//! behind `Arc`, never deserialized from user input (the mapping file has its own types in `mapping/`).

pub mod auth;
pub mod descriptions;
pub mod output;
pub mod resilience;
pub mod views;

pub use output::Pagination;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::spec::HttpMethod;

/// Headers a tool argument never sets, whatever the spec declares (`specs/tool-generation.md`,
/// "Reserved headers"): credentials and cookies belong to the upstream's own settings, forwarding
/// headers would let an agent lie about who is calling, and hop-by-hop and framing headers would allow
/// request smuggling or reaching another virtual host. `compile/` leaves such parameters out of the
/// `inputSchema` (with a `spec/reserved-header` warning) and the request builder refuses them again.
pub const RESERVED_HEADERS: [&str; 19] = [
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    "forwarded",
    "x-real-ip",
    "via",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "max-forwards",
];

/// Every `X-Forwarded-*` header (`-For`, `-Host`, `-Proto`, `-Port`, `-Prefix`, ...) is reserved too.
const RESERVED_HEADER_PREFIX: &str = "x-forwarded-";

/// Whether a header name (any case) is reserved: see [`RESERVED_HEADERS`].
pub fn is_reserved_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    RESERVED_HEADERS.contains(&name.as_str()) || name.starts_with(RESERVED_HEADER_PREFIX) || name.starts_with(':')
}

/// How the argument checker (`call/arguments.rs`) reads a tool's `inputSchema`: JSON Schema
/// 2020-12, formats not asserted. The compiler asks the same of every `pattern` it keeps
/// (`compile::schema::pattern_checkable`), so that an advertised schema is one the checker compiles.
pub fn argument_checker_options() -> jsonschema::ValidationOptions<'static> {
    jsonschema::options().with_draft(jsonschema::Draft::Draft202012).should_validate_formats(false)
}

#[derive(Debug, Default)]
pub struct Catalogue {
    pub server: ServerInfo,
    pub upstreams: Vec<Arc<Upstream>>,
    /// Sorted by nothing but the order of the user's files: upstreams in mapping order, operations in
    /// spec order. Deterministic across runs.
    pub tools: Vec<Arc<Tool>>,
    by_name: HashMap<String, usize>,
    /// The main endpoint first, then one per toolset in mapping order.
    pub views: Vec<views::View>,
}

impl Catalogue {
    pub fn new(server: ServerInfo, upstreams: Vec<Arc<Upstream>>, tools: Vec<Arc<Tool>>) -> Self {
        let by_name = tools.iter().enumerate().map(|(index, tool)| (tool.name.clone(), index)).collect();
        let views = vec![views::View::all_direct(tools.len())];
        Catalogue { server, upstreams, tools, by_name, views }
    }

    /// Replaces the default view (every tool listed directly) with the compiled ones.
    pub fn with_views(mut self, views: Vec<views::View>) -> Self {
        self.views = views;
        self
    }

    /// The view served at `/mcp` (`None`) or `/mcp/<toolset>`.
    pub fn view(&self, toolset: Option<&str>) -> Option<&views::View> {
        self.views.iter().find(|view| view.toolset.as_deref() == toolset)
    }

    /// Every scope some tool needs, sorted and deduplicated: `scopes_supported` in the RFC 9728
    /// metadata and the capability summary.
    pub fn all_scopes(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<&String> = self.tools.iter().flat_map(|t| &t.scopes).collect();
        set.into_iter().cloned().collect()
    }

    pub fn tool(&self, name: &str) -> Option<&Arc<Tool>> {
        self.by_name.get(name).map(|&index| &self.tools[index])
    }

    /// The position of a tool in `tools` (and in everything built per tool, like argument checkers).
    pub fn tool_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The `tools/list` result, exactly as served.
    pub fn tools_list_json(&self) -> Value {
        // Serialising borrowed strings and maps into a value cannot fail.
        serde_json::to_value(self.tools_list()).unwrap_or_default()
    }

    /// [`Self::tools_list_json`] to serialise: the same bytes, written straight from the tools
    /// without copying every schema into a new value first (a large catalogue's schemas are MiBs).
    /// Repeated argument descriptions are left out as the main endpoint leaves them out
    /// (`descriptions`).
    pub fn tools_list(&self) -> impl serde::Serialize + '_ {
        let mode = self.view(None).map(|view| view.repeated_descriptions).unwrap_or_default();
        ToolsList { tools: &self.tools, mode }
    }
}

struct ToolsList<'a> {
    tools: &'a [Arc<Tool>],
    mode: descriptions::RepeatedDescriptions,
}

impl serde::Serialize for ToolsList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let repeated =
            descriptions::repeated_in_list(self.mode, self.tools.iter().map(|tool| Some(&*tool.input_schema)));
        let entries: Vec<McpTool<'_>> = self
            .tools
            .iter()
            .zip(&repeated)
            .map(|(tool, repeated)| McpTool { tool, repeated_descriptions: repeated })
            .collect();
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("tools", &entries)?;
        map.end()
    }
}

/// A tool's `tools/list` entry, borrowed from the tool: [`Tool::to_mcp_json`] without the copy.
pub struct McpTool<'a> {
    tool: &'a Tool,
    /// Arguments whose description is left out (an earlier tool of the list shows it).
    repeated_descriptions: &'a [&'a str],
}

impl serde::Serialize for McpTool<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let tool = self.tool;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &tool.name)?;
        if let Some(title) = &tool.title {
            map.serialize_entry("title", title)?;
        }
        if !tool.description.is_empty() {
            map.serialize_entry("description", &tool.description)?;
        }
        let input_schema =
            descriptions::WithoutDescriptions { schema: &tool.input_schema, arguments: self.repeated_descriptions };
        map.serialize_entry("inputSchema", &input_schema)?;
        if let Some(output_schema) = &tool.output_schema {
            map.serialize_entry("outputSchema", output_schema)?;
        }
        // Only hints that differ from MCP's defaults are set (`compile::annotations`); none: no member.
        if tool.annotations != Annotations::default() {
            map.serialize_entry("annotations", &tool.annotations)?;
        }
        map.end()
    }
}

#[derive(Debug, Default, Clone)]
pub struct ServerInfo {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub instructions: Option<String>,
    /// Secret that signs pagination cursors (the same on every instance); `None`: a random key per process.
    pub cursor_secret: Option<String>,
    /// Redis, when configured (may hold a password: never printed).
    pub redis_url: Option<String>,
    /// Discovery metadata (the mapping's `server.discovery`).
    pub discovery: DiscoveryInfo,
    /// Inbound authentication (the mapping's `auth`, compiled); `None`: anonymous callers only.
    pub auth: Option<auth::InboundAuth>,
    /// Server-wide rate limits and how they are shared (`server.limits`).
    pub limits: resilience::ServerLimits,
}

/// What the capability summary, the Server Card and `server.json` say about where and what this
/// server is (the mapping's `server.discovery`).
#[derive(Debug, Default, Clone)]
pub struct DiscoveryInfo {
    /// The MCP endpoint URL as clients reach it; `None`: built from the request's `Host`.
    pub public_url: Option<String>,
    /// Reverse-DNS server name for the Server Card and `server.json`.
    pub registry_name: Option<String>,
    /// Web page about this server.
    pub website_url: Option<String>,
    /// Whether the draft Server Card and MCP Catalog are served.
    pub server_card: bool,
}

#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    /// Absolute base URL (operation paths are appended), or `None` when neither the mapping nor the
    /// spec gives one (`check` warns; calls then fail as a configuration error).
    pub base_url: Option<String>,
    /// The spec as the user named it.
    pub spec: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_response_bytes: u64,
    /// Extra headers sent on every call (may hold secrets: never printed).
    pub headers: Vec<(String, String)>,
    /// The readiness probe, when configured.
    pub health: Option<HealthProbe>,
    /// How api2mcp authenticates to this upstream (values are secrets: never printed).
    pub credentials: Vec<Credential>,
    /// The mapping's name of each credential (a security scheme name of the spec, or any name with
    /// an explicit `type`), parallel to `credentials`.
    pub credential_names: Vec<String>,
    /// Rate limits, circuit breaker, retry budget and bulkhead of this upstream.
    pub resilience: resilience::UpstreamResilience,
}

/// One upstream credential, resolved against the spec's security scheme of the same name.
#[derive(Debug, Clone)]
pub enum Credential {
    ApiKey {
        location: KeyLocation,
        name: String,
        value: String,
    },
    Bearer {
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: String,
        scopes: Vec<String>,
        extra_params: Vec<(String, String)>,
    },
    /// RFC 8693: the caller's token exchanged for one of this upstream, per caller.
    TokenExchange {
        token_url: String,
        client_id: String,
        client_secret: String,
        audience: Option<String>,
        scopes: Vec<String>,
        extra_params: Vec<(String, String)>,
    },
}

/// Where an API key goes in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLocation {
    Header,
    Query,
    Cookie,
}

impl Credential {
    /// The values that must never appear in anything shown or logged.
    pub fn secrets(&self) -> Vec<String> {
        use base64::Engine;
        match self {
            Credential::ApiKey { value, .. } => vec![value.clone()],
            Credential::Bearer { token } => vec![token.clone()],
            Credential::Basic { username, password } => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                vec![password.clone(), encoded]
            }
            Credential::ClientCredentials { client_secret, .. } | Credential::TokenExchange { client_secret, .. } => {
                vec![client_secret.clone()]
            }
        }
    }

    /// What kind it is, for the summary and `check` (no values).
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::ApiKey { .. } => "api_key",
            Credential::Bearer { .. } => "bearer",
            Credential::Basic { .. } => "basic",
            Credential::ClientCredentials { .. } => "oauth2_client_credentials",
            Credential::TokenExchange { .. } => "token_exchange",
        }
    }
}

/// How `/ready` checks an upstream: GET `base_url + path` (2xx is healthy), or a TCP connect without a path.
#[derive(Debug, Clone)]
pub struct HealthProbe {
    pub path: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Annotations {
    #[serde(rename = "readOnlyHint", skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(rename = "destructiveHint", skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    #[serde(rename = "idempotentHint", skip_serializing_if = "Option::is_none")]
    pub idempotent: Option<bool>,
    #[serde(rename = "openWorldHint", skip_serializing_if = "Option::is_none")]
    pub open_world: Option<bool>,
}

#[derive(Debug)]
pub struct Tool {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    /// JSON Schema 2020-12, `type: object`, every `$ref` inlined; shared by the tools whose
    /// schemas are identical (`compile/shared.rs`).
    pub input_schema: Arc<Map<String, Value>>,
    pub output_schema: Option<Map<String, Value>>,
    /// Whether successful results carry `structuredContent` (the mapping's `structured_content`).
    pub structured_content: bool,
    pub annotations: Annotations,
    pub scopes: Vec<String>,
    pub upstream: usize,
    pub call: UpstreamCall,
    pub pagination: Option<Pagination>,
    /// How results are shaped (`None`: the default shaping).
    pub output: Option<output::Output>,
    /// Invisible characters removed from successful results.
    pub clean: CleanMode,
    /// Whether instruction-like result strings are marked in `_meta` and the audit log.
    pub flag_instructions: bool,
    pub source: ToolSource,
    /// Rate limits, cost, retries and deadline of this tool's calls.
    pub resilience: resilience::ToolResilience,
}

/// Which invisible characters are removed from a tool's successful results (`shape::clean` has
/// the definitions; the mapping's `clean`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanMode {
    /// Control characters, bidirectional controls, zero-width and tag characters.
    #[default]
    Basic,
    /// `Basic`, plus carriage returns, zero-width (non-)joiners, direction marks and soft hyphens.
    Strict,
    /// Nothing is removed.
    Off,
}

impl Tool {
    /// The tool object of `tools/list`.
    pub fn to_mcp_json(&self) -> Value {
        // Serialising borrowed strings and maps into a value cannot fail.
        serde_json::to_value(self.mcp_entry()).unwrap_or_default()
    }

    /// The tool object of `tools/list`, to serialise without copying the tool's schemas.
    pub fn mcp_entry(&self) -> McpTool<'_> {
        McpTool { tool: self, repeated_descriptions: &[] }
    }
}

/// Where a tool came from, for reports and diagnostics.
#[derive(Debug, Clone)]
pub struct ToolSource {
    pub upstream: String,
    pub operation_id: Option<String>,
    pub method: HttpMethod,
    pub path: String,
    /// The operation's tags (for search and toolsets).
    pub tags: Vec<String>,
    /// The operation's summary as written (for search).
    pub summary: Option<String>,
    /// Whether the description came from the spec's summary/description or the mapping; false when
    /// it was built from the operationId, path and arguments (`check` counts these).
    pub has_description: bool,
}

/// Everything needed to turn tool arguments back into the upstream HTTP request.
#[derive(Debug, Clone)]
pub struct UpstreamCall {
    pub method: HttpMethod,
    /// The path template with `{name}` placeholders holding wire names, e.g. `/pets/{petId}`.
    pub path: String,
    /// One entry per tool argument, in `inputSchema` order.
    pub arguments: Vec<ArgumentBinding>,
    pub body: Option<RequestBody>,
    /// Media types the operation can answer with, preferred first (drives `Accept`); a declared
    /// `Accept` header parameter with a fixed value replaces them.
    pub accept: Vec<String>,
    /// Query pairs written into the spec's path key (`/items/{id}/cancel?beta=true`), sent first,
    /// before the arguments' query parameters; unencoded.
    pub fixed_query: Vec<(String, String)>,
    /// The value of a declared `Content-Type` header parameter (its const, default or first enum
    /// value), sent as the request's `Content-Type`, also on requests without a body.
    pub declared_content_type: Option<String>,
    /// Which of the upstream's credentials this operation is sent with (its `security`).
    pub credentials: CredentialChoice,
}

/// The upstream credentials one operation is sent with, chosen at compile time from its `security`
/// (the operation's, else the document's): the first alternative whose schemes are all configured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CredentialChoice {
    /// Every configured credential: the spec declares no `security` at all.
    #[default]
    All,
    /// These credentials (indexes into [`Upstream::credentials`]), in order; empty for an
    /// anonymous call (`security: []`, an empty alternative `{}`, or nothing configured).
    Only(Vec<usize>),
}

/// Where one tool argument goes in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgumentBinding {
    /// The name in `inputSchema`.
    pub argument: String,
    pub location: ArgumentLocation,
    /// The name on the wire (parameter name or body property name).
    pub wire_name: String,
    pub required: bool,
    pub style: ParameterStyle,
    pub explode: bool,
    pub allow_reserved: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgumentLocation {
    Path,
    Query,
    Header,
    Cookie,
    /// One property of an object request body (the body was flattened into the arguments).
    BodyProperty,
    /// The whole request body (it is not an object, or flattening was not possible).
    Body,
}

impl ArgumentLocation {
    pub fn label(self) -> &'static str {
        match self {
            ArgumentLocation::Path => "path",
            ArgumentLocation::Query => "query",
            ArgumentLocation::Header => "header",
            ArgumentLocation::Cookie => "cookie",
            ArgumentLocation::BodyProperty => "body",
            ArgumentLocation::Body => "body",
        }
    }
}

/// OpenAPI serialization styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterStyle {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBody {
    /// The media type sent, chosen from the operation's (JSON first, then form, multipart, others);
    /// a wildcard (`*/*`) is replaced by the body's real type at compile time.
    pub content_type: String,
    pub required: bool,
    /// The media type's `encoding` object (form and multipart bodies), by body property name.
    pub encoding: Vec<(String, PropertyEncoding)>,
}

impl RequestBody {
    /// The encoding declared for one body property, if any.
    pub fn encoding_of(&self, property: &str) -> Option<&PropertyEncoding> {
        self.encoding.iter().find(|(name, _)| name == property).map(|(_, encoding)| encoding)
    }
}

/// One entry of an OpenAPI `encoding` object: how a form field or multipart part is serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertyEncoding {
    /// `style`, when the spec gives one (unset: api2mcp's default for the value's shape).
    pub style: Option<ParameterStyle>,
    /// `explode`, when the spec gives one (unset: true for `form`, as in OpenAPI).
    pub explode: Option<bool>,
    /// `allowReserved`: reserved characters are sent unencoded in form values.
    pub allow_reserved: bool,
    /// `contentType` of a multipart part (the first, when the spec lists several).
    pub content_type: Option<String>,
}
