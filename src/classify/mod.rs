//! Error classification: turns every failed tool call into a structured [`ToolError`] an agent can act on.
//!
//! The request path reports *what happened* as an [`Outcome`] (in api2mcp's own terms, no HTTP-library
//! types). [`classify`] walks one ordered table (`table.rs`, mirrored in `error-classification.md`) and
//! the first matching row decides the category, the stable code, whether a retry can help, the
//! message and the hint. Everything that ends up in front of the agent goes through one cleaning
//! step (control characters removed, secrets redacted, length capped), so no row can forget it.
//!
//! Nothing here reads the clock, does I/O or panics: `now` and the secrets are passed in, which keeps
//! the whole module deterministic and testable.

// The module is on the path of every failed call: a panic here would turn a clean error into a
// dropped connection, so indexing and unwrapping are refused outside the tests.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use serde::Serialize;

/// Longest message (and hint) shown to the agent, in characters, ellipsis included.
pub const MESSAGE_LIMIT: usize = 300;
/// Longest field name or field message taken from an upstream body, in characters.
pub const FIELD_TEXT_LIMIT: usize = 200;
/// Most field errors taken from one upstream body.
pub const MAX_UPSTREAM_FIELDS: usize = 10;
/// Longest wait ever reported in `retry_after` (24 hours): a longer wait is not a retry, it is a stop.
pub const RETRY_AFTER_CAP: u64 = 24 * 60 * 60;
/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The message of every SERVER row: the agent cannot act on our internals, and they may hold
/// paths, hostnames or configuration that must not leave the process.
const GENERIC_SERVER_MESSAGE: &str =
    "api2mcp could not complete this call because of a server-side problem; it has been logged";
const HINT_FIX_ARGUMENTS: &str = "fix the listed arguments and call again";
const HINT_MAY_HAVE_TAKEN_EFFECT: &str = "the call may have reached the API and taken effect: before retrying a call that changes data, check whether it did";
const HINT_TELL_USER: &str = "do not retry; tell the user this tool is not working";

/// Who has to act: the agent (CLIENT), nobody right now / maybe later (EXTERNAL), or api2mcp's operator (SERVER).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Category {
    /// The call itself is wrong; the agent can correct it.
    Client,
    /// api2mcp is broken or misconfigured; the agent should give up.
    Server,
    /// The upstream or the network failed; the agent may retry (if `retryable`) or stop.
    External,
}

impl Category {
    /// The same spelling as the serialized form, for [`render_text`].
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Client => "CLIENT",
            Category::Server => "SERVER",
            Category::External => "EXTERNAL",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// No connection was made: nothing reached the upstream.
    Connect,
    /// Connected and sent, but the answer did not come in time.
    Response,
    /// The whole call's deadline expired (the request may or may not have been sent).
    Total,
}

impl TimeoutPhase {
    fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Response => "response",
            TimeoutPhase::Total => "total",
        }
    }
}

/// What happened, in the project's own terms (no HTTP-library types): the request path produces one of these.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Arguments failed validation before anything was sent: each field and what was expected.
    InvalidArguments { fields: Vec<FieldError> },
    /// The request could not be built from valid-looking arguments (e.g. CR/LF in a header value).
    UnbuildableRequest { argument: String, reason: String },
    /// The upstream answered with a non-2xx status.
    UpstreamStatus {
        status: u16,
        /// The raw `Retry-After` header, if any.
        retry_after: Option<String>,
        body: Option<UpstreamBody>,
    },
    /// A deadline expired.
    Timeout { phase: TimeoutPhase },
    /// Nothing listened at the upstream's address.
    ConnectionRefused,
    /// The connection broke before the answer was complete.
    ConnectionReset,
    /// The upstream's host name did not resolve.
    Dns { host: String },
    /// The TLS handshake failed (certificate, protocol, ...).
    Tls { reason: String },
    /// The response was larger than the configured limit (measured after decompression).
    ResponseTooLarge { limit: u64 },
    /// The process-wide budget for buffered response bytes stayed exhausted while the call waited.
    ResponseBudgetExhausted { budget: u64 },
    /// The response claimed JSON but did not parse, or decompression failed.
    InvalidResponse { reason: String },
    /// A redirect to another origin was refused.
    CrossOriginRedirect { location: String },
    /// The caller cancelled or disconnected (not shown to anyone, but logged/metered).
    Cancelled,
    /// api2mcp misconfiguration found at request time (a bug in config validation), e.g. no base URL.
    Misconfigured { detail: String },
    /// A bug in api2mcp.
    Internal { detail: String },
    /// One of api2mcp's own rate limits refused the call (`limit` names which); it fits again after `retry_after`.
    RateLimited { limit: String, retry_after: std::time::Duration },
    /// The upstream's circuit breaker is open: the call was not sent; the next probe is due after `retry_after`.
    CircuitOpen { retry_after: std::time::Duration },
    /// The upstream's concurrency cap stayed full for the whole wait: the call was not sent.
    UpstreamBusy { waited: std::time::Duration },
}

