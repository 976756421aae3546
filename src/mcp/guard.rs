//! The `/mcp` guard (the last of the checks in front of `/mcp`, `http.rs`) and the RFC 9728
//! metadata routes: the HTTP face of `auth`. Every request carries a valid JWT, an introspected
//! token or an API key, or is anonymous where the configuration allows it; otherwise `401` with
//! `WWW-Authenticate` pointing at the metadata. A `tools/call` of a tool the caller's scopes do not
//! permit (the tool read from the JSON-RPC body, never from `Mcp-Name`) is refused with
//! `403 insufficient_scope`. The decision itself is `auth::permits`; this file only peeks at
//! JSON-RPC and answers HTTP.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{McpServer, Pinned};
use crate::auth::{Authenticated, Denial, Inbound, SubjectToken, audit_denied, metadata_url, permits};

/// State of the `/mcp` guard.
#[derive(Clone)]
pub struct Guard {
    pub inbound: Arc<Inbound>,
    pub server: McpServer,
}

/// The scopes a tool needs, from the catalogue this request is served from.
fn tool_scopes(pinned: &Pinned, tool: &str) -> Option<Vec<String>> {
    let catalogue = pinned.catalogue();
    catalogue.tool_index(tool).map(|index| catalogue.tools[index].scopes.clone())
}

/// In front of `/mcp`: the request to hand on (who is calling and the pinned catalogue snapshot in
/// its extensions), or (`Err`) the answer to send instead.
pub async fn authorize(guard: &Guard, request: Request) -> Result<Request, Response> {
    let started = std::time::Instant::now();
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(_) => return Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response()),
    };
    // The tool is read from the body: headers such as `Mcp-Name` are hints a client controls.
    let called = called_tools(&body);
    // One catalogue snapshot decides and serves this request: the handler reads it from the extensions.
    let pinned = guard.server.pin();
    let principal = match guard.inbound.authenticate(&parts.headers).await {
        Ok(principal) => principal,
        Err(denial) => {
            let scope = match called.as_slice() {
                [tool] => tool_scopes(&pinned, tool).unwrap_or_default(),
                _ => pinned.catalogue().all_scopes(),
            };
            for tool in called.iter().map(String::as_str).chain(called.is_empty().then_some("-")) {
                audit_denied(None, tool, &denial_reason(&denial), started.elapsed());
            }
            return Err(unauthorized(&guard.inbound, &parts.headers, &denial, &scope));
        }
    };
    for tool in &called {
        if let Some(required) = tool_scopes(&pinned, tool)
            && !permits(&principal.scopes, &required)
        {
            audit_denied(Some(&principal), tool, "insufficient_scope", started.elapsed());
            return Err(forbidden(&guard.inbound, &parts.headers, &required));
        }
    }
    let forwarded = guard.inbound.forwarded(&parts.headers);
    // Only an identity-provider token can be exchanged; API keys and anonymous callers have none.
    let token = match (&principal.key_id, &principal.subject) {
        (None, Some(_)) => bearer_token(&parts.headers).map(SubjectToken),
        _ => None,
    };
    let audit_arguments = guard.inbound.settings().audit_arguments;
    parts.extensions.insert(Authenticated { principal, forwarded, audit_arguments, token });
    parts.extensions.insert(pinned);
    Ok(Request::from_parts(parts, axum::body::Body::from(body)))
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// The names of the tools a JSON-RPC message (or batch) calls.
fn called_tools(body: &[u8]) -> Vec<String> {
    let Ok(message) = serde_json::from_slice::<Value>(body) else { return Vec::new() };
    let messages = match message {
        Value::Array(batch) => batch,
        single => vec![single],
    };
    messages
        .iter()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
        .filter_map(|m| {
            let name = m.pointer("/params/name").and_then(Value::as_str)?;
            // Discovery's `call_tool` calls the tool it names: its scopes are checked the same way.
            match m.pointer("/params/arguments/name").and_then(Value::as_str) {
                Some(inner) if name == "call_tool" => Some(inner.to_string()),
                _ => Some(name.to_string()),
            }
        })
        .collect()
}

