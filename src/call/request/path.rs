//! The path: the template expanded one segment at a time, values strictly encoded, dot segments
//! and empty segments refused, OpenAPI's `simple`, `label` and `matrix` styles.

use percent_encoding::{AsciiSet, CONTROLS};
use serde_json::{Map, Value};

use super::*;

/// Literal text of the path template comes from the spec, not the agent, so it is kept as written
/// except for the characters the URL parser would otherwise re-encode or treat as delimiters.
const TEMPLATE_LITERAL: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// Expands the path template one segment at a time, so a segment made entirely by agent values can
/// be checked for being empty or a dot segment. Substitution is a single pass over the template: a
/// value that looks like `{other}` is encoded, never expanded again.
pub(super) fn expand_path(call: &UpstreamCall, arguments: &Map<String, Value>) -> Result<String, BuildError> {
    let template = call.path.as_str();
    let mut out = String::with_capacity(template.len() + 16);
    // OpenAPI paths start with `/`; without one the path would glue itself onto the base URL's last
    // segment.
    if !template.is_empty() && !template.starts_with('/') {
        out.push('/');
    }
    for (index, segment) in template.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        out.push_str(&expand_segment(segment, call, arguments)?);
    }
    Ok(out)
}

fn expand_segment(segment: &str, call: &UpstreamCall, arguments: &Map<String, Value>) -> Result<String, BuildError> {
    let mut out = String::new();
    let mut rest = segment;
    let mut first_argument: Option<&str> = None;
    while let Some(open) = rest.find('{') {
        out.push_str(&encode(&rest[..open], TEMPLATE_LITERAL));
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(invalid(PATH_ARGUMENT, "the path template has a '{' without a matching '}'"));
        };
        let name = &after[..close];
        let Some(binding) = call
            .arguments
            .iter()
            .find(|binding| binding.location == ArgumentLocation::Path && binding.wire_name == name)
        else {
            return Err(invalid(name, "the path template names this parameter but no argument is bound to it"));
        };
        first_argument.get_or_insert(binding.argument.as_str());
        // A path placeholder needs a value whatever the binding says: without one the URL would
        // address another resource.
        let value = match arguments.get(&binding.argument) {
            None => return Err(missing(&binding.argument)),
            Some(Value::Null) => {
                return Err(invalid(&binding.argument, "a path parameter cannot be null"));
            }
            Some(value) => value,
        };
        out.push_str(&expand_path_value(binding, value)?);
        rest = &after[close + 1..];
    }
    out.push_str(&encode(rest, TEMPLATE_LITERAL));

    if let Some(argument) = first_argument {
        // `/users//delete` is routed as `/users/delete` by many servers.
        if out.is_empty() {
            return Err(invalid(
                argument,
                "the value expands to an empty path segment, which would address another resource",
            ));
        }
        // The WHATWG URL parser in the HTTP client resolves `%2E%2E` exactly like `..`, so no
        // encoding can carry a whole dot segment safely: refuse it.
        if is_dot_segment(&out) {
            return Err(invalid(
                argument,
                "the value would form a '.' or '..' path segment, which clients and servers resolve as a relative path",
            ));
        }
    }
    Ok(out)
}

/// `.`, `..` and their percent-encoded spellings, as the WHATWG URL standard recognises them.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

/// Strict encoding, plus `.` and `..` spelled out as `%2E` so a value that is only dots never reads
/// as a dot segment to a server that normalises literally (inside a longer segment this is enough;
/// whole segments are refused by [`expand_segment`]).
fn encode_path(text: &str) -> String {
    match text {
        "." => "%2E".to_string(),
        ".." => "%2E%2E".to_string(),
        _ => encode(text, STRICT),
    }
}

/// `;name` for an empty value and `;name=value` otherwise (RFC 6570's `;` operator).
fn matrix_pair(encoded_name: &str, value: &str) -> String {
    if value.is_empty() { format!(";{encoded_name}") } else { format!(";{encoded_name}={}", encode_path(value)) }
}

/// Simple, label and matrix styles (RFC 6570 `{x}`, `{.x}`, `{;x}`); an empty array or object is
/// undefined and expands to nothing. Query-only styles in a path fall back to simple, the path
/// default.
fn expand_path_value(binding: &ArgumentBinding, value: &Value) -> Result<String, BuildError> {
    let explode = binding.explode;
    let expanded = match (binding.style, shape(binding, value)?) {
        (ParameterStyle::Label, Shape::Scalar(text)) => format!(".{}", encode_path(&text)),
        (ParameterStyle::Label, Shape::List(items)) if items.is_empty() => String::new(),
        (ParameterStyle::Label, Shape::List(items)) => {
            format!(".{}", join_encoded(&items, encode_path, if explode { "." } else { "," }))
        }
        (ParameterStyle::Label, Shape::Pairs(pairs)) if pairs.is_empty() => String::new(),
        (ParameterStyle::Label, Shape::Pairs(pairs)) => {
            format!(".{}", join_pairs(&pairs, encode_path, explode, if explode { "." } else { "," }))
        }
        (ParameterStyle::Matrix, shape) => {
            let name = encode(&binding.wire_name, STRICT);
            match shape {
                Shape::Scalar(text) => matrix_pair(&name, &text),
                Shape::List(items) if explode => items.iter().map(|item| matrix_pair(&name, item)).collect(),
                Shape::List(items) if items.is_empty() => String::new(),
                Shape::List(items) => format!(";{name}={}", join_encoded(&items, encode_path, ",")),
                Shape::Pairs(pairs) if explode => {
                    pairs.iter().map(|(key, member)| matrix_pair(&encode(key, STRICT), member)).collect()
                }
                Shape::Pairs(pairs) if pairs.is_empty() => String::new(),
                Shape::Pairs(pairs) => format!(";{name}={}", join_pairs(&pairs, encode_path, false, ",")),
            }
        }
        (_, Shape::Scalar(text)) => encode_path(&text),
        (_, Shape::List(items)) => join_encoded(&items, encode_path, ","),
        (_, Shape::Pairs(pairs)) => join_pairs(&pairs, encode_path, explode, ","),
    };
    Ok(expanded)
}
