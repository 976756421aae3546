//! Checks on a request's head before anything reads its body: the size of the head (414 for a long
//! request target, 431 for large header fields), transfer codings (only `chunked` is understood:
//! anything else is 501, so a body is never read with a coding silently ignored), and, in front of
//! `/mcp`, exactly one well-formed `Host` and at most one well-formed `Origin` (rmcp then matches
//! them against the allow-lists).
//!
//! hyper parses heads up to its read buffer (64 KiB, set in `http.rs`) and answers 431 beyond it;
//! these limits are the ones the server promises, checked on every protocol version.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The longest request target (path and query) accepted.
pub const MAX_REQUEST_TARGET_BYTES: usize = 8 * 1024;
/// The largest request head accepted: request line plus header fields, as sent in HTTP/1.1. Twice
/// the default `auth.max_token_bytes`, so that the longest accepted token still fits.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// hyper's read buffer: heads larger than this are refused by the parser itself (431).
pub const PARSER_BUFFER_BYTES: usize = 64 * 1024;

/// On every route: head size and transfer codings; `Some` is the answer to send instead.
pub fn check_head(request: &Request) -> Option<Response> {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_REQUEST_TARGET_BYTES {
        return Some(refuse(
            StatusCode::URI_TOO_LONG,
            &format!("the request target is {target} bytes; at most {MAX_REQUEST_TARGET_BYTES} are accepted"),
        ));
    }
    let head = head_bytes(request.method().as_str().len(), target, request.headers());
    if head > MAX_HEAD_BYTES {
        return Some(refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request head is {head} bytes; at most {MAX_HEAD_BYTES} are accepted"),
        ));
    }
    if let Err(coding) = transfer_codings(request.headers()) {
        return Some(refuse(
            StatusCode::NOT_IMPLEMENTED,
            &format!("transfer coding '{coding}' is not supported; send the body as is or chunked"),
        ));
    }
    None
}

/// Bytes of the head as HTTP/1.1 frames it: `METHOD SP target SP HTTP/1.1 CRLF`, then
/// `name: value CRLF` per field, then CRLF.
fn head_bytes(method: usize, target: usize, headers: &HeaderMap) -> usize {
    let line = method + 1 + target + 1 + "HTTP/1.1".len() + 2;
    let fields: usize = headers.iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum();
    line + fields + 2
}

/// `Ok` when every transfer coding is `chunked` (hyper decodes it); otherwise the first other one.
fn transfer_codings(headers: &HeaderMap) -> Result<(), String> {
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let text = value.to_str().map_err(|_| "(not text)".to_string())?;
        for coding in text.split(',').map(str::trim) {
            if !coding.eq_ignore_ascii_case("chunked") {
                return Err(coding.chars().filter(|c| c.is_ascii_graphic()).take(40).collect());
            }
        }
    }
    Ok(())
}

/// In front of `/mcp`: one `Host`, and an `Origin` that is exactly a serialized origin; `Some` is
/// the answer to send instead. rmcp reads only the first of repeated headers and accepts origins
/// with paths or odd hosts (`http://[::1].evil.example` passes as `[::1]`), so both are settled
/// here first.
pub fn check_host_and_origin(request: &Request) -> Option<Response> {
    let headers = request.headers();
    if headers.get_all(header::HOST).iter().count() > 1 {
        return Some(refuse(StatusCode::BAD_REQUEST, "more than one Host header"));
    }
    let mut origins = headers.get_all(header::ORIGIN).iter();
    if let Some(origin) = origins.next() {
        if origins.next().is_some() {
            return Some(refuse(StatusCode::FORBIDDEN, "more than one Origin header"));
        }
        if let Err(why) = origin.to_str().map_err(|_| "it is not text".to_string()).and_then(serialized_origin) {
            return Some(refuse(StatusCode::FORBIDDEN, &format!("the Origin header is not a valid origin: {why}")));
        }
    }
    None
}

/// Checks that `text` is an origin as browsers serialize it (RFC 6454): `scheme://host[:port]`, no
/// user info, path, query or fragment; `null` is passed on for the allow-list to decide.
fn serialized_origin(text: &str) -> Result<(), String> {
    if text == "null" {
        return Ok(());
    }
    let url = url::Url::parse(text).map_err(|error| error.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme '{}' is not http or https", url.scheme()));
    }
    if url.host().is_none() {
        return Err("it has no host".to_string());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it has user info".to_string());
    }
    // `Url` always has a path of at least "/": the text itself must not end with one.
    if url.path() != "/" || text.ends_with('/') || url.query().is_some() || url.fragment().is_some() {
        return Err("it has a path, query or fragment".to_string());
    }
    // What `Url` serialized back must be what was sent (case of scheme and host aside): anything
    // the parser had to repair or reinterpret is refused.
    if !url.origin().ascii_serialization().eq_ignore_ascii_case(text) && !explicit_default_port(&url, text) {
        return Err("it is not in serialized form".to_string());
    }
    Ok(())
}

/// `http://host:80` serializes as `http://host`; a client that writes the default port is still exact.
fn explicit_default_port(url: &url::Url, text: &str) -> bool {
    let Some(port) = url.port_or_known_default() else { return false };
    format!("{}:{port}", url.origin().ascii_serialization()).eq_ignore_ascii_case(text)
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONNECTION, "close")], format!("{message}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_serialized_origins() {
        for good in
            ["http://localhost:3000", "https://app.example.com", "http://[::1]:8080", "http://127.0.0.1", "null"]
        {
            assert_eq!(serialized_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "http://[::1].evil.example",
            "http://localhost/path",
            "http://localhost/",
            "http://user@localhost",
            "http://localhost?x=1",
            "file:///etc",
            "localhost:3000",
            "http://localhost:3000#x",
            "",
        ] {
            assert!(serialized_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_chunked_is_a_known_transfer_coding() {
        let mut headers = HeaderMap::new();
        headers.insert(header::TRANSFER_ENCODING, "chunked".parse().unwrap());
        assert_eq!(transfer_codings(&headers), Ok(()));
        headers.insert(header::TRANSFER_ENCODING, "gzip, chunked".parse().unwrap());
        assert_eq!(transfer_codings(&headers), Err("gzip".to_string()));
    }
}
