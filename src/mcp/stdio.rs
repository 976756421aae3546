//! MCP over stdin/stdout: newline-delimited JSON-RPC, every line checked before rmcp sees it, so that
//! every request gets exactly one answer (`specs/stdio.md`).
//!
//! rmcp's stdio transport ignores lines that are not JSON (no answer, so the client waits forever),
//! answers a well-formed but invalid message with `-32600` and no id, and drops lines that are too
//! long. Here each line is read under a size limit and parsed with rmcp's own message type first:
//! a line rmcp can read is passed on unchanged; any other line is answered here, `-32700` with
//! `id: null` for a line that is not JSON, `-32600` (or `-32602` for a known method with unusable
//! params) echoing the request's id when it has a usable one. Batches (JSON arrays) are refused
//! element by element: MCP has no batching since 2025-06-18. rmcp's answers and these are written
//! by one task, a whole line at a time, so they never interleave.

use rmcp::ServiceExt;
use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::McpServer;

/// Longest line accepted (the HTTP transport's body limit): a longer one is answered `-32600` and
/// skipped to its end without being buffered.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// JSON-RPC 2.0 error codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

/// What to do with one input line.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// rmcp can read it: pass it on (without a byte order mark or CR).
    Forward(Vec<u8>),
    /// Answer it here with this message (an error, or an array of errors for a batch).
    Answer(Value),
    /// Nothing to do: an empty line, or an invalid notification or response (JSON-RPC forbids
    /// answering those, and answering a peer's answer invites an error storm).
    Ignore,
}

/// Decides what happens to one line (without its `\n`).
pub fn verdict(line: &[u8]) -> Verdict {
    let line = line.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Ignore;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(error) => {
            return Verdict::Answer(error_message(Value::Null, PARSE_ERROR, &format!("parse error: {error}")));
        }
    };
    match value {
        Value::Array(items) => Verdict::Answer(batch_answer(&items)),
        Value::Object(_) => {
            if serde_json::from_value::<ClientJsonRpcMessage>(value.clone()).is_ok() {
                return Verdict::Forward(line.to_vec());
            }
            match invalid_message_answer(&value) {
                Some(answer) => Verdict::Answer(answer),
                None => {
                    tracing::debug!("ignoring an invalid JSON-RPC notification or response on stdio");
                    Verdict::Ignore
                }
            }
        }
        _ => Verdict::Answer(error_message(
            Value::Null,
            INVALID_REQUEST,
            "invalid request: a JSON-RPC message is a JSON object",
        )),
    }
}

/// The id to echo: a string or an integer; anything else (absent, null, object, fraction) is `null`.
fn usable_id(message: &Value) -> Value {
    match message.get("id") {
        Some(id @ Value::String(_)) => id.clone(),
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => Value::Number(number.clone()),
        _ => Value::Null,
    }
}

/// The answer to an object rmcp cannot read; `None` when it must not be answered.
fn invalid_message_answer(message: &Value) -> Option<Value> {
    let has_id = message.get("id").is_some();
    let method = message.get("method");
    let is_answer = method.is_none() && (message.get("result").is_some() || message.get("error").is_some());
    if is_answer || (!has_id && method.is_some_and(Value::is_string)) {
        return None;
    }
    let id = usable_id(message);
    let version = message.get("jsonrpc");
    let reason = if version != Some(&json!("2.0")) {
        format!(
            "invalid request: \"jsonrpc\" must be \"2.0\", got {}",
            version.map_or("nothing".to_string(), Value::to_string)
        )
    } else if has_id && id.is_null() {
        "invalid request: \"id\" must be a string or an integer".to_string()
    } else if !method.is_some_and(Value::is_string) {
        "invalid request: \"method\" must be a string".to_string()
    } else {
        let method = method.and_then(Value::as_str).unwrap_or_default();
        return Some(error_message(
            id,
            INVALID_PARAMS,
            &format!("invalid params for '{method}': they do not match the method's parameters"),
        ));
    };
    Some(error_message(id, INVALID_REQUEST, &reason))
}

/// One error per batch element that could expect an answer; a lone `null`-id error when none does.
fn batch_answer(items: &[Value]) -> Value {
    const REASON: &str = "invalid request: JSON-RPC batches are not supported (MCP has none since 2025-06-18); send each message on its own line";
    let answers: Vec<Value> = items
        .iter()
        .filter(|item| !(item.get("id").is_none() && item.get("method").is_some_and(Value::is_string)))
        .map(|item| error_message(usable_id(item), INVALID_REQUEST, REASON))
        .collect();
    if answers.is_empty() { error_message(Value::Null, INVALID_REQUEST, REASON) } else { Value::Array(answers) }
}

