//! The advertised `outputSchema` of a shaped tool: the success response's schema put through the same
//! steps as the response itself (select → fields → exclude → rename; arrays wrapped as `{"items": [...]}`;
//! paginated results as `{"items": [...], "next_cursor"?}`), so that `structuredContent` always conforms.
//!
//! Shaping can leave out any field (`drop_empty`, `fields`, a cut at the token budget), so the rewritten
//! schema requires nothing. When the shaped output has no knowable object shape (a text format, a scalar,
//! a JSONPath this module cannot follow through a schema), no schema is advertised at all.

use serde_json::{Map, Value, json};

use super::{FieldTree, split_path};
use crate::catalogue::output::{Output, OutputFormat};

/// How the tool's result is built from the response.
pub enum ResultShape<'a> {
    /// One response, shaped by `output`.
    Single,
    /// Pages: the items at this JSONPath (`None`: the body when it is an array, else the body's only
    /// array-valued property), each shaped by `output`, wrapped with the next cursor.
    Paginated { items: Option<&'a str> },
}

/// `response` is the compiled, self-contained JSON Schema of the success response.
pub fn shaped_output_schema(
    response: &Value,
    output: Option<&Output>,
    shape: ResultShape<'_>,
) -> Option<Map<String, Value>> {
    if let Some(output) = output
        && !matches!(output.format, OutputFormat::Json)
    {
        return None;
    }
    let schema = match shape {
        ResultShape::Single => {
            let selected = match output.and_then(|o| o.select.as_ref()).map(|select| select.query.text.as_str()) {
                Some(path) => select(response, path)?,
                None => response.clone(),
            };
            let shaped = shape_fields(selected, output);
            if is_type(&shaped, "array") { wrap_items(shaped, false) } else { shaped }
        }
        ResultShape::Paginated { items } => {
            let array = match items {
                Some(path) => select(response, path)?,
                None => default_items(response)?,
            };
            let item = array.get("items").cloned().unwrap_or(json!({}));
            wrap_items(json!({"type": "array", "items": shape_fields(item, output)}), true)
        }
    };
    let mut schema = schema;
    strip_required(&mut schema);
    match schema {
        Value::Object(map) if is_type(&Value::Object(map.clone()), "object") => Some(map),
        _ => None,
    }
}

/// The schema `fields`, `exclude` and `rename` apply to (an array's item schema when the selected value is
/// an array), for `check`'s field diagnostics; `selected` is the `output.select` JSONPath as written.
/// `None` when it cannot be known.
pub fn shaped_subject(response: &Value, selected: Option<&str>, shape: ResultShape<'_>) -> Option<Value> {
    let subject = match shape {
        ResultShape::Single => match selected {
            Some(path) => select(response, path)?,
            None => response.clone(),
        },
        ResultShape::Paginated { items } => match items {
            Some(path) => select(response, path)?,
            None => default_items(response)?,
        },
    };
    Some(if is_type(&subject, "array") { subject.get("items").cloned().unwrap_or(json!({})) } else { subject })
}

/// Whether a dotted field path exists in a schema (through arrays' items): `Some(Err(known names))` when
/// a step names a property the schema does not have, `None` when the schema is open there.
pub fn check_path(schema: &Value, path: &[String]) -> Option<Result<(), Vec<String>>> {
    let mut node = schema;
    for name in path {
        while is_type(node, "array") {
            node = node.get("items")?;
        }
        let properties = node.get("properties")?.as_object()?;
        if node.get("additionalProperties").is_some_and(|a| a != &Value::Bool(false)) {
            return None;
        }
        match properties.get(name) {
            Some(child) => node = child,
            None => return Some(Err(properties.keys().cloned().collect())),
        }
    }
    Some(Ok(()))
}

/// The items of a page when `pagination.items` is not set: the body when it is an array, else the body's
/// only array-valued property.
fn default_items(response: &Value) -> Option<Value> {
    if is_type(response, "array") {
        return Some(response.clone());
    }
    let properties = response.get("properties")?.as_object()?;
    let mut arrays = properties.values().filter(|p| is_type(p, "array"));
    let only = arrays.next()?;
    arrays.next().is_none().then(|| only.clone())
}

