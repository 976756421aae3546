//! The JSON-RPC envelope of a `POST /mcp` body, checked before rmcp sees it, so that every malformed
//! message gets HTTP 400 with a JSON-RPC error body (rmcp would answer 415 "fail to deserialize",
//! or -32601 for a known method with unusable params):
//!
//! - not JSON (truncated, too deeply nested, not UTF-8) → -32700 parse error, `id: null`;
//! - a batch, `jsonrpc` other than `"2.0"`, an `id` that is not a string or an integer, a message
//!   that is neither a request, a notification nor a response → -32600 invalid request;
//! - a method rmcp knows with params its type does not accept (`tools/call` with `name: 5`) →
//!   -32602 invalid params.
//!
//! The body is read here (under the body limit set outside): a broken chunked encoding is a 400,
//! only an oversized body a 413.

use std::error::Error as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest, ConstString, JsonRpcMessage};
use serde::Deserialize as _;
use serde_json::{Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// In front of rmcp on `/mcp`: the request to hand on (a POST's body read, its message in the
/// extensions), or (`Err`) the answer to send instead.
pub async fn check_envelope(request: Request) -> Result<Request, Response> {
    if request.method() != Method::POST {
        return Ok(request);
    }
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => return Err(unreadable_body(&error)),
    };
    match check(&body) {
        Ok(message) => {
            parts.extensions.insert(Parsed { message: Arc::new(message), body_bytes: body.len() });
        }
        Err(rejection) => return Err(rejection.into_response()),
    }
    Ok(Request::from_parts(parts, axum::body::Body::from(body)))
}

/// The message a body that passed [`check`] holds, riding in the request's extensions so that the
/// fast path (`fast.rs`) reads it without parsing the body again; removed before rmcp sees the request.
#[derive(Clone)]
pub struct Parsed {
    pub message: Arc<ClientJsonRpcMessage>,
    /// The body's length in bytes.
    pub body_bytes: usize,
}

fn unreadable_body(error: &axum::Error) -> Response {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n").into_response();
        }
        source = cause.source();
    }
    Rejection { id: Value::Null, code: PARSE_ERROR, message: format!("the request body could not be read: {error}") }
        .into_response()
}

/// A JSON-RPC error answered with HTTP 400.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = json!({"jsonrpc": "2.0", "id": self.id, "error": {"code": self.code, "message": self.message}});
        (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}

/// The methods whose params are checked against rmcp's types; any other method reaches the handler
/// as is. Left out on purpose: methods one protocol era removed (`initialize`, `logging/setLevel`,
/// `resources/subscribe`, `resources/unsubscribe`), which the transport answers itself (404
/// "method not found" in the stateless era) whatever their params.
const TYPED_METHODS: &[&str] = &[
    rmcp::model::PingRequestMethod::VALUE,
    rmcp::model::DiscoverRequestMethod::VALUE,
    rmcp::model::CompleteRequestMethod::VALUE,
    rmcp::model::GetPromptRequestMethod::VALUE,
    rmcp::model::ListPromptsRequestMethod::VALUE,
    rmcp::model::ListResourcesRequestMethod::VALUE,
    rmcp::model::ListResourceTemplatesRequestMethod::VALUE,
    rmcp::model::ReadResourceRequestMethod::VALUE,
    rmcp::model::CallToolRequestMethod::VALUE,
    rmcp::model::ListToolsRequestMethod::VALUE,
];

