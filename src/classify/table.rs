//! THE ordered table: which row matches an [`Outcome`], and how the row's message, hint, wait and
//! fields are built into a [`ToolError`].

use std::time::SystemTime;

use super::redaction::{Redactor, truncate_chars};
use super::upstream_body::{field_errors_cleaned, is_boilerplate, upstream_message};
use super::{
    Category, FIELD_TEXT_LIMIT, FieldError, GENERIC_SERVER_MESSAGE, HINT_FIX_ARGUMENTS, HINT_MAY_HAVE_TAKEN_EFFECT,
    HINT_TELL_USER, MESSAGE_LIMIT, Outcome, RETRY_AFTER_CAP, TimeoutPhase, ToolError, parse_retry_after,
};

/// Which outcomes a row matches.
#[derive(Debug, Clone, Copy)]
pub(super) enum When {
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
    pub(super) fn matches(self, outcome: &Outcome) -> bool {
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
    /// Parsed from the upstream's 400/422 body by [`super::upstream_field_errors`].
    Upstream,
}

/// One row of the classification table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) when: When,
    pub(super) category: Category,
    pub(super) code: &'static str,
    pub(super) retryable: bool,
    /// Whether the upstream's `Retry-After` is reported (only on rows where waiting can help).
    pub(super) uses_retry_after: bool,
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
pub(super) static TABLE: &[Row] = &[
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
pub(super) fn fill(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
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

pub(super) fn seconds(n: u64) -> String {
    if n == 1 { "1 second".to_owned() } else { format!("{n} seconds") }
}
