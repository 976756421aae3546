//! The discovery tools of a view (`search_tools`, `describe_tools`, `call_tool`): their `tools/list`
//! entries and the answers of the first two. `call_tool` only unwraps its arguments here; the call
//! itself runs through the same path as a direct `tools/call` (`McpServer::call_tool`). Every tool
//! a caller may not call is invisible to search and describe, exactly as in `tools/list`.

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use crate::catalogue::Catalogue;
use crate::catalogue::views::View;
use crate::classify::{FieldError, Outcome};
use crate::discovery::profile;

pub const SEARCH_TOOLS: &str = "search_tools";
pub const DESCRIBE_TOOLS: &str = "describe_tools";
pub const CALL_TOOL: &str = "call_tool";

/// Hits returned when the agent gives no `limit`, and the most it may ask for.
const DEFAULT_LIMIT: usize = 5;
const MAX_LIMIT: usize = 25;
/// Tools described in one `describe_tools` call.
const MAX_DESCRIBED: usize = 10;

pub fn is_discovery_tool(name: &str) -> bool {
    matches!(name, SEARCH_TOOLS | DESCRIBE_TOOLS | CALL_TOOL)
}

/// The three `tools/list` entries of a view that uses discovery.
pub fn tool_entries(catalogue: &Catalogue, view: &View) -> Vec<Value> {
    let api = match catalogue.server.title.as_deref() {
        Some(title) => title.to_string(),
        None => catalogue.server.name.clone(),
    };
    let mut tags: Vec<&str> = Vec::new();
    for &index in &view.discovered {
        for tag in &catalogue.tools[index].source.tags {
            if !tags.contains(&tag.as_str()) && tags.len() < 40 {
                tags.push(tag);
            }
        }
    }
    let topics = if tags.is_empty() { String::new() } else { format!(" Topics: {}.", tags.join(", ")) };
    let read_only = json!({"readOnlyHint": true});
    vec![
        json!({
            "name": SEARCH_TOOLS,
            "description": format!(
                "Find the operation to call among the {} operations of {api}. Returns the best matches: name, HTTP call, \
                 description, required arguments. Then call_tool (or describe_tools for the full input schema).{topics}",
                view.discovered.len()
            ),
            "inputSchema": {"type": "object", "properties": {
                "query": {"type": "string", "description": "What you want to do, in plain words, e.g. \"comment on an issue\"."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "description": "Most matches returned. Default 5."}
            }, "required": ["query"]},
            "annotations": read_only,
        }),
        json!({
            "name": DESCRIBE_TOOLS,
            "description": "The full input schema (and output schema, when there is one) of one or a few operations found by search_tools.",
            "inputSchema": {"type": "object", "properties": {
                "names": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": MAX_DESCRIBED, "description": "Operation names from search_tools."}
            }, "required": ["names"]},
            "annotations": read_only,
        }),
        json!({
            "name": CALL_TOOL,
            "description": "Calls one operation found by search_tools with its arguments (as its input schema describes them).",
            "inputSchema": {"type": "object", "properties": {
                "name": {"type": "string", "description": "Operation name from search_tools."},
                "arguments": {"type": "object", "description": "The operation's arguments."}
            }, "required": ["name"]},
        }),
    ]
}