/// Checks one message body: the message rmcp will read, or (`Err`) the answer to send instead of
/// running it.
pub fn check(body: &Bytes) -> Result<ClientJsonRpcMessage, Rejection> {
    let value: Value = serde_json::from_slice(body).map_err(|error| Rejection {
        id: Value::Null,
        code: PARSE_ERROR,
        message: format!("the body is not valid JSON: {error}"),
    })?;
    let invalid =
        |id: &Value, message: &str| Rejection { id: id.clone(), code: INVALID_REQUEST, message: message.into() };
    let Value::Object(message) = &value else {
        return Err(match value {
            Value::Array(_) => {
                invalid(&Value::Null, "JSON-RPC batches are not supported: send one message per request")
            }
            _ => invalid(&Value::Null, "a JSON-RPC message must be a JSON object"),
        });
    };
    // The id is echoed only when it is one a client could match.
    let id = match message.get("id") {
        Some(id @ Value::String(_)) => id.clone(),
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => Value::Number(number.clone()),
        Some(_) => return Err(invalid(&Value::Null, "`id` must be a string or an integer")),
        None => Value::Null,
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid(&id, "`jsonrpc` must be \"2.0\""));
    }
    // Read once as rmcp's message type (from the value, not a copy of it): both the typed params
    // and the final check below look at this one result.
    let parsed = ClientJsonRpcMessage::deserialize(&value);
    match message.get("method") {
        Some(Value::String(method)) => {
            if let Some(params) = message.get("params")
                && !params.is_object()
            {
                return Err(Rejection { id, code: INVALID_PARAMS, message: "`params` must be an object".into() });
            }
            if message.contains_key("id") && TYPED_METHODS.contains(&method.as_str()) {
                check_typed_params(&parsed, &value, &id, method)?;
            }
        }
        Some(_) => return Err(invalid(&id, "`method` must be a string")),
        None => {
            let is_response =
                message.contains_key("id") && (message.contains_key("result") ^ message.contains_key("error"));
            if !is_response {
                return Err(invalid(&id, "a JSON-RPC message needs `method`, or `id` and `result` or `error`"));
            }
        }
    }
    // Whatever passed must also be a message rmcp can read: refuse here rather than get a 415 there.
    parsed.map_err(|error| invalid(&id, &format!("not a valid MCP message: {error}")))
}

/// rmcp reads a known method whose params do not fit its type as a custom request, which the
/// handler answers "method not found": the params are what is wrong.
fn check_typed_params(
    parsed: &Result<ClientJsonRpcMessage, serde_json::Error>,
    value: &Value,
    id: &Value,
    method: &str,
) -> Result<(), Rejection> {
    match parsed {
        Ok(JsonRpcMessage::Request(request)) if !matches!(request.request, ClientRequest::CustomRequest(_)) => Ok(()),
        _ => Err(Rejection {
            id: id.clone(),
            code: INVALID_PARAMS,
            message: format!("the params of `{method}` are not valid{}", params_hint(value, method)),
        }),
    }
}

fn params_hint(value: &Value, method: &str) -> String {
    if method == rmcp::model::CallToolRequestMethod::VALUE {
        if !value.pointer("/params/name").is_some_and(Value::is_string) {
            return ": `params.name` must be a string".into();
        }
        if value.pointer("/params/arguments").is_some_and(|a| !a.is_object() && !a.is_null()) {
            return ": `params.arguments` must be an object".into();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> Option<(i64, Value)> {
        check(&Bytes::from(body.to_string())).err().map(|r| (r.code, r.id))
    }

    #[test]
    fn envelopes() {
        let ok = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x","arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"vendor/thing","params":{"x":1}}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        ];
        for body in ok {
            assert_eq!(code(body), None, "{body}");
        }
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"#), Some((PARSE_ERROR, Value::Null)));
        assert_eq!(code(&format!("{}{}", "[".repeat(500), "]".repeat(500))), Some((PARSE_ERROR, Value::Null)));
        assert_eq!(code(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#), Some((INVALID_REQUEST, Value::Null)));
        assert_eq!(code(r#"{"jsonrpc":"1.0","id":7,"method":"ping"}"#), Some((INVALID_REQUEST, json!(7))));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#), Some((INVALID_REQUEST, Value::Null)));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#), Some((INVALID_REQUEST, Value::Null)));
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":2}"#), Some((INVALID_REQUEST, json!(2))));
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":5}}"#),
            Some((INVALID_PARAMS, json!(3)))
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":4,"method":"tools/list","params":[1]}"#),
            Some((INVALID_PARAMS, json!(4)))
        );
    }
}
