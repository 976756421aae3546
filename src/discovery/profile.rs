//! Client schema profiles: each rewrites a tool's `inputSchema` into what one model provider's
//! function calling accepts (rules and sources in `specs/discovery-mode.md`), losing as little as
//! possible: optional properties become nullable where every property must be required, unions
//! become the widest accepted form, free-form objects become JSON text, and dropped constraints move
//! into the description. [`map_back`] turns arguments valid for the rewritten schema into arguments
//! for the original one before validation; [`violations`] checks a schema against a profile's rules.

use serde_json::{Map, Value, json};

/// Which provider's rules a view's schemas are rewritten for (the mapping's `profile`, compiled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchemaProfile {
    /// JSON Schema 2020-12 as compiled, unchanged.
    #[default]
    Full,
    /// OpenAI strict function calling / Structured Outputs.
    OpenaiStrict,
    /// Gemini function declarations (the OpenAPI 3.0 schema subset).
    Gemini,
    /// Anthropic tool use.
    Anthropic,
}

impl SchemaProfile {
    pub const ALL: [SchemaProfile; 4] =
        [SchemaProfile::Full, SchemaProfile::OpenaiStrict, SchemaProfile::Gemini, SchemaProfile::Anthropic];

    pub fn label(self) -> &'static str {
        match self {
            SchemaProfile::Full => "full",
            SchemaProfile::OpenaiStrict => "openai-strict",
            SchemaProfile::Gemini => "gemini",
            SchemaProfile::Anthropic => "anthropic",
        }
    }
}

/// OpenAI strict mode: the keywords its Structured Outputs guide lists as supported.
const OPENAI_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "anyOf",
    "description",
    "title",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
];
/// The string formats OpenAI strict mode supports.
const OPENAI_FORMATS: &[&str] = &["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"];
/// Gemini: the fields of its `Schema` object (a subset of OpenAPI 3.0).
const GEMINI_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "anyOf",
    "items",
    "minimum",
    "maximum",
    "propertyOrdering",
    "default",
];

/// A rewritten `tools/list` entry: only `inputSchema` changes.
pub fn apply_to_tool(profile: SchemaProfile, mut entry: Value) -> Value {
    if profile == SchemaProfile::Full {
        return entry;
    }
    if let Some(schema) = entry.get_mut("inputSchema").and_then(Value::as_object_mut) {
        *schema = rewrite(profile, schema);
    }
    entry
}