/// `search_tools`: the best matches among the tools the caller may call.
pub fn search(
    catalogue: &Catalogue,
    view: &View,
    arguments: &Map<String, Value>,
    visible: &dyn Fn(usize) -> bool,
) -> Result<CallToolResult, Outcome> {
    let query = match arguments.get("query") {
        Some(Value::String(query)) if !query.trim().is_empty() => query,
        _ => return Err(invalid("query", "a non-empty string is required, e.g. \"comment on an issue\"")),
    };
    let limit = match arguments.get("limit") {
        None | Some(Value::Null) => DEFAULT_LIMIT,
        Some(value) => match value.as_u64() {
            Some(limit) if (1..=MAX_LIMIT as u64).contains(&limit) => limit as usize,
            _ => return Err(invalid("limit", &format!("an integer from 1 to {MAX_LIMIT} is expected"))),
        },
    };
    if let Some(unknown) = arguments.keys().find(|key| !matches!(key.as_str(), "query" | "limit")) {
        return Err(invalid(unknown, "unknown argument; search_tools takes `query` and `limit`"));
    }
    let hits = match view.search_index(&catalogue.tools) {
        Some(index) => index.search(query, limit, |document| visible(view.discovered[document])),
        None => Vec::new(),
    };
    let hits: Vec<Value> = hits.iter().map(|hit| compact_hit(catalogue, view.discovered[hit.document])).collect();
    let text = if hits.is_empty() {
        json!({"hits": [], "note": "nothing matched; try other words"}).to_string()
    } else {
        json!({ "hits": hits }).to_string()
    };
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// One search hit: enough to call the tool when its arguments are obvious, little enough to read ten.
pub(super) fn compact_hit(catalogue: &Catalogue, tool_index: usize) -> Value {
    let tool = &catalogue.tools[tool_index];
    let required: Vec<&Value> =
        tool.input_schema.get("required").and_then(Value::as_array).into_iter().flatten().collect();
    json!({
        "name": tool.name,
        "call": format!("{} {}", tool.call.method.upper(), tool.call.path),
        "description": one_line(&tool.description),
        "required": required,
    })
}

/// The first sentence, at most about 120 characters.
fn one_line(description: &str) -> String {
    let first = description.split_inclusive(". ").next().unwrap_or(description).trim();
    let mut line: String = first.chars().take(120).collect();
    if first.chars().count() > 120 {
        line.push('…');
    }
    line
}

/// `describe_tools`: the entries exactly as direct mode lists them (with the view's profile).
pub fn describe(
    catalogue: &Catalogue,
    view: &View,
    arguments: &Map<String, Value>,
    visible: &dyn Fn(usize) -> bool,
) -> Result<CallToolResult, Outcome> {
    let names: Vec<&str> = match arguments.get("names") {
        Some(Value::Array(names)) if !names.is_empty() && names.len() <= MAX_DESCRIBED => {
            names.iter().filter_map(Value::as_str).collect()
        }
        Some(Value::String(name)) => vec![name.as_str()],
        _ => return Err(invalid("names", &format!("a list of 1 to {MAX_DESCRIBED} tool names is required"))),
    };
    let mut described = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match resolve(catalogue, view, name, visible) {
            Ok(tool_index) => {
                let entry = catalogue.tools[tool_index].to_mcp_json();
                described.push(profile::apply_to_tool(view.profile, entry));
            }
            Err(closest) => unknown.push(json!({"name": name, "closest": closest})),
        }
    }
    if described.is_empty() {
        let closest = unknown.first().and_then(|u| u["closest"].as_array().cloned()).unwrap_or_default();
        let names: Vec<&str> = closest.iter().filter_map(Value::as_str).collect();
        return Err(unknown_tool(
            "names",
            arguments.get("names").map(|n| n.to_string()).unwrap_or_default().as_str(),
            &names,
        ));
    }
    let mut answer = json!({ "tools": described });
    if !unknown.is_empty() {
        answer["unknown"] = Value::Array(unknown);
    }
    Ok(CallToolResult::success(vec![ContentBlock::text(answer.to_string())]))
}

/// The tool `call_tool` names and its arguments, or the CLIENT error for an unknown or hidden name.
pub fn unwrap_call(
    catalogue: &Catalogue,
    view: &View,
    arguments: &Map<String, Value>,
    visible: &dyn Fn(usize) -> bool,
) -> Result<(usize, Map<String, Value>), Outcome> {
    let Some(Value::String(name)) = arguments.get("name") else {
        return Err(invalid("name", "the name of a tool from search_tools is required"));
    };
    let inner = match arguments.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(inner)) => inner.clone(),
        // Some clients send nested arguments as JSON text.
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(inner)) => inner,
            _ => return Err(invalid("arguments", "an object of the tool's arguments is expected")),
        },
        Some(_) => return Err(invalid("arguments", "an object of the tool's arguments is expected")),
    };
    if let Some(unknown) = arguments.keys().find(|key| !matches!(key.as_str(), "name" | "arguments")) {
        return Err(invalid(unknown, "unknown argument; call_tool takes `name` and `arguments`"));
    }
    match resolve(catalogue, view, name, visible) {
        Ok(tool_index) => Ok((tool_index, inner)),
        Err(closest) => {
            let closest: Vec<&str> = closest.iter().map(String::as_str).collect();
            Err(unknown_tool("name", name, &closest))
        }
    }
}

/// A tool of the view the caller may call, or the closest names among those.
fn resolve(
    catalogue: &Catalogue,
    view: &View,
    name: &str,
    visible: &dyn Fn(usize) -> bool,
) -> Result<usize, Vec<String>> {
    if let Some(index) = catalogue.tool_index(name).filter(|&i| view.contains(i) && visible(i)) {
        return Ok(index);
    }
    let lower = name.to_lowercase();
    let mut scored: Vec<(f64, usize)> = view
        .members()
        .into_iter()
        .filter(|&i| visible(i))
        .map(|i| (strsim::jaro_winkler(&lower, &catalogue.tools[i].name.to_lowercase()), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Err(scored
        .iter()
        .take(3)
        .filter(|(score, _)| *score > 0.6)
        .map(|(_, i)| catalogue.tools[*i].name.clone())
        .collect())
}

fn invalid(field: &str, message: &str) -> Outcome {
    Outcome::InvalidArguments { fields: vec![FieldError::new(field, message)] }
}

fn unknown_tool(field: &str, name: &str, closest: &[&str]) -> Outcome {
    let hint = if closest.is_empty() {
        "; use search_tools to find one".to_string()
    } else {
        format!("; closest: {}", closest.join(", "))
    };
    invalid(field, &format!("unknown tool {name}{hint}"))
}
