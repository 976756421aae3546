//! Argument descriptions said once per `tools/list` (`specs/tool-generation.md`, "Repeated argument
//! descriptions"). Large APIs repeat the same arguments on many operations (Kubernetes' `pretty`,
//! `dryRun`, `fieldManager` on hundreds of tools, Stripe's `expand`, `limit`, `starting_after`): 96%
//! of Kubernetes' argument descriptions are repeats, half of its `tools/list`. With
//! [`RepeatedDescriptions::Once`], a top-level argument keeps its description only on the first tool
//! of the list that has an argument of that name with that description; later tools list the argument
//! (name, type, constraints, `required`) without it. Any prefix of such a list carries every
//! description its tools need, so a client that keeps only the first 40 or 128 tools loses none.
//! `describe_tools` and the `api2mcp://tools/{name}` resource always give a tool whole.

use std::collections::HashSet;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Whether a `tools/list` repeats an argument's description on every tool that has the argument.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RepeatedDescriptions {
    /// Each (argument name, description) pair is described on its first tool only.
    #[default]
    Once,
    /// Every tool carries all of its arguments' descriptions.
    Every,
}

/// The (argument name, description) pairs a list has shown so far, borrowed from the list's schemas.
#[derive(Debug, Default)]
pub struct Shown<'a>(HashSet<(&'a str, &'a str)>);

impl<'a> Shown<'a> {
    /// The top-level arguments of `input_schema` whose description an earlier schema of the list
    /// already showed for an argument of the same name; the others are recorded as shown.
    pub fn repeated(&mut self, input_schema: &'a Map<String, Value>) -> Vec<&'a str> {
        let mut repeated = Vec::new();
        for (name, description) in described_arguments(input_schema) {
            if !self.0.insert((name, description)) {
                repeated.push(name);
            }
        }
        repeated
    }

    /// Records that `description` of argument `name` has been shown; false if it had been already.
    pub fn show(&mut self, name: &'a str, description: &'a str) -> bool {
        self.0.insert((name, description))
    }
}

/// The top-level arguments of an input schema that carry a description, in order.
pub fn described_arguments(input_schema: &Map<String, Value>) -> impl Iterator<Item = (&str, &str)> {
    input_schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, schema)| Some((name.as_str(), schema.get("description")?.as_str()?)))
}

/// For each entry of a list in order, the arguments of its input schema whose description is left
/// out ([`RepeatedDescriptions::Once`]); all empty with [`RepeatedDescriptions::Every`] and for an
/// entry without an input schema.
pub fn repeated_in_list<'a>(
    mode: RepeatedDescriptions,
    input_schemas: impl Iterator<Item = Option<&'a Map<String, Value>>>,
) -> Vec<Vec<&'a str>> {
    let mut shown = Shown::default();
    input_schemas
        .map(|schema| match (mode, schema) {
            (RepeatedDescriptions::Once, Some(schema)) => shown.repeated(schema),
            _ => Vec::new(),
        })
        .collect()
}

/// Removes the description of each named top-level argument; returns what was removed, in order.
pub fn strip(input_schema: &mut Map<String, Value>, names: &[String]) -> Vec<(String, String)> {
    let Some(properties) = input_schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for name in names {
        let Some(Value::Object(schema)) = properties.get_mut(name) else { continue };
        if let Some(Value::String(description)) = schema.shift_remove("description") {
            removed.push((name.clone(), description));
        }
    }
    removed
}

/// Puts a removed description back on a top-level argument (a list that hides the tool which
/// described it must describe it again).
pub fn restore(input_schema: &mut Map<String, Value>, name: &str, description: &str) {
    let schema = input_schema.get_mut("properties").and_then(Value::as_object_mut).and_then(|p| p.get_mut(name));
    if let Some(Value::Object(schema)) = schema {
        // Where compile/ puts it: before the other keywords, as the first key after `type`.
        let at = usize::from(schema.keys().next().is_some_and(|key| key == "type"));
        schema.shift_insert(at, "description".to_string(), Value::String(description.to_string()));
    }
}

/// An input schema serialised without the descriptions of some top-level arguments, without copying it.
pub struct WithoutDescriptions<'a> {
    pub schema: &'a Map<String, Value>,
    pub arguments: &'a [&'a str],
}

impl Serialize for WithoutDescriptions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.arguments.is_empty() {
            return self.schema.serialize(serializer);
        }
        let mut map = serializer.serialize_map(Some(self.schema.len()))?;
        for (key, value) in self.schema {
            match (key.as_str(), value) {
                ("properties", Value::Object(properties)) => {
                    map.serialize_entry(key, &Properties { properties, arguments: self.arguments })?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

struct Properties<'a> {
    properties: &'a Map<String, Value>,
    arguments: &'a [&'a str],
}

impl Serialize for Properties<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.properties.len()))?;
        for (name, schema) in self.properties {
            match schema {
                Value::Object(schema) if self.arguments.contains(&name.as_str()) => {
                    map.serialize_entry(name, &Undescribed(schema))?
                }
                _ => map.serialize_entry(name, schema)?,
            }
        }
        map.end()
    }
}

struct Undescribed<'a>(&'a Map<String, Value>);

impl Serialize for Undescribed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0.iter().filter(|(key, _)| *key != "description") {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn a_description_is_kept_on_its_first_tool_only_and_only_for_the_same_name_and_text() {
        let schemas = [
            schema(json!({"type": "object", "properties": {
                "limit": {"type": "integer", "description": "Page size."},
                "id": {"type": "string", "description": "The pet."}}})),
            schema(json!({"type": "object", "properties": {
                "limit": {"type": "integer", "description": "Page size."},
                "id": {"type": "string", "description": "The owner."},
                "size": {"type": "integer", "description": "Page size."}}})),
            schema(json!({"type": "object", "properties": {"limit": {"type": "integer"}}})),
        ];
        let repeated = repeated_in_list(RepeatedDescriptions::Once, schemas.iter().map(Some));
        assert_eq!(repeated, [vec![], vec!["limit"], vec![]]);
        let every = repeated_in_list(RepeatedDescriptions::Every, schemas.iter().map(Some));
        assert!(every.iter().all(Vec::is_empty));
    }

    #[test]
    fn strip_restore_and_the_borrowed_serialisation_agree() {
        let original = schema(json!({"type": "object", "properties": {
            "limit": {"type": "integer", "description": "Page size.", "minimum": 1},
            "q": {"type": "string", "description": "Query."}}, "required": ["q"]}));
        let mut stripped = original.clone();
        let removed = strip(&mut stripped, &["limit".to_string(), "absent".to_string()]);
        assert_eq!(removed, [("limit".to_string(), "Page size.".to_string())]);
        assert_eq!(stripped["properties"]["limit"], json!({"type": "integer", "minimum": 1}));
        let borrowed = serde_json::to_string(&WithoutDescriptions { schema: &original, arguments: &["limit"] })
            .expect("serialises");
        assert_eq!(borrowed, serde_json::to_string(&stripped).expect("serialises"));
        restore(&mut stripped, "limit", "Page size.");
        assert_eq!(serde_json::to_string(&stripped).ok(), serde_json::to_string(&original).ok());
    }
}
