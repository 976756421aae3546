//! Pagination at compile time: the paged tool's `inputSchema` (the upstream's paging parameters are
//! driven by api2mcp and hidden; one opaque `cursor` argument is added) and, in zero-config mode, the
//! inference of the paging style from common parameter names when the spec makes it unambiguous.

use serde_json::{Map, Value, json};

use super::schema::{Mode, SchemaCompiler, SchemaOptions};
use crate::catalogue::{ArgumentBinding, ArgumentLocation};
use crate::mapping::{PaginationConfig, PaginationMode, PaginationStyle};
use crate::spec::{Operation, Spec};

/// Hides the parameters api2mcp drives (cursor, offset, page; the page size stays the agent's choice) and
/// adds the cursor argument. Returns its name, and the values the first request gives the hidden
/// parameters the spec requires (see [`first_value`]).
pub fn paged_input(
    schema: &mut Map<String, Value>,
    bindings: &mut [ArgumentBinding],
    config: &PaginationConfig,
) -> (String, Map<String, Value>) {
    let driven = [&config.cursor_param, &config.offset_param, &config.page_param];
    let mut hidden: Vec<String> = Vec::new();
    let mut first_values = Map::new();
    for binding in bindings.iter_mut() {
        if binding.location != ArgumentLocation::Body
            && driven.iter().any(|param| param.as_deref() == Some(binding.wire_name.as_str()))
        {
            let argument_schema = schema.get("properties").and_then(|p| p.get(&binding.argument));
            if binding.required
                && let Some(value) = first_value(&binding.wire_name, argument_schema, config)
            {
                first_values.insert(binding.argument.clone(), value);
            }
            // The agent never sets it; the first request carries its first value when required.
            binding.required = false;
            hidden.push(binding.argument.clone());
        }
    }
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.retain(|name, _| !hidden.contains(name));
    }
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|name| !hidden.iter().any(|hidden| name == hidden));
        if required.is_empty() {
            schema.remove("required");
        }
    }
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    let name = if properties.get("cursor").is_some() { "page_cursor" } else { "cursor" };
    let description = match config.mode {
        PaginationMode::Agent => "next_cursor from the previous result; omit to start.",
        PaginationMode::Collect => "next_cursor from the previous result, to continue.",
    };
    if let Some(properties) = properties.as_object_mut() {
        properties.insert(name.to_string(), json!({"type": "string", "description": description}));
    }
    (name.to_string(), first_values)
}

/// What a required paging parameter is on the first request: the schema's `default`, `const` or
/// first `enum` value, else the start of the walk (`offset` 0 or its `minimum`; the configured
/// `first_page`, else the page `minimum`, else 1). A cursor has no first value to invent.
fn first_value(wire_name: &str, schema: Option<&Value>, config: &PaginationConfig) -> Option<Value> {
    let declared = schema.and_then(|schema| {
        schema
            .get("default")
            .or_else(|| schema.get("const"))
            .or_else(|| schema.get("enum").and_then(Value::as_array).and_then(|values| values.first()))
            .cloned()
    });
    let minimum = || schema.and_then(|schema| schema.get("minimum")).filter(|m| m.is_u64()).cloned();
    if let Some(value) = declared {
        return Some(value);
    }
    if config.page_param.as_deref() == Some(wire_name) {
        return Some(config.first_page.map(Value::from).or_else(minimum).unwrap_or(json!(1)));
    }
    if config.offset_param.as_deref() == Some(wire_name) {
        return Some(minimum().unwrap_or(json!(0)));
    }
    None
}

/// Cursor parameter names and the response fields that feed them.
const CURSOR_PARAMS: [(&str, &[&str]); 3] = [
    ("cursor", &["next_cursor", "nextCursor", "cursor", "next"]),
    ("page_token", &["next_page_token", "nextPageToken"]),
    ("pageToken", &["nextPageToken", "next_page_token"]),
];
const PAGE_SIZE_PARAMS: [&str; 4] = ["per_page", "page_size", "pageSize", "limit"];

