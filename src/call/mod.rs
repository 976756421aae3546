//! Runs one tool call: arguments checked against the tool's `inputSchema` → request built from the
//! argument bindings → sent with the upstream's pooled client → response read under a size limit →
//! shaped for the agent ([`crate::shape`]); paginated tools go through [`pages`], which may fetch several
//! pages. Every failure is a [`classify::Outcome`]; nothing here builds an MCP result.

mod arguments;
pub use arguments::Coercion;
mod client;
pub mod cursor;
pub mod pages;
pub mod request;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::catalogue::{Catalogue, Tool};
use crate::classify::Outcome;
use crate::shape::{Shaped, Shaper};

/// A 2xx upstream response, read whole (under the upstream's size limit).
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `Link` header (pagination).
    pub link: Option<String>,
    /// The URL requested (next-page links are resolved against it).
    pub url: String,
    pub body: Vec<u8>,
}

/// What a successful call produced.
#[derive(Debug)]
pub enum CallOutput {
    /// A JSON response (or pages of one), shaped for the agent.
    Shaped(Shaped),
    /// A response that is not JSON (text, binary, or nothing): the MCP layer presents it as it is.
    Raw(UpstreamResponse),
}

/// About the call, beyond its arguments.
#[derive(Debug, Default)]
pub struct CallContext {
    /// The authenticated caller (subject or key id); pagination cursors are bound to it.
    pub caller: Option<String>,
    /// The caller's bearer token, only for RFC 8693 token exchange (never sent upstream).
    pub subject_token: Option<crate::auth::upstream::SubjectToken>,
    /// Allow-listed inbound headers to send upstream (`auth.forward_headers`); never credentials.
    pub forward: Vec<(String, String)>,
    /// Where to report progress while several pages are fetched.
    pub progress: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
}

/// Progress of a paginated call: pages fetched and items kept so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub pages: u64,
    pub items: u64,
    /// The most pages this call fetches (`collect` mode).
    pub max_pages: Option<u64>,
}

/// Everything needed to call any tool of one catalogue; built once at startup.
pub struct Caller {
    catalogue: Arc<Catalogue>,
    clients: Vec<reqwest::Client>,
    checkers: Vec<arguments::ArgumentChecker>,
    shapers: Vec<Shaper>,
    paginators: Vec<Option<pages::Paginator>>,
    cursor_key: cursor::CursorKey,
    metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
    /// Per upstream, the OAuth2 client-credentials token sources of its credentials.
    tokens: Vec<Vec<crate::auth::upstream::TokenSource>>,
}

