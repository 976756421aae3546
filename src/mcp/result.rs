//! Turns a call's output or a classified failure into an MCP tool result: shaped JSON as its text plus
//! `structuredContent` (when the shaped output is JSON); text as text; binary as an embedded resource
//! (base64) up to a limit; failures as `isError` results carrying the structured error and a short text.

use base64::Engine;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};

use crate::call::{CallOutput, UpstreamResponse};
use crate::classify::{self, Outcome};

/// Binary bodies larger than this are described, not embedded.
const MAX_EMBEDDED_BINARY: usize = 1024 * 1024;

/// The tool result, and the failure's category (`None` for a success).
pub fn tool_result(
    tool: &str,
    outcome: Result<CallOutput, Outcome>,
    secrets: impl FnOnce() -> Vec<String>,
) -> (CallToolResult, Option<classify::Category>) {
    match outcome {
        Ok(CallOutput::Shaped(shaped)) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(shaped.text)]);
            result.structured_content = shaped.structured;
            (result, None)
        }
        Ok(CallOutput::Raw(response)) => (success(response), None),
        Err(outcome) => {
            let secrets = secrets();
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let error = classify::classify(&outcome, std::time::SystemTime::now(), &secrets);
            // SERVER failures are shown without internals, so the detail goes to the log. Other
            // categories are the upstream's or the agent's doing and are logged at debug level.
            if error.category == classify::Category::Server && !matches!(outcome, Outcome::Cancelled) {
                tracing::error!(tool, code = error.code, detail = ?outcome, "tool call failed inside api2mcp");
            } else {
                tracing::debug!(tool, category = error.category.as_str(), code = error.code, "tool call failed");
            }
            let mut result = CallToolResult::error(vec![ContentBlock::text(classify::render_text(&error))]);
            result.structured_content = serde_json::to_value(&error).ok();
            (result, Some(error.category))
        }
    }
}

fn success(response: UpstreamResponse) -> CallToolResult {
    let media_type = response
        .content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    if response.body.is_empty() {
        return CallToolResult::success(vec![ContentBlock::text(format!(
            "Done (HTTP {}, no content).",
            response.status
        ))]);
    }
    if media_type.starts_with("text/") || media_type.ends_with("xml") || std::str::from_utf8(&response.body).is_ok() {
        let mut text = String::from_utf8_lossy(&response.body).into_owned();
        // Text has no items to cut at: it is cut at the default token budget, with a note.
        let budget = crate::shape::DEFAULT_MAX_TOKENS * 4;
        if text.len() > budget {
            let tokens = crate::shape::approx_tokens(&text);
            let mut end = budget;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push_str(&format!(
                "\n… text cut at {} of ~{tokens} tokens; ask for a narrower query",
                crate::shape::DEFAULT_MAX_TOKENS
            ));
        }
        return CallToolResult::success(vec![ContentBlock::text(text)]);
    }
    if response.body.len() > MAX_EMBEDDED_BINARY {
        return CallToolResult::success(vec![ContentBlock::text(format!(
            "The response is {} bytes of {}, too large to include.",
            response.body.len(),
            if media_type.is_empty() { "binary data" } else { &media_type }
        ))]);
    }
    let blob = base64::engine::general_purpose::STANDARD.encode(&response.body);
    CallToolResult::success(vec![ContentBlock::resource(ResourceContents::BlobResourceContents {
        uri: "api2mcp://response".to_string(),
        mime_type: (!media_type.is_empty()).then_some(media_type),
        blob,
        meta: None,
    })])
}
