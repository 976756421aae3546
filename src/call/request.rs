//! Turns one tool call's arguments into the exact upstream HTTP request (method, URL, headers, body)
//! following OpenAPI 3 parameter serialization, without any networking so every rule is testable.
//!
//! The output is a plain [`BuiltRequest`]; the caller hands it to the HTTP client (and assembles the
//! real multipart body from [`MultipartPart`]s, since only the client knows the boundary).
//!
//! Security comes first because the argument values come from an AI agent, which may have been
//! talked into sending hostile input: a value can never change the scheme, host, port, path
//! structure, query structure or header structure of the request. Path values are encoded with the
//! strictest set (only RFC 3986 unreserved characters survive), query keys and values likewise (with
//! `allowReserved` relaxing values only where it is harmless), header values are refused when they
//! could inject a header, and the finished URL is re-parsed with the same `url` crate the HTTP client
//! uses to prove nothing was normalised away.
//!
//! Conventions where OpenAPI leaves a choice:
//! - `null` inside arrays and objects is treated as undefined (RFC 6570) and skipped; a top-level
//!   `null` omits an optional parameter and is refused in the path.
//! - Arrays and objects nested inside arrays or objects have no standard serialization outside
//!   `deepObject` (and bodies), so they are refused rather than guessed at.
//! - Form bodies follow the media type's `encoding` object; where it says nothing, objects and
//!   arrays holding objects nest with brackets (`address[city]=Berlin`, `items[0][price]=p`), as
//!   form-reading APIs parse them (see [`form`] and `specs/request-serialisation.md`).
//! - Multipart parts follow OpenAPI's default encodings (primitives are text, objects are JSON,
//!   arrays give one part per item) unless an `encoding` entry sets a `contentType` or a style.

mod form;

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Map, Value};
use url::Url;

use crate::catalogue::{ArgumentBinding, ArgumentLocation, ParameterStyle, UpstreamCall};
use crate::encoding::STRICT;
use crate::spec::HttpMethod;

/// `allowReserved` query values keep the RFC 3986 reserved characters, except the ones that would
/// split the query (`&`, `=`), end it (`#`) or be read as a space by form decoders (`+`). The quote
/// `'` stays encoded as well: the WHATWG URL parser inside the HTTP client encodes it in `http(s)`
/// queries anyway, so leaving it raw would only make this URL differ from the one sent.
const QUERY_ALLOW_RESERVED: &AsciiSet = &STRICT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';');

/// Literal text of the path template comes from the spec, not the agent, so it is kept as written
/// except for the characters the URL parser would otherwise re-encode or treat as delimiters.
const TEMPLATE_LITERAL: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

/// The name used in errors about the configured base URL, which is not a tool argument.
const BASE_URL_ARGUMENT: &str = "base_url";
/// The name used in errors about the path template itself.
const PATH_ARGUMENT: &str = "path";
/// The name used when the finished URL fails the final check and no single argument is to blame.
const URL_ARGUMENT: &str = "url";

/// The upstream request, ready for an HTTP client.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltRequest {
    pub method: HttpMethod,
    /// Full URL: base_url (no trailing slash) + expanded path + `?` + query (omitted when empty).
    pub url: String,
    /// Header name → value, in binding order, `Cookie` header last (one header, `a=1; b=2`), then
    /// `Accept`, then `Content-Type` when there is a byte body (a multipart body gets its
    /// `Content-Type`, with the boundary, from the client that assembles it).
    pub headers: Vec<(String, String)>,
    pub body: RequestBodyBytes,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestBodyBytes {
    None,
    Bytes { content_type: String, bytes: Vec<u8> },
    Multipart(Vec<MultipartPart>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MultipartPart {
    pub name: String,
    pub value: MultipartValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MultipartValue {
    /// A string, number or boolean, as text.
    Text(String),
    /// A JSON value serialized.
    Json(String),
    /// Text with the content type an `encoding` entry gives the part.
    Typed { text: String, content_type: String },
    /// Binary, from a base64 string argument when the property schema is format binary.
    File { bytes: Vec<u8>, file_name: String, content_type: String },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BuildError {
    #[error("argument '{argument}': {reason}")]
    Invalid { argument: String, reason: String },
    #[error("missing required argument '{argument}'")]
    Missing { argument: String },
}

fn invalid(argument: &str, reason: impl Into<String>) -> BuildError {
    BuildError::Invalid { argument: argument.to_string(), reason: reason.into() }
}

fn missing(argument: &str) -> BuildError {
    BuildError::Missing { argument: argument.to_string() }
}

/// Builds the upstream request for one tool call.
///
/// `arguments` is the tool call's arguments object (already validated against the inputSchema
/// elsewhere, but nothing here relies on that). `binary_arguments` names the arguments whose schema
/// says format binary: their string values are base64 and are decoded for multipart and raw bodies.
pub fn build(
    base_url: &str,
    call: &UpstreamCall,
    arguments: &Map<String, Value>,
    binary_arguments: &[&str],
) -> Result<BuiltRequest, BuildError> {
    let base = base_url.trim_end_matches('/');
    let parsed_base = parse_base(base)?;
    let path = expand_path(call, arguments)?;

    // Query pairs pinned in the spec's path key come first, strictly encoded like any other.
    let mut query: Vec<String> = call
        .fixed_query
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name, STRICT), encode(value, STRICT)))
        .collect();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    for binding in &call.arguments {
        match binding.location {
            ArgumentLocation::Query => {
                if let Some(value) = present(binding, arguments)? {
                    query_pieces(binding, value, &mut query)?;
                }
            }
            ArgumentLocation::Header => {
                if let Some(value) = present(binding, arguments)?
                    && let Some(header) = header_value(binding, value)?
                {
                    headers.push((binding.wire_name.clone(), header));
                }
            }
            ArgumentLocation::Cookie => {
                if let Some(value) = present(binding, arguments)? {
                    cookie_pieces(binding, value, &mut cookies)?;
                }
            }
            ArgumentLocation::Path | ArgumentLocation::BodyProperty | ArgumentLocation::Body => {}
        }
    }

    let body = build_body(call, arguments, binary_arguments)?;

    if !cookies.is_empty() {
        headers.push(("Cookie".to_string(), cookies.join("; ")));
    }
    if !call.accept.is_empty() {
        let accept = call.accept.join(", ");
        check_header_value("Accept", &accept)?;
        headers.push(("Accept".to_string(), accept));
    }
    match (&body, &call.declared_content_type) {
        (RequestBodyBytes::Bytes { content_type, .. }, _) => {
            check_header_value("Content-Type", content_type)?;
            headers.push(("Content-Type".to_string(), content_type.clone()));
        }
        // The spec declares a `Content-Type` header parameter: the API wants it even without a body.
        (RequestBodyBytes::None, Some(declared)) => {
            check_header_value("Content-Type", declared)?;
            headers.push(("Content-Type".to_string(), declared.clone()));
        }
        (RequestBodyBytes::None | RequestBodyBytes::Multipart(_), _) => {}
    }

    let query = query.join("&");
    let mut url = format!("{base}{path}");
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    check_url(&parsed_base, &url, &path, &query)?;

    Ok(BuiltRequest { method: call.method, url, headers, body })
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// The value of a query, header or cookie argument, or `None` when it is to be left out. A `null`
/// counts as absent, so a required parameter given `null` is reported as missing rather than sent
/// as the text `null`.
fn present<'a>(binding: &ArgumentBinding, arguments: &'a Map<String, Value>) -> Result<Option<&'a Value>, BuildError> {
    match arguments.get(&binding.argument) {
        None | Some(Value::Null) if binding.required => Err(missing(&binding.argument)),
        None | Some(Value::Null) => Ok(None),
        Some(value) => Ok(Some(value)),
    }
}

/// Strings as themselves, numbers and booleans as their JSON text; `None` for everything else.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A parameter value reduced to the three shapes the OpenAPI styles know, still unencoded.
enum Shape {
    Scalar(String),
    List(Vec<String>),
    Pairs(Vec<(String, String)>),
}

fn nested_error(binding: &ArgumentBinding) -> BuildError {
    invalid(
        &binding.argument,
        format!(
            "a {} parameter cannot hold arrays or objects nested inside arrays or objects",
            binding.location.label()
        ),
    )
}

/// Reduces a non-null value to a [`Shape`]; `null` members are undefined (RFC 6570) and skipped.
fn shape(binding: &ArgumentBinding, value: &Value) -> Result<Shape, BuildError> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter(|item| !item.is_null())
            .map(|item| scalar_text(item).ok_or_else(|| nested_error(binding)))
            .collect::<Result<Vec<_>, _>>()
            .map(Shape::List),
        Value::Object(map) => map
            .iter()
            .filter(|(_, member)| !member.is_null())
            .map(|(key, member)| {
                scalar_text(member).map(|text| (key.clone(), text)).ok_or_else(|| nested_error(binding))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Shape::Pairs),
        Value::Null => Err(invalid(&binding.argument, "null is not a value this parameter can hold")),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            Ok(Shape::Scalar(scalar_text(value).unwrap_or_default()))
        }
    }
}