/// The paging style of an operation, when its query parameters and response make it unambiguous:
/// `cursor`/`page_token` with a next-cursor field, `starting_after` with `has_more` (Stripe),
/// `offset` + `limit`, `page` + a page size. `None` when nothing or more than one style fits.
pub fn infer(spec: &Spec, operation: &Operation<'_>, bindings: &[ArgumentBinding]) -> Option<PaginationConfig> {
    let query: Vec<&str> =
        bindings.iter().filter(|b| b.location == ArgumentLocation::Query).map(|b| b.wire_name.as_str()).collect();
    let has = |name: &str| query.contains(&name);
    let mut candidates: Vec<PaginationConfig> = Vec::new();
    let looks_paged = has("starting_after")
        || CURSOR_PARAMS.iter().any(|(p, _)| has(p))
        || (has("offset") && has("limit"))
        || (has("page") && PAGE_SIZE_PARAMS.iter().any(|p| has(p)));
    if !looks_paged {
        return None;
    }
    // Two levels: enough to see the fields and their types.
    let response = response_schema(spec, operation, 2)?;
    let properties = response.get("properties").and_then(Value::as_object);
    let field = |name: &str| properties.is_some_and(|p| p.contains_key(name));
    // The items: the body when it is an array, else its only array-valued property.
    let items: Option<Option<String>> = if response.get("type") == Some(&json!("array")) {
        Some(None)
    } else {
        let arrays: Vec<&String> = properties
            .into_iter()
            .flatten()
            .filter(|(_, schema)| schema.get("type") == Some(&json!("array")))
            .map(|(name, _)| name)
            .collect();
        match arrays.as_slice() {
            [only] => Some(Some(member_path(only))),
            _ => None,
        }
    };
    let items = items?;
    let base = |style: PaginationStyle| PaginationConfig {
        style,
        mode: PaginationMode::Agent,
        items: items.clone(),
        cursor_param: None,
        next_cursor: None,
        has_more: field("has_more").then(|| "$.has_more".to_string()),
        offset_param: None,
        limit_param: None,
        page_param: None,
        first_page: None,
        page_size: None,
        next_url: None,
        max_pages: None,
        max_items: None,
    };
    for (param, fields) in CURSOR_PARAMS {
        if !has(param) {
            continue;
        }
        let found: Vec<&&str> = fields.iter().filter(|f| field(f)).collect();
        if let [next] = found.as_slice() {
            candidates.push(PaginationConfig {
                cursor_param: Some(param.to_string()),
                next_cursor: Some(format!("$.{next}")),
                ..base(PaginationStyle::Cursor)
            });
        }
    }
    if has("starting_after")
        && field("has_more")
        && let Some(items) = &items
    {
        candidates.push(PaginationConfig {
            cursor_param: Some("starting_after".to_string()),
            next_cursor: Some(format!("{items}[-1].id")),
            ..base(PaginationStyle::Cursor)
        });
    }
    if has("offset") && has("limit") {
        candidates.push(PaginationConfig {
            offset_param: Some("offset".to_string()),
            limit_param: Some("limit".to_string()),
            ..base(PaginationStyle::Offset)
        });
    }
    if has("page")
        && let Some(size) = PAGE_SIZE_PARAMS.iter().find(|p| has(p))
    {
        candidates.push(PaginationConfig {
            page_param: Some("page".to_string()),
            limit_param: Some(size.to_string()),
            ..base(PaginationStyle::Page)
        });
    }
    match candidates.len() {
        1 => candidates.pop(),
        _ => None,
    }
}

/// The JSONPath of a top-level member: `$.data`, or `$['data-items']` when the name is not an RFC 9535
/// member-name shorthand (`$.data-items` would not parse).
fn member_path(name: &str) -> String {
    let first = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(first) && chars.all(|c| first(c) || c.is_ascii_digit());
    if plain { format!("$.{name}") } else { format!("$['{}']", name.replace('\\', "\\\\").replace('\'', "\\'")) }
}

/// The lowest 2xx JSON response schema, compiled `depth` levels deep.
pub fn response_schema(spec: &Spec, operation: &Operation<'_>, depth: usize) -> Option<Value> {
    let responses = operation.operation.get("responses")?.as_object()?;
    let mut codes: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
    codes.sort();
    let (doc, response) = spec.deref(operation.operation_doc, responses.get(*codes.first()?)?).ok()?;
    let content = response.get("content")?.as_object()?;
    // The media type the output schema is read from (`output_schema`), whose schema a Swagger 2.0
    // upgrade writes once for all the response's types.
    let (media, entry) = crate::spec::preferred_media(content)?;
    let schema = entry.get("schema").filter(|_| media.contains("json") || media == "*/*")?;
    let mut compiler = SchemaCompiler::new(
        spec,
        SchemaOptions { mode: Mode::Output, description_words: 0, max_depth: depth, max_bytes: None },
    );
    compiler.compile(doc, schema)
}

#[cfg(test)]
mod tests {
    use super::member_path;

    #[test]
    fn member_paths_parse_whatever_the_name() {
        for (name, path) in [
            ("data", "$.data"),
            ("_items2", "$._items2"),
            ("données", "$.données"),
            ("data-items", "$['data-items']"),
            ("2nd", "$['2nd']"),
            ("it's", r"$['it\'s']"),
            (r"back\slash", r"$['back\\slash']"),
        ] {
            assert_eq!(member_path(name), path);
            let parsed = serde_json_path::JsonPath::parse(path).expect("the path parses");
            let mut body = serde_json::Map::new();
            body.insert(name.to_string(), serde_json::json!(1));
            let found = parsed.query(&serde_json::Value::Object(body)).exactly_one().ok().cloned();
            assert_eq!(found, Some(serde_json::json!(1)), "{path} selects '{name}'");
        }
    }
}
