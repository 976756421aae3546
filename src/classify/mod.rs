//! Error classification: turns every failed tool call into a structured [`ToolError`] an agent can act on.
//!
//! The request path reports *what happened* as an [`Outcome`] (in api2mcp's own terms, no HTTP-library
//! types). [`classify`] walks one ordered table ([`TABLE`], mirrored in `error-classification.md`) and
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

use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::{Map, Value};

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

// ---------------------------------------------------------------------------------------------
// THE table
// ---------------------------------------------------------------------------------------------

/// Which outcomes a row matches.
#[derive(Debug, Clone, Copy)]
enum When {
    InvalidArguments,
    UnbuildableRequest,
    /// Any of these exact statuses.
    Status(&'static [u16]),
    /// Any status in this inclusive range.
    StatusRange(u16, u16),
    /// Any status at all (the catch-all for 1xx/2xx/3xx/nonsense that reached us as a failure).
    AnyStatus,
    Timeout(&'static [TimeoutPhase]),
    ConnectionRefused,
    ConnectionReset,
    Dns,
    Tls,
    ResponseTooLarge,
    ResponseBudgetExhausted,
    InvalidResponse,
    CrossOriginRedirect,
    Misconfigured,
    Internal,
    Cancelled,
    RateLimited,
    CircuitOpen,
    UpstreamBusy,
}

impl When {
    fn matches(self, outcome: &Outcome) -> bool {
        match (self, outcome) {
            (When::InvalidArguments, Outcome::InvalidArguments { .. })
            | (When::UnbuildableRequest, Outcome::UnbuildableRequest { .. })
            | (When::AnyStatus, Outcome::UpstreamStatus { .. })
            | (When::ConnectionRefused, Outcome::ConnectionRefused)
            | (When::ConnectionReset, Outcome::ConnectionReset)
            | (When::Dns, Outcome::Dns { .. })
            | (When::Tls, Outcome::Tls { .. })
            | (When::ResponseTooLarge, Outcome::ResponseTooLarge { .. })
            | (When::ResponseBudgetExhausted, Outcome::ResponseBudgetExhausted { .. })
            | (When::InvalidResponse, Outcome::InvalidResponse { .. })
            | (When::CrossOriginRedirect, Outcome::CrossOriginRedirect { .. })
            | (When::Misconfigured, Outcome::Misconfigured { .. })
            | (When::Internal, Outcome::Internal { .. })
            | (When::Cancelled, Outcome::Cancelled)
            | (When::RateLimited, Outcome::RateLimited { .. })
            | (When::CircuitOpen, Outcome::CircuitOpen { .. })
            | (When::UpstreamBusy, Outcome::UpstreamBusy { .. }) => true,
            (When::Status(list), Outcome::UpstreamStatus { status, .. }) => list.contains(status),
            (When::StatusRange(lo, hi), Outcome::UpstreamStatus { status, .. }) => (lo..=hi).contains(status),
            (When::Timeout(phases), Outcome::Timeout { phase }) => phases.contains(phase),
            _ => false,
        }
    }
}

/// How a row's message is built. Templates may use `{placeholders}` filled from the outcome.
#[derive(Debug, Clone, Copy)]
enum MessageRule {
    /// Always this text: used where the upstream's words would be misleading or unsafe.
    Fixed(&'static str),
    /// The upstream's own message when it has one (it usually says exactly what is wrong), else this.
    UpstreamOr(&'static str),
    /// This text, followed by `(the API said: ...)` when the upstream has a message.
    FixedPlusUpstream(&'static str),
}

/// Where a row's `fields` come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldsRule {
    None,
    /// The validator's own field errors.
    PassThrough,
    /// The one argument that could not be put into the request.
    Argument,
    /// Parsed from the upstream's 400/422 body by [`upstream_field_errors`].
    Upstream,
}

/// One row of the classification table.
#[derive(Debug, Clone, Copy)]
struct Row {
    when: When,
    category: Category,
    code: &'static str,
    retryable: bool,
    /// Whether the upstream's `Retry-After` is reported (only on rows where waiting can help).
    uses_retry_after: bool,
    message: MessageRule,
    /// `{wait}` in a hint becomes "wait N seconds before retrying" or "wait before retrying".
    hint: Option<&'static str>,
    fields: FieldsRule,
}

/// How an upstream message is quoted after a fixed message.
const WRAP: (&str, &str) = (" (the API said: ", ")");

use Category::{Client, External, Server};
use MessageRule::{Fixed, FixedPlusUpstream, UpstreamOr};

/// THE ordered table: the first matching row wins. `error-classification.md` shows the same rows in
/// the same order, and a test checks that the two agree.
static TABLE: &[Row] = &[
    // 1
    Row {
        when: When::InvalidArguments,
        category: Client,
        code: "invalid_arguments",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the arguments did not pass validation ({count} problem(s), listed in fields)"),
        hint: Some(HINT_FIX_ARGUMENTS),
        fields: FieldsRule::PassThrough,
    },
    // 2
    Row {
        when: When::UnbuildableRequest,
        category: Client,
        code: "invalid_arguments",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the argument {argument} cannot be sent as given: {reason}"),
        hint: Some(HINT_FIX_ARGUMENTS),
        fields: FieldsRule::Argument,
    },
    // 3
    Row {
        when: When::Status(&[400, 422]),
        category: Client,
        code: "upstream_rejected_request",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the API rejected the request as invalid"),
        hint: Some("fix the request using the API's message and fields, then call again"),
        fields: FieldsRule::Upstream,
    },
    // 4: the upstream's words are not used: they talk about credentials the agent never sees.
    Row {
        when: When::Status(&[401]),
        category: Client,
        code: "upstream_unauthorized",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the API rejected api2mcp's credentials for this upstream"),
        hint: Some(
            "an operator must fix the upstream credentials in api2mcp's configuration; the agent cannot, so do not retry: tell the user",
        ),
        fields: FieldsRule::None,
    },
    // 5
    Row {
        when: When::Status(&[403]),
        category: Client,
        code: "upstream_forbidden",
        retryable: false,
        uses_retry_after: false,
        message: FixedPlusUpstream("not permitted: the API refused this operation for api2mcp's credentials"),
        hint: Some("try a different resource or operation, or ask the user; the same call will be refused again"),
        fields: FieldsRule::None,
    },
    // 6
    Row {
        when: When::Status(&[404]),
        category: Client,
        code: "upstream_not_found",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the API found no such resource"),
        hint: Some("check the identifiers in the arguments; if unsure, list or search for the resource first"),
        fields: FieldsRule::None,
    },
    // 7
    Row {
        when: When::Status(&[405]),
        category: Client,
        code: "method_not_allowed",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the API does not allow this operation on this resource"),
        hint: Some("use a different tool or resource; the same call will fail again"),
        fields: FieldsRule::None,
    },
    // 8
    Row {
        when: When::Status(&[409]),
        category: Client,
        code: "conflict",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the request conflicts with the resource's current state"),
        hint: Some("re-read the resource and retry with its current state"),
        fields: FieldsRule::None,
    },
    // 9
    Row {
        when: When::Status(&[410]),
        category: Client,
        code: "gone",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the resource no longer exists"),
        hint: Some("do not retry; list or search for a current resource instead"),
        fields: FieldsRule::None,
    },
    // 10
    Row {
        when: When::Status(&[412, 428]),
        category: Client,
        code: "precondition_failed",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("a precondition of the request was not met (the resource may have changed)"),
        hint: Some("re-read the resource to get its current version, then call again with it"),
        fields: FieldsRule::None,
    },
    // 11
    Row {
        when: When::Status(&[413]),
        category: Client,
        code: "payload_too_large",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the request is larger than the API accepts"),
        hint: Some("send less data per call, e.g. split it into several calls"),
        fields: FieldsRule::None,
    },
    // 12: api2mcp chose the content type, so this is our bug, not the agent's.
    Row {
        when: When::Status(&[415]),
        category: Server,
        code: "unsupported_media_type",
        retryable: false,
        uses_retry_after: false,
        message: Fixed(
            "the API did not accept the content type api2mcp sent; this is a problem in api2mcp, not in the arguments",
        ),
        hint: Some(HINT_TELL_USER),
        fields: FieldsRule::None,
    },
    // 13
    Row {
        when: When::Status(&[429]),
        category: Client,
        code: "rate_limited",
        retryable: true,
        uses_retry_after: true,
        message: UpstreamOr("the API is rate-limiting calls"),
        hint: Some("{wait}, and make fewer calls in quick succession"),
        fields: FieldsRule::None,
    },
    // 14
    Row {
        when: When::StatusRange(400, 499),
        category: Client,
        code: "upstream_client_error",
        retryable: false,
        uses_retry_after: false,
        message: UpstreamOr("the API refused the request (HTTP {status})"),
        hint: Some("check the arguments against the tool's description before calling again"),
        fields: FieldsRule::None,
    },
    // 15: a plain 500 is usually the same bug hit again by the same input; 501 always is.
    Row {
        when: When::Status(&[500, 501]),
        category: External,
        code: "upstream_error",
        retryable: false,
        uses_retry_after: false,
        message: FixedPlusUpstream("the API failed with HTTP {status}"),
        hint: Some("retrying the same call is unlikely to help; try different arguments or tell the user"),
        fields: FieldsRule::None,
    },
    // 16
    Row {
        when: When::Status(&[502, 503, 504]),
        category: External,
        code: "upstream_unavailable",
        retryable: true,
        uses_retry_after: true,
        message: FixedPlusUpstream("the API is temporarily unavailable (HTTP {status})"),
        hint: Some("{wait}; if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
    // 17
    Row {
        when: When::StatusRange(500, 599),
        category: External,
        code: "upstream_error",
        retryable: false,
        uses_retry_after: false,
        message: FixedPlusUpstream("the API failed with HTTP {status}"),
        hint: Some("retrying the same call is unlikely to help; try different arguments or tell the user"),
        fields: FieldsRule::None,
    },
    // 18: 1xx/2xx/3xx/600+ should never arrive here; be total anyway.
    Row {
        when: When::AnyStatus,
        category: External,
        code: "unexpected_status",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the API answered with unexpected HTTP status {status}"),
        hint: Some(HINT_TELL_USER),
        fields: FieldsRule::None,
    },
    // 19: nothing was sent, so a retry cannot duplicate anything.
    Row {
        when: When::Timeout(&[TimeoutPhase::Connect]),
        category: External,
        code: "upstream_timeout",
        retryable: true,
        uses_retry_after: false,
        message: Fixed("could not connect to the API in time"),
        hint: Some("retry after a short wait (nothing was sent); if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
    // 20
    Row {
        when: When::Timeout(&[TimeoutPhase::Response, TimeoutPhase::Total]),
        category: External,
        code: "upstream_timeout",
        retryable: true,
        uses_retry_after: false,
        message: Fixed("the API did not answer in time ({phase} timeout)"),
        hint: Some(HINT_MAY_HAVE_TAKEN_EFFECT),
        fields: FieldsRule::None,
    },
    // 21
    Row {
        when: When::ConnectionRefused,
        category: External,
        code: "connection_refused",
        retryable: true,
        uses_retry_after: false,
        message: Fixed("the API refused the connection"),
        hint: Some("retry after a short wait (nothing was sent); if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
    // 22
    Row {
        when: When::ConnectionReset,
        category: External,
        code: "connection_reset",
        retryable: true,
        uses_retry_after: false,
        message: Fixed("the connection to the API broke before the answer arrived"),
        hint: Some(HINT_MAY_HAVE_TAKEN_EFFECT),
        fields: FieldsRule::None,
    },
    // 23: resolvers fail transiently; a lasting failure shows up as repeated errors.
    Row {
        when: When::Dns,
        category: External,
        code: "dns_failure",
        retryable: true,
        uses_retry_after: false,
        message: Fixed("could not resolve the API's host {host}"),
        hint: Some("retry after a short wait; if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
    // 24: certificates do not fix themselves between two calls.
    Row {
        when: When::Tls,
        category: External,
        code: "tls_failure",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("could not make a secure connection to the API: {reason}"),
        hint: Some("do not retry; tell the user the API's TLS setup is not accepted"),
        fields: FieldsRule::None,
    },
    // 25
    Row {
        when: When::ResponseTooLarge,
        category: External,
        code: "response_too_large",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the API's response was larger than the {limit}-byte limit"),
        hint: Some("narrow the request: use filters, a smaller page size or fewer fields"),
        fields: FieldsRule::None,
    },
    // 26
    Row {
        when: When::InvalidResponse,
        category: External,
        code: "invalid_response",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the API's response could not be read: {reason}"),
        hint: Some("do not retry the same call; try a different call or tell the user"),
        fields: FieldsRule::None,
    },
    // 27
    Row {
        when: When::CrossOriginRedirect,
        category: External,
        code: "redirect_refused",
        retryable: false,
        uses_retry_after: false,
        message: Fixed(
            "the API redirected to another origin ({origin}); api2mcp does not follow cross-origin redirects",
        ),
        hint: Some(HINT_TELL_USER),
        fields: FieldsRule::None,
    },
    // 28
    Row {
        when: When::Misconfigured,
        category: Server,
        code: "misconfigured",
        retryable: false,
        uses_retry_after: false,
        message: Fixed(GENERIC_SERVER_MESSAGE),
        hint: Some("do not retry; tell the user this tool is misconfigured"),
        fields: FieldsRule::None,
    },
    // 29
    Row {
        when: When::Internal,
        category: Server,
        code: "internal_error",
        retryable: false,
        uses_retry_after: false,
        message: Fixed(GENERIC_SERVER_MESSAGE),
        hint: Some(HINT_TELL_USER),
        fields: FieldsRule::None,
    },
    // 30: nobody is listening any more; the result only feeds logs and metrics.
    Row {
        when: When::Cancelled,
        category: Server,
        code: "cancelled",
        retryable: false,
        uses_retry_after: false,
        message: Fixed("the call was cancelled before it completed"),
        hint: None,
        fields: FieldsRule::None,
    },
    // 31: other calls' large responses hold the memory budget; it frees up as they finish.
    Row {
        when: When::ResponseBudgetExhausted,
        category: External,
        code: "server_busy",
        retryable: true,
        uses_retry_after: false,
        message: Fixed("api2mcp is busy reading other large responses and had no memory for this one"),
        hint: Some("retry after a short wait; if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
    // 32: api2mcp's own limit, not the upstream's: the wait is exact (the bucket's refill time).
    Row {
        when: When::RateLimited,
        category: Client,
        code: "rate_limited",
        retryable: true,
        uses_retry_after: true,
        message: Fixed("too many calls: the {limit} rate limit is used up"),
        hint: Some("{wait}, and make fewer calls in quick succession"),
        fields: FieldsRule::None,
    },
    // 33: nothing was sent; the wait is the time to the breaker's next probe.
    Row {
        when: When::CircuitOpen,
        category: External,
        code: "circuit_open",
        retryable: true,
        uses_retry_after: true,
        message: Fixed("the API has been failing, so api2mcp is not sending calls to it for now (nothing was sent)"),
        hint: Some("{wait}; if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
    // 34: nothing was sent; the upstream is slow and every slot for it is taken.
    Row {
        when: When::UpstreamBusy,
        category: External,
        code: "upstream_busy",
        retryable: true,
        uses_retry_after: true,
        message: Fixed("the API is busy: every connection api2mcp allows to it stayed in use (nothing was sent)"),
        hint: Some("{wait}; if it keeps failing, stop and tell the user"),
        fields: FieldsRule::None,
    },
];

/// Classify a failed call. `now` resolves HTTP-date `Retry-After`s; `secrets` (upstream credentials)
/// never appear in any string of the result: each occurrence, plain, percent-encoded or base64
/// (Basic auth travels base64-encoded), becomes `[redacted]`.
#[must_use]
pub fn classify(outcome: &Outcome, now: SystemTime, secrets: &[&str]) -> ToolError {
    let redactor = Redactor::new(secrets);
    match TABLE.iter().find(|r| r.when.matches(outcome)) {
        Some(row) => build(row, outcome, now, &redactor),
        // Unreachable (a test proves the table is total), but a missing row must still produce a
        // safe, generic answer rather than a panic.
        None => ToolError {
            category: Category::Server,
            code: "internal_error",
            message: GENERIC_SERVER_MESSAGE.to_owned(),
            http_status: None,
            retryable: false,
            retry_after: None,
            hint: Some(HINT_TELL_USER.to_owned()),
            fields: Vec::new(),
        },
    }
}

fn build(row: &Row, outcome: &Outcome, now: SystemTime, redactor: &Redactor) -> ToolError {
    let (http_status, raw_retry_after, body) = match outcome {
        Outcome::UpstreamStatus { status, retry_after, body } => (Some(*status), retry_after.as_deref(), body.as_ref()),
        _ => (None, None, None),
    };
    // A wait is only meaningful where retrying is the advice; elsewhere it would contradict `retryable`.
    let retry_after = if row.retryable && row.uses_retry_after {
        match outcome {
            // api2mcp's own waits are known exactly: rounded up, never down to an early retry.
            Outcome::RateLimited { retry_after, .. } | Outcome::CircuitOpen { retry_after } => {
                Some(ceil_seconds(*retry_after))
            }
            Outcome::UpstreamBusy { .. } => Some(1),
            _ => raw_retry_after.and_then(|raw| parse_retry_after(raw, now)),
        }
    } else {
        None
    };

    let fill_template =
        |template: &str| redactor.clean(&fill(template, |name| placeholder(name, outcome)), MESSAGE_LIMIT);
    let upstream = body
        .and_then(upstream_message)
        .map(|m| redactor.clean(&m, MESSAGE_LIMIT))
        .filter(|m| !m.is_empty() && !is_boilerplate(m));
    let message = match row.message {
        MessageRule::Fixed(t) => fill_template(t),
        MessageRule::UpstreamOr(t) => upstream.unwrap_or_else(|| fill_template(t)),
        MessageRule::FixedPlusUpstream(t) => {
            let head = fill_template(t);
            let budget = MESSAGE_LIMIT
                .saturating_sub(head.chars().count())
                .saturating_sub(WRAP.0.chars().count() + WRAP.1.chars().count());
            match upstream {
                // Below a handful of characters the quote would be noise.
                Some(u) if budget >= 20 => format!("{head}{}{}{}", WRAP.0, truncate_chars(&u, budget), WRAP.1),
                _ => head,
            }
        }
    };

    let hint = row.hint.map(|h| {
        let filled = fill(h, |name| match name {
            "wait" => Some(match retry_after {
                Some(n) => format!("wait {} before retrying", seconds(n)),
                None => "wait before retrying".to_owned(),
            }),
            _ => None,
        });
        redactor.clean(&filled, MESSAGE_LIMIT)
    });

    let fields = match (row.fields, outcome) {
        (FieldsRule::PassThrough, Outcome::InvalidArguments { fields }) => fields
            .iter()
            // Our own validator's text: passed through whole, only cleaned.
            .map(|f| FieldError {
                field: redactor.clean(&f.field, usize::MAX),
                message: redactor.clean(&f.message, usize::MAX),
            })
            .collect(),
        (FieldsRule::Argument, Outcome::UnbuildableRequest { argument, reason }) => vec![FieldError {
            field: redactor.clean(argument, FIELD_TEXT_LIMIT),
            message: redactor.clean(reason, FIELD_TEXT_LIMIT),
        }],
        (FieldsRule::Upstream, _) => body.map(|b| field_errors_cleaned(b, redactor)).unwrap_or_default(),
        _ => Vec::new(),
    };

    ToolError {
        category: row.category,
        code: row.code,
        message,
        http_status,
        retryable: row.retryable,
        retry_after,
        hint,
        fields,
    }
}

/// Values for `{placeholders}` in message templates. Detail strings of SERVER outcomes are never
/// offered here, so no template can leak them.
fn placeholder(name: &str, outcome: &Outcome) -> Option<String> {
    match (name, outcome) {
        ("count", Outcome::InvalidArguments { fields }) => Some(fields.len().to_string()),
        ("argument", Outcome::UnbuildableRequest { argument, .. }) => Some(argument.clone()),
        (
            "reason",
            Outcome::UnbuildableRequest { reason, .. } | Outcome::Tls { reason } | Outcome::InvalidResponse { reason },
        ) => Some(reason.clone()),
        ("status", Outcome::UpstreamStatus { status, .. }) => Some(status.to_string()),
        ("phase", Outcome::Timeout { phase }) => Some(phase.as_str().to_owned()),
        ("host", Outcome::Dns { host }) => Some(host.clone()),
        ("limit", Outcome::RateLimited { limit, .. }) => Some(limit.clone()),
        ("limit", Outcome::ResponseTooLarge { limit }) => Some(limit.to_string()),
        ("origin", Outcome::CrossOriginRedirect { location }) => {
            Some(origin_of(location).unwrap_or_else(|| "unreadable location".to_owned()))
        }
        _ => None,
    }
}

/// Whole seconds, rounded up, capped at [`RETRY_AFTER_CAP`].
fn ceil_seconds(wait: std::time::Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.min(RETRY_AFTER_CAP)
}

/// Replace `{name}` with `lookup(name)`; unknown names and stray braces are kept as they are.
fn fill(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        match after.split_once('}') {
            Some((name, tail)) if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                if let Some(value) = lookup(name) {
                    out.push_str(&value);
                } else {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
                rest = tail;
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `scheme://host[:port]` of a redirect target: never its path, query or user-info, which can
/// carry tokens. `None` when the location is not an absolute or scheme-relative URL we can read.
fn origin_of(location: &str) -> Option<String> {
    let location = location.trim();
    let (scheme, rest) = if let Some((scheme, rest)) = location.split_once("://") {
        let valid = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid {
            return None;
        }
        (Some(scheme.to_ascii_lowercase()), rest)
    } else if let Some(rest) = location.strip_prefix("//") {
        (None, rest)
    } else {
        return None;
    };
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let valid_host = !host.is_empty()
        && host.len() <= 260
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'));
    if !valid_host {
        return None;
    }
    let host = host.to_ascii_lowercase();
    Some(match scheme {
        Some(scheme) => format!("{scheme}://{host}"),
        None => host,
    })
}

fn seconds(n: u64) -> String {
    if n == 1 { "1 second".to_owned() } else { format!("{n} seconds") }
}

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

// ---------------------------------------------------------------------------------------------
// Cleaning: control characters, secrets, length
// ---------------------------------------------------------------------------------------------

/// Remove control and invisible formatting characters and collapse whitespace to single spaces.
///
/// Control characters can break the text rendering or smuggle terminal escapes; bidi overrides and
/// zero-width characters can make a message read differently from what it says.
fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if crate::shape::clean::is_hidden_strict(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Cut to at most `limit` characters, ending with `…` when something was cut.
fn truncate_chars(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Base64 forms shorter than this are not redacted: they would match ordinary words.
const MIN_BASE64_PATTERN: usize = 4;

/// Replaces every known form of every secret with `[redacted]`.
struct Redactor {
    /// Longest first, so a secret that contains another is redacted whole.
    patterns: Vec<String>,
}

impl Redactor {
    fn new(secrets: &[&str]) -> Self {
        let mut patterns = Vec::new();
        for secret in secrets.iter().copied() {
            // An empty or blank "secret" would match everywhere and redact every space.
            if secret.trim().is_empty() {
                continue;
            }
            patterns.push(secret.to_owned());
            // Text is sanitized before it is searched, so the sanitized form is what can appear.
            patterns.push(sanitize(secret));
            patterns.push(crate::encoding::strict(secret));
            for alphabet in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let exact = alphabet.encode(secret.as_bytes());
                if exact.len() >= MIN_BASE64_PATTERN {
                    patterns.push(exact);
                }
                // Inside a longer encoded string ("user:secret"), the secret's encoding depends on
                // where it starts within a 3-byte group; each alignment has a stable core.
                for offset in 0..3 {
                    if let Some(core) = base64_core(secret.as_bytes(), offset, alphabet)
                        && core.len() >= MIN_BASE64_PATTERN
                    {
                        patterns.push(core);
                    }
                }
            }
        }
        patterns.retain(|p| !p.is_empty());
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        patterns.dedup();
        Redactor { patterns }
    }

    /// Sanitize, redact and cut to `limit` characters, in that order: redacting before cutting
    /// means a secret straddling the cut can never leave a visible prefix behind.
    fn clean(&self, text: &str, limit: usize) -> String {
        let text = sanitize(text);
        let mut out = String::new();
        let mut count = 0usize;
        let mut truncated = false;
        let mut rest = text.as_str();
        while !rest.is_empty() {
            if let Some(p) = self.patterns.iter().find(|p| rest.starts_with(p.as_str())) {
                let marker = REDACTED.chars().count();
                if count.saturating_add(marker) > limit {
                    truncated = true;
                    break;
                }
                out.push_str(REDACTED);
                count += marker;
                rest = rest.get(p.len()..).unwrap_or_default();
                continue;
            }
            let Some(c) = rest.chars().next() else { break };
            if count.saturating_add(1) > limit {
                truncated = true;
                break;
            }
            out.push(c);
            count += 1;
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
        if truncated {
            while count >= limit && out.pop().is_some() {
                count -= 1;
            }
            out.push('…');
        }
        out
    }
}

/// The base64 characters fully determined by `bytes` when they start `offset` bytes into a 3-byte
/// group of a longer input: character `j` covers bits `6j..6j+6`, so it is kept only when those
/// bits all belong to the secret.
fn base64_core(bytes: &[u8], offset: usize, alphabet: &GeneralPurpose) -> Option<String> {
    let mut buf = vec![0u8; offset];
    buf.extend_from_slice(bytes);
    let encoded = alphabet.encode(&buf);
    let start = (8 * offset).div_ceil(6);
    let end = (8 * (offset + bytes.len())) / 6;
    encoded.get(start..end).map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Reading upstream bodies
// ---------------------------------------------------------------------------------------------

fn parse_json(text: &str) -> Option<Value> {
    let text = text.trim();
    if !text.starts_with(['{', '[', '"']) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Messages that only restate the status line: the row's own default says more.
fn is_boilerplate(message: &str) -> bool {
    const PHRASES: &[&str] = &[
        "error",
        "unknown error",
        "an error occurred",
        "bad request",
        "unauthorized",
        "forbidden",
        "not found",
        "method not allowed",
        "conflict",
        "gone",
        "precondition failed",
        "precondition required",
        "payload too large",
        "content too large",
        "request entity too large",
        "unsupported media type",
        "unprocessable entity",
        "unprocessable content",
        "too many requests",
        "internal server error",
        "not implemented",
        "bad gateway",
        "service unavailable",
        "service temporarily unavailable",
        "gateway timeout",
        "gateway time-out",
    ];
    let m = message.trim().trim_end_matches(['.', '!']).to_ascii_lowercase();
    PHRASES.contains(&m.as_str())
}

/// The upstream's own human-readable message, raw (the caller cleans it).
fn upstream_message(body: &UpstreamBody) -> Option<String> {
    let text = body.text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(value) = parse_json(text) {
        return json_message(&value);
    }
    let content_type = body.content_type.as_deref().unwrap_or_default().to_ascii_lowercase();
    // Error pages in HTML/XML are markup, not a message; binary types are not text at all.
    let markup = text.starts_with('<') || content_type.contains("html") || content_type.contains("xml");
    let textual = content_type.is_empty() || content_type.starts_with("text/") || content_type.contains("json");
    (textual && !markup).then(|| text.to_owned())
}

fn non_empty_str(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn json_message(value: &Value) -> Option<String> {
    if let Value::String(s) = value {
        return Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    }
    // Stripe and Google nest the message under "error".
    if let Some(error) = value.get("error").filter(|e| e.is_object())
        && let Some(m) = non_empty_str(error.get("message"))
    {
        return Some(m);
    }
    // "detail" before "title": in problem+json the title is generic and the detail is specific.
    // "error_description" before "error": OAuth's "error" is a code, its description is the text.
    for key in ["message", "detail", "title", "error_description", "error", "msg", "description"] {
        if let Some(m) = non_empty_str(value.get(key)) {
            return Some(m);
        }
    }
    // JSON:API and GraphQL put everything in "errors"; a single entry is the whole story.
    if let Some([only]) = value.get("errors").and_then(Value::as_array).map(Vec::as_slice) {
        for key in ["detail", "message", "title"] {
            if let Some(m) = non_empty_str(only.get(key)) {
                return Some(m);
            }
        }
    }
    None
}

/// Field errors from an upstream 400/422 body, trimmed: understands the common shapes —
/// `{"errors":[{"field"|"path"|"loc"|"param"|"pointer":..., "message"|"msg"|"detail":...}]}`,
/// `{"error":{"message":..., "param":...}}` (Stripe), `{"detail":[{"loc":[...],"msg":...}]}` (`FastAPI`),
/// RFC 9457 problem+json (`"errors"|"invalid-params":[{"name","reason"}]`), GitHub's
/// `{"message":...,"errors":[{"resource","field","code"}]}`, plus Rails-style `{"errors":{"name":[...]}}`
/// and Google's `error.errors`/`fieldViolations`. At most 10 fields, texts cut at 200 characters.
#[must_use]
pub fn upstream_field_errors(body: &UpstreamBody) -> Vec<FieldError> {
    field_errors_cleaned(body, &Redactor { patterns: Vec::new() })
}

/// Cleaning happens here, not in the collector, so that secrets are redacted *before* the cut.
fn field_errors_cleaned(body: &UpstreamBody, redactor: &Redactor) -> Vec<FieldError> {
    let Some(value) = parse_json(&body.text) else { return Vec::new() };
    let mut raw = Vec::new();
    collect_field_errors(&value, &mut raw);
    let mut out: Vec<FieldError> = Vec::new();
    for (field, message) in raw {
        let error = FieldError {
            field: redactor.clean(&field, FIELD_TEXT_LIMIT),
            message: redactor.clean(&message, FIELD_TEXT_LIMIT),
        };
        if !out.contains(&error) {
            out.push(error);
        }
        if out.len() >= MAX_UPSTREAM_FIELDS {
            break;
        }
    }
    out
}

/// Raw (field, message) pairs in document order. Collects a few more than the cap so that
/// duplicates removed later do not leave the list short.
fn collect_field_errors(value: &Value, out: &mut Vec<(String, String)>) {
    const COLLECT_CAP: usize = 4 * MAX_UPSTREAM_FIELDS;
    // FastAPI / pydantic.
    if let Some(list) = value.get("detail").and_then(Value::as_array) {
        entries(list, "", out);
    }
    for key in ["errors", "invalid-params", "invalid_params", "violations", "fieldErrors", "field_errors"] {
        match value.get(key) {
            Some(Value::Array(list)) => entries(list, "", out),
            Some(Value::Object(map)) => map_entries(map, out),
            _ => {}
        }
    }
    if let Some(error) = value.get("error").filter(|e| e.is_object()) {
        // Stripe: only a field error when it names the parameter; otherwise it is just the message.
        if let Some(param) = error.get("param").and_then(field_text) {
            let message = entry_message(error).unwrap_or_else(|| "invalid".to_owned());
            out.push((param, message));
        }
        if let Some(list) = error.get("errors").and_then(Value::as_array) {
            entries(list, "", out);
        }
        // Google: error.details[].fieldViolations[{field, description}].
        if let Some(details) = error.get("details").and_then(Value::as_array) {
            for detail in details {
                if let Some(list) = detail.get("fieldViolations").and_then(Value::as_array) {
                    entries(list, "", out);
                }
            }
        }
    }
    out.truncate(COLLECT_CAP);
}

fn entries(list: &[Value], default_field: &str, out: &mut Vec<(String, String)>) {
    for item in list {
        if let Some(pair) = entry(item, default_field) {
            out.push(pair);
        }
    }
}

/// Rails/Laravel: `{"errors": {"name": ["can't be blank"], "email": "is invalid"}}`.
fn map_entries(map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
    for (field, value) in map {
        match value {
            Value::Array(list) => entries(list, field, out),
            other => {
                if let Some(pair) = entry(other, field) {
                    out.push(pair);
                }
            }
        }
    }
}

fn entry(item: &Value, default_field: &str) -> Option<(String, String)> {
    match item {
        Value::String(s) if !s.trim().is_empty() => Some((default_field.to_owned(), s.clone())),
        Value::Object(_) => {
            let field = entry_field(item).unwrap_or_else(|| default_field.to_owned());
            match entry_message(item) {
                Some(message) => Some((field, message)),
                None if !field.is_empty() => Some((field, "invalid".to_owned())),
                None => None,
            }
        }
        _ => None,
    }
}

fn entry_field(item: &Value) -> Option<String> {
    const KEYS: &[&str] = &["field", "path", "loc", "param", "parameter", "pointer", "location", "name", "property"];
    KEYS.iter()
        .find_map(|k| item.get(*k).and_then(field_text))
        // JSON:API: {"source": {"pointer": "/data/attributes/name"}}.
        .or_else(|| {
            let source = item.get("source")?;
            ["pointer", "parameter", "header"].iter().find_map(|k| source.get(*k).and_then(field_text))
        })
}

fn entry_message(item: &Value) -> Option<String> {
    ["message", "msg", "detail", "reason", "description", "title"]
        .iter()
        .find_map(|k| non_empty_str(item.get(*k)))
        // GitHub often sends only a code ("missing_field"); it still says what is wrong.
        .or_else(|| non_empty_str(item.get("code")).map(|c| c.replace('_', " ")))
}

/// A field name from a string, a number, or a location array such as `FastAPI`'s `["body", "pet", "name"]`.
fn field_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(parts) => {
            let parts: Vec<String> = parts
                .iter()
                .filter_map(|p| match p {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            // FastAPI starts with where the value was (body/query/...); the agent knows its
            // arguments by name, so the marker only gets in the way.
            let skip = usize::from(
                parts.len() > 1
                    && parts
                        .first()
                        .is_some_and(|p| matches!(p.as_str(), "body" | "query" | "path" | "header" | "cookie")),
            );
            parts.get(skip..).unwrap_or_default().join(".")
        }
        _ => return None,
    };
    Some(text).filter(|t| !t.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap()
    }

    #[allow(clippy::needless_pass_by_value)] // lets tests write `c(status(404))`
    fn c(outcome: Outcome) -> ToolError {
        classify(&outcome, now(), &[])
    }

    fn status(status: u16) -> Outcome {
        Outcome::UpstreamStatus { status, retry_after: None, body: None }
    }

    fn status_with(status: u16, retry_after: Option<&str>, ct: Option<&str>, text: &str) -> Outcome {
        Outcome::UpstreamStatus {
            status,
            retry_after: retry_after.map(str::to_owned),
            body: Some(UpstreamBody { content_type: ct.map(str::to_owned), text: text.to_owned() }),
        }
    }

    fn json(status: u16, text: &str) -> Outcome {
        status_with(status, None, Some("application/json"), text)
    }

    fn body(text: &str) -> UpstreamBody {
        UpstreamBody { content_type: Some("application/json".to_owned()), text: text.to_owned() }
    }

    fn fe(field: &str, message: &str) -> FieldError {
        FieldError::new(field, message)
    }

    /// Index (1-based, as in the .md) of the row that matches.
    fn row_of(outcome: &Outcome) -> usize {
        TABLE.iter().position(|r| r.when.matches(outcome)).map(|i| i + 1).expect("no row matched")
    }

    fn assert_kind(e: &ToolError, category: Category, code: &str, retryable: bool) {
        assert_eq!((e.category, e.code, e.retryable), (category, code, retryable), "{e:?}");
    }

    // --- one test per row -------------------------------------------------------------------

    #[test]
    fn row01_invalid_arguments_passes_fields_through() {
        let outcome = Outcome::InvalidArguments {
            fields: vec![fe("petId", "must be an integer"), fe("status", "expected one of: available, pending, sold")],
        };
        assert_eq!(row_of(&outcome), 1);
        let e = c(outcome);
        assert_kind(&e, Client, "invalid_arguments", false);
        assert_eq!(e.hint.as_deref(), Some("fix the listed arguments and call again"));
        assert_eq!(
            e.fields,
            vec![fe("petId", "must be an integer"), fe("status", "expected one of: available, pending, sold")]
        );
        assert_eq!(e.message, "the arguments did not pass validation (2 problem(s), listed in fields)");
        assert_eq!((e.http_status, e.retry_after), (None, None));
    }

    #[test]
    fn row02_unbuildable_request_names_the_argument() {
        let outcome = Outcome::UnbuildableRequest {
            argument: "X-Trace".to_owned(),
            reason: "header values cannot contain CR or LF".to_owned(),
        };
        assert_eq!(row_of(&outcome), 2);
        let e = c(outcome);
        assert_kind(&e, Client, "invalid_arguments", false);
        assert_eq!(e.fields, vec![fe("X-Trace", "header values cannot contain CR or LF")]);
        assert_eq!(e.message, "the argument X-Trace cannot be sent as given: header values cannot contain CR or LF");
        assert_eq!(e.hint.as_deref(), Some(HINT_FIX_ARGUMENTS));
    }

    #[test]
    fn row03_400_and_422_use_upstream_message_and_fields() {
        for code in [400, 422] {
            let outcome = json(
                code,
                r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"}]}"#,
            );
            assert_eq!(row_of(&outcome), 3);
            let e = c(outcome);
            assert_kind(&e, Client, "upstream_rejected_request", false);
            assert_eq!(e.http_status, Some(code));
            assert_eq!(e.message, "Validation Failed");
            assert_eq!(e.fields, vec![fe("title", "missing field")]);
        }
        // No usable message: the default.
        let e = c(status_with(400, None, Some("text/html"), "<html><body>Bad</body></html>"));
        assert_eq!(e.message, "the API rejected the request as invalid");
        assert!(e.fields.is_empty());
    }

    #[test]
    fn row03_upstream_message_is_trimmed_to_300() {
        let long = "x".repeat(1000);
        let e = c(json(400, &format!(r#"{{"message":"{long}"}}"#)));
        assert_eq!(e.message.chars().count(), 300);
        assert!(e.message.ends_with('…'));
    }

    #[test]
    fn row04_401_is_a_fixed_message_about_credentials() {
        let outcome = json(401, r#"{"message":"Invalid API key sk_live_123"}"#);
        assert_eq!(row_of(&outcome), 4);
        let e = c(outcome);
        assert_kind(&e, Client, "upstream_unauthorized", false);
        assert_eq!(e.message, "the API rejected api2mcp's credentials for this upstream");
        assert!(e.hint.as_deref().unwrap().contains("operator"));
    }

    #[test]
    fn row05_403_forbidden() {
        let outcome = json(403, r#"{"message":"Resource not accessible by integration"}"#);
        assert_eq!(row_of(&outcome), 5);
        let e = c(outcome);
        assert_kind(&e, Client, "upstream_forbidden", false);
        assert!(e.message.starts_with("not permitted"));
        assert!(e.message.ends_with("(the API said: Resource not accessible by integration)"));
        assert!(e.hint.as_deref().unwrap().contains("different resource"));
        let plain = c(status(403));
        assert_eq!(plain.message, "not permitted: the API refused this operation for api2mcp's credentials");
    }

    #[test]
    fn row06_404_not_found_quotes_upstream() {
        let outcome = json(404, r#"{"message":"No pet with id 7"}"#);
        assert_eq!(row_of(&outcome), 6);
        let e = c(outcome);
        assert_kind(&e, Client, "upstream_not_found", false);
        assert_eq!(e.message, "No pet with id 7");
        assert!(e.hint.as_deref().unwrap().contains("list"));
        // A bare reason phrase says less than our default.
        assert_eq!(c(json(404, r#"{"error":"Not Found"}"#)).message, "the API found no such resource");
    }

    #[test]
    fn row07_405_method_not_allowed() {
        assert_eq!(row_of(&status(405)), 7);
        assert_kind(&c(status(405)), Client, "method_not_allowed", false);
    }

    #[test]
    fn row08_409_conflict() {
        assert_eq!(row_of(&status(409)), 8);
        let e = c(status(409));
        assert_kind(&e, Client, "conflict", false);
        assert!(e.hint.as_deref().unwrap().contains("re-read"));
    }

    #[test]
    fn row09_410_gone() {
        assert_eq!(row_of(&status(410)), 9);
        assert_kind(&c(status(410)), Client, "gone", false);
    }

    #[test]
    fn row10_412_428_precondition_failed() {
        for s in [412, 428] {
            assert_eq!(row_of(&status(s)), 10);
            assert_kind(&c(status(s)), Client, "precondition_failed", false);
        }
    }

    #[test]
    fn row11_413_payload_too_large() {
        assert_eq!(row_of(&status(413)), 11);
        assert_kind(&c(status(413)), Client, "payload_too_large", false);
    }

    #[test]
    fn row12_415_is_our_bug() {
        let outcome = json(415, r#"{"message":"Content-Type must be application/xml"}"#);
        assert_eq!(row_of(&outcome), 12);
        let e = c(outcome);
        assert_kind(&e, Server, "unsupported_media_type", false);
        assert!(!e.message.contains("xml"));
        assert_eq!(e.http_status, Some(415));
    }

    #[test]
    fn row13_429_rate_limited_with_and_without_retry_after() {
        let outcome = status_with(429, Some("30"), None, "");
        assert_eq!(row_of(&outcome), 13);
        let e = c(outcome);
        assert_kind(&e, Client, "rate_limited", true);
        assert_eq!(e.retry_after, Some(30));
        assert_eq!(
            e.hint.as_deref(),
            Some("wait 30 seconds before retrying, and make fewer calls in quick succession")
        );
        let e = c(status(429));
        assert_eq!(e.retry_after, None);
        assert_eq!(e.hint.as_deref(), Some("wait before retrying, and make fewer calls in quick succession"));
        assert_eq!(e.message, "the API is rate-limiting calls");
        // HTTP-date form.
        let e = c(status_with(429, Some("Wed, 21 Oct 2015 07:29:00 GMT"), None, ""));
        assert_eq!(e.retry_after, Some(60));
    }

    #[test]
    fn row14_other_4xx() {
        for s in [402, 406, 407, 408, 411, 414, 416, 417, 418, 421, 423, 424, 425, 426, 431, 451, 499] {
            assert_eq!(row_of(&status(s)), 14, "{s}");
            let e = c(status(s));
            assert_kind(&e, Client, "upstream_client_error", false);
            assert_eq!(e.message, format!("the API refused the request (HTTP {s})"));
        }
    }

    #[test]
    fn row15_500_501_not_retryable() {
        for s in [500, 501] {
            assert_eq!(row_of(&status(s)), 15);
            let e = c(status_with(s, Some("10"), Some("text/plain"), "database\nexploded"));
            assert_kind(&e, External, "upstream_error", false);
            // Not retryable, so no wait is reported even though the upstream sent one.
            assert_eq!(e.retry_after, None);
            assert_eq!(e.message, format!("the API failed with HTTP {s} (the API said: database exploded)"));
        }
    }

    #[test]
    fn row16_502_503_504_unavailable_retryable() {
        for s in [502, 503, 504] {
            let outcome = status_with(s, Some("120"), Some("text/html"), "<html>gateway</html>");
            assert_eq!(row_of(&outcome), 16);
            let e = c(outcome);
            assert_kind(&e, External, "upstream_unavailable", true);
            assert_eq!(e.retry_after, Some(120));
            assert_eq!(e.message, format!("the API is temporarily unavailable (HTTP {s})"));
        }
        assert_eq!(c(status(503)).retry_after, None);
    }

    #[test]
    fn row17_other_5xx() {
        for s in [505, 507, 511, 520, 599] {
            assert_eq!(row_of(&status(s)), 17, "{s}");
            assert_kind(&c(status(s)), External, "upstream_error", false);
        }
    }

    #[test]
    fn row18_unexpected_status() {
        for s in [0, 100, 204, 304, 399, 600, 999] {
            assert_eq!(row_of(&status(s)), 18, "{s}");
            let e = c(status(s));
            assert_kind(&e, External, "unexpected_status", false);
            assert_eq!(e.message, format!("the API answered with unexpected HTTP status {s}"));
        }
    }

    #[test]
    fn row19_connect_timeout_safe_to_retry() {
        let outcome = Outcome::Timeout { phase: TimeoutPhase::Connect };
        assert_eq!(row_of(&outcome), 19);
        let e = c(outcome);
        assert_kind(&e, External, "upstream_timeout", true);
        assert!(e.hint.as_deref().unwrap().contains("nothing was sent"));
    }

    #[test]
    fn row20_response_and_total_timeout_warn_about_effect() {
        for phase in [TimeoutPhase::Response, TimeoutPhase::Total] {
            let outcome = Outcome::Timeout { phase };
            assert_eq!(row_of(&outcome), 20);
            let e = c(outcome);
            assert_kind(&e, External, "upstream_timeout", true);
            assert!(e.hint.as_deref().unwrap().contains("may have"));
            assert_eq!(e.message, format!("the API did not answer in time ({} timeout)", phase.as_str()));
        }
    }

    #[test]
    fn row21_connection_refused() {
        assert_eq!(row_of(&Outcome::ConnectionRefused), 21);
        assert_kind(&c(Outcome::ConnectionRefused), External, "connection_refused", true);
    }

    #[test]
    fn row22_connection_reset() {
        assert_eq!(row_of(&Outcome::ConnectionReset), 22);
        let e = c(Outcome::ConnectionReset);
        assert_kind(&e, External, "connection_reset", true);
        assert!(e.hint.as_deref().unwrap().contains("may have"));
    }

    #[test]
    fn row23_dns() {
        let outcome = Outcome::Dns { host: "api.example.com".to_owned() };
        assert_eq!(row_of(&outcome), 23);
        let e = c(outcome);
        assert_kind(&e, External, "dns_failure", true);
        assert_eq!(e.message, "could not resolve the API's host api.example.com");
    }

    #[test]
    fn row24_tls_not_retryable() {
        let outcome = Outcome::Tls { reason: "certificate expired".to_owned() };
        assert_eq!(row_of(&outcome), 24);
        let e = c(outcome);
        assert_kind(&e, External, "tls_failure", false);
        assert!(e.message.ends_with("certificate expired"));
    }

    #[test]
    fn row25_response_too_large() {
        let outcome = Outcome::ResponseTooLarge { limit: 1_048_576 };
        assert_eq!(row_of(&outcome), 25);
        let e = c(outcome);
        assert_kind(&e, External, "response_too_large", false);
        assert_eq!(e.message, "the API's response was larger than the 1048576-byte limit");
        assert!(e.hint.as_deref().unwrap().contains("narrow the request"));
    }

    #[test]
    fn row26_invalid_response() {
        let outcome = Outcome::InvalidResponse { reason: "expected value at line 1 column 1".to_owned() };
        assert_eq!(row_of(&outcome), 26);
        assert_kind(&c(outcome), External, "invalid_response", false);
    }

    #[test]
    fn row27_redirect_names_origin_only() {
        let outcome = Outcome::CrossOriginRedirect {
            location: "HTTPS://bob:pw@Evil.Example.com:8443/steal/path?token=abc#frag".to_owned(),
        };
        assert_eq!(row_of(&outcome), 27);
        let e = c(outcome);
        assert_kind(&e, External, "redirect_refused", false);
        assert!(e.message.contains("(https://evil.example.com:8443)"), "{}", e.message);
        for leak in ["steal", "token", "abc", "bob", "pw@", "frag"] {
            assert!(!e.message.contains(leak), "{leak} in {}", e.message);
        }
        let e = c(Outcome::CrossOriginRedirect { location: "/relative/only".to_owned() });
        assert!(e.message.contains("(unreadable location)"));
        let e = c(Outcome::CrossOriginRedirect { location: "//cdn.example.net/x".to_owned() });
        assert!(e.message.contains("(cdn.example.net)"));
    }

    #[test]
    fn row28_misconfigured_hides_detail() {
        let outcome =
            Outcome::Misconfigured { detail: "no base URL for upstream 'petstore' in /etc/api2mcp.toml".to_owned() };
        assert_eq!(row_of(&outcome), 28);
        let e = c(outcome);
        assert_kind(&e, Server, "misconfigured", false);
        assert_eq!(e.message, GENERIC_SERVER_MESSAGE);
        assert!(!render_text(&e).contains("etc"));
    }

    #[test]
    fn row29_internal_hides_detail() {
        let outcome = Outcome::Internal { detail: "index out of bounds at src/call.rs:42".to_owned() };
        assert_eq!(row_of(&outcome), 29);
        let e = c(outcome);
        assert_kind(&e, Server, "internal_error", false);
        assert_eq!(e.message, GENERIC_SERVER_MESSAGE);
        assert!(!format!("{e:?}").contains("src/call.rs"));
    }

    #[test]
    fn row30_cancelled() {
        assert_eq!(row_of(&Outcome::Cancelled), 30);
        let e = c(Outcome::Cancelled);
        assert_kind(&e, Server, "cancelled", false);
        assert_eq!(e.hint, None);
    }

    // --- the table as a whole ---------------------------------------------------------------

    #[test]
    fn table_is_total() {
        for s in 0..=u16::MAX {
            assert!(TABLE.iter().any(|r| r.when.matches(&status(s))), "status {s}");
        }
        let others = [
            Outcome::InvalidArguments { fields: vec![] },
            Outcome::UnbuildableRequest { argument: String::new(), reason: String::new() },
            Outcome::Timeout { phase: TimeoutPhase::Connect },
            Outcome::Timeout { phase: TimeoutPhase::Response },
            Outcome::Timeout { phase: TimeoutPhase::Total },
            Outcome::ConnectionRefused,
            Outcome::ConnectionReset,
            Outcome::Dns { host: String::new() },
            Outcome::Tls { reason: String::new() },
            Outcome::ResponseTooLarge { limit: 0 },
            Outcome::InvalidResponse { reason: String::new() },
            Outcome::CrossOriginRedirect { location: String::new() },
            Outcome::Cancelled,
            Outcome::Misconfigured { detail: String::new() },
            Outcome::Internal { detail: String::new() },
            Outcome::ResponseBudgetExhausted { budget: 0 },
        ];
        for o in &others {
            let e = c(o.clone());
            assert!(!e.message.contains('{'), "unfilled placeholder: {}", e.message);
            assert!(e.retry_after.is_none() || e.retryable);
        }
    }

    #[test]
    fn every_status_reports_http_status_and_consistent_retry_after() {
        for s in 0..=1000u16 {
            let e = c(status_with(s, Some("5"), Some("application/json"), r#"{"message":"m {x}"}"#));
            assert_eq!(e.http_status, Some(s));
            assert_eq!(e.retry_after.is_some(), e.retryable, "{s}: {e:?}");
        }
    }

    /// Deterministic pseudo-random inputs: nothing may panic, and the length limits always hold.
    #[test]
    fn no_panic_on_arbitrary_input() {
        let alphabet: Vec<char> = "aZ09 {}[]\":,.-_/?#@%=+\n\r\t\u{0}\u{1b}\u{202e}é€😀<>".chars().collect();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        let mut text = |len: usize| (0..len).map(|_| alphabet[next(alphabet.len())]).collect::<String>();
        let now = now();
        for round in 0..300 {
            let raw = text(round % 40);
            let secret = text(round % 7);
            let body = UpstreamBody {
                content_type: None,
                text: format!(r#"{{"message":"{raw}","errors":[{{"field":"{raw}","message":"{raw}"}}]}}"#),
            };
            let outcomes = [
                Outcome::UpstreamStatus {
                    status: u16::try_from(round * 7).unwrap(),
                    retry_after: Some(raw.clone()),
                    body: Some(body.clone()),
                },
                Outcome::UpstreamStatus {
                    status: 422,
                    retry_after: None,
                    body: Some(UpstreamBody { content_type: Some(raw.clone()), text: raw.clone() }),
                },
                Outcome::CrossOriginRedirect { location: raw.clone() },
                Outcome::Dns { host: raw.clone() },
                Outcome::InvalidArguments { fields: vec![FieldError::new(raw.clone(), raw.clone())] },
            ];
            for o in &outcomes {
                let e = classify(o, now, &[&secret, &raw]);
                assert!(e.message.chars().count() <= MESSAGE_LIMIT);
                assert!(e.hint.as_ref().is_none_or(|h| h.chars().count() <= MESSAGE_LIMIT));
                assert!(render_text(&e).lines().count() <= 2);
            }
            let _ = parse_retry_after(&raw, now);
            assert!(upstream_field_errors(&body).len() <= MAX_UPSTREAM_FIELDS);
        }
    }

    #[test]
    fn every_row_is_reachable() {
        let probes = [
            Outcome::InvalidArguments { fields: vec![] },
            Outcome::UnbuildableRequest { argument: "a".into(), reason: "r".into() },
            status(400),
            status(401),
            status(403),
            status(404),
            status(405),
            status(409),
            status(410),
            status(412),
            status(413),
            status(415),
            status(429),
            status(418),
            status(500),
            status(502),
            status(505),
            status(302),
            Outcome::Timeout { phase: TimeoutPhase::Connect },
            Outcome::Timeout { phase: TimeoutPhase::Response },
            Outcome::ConnectionRefused,
            Outcome::ConnectionReset,
            Outcome::Dns { host: "h".into() },
            Outcome::Tls { reason: "r".into() },
            Outcome::ResponseTooLarge { limit: 1 },
            Outcome::InvalidResponse { reason: "r".into() },
            Outcome::CrossOriginRedirect { location: "https://x".into() },
            Outcome::Misconfigured { detail: "d".into() },
            Outcome::Internal { detail: "d".into() },
            Outcome::Cancelled,
            Outcome::ResponseBudgetExhausted { budget: 1 },
            Outcome::RateLimited { limit: "tool:total".into(), retry_after: Duration::from_millis(1500) },
            Outcome::CircuitOpen { retry_after: Duration::from_secs(3) },
            Outcome::UpstreamBusy { waited: Duration::from_secs(1) },
        ];
        let hit: Vec<usize> = probes.iter().map(row_of).collect();
        assert_eq!(hit, (1..=TABLE.len()).collect::<Vec<_>>());
    }

    /// The spec's table and this one must say the same thing, row for row.
    #[test]
    fn markdown_table_matches_code() {
        let md = include_str!("../../specs/error-classification.md");
        let rows: Vec<Vec<String>> = md
            .lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| l.trim().trim_matches('|').split('|').map(|c| c.trim().replace('`', "")).collect::<Vec<_>>())
            .filter(|cells| cells.first().is_some_and(|c| c.parse::<usize>().is_ok()))
            .collect();
        assert_eq!(rows.len(), TABLE.len(), "row count differs");
        for (i, (cells, row)) in rows.iter().zip(TABLE).enumerate() {
            // | # | when | category | code | retryable | retry_after | ...
            assert_eq!(cells[0], (i + 1).to_string());
            assert_eq!(cells[2], row.category.as_str(), "row {}", i + 1);
            assert_eq!(cells[3], row.code, "row {}", i + 1);
            assert_eq!(cells[4], if row.retryable { "yes" } else { "no" }, "row {}", i + 1);
            assert_eq!(cells[5], if row.uses_retry_after { "yes" } else { "no" }, "row {}", i + 1);
        }
    }

    // --- Retry-After -----------------------------------------------------------------------

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("120", now()), Some(120));
        assert_eq!(parse_retry_after(" 0 ", now()), Some(0));
    }

    #[test]
    fn retry_after_http_date_future_and_past() {
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now()), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()), Some(0));
        // A fraction of a second ahead rounds up, never down to an early retry.
        let almost = now() - Duration::from_millis(300);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", almost), Some(1));
        // Obsolete RFC 850 form is still an HTTP-date.
        assert_eq!(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now()), Some(60));
    }

    #[test]
    fn retry_after_garbage() {
        for raw in ["", "  ", "soon", "-5", "1.5", "+10", "12 seconds", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(parse_retry_after(raw, now()), None, "{raw:?}");
        }
    }

    #[test]
    fn retry_after_huge_is_capped() {
        assert_eq!(parse_retry_after("86401", now()), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("99999999999999999999999999", now()), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now()), Some(RETRY_AFTER_CAP));
    }

    // --- redaction and cleaning ------------------------------------------------------------

    #[test]
    fn secrets_are_redacted_in_messages_plain_and_base64() {
        let secrets = ["user:pass", "sk_live_abc123"];
        let e = classify(
            &json(404, r#"{"message":"key sk_live_abc123 and Basic dXNlcjpwYXNz= are not valid for pet 7"}"#),
            now(),
            &secrets,
        );
        assert_eq!(e.message, "key [redacted] and Basic [redacted]= are not valid for pet 7");
    }

    #[test]
    fn secret_embedded_in_basic_credentials_is_redacted() {
        // The secret is only the password; the header encodes "alice:hunter22" as a whole.
        for encoded in ["YWxpY2U6aHVudGVyMjI=", "eHg6aHVudGVyMjI=", "eTpodW50ZXIyMg=="] {
            let e =
                classify(&json(404, &format!(r#"{{"message":"bad header Basic {encoded}"}}"#)), now(), &["hunter22"]);
            assert!(e.message.contains(REDACTED), "{encoded}: {}", e.message);
            assert!(!e.message.contains(&encoded[encoded.len() - 8..encoded.len() - 2]), "{encoded}: {}", e.message);
        }
    }

    #[test]
    fn secret_percent_encoded_is_redacted() {
        let e = classify(&json(404, r#"{"message":"no route for /pets?key=a%2Bb%2Fc%3D"}"#), now(), &["a+b/c="]);
        assert_eq!(e.message, "no route for /pets?key=[redacted]");
    }

    #[test]
    fn secrets_are_redacted_in_field_messages_and_names() {
        let text = r#"{"errors":[{"field":"tok_SECRET","message":"value tok_SECRET rejected"},{"field":"auth","message":"Basic dXNlcjpwYXNz"}]}"#;
        let e = classify(&json(422, text), now(), &["tok_SECRET", "user:pass"]);
        assert_eq!(e.fields, vec![fe(REDACTED, "value [redacted] rejected"), fe("auth", "Basic [redacted]")]);
        let e = classify(
            &Outcome::InvalidArguments { fields: vec![fe("token", "tok_SECRET is malformed")] },
            now(),
            &["tok_SECRET"],
        );
        assert_eq!(e.fields, vec![fe("token", "[redacted] is malformed")]);
    }

    #[test]
    fn secrets_are_redacted_everywhere_else() {
        let s = ["hunter22"];
        assert!(!classify(&Outcome::Dns { host: "hunter22.example".into() }, now(), &s).message.contains("hunter22"));
        assert!(!classify(&Outcome::Tls { reason: "bad hunter22".into() }, now(), &s).message.contains("hunter22"));
        assert!(
            !classify(&Outcome::InvalidResponse { reason: "hunter22".into() }, now(), &s).message.contains("hunter22")
        );
        let e =
            classify(&Outcome::UnbuildableRequest { argument: "a".into(), reason: "hunter22\r\n".into() }, now(), &s);
        assert!(!format!("{e:?}").contains("hunter22"));
        let e = classify(&status_with(500, None, Some("text/plain"), "trace: hunter22"), now(), &s);
        assert!(!e.message.contains("hunter22"), "{}", e.message);
    }

    #[test]
    fn secret_across_the_cut_leaves_no_prefix() {
        let secret = "SECRETVALUE123456";
        let text = format!(r#"{{"message":"{}{secret} tail"}}"#, "a".repeat(295));
        let e = classify(&json(404, &text), now(), &[secret]);
        assert!(!e.message.contains("SECR"), "{}", e.message);
        assert!(e.message.chars().count() <= MESSAGE_LIMIT);
        assert!(e.message.ends_with('…'));
    }

    #[test]
    fn blank_secrets_are_ignored() {
        let e = classify(&json(404, r#"{"message":"No pet with id 7"}"#), now(), &["", "   "]);
        assert_eq!(e.message, "No pet with id 7");
    }

    #[test]
    fn control_characters_are_removed() {
        let e = c(json(404, r#"{"message":"No\u0000 pet\u001b[31m\n\twith id\u202e 7\u0007"}"#));
        assert_eq!(e.message, "No pet[31m with id 7");
        let e = c(status_with(409, None, Some("text/plain"), "  line one\r\nline two  "));
        assert_eq!(e.message, "line one line two");
    }

    // --- upstream_field_errors shapes ------------------------------------------------------

    #[test]
    fn fields_generic_errors_array_with_each_key() {
        let b = body(
            r#"{"errors":[
            {"field":"name","message":"is required"},
            {"path":"age","msg":"must be positive"},
            {"loc":["body","owner","email"],"detail":"not an email"},
            {"param":"limit","message":"too big"},
            {"pointer":"/data/attributes/tag","message":"unknown tag"},
            {"source":{"pointer":"/data/id"},"detail":"missing","title":"Invalid"},
            "something else is wrong"
        ]}"#,
        );
        assert_eq!(
            upstream_field_errors(&b),
            vec![
                fe("name", "is required"),
                fe("age", "must be positive"),
                fe("owner.email", "not an email"),
                fe("limit", "too big"),
                fe("/data/attributes/tag", "unknown tag"),
                fe("/data/id", "missing"),
                fe("", "something else is wrong"),
            ]
        );
    }

    #[test]
    fn fields_stripe() {
        let b = body(r#"{"error":{"type":"invalid_request_error","message":"Invalid integer: abc","param":"amount"}}"#);
        assert_eq!(upstream_field_errors(&b), vec![fe("amount", "Invalid integer: abc")]);
        let e = c(json(400, &b.text));
        assert_eq!(e.message, "Invalid integer: abc");
        // Without a param it is only a message.
        assert!(upstream_field_errors(&body(r#"{"error":{"message":"Bad"}}"#)).is_empty());
    }

    #[test]
    fn fields_fastapi() {
        let b = body(
            r#"{"detail":[{"loc":["body","pet","tags",0],"msg":"str type expected","type":"type_error.str"},{"loc":["query","limit"],"msg":"ensure this value is less than 100"}]}"#,
        );
        assert_eq!(
            upstream_field_errors(&b),
            vec![fe("pet.tags.0", "str type expected"), fe("limit", "ensure this value is less than 100")]
        );
        // detail is not a string, so the message is the default.
        assert_eq!(c(json(422, &b.text)).message, "the API rejected the request as invalid");
    }

    #[test]
    fn fields_problem_json() {
        let text = r#"{"type":"https://example.net/validation-error","title":"Your request is not valid.","detail":"2 parameters are invalid","invalid-params":[{"name":"age","reason":"must be a positive integer"},{"name":"color","reason":"must be 'green', 'red' or 'blue'"}]}"#;
        let e = c(status_with(400, None, Some("application/problem+json"), text));
        assert_eq!(e.message, "2 parameters are invalid");
        assert_eq!(
            e.fields,
            vec![fe("age", "must be a positive integer"), fe("color", "must be 'green', 'red' or 'blue'")]
        );
        let b = body(r#"{"title":"Bad things","errors":[{"name":"x","reason":"nope"}]}"#);
        assert_eq!(upstream_field_errors(&b), vec![fe("x", "nope")]);
        assert_eq!(c(json(400, &b.text)).message, "Bad things");
    }

    #[test]
    fn fields_github() {
        let b = body(
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","field":"title","code":"missing_field"},{"resource":"Issue","field":"labels","code":"custom","message":"labels must be strings"}],"documentation_url":"https://docs.github.com"}"#,
        );
        assert_eq!(
            upstream_field_errors(&b),
            vec![fe("title", "missing field"), fe("labels", "labels must be strings")]
        );
    }

    #[test]
    fn fields_rails_map_and_google() {
        let b = body(r#"{"errors":{"name":["can't be blank","is too short"],"email":"is invalid"}}"#);
        assert_eq!(
            upstream_field_errors(&b),
            vec![fe("name", "can't be blank"), fe("name", "is too short"), fe("email", "is invalid")]
        );
        let b = body(
            r#"{"error":{"code":400,"message":"Invalid value","errors":[{"message":"Required parameter: part","location":"part","reason":"required"}],"details":[{"fieldViolations":[{"field":"page_size","description":"must be <= 50"}]}]}}"#,
        );
        assert_eq!(
            upstream_field_errors(&b),
            vec![fe("part", "Required parameter: part"), fe("page_size", "must be <= 50")]
        );
    }

    #[test]
    fn fields_capped_trimmed_and_deduplicated() {
        let many: Vec<String> =
            (0..30).map(|i| format!(r#"{{"field":"f{i}","message":"{}"}}"#, "m".repeat(500))).collect();
        let b = body(&format!(
            r#"{{"errors":[{{"field":"f0","message":"dup"}},{{"field":"f0","message":"dup"}},{}]}}"#,
            many.join(",")
        ));
        let fields = upstream_field_errors(&b);
        assert_eq!(fields.len(), MAX_UPSTREAM_FIELDS);
        assert_eq!(fields[0], fe("f0", "dup"));
        assert_eq!(fields[1].field, "f0");
        assert!(fields.iter().all(|f| f.message.chars().count() <= FIELD_TEXT_LIMIT));
        assert!(fields[1].message.ends_with('…'));
    }

    #[test]
    fn fields_from_non_json_bodies_are_empty() {
        for text in ["", "not json", "<html></html>", "{broken", "[1,2,3]", "{\"errors\":42}"] {
            assert!(upstream_field_errors(&body(text)).is_empty(), "{text}");
        }
    }

    // --- rendering and serde ---------------------------------------------------------------

    #[test]
    fn render_client_example() {
        let e = ToolError {
            category: Client,
            code: "upstream_not_found",
            message: "No pet with id 7".to_owned(),
            http_status: Some(404),
            retryable: false,
            retry_after: None,
            hint: Some("check the id".to_owned()),
            fields: vec![],
        };
        assert_eq!(
            render_text(&e),
            "CLIENT error (upstream_not_found, HTTP 404): No pet with id 7. Hint: check the id. Retryable: no."
        );
        assert_eq!(e.to_string(), render_text(&e));
    }

    #[test]
    fn render_client_with_fields_is_two_lines() {
        let e = c(Outcome::InvalidArguments {
            fields: vec![fe("petId", "must be an integer."), fe("status", "unknown value")],
        });
        assert_eq!(
            render_text(&e),
            "CLIENT error (invalid_arguments): the arguments did not pass validation (2 problem(s), listed in fields). \
             Hint: fix the listed arguments and call again. Retryable: no.\nFields: petId: must be an integer; status: unknown value."
        );
    }

    #[test]
    fn render_external_example() {
        let e = c(status_with(503, Some("1"), None, ""));
        assert_eq!(
            render_text(&e),
            "EXTERNAL error (upstream_unavailable, HTTP 503): the API is temporarily unavailable (HTTP 503). \
             Hint: wait 1 second before retrying; if it keeps failing, stop and tell the user. Retryable: yes, after 1 second."
        );
        let e = c(Outcome::ConnectionRefused);
        assert!(render_text(&e).ends_with("Retryable: yes."));
    }

    #[test]
    fn render_server_example() {
        let e = c(Outcome::Internal { detail: "panic in handler".to_owned() });
        let text = render_text(&e);
        assert_eq!(
            text,
            "SERVER error (internal_error): api2mcp could not complete this call because of a server-side problem; it has been logged. \
             Hint: do not retry; tell the user this tool is not working. Retryable: no."
        );
        assert!(!text.contains('{') && !text.contains("panic"));
    }

    #[test]
    fn serde_json_shape() {
        let e = c(status_with(429, Some("7"), Some("application/json"), r#"{"message":"Slow down"}"#));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"category":"CLIENT","code":"rate_limited","message":"Slow down","http_status":429,"retryable":true,"retry_after":7,"hint":"wait 7 seconds before retrying, and make fewer calls in quick succession"}"#
        );
        let e = c(Outcome::InvalidArguments { fields: vec![fe("a", "b")] });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["category"], "CLIENT");
        assert_eq!(v["fields"], serde_json::json!([{"field":"a","message":"b"}]));
        assert!(v.get("http_status").is_none() && v.get("retry_after").is_none());
        let e = c(Outcome::Cancelled);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"category":"SERVER","code":"cancelled","message":"the call was cancelled before it completed","retryable":false}"#
        );
        assert_eq!(serde_json::to_string(&External).unwrap(), r#""EXTERNAL""#);
    }

    // --- helpers ---------------------------------------------------------------------------

    #[test]
    fn base64_core_matches_real_encodings() {
        // The secret starts at byte offset 0 ("alice:" is 6 bytes), 1 (":" is 1 byte) or 2 ("y:") of a group.
        let core0 = base64_core(b"hunter22", 0, &STANDARD_NO_PAD).unwrap();
        let core1 = base64_core(b"hunter22", 1, &STANDARD_NO_PAD).unwrap();
        let core2 = base64_core(b"hunter22", 2, &STANDARD_NO_PAD).unwrap();
        assert!("YWxpY2U6aHVudGVyMjI=".contains(&core0));
        assert!("eTpodW50ZXIyMg==".contains(&core2));
        assert!(STANDARD_NO_PAD.encode(b":hunter22").contains(&core1));
    }

    #[test]
    fn fill_keeps_unknown_and_stray_braces() {
        assert_eq!(fill("a {x} {unknown} { b} {", |n| (n == "x").then(|| "X".to_owned())), "a X {unknown} { b} {");
    }
}