fn encode(text: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(text, set).to_string()
}

/// Encodes each item and joins them with a delimiter that stays literal.
fn join_encoded<'a>(
    items: impl IntoIterator<Item = &'a String>,
    encode_one: impl Fn(&str) -> String,
    sep: &str,
) -> String {
    items.into_iter().map(|item| encode_one(item)).collect::<Vec<_>>().join(sep)
}

/// Encodes `k,v,k2,v2` (not exploded) or `k=v,k2=v2` (exploded) with the given separator between
/// members; both the name and the value are agent data, so both are encoded.
fn join_pairs(pairs: &[(String, String)], encode_one: impl Fn(&str) -> String, explode: bool, sep: &str) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            if explode {
                format!("{}={}", encode_one(key), encode_one(value))
            } else {
                format!("{}{sep}{}", encode_one(key), encode_one(value))
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

// ---------------------------------------------------------------------------------------------
// Path
// ---------------------------------------------------------------------------------------------

/// Expands the path template one segment at a time, so a segment made entirely by agent values can
/// be checked for being empty or a dot segment. Substitution is a single pass over the template: a
/// value that looks like `{other}` is encoded, never expanded again.
fn expand_path(call: &UpstreamCall, arguments: &Map<String, Value>) -> Result<String, BuildError> {
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

// ---------------------------------------------------------------------------------------------
// Query
// ---------------------------------------------------------------------------------------------

/// Appends the `key=value` pieces of one query parameter. Keys are always strictly encoded; values
/// keep reserved characters only with `allowReserved`. Structural delimiters (`,`, `%20`, `|`, `[`,
/// `]`) are added after encoding, so an agent's own commas, pipes or brackets stay distinguishable: an
/// item's own `|` is always sent as `%7C` (it is not a reserved character), so the literal `|` that
/// pipeDelimited puts between items, as OpenAPI's examples write it, cannot be confused with it.
fn query_pieces(binding: &ArgumentBinding, value: &Value, out: &mut Vec<String>) -> Result<(), BuildError> {
    let value_set = if binding.allow_reserved { QUERY_ALLOW_RESERVED } else { STRICT };
    let encode_value = |text: &str| encode(text, value_set);
    let key = encode(&binding.wire_name, STRICT);

    if binding.style == ParameterStyle::DeepObject && value.is_object() {
        return deep_object(binding, &key, value, &encode_value, out);
    }
    let delimiter = match binding.style {
        ParameterStyle::SpaceDelimited if !binding.explode => Some("%20"),
        ParameterStyle::PipeDelimited if !binding.explode => Some("|"),
        _ => None,
    };
    // deepObject is only defined for objects; for anything else it falls back to exploded form,
    // the query default.
    let explode = binding.explode || binding.style == ParameterStyle::DeepObject;
    match shape(binding, value)? {
        Shape::Scalar(text) => out.push(format!("{key}={}", encode_value(&text))),
        // An empty array or object is undefined (RFC 6570): the parameter is left out.
        Shape::List(items) if items.is_empty() => {}
        Shape::List(items) => match delimiter {
            Some(sep) => out.push(format!("{key}={}", join_encoded(&items, encode_value, sep))),
            None if explode => out.extend(items.iter().map(|item| format!("{key}={}", encode_value(item)))),
            None => out.push(format!("{key}={}", join_encoded(&items, encode_value, ","))),
        },
        Shape::Pairs(pairs) if pairs.is_empty() => {}
        Shape::Pairs(pairs) => match delimiter {
            Some(sep) => out.push(format!("{key}={}", join_pairs(&pairs, encode_value, false, sep))),
            // Exploded form objects turn each property into its own parameter.
            None if explode => out.extend(
                pairs.iter().map(|(name, member)| format!("{}={}", encode(name, STRICT), encode_value(member))),
            ),
            None => out.push(format!("{key}={}", join_pairs(&pairs, encode_value, false, ","))),
        },
    }
    Ok(())
}

/// `key[prop]=v`, `key[prop][sub]=v` for nested objects, and `key[prop]=a&key[prop]=b` for arrays
/// (the non-standard `key[prop][]=a` is not used). The brackets stay literal as in the OpenAPI
/// examples; the names between them are strictly encoded.
fn deep_object(
    binding: &ArgumentBinding,
    prefix: &str,
    value: &Value,
    encode_value: &dyn Fn(&str) -> String,
    out: &mut Vec<String>,
) -> Result<(), BuildError> {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (name, member) in map {
                deep_object(binding, &format!("{prefix}[{}]", encode(name, STRICT)), member, encode_value, out)?;
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter(|item| !item.is_null()) {
                let text = scalar_text(item).ok_or_else(|| nested_error(binding))?;
                out.push(format!("{prefix}={}", encode_value(&text)));
            }
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            out.push(format!("{prefix}={}", encode_value(&scalar_text(value).unwrap_or_default())));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Headers and cookies
// ---------------------------------------------------------------------------------------------

/// RFC 9110 `tchar`: what a header or cookie name may contain.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Refuses values that could end the header early (CR, LF, NUL), other control characters, and
/// non-ASCII text, whose meaning in a header depends on the receiver. The value itself is never
/// echoed: it may be a secret or an injection attempt.
fn check_header_value(argument: &str, value: &str) -> Result<(), BuildError> {
    for character in value.chars() {
        if matches!(character, '\r' | '\n' | '\0') {
            return Err(invalid(argument, "a header value cannot contain line breaks or NUL characters"));
        }
        if !character.is_ascii() {
            return Err(invalid(argument, "a header value must be ASCII text"));
        }
        if character.is_ascii_control() && character != '\t' {
            return Err(invalid(argument, "a header value cannot contain control characters"));
        }
    }
    Ok(())
}

/// Simple style, unencoded (headers are not URLs); `None` for an empty array or object.
fn header_value(binding: &ArgumentBinding, value: &Value) -> Result<Option<String>, BuildError> {
    if !is_token(&binding.wire_name) {
        return Err(invalid(
            &binding.argument,
            "the header name from the API description is not a valid HTTP header name",
        ));
    }
    // Compile leaves these out of the inputSchema; refusing again keeps a hand-built binding honest.
    if crate::catalogue::is_reserved_header(&binding.wire_name) {
        return Err(invalid(
            &binding.argument,
            format!(
                "the '{}' header is reserved (credentials, cookies, forwarding, framing or routing) and cannot be set by a tool argument",
                binding.wire_name
            ),
        ));
    }
    let identity = |text: &str| text.to_string();
    let text = match shape(binding, value)? {
        Shape::Scalar(text) => text,
        Shape::List(items) if items.is_empty() => return Ok(None),
        Shape::List(items) => items.join(","),
        Shape::Pairs(pairs) if pairs.is_empty() => return Ok(None),
        Shape::Pairs(pairs) => join_pairs(&pairs, identity, binding.explode, ","),
    };
    check_header_value(&binding.argument, &text)?;
    Ok(Some(text))
}

/// Form style (the only cookie style in OpenAPI 3.0): `name=value`, exploded arrays repeat the
/// cookie, exploded objects make each property a cookie. Values (and property names) are strictly
/// encoded, which keeps `;`, `,`, spaces and quotes out of the `Cookie` header.
fn cookie_pieces(binding: &ArgumentBinding, value: &Value, out: &mut Vec<String>) -> Result<(), BuildError> {
    if !is_token(&binding.wire_name) {
        return Err(invalid(&binding.argument, "the cookie name from the API description is not a valid cookie name"));
    }
    let name = binding.wire_name.as_str();
    let strict = |text: &str| encode(text, STRICT);
    match shape(binding, value)? {
        Shape::Scalar(text) => out.push(format!("{name}={}", strict(&text))),
        Shape::List(items) if items.is_empty() => {}
        Shape::List(items) if binding.explode => {
            out.extend(items.iter().map(|item| format!("{name}={}", strict(item))))
        }
        Shape::List(items) => out.push(format!("{name}={}", join_encoded(&items, strict, ","))),
        Shape::Pairs(pairs) if pairs.is_empty() => {}
        Shape::Pairs(pairs) if binding.explode => {
            out.extend(pairs.iter().map(|(key, member)| format!("{}={}", strict(key), strict(member))));
        }
        Shape::Pairs(pairs) => out.push(format!("{name}={}", join_pairs(&pairs, strict, false, ","))),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Body
// ---------------------------------------------------------------------------------------------

/// Which parts of the body carry base64 that must be decoded.
enum Binary<'a> {
    /// The whole body came from one argument; `true` when that argument is binary.
    Whole(bool),
    /// The body was assembled from properties; (wire name, argument) of the binary ones.
    Properties(Vec<(&'a str, &'a str)>),
}

/// The media type without parameters, lowercased: `Application/JSON; charset=utf-8` → `application/json`.
fn media_essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// `application/json`, any `+json` suffix, and any `*/json` such as `text/json`.
fn is_json(essence: &str) -> bool {
    essence.ends_with("+json") || essence.split_once('/').is_some_and(|(_, subtype)| subtype == "json")
}

fn build_body(
    call: &UpstreamCall,
    arguments: &Map<String, Value>,
    binary_arguments: &[&str],
) -> Result<RequestBodyBytes, BuildError> {
    let is_binary = |argument: &str| binary_arguments.contains(&argument);
    let body_required = call.body.as_ref().is_some_and(|body| body.required);
    // Bindings without a declared body cannot come from `compile/`; JSON is the safe reading.
    let content_type = call.body.as_ref().map_or("application/json", |body| body.content_type.trim());
    let whole = call.arguments.iter().find(|binding| binding.location == ArgumentLocation::Body);
    let properties: Vec<&ArgumentBinding> =
        call.arguments.iter().filter(|binding| binding.location == ArgumentLocation::BodyProperty).collect();

    // Properties keep `null` (it means something in JSON); form and multipart skip it later.
    let mut object = Map::new();
    let mut binary_properties = Vec::new();
    let mut first_missing: Option<&str> = None;
    for property in &properties {
        match arguments.get(&property.argument) {
            Some(value) => {
                object.insert(property.wire_name.clone(), value.clone());
                if is_binary(&property.argument) {
                    binary_properties.push((property.wire_name.as_str(), property.argument.as_str()));
                }
            }
            None if property.required && first_missing.is_none() => first_missing = Some(&property.argument),
            None => {}
        }
    }

    // A `null` whole body is read as "no body": sending the JSON literal `null` is almost never meant.
    let whole_value = whole.and_then(|binding| arguments.get(&binding.argument).map(|value| (binding, value)));
    let whole_value = whole_value.filter(|(_, value)| !value.is_null());
    let body_argument = whole.map_or("body", |binding| binding.argument.as_str());

    let (value, binary): (Cow<'_, Value>, Binary<'_>) = if let Some((binding, value)) = whole_value {
        if !object.is_empty() {
            return Err(invalid(&binding.argument, "the whole body and individual body properties were both given"));
        }
        (Cow::Borrowed(value), Binary::Whole(is_binary(&binding.argument)))
    } else if whole.is_some_and(|binding| binding.required) {
        return Err(missing(body_argument));
    } else if !object.is_empty() || (body_required && !properties.is_empty()) {
        if let Some(argument) = first_missing {
            return Err(missing(argument));
        }
        // A required body whose properties are all optional is sent as `{}`: that is a valid body,
        // and the agent has no `body` argument it could supply instead.
        (Cow::Owned(Value::Object(object)), Binary::Properties(binary_properties))
    } else if body_required {
        return Err(missing(body_argument));
    } else {
        return Ok(RequestBodyBytes::None);
    };

    let essence = media_essence(content_type);
    if is_json(&essence) {
        let bytes = serde_json::to_vec(value.as_ref())
            .map_err(|error| invalid(body_argument, format!("the body cannot be serialized as JSON: {error}")))?;
        return Ok(RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes });
    }
    // The argument behind a body member, which is what errors must name for the agent.
    let argument_of = |wire_name: &str| -> String {
        properties
            .iter()
            .find(|binding| binding.wire_name == wire_name)
            .map_or(body_argument, |binding| binding.argument.as_str())
            .to_string()
    };
    let encoding_of = |name: &str| call.body.as_ref().and_then(|body| body.encoding_of(name));
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            let Value::Object(map) = value.as_ref() else {
                return Err(invalid(body_argument, "a form-encoded body must be an object"));
            };
            let text = form::urlencoded_body(map, encoding_of)
                .map_err(|(wire_name, reason)| invalid(&argument_of(&wire_name), reason))?;
            Ok(RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes: text.into_bytes() })
        }
        "multipart/form-data" => {
            let parts = multipart_body(body_argument, &value, &binary, &encoding_of, &argument_of)?;
            if parts.is_empty() {
                // An HTTP client sends a form without parts as no bytes at all, which multipart
                // parsers refuse; the empty form of RFC 2046 is the closing delimiter alone.
                let content_type = format!("{content_type}; boundary={EMPTY_FORM_BOUNDARY}");
                let bytes = format!("--{EMPTY_FORM_BOUNDARY}--\r\n").into_bytes();
                return Ok(RequestBodyBytes::Bytes { content_type, bytes });
            }
            Ok(RequestBodyBytes::Multipart(parts))
        }
        _ => {
            let bytes = match (value.as_ref(), &binary) {
                (Value::String(text), Binary::Whole(true)) => decode_base64(text)
                    .ok_or_else(|| invalid(body_argument, "the value is not valid base64 (standard or URL-safe)"))?,
                // Any other string is the body's text as written (text/*, XML, YAML, CSV...):
                // JSON-quoting it would send the quotes too.
                (Value::String(text), _) => text.as_bytes().to_vec(),
                (other, _) => serde_json::to_vec(other)
                    .map_err(|error| invalid(body_argument, format!("the body cannot be serialized: {error}")))?,
            };
            Ok(RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes })
        }
    }
}