impl Caller {
    pub fn new(catalogue: Arc<Catalogue>) -> Result<Self, String> {
        let clients =
            catalogue.upstreams.iter().map(|upstream| client::build(upstream)).collect::<Result<Vec<_>, _>>()?;
        let checkers =
            catalogue.tools.iter().map(|tool| arguments::ArgumentChecker::new(tool)).collect::<Result<Vec<_>, _>>()?;
        let shapers = catalogue
            .tools
            .iter()
            .map(|tool| match &tool.output {
                Some(output) => Shaper::new(output).map_err(|error| format!("tool '{}': {error}", tool.name)),
                None => Ok(crate::shape::default_shaper()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let paginators = catalogue
            .tools
            .iter()
            .map(|tool| tool.pagination.as_ref().map(|p| pages::Paginator::new(tool, p)).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let cursor_key = cursor::CursorKey::new(catalogue.server.cursor_secret.as_deref());
        let tokens = catalogue
            .upstreams
            .iter()
            .map(|upstream| crate::auth::upstream::token_sources(&upstream.credentials))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Caller { catalogue, clients, checkers, shapers, paginators, cursor_key, metrics: None, tokens })
    }

    /// Upstream requests are counted and timed in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// For a reload: keeps `previous`'s cursor key when neither configuration sets `cursor_secret`
    /// (the key is then random per process), so cursors handed out before the reload keep working.
    #[must_use]
    pub fn keep_cursor_key(mut self, previous: &Caller) -> Self {
        if self.catalogue.server.cursor_secret.is_none() && previous.catalogue.server.cursor_secret.is_none() {
            self.cursor_key = previous.cursor_key.clone();
        }
        self
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// Secrets of a tool's upstream that must never appear in anything shown to a caller.
    pub fn secrets(&self, tool: &Tool) -> Vec<String> {
        let upstream = &self.catalogue.upstreams[tool.upstream];
        upstream
            .headers
            .iter()
            .map(|(_, value)| value.clone())
            .chain(upstream.credentials.iter().flat_map(|c| c.secrets()))
            .filter(|v| v.len() >= 4)
            .collect()
    }

    /// Converts arguments of the wrong JSON type when nothing is lost (`42` ↔ `"42"`, `"true"`), as
    /// [`Self::call`] does first; returns what was converted, for the audit line.
    pub fn coerce_arguments(&self, tool_index: usize, arguments: &mut Map<String, Value>) -> Vec<Coercion> {
        self.checkers[tool_index].coerce(arguments)
    }

    pub async fn call(
        &self,
        tool_index: usize,
        mut arguments: Map<String, Value>,
        context: &CallContext,
    ) -> Result<CallOutput, Outcome> {
        let checker = &self.checkers[tool_index];
        checker.coerce(&mut arguments);
        checker.check(&arguments)?;
        if let Some(paginator) = &self.paginators[tool_index] {
            return pages::run(self, tool_index, paginator, arguments, context).await;
        }
        let response = self.send(tool_index, &arguments, None, context).await?;
        shape_single(&self.shapers[tool_index], response, &arguments)
    }

    /// Builds the request from `arguments` and sends it; `url` (a next-page link, already checked to be
    /// on the upstream's origin) replaces the built URL.
    async fn send(
        &self,
        tool_index: usize,
        arguments: &Map<String, Value>,
        url: Option<&str>,
        context: &CallContext,
    ) -> Result<UpstreamResponse, Outcome> {
        let tool = &self.catalogue.tools[tool_index];
        let checker = &self.checkers[tool_index];
        let upstream = &self.catalogue.upstreams[tool.upstream];
        let Some(base_url) = upstream.base_url.as_deref() else {
            return Err(Outcome::Misconfigured { detail: format!("upstream '{}' has no base URL", upstream.name) });
        };
        let binary: Vec<&str> = checker.binary_arguments().iter().map(String::as_str).collect();
        let mut built = request::build(base_url, &tool.call, arguments, &binary).map_err(|error| match error {
            request::BuildError::Invalid { argument, reason } => Outcome::UnbuildableRequest { argument, reason },
            request::BuildError::Missing { argument } => Outcome::InvalidArguments {
                fields: vec![crate::classify::FieldError { field: argument, message: "is required".to_string() }],
            },
        })?;
        if let Some(url) = url {
            built.url = url.to_string();
        }
        // Allow-listed inbound headers first, so that nothing derived from the caller can replace
        // the upstream's credentials added after them.
        for (name, value) in &context.forward {
            if !built.headers.iter().any(|(existing, _)| existing.eq_ignore_ascii_case(name)) {
                built.headers.push((name.clone(), value.clone()));
            }
        }
        let additions = crate::auth::upstream::additions(
            &upstream.credentials,
            &self.tokens[tool.upstream],
            context.subject_token.as_ref(),
        )
        .await?;
        apply(&mut built, additions)?;
        let span = tracing::info_span!(
            "upstream",
            otel.name = %format!("{} {}", tool.call.method.upper(), tool.call.path),
            otel.kind = "client",
            api2mcp.upstream = %upstream.name,
            http.request.method = %tool.call.method.upper(),
            url.template = %tool.call.path,
            http.response.status_code = tracing::field::Empty,
        );
        // The upstream request joins the caller's trace (nothing is added when traces are off).
        for (name, value) in crate::telemetry::traces::outgoing_headers(&span) {
            if !built.headers.iter().any(|(existing, _)| existing.eq_ignore_ascii_case(&name)) {
                built.headers.push((name, value));
            }
        }
        let logged_url = redacted_url(&built.url);
        let started = std::time::Instant::now();
        let response =
            tracing::Instrument::instrument(client::send(&self.clients[tool.upstream], upstream, built), span.clone())
                .await;
        if let Err(outcome) = &response {
            log_upstream_failure(&upstream.name, tool.call.method.upper(), &logged_url, outcome, started.elapsed());
        }
        let status = match &response {
            Ok(response) => Some(response.status),
            Err(Outcome::UpstreamStatus { status, .. }) => Some(*status),
            Err(_) => None,
        };
        if let Some(status) = status {
            span.record("http.response.status_code", status);
        }
        if let Some(metrics) = &self.metrics {
            metrics.upstream_request(&upstream.name, status, started.elapsed());
        }
        response
    }

    /// The origin (`scheme://host:port`) of a tool's upstream.
    fn origin(&self, tool: &Tool) -> Result<String, Outcome> {
        let upstream = &self.catalogue.upstreams[tool.upstream];
        upstream
            .base_url
            .as_deref()
            .and_then(|base| url::Url::parse(base).ok())
            .map(|base| base.origin().ascii_serialization())
            .ok_or_else(|| Outcome::Misconfigured { detail: format!("upstream '{}' has no base URL", upstream.name) })
    }
}

/// The URL as logs may show it: no user info, every query value replaced by `redacted` (names kept), so
/// API keys sent as query parameters and values from arguments never reach a log line.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return "(unparseable URL)".to_string() };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    if parsed.query().is_some() {
        let names: Vec<String> = parsed.query_pairs().map(|(name, _)| name.into_owned()).collect();
        let query: Vec<String> = names.iter().map(|name| format!("{name}=redacted")).collect();
        parsed.set_query(Some(&query.join("&")));
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

/// One line per failed upstream request for the operator: method, redacted URL, status or cause,
/// duration. WARN when the operator may have to act (no answer, 5xx, rejected credentials, rate
/// limits); DEBUG for the other 4xx, which answer the agent's own arguments (an unknown id).
fn log_upstream_failure(upstream: &str, method: &str, url: &str, outcome: &Outcome, took: std::time::Duration) {
    let duration_ms = took.as_millis() as u64;
    let cause = match outcome {
        Outcome::UpstreamStatus { status, .. } => format!("HTTP {status}"),
        Outcome::Timeout { phase } => format!("timed out ({phase:?})").to_lowercase(),
        Outcome::ConnectionRefused => "connection refused".to_string(),
        Outcome::ConnectionReset => "connection reset".to_string(),
        Outcome::Dns { host } => format!("cannot resolve {host}"),
        Outcome::Tls { reason } => format!("TLS: {reason}"),
        Outcome::ResponseTooLarge { limit } => format!("response over {limit} bytes"),
        Outcome::InvalidResponse { reason } => format!("invalid response: {reason}"),
        Outcome::CrossOriginRedirect { .. } => "redirect to another origin refused".to_string(),
        Outcome::Cancelled => return,
        other => format!("{other:?}"),
    };
    let operator_matter = match outcome {
        Outcome::UpstreamStatus { status, .. } => *status >= 500 || matches!(status, 401 | 403 | 407 | 429),
        _ => true,
    };
    if operator_matter {
        tracing::warn!(upstream, method, url, cause, duration_ms, "upstream request failed: {method} {url}: {cause}");
    } else {
        tracing::debug!(upstream, method, url, cause, duration_ms, "upstream request failed: {method} {url}: {cause}");
    }
}

/// Adds an upstream's credentials to a built request: headers replace any of the same name, query
/// parameters are appended, cookies join the `Cookie` header.
fn apply(built: &mut request::BuiltRequest, additions: crate::auth::upstream::Additions) -> Result<(), Outcome> {
    for (name, value) in additions.headers {
        built.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        built.headers.push((name, value));
    }
    if !additions.query.is_empty() {
        let mut url = url::Url::parse(&built.url).map_err(|error| Outcome::Internal { detail: error.to_string() })?;
        for (name, value) in &additions.query {
            url.query_pairs_mut().append_pair(name, value);
        }
        built.url = url.to_string();
    }
    if !additions.cookies.is_empty() {
        let added: Vec<String> = additions.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect();
        match built.headers.iter_mut().find(|(name, _)| name.eq_ignore_ascii_case("cookie")) {
            Some((_, existing)) => {
                existing.push_str("; ");
                existing.push_str(&added.join("; "));
            }
            None => built.headers.push(("cookie".to_string(), added.join("; "))),
        }
    }
    Ok(())
}

/// JSON bodies go through the tool's shaper; anything else is passed on as it is.
fn shape_single(
    shaper: &Shaper,
    response: UpstreamResponse,
    arguments: &Map<String, Value>,
) -> Result<CallOutput, Outcome> {
    if response.body.is_empty() || !is_json_media_type(response.content_type.as_deref()) {
        return Ok(CallOutput::Raw(response));
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(value) => shaper
            .apply(&value, arguments, response.status)
            .map(CallOutput::Shaped)
            .map_err(|error| Outcome::Misconfigured { detail: error.to_string() }),
        // Declared JSON that is not: shown as the text it is.
        Err(_) => Ok(CallOutput::Raw(response)),
    }
}

/// `application/json`, `*/*+json`, or no content type at all (many APIs omit it).
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    let media_type = content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match media_type.as_deref() {
        None | Some("") => true,
        Some(media_type) => media_type.ends_with("/json") || media_type.ends_with("+json"),
    }
}
