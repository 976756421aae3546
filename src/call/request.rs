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

mod body;
mod form;
mod header;
mod path;
mod query;

use std::borrow::Cow;

use percent_encoding::{AsciiSet, utf8_percent_encode};
use serde_json::{Map, Value};
use url::Url;

use body::build_body;
use header::{check_header_value, cookie_pieces, header_value};
use path::expand_path;
use query::query_pieces;

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
    /// Full URL: base_url (no trailing slash) + expanded path + `?` + query (omitted when empty), as
    /// the final check parsed it: what the HTTP client sends, never parsed again.
    pub url: Url,
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

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
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
    build_on(&Base::parse(base_url)?, call, arguments, binary_arguments)
}

/// An upstream's base URL, checked and parsed once (the caller keeps one per upstream): the text
/// paths are appended to (without trailing slashes) and its parse, which the finished URL is
/// checked against.
#[derive(Debug, Clone)]
pub struct Base {
    text: String,
    parsed: Url,
}

impl Base {
    /// `Err`: the base URL cannot be one (not absolute, no host, a query or a fragment).
    pub fn parse(base_url: &str) -> Result<Base, BuildError> {
        let text = base_url.trim_end_matches('/');
        let parsed = parse_base(text)?;
        Ok(Base { text: text.to_string(), parsed })
    }
}

/// [`build`] on a base URL parsed already.
pub fn build_on(
    base: &Base,
    call: &UpstreamCall,
    arguments: &Map<String, Value>,
    binary_arguments: &[&str],
) -> Result<BuiltRequest, BuildError> {
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
    let mut url = format!("{}{path}", base.text);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    let url = check_url(&base.parsed, &url, &path, &query)?;

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
/// re-interpreted (dot segments resolved, delimiters reinterpreted, host changed). The parse is
/// what the client is handed.
fn check_url(base: &Url, url: &str, path: &str, query: &str) -> Result<Url, BuildError> {
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
    Ok(parsed)
}

#[cfg(test)]
mod tests;
