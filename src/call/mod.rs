//! Runs one tool call: arguments checked against the tool's `inputSchema` → request built from the
//! argument bindings → sent with the upstream's pooled client → response read under a size limit →
//! shaped for the agent ([`crate::shape`]); paginated tools go through [`pages`], which may fetch several
//! pages. Every failure is a [`classify::Outcome`]; nothing here builds an MCP result.

mod arguments;
pub use arguments::Coercion;
mod client;
pub mod credentials;
pub mod cursor;
pub mod pages;
pub mod request;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::catalogue::{Catalogue, CleanMode, Tool};
use crate::classify::{Outcome, TimeoutPhase};
use crate::resilience::breaker::Admission;
use crate::shape::{Shaped, Shaper};

/// A 2xx upstream response, read whole (under the upstream's size limit).
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `Link` header (pagination).
    pub link: Option<String>,
    /// The URL requested (next-page links are resolved against it).
    pub url: url::Url,
    pub body: Vec<u8>,
    /// The share of the response budget `body` (or `streamed`) holds, released with it.
    pub budget: crate::body::Held,
    /// A large JSON body shaped while it streamed (`body` is then empty): what shaping keeps of it.
    pub streamed: Option<crate::shape::stream::Streamed>,
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
    pub subject_token: Option<crate::auth::SubjectToken>,
    /// Allow-listed inbound headers to send upstream (`auth.forward_headers`); never credentials.
    pub forward: Vec<(String, String)>,
    /// Where to report progress while several pages are fetched.
    pub progress: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
    /// The client's network address, when the transport knows it (per-client and anonymous limits).
    pub client: Option<String>,
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
    /// Per upstream, its base URL parsed once (`None`: it has none; `Err`: what every call of its
    /// tools is refused with).
    bases: Vec<Option<Result<request::Base, request::BuildError>>>,
    checkers: Vec<Arc<arguments::ArgumentChecker>>,
    shapers: Vec<Shaper>,
    /// Per tool, its shaping when it can consume a large response while it streams (not for
    /// paginated tools, whose pages are shaped item by item already).
    streams: Vec<Option<Arc<crate::shape::stream::Streaming>>>,
    cursor_key: cursor::CursorKey,
    metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
    /// Per upstream, the OAuth2 client-credentials token sources of its credentials.
    tokens: Vec<Vec<credentials::TokenSource>>,
    /// Bytes all buffered upstream responses may hold together (shared across reloads).
    budget: crate::body::Budget,
    /// Rate limits, breakers, retry budgets and bulkheads of this catalogue.
    resilience: crate::resilience::Resilience,
}

impl Caller {
    pub fn new(catalogue: Arc<Catalogue>) -> Result<Self, String> {
        let clients =
            catalogue.upstreams.iter().map(|upstream| client::build(upstream)).collect::<Result<Vec<_>, _>>()?;
        let bases =
            catalogue.upstreams.iter().map(|upstream| upstream.base_url.as_deref().map(request::Base::parse)).collect();
        // One checker per distinct input schema: tools with identical schemas share one
        // (`compile/shared.rs`), so Kubernetes has ~250 validators instead of 1,123, each compiled by
        // the first call that needs it.
        let mut by_schema: HashMap<*const Map<String, Value>, Arc<arguments::ArgumentChecker>> = HashMap::new();
        let checkers = catalogue
            .tools
            .iter()
            .map(|tool| {
                let schema = Arc::as_ptr(&tool.input_schema);
                by_schema.entry(schema).or_insert_with(|| Arc::new(arguments::ArgumentChecker::new(tool))).clone()
            })
            .collect::<Vec<_>>();
        let shapers = catalogue
            .tools
            .iter()
            .map(|tool| {
                let shaper = match &tool.output {
                    Some(output) => Shaper::new(output),
                    None => crate::shape::default_shaper(),
                };
                if tool.structured_content { shaper } else { shaper.without_structured() }
            })
            .collect::<Vec<_>>();
        let streams = shapers
            .iter()
            .zip(&catalogue.tools)
            .map(|(shaper, tool)| tool.pagination.is_none().then(|| shaper.streaming().map(Arc::new)).flatten())
            .collect();
        let cursor_key = cursor::CursorKey::new(catalogue.server.cursor_secret.as_deref());
        let tokens = catalogue
            .upstreams
            .iter()
            .map(|upstream| credentials::token_sources(&upstream.credentials))
            .collect::<Result<Vec<_>, _>>()?;
        let budget = crate::body::Budget::default();
        let resilience = crate::resilience::Resilience::new(&catalogue)?;
        Ok(Caller {
            catalogue,
            clients,
            bases,
            checkers,
            shapers,
            streams,
            cursor_key,
            metrics: None,
            tokens,
            budget,
            resilience,
        })
    }

