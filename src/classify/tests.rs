//! The classification table, its rendering, redaction and upstream-body parsing, tested through
//! the public entry points and the submodules' helpers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::Category::{Client, External, Server};
use super::redaction::*;
use super::table::*;
use super::upstream_body::*;
use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
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
    assert_eq!(e.hint.as_deref(), Some("wait 30 seconds before retrying, and make fewer calls in quick succession"));
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
        let e = classify(&json(404, &format!(r#"{{"message":"bad header Basic {encoded}"}}"#)), now(), &["hunter22"]);
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
    assert!(!classify(&Outcome::InvalidResponse { reason: "hunter22".into() }, now(), &s).message.contains("hunter22"));
    let e = classify(&Outcome::UnbuildableRequest { argument: "a".into(), reason: "hunter22\r\n".into() }, now(), &s);
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
    assert_eq!(upstream_field_errors(&b), vec![fe("title", "missing field"), fe("labels", "labels must be strings")]);
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
    let many: Vec<String> = (0..30).map(|i| format!(r#"{{"field":"f{i}","message":"{}"}}"#, "m".repeat(500))).collect();
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
