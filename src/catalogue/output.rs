//! A tool's result settings, compiled: output shaping ([`Output`]) and pagination ([`Pagination`]).
//! `compile/output.rs` builds them from the mapping's `output` and `pagination` (JSONPaths parsed,
//! templates compiled, defaults applied, every problem a diagnostic of `check`); `shape/` and
//! `call/pages.rs` only read them, so nothing is parsed, and nothing can fail to parse, at serve time.

use std::sync::Arc;

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// A JSONPath (RFC 9535), parsed, with the text it was written as (for `check` and `tools`).
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    pub path: JsonPath,
}

/// How one tool's upstream response is shaped (the mapping's `output`; `specs/output-and-pagination.md`).
#[derive(Debug, Clone)]
pub struct Output {
    /// `select`: the part of the response returned.
    pub select: Option<Select>,
    /// Dotted paths kept, in order; empty: every field.
    pub fields: Vec<String>,
    /// Dotted paths dropped.
    pub exclude: Vec<String>,
    /// Dotted path → new name, in the order listed.
    pub rename: Vec<(String, String)>,
    /// Drop null values, empty strings, arrays and objects.
    pub drop_empty: bool,
    pub format: OutputFormat,
    /// Most items returned; `None`: no limit.
    pub max_items: Option<u64>,
    /// Token budget of one result; `None`: the built-in default.
    pub max_tokens: Option<u64>,
}

/// The `select` JSONPath, and whether it is singular (yields its node rather than an array of nodes).
#[derive(Debug, Clone)]
pub struct Select {
    pub query: Query,
    pub singular: bool,
}

/// Encoding of the result text.
#[derive(Debug, Clone)]
pub enum OutputFormat {
    Json,
    Table,
    Template(Template),
}

/// A minijinja template, compiled: the one template of its own environment.
#[derive(Debug, Clone)]
pub struct Template {
    environment: Arc<minijinja::Environment<'static>>,
}

impl Template {
    /// A name without an extension, so that minijinja applies no HTML auto-escaping to the agent's text.
    pub const NAME: &'static str = "output";

    pub fn compile(source: &str) -> Result<Template, minijinja::Error> {
        let mut environment = minijinja::Environment::new();
        environment.add_template_owned(Self::NAME, source.to_string())?;
        Ok(Template { environment: Arc::new(environment) })
    }

    /// The environment holding the template, named [`Self::NAME`].
    pub fn environment(&self) -> &minijinja::Environment<'static> {
        &self.environment
    }
}

/// A paginated tool's settings: declared in the mapping, or inferred from the spec in zero-config mode.
#[derive(Debug, Clone)]
pub struct Pagination {
    pub style: PaginationStyle,
    pub mode: PaginationMode,
    /// The array of items in each page; `None`: the body when it is an array, else its only array.
    pub items: Option<Query>,
    pub next_cursor: Option<Query>,
    pub has_more: Option<Query>,
    pub next_url: Option<Query>,
    /// The upstream's paging parameters, by wire name, as the mapping names them.
    pub cursor_param: Option<String>,
    pub offset_param: Option<String>,
    pub page_param: Option<String>,
    pub limit_param: Option<String>,
    /// The tool arguments (by `inputSchema` name) bound to those parameters; `None` when the operation
    /// has no such parameter.
    pub cursor_arg: Option<String>,
    pub offset_arg: Option<String>,
    pub page_arg: Option<String>,
    pub limit_arg: Option<String>,
    /// Number of the first page (`page` style).
    pub first_page: u64,
    /// Page size requested when the agent gives none.
    pub page_size: Option<u64>,
    /// Most pages fetched in one call: 1 in `agent` mode.
    pub max_pages: u64,
    /// Most items returned in one call.
    pub max_items: Option<usize>,
    /// The tool argument that takes api2mcp's opaque cursor: `cursor`, or `page_cursor` when the
    /// operation has a `cursor` parameter of its own that is not the paging one.
    pub cursor_argument: String,
    /// Inferred from the spec rather than declared (reported by `check`).
    pub inferred: bool,
    /// Values the first request gives the hidden paging parameters the spec requires (by argument
    /// name), so the first page is a request the API accepts.
    pub first_values: Map<String, Value>,
}

/// Paging styles found in real APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationStyle {
    /// An opaque cursor from the response is sent back as a request parameter.
    Cursor,
    /// `offset` and `limit` request parameters.
    Offset,
    /// `page` and `per_page` request parameters.
    Page,
    /// A `Link: <...>; rel="next"` response header.
    LinkHeader,
    /// A next-page URL in the response body.
    NextUrl,
}

/// Who follows the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationMode {
    /// One page per call and an opaque `next_cursor`.
    Agent,
    /// api2mcp follows pages itself up to the limits.
    Collect,
}

impl Pagination {
    /// One line for `check` and `tools`: the style and what drives it.
    pub fn describe(&self) -> String {
        let mode = match self.mode {
            PaginationMode::Agent => "agent",
            PaginationMode::Collect => "collect",
        };
        let text = |query: &Option<Query>| query.as_ref().map(|q| q.text.clone());
        let style = match self.style {
            PaginationStyle::Cursor => format!(
                "cursor {} ← {}",
                self.cursor_param.as_deref().unwrap_or("?"),
                text(&self.next_cursor).as_deref().unwrap_or("?")
            ),
            PaginationStyle::Offset => format!(
                "offset {}/{}",
                self.offset_param.as_deref().unwrap_or("?"),
                self.limit_param.as_deref().unwrap_or("-")
            ),
            PaginationStyle::Page => format!(
                "page {}/{}",
                self.page_param.as_deref().unwrap_or("?"),
                self.limit_param.as_deref().unwrap_or("-")
            ),
            PaginationStyle::LinkHeader => "Link header".to_string(),
            PaginationStyle::NextUrl => format!("next URL {}", text(&self.next_url).as_deref().unwrap_or("?")),
        };
        let items = text(&self.items).map(|i| format!(", items {i}")).unwrap_or_default();
        format!("{style} ({mode}{items})")
    }
}