fn error_message(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Serves MCP over stdin/stdout until the client closes stdin. Nothing else may write to stdout.
pub async fn serve_stdio(server: McpServer) -> Result<(), String> {
    serve_lines(server, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves MCP on `input`/`output` (stdin/stdout in production, pipes in tests) until `input` ends.
pub async fn serve_lines<R, W>(server: McpServer, input: R, output: W) -> Result<(), String>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // One long-lived client: it can be told when a reload changes the tool list.
    let server = server.announcing_list_changes();
    let (lines, mut to_write) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        let mut output = output;
        while let Some(line) = to_write.recv().await {
            if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });
    let (mut to_rmcp, rmcp_input) = tokio::io::duplex(64 * 1024);
    let (rmcp_output, from_rmcp) = tokio::io::duplex(64 * 1024);

    let answers = lines.clone();
    let reader = tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut input).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line).await;
            match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let verdict = if line.len() > MAX_LINE_BYTES && !line.ends_with(b"\n") {
                // Skip the rest of the line without keeping it.
                let mut rest = Vec::new();
                while let Ok(n) = (&mut input).take(64 * 1024).read_until(b'\n', &mut rest).await {
                    if n == 0 || rest.ends_with(b"\n") {
                        break;
                    }
                    rest.clear();
                }
                let reason = format!("invalid request: a message is at most {MAX_LINE_BYTES} bytes");
                Verdict::Answer(error_message(Value::Null, INVALID_REQUEST, &reason))
            } else {
                verdict(line.strip_suffix(b"\n").unwrap_or(&line))
            };
            match verdict {
                Verdict::Forward(mut message) => {
                    message.push(b'\n');
                    if to_rmcp.write_all(&message).await.is_err() {
                        break;
                    }
                }
                Verdict::Answer(answer) => {
                    let mut message = answer.to_string().into_bytes();
                    message.push(b'\n');
                    if answers.send(message).await.is_err() {
                        break;
                    }
                }
                Verdict::Ignore => {}
            }
        }
        // End of input: rmcp sees its input end and stops.
        let _ = to_rmcp.shutdown().await;
    });
    let pump = tokio::spawn(async move {
        let mut from_rmcp = BufReader::new(from_rmcp);
        loop {
            let mut message = Vec::new();
            match from_rmcp.read_until(b'\n', &mut message).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !message.ends_with(b"\n") {
                message.push(b'\n');
            }
            if lines.send(message).await.is_err() {
                break;
            }
        }
    });

    let served = async {
        let running = server.clone().serve((rmcp_input, rmcp_output)).await.map_err(|error| error.to_string())?;
        // Already done while `initialize` was answered, unless the client never sent it.
        server.push_list_changes_to(running.peer());
        running.waiting().await.map_err(|error| error.to_string())?;
        Ok::<(), String>(())
    }
    .await;
    // rmcp has stopped: its output is closed (the pump ends), then everything queued is written.
    reader.abort();
    let _ = pump.await;
    let _ = writer.await;
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &str) -> Value {
        match verdict(line.as_bytes()) {
            Verdict::Answer(answer) => answer,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn lines_rmcp_can_read_are_passed_on_unchanged() {
        let line = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert_eq!(verdict(line.as_bytes()), Verdict::Forward(line.as_bytes().to_vec()));
        let with_bom = format!("\u{feff}{line}\r");
        assert_eq!(verdict(with_bom.as_bytes()), Verdict::Forward(line.as_bytes().to_vec()));
        assert_eq!(verdict(b"  "), Verdict::Ignore);
    }

    #[test]
    fn a_line_that_is_not_json_is_a_parse_error_with_id_null() {
        for line in ["{", "not json", r#"{"jsonrpc":"2.0","id":1,"method":"tools/list""#, "\u{0}"] {
            let answer = answer(line);
            assert_eq!((answer["id"].clone(), answer["error"]["code"].clone()), (json!(null), json!(-32700)), "{line}");
        }
    }

    #[test]
    fn invalid_requests_are_answered_with_their_id() {
        let answer_of = |line: &str| {
            let answer = answer(line);
            (answer["id"].clone(), answer["error"]["code"].as_i64().unwrap())
        };
        assert_eq!(answer_of(r#"{"jsonrpc":"1.0","id":7,"method":"tools/list"}"#), (json!(7), -32600));
        assert_eq!(answer_of(r#"{"id":"a","method":"tools/list"}"#), (json!("a"), -32600));
        assert_eq!(answer_of(r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#), (json!(null), -32600));
        assert_eq!(answer_of(r#"{"jsonrpc":"2.0","id":3,"method":5}"#), (json!(3), -32600));
        assert_eq!(answer_of(r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":5}"#), (json!(4), -32602));
        assert_eq!(answer_of("5"), (json!(null), -32600));
        assert_eq!(answer_of(r#""x""#), (json!(null), -32600));
    }

    #[test]
    fn batches_get_one_error_per_request() {
        let batch = answer(
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"b","method":"tools/list"}]"#,
        );
        let ids: Vec<Value> = batch.as_array().unwrap().iter().map(|a| a["id"].clone()).collect();
        assert_eq!(ids, vec![json!(1), json!("b")]);
        assert!(batch.as_array().unwrap().iter().all(|a| a["error"]["code"] == -32600));
        assert_eq!(answer("[]")["error"]["code"], -32600);
        assert_eq!(answer("[]")["id"], json!(null));
    }

    #[test]
    fn invalid_notifications_and_answers_are_not_answered() {
        assert_eq!(verdict(br#"{"jsonrpc":"1.0","method":"notifications/initialized"}"#), Verdict::Ignore);
        assert_eq!(verdict(br#"{"jsonrpc":"1.1","id":1,"result":5}"#), Verdict::Ignore);
    }
}