    /// Upstream requests are counted and timed in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::metrics::Metrics>) -> Self {
        self.resilience.set_metrics(metrics.clone());
        self.metrics = Some(metrics);
        self
    }

    /// Upstream response bodies of every call share `budget` (one per process: pass the same one to
    /// a reloaded caller: calls still running on the old catalogue hold part of it).
    #[must_use]
    pub fn with_response_budget(mut self, budget: crate::body::Budget) -> Self {
        self.budget = budget;
        self
    }

    pub fn response_budget(&self) -> &crate::body::Budget {
        &self.budget
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

    /// The rate limits, breakers and bulkheads of this catalogue (for `/ready` and the HTTP limit).
    pub fn resilience(&self) -> &crate::resilience::Resilience {
        &self.resilience
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
        let arguments = arguments::exact_numbers(arguments)?;
        let arguments = checker.check(arguments)?;
        let tool = &self.catalogue.tools[tool_index];
        let identity =
            crate::resilience::limits::Identity { caller: context.caller.clone(), client: context.client.clone() };
        self.resilience
            .limiter
            .admit(tool_index, tool.upstream, tool.resilience.cost, &identity)
            .await
            .map_err(|refusal| Outcome::RateLimited { limit: refusal.limit, retry_after: refusal.retry_after })?;
        // One deadline for the whole call: every attempt, backoff and page.
        let deadline = tokio::time::Instant::now() + tool.resilience.deadline;
        let call = async {
            if let Some(paginator) = &tool.pagination {
                return pages::run(self, tool_index, paginator, arguments, context, deadline).await;
            }
            let response = self.send(tool_index, &arguments, None, context, deadline).await?;
            let mut removed = 0;
            let shapers = (&self.shapers[tool_index], self.streams[tool_index].as_deref());
            let output = shape_single(shapers, response, &arguments, tool.clean, &mut removed);
            self.record_cleaned(tool_index, removed);
            output
        };
        tokio::time::timeout_at(deadline, call).await.unwrap_or(Err(Outcome::Timeout { phase: TimeoutPhase::Total }))
    }

    /// Counts the invisible characters removed from a tool's results (`shape::clean`).
    pub(crate) fn record_cleaned(&self, tool_index: usize, removed: usize) {
        if removed > 0
            && let Some(metrics) = &self.metrics
        {
            metrics.characters_removed(&self.catalogue.tools[tool_index].name, removed);
        }
    }

    /// Builds the request from `arguments` and sends it; `url` (a next-page link, already checked to be
    /// on the upstream's origin) replaces the built URL.
    async fn send(
        &self,
        tool_index: usize,
        arguments: &Map<String, Value>,
        url: Option<&url::Url>,
        context: &CallContext,
        deadline: tokio::time::Instant,
    ) -> Result<UpstreamResponse, Outcome> {
        let tool = &self.catalogue.tools[tool_index];
        let checker = &self.checkers[tool_index];
        let upstream = &self.catalogue.upstreams[tool.upstream];
        let Some(base) = &self.bases[tool.upstream] else {
            return Err(Outcome::Misconfigured { detail: format!("upstream '{}' has no base URL", upstream.name) });
        };
        let unbuildable = |error: request::BuildError| match error {
            request::BuildError::Invalid { argument, reason } => Outcome::UnbuildableRequest { argument, reason },
            request::BuildError::Missing { argument } => Outcome::InvalidArguments {
                fields: vec![crate::classify::FieldError { field: argument, message: "is required".to_string() }],
            },
        };
        let base = base.as_ref().map_err(|error| unbuildable(error.clone()))?;
        let binary: Vec<&str> = checker.binary_arguments().iter().map(String::as_str).collect();
        let mut built = request::build_on(base, &tool.call, arguments, &binary).map_err(unbuildable)?;
        if let Some(url) = url {
            built.url = url.clone();
        }
        // Allow-listed inbound headers first, so that nothing derived from the caller can replace
        // the upstream's credentials added after them.
        for (name, value) in &context.forward {
            if !built.headers.iter().any(|(existing, _)| existing.eq_ignore_ascii_case(name)) {
                built.headers.push((name.clone(), value.clone()));
            }
        }
        let additions = credentials::additions(
            &upstream.credentials,
            &tool.call.credentials,
            &self.tokens[tool.upstream],
            context.subject_token.as_ref(),
        )
        .await?;
        apply(&mut built, additions);
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
        let policy = &tool.resilience.retry;
        if let Some(header) = &policy.idempotency_key {
            // One key per request, the same on every attempt: the upstream sees one operation.
            built.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(header));
            built.headers.push((header.clone(), crate::resilience::retry::idempotency_key()));
        }
        let guard = self.resilience.upstream(tool.upstream);
        guard.budget.deposit();
        let mut pending = Some(built);
        let mut retry = 0;
        loop {
            // The bulkhead first: a breaker probe must not be taken by a call that then waits.
            let permit = self
                .resilience
                .enter(tool.upstream, deadline)
                .await
                .map_err(|full| Outcome::UpstreamBusy { waited: full.waited })?;
            let admission = guard.breaker.as_ref().map_or(Admission::Allowed, |breaker| breaker.admit());
            if let Admission::Open { retry_after } = admission {
                return Err(Outcome::CircuitOpen { retry_after });
            }
            let last = retry + 1 >= policy.attempts || !policy.repeatable;
            // The last attempt takes the request; every attempt before it, a copy.
            let attempt = if last { pending.take() } else { pending.clone() };
            let Some(attempt) = attempt else {
                return Err(Outcome::Internal { detail: "no request left to send".to_string() });
            };
            // Pages are read whole (`url` is a next page's); single responses may stream.
            let stream = self.streams[tool_index].clone().filter(|_| url.is_none()).map(|s| (s, tool.clean));
            let result = self.send_once(tool, upstream, attempt, span.clone(), stream).await;
            drop(permit);
            if let Some(breaker) = &guard.breaker {
                let failure = result.as_ref().err().is_some_and(crate::resilience::retry::is_upstream_failure);
                if let Some(state) = breaker.record(admission, failure) {
                    self.resilience.breaker_changed(tool.upstream, state);
                }
            }
            let outcome = match result {
                Ok(response) => return Ok(response),
                Err(outcome) if last || !crate::resilience::retry::is_transient(&outcome) => return Err(outcome),
                Err(outcome) => outcome,
            };
            let delay = crate::resilience::retry::delay(policy, retry, &outcome, std::time::SystemTime::now());
            // A wait that does not fit the call's deadline, or an exhausted budget: the agent decides.
            if tokio::time::Instant::now() + delay >= deadline || !guard.budget.withdraw() {
                return Err(outcome);
            }
            if let Some(metrics) = &self.metrics {
                metrics.upstream_retry(&upstream.name);
            }
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// One attempt: sent under the upstream span, counted and timed.
    async fn send_once(
        &self,
        tool: &Tool,
        upstream: &crate::catalogue::Upstream,
        built: request::BuiltRequest,
        span: tracing::Span,
        stream: Option<client::StreamShaping>,
    ) -> Result<UpstreamResponse, Outcome> {
        // For the log line of a failure, redacted only then.
        let url = built.url.clone();
        let started = std::time::Instant::now();
        let response = tracing::Instrument::instrument(
            client::send(&self.clients[tool.upstream], upstream, built, &self.budget, stream),
            span.clone(),
        )
        .await;
        if let Err(outcome) = &response {
            log_upstream_failure(&upstream.name, tool.call.method.upper(), &redact(url), outcome, started.elapsed());
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
    let Ok(parsed) = url::Url::parse(url) else { return "(unparseable URL)".to_string() };
    redact(parsed)
}

/// [`redacted_url`] of a parsed URL.
fn redact(mut parsed: url::Url) -> String {
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
fn apply(built: &mut request::BuiltRequest, additions: credentials::Additions) {
    for (name, value) in additions.headers {
        built.headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        built.headers.push((name, value));
    }
    if !additions.query.is_empty() {
        let mut pairs = built.url.query_pairs_mut();
        for (name, value) in &additions.query {
            pairs.append_pair(name, value);
        }
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
}

/// JSON bodies go through the tool's shaper; anything else is passed on as it is.
/// Shapes a JSON response, or passes any other on as it is; either way invisible characters are
/// removed first (per the tool's `clean` mode, counted in `removed`), so everything shaped from the
/// value is clean too.
fn shape_single(
    (shaper, streaming): (&Shaper, Option<&crate::shape::stream::Streaming>),
    mut response: UpstreamResponse,
    arguments: &Map<String, Value>,
    clean: CleanMode,
    removed: &mut usize,
) -> Result<CallOutput, Outcome> {
    if let (Some(streamed), Some(streaming)) = (response.streamed.take(), streaming) {
        // Already cleaned while it streamed; the budget it holds is released after shaping.
        *removed += streamed.removed;
        let shaped = streamed.finish(streaming, arguments, response.status);
        return shaped.map(CallOutput::Shaped).map_err(|error| Outcome::Misconfigured { detail: error.to_string() });
    }
    if response.body.is_empty() || !is_json_media_type(response.content_type.as_deref()) {
        *removed += clean_raw(&mut response, clean);
        return Ok(CallOutput::Raw(response));
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(mut value) => {
            *removed += crate::shape::clean::clean_value(&mut value, clean);
            shaper
                .apply(&value, arguments, response.status)
                .map(CallOutput::Shaped)
                .map_err(|error| Outcome::Misconfigured { detail: error.to_string() })
        }
        // Declared JSON that is not: shown as the text it is.
        Err(_) => {
            *removed += clean_raw(&mut response, clean);
            Ok(CallOutput::Raw(response))
        }
    }
}

/// Cleans a body the MCP layer shows as text (`text/*`, XML, or valid UTF-8); binary bodies, which
/// travel as base64, are left as they are.
fn clean_raw(response: &mut UpstreamResponse, clean: CleanMode) -> usize {
    let media_type = response
        .content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    let is_text =
        media_type.starts_with("text/") || media_type.ends_with("xml") || std::str::from_utf8(&response.body).is_ok();
    if !is_text || clean == CleanMode::Off {
        return 0;
    }
    let text = String::from_utf8_lossy(&response.body);
    let (cleaned, removed) = crate::shape::clean::strip(&text, clean);
    if removed > 0 {
        let cleaned = cleaned.into_owned().into_bytes();
        response.body = cleaned;
    }
    removed
}

/// `application/json`, `*/*+json`, or no content type at all (many APIs omit it).
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    let media_type = content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match media_type.as_deref() {
        None | Some("") => true,
        Some(media_type) => media_type.ends_with("/json") || media_type.ends_with("+json"),
    }
}