/// One argument (or upstream field) that was wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The argument or field name; empty when the upstream did not say which field.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// An upstream response body, already decompressed and decoded to text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamBody {
    pub content_type: Option<String>,
    pub text: String,
}

/// The structured error put in the tool result's structuredContent (and rendered as text).
///
/// `Display` (via `thiserror`) is [`render_text`], so the type also works as an ordinary error.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{}", render_text(self))]
pub struct ToolError {
    pub category: Category,
    /// Stable `snake_case` code: agents and dashboards key on it, so it never changes meaning.
    pub code: &'static str,
    /// Short, for the agent; never internals for SERVER.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub retryable: bool,
    /// Seconds to wait before retrying; only ever set when `retryable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

mod redaction;
mod table;
mod upstream_body;

use redaction::sanitize;
use table::seconds;

pub use table::classify;
pub use upstream_body::upstream_field_errors;

// ---------------------------------------------------------------------------------------------
// Retry-After
// ---------------------------------------------------------------------------------------------

/// Parse Retry-After: delta-seconds ("120") or HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"), relative
/// to `now`; dates in the past → 0; garbage → None; capped at 24 hours.
///
/// A date that is a fraction of a second ahead rounds *up*, so an agent never retries early. A
/// delta too big for `u64` is still a (very long) delta, so it is capped rather than dropped.
#[must_use]
pub fn parse_retry_after(raw: &str, now: SystemTime) -> Option<u64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        let secs = raw.parse::<u64>().unwrap_or(RETRY_AFTER_CAP);
        return Some(secs.min(RETRY_AFTER_CAP));
    }
    let when = httpdate::parse_http_date(raw).ok()?;
    Some(match when.duration_since(now) {
        Ok(ahead) => {
            let secs = ahead.as_secs().saturating_add(u64::from(ahead.subsec_nanos() > 0));
            secs.min(RETRY_AFTER_CAP)
        }
        Err(_) => 0,
    })
}

// ---------------------------------------------------------------------------------------------
// Text rendering
// ---------------------------------------------------------------------------------------------

/// Short text for clients that ignore structured content, e.g.
/// `CLIENT error (upstream_not_found, HTTP 404): No pet with id 7. Hint: check the id. Retryable: no.`
/// One line, plus a second `Fields: ...` line when there are field errors; never JSON.
#[must_use]
pub fn render_text(error: &ToolError) -> String {
    let mut out = format!("{} error ({}", error.category, error.code);
    if let Some(status) = error.http_status {
        let _ = write!(out, ", HTTP {status}");
    }
    out.push_str("): ");
    out.push_str(&sentence(&error.message));
    if let Some(hint) = &error.hint {
        out.push_str(" Hint: ");
        out.push_str(&sentence(hint));
    }
    let retry = match (error.retryable, error.retry_after) {
        (false, _) => "no.".to_owned(),
        (true, None) => "yes.".to_owned(),
        (true, Some(n)) => format!("yes, after {}.", seconds(n)),
    };
    out.push_str(" Retryable: ");
    out.push_str(&retry);
    if !error.fields.is_empty() {
        let list: Vec<String> = error
            .fields
            .iter()
            .map(|f| {
                // The fields line is built from strings that went through `clean` (no newlines),
                // but `ToolError` is public, so flatten again rather than trust it.
                let message = sanitize(&f.message);
                let message = message.trim_end_matches('.');
                let field = sanitize(&f.field);
                if field.is_empty() { message.to_owned() } else { format!("{field}: {message}") }
            })
            .collect();
        out.push_str("\nFields: ");
        out.push_str(&list.join("; "));
        out.push('.');
    }
    out
}

/// The text with a closing full stop, unless it already ends a sentence. Newlines are flattened so
/// the first line of the rendering stays one line.
fn sentence(text: &str) -> String {
    let mut s = sanitize(text);
    if !s.ends_with(['.', '!', '?', '…']) {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests;
