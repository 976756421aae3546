//! One pooled HTTP client per upstream, and the sending of one built request: timeouts from the
//! upstream's settings, redirects followed only within the same origin (reqwest would otherwise carry
//! custom credential headers to another host), the body read under a limit measured after
//! decompression and under the process-wide response budget ([`crate::body`]), and every transport failure turned into an [`Outcome`].

use std::error::Error as _;

use reqwest::redirect;

use super::UpstreamResponse;
use super::request::{BuiltRequest, MultipartValue, RequestBodyBytes};
use crate::body::{Budget, Overflow, ReadError, read_capped};
use crate::catalogue::CleanMode;
use crate::catalogue::Upstream;
use crate::classify::{Outcome, TimeoutPhase, UpstreamBody};
use crate::shape::stream::{StreamError, Streaming};
use std::sync::Arc;

/// The part of an error body kept for classification (field errors, messages).
const ERROR_BODY_BYTES: usize = 16 * 1024;

pub fn build(upstream: &Upstream) -> Result<reqwest::Client, String> {
    let policy = redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(|url| url.origin());
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if first.is_some_and(|origin| origin != attempt.url().origin()) {
            let target = attempt.url().origin().ascii_serialization();
            attempt.error(CrossOrigin(target))
        } else {
            attempt.follow()
        }
    });
    crate::tls::client_builder()
        .connect_timeout(upstream.connect_timeout)
        .timeout(upstream.timeout)
        .redirect(policy)
        .dns_resolver(Resolver)
        .tcp_nodelay(true)
        .build()
        .map_err(|error| format!("upstream '{}': cannot build its HTTP client: {error}", upstream.name))
}

/// The system resolver (getaddrinfo on a blocking thread, as reqwest's default), with two changes:
/// a failure is a typed [`Unresolvable`] error that [`transport_outcome`] finds in the chain (so it is
/// classified as a DNS failure, not as a refused connection), and names under the special-use `invalid`
/// TLD are refused at once, without asking any server (RFC 6761 §6.4).
struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if host == "invalid" || host.ends_with(".invalid") {
                let reason = "the special-use TLD 'invalid' never resolves (RFC 6761)".to_string();
                return Err(Box::new(Unresolvable { host, reason }) as Box<dyn std::error::Error + Send + Sync>);
            }
            match tokio::net::lookup_host((host.clone(), 0)).await {
                Ok(addresses) => {
                    let addresses: Vec<std::net::SocketAddr> = addresses.collect();
                    if addresses.is_empty() {
                        let reason = "no address".to_string();
                        return Err(Box::new(Unresolvable { host, reason }) as Box<dyn std::error::Error + Send + Sync>);
                    }
                    Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
                }
                Err(error) => Err(Box::new(Unresolvable { host, reason: error.to_string() }) as _),
            }
        })
    }
}

/// A host name that did not resolve.
#[derive(Debug)]
struct Unresolvable {
    host: String,
    reason: String,
}

impl std::fmt::Display for Unresolvable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot resolve '{}': {}", self.host, self.reason)
    }
}

impl std::error::Error for Unresolvable {}

#[derive(Debug)]
struct CrossOrigin(String);

impl std::fmt::Display for CrossOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to another origin ({}) refused", self.0)
    }
}

impl std::error::Error for CrossOrigin {}

/// Bodies up to this size are always read whole: they are shaped exactly as before streaming existed
/// (a body that is not JSON after all is shown as text), and need no reader thread.
pub const STREAM_AFTER_BYTES: usize = 1024 * 1024;

/// A tool's shaping that can consume its response while it streams, and its cleaning mode.
pub type StreamShaping = (Arc<Streaming>, CleanMode);