fn wrap_items(array: Value, paginated: bool) -> Value {
    let mut properties = Map::new();
    properties.insert("items".into(), array);
    if paginated {
        properties.insert(
            "next_cursor".into(),
            json!({"type": "string", "description": "Pass as `cursor` to get the next page."}),
        );
    }
    json!({"type": "object", "properties": properties})
}

fn is_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        None => match name {
            "object" => schema.get("properties").is_some(),
            "array" => schema.get("items").is_some(),
            _ => false,
        },
        _ => false,
    }
}

/// One step of a JSONPath this module can follow through a schema.
#[derive(Debug, PartialEq)]
enum Step {
    Name(String),
    Index,
    Wildcard,
}

/// Parses `$`, `.name`, `['name']`, `["name"]`, `[0]`, `[-1]`, `[*]`, `.*`; anything else (filters, slices,
/// descendants, unions) gives `None`.
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(".*") {
            steps.push(Step::Wildcard);
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            if after.starts_with('.') {
                return None;
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                return None;
            }
            steps.push(Step::Name(name.to_string()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = after[..end].trim();
            rest = &after[end + 1..];
            if inner == "*" {
                steps.push(Step::Wildcard);
            } else if let Some(name) = inner
                .strip_prefix('\'')
                .and_then(|n| n.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|n| n.strip_suffix('"')))
            {
                steps.push(Step::Name(name.to_string()));
            } else if inner.parse::<i64>().is_ok() {
                steps.push(Step::Index);
            } else {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(steps)
}

/// The schema of what `path` selects: the node's schema for a singular path, an array of it otherwise
/// (the runtime rule of [`super::Shaper`]).
fn select(schema: &Value, path: &str) -> Option<Value> {
    let steps = parse_path(path)?;
    let singular = !steps.contains(&Step::Wildcard);
    let mut node = schema.clone();
    for step in &steps {
        node = match step {
            Step::Name(name) => node.get("properties")?.get(name)?.clone(),
            Step::Index | Step::Wildcard if is_type(&node, "array") => node.get("items").cloned().unwrap_or(json!({})),
            Step::Wildcard if is_type(&node, "object") => {
                node.get("additionalProperties").filter(|a| a.is_object()).cloned().unwrap_or(json!({}))
            }
            _ => return None,
        };
    }
    Some(if singular { node } else { json!({"type": "array", "items": node}) })
}

/// `fields`, `exclude` and `rename` applied to a schema (to its items when it is an array schema).
fn shape_fields(schema: Value, output: Option<&Output>) -> Value {
    let Some(output) = output else { return schema };
    let mut schema = match Some(&output.fields).filter(|f| !f.is_empty()) {
        Some(fields) => {
            let mut tree = FieldTree::default();
            for field in fields {
                tree.insert(&split_path(field));
            }
            project(&schema, &tree)
        }
        None => schema,
    };
    for path in &output.exclude {
        edit(&mut schema, &split_path(path), &mut |properties, last| {
            properties.remove(last);
        });
    }
    for (path, name) in &output.rename {
        edit(&mut schema, &split_path(path), &mut |properties, last| {
            if properties.contains_key(last) {
                for (key, value) in std::mem::take(properties) {
                    properties.insert(if key == last { name.clone() } else { key }, value);
                }
            }
        });
    }
    schema
}

fn project(schema: &Value, tree: &FieldTree) -> Value {
    if tree.whole {
        return schema.clone();
    }
    if is_type(schema, "array") {
        let mut array = schema.as_object().cloned().unwrap_or_default();
        let items = schema.get("items").cloned().unwrap_or(json!({}));
        array.insert("items".into(), project(&items, tree));
        return Value::Object(array);
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        // An open object (or a schema without properties): the kept fields are unknown, any shape conforms.
        return json!({"type": "object"});
    };
    let mut kept = Map::new();
    for (name, child) in &tree.children {
        if let Some(property) = properties.get(name) {
            kept.insert(name.clone(), project(property, child));
        }
    }
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    if let Some(description) = schema.get("description") {
        object.insert("description".into(), description.clone());
    }
    object.insert("properties".into(), Value::Object(kept));
    Value::Object(object)
}

/// Calls `change` with the `properties` map holding the path's last name, through arrays' items.
fn edit(schema: &mut Value, path: &[String], change: &mut dyn FnMut(&mut Map<String, Value>, &str)) {
    if is_type(schema, "array") {
        if let Some(items) = schema.get_mut("items") {
            edit(items, path, change);
        }
        return;
    }
    let Some((first, rest)) = path.split_first() else { return };
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else { return };
    if rest.is_empty() {
        change(properties, first);
    } else if let Some(child) = properties.get_mut(first) {
        edit(child, rest, change);
    }
}

fn strip_required(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            map.remove("required");
            for value in map.values_mut() {
                strip_required(value);
            }
        }
        Value::Array(values) => values.iter_mut().for_each(strip_required),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(value: Value) -> Output {
        let config: crate::mapping::OutputConfig = serde_json::from_value(value).expect("test config deserialises");
        let mut diagnostics = crate::diag::Diagnostics::new();
        let output = crate::compile::output::output(&config, "", None, &mut diagnostics);
        assert!(diagnostics.is_empty(), "test config compiles: {diagnostics:?}");
        output
    }

    fn issue_list() -> Value {
        json!({
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id", "title"],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "user": {"type": "object", "properties": {"login": {"type": "string"}, "id": {"type": "integer"}}},
                        "labels": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "color": {"type": "string"}}}}
                    }
                }},
                "has_more": {"type": "boolean"}
            }
        })
    }

    #[test]
    fn paths_parse_only_when_followable() {
        assert_eq!(parse_path("$.data[*].id").unwrap().len(), 3);
        assert_eq!(parse_path("$['data'][0]").unwrap(), vec![Step::Name("data".into()), Step::Index]);
        assert!(parse_path("$..id").is_none());
        assert!(parse_path("$.data[?@.id > 1]").is_none());
        assert!(parse_path("$.data[0:2]").is_none());
    }

    #[test]
    fn select_with_wildcard_gives_wrapped_array_of_projected_items() {
        let config = output(json!({"select": "$.data[*]", "fields": ["id", "user.login", "labels.name"]}));
        let schema = shaped_output_schema(&issue_list(), Some(&config), ResultShape::Single).unwrap();
        assert_eq!(
            Value::Object(schema),
            json!({"type": "object", "properties": {"items": {"type": "array", "items": {
                "type": "object", "properties": {
                    "id": {"type": "integer"},
                    "user": {"type": "object", "properties": {"login": {"type": "string"}}},
                    "labels": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}
                }
            }}}})
        );
    }

    #[test]
    fn singular_select_of_a_scalar_or_a_text_format_advertises_nothing() {
        let config = output(json!({"select": "$.has_more"}));
        assert!(shaped_output_schema(&issue_list(), Some(&config), ResultShape::Single).is_none());
        let config = output(json!({"format": "table"}));
        assert!(shaped_output_schema(&issue_list(), Some(&config), ResultShape::Single).is_none());
        let config = output(json!({"select": "$..id"}));
        assert!(shaped_output_schema(&issue_list(), Some(&config), ResultShape::Single).is_none());
    }

    #[test]
    fn exclude_and_rename_follow_the_response() {
        let config = output(json!({"exclude": ["has_more", "data.labels"], "rename": {"data.title": "name"}}));
        let schema = shaped_output_schema(&issue_list(), Some(&config), ResultShape::Single).unwrap();
        let item = &schema["properties"]["data"]["items"];
        assert_eq!(item["properties"].as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "name", "user"]);
        assert!(schema["properties"].get("has_more").is_none());
        assert!(item.get("required").is_none(), "shaping may drop any field");
    }

    #[test]
    fn paginated_results_are_items_and_a_cursor() {
        let config = output(json!({"fields": ["id"]}));
        let schema =
            shaped_output_schema(&issue_list(), Some(&config), ResultShape::Paginated { items: None }).unwrap();
        assert_eq!(schema["properties"]["items"]["items"]["properties"], json!({"id": {"type": "integer"}}));
        assert_eq!(schema["properties"]["next_cursor"]["type"], "string");
        let explicit = shaped_output_schema(&issue_list(), None, ResultShape::Paginated { items: Some("$.data") });
        assert!(explicit.unwrap()["properties"]["items"]["items"]["properties"]["labels"].is_object());
    }
}