/// The boundary of a multipart body without parts (nothing can collide with it).
const EMPTY_FORM_BOUNDARY: &str = "api2mcp-empty-form";

/// One part per property, in argument order. Binary properties are decoded from base64 into file
/// parts (one per item for an array of files), typed by the `encoding` entry's `contentType`
/// (default `application/octet-stream`). Otherwise, by OpenAPI's default encodings: strings,
/// numbers and booleans are text parts, objects are JSON parts, arrays give one part per item (the
/// repeated-field convention every multipart parser understands). An entry's `contentType` types
/// the part (a JSON type sends the whole value as one JSON part); an entry's `style` turns the
/// property into form fields, one text part each.
fn multipart_body<'a>(
    argument: &str,
    value: &Value,
    binary: &Binary<'_>,
    encoding_of: &dyn Fn(&str) -> Option<&'a crate::catalogue::PropertyEncoding>,
    argument_of: &dyn Fn(&str) -> String,
) -> Result<Vec<MultipartPart>, BuildError> {
    let Value::Object(map) = value else {
        return Err(invalid(argument, "a multipart/form-data body must be an object"));
    };
    let mut parts = Vec::new();
    for (name, member) in map {
        let encoding = encoding_of(name);
        let part_type = encoding.and_then(|encoding| encoding.content_type.as_deref());
        // The argument behind a binary property, which is what errors must name for the agent.
        let file_argument = match binary {
            Binary::Properties(files) => {
                files.iter().find(|(wire, _)| *wire == name.as_str()).map(|(_, argument)| *argument)
            }
            Binary::Whole(_) => None,
        };
        if file_argument.is_none() && form::is_styled(encoding) {
            let fields = form::fields(name, member, encoding).map_err(|reason| invalid(&argument_of(name), reason))?;
            parts.extend(fields.iter().map(|field| MultipartPart {
                name: field.multipart_name(),
                value: MultipartValue::Text(field.multipart_text()),
            }));
            continue;
        }
        let json_part = part_type.is_some_and(|part_type| is_json(&media_essence(part_type)));
        let items: Vec<&Value> = match member {
            Value::Array(items) if !json_part => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let value = match (item, part_type) {
                (Value::Null, _) => continue,
                (Value::String(text), _) if file_argument.is_some() => MultipartValue::File {
                    bytes: decode_base64(text).ok_or_else(|| {
                        invalid(
                            file_argument.unwrap_or(argument),
                            "the value is not valid base64 (standard or URL-safe)",
                        )
                    })?,
                    file_name: name.clone(),
                    content_type: part_type.unwrap_or("application/octet-stream").to_string(),
                },
                (item, Some(part_type)) if json_part => {
                    MultipartValue::Typed { text: item.to_string(), content_type: part_type.to_string() }
                }
                (Value::Array(_) | Value::Object(_), _) => MultipartValue::Json(item.to_string()),
                (scalar, Some(part_type)) => MultipartValue::Typed {
                    text: scalar_text(scalar).unwrap_or_default(),
                    content_type: part_type.to_string(),
                },
                (scalar, None) => MultipartValue::Text(scalar_text(scalar).unwrap_or_default()),
            };
            parts.push(MultipartPart { name: name.clone(), value });
        }
    }
    Ok(parts)
}