/// Sends `built`; a 2xx JSON body larger than [`STREAM_AFTER_BYTES`] is shaped while it streams when
/// `stream` is given (`UpstreamResponse::streamed`), else read whole.
pub async fn send(
    client: &reqwest::Client,
    upstream: &Upstream,
    built: BuiltRequest,
    budget: &Budget,
    stream: Option<StreamShaping>,
) -> Result<UpstreamResponse, Outcome> {
    let method = reqwest::Method::from_bytes(built.method.upper().as_bytes())
        .map_err(|error| Outcome::Internal { detail: error.to_string() })?;
    // The URL as the request builder's final check parsed it: reqwest does not parse it again.
    let mut request = client.request(method, built.url.clone());
    for (name, value) in &built.headers {
        // The upstream's own headers (credentials) win over anything derived from arguments.
        if upstream.headers.iter().any(|(configured, _)| configured.eq_ignore_ascii_case(name)) {
            continue;
        }
        request = request.header(name, value);
    }
    for (name, value) in &upstream.headers {
        request = request.header(name, value);
    }
    request = match built.body {
        RequestBodyBytes::None => request,
        RequestBodyBytes::Bytes { bytes, .. } => request.body(bytes),
        RequestBodyBytes::Multipart(parts) => {
            let mut form = reqwest::multipart::Form::new();
            for part in parts {
                form = match part.value {
                    MultipartValue::Text(text) => form.text(part.name, text),
                    MultipartValue::Json(json) => {
                        let json_part = reqwest::multipart::Part::text(json)
                            .mime_str("application/json")
                            .map_err(|error| Outcome::Internal { detail: error.to_string() })?;
                        form.part(part.name, json_part)
                    }
                    MultipartValue::Typed { text, content_type } => {
                        let typed = reqwest::multipart::Part::text(text)
                            .mime_str(&content_type)
                            .map_err(|error| Outcome::Internal { detail: error.to_string() })?;
                        form.part(part.name, typed)
                    }
                    MultipartValue::File { bytes, file_name, content_type } => {
                        let file = reqwest::multipart::Part::bytes(bytes)
                            .file_name(file_name)
                            .mime_str(&content_type)
                            .map_err(|error| Outcome::Internal { detail: error.to_string() })?;
                        form.part(part.name, file)
                    }
                };
            }
            request.multipart(form)
        }
    };
    let mut response = request.send().await.map_err(|error| transport_outcome(&error))?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let link = response.headers().get(reqwest::header::LINK).and_then(|v| v.to_str().ok()).map(str::to_string);
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let success = response.status().is_success();
    let max_response_bytes = usize::try_from(upstream.max_response_bytes).unwrap_or(usize::MAX);
    let stream = stream.filter(|_| {
        success && super::is_json_media_type(content_type.as_deref()) && max_response_bytes > STREAM_AFTER_BYTES
    });
    let (limit, overflow) = if stream.is_some() {
        (STREAM_AFTER_BYTES, Overflow::Pause)
    } else if success {
        // A per-upstream cap above the whole budget could never be met: the budget is the cap.
        (max_response_bytes.min(budget.total()), Overflow::Fail)
    } else {
        (ERROR_BODY_BYTES, Overflow::Truncate)
    };
    if stream.is_some() && response.content_length().is_some_and(|n| n > max_response_bytes as u64) {
        return Err(Outcome::ResponseTooLarge { limit: max_response_bytes as u64 });
    }
    let classify_read = |error: ReadError, limit: usize| match error {
        ReadError::TooLarge => Outcome::ResponseTooLarge { limit: limit as u64 },
        ReadError::OverBudget => Outcome::ResponseBudgetExhausted { budget: budget.total() as u64 },
        ReadError::Transport(error) if error.is_timeout() => Outcome::Timeout { phase: TimeoutPhase::Total },
        ReadError::Transport(error) if error.is_decode() => {
            Outcome::InvalidResponse { reason: "the response body could not be decoded".to_string() }
        }
        ReadError::Transport(error) => transport_outcome(&error),
        ReadError::Parser(detail) => Outcome::Internal { detail },
    };
    let body = read_capped(&mut response, limit, overflow, Some(budget)).await.map_err(|e| classify_read(e, limit))?;
    if let Some((streaming, clean)) = stream.filter(|_| body.truncated) {
        // Larger than the first read: the rest is shaped as it arrives. The budget holds the window
        // and the items kept, so the upstream's own cap applies to the bytes, not the budget.
        let kept_budget = budget.clone();
        let parse = move |reader: &mut dyn std::io::Read| {
            let mut kept = crate::body::Held::default();
            let mut keep = |bytes: usize| kept_budget.try_take(bytes).map(|held| kept.merge(held)).is_some();
            let result = streaming.read(reader, clean, &mut keep);
            (result, kept)
        };
        let (result, kept) = crate::body::read_streamed(&mut response, body, max_response_bytes, budget, parse)
            .await
            .map_err(|e| classify_read(e, max_response_bytes))?;
        let streamed = result.map_err(|error| match error {
            StreamError::OverBudget => Outcome::ResponseBudgetExhausted { budget: budget.total() as u64 },
            StreamError::Json(error) => {
                Outcome::InvalidResponse { reason: format!("the response body is not valid JSON ({error})") }
            }
        })?;
        return Ok(UpstreamResponse {
            status,
            content_type,
            link,
            url: built.url,
            body: Vec::new(),
            budget: kept,
            streamed: Some(streamed),
        });
    }
    if success {
        return Ok(UpstreamResponse {
            status,
            content_type,
            link,
            url: built.url,
            body: body.bytes,
            budget: body.held,
            streamed: None,
        });
    }
    let text = String::from_utf8_lossy(&body.bytes).into_owned();
    let body = (!text.trim().is_empty()).then_some(UpstreamBody { content_type, text });
    Err(Outcome::UpstreamStatus { status, retry_after, body })
}

/// Walks the error's causes: reqwest flattens most of them into "error sending request".
fn transport_outcome(error: &reqwest::Error) -> Outcome {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(cross_origin) = cause.downcast_ref::<CrossOrigin>() {
            return Outcome::CrossOriginRedirect { location: cross_origin.0.clone() };
        }
        if let Some(unresolvable) = cause.downcast_ref::<Unresolvable>() {
            return Outcome::Dns { host: unresolvable.host.clone() };
        }
        if let Some(outer) = cause.downcast_ref::<std::io::Error>() {
            // Connectors wrap io errors in io errors (kind Other); the innermost kind is the real one.
            let mut io = outer;
            while let Some(inner) = io.get_ref().and_then(|inner| inner.downcast_ref::<std::io::Error>()) {
                io = inner;
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Outcome::ConnectionRefused,
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => return Outcome::ConnectionReset,
                // rustls reports handshake failures (bad certificate, not TLS at all) as InvalidData.
                std::io::ErrorKind::InvalidData if error.is_connect() => {
                    return Outcome::Tls {
                        reason: io.get_ref().map_or_else(|| io.to_string(), |inner| inner.to_string()),
                    };
                }
                _ => {}
            }
        }
        source = cause.source();
    }
    if error.is_timeout() {
        return Outcome::Timeout {
            phase: if error.is_connect() { TimeoutPhase::Connect } else { TimeoutPhase::Total },
        };
    }
    if error.is_connect() {
        return Outcome::ConnectionRefused;
    }
    if error.is_decode() || error.is_body() {
        return Outcome::InvalidResponse { reason: "the response body could not be read".to_string() };
    }
    Outcome::ConnectionReset
}
