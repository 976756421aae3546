//! Reading upstream error bodies: the upstream's own message (unless it is boilerplate) and its
//! field errors, from the common JSON error shapes.

use serde_json::{Map, Value};

use super::redaction::Redactor;
use super::{FIELD_TEXT_LIMIT, FieldError, MAX_UPSTREAM_FIELDS, UpstreamBody};

fn parse_json(text: &str) -> Option<Value> {
    let text = text.trim();
    if !text.starts_with(['{', '[', '"']) {
        return None;
    }
    serde_json::from_str(text).ok()
}

/// Messages that only restate the status line: the row's own default says more.
pub(super) fn is_boilerplate(message: &str) -> bool {
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
pub(super) fn upstream_message(body: &UpstreamBody) -> Option<String> {
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
    field_errors_cleaned(body, &Redactor::new(&[]))
}

/// Cleaning happens here, not in the collector, so that secrets are redacted *before* the cut.
pub(super) fn field_errors_cleaned(body: &UpstreamBody, redactor: &Redactor) -> Vec<FieldError> {
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