/// Decodes standard (`+/`) or URL-safe (`-_`) base64, padding optional but exact when present,
/// ASCII whitespace ignored (agents and MIME tools wrap long lines). `None` for any other character,
/// data after padding, or an impossible length. The URL-safe letters are mapped onto the standard
/// ones first, so one alphabet reads both.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const fn engine(padding: DecodePaddingMode) -> GeneralPurpose {
        GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_padding_mode(padding).with_decode_allow_trailing_bits(true),
        )
    }
    const PADDED: GeneralPurpose = engine(DecodePaddingMode::RequireCanonical);
    const UNPADDED: GeneralPurpose = engine(DecodePaddingMode::RequireNone);
    let standard: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .map(|byte| match byte {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    let engine = if standard.ends_with(b"=") { &PADDED } else { &UNPADDED };
    engine.decode(standard).ok()
}

// ---------------------------------------------------------------------------------------------
// URL checks
// ---------------------------------------------------------------------------------------------

fn parse_base(base: &str) -> Result<Url, BuildError> {
    let parsed = Url::parse(base)
        .map_err(|error| invalid(BASE_URL_ARGUMENT, format!("the base URL is not a valid URL: {error}")))?;
    if parsed.cannot_be_a_base() || parsed.host_str().is_none() {
        return Err(invalid(BASE_URL_ARGUMENT, "the base URL must be absolute, with a host"));
    }
    // The path is appended as text, so a query or fragment in the base would swallow it.
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(BASE_URL_ARGUMENT, "the base URL cannot have a query or a fragment"));
    }
    Ok(parsed)
}