fn denial_reason(denial: &Denial) -> String {
    match denial {
        Denial::Missing => "missing_token".to_string(),
        Denial::Invalid(why) => format!("invalid_token: {why}"),
        Denial::Unavailable(_) => "issuer_unavailable".to_string(),
    }
}

fn quoted(text: &str) -> String {
    text.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

fn unauthorized(inbound: &Inbound, headers: &HeaderMap, denial: &Denial, scopes: &[String]) -> Response {
    let mut challenge = String::from("Bearer");
    let mut params = Vec::new();
    match denial {
        Denial::Missing => {}
        Denial::Invalid(why) => {
            params.push("error=\"invalid_token\"".to_string());
            params.push(format!("error_description=\"{}\"", quoted(why)));
        }
        Denial::Unavailable(_) => {
            params.push("error=\"invalid_token\"".to_string());
            params.push("error_description=\"the token cannot be verified right now\"".to_string());
        }
    }
    params.push(format!("resource_metadata=\"{}\"", metadata_url(inbound, headers)));
    if !scopes.is_empty() {
        params.push(format!("scope=\"{}\"", quoted(&scopes.join(" "))));
    }
    challenge.push(' ');
    challenge.push_str(&params.join(", "));
    let (status, message) = match denial {
        Denial::Missing => (StatusCode::UNAUTHORIZED, "authentication required".to_string()),
        Denial::Invalid(why) => (StatusCode::UNAUTHORIZED, why.clone()),
        // The caller may be fine: the issuer is down and nothing is cached. 401 lets clients re-authenticate.
        Denial::Unavailable(_) => (StatusCode::UNAUTHORIZED, "the token cannot be verified right now".to_string()),
    };
    challenge_response(status, &challenge, &message)
}

fn forbidden(inbound: &Inbound, headers: &HeaderMap, required: &[String]) -> Response {
    let challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\"",
        quoted(&required.join(" ")),
        metadata_url(inbound, headers)
    );
    challenge_response(
        StatusCode::FORBIDDEN,
        &challenge,
        &format!("this tool needs the scopes: {}", required.join(" ")),
    )
}

fn challenge_response(status: StatusCode, challenge: &str, message: &str) -> Response {
    let mut response = (status, axum::Json(json!({"error": message}))).into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// RFC 9728 protected resource metadata, at `/.well-known/oauth-protected-resource` and
/// `/.well-known/oauth-protected-resource/mcp`.
pub fn metadata_router(inbound: Arc<Inbound>, server: McpServer) -> axum::Router {
    let handler = move |headers: HeaderMap| {
        let (inbound, server) = (inbound.clone(), server.clone());
        async move {
            let resource = inbound.settings().resource.clone().unwrap_or_else(|| {
                let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
                format!("http://{host}/mcp")
            });
            let caller = server.caller();
            let document = json!({
                "resource": resource,
                "authorization_servers": inbound.issuer_urls(),
                "scopes_supported": caller.catalogue().all_scopes(),
                "bearer_methods_supported": ["header"],
                "resource_name": caller.catalogue().server.title.clone().unwrap_or_else(|| caller.catalogue().server.name.clone()),
            });
            ([(header::CACHE_CONTROL, "max-age=300")], axum::Json(document)).into_response()
        }
    };
    axum::Router::new()
        .route("/.well-known/oauth-protected-resource", axum::routing::get(handler.clone()))
        .route("/.well-known/oauth-protected-resource/mcp", axum::routing::get(handler))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn called_tools_come_from_the_body() {
        let body = json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "a"}},
                          {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]);
        assert_eq!(called_tools(body.to_string().as_bytes()), ["a"]);
        assert!(called_tools(b"garbage").is_empty());
    }
}