/// What a profile makes of one input schema (an object at the top).
pub fn rewrite(profile: SchemaProfile, schema: &Map<String, Value>) -> Map<String, Value> {
    let mut schema = schema.clone();
    schema.remove("$schema");
    match profile {
        SchemaProfile::Full => schema,
        SchemaProfile::Anthropic => {
            flatten_top_level_union(&mut schema);
            schema.insert("type".into(), json!("object"));
            schema
        }
        SchemaProfile::OpenaiStrict => {
            flatten_top_level_union(&mut schema);
            match openai(Value::Object(schema), true) {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        }
        SchemaProfile::Gemini => {
            flatten_top_level_union(&mut schema);
            match gemini(Value::Object(schema), true) {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        }
    }
}

/// Top-level `oneOf`/`anyOf`/`allOf` (refused by Anthropic and OpenAI at the root): the alternatives'
/// properties are merged into the object, none of them required, and the choice is described.
fn flatten_top_level_union(schema: &mut Map<String, Value>) {
    for keyword in ["oneOf", "anyOf", "allOf"] {
        let Some(Value::Array(alternatives)) = schema.remove(keyword) else { continue };
        let properties = schema.entry("properties").or_insert_with(|| json!({}));
        let mut all_required: Vec<Value> = Vec::new();
        for alternative in &alternatives {
            if let (Some(extra), Some(properties)) =
                (alternative.get("properties").and_then(Value::as_object), properties.as_object_mut())
            {
                for (name, property) in extra {
                    properties.entry(name.clone()).or_insert_with(|| property.clone());
                }
            }
            if keyword == "allOf" {
                all_required.extend(alternative.get("required").and_then(Value::as_array).cloned().unwrap_or_default());
            }
        }
        if keyword == "allOf" && !all_required.is_empty() {
            let required = schema.entry("required").or_insert_with(|| json!([]));
            if let Some(required) = required.as_array_mut() {
                for name in all_required {
                    if !required.contains(&name) {
                        required.push(name);
                    }
                }
            }
        } else {
            note(schema, &format!("Give the arguments of one of {} alternatives.", alternatives.len()));
        }
    }
}

fn note(schema: &mut Map<String, Value>, text: &str) {
    let description = match schema.get("description").and_then(Value::as_str) {
        Some(existing) if !existing.is_empty() => format!("{existing} {text}"),
        _ => text.to_string(),
    };
    schema.insert("description".into(), Value::String(description));
}

/// The types a schema allows, from `type` (a string or a list); empty when it does not say.
fn types(schema: &Map<String, Value>) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// An object whose keys are not listed (a map or anything): such values travel as JSON text.
fn is_free_form_object(schema: &Map<String, Value>) -> bool {
    let object = types(schema).iter().any(|t| t == "object");
    let listed = schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty());
    object && !listed
}

/// A schema nothing can be said of (`{}` or only a description): any JSON value.
fn is_untyped(schema: &Map<String, Value>) -> bool {
    !["type", "enum", "const", "anyOf", "oneOf", "allOf", "properties", "items", "$ref"]
        .iter()
        .any(|k| schema.contains_key(*k))
}

fn json_text(schema: &Map<String, Value>, what: &str) -> Value {
    let mut text = Map::new();
    text.insert("type".into(), json!("string"));
    let description = schema.get("description").and_then(Value::as_str).unwrap_or_default();
    text.insert("description".into(), json!(format!("{description} ({what} as JSON text)").trim().to_string()));
    Value::Object(text)
}

fn moved_constraints(schema: &mut Map<String, Value>, allowed: &[&str]) {
    let dropped: Vec<String> = schema
        .iter()
        .filter(|(key, _)| !allowed.contains(&key.as_str()))
        .filter(|(key, _)| !matches!(key.as_str(), "$schema" | "examples" | "deprecated" | "readOnly" | "writeOnly"))
        .map(|(key, value)| format!("{key}: {value}"))
        .collect();
    schema.retain(|key, _| allowed.contains(&key.as_str()));
    if !dropped.is_empty() {
        let mut text = dropped.join("; ");
        if text.len() > 200 {
            text = text.chars().take(200).collect::<String>() + "…";
        }
        note(schema, &format!("({text})"));
    }
}

/// OpenAI strict: every object closed and fully required (optional properties nullable), only
/// supported keywords, free-form objects as JSON text, `oneOf` as `anyOf`.
fn openai(schema: Value, _root: bool) -> Value {
    let Value::Object(mut schema) = schema else { return json!({"type": "string"}) };
    // `properties` without `type` (GitHub writes such schemas beside an `anyOf` of `required`
    // lists) describes an object: say so, strict mode needs a type on every schema.
    if !schema.contains_key("type") && schema.get("properties").is_some_and(Value::is_object) {
        schema.insert("type".into(), json!("object"));
    }
    if is_free_form_object(&schema) && !_root {
        return json_text(&schema, "an object");
    }
    if is_untyped(&schema) {
        return json_text(&schema, "any value");
    }
    unions_as_any_of(&mut schema);
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !OPENAI_FORMATS.contains(&format)
    {
        let format = format.to_string();
        schema.remove("format");
        note(&mut schema, &format!("(format: {format})"));
    }
    moved_constraints(&mut schema, OPENAI_KEYWORDS);
    overlays_into_description(&mut schema);
    if let Some(Value::Array(alternatives)) = schema.remove("anyOf") {
        schema.insert("anyOf".into(), Value::Array(alternatives.into_iter().map(|a| openai(a, false)).collect()));
    }
    if let Some(items) = schema.remove("items") {
        schema.insert("items".into(), openai(items, false));
    }
    if types(&schema).iter().any(|t| t == "object") {
        let properties = match schema.remove("properties") {
            Some(Value::Object(properties)) => properties,
            _ => Map::new(),
        };
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let mut rewritten = Map::new();
        for (name, property) in properties {
            let mut property = openai(property, false);
            if !required.contains(&name) {
                property = nullable(property);
            }
            rewritten.insert(name, property);
        }
        schema.insert("required".into(), Value::Array(rewritten.keys().map(|k| json!(k)).collect()));
        schema.insert("properties".into(), Value::Object(rewritten));
        schema.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(schema)
}

/// The schema with `null` allowed too (`type` list, or an `anyOf` branch).
fn nullable(schema: Value) -> Value {
    let Value::Object(mut schema) = schema else { return schema };
    let mut list = types(&schema);
    if schema.contains_key("anyOf") {
        if let Some(Value::Array(alternatives)) = schema.get_mut("anyOf")
            && !alternatives.iter().any(|a| a.get("type") == Some(&json!("null")))
        {
            alternatives.push(json!({"type": "null"}));
        }
        return Value::Object(schema);
    }
    if list.is_empty() {
        return Value::Object(schema);
    }
    if !list.iter().any(|t| t == "null") {
        list.push("null".into());
        if let Some(Value::Array(values)) = schema.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    schema.insert("type".into(), json!(list));
    Value::Object(schema)
}

/// Gemini: one type per schema (`null` as `nullable`, several as `anyOf`), `const` as a one-value
/// `enum`, no `$ref`/`oneOf`/`allOf`/`additionalProperties`, free-form objects as JSON text,
/// only the formats it documents.
fn gemini(schema: Value, root: bool) -> Value {
    let Value::Object(mut schema) = schema else { return json!({"type": "string"}) };
    if (is_free_form_object(&schema) && !root) || is_untyped(&schema) {
        return json_text(&schema, if is_untyped(&schema) { "any value" } else { "an object" });
    }
    if let Some(value) = schema.remove("const") {
        schema.insert("enum".into(), Value::Array(vec![value]));
    }
    unions_as_any_of(&mut schema);
    let mut list = types(&schema);
    if list.iter().any(|t| t == "null") {
        list.retain(|t| t != "null");
        schema.insert("nullable".into(), json!(true));
    }
    match list.len() {
        0 => {
            schema.remove("type");
        }
        1 => {
            schema.insert("type".into(), json!(list[0]));
        }
        _ => {
            schema.remove("type");
            let alternatives: Vec<Value> = list.iter().map(|t| json!({ "type": t })).collect();
            schema.insert("anyOf".into(), Value::Array(alternatives));
        }
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    let format_ok = match (schema.get("type").and_then(Value::as_str), schema.get("format").and_then(Value::as_str)) {
        (_, None) => true,
        (Some("string"), Some(format)) => matches!(format, "enum" | "date-time"),
        (Some("number"), Some(format)) => matches!(format, "float" | "double"),
        (Some("integer"), Some(format)) => matches!(format, "int32" | "int64"),
        _ => false,
    };
    if !format_ok && let Some(format) = schema.remove("format") {
        note(&mut schema, &format!("(format: {})", format.as_str().unwrap_or_default()));
    }
    if schema.get("additionalProperties").is_some_and(|a| a.as_bool() == Some(false)) {
        schema.remove("additionalProperties");
    }
    moved_constraints(&mut schema, GEMINI_KEYWORDS);
    if let Some(Value::Array(alternatives)) = schema.remove("anyOf") {
        schema.insert("anyOf".into(), Value::Array(alternatives.into_iter().map(|a| gemini(a, false)).collect()));
    }
    if let Some(items) = schema.remove("items") {
        schema.insert("items".into(), gemini(items, false));
    }
    if let Some(Value::Object(properties)) = schema.remove("properties") {
        let rewritten: Map<String, Value> = properties.into_iter().map(|(k, v)| (k, gemini(v, false))).collect();
        schema.insert("properties".into(), Value::Object(rewritten));
    }
    Value::Object(schema)
}

/// Arguments valid for a profile's rewritten schema → arguments for the original schema: nulls
/// the original does not allow mean "not given" and are dropped; JSON text where the original wants
/// an object or any value is parsed. Walks the original schema, so it needs nothing else.
pub fn map_back(
    profile: SchemaProfile,
    original: &Map<String, Value>,
    arguments: Map<String, Value>,
) -> Map<String, Value> {
    if profile == SchemaProfile::Full {
        return arguments;
    }
    match back(original, Value::Object(arguments), true) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn allows_null(schema: &Map<String, Value>) -> bool {
    types(schema).iter().any(|t| t == "null")
        || schema.get("nullable") == Some(&json!(true))
        || ["anyOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|s| s.get("type") == Some(&json!("null"))))
        })
}

fn back(schema: &Map<String, Value>, value: Value, root: bool) -> Value {
    match value {
        Value::String(text) if !root && (is_free_form_object(schema) || is_untyped(schema)) => {
            match serde_json::from_str::<Value>(&text) {
                Ok(parsed) if is_untyped(schema) || parsed.is_object() => parsed,
                _ => Value::String(text),
            }
        }
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            for (name, value) in map {
                let property = properties.and_then(|p| p.get(&name)).and_then(Value::as_object);
                match property {
                    Some(property) => {
                        if value.is_null() && !required.contains(&name.as_str()) && !allows_null(property) {
                            continue;
                        }
                        out.insert(name, back(property, value, false));
                    }
                    None => {
                        out.insert(name, value);
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => match schema.get("items").and_then(Value::as_object) {
            Some(item_schema) => Value::Array(items.into_iter().map(|item| back(item_schema, item, false)).collect()),
            None => Value::Array(items),
        },
        other => other,
    }
}

/// Where a schema breaks a profile's documented rules (empty: accepted). Used by tests and `check`.
pub fn violations(profile: SchemaProfile, schema: &Map<String, Value>) -> Vec<String> {
    let mut found = Vec::new();
    match profile {
        SchemaProfile::Full => {}
        SchemaProfile::Anthropic => {
            if schema.get("type") != Some(&json!("object")) {
                found.push("/: the top level must be `type: object`".to_string());
            }
            for keyword in ["oneOf", "anyOf", "allOf"] {
                if schema.contains_key(keyword) {
                    found.push(format!("/: `{keyword}` at the top level"));
                }
            }
        }
        SchemaProfile::OpenaiStrict => {
            if schema.get("type") != Some(&json!("object")) || schema.contains_key("anyOf") {
                found.push("/: the root must be an object, not anyOf".to_string());
            }
            check_openai(schema, "", &mut found);
        }
        SchemaProfile::Gemini => check_gemini(schema, "", &mut found),
    }
    found
}

fn children<'a>(schema: &'a Map<String, Value>, at: &str) -> Vec<(String, &'a Map<String, Value>)> {
    let mut out = Vec::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if let Some(property) = property.as_object() {
                out.push((format!("{at}/properties/{name}"), property));
            }
        }
    }
    if let Some(items) = schema.get("items").and_then(Value::as_object) {
        out.push((format!("{at}/items"), items));
    }
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
        for (index, alternative) in alternatives.iter().enumerate() {
            if let Some(alternative) = alternative.as_object() {
                out.push((format!("{at}/anyOf/{index}"), alternative));
            }
        }
    }
    out
}

fn check_openai(schema: &Map<String, Value>, at: &str, found: &mut Vec<String>) {
    for key in schema.keys() {
        if !OPENAI_KEYWORDS.contains(&key.as_str()) {
            found.push(format!("{at}/{key}: keyword not supported in strict mode"));
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str)
        && !OPENAI_FORMATS.contains(&format)
    {
        found.push(format!("{at}/format: '{format}' not supported"));
    }
    if types(schema).iter().any(|t| t == "object") {
        if schema.get("additionalProperties") != Some(&json!(false)) {
            found.push(format!("{at}: objects need `additionalProperties: false`"));
        }
        let properties: Vec<&String> =
            schema.get("properties").and_then(Value::as_object).map(|p| p.keys().collect()).unwrap_or_default();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for property in properties {
            if !required.contains(&property.as_str()) {
                found.push(format!("{at}/properties/{property}: every property must be required"));
            }
        }
    }
    if !schema.contains_key("type")
        && !schema.contains_key("anyOf")
        && !schema.contains_key("enum")
        && !schema.contains_key("const")
    {
        found.push(format!("{at}: a type (or anyOf / enum) is required"));
    }
    for (path, child) in children(schema, at) {
        check_openai(child, &path, found);
    }
}

fn check_gemini(schema: &Map<String, Value>, at: &str, found: &mut Vec<String>) {
    for key in schema.keys() {
        if !GEMINI_KEYWORDS.contains(&key.as_str()) {
            found.push(format!("{at}/{key}: field not in Gemini's Schema"));
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if t == "null" => found.push(format!("{at}/type: null is written `nullable: true`")),
        Some(Value::String(_)) | None => {}
        Some(_) => found.push(format!("{at}/type: a single type name is required")),
    }
    if schema.get("type") == Some(&json!("object"))
        && !at.is_empty()
        && schema.get("properties").and_then(Value::as_object).is_none_or(|p| p.is_empty())
    {
        found.push(format!("{at}: an object needs properties"));
    }
    for (path, child) in children(schema, at) {
        check_gemini(child, &path, found);
    }
}

/// An `anyOf` whose branches only add constraints to the schema's own type (GitHub's check run
/// update: `type: object, anyOf: [{properties: {status: {enum: [completed]}}, required:
/// [conclusion]}, ...]`) is not a choice of types: strict mode cannot express it (each branch would
/// become a closed object of its own), so it moves into the description. The original schema still
/// validates the mapped-back arguments, so nothing is lost.
fn overlays_into_description(schema: &mut Map<String, Value>) {
    let typed = schema.contains_key("type") || schema.contains_key("properties");
    let overlays = schema.get("anyOf").and_then(Value::as_array).is_some_and(|alternatives| {
        alternatives.iter().all(|a| {
            a.as_object()
                .is_some_and(|a| !a.contains_key("type") && !a.contains_key("enum") && !a.contains_key("const"))
        })
    });
    if !(typed && overlays) {
        return;
    }
    let Some(Value::Array(alternatives)) = schema.remove("anyOf") else { return };
    let mut text = serde_json::to_string(&alternatives).unwrap_or_default();
    if text.len() > 300 {
        let mut end = 300;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    note(schema, &format!("(must also match one of: {text})"));
}

/// `oneOf` and `allOf` become `anyOf` (the widest form providers accept), except that a single-branch
/// `allOf` is merged into the schema itself. Used by the profiles that reject `oneOf`/`allOf`.
fn unions_as_any_of(schema: &mut Map<String, Value>) {
    for keyword in ["oneOf", "allOf"] {
        if let Some(Value::Array(alternatives)) = schema.remove(keyword) {
            if keyword == "allOf"
                && alternatives.len() == 1
                && let Value::Object(only) = &alternatives[0]
            {
                for (key, value) in only {
                    schema.entry(key.clone()).or_insert_with(|| value.clone());
                }
            } else {
                schema.insert("anyOf".into(), Value::Array(alternatives));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's check run update: branches that only add constraints to the object are not a choice
    /// of types; strict mode describes them, and the rewritten schema passes the strict rules.
    #[test]
    fn constraint_overlays_become_description_in_strict_mode() {
        let original = json!({
            "type": "object",
            "properties": {"body": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "conclusion": {"type": "string"}},
                "anyOf": [
                    {"properties": {"status": {"enum": ["completed"]}}, "required": ["conclusion"]},
                    {"properties": {"status": {"enum": ["queued", "in_progress"]}}}
                ]
            }}
        });
        let original = original.as_object().unwrap().clone();
        let rewritten = rewrite(SchemaProfile::OpenaiStrict, &original);
        assert!(violations(SchemaProfile::OpenaiStrict, &rewritten).is_empty(), "{rewritten:?}");
        let body = &rewritten["properties"]["body"];
        let body = body.get("anyOf").and_then(|a| a[0].as_object()).map_or(body, |_| &body["anyOf"][0]);
        assert!(body["description"].as_str().unwrap().contains("must also match one of"), "{body}");
        // A real choice of types stays a union.
        // Properties without a type, and an anyOf of `required` lists (GitHub's custom pattern update).
        let untyped = json!({"type": "object", "properties": {"body": {
            "required": ["version"],
            "anyOf": [{"required": ["pattern"]}, {"required": ["must_match"]}],
            "properties": {"version": {"type": "string"}, "pattern": {"type": "string"}, "must_match": {"type": "string"}}
        }}, "required": ["body"]});
        let rewritten = rewrite(SchemaProfile::OpenaiStrict, untyped.as_object().unwrap());
        assert!(violations(SchemaProfile::OpenaiStrict, &rewritten).is_empty(), "{rewritten:?}");
        assert_eq!(rewritten["properties"]["body"]["type"], "object");
        let union =
            json!({"type": "object", "properties": {"id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}});
        let rewritten = rewrite(SchemaProfile::OpenaiStrict, union.as_object().unwrap());
        assert!(rewritten["properties"]["id"]["anyOf"].is_array(), "{rewritten:?}");
    }
}