/// Defence in depth: re-parses the finished URL with the parser the HTTP client uses and requires
/// the base's origin, and exactly the path and query built here, so nothing an agent sent was
/// re-interpreted (dot segments resolved, delimiters reinterpreted, host changed).
fn check_url(base: &Url, url: &str, path: &str, query: &str) -> Result<(), BuildError> {
    let parsed = Url::parse(url).map_err(|_| invalid(URL_ARGUMENT, "the request URL does not parse"))?;
    let same_origin = parsed.scheme() == base.scheme()
        && parsed.host_str() == base.host_str()
        && parsed.port_or_known_default() == base.port_or_known_default();
    if !same_origin {
        return Err(invalid(URL_ARGUMENT, "the request URL would leave the upstream's origin"));
    }
    let mut expected_path = format!("{}{path}", base.path().trim_end_matches('/'));
    if expected_path.is_empty() {
        expected_path.push('/');
    }
    if parsed.path() != expected_path || parsed.query().unwrap_or_default() != query || parsed.fragment().is_some() {
        return Err(invalid(URL_ARGUMENT, "the request URL would be rewritten by the HTTP client"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalogue::{CredentialChoice, PropertyEncoding, RequestBody};

    const BASE: &str = "https://api.example.com/v1";

    fn bind(name: &str, location: ArgumentLocation, style: ParameterStyle, explode: bool) -> ArgumentBinding {
        ArgumentBinding {
            argument: name.to_string(),
            location,
            wire_name: name.to_string(),
            required: location == ArgumentLocation::Path,
            style,
            explode,
            allow_reserved: false,
        }
    }

    fn path_param(name: &str) -> ArgumentBinding {
        bind(name, ArgumentLocation::Path, ParameterStyle::Simple, false)
    }

    fn query_param(name: &str) -> ArgumentBinding {
        bind(name, ArgumentLocation::Query, ParameterStyle::Form, true)
    }

    fn required(mut binding: ArgumentBinding) -> ArgumentBinding {
        binding.required = true;
        binding
    }

    fn get(path: &str, arguments: Vec<ArgumentBinding>) -> UpstreamCall {
        UpstreamCall {
            method: HttpMethod::Get,
            path: path.to_string(),
            arguments,
            body: None,
            accept: Vec::new(),
            fixed_query: Vec::new(),
            declared_content_type: None,
            credentials: CredentialChoice::All,
        }
    }

    fn post(content_type: &str, body_required: bool, arguments: Vec<ArgumentBinding>) -> UpstreamCall {
        UpstreamCall {
            method: HttpMethod::Post,
            path: "/upload".to_string(),
            arguments,
            body: Some(RequestBody {
                content_type: content_type.to_string(),
                required: body_required,
                encoding: Vec::new(),
            }),
            accept: Vec::new(),
            fixed_query: Vec::new(),
            declared_content_type: None,
            credentials: CredentialChoice::All,
        }
    }

    fn property(name: &str, is_required: bool) -> ArgumentBinding {
        ArgumentBinding {
            required: is_required,
            ..bind(name, ArgumentLocation::BodyProperty, ParameterStyle::Form, true)
        }
    }

    fn whole_body(is_required: bool) -> ArgumentBinding {
        ArgumentBinding { required: is_required, ..bind("body", ArgumentLocation::Body, ParameterStyle::Form, true) }
    }

    fn args(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("test arguments must be an object, got {other}"),
        }
    }

    fn run(call: &UpstreamCall, value: Value) -> Result<BuiltRequest, BuildError> {
        build(BASE, call, &args(value), &[])
    }

    fn run_binary(call: &UpstreamCall, value: Value, binary: &[&str]) -> Result<BuiltRequest, BuildError> {
        build(BASE, call, &args(value), binary)
    }

    fn url_of(call: &UpstreamCall, value: Value) -> String {
        run(call, value).expect("request builds").url
    }

    fn body_of(call: &UpstreamCall, value: Value, binary: &[&str]) -> RequestBodyBytes {
        run_binary(call, value, binary).expect("request builds").body
    }

    fn bytes(content_type: &str, bytes: &[u8]) -> RequestBodyBytes {
        RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes: bytes.to_vec() }
    }

    fn is_invalid(result: Result<BuiltRequest, BuildError>, argument: &str) -> bool {
        matches!(result, Err(BuildError::Invalid { argument: found, .. }) if found == argument)
    }

    /// The OpenAPI 3.0.3 style examples use these three values throughout.
    fn colors() -> [Value; 3] {
        [json!("blue"), json!(["blue", "black", "brown"]), json!({"R": 100, "G": 200, "B": 150})]
    }

    // --- path: hostile values -----------------------------------------------------------------

    #[test]
    fn hostile_path_values_stay_inside_their_segment() {
        // (value, expected segment; None when the value must be refused)
        let table: &[(&str, Option<&str>)] = &[
            ("../admin", Some("..%2Fadmin")),
            ("..", None),
            (".", None),
            ("%2e%2e", Some("%252e%252e")),
            (".%2e", Some(".%252e")),
            ("...", Some("...")),
            ("a/b", Some("a%2Fb")),
            ("a?b=c", Some("a%3Fb%3Dc")),
            ("a#frag", Some("a%23frag")),
            ("user@evil.com", Some("user%40evil.com")),
            ("http://evil.com", Some("http%3A%2F%2Fevil.com")),
            ("//evil.com", Some("%2F%2Fevil.com")),
            (r"\\evil", Some("%5C%5Cevil")),
            (" spaces ", Some("%20spaces%20")),
            ("ü", Some("%C3%BC")),
            ("%00", Some("%2500")),
            ("\0", Some("%00")),
            ("\r\n", Some("%0D%0A")),
            ("a;b", Some("a%3Bb")),
            ("a=b", Some("a%3Db")),
            ("a,b", Some("a%2Cb")),
            ("{x}", Some("%7Bx%7D")),
            ("", None),
        ];
        let call = get("/pets/{petId}/toys", vec![path_param("petId")]);
        for (value, expected) in table {
            let result = run(&call, json!({ "petId": value }));
            match expected {
                Some(segment) => {
                    let url = result.unwrap_or_else(|error| panic!("{value:?}: {error}")).url;
                    assert_eq!(url, format!("https://api.example.com/v1/pets/{segment}/toys"), "value {value:?}");
                    let parsed = Url::parse(&url).expect("parses");
                    assert_eq!(parsed.host_str(), Some("api.example.com"), "value {value:?}");
                    assert_eq!(parsed.path_segments().map(Iterator::count), Some(4), "value {value:?}");
                    assert_eq!(parsed.as_str(), url, "the HTTP client would send a different URL for {value:?}");
                }
                None => assert!(is_invalid(result, "petId"), "value {value:?} must be refused"),
            }
        }
    }

    #[test]
    fn dots_inside_a_longer_segment_are_encoded_not_refused() {
        let call = get("/files/{name}.json", vec![path_param("name")]);
        assert_eq!(url_of(&call, json!({"name": ".."})), "https://api.example.com/v1/files/%2E%2E.json");
        assert_eq!(url_of(&call, json!({"name": "."})), "https://api.example.com/v1/files/%2E.json");
    }

    #[test]
    fn segments_assembled_from_several_values_cannot_form_dot_segments() {
        let call = get("/files/{a}{b}", vec![path_param("a"), path_param("b")]);
        assert!(is_invalid(run(&call, json!({"a": ".", "b": "."})), "a"));
        // Label style with empty items would otherwise expand to `..`.
        let call = get("/x/{v}", vec![bind("v", ArgumentLocation::Path, ParameterStyle::Label, true)]);
        assert!(is_invalid(run(&call, json!({"v": ["", ""]})), "v"));
        assert!(is_invalid(run(&call, json!({"v": ""})), "v"));
        assert!(is_invalid(run(&call, json!({"v": []})), "v"));
    }

    #[test]
    fn a_value_that_looks_like_a_placeholder_is_not_expanded_again() {
        let call = get("/a/{x}/{y}", vec![path_param("x"), path_param("y")]);
        assert_eq!(url_of(&call, json!({"x": "{y}", "y": "2"})), "https://api.example.com/v1/a/%7By%7D/2");
    }

    #[test]
    fn template_without_leading_slash_cannot_glue_onto_the_host() {
        let call = get("{p}", vec![path_param("p")]);
        let url = build("https://api.example.com", &call, &args(json!({"p": "@evil.com"})), &[]).expect("builds").url;
        assert_eq!(url, "https://api.example.com/%40evil.com");
        assert_eq!(Url::parse(&url).expect("parses").host_str(), Some("api.example.com"));
    }

    #[test]
    fn path_scalars_use_their_json_text() {
        let call = get("/items/{id}", vec![path_param("id")]);
        assert_eq!(url_of(&call, json!({"id": 42})), "https://api.example.com/v1/items/42");
        assert_eq!(url_of(&call, json!({"id": -1.5})), "https://api.example.com/v1/items/-1.5");
        assert_eq!(url_of(&call, json!({"id": true})), "https://api.example.com/v1/items/true");
    }

    #[test]
    fn path_errors() {
        let call = get("/pets/{petId}", vec![path_param("petId")]);
        assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "petId".into() }));
        assert!(is_invalid(run(&call, json!({"petId": null})), "petId"));
        assert!(is_invalid(run(&call, json!({"petId": {"a": {"b": 1}}})), "petId"));
        assert!(is_invalid(run(&call, json!({"petId": [[1]]})), "petId"));
        // A placeholder with no binding, and a binding in another location, both leave it unfilled.
        assert!(is_invalid(run(&get("/pets/{petId}", vec![]), json!({"petId": 1})), "petId"));
        assert!(is_invalid(run(&get("/pets/{petId}", vec![query_param("petId")]), json!({"petId": 1})), "petId"));
        assert!(is_invalid(run(&get("/pets/{petId", vec![path_param("petId")]), json!({"petId": 1})), "path"));
    }

    #[test]
    fn path_bindings_use_wire_names_in_the_template() {
        let binding = ArgumentBinding { wire_name: "pet-id".into(), ..path_param("pet_id") };
        let call = get("/pets/{pet-id}", vec![binding]);
        assert_eq!(url_of(&call, json!({"pet_id": "7"})), "https://api.example.com/v1/pets/7");
    }

    // --- path: styles (OpenAPI 3.0.3 style examples, label non-exploded per RFC 6570) --------

    #[test]
    fn path_styles_match_the_openapi_examples() {
        let table: &[(ParameterStyle, bool, [&str; 3])] = &[
            (ParameterStyle::Simple, false, ["blue", "blue,black,brown", "R,100,G,200,B,150"]),
            (ParameterStyle::Simple, true, ["blue", "blue,black,brown", "R=100,G=200,B=150"]),
            (ParameterStyle::Label, false, [".blue", ".blue,black,brown", ".R,100,G,200,B,150"]),
            (ParameterStyle::Label, true, [".blue", ".blue.black.brown", ".R=100.G=200.B=150"]),
            (ParameterStyle::Matrix, false, [";color=blue", ";color=blue,black,brown", ";color=R,100,G,200,B,150"]),
            (
                ParameterStyle::Matrix,
                true,
                [";color=blue", ";color=blue;color=black;color=brown", ";R=100;G=200;B=150"],
            ),
        ];
        for (style, explode, expected) in table {
            let call = get("/items/{color}", vec![bind("color", ArgumentLocation::Path, *style, *explode)]);
            for (value, segment) in colors().into_iter().zip(expected) {
                let url =
                    run(&call, json!({ "color": value })).unwrap_or_else(|e| panic!("{style:?}/{explode}: {e}")).url;
                assert_eq!(
                    url,
                    format!("https://api.example.com/v1/items/{segment}"),
                    "{style:?} explode={explode} {value}"
                );
            }
        }
    }

    #[test]
    fn path_styles_encode_agent_text_but_not_their_delimiters() {
        let call = get("/items/{c}", vec![bind("c", ArgumentLocation::Path, ParameterStyle::Matrix, true)]);
        assert_eq!(url_of(&call, json!({"c": ["a;b", "c=d"]})), "https://api.example.com/v1/items/;c=a%3Bb;c=c%3Dd");
        assert_eq!(url_of(&call, json!({"c": ""})), "https://api.example.com/v1/items/;c");
        let call = get("/items/{c}", vec![bind("c", ArgumentLocation::Path, ParameterStyle::Simple, true)]);
        assert_eq!(
            url_of(&call, json!({"c": {"k,1": "v=2", "skip": null}})),
            "https://api.example.com/v1/items/k%2C1=v%3D2"
        );
    }

    // --- query ---------------------------------------------------------------------------------

    #[test]
    fn query_styles_match_the_openapi_examples() {
        let form_exploded = ["color=blue", "color=blue&color=black&color=brown", "R=100&G=200&B=150"];
        let deep = ["color=blue", "color=blue&color=black&color=brown", "color[R]=100&color[G]=200&color[B]=150"];
        let table: &[(ParameterStyle, bool, [&str; 3])] = &[
            (ParameterStyle::Form, false, ["color=blue", "color=blue,black,brown", "color=R,100,G,200,B,150"]),
            (ParameterStyle::Form, true, form_exploded),
            (
                ParameterStyle::SpaceDelimited,
                false,
                ["color=blue", "color=blue%20black%20brown", "color=R%20100%20G%20200%20B%20150"],
            ),
            (ParameterStyle::SpaceDelimited, true, form_exploded),
            (ParameterStyle::PipeDelimited, false, ["color=blue", "color=blue|black|brown", "color=R|100|G|200|B|150"]),
            (ParameterStyle::PipeDelimited, true, form_exploded),
            (ParameterStyle::DeepObject, true, deep),
            (ParameterStyle::DeepObject, false, deep),
        ];
        for (style, explode, expected) in table {
            let call = get("/items", vec![bind("color", ArgumentLocation::Query, *style, *explode)]);
            for (value, query) in colors().into_iter().zip(expected) {
                let url =
                    run(&call, json!({ "color": value })).unwrap_or_else(|e| panic!("{style:?}/{explode}: {e}")).url;
                assert_eq!(
                    url,
                    format!("https://api.example.com/v1/items?{query}"),
                    "{style:?} explode={explode} {value}"
                );
            }
        }
    }

    #[test]
    fn deep_object_nests_objects_and_repeats_arrays() {
        let call = get("/search", vec![bind("filter", ArgumentLocation::Query, ParameterStyle::DeepObject, true)]);
        let url = url_of(
            &call,
            json!({"filter": {"owner": {"login": "a b"}, "tags": ["x", null, "y"], "gone": null, "n": 1}}),
        );
        assert_eq!(
            url,
            "https://api.example.com/v1/search?filter[owner][login]=a%20b&filter[tags]=x&filter[tags]=y&filter[n]=1"
        );
        let hostile = url_of(&call, json!({"filter": {"a]&b[": "c&d"}}));
        assert_eq!(hostile, "https://api.example.com/v1/search?filter[a%5D%26b%5B]=c%26d");
        assert!(is_invalid(run(&call, json!({"filter": {"a": [{"b": 1}]}})), "filter"));
    }

    #[test]
    fn hostile_query_values_cannot_add_parameters() {
        let table: &[(&str, &str)] = &[
            ("a&admin=true", "q=a%26admin%3Dtrue"),
            ("x=y", "q=x%3Dy"),
            ("#", "q=%23"),
            ("+", "q=%2B"),
            ("%26", "q=%2526"),
            ("\n", "q=%0A"),
            ("a b", "q=a%20b"),
            ("ü", "q=%C3%BC"),
            ("", "q="),
        ];
        for allow_reserved in [false, true] {
            let call = get("/s", vec![ArgumentBinding { allow_reserved, ..query_param("q") }]);
            for (value, query) in table {
                let url = url_of(&call, json!({ "q": value }));
                assert_eq!(
                    url,
                    format!("https://api.example.com/v1/s?{query}"),
                    "{value:?} allow_reserved={allow_reserved}"
                );
                let parsed = Url::parse(&url).expect("parses");
                assert_eq!(parsed.query_pairs().count(), 1, "{value:?}");
                assert_eq!(parsed.query_pairs().next().map(|(_, v)| v.into_owned()), Some(value.to_string()));
            }
        }
        // Property names that become keys are agent data too.
        let call = get("/s", vec![query_param("o")]);
        assert_eq!(url_of(&call, json!({"o": {"a&b=c": "d"}})), "https://api.example.com/v1/s?a%26b%3Dc=d");
    }

    #[test]
    fn allow_reserved_keeps_reserved_characters_in_values_only() {
        let value = "a/b:c?d[e]@f!$(g)*,h;i'j&k=l#m+n%o";
        let strict = get("/s", vec![bind("q x", ArgumentLocation::Query, ParameterStyle::Form, true)]);
        assert_eq!(
            url_of(&strict, json!({ "q x": value })),
            "https://api.example.com/v1/s?q%20x=a%2Fb%3Ac%3Fd%5Be%5D%40f%21%24%28g%29%2A%2Ch%3Bi%27j%26k%3Dl%23m%2Bn%25o"
        );
        let relaxed = get("/s", vec![ArgumentBinding { allow_reserved: true, ..strict.arguments[0].clone() }]);
        assert_eq!(
            url_of(&relaxed, json!({ "q x": value })),
            "https://api.example.com/v1/s?q%20x=a/b:c?d[e]@f!$(g)*,h;i%27j%26k%3Dl%23m%2Bn%25o"
        );
    }

    #[test]
    fn query_omissions_and_scalars() {
        let call = get(
            "/s",
            vec![
                query_param("empty"),
                query_param("nothing"),
                query_param("absent"),
                query_param("flag"),
                query_param("n"),
            ],
        );
        let url = url_of(&call, json!({"empty": [], "nothing": null, "flag": false, "n": 1.5}));
        assert_eq!(url, "https://api.example.com/v1/s?flag=false&n=1.5");
        // No `?` at all when nothing remains.
        assert_eq!(url_of(&call, json!({"empty": {}, "nothing": [null]})), "https://api.example.com/v1/s");
        let call = get("/s", vec![required(query_param("q"))]);
        assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "q".into() }));
        assert_eq!(run(&call, json!({"q": null})), Err(BuildError::Missing { argument: "q".into() }));
        assert!(is_invalid(run(&call, json!({"q": [[1]]})), "q"));
    }

    #[test]
    fn query_follows_path_and_keeps_binding_order() {
        let call = get("/pets/{id}", vec![path_param("id"), query_param("b"), query_param("a"), query_param("b")]);
        assert_eq!(url_of(&call, json!({"id": 1, "a": 2, "b": 3})), "https://api.example.com/v1/pets/1?b=3&a=2&b=3");
    }

    // --- headers and cookies ---------------------------------------------------------------------

    #[test]
    fn header_styles_match_the_openapi_examples() {
        let table: &[(bool, [&str; 3])] = &[
            (false, ["blue", "blue,black,brown", "R,100,G,200,B,150"]),
            (true, ["blue", "blue,black,brown", "R=100,G=200,B=150"]),
        ];
        for (explode, expected) in table {
            let call = get("/h", vec![bind("X-Color", ArgumentLocation::Header, ParameterStyle::Simple, *explode)]);
            for (value, header) in colors().into_iter().zip(expected) {
                let built = run(&call, json!({ "X-Color": value })).expect("builds");
                assert_eq!(built.headers, vec![("X-Color".to_string(), header.to_string())], "explode={explode}");
            }
        }
    }

    #[test]
    fn header_values_that_could_inject_are_refused_without_echo() {
        let call = get("/h", vec![bind("X-Trace", ArgumentLocation::Header, ParameterStyle::Simple, false)]);
        for value in
            ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rX-Evil", "a\0X-Evil", "über-Evil", "a\u{7f}Evil", "a\u{1b}Evil"]
        {
            let result = run(&call, json!({ "X-Trace": value }));
            match result {
                Err(BuildError::Invalid { argument, reason }) => {
                    assert_eq!(argument, "X-Trace");
                    assert!(!reason.contains("Evil"), "the reason must not echo the value: {reason}");
                }
                other => panic!("{value:?} must be refused, got {other:?}"),
            }
        }
        // A tab and ordinary punctuation are fine.
        let built = run(&call, json!({"X-Trace": "a\tb; c=\"d\""})).expect("builds");
        assert_eq!(built.headers[0].1, "a\tb; c=\"d\"");
        // So is an array whose items would each be fine, and an empty array leaves the header out.
        assert!(is_invalid(run(&call, json!({"X-Trace": ["ok", "a\nb"]})), "X-Trace"));
        assert!(run(&call, json!({"X-Trace": []})).expect("builds").headers.is_empty());
    }

    #[test]
    fn framing_headers_and_bad_names_are_refused() {
        for name in ["Host", "content-length", "Transfer-Encoding", "Connection"] {
            let call = get("/h", vec![bind(name, ArgumentLocation::Header, ParameterStyle::Simple, false)]);
            assert!(is_invalid(run(&call, json!({ name: "x" })), name), "{name}");
            // Absent, the binding does nothing.
            assert!(run(&call, json!({})).is_ok());
        }
        let call = get("/h", vec![bind("X Bad", ArgumentLocation::Header, ParameterStyle::Simple, false)]);
        assert!(is_invalid(run(&call, json!({"X Bad": "x"})), "X Bad"));
        let call = get("/h", vec![bind("a;b", ArgumentLocation::Cookie, ParameterStyle::Form, true)]);
        assert!(is_invalid(run(&call, json!({"a;b": "x"})), "a;b"));
    }

    #[test]
    fn cookie_styles_and_joining() {
        let table: &[(bool, [&str; 3])] = &[
            (true, ["color=blue", "color=blue; color=black; color=brown", "R=100; G=200; B=150"]),
            (false, ["color=blue", "color=blue,black,brown", "color=R,100,G,200,B,150"]),
        ];
        for (explode, expected) in table {
            let call = get("/c", vec![bind("color", ArgumentLocation::Cookie, ParameterStyle::Form, *explode)]);
            for (value, cookie) in colors().into_iter().zip(expected) {
                let built = run(&call, json!({ "color": value })).expect("builds");
                assert_eq!(built.headers, vec![("Cookie".to_string(), cookie.to_string())], "explode={explode}");
            }
        }
        let call = get(
            "/c",
            vec![
                bind("session", ArgumentLocation::Cookie, ParameterStyle::Form, true),
                bind("absent", ArgumentLocation::Cookie, ParameterStyle::Form, true),
                bind("theme", ArgumentLocation::Cookie, ParameterStyle::Form, true),
            ],
        );
        let built = run(&call, json!({"session": "a; admin=1", "theme": "dark mode"})).expect("builds");
        assert_eq!(
            built.headers,
            vec![("Cookie".to_string(), "session=a%3B%20admin%3D1; theme=dark%20mode".to_string())]
        );
    }

    #[test]
    fn header_order_is_bindings_then_cookie_then_accept_then_content_type() {
        let mut call = post(
            "application/json",
            false,
            vec![
                bind("X-A", ArgumentLocation::Header, ParameterStyle::Simple, false),
                bind("c1", ArgumentLocation::Cookie, ParameterStyle::Form, true),
                query_param("q"),
                bind("X-B", ArgumentLocation::Header, ParameterStyle::Simple, false),
                bind("c2", ArgumentLocation::Cookie, ParameterStyle::Form, true),
                property("name", false),
            ],
        );
        call.accept = vec!["application/json".into(), "text/plain".into()];
        let built =
            run(&call, json!({"X-A": 1, "c1": "x", "q": "z", "X-B": true, "c2": "y z", "name": "n"})).expect("builds");
        let expected: Vec<(String, String)> = [
            ("X-A", "1"),
            ("X-B", "true"),
            ("Cookie", "c1=x; c2=y%20z"),
            ("Accept", "application/json, text/plain"),
            ("Content-Type", "application/json"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        assert_eq!(built.headers, expected);
        assert_eq!(built.method, HttpMethod::Post);
        assert_eq!(built.url, "https://api.example.com/v1/upload?q=z");
    }

    #[test]
    fn required_header_and_cookie_must_be_given() {
        let call = get("/h", vec![required(bind("X-Key", ArgumentLocation::Header, ParameterStyle::Simple, false))]);
        assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "X-Key".into() }));
        let call = get("/h", vec![required(bind("sid", ArgumentLocation::Cookie, ParameterStyle::Form, true))]);
        assert_eq!(run(&call, json!({"sid": null})), Err(BuildError::Missing { argument: "sid".into() }));
    }

    // --- bodies --------------------------------------------------------------------------------

    #[test]
    fn json_body_from_flattened_properties() {
        let call = post(
            "application/json; charset=utf-8",
            true,
            vec![property("name", true), property("tag", false), property("age", false)],
        );
        let built = run(&call, json!({"age": null, "name": "Rex"})).expect("builds");
        assert_eq!(built.body, bytes("application/json; charset=utf-8", br#"{"name":"Rex","age":null}"#));
        assert_eq!(built.headers, vec![("Content-Type".to_string(), "application/json; charset=utf-8".to_string())]);
        assert_eq!(run(&call, json!({"tag": "x"})), Err(BuildError::Missing { argument: "name".into() }));
    }

    #[test]
    fn json_media_types_are_recognised() {
        for content_type in [
            "application/json",
            "Application/JSON",
            "application/vnd.api+json",
            "application/problem+json; v=1",
            "text/json",
        ] {
            let call = post(content_type, false, vec![property("a", false)]);
            assert_eq!(
                body_of(&call, json!({"a": [1, "b"]}), &[]),
                bytes(content_type, br#"{"a":[1,"b"]}"#),
                "{content_type}"
            );
        }
    }

    #[test]
    fn whole_json_body() {
        let call = post("application/json", true, vec![whole_body(true)]);
        assert_eq!(
            body_of(&call, json!({"body": [1, "two", {"three": 3}]}), &[]),
            bytes("application/json", br#"[1,"two",{"three":3}]"#)
        );
        assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "body".into() }));
        assert_eq!(run(&call, json!({"body": null})), Err(BuildError::Missing { argument: "body".into() }));
    }

    #[test]
    fn optional_and_required_empty_bodies() {
        let call = post("application/json", false, vec![property("a", false)]);
        let built = run(&call, json!({})).expect("builds");
        assert_eq!(built.body, RequestBodyBytes::None);
        assert!(built.headers.is_empty());
        let call = post("application/json", false, vec![whole_body(false)]);
        assert_eq!(body_of(&call, json!({"body": null}), &[]), RequestBodyBytes::None);
        // Required, but every property is optional: `{}` is a valid body the agent could not otherwise send.
        let call = post("application/json", true, vec![property("a", false)]);
        assert_eq!(body_of(&call, json!({}), &[]), bytes("application/json", b"{}"));
        // Required, and nothing could supply it.
        let call = post("application/json", true, vec![]);
        assert_eq!(run(&call, json!({})), Err(BuildError::Missing { argument: "body".into() }));
        // No body declared and no body bindings: nothing to send.
        assert_eq!(body_of(&get("/x", vec![]), json!({}), &[]), RequestBodyBytes::None);
    }

    #[test]
    fn whole_body_and_properties_together_are_refused() {
        let call = post("application/json", false, vec![whole_body(false), property("a", false)]);
        assert!(is_invalid(run(&call, json!({"body": {"a": 1}, "a": 2})), "body"));
        assert_eq!(body_of(&call, json!({"a": 2}), &[]), bytes("application/json", br#"{"a":2}"#));
    }

    #[test]
    fn form_body() {
        let call = post(
            "application/x-www-form-urlencoded",
            true,
            vec![property("name", true), property("tags", false), property("meta", false), property("gone", false)],
        );
        let body =
            body_of(&call, json!({"name": "a b&c=d+e", "tags": ["x", null, 2], "meta": {"k": 1}, "gone": null}), &[]);
        assert_eq!(
            body,
            // Objects nest with brackets when the spec gives no `encoding` (see `form`).
            bytes("application/x-www-form-urlencoded", b"name=a+b%26c%3Dd%2Be&tags=x&tags=2&meta[k]=1")
        );
        let call = post("application/x-www-form-urlencoded", true, vec![whole_body(true)]);
        assert!(is_invalid(run(&call, json!({"body": [1, 2]})), "body"));
        assert_eq!(
            body_of(&call, json!({"body": {"ü": true}}), &[]),
            bytes("application/x-www-form-urlencoded", b"%C3%BC=true")
        );
    }

    #[test]
    fn form_body_follows_the_encoding_object() {
        let mut call = post(
            "application/x-www-form-urlencoded",
            true,
            vec![
                property("expand", false),
                property("ids", false),
                ArgumentBinding { wire_name: "meta".into(), ..property("meta_data", false) },
            ],
        );
        let encoding =
            |style, explode| PropertyEncoding { style: Some(style), explode: Some(explode), ..Default::default() };
        if let Some(body) = &mut call.body {
            body.encoding = vec![
                ("expand".into(), encoding(ParameterStyle::DeepObject, true)),
                ("ids".into(), encoding(ParameterStyle::Form, false)),
                ("meta".into(), encoding(ParameterStyle::Form, false)),
            ];
        }
        assert_eq!(
            body_of(&call, json!({"expand": ["a", "b"], "ids": [1, 2], "meta_data": {"k": "v"}}), &[]),
            bytes("application/x-www-form-urlencoded", b"expand[0]=a&expand[1]=b&ids=1,2&meta=k,v")
        );
        // A value the declared style cannot carry names the argument, not the wire name.
        assert!(is_invalid(run(&call, json!({"meta_data": {"k": {"deep": 1}}})), "meta_data"));
    }

    #[test]
    fn required_multipart_body_without_parts_is_an_empty_form() {
        let call = post("multipart/form-data", true, vec![property("note", false)]);
        assert_eq!(
            body_of(&call, json!({}), &[]),
            bytes("multipart/form-data; boundary=api2mcp-empty-form", b"--api2mcp-empty-form--\r\n")
        );
        let call = post("application/x-www-form-urlencoded", true, vec![property("note", false)]);
        assert_eq!(body_of(&call, json!({"note": null}), &[]), bytes("application/x-www-form-urlencoded", b""));
    }

    #[test]
    fn multipart_parts_take_the_encoding_content_type() {
        let mut call = post("multipart/form-data", true, vec![property("meta", false), property("picture", false)]);
        if let Some(body) = &mut call.body {
            let typed =
                |content_type: &str| PropertyEncoding { content_type: Some(content_type.into()), ..Default::default() };
            body.encoding =
                vec![("meta".into(), typed("application/vnd.x+json")), ("picture".into(), typed("image/png"))];
        }
        let built = run_binary(&call, json!({"meta": ["a", 1], "picture": "iVBO"}), &["picture"]).expect("builds");
        assert_eq!(
            built.body,
            RequestBodyBytes::Multipart(vec![
                MultipartPart {
                    name: "meta".into(),
                    value: MultipartValue::Typed {
                        text: r#"["a",1]"#.into(),
                        content_type: "application/vnd.x+json".into()
                    },
                },
                MultipartPart {
                    name: "picture".into(),
                    value: MultipartValue::File {
                        bytes: vec![0x89, 0x50, 0x4e],
                        file_name: "picture".into(),
                        content_type: "image/png".into(),
                    },
                },
            ])
        );
    }

    #[test]
    fn pinned_query_and_declared_content_type() {
        let call = UpstreamCall {
            fixed_query: vec![("beta".into(), "true".into()), ("mode".into(), "a b&c".into())],
            declared_content_type: Some("application/json".into()),
            ..get("/responses/{id}/cancel", vec![path_param("id"), query_param("reason")])
        };
        let built = run(&call, json!({"id": "r1", "reason": "x"})).expect("builds");
        assert_eq!(built.url, "https://api.example.com/v1/responses/r1/cancel?beta=true&mode=a%20b%26c&reason=x");
        assert_eq!(built.headers, vec![("Content-Type".to_string(), "application/json".to_string())]);
    }

    #[test]
    fn multipart_body_with_files() {
        let call = post(
            "multipart/form-data",
            true,
            vec![
                property("file", true),
                property("note", false),
                property("count", false),
                property("meta", false),
                property("tags", false),
                property("skip", false),
                property("photos", false),
            ],
        );
        let arguments = json!({
            "file": "aGVsbG8=",
            "note": "hi",
            "count": 3,
            "meta": {"a": 1},
            "tags": ["x", "y"],
            "skip": null,
            "photos": ["aGk", "-_8"],
        });
        let built = run_binary(&call, arguments, &["file", "photos"]).expect("builds");
        let file = |name: &str, bytes: &[u8]| MultipartPart {
            name: name.to_string(),
            value: MultipartValue::File {
                bytes: bytes.to_vec(),
                file_name: name.to_string(),
                content_type: "application/octet-stream".to_string(),
            },
        };
        let text =
            |name: &str, text: &str| MultipartPart { name: name.into(), value: MultipartValue::Text(text.into()) };
        assert_eq!(
            built.body,
            RequestBodyBytes::Multipart(vec![
                file("file", b"hello"),
                text("note", "hi"),
                text("count", "3"),
                MultipartPart { name: "meta".into(), value: MultipartValue::Json(r#"{"a":1}"#.into()) },
                text("tags", "x"),
                text("tags", "y"),
                file("photos", b"hi"),
                file("photos", &[0xfb, 0xff]),
            ])
        );
        // The client adds `Content-Type: multipart/form-data; boundary=...` itself.
        assert!(built.headers.is_empty());
        assert!(is_invalid(run_binary(&call, json!({"file": "not base64!"}), &["file"]), "file"));
    }

    #[test]
    fn multipart_errors_name_the_argument_not_the_wire_name() {
        let binding = ArgumentBinding { wire_name: "file".into(), ..property("file_body", true) };
        let call = post("multipart/form-data", true, vec![binding]);
        let built = run_binary(&call, json!({"file_body": "AA=="}), &["file_body"]).expect("builds");
        assert!(matches!(&built.body, RequestBodyBytes::Multipart(parts) if parts[0].name == "file"));
        assert!(is_invalid(run_binary(&call, json!({"file_body": "A"}), &["file_body"]), "file_body"));
        // Without the binary flag the same string is plain text.
        let built = run(&call, json!({"file_body": "AA=="})).expect("builds");
        assert!(
            matches!(&built.body, RequestBodyBytes::Multipart(parts) if parts[0].value == MultipartValue::Text("AA==".into()))
        );
    }

    #[test]
    fn raw_bodies() {
        let call = post("application/octet-stream", true, vec![whole_body(true)]);
        assert_eq!(
            body_of(&call, json!({"body": "AAEC/w=="}), &["body"]),
            bytes("application/octet-stream", &[0, 1, 2, 255])
        );
        assert_eq!(
            body_of(&call, json!({"body": "AAEC_w"}), &["body"]),
            bytes("application/octet-stream", &[0, 1, 2, 255])
        );
        assert!(is_invalid(run_binary(&call, json!({"body": "AAEC*w=="}), &["body"]), "body"));
        // Not flagged binary: a string is sent as its text, anything else as JSON.
        assert_eq!(body_of(&call, json!({"body": "raw"}), &[]), bytes("application/octet-stream", b"raw"));
        assert_eq!(body_of(&call, json!({"body": 42}), &[]), bytes("application/octet-stream", b"42"));
        let call = post("text/plain; charset=utf-8", true, vec![whole_body(true)]);
        assert_eq!(
            body_of(&call, json!({"body": "héllo"}), &[]),
            bytes("text/plain; charset=utf-8", "héllo".as_bytes())
        );
        let call = post("application/xml", true, vec![whole_body(true)]);
        let built = run(&call, json!({"body": "<a/>"})).expect("builds");
        assert_eq!(built.body, bytes("application/xml", b"<a/>"));
        assert_eq!(built.headers, vec![("Content-Type".to_string(), "application/xml".to_string())]);
    }

    // --- base URL --------------------------------------------------------------------------------

    #[test]
    fn base_urls_are_joined_and_checked() {
        let call = get("/pets", vec![]);
        let table: &[(&str, &str)] = &[
            ("https://api.example.com/v1", "https://api.example.com/v1/pets"),
            ("https://api.example.com/v1/", "https://api.example.com/v1/pets"),
            ("https://api.example.com/v1//", "https://api.example.com/v1/pets"),
            ("https://api.example.com", "https://api.example.com/pets"),
            ("https://api.example.com/", "https://api.example.com/pets"),
            ("http://localhost:8080/api/v2", "http://localhost:8080/api/v2/pets"),
        ];
        for (base, expected) in table {
            assert_eq!(build(base, &call, &Map::new(), &[]).expect("builds").url, *expected, "{base}");
        }
        let root = get("", vec![]);
        assert_eq!(
            build("https://api.example.com/v1/", &root, &Map::new(), &[]).expect("builds").url,
            "https://api.example.com/v1"
        );
        assert_eq!(
            build("https://api.example.com", &root, &Map::new(), &[]).expect("builds").url,
            "https://api.example.com"
        );
        for base in [
            "not a url",
            "/relative",
            "mailto:a@b.c",
            "https://api.example.com/v1?key=1",
            "https://api.example.com#x",
            "",
        ] {
            assert!(is_invalid(build(base, &call, &Map::new(), &[]), "base_url"), "{base}");
        }
    }

    #[test]
    fn dot_segments_in_the_template_fail_the_final_check() {
        // The template comes from the spec, but a rewritten URL is refused whatever its source.
        let call = get("/a/../../admin", vec![]);
        assert!(is_invalid(run(&call, json!({})), "url"));
    }

    #[test]
    fn errors_display_readably() {
        assert_eq!(invalid("x", "bad").to_string(), "argument 'x': bad");
        assert_eq!(missing("y").to_string(), "missing required argument 'y'");
    }

    // --- base64 ----------------------------------------------------------------------------------

    #[test]
    fn base64_variants() {
        let table: &[(&str, Option<&[u8]>)] = &[
            ("", Some(b"")),
            ("aGVsbG8=", Some(b"hello")),
            ("aGVsbG8", Some(b"hello")),
            ("aGVs\nbG8=\r\n", Some(b"hello")),
            ("+/8=", Some(&[0xfb, 0xff])),
            ("-_8", Some(&[0xfb, 0xff])),
            ("YQ==", Some(b"a")),
            ("YQ", Some(b"a")),
            ("YQ=", None),
            ("YQ===", None),
            ("Y", None),
            ("YQ==YQ==", None),
            ("aGVsbG8*", None),
            ("ü", None),
        ];
        for (text, expected) in table {
            assert_eq!(decode_base64(text).as_deref(), *expected, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn base64_of_any_bytes_decodes_back_in_every_variant(bytes: Vec<u8>, wrap in 1usize..80) {
            use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
            for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&bytes);
                let wrapped: Vec<String> =
                    encoded.as_bytes().chunks(wrap).map(|line| String::from_utf8_lossy(line).into_owned()).collect();
                proptest::prop_assert_eq!(decode_base64(&wrapped.join("\r\n")), Some(bytes.clone()));
            }
        }
    }

    // --- robustness ------------------------------------------------------------------------------

    #[test]
    fn no_input_panics_or_leaves_the_origin() {
        let values = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1.5e300),
            json!(u64::MAX),
            json!(""),
            json!("."),
            json!(".."),
            json!("a/../b"),
            json!("ü\u{0}\r\n"),
            json!("%2e%2E"),
            json!([]),
            json!([null]),
            json!(["", ""]),
            json!([".", ".."]),
            json!([[1]]),
            json!({}),
            json!({"": ""}),
            json!({"a": null}),
            json!({"..": ".."}),
            json!({"a": {"b": [1, {"c": 2}]}}),
            json!({"a": [1, 2]}),
        ];
        let styles = [
            ParameterStyle::Simple,
            ParameterStyle::Label,
            ParameterStyle::Matrix,
            ParameterStyle::Form,
            ParameterStyle::SpaceDelimited,
            ParameterStyle::PipeDelimited,
            ParameterStyle::DeepObject,
        ];
        let locations =
            [ArgumentLocation::Path, ArgumentLocation::Query, ArgumentLocation::Header, ArgumentLocation::Cookie];
        let mut built = 0;
        for location in locations {
            for style in styles {
                for explode in [false, true] {
                    for allow_reserved in [false, true] {
                        let binding = ArgumentBinding { allow_reserved, ..bind("v", location, style, explode) };
                        let call = get("/x/{v}/y", vec![binding, path_param("p")]);
                        let call = UpstreamCall {
                            path: if location == ArgumentLocation::Path { call.path } else { "/x/y".into() },
                            ..call
                        };
                        for value in &values {
                            if let Ok(request) = run(&call, json!({ "v": value })) {
                                built += 1;
                                let parsed = Url::parse(&request.url).expect("every built URL parses");
                                assert_eq!(parsed.host_str(), Some("api.example.com"));
                                assert_eq!(parsed.as_str(), request.url);
                                assert!(parsed.path().starts_with("/v1/x/"), "{}", request.url);
                                assert_eq!(
                                    parsed.path_segments().map(Iterator::count),
                                    Some(4 - usize::from(location != ArgumentLocation::Path))
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(built > 100, "the sweep should mostly succeed, built {built}");
        let content_types = [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/octet-stream",
            "text/plain",
            "",
        ];
        for content_type in content_types {
            for value in &values {
                let call = post(content_type, true, vec![whole_body(true)]);
                let _ = run_binary(&call, json!({ "body": value }), &["body"]);
                let call = post(content_type, true, vec![property("p", true), property("q", false)]);
                let _ = run_binary(&call, json!({ "p": value, "q": value }), &["p"]);
            }
        }
    }
}
