//! Log messages to the client (`notifications/message`, the 2025-era logging capability): after a
//! client of a long-lived transport (stdio) sets a level with `logging/setLevel`, every failed tool
//! call is reported to it, at `warning` when the call itself was wrong (CLIENT) and at `error`
//! otherwise. Over stateless HTTP no level outlives the request that set it, so nothing is sent there.
//! Logging is deprecated from protocol 2026-07-28 on (SEP-2577); rmcp marks its types so.
#![allow(deprecated)]

use std::sync::atomic::{AtomicU8, Ordering};

use rmcp::model::{CallToolResult, LoggingLevel, LoggingMessageNotificationParam};

use crate::classify::Category;
use rmcp::service::{Peer, RoleServer};
use serde_json::json;

/// No level set: nothing is sent.
pub const OFF: u8 = 0;
/// The longest error text sent in one message.
const MAX_TEXT: usize = 1_000;

/// The level's rank, higher is more severe; never [`OFF`].
pub fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 1,
        LoggingLevel::Info => 2,
        LoggingLevel::Notice => 3,
        LoggingLevel::Warning => 4,
        LoggingLevel::Error => 5,
        LoggingLevel::Critical => 6,
        LoggingLevel::Alert => 7,
        LoggingLevel::Emergency => 8,
    }
}

/// Reports a call that failed with `category` to a client that asked for messages at its level; a
/// client that set no level (or a higher one) gets nothing.
pub async fn failed_call(
    level: &AtomicU8,
    peer: &Peer<RoleServer>,
    tool: &str,
    category: Category,
    result: &CallToolResult,
) {
    let wanted = level.load(Ordering::Relaxed);
    let severity = match category {
        Category::Client => LoggingLevel::Warning,
        Category::Server | Category::External => LoggingLevel::Error,
    };
    if wanted == OFF || rank(severity) < wanted {
        return;
    }
    let text: String = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.as_str())).collect();
    let text: String = text.chars().take(MAX_TEXT).collect();
    let message =
        LoggingMessageNotificationParam::new(severity, json!({"tool": tool, "error": text})).with_logger("api2mcp");
    // A client that went away cannot be told; the call's own result already went out.
    let _ = peer.notify_logging_message(message).await;
}
