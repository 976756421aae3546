//! Turns an OpenAPI schema (3.0 or 3.1, possibly spread over several documents) into a self-contained
//! JSON Schema 2020-12 value: every `$ref` inlined (most MCP clients reject `$ref`), `allOf` merged into
//! one object schema, trivial `oneOf`/`anyOf` simplified, 3.0 keywords rewritten (`nullable`, boolean
//! `exclusiveMinimum`, `example`), `readOnly` properties dropped from inputs and `writeOnly` ones from
//! outputs, and everything a model does not need (titles, `xml`, `x-*`, discriminators) left out.
//!
//! Recursion is bounded two ways: a `$ref` that is already being expanded (a self-referencing schema)
//! becomes a loose `{"type": ...}`, and nesting deeper than `max_depth` is cut the same way.

use serde_json::{Map, Value, json};

use crate::compile::text::{self, Finding};
use crate::spec::{DocId, RefError, Spec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tool input: keeps constraints, descriptions and examples; drops `readOnly` properties.
    Input,
    /// Tool output: structure only (types, properties, items), lenient so that real responses conform;
    /// drops `writeOnly` properties.
    Output,
}

#[derive(Debug, Clone, Copy)]
pub struct SchemaOptions {
    pub mode: Mode,
    /// Words kept of each description (0 drops them).
    pub description_words: usize,
    pub max_depth: usize,
    /// Output mode: give up (return `None`) once the result would exceed about this many bytes.
    pub max_bytes: Option<usize>,
}

/// Examples longer than this (as compact JSON) are dropped: they cost more than they teach.
const MAX_EXAMPLE_BYTES: usize = 80;

pub struct SchemaCompiler<'a> {
    spec: &'a Spec,
    options: SchemaOptions,
    /// `$ref` targets being expanded, by address: the cycle guard.
    expanding: Vec<usize>,
    budget_left: isize,
    pub findings: Vec<Finding>,
    pub unresolved: Vec<(DocId, RefError)>,
}

impl<'a> SchemaCompiler<'a> {
    pub fn new(spec: &'a Spec, options: SchemaOptions) -> Self {
        SchemaCompiler {
            spec,
            options,
            expanding: Vec::new(),
            budget_left: options.max_bytes.map_or(isize::MAX, |bytes| bytes as isize),
            findings: Vec::new(),
            unresolved: Vec::new(),
        }
    }

    /// Compiles a schema found in document `doc`. `None` only in output mode, when over budget.
    pub fn compile(&mut self, doc: DocId, schema: &Value) -> Option<Value> {
        self.budget_left = self.options.max_bytes.map_or(isize::MAX, |bytes| bytes as isize);
        let mut compiled = self.node(doc, schema, 0);
        strip_markers(&mut compiled);
        (self.budget_left >= 0).then_some(compiled)
    }

    fn over_budget(&self) -> bool {
        self.budget_left < 0
    }

    fn node(&mut self, doc: DocId, schema: &Value, depth: usize) -> Value {
        let map = match schema {
            Value::Object(map) => map,
            Value::Bool(value) => return Value::Bool(*value),
            _ => return json!({}),
        };
        if self.over_budget() {
            return json!({});
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            return self.reference(doc, reference, map, depth);
        }
        if depth > self.options.max_depth {
            return shallow(map);
        }
        if let Some(Value::Array(parts)) = map.get("allOf") {
            let own: Map<String, Value> =
                map.iter().filter(|(k, _)| *k != "allOf").map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut compiled_parts = vec![self.object(doc, &own, depth)];
            for part in parts {
                compiled_parts.push(self.node(doc, part, depth));
            }
            let mut merged = merge_all(compiled_parts, self.options.mode);
            apply_nullable(map, &mut merged);
            return merged;
        }
        self.object(doc, map, depth)
    }

    fn reference(&mut self, doc: DocId, reference: &str, map: &Map<String, Value>, depth: usize) -> Value {
        let (target_doc, target) = match self.spec.resolve_ref(doc, reference) {
            Ok((target_doc, target, _)) => (target_doc, target),
            Err(error) => {
                self.unresolved.push((doc, error));
                return json!({});
            }
        };
        let address = std::ptr::from_ref(target) as usize;
        let compiled = if self.expanding.contains(&address) || depth > self.options.max_depth {
            target.as_object().map_or_else(|| json!({}), shallow)
        } else {
            self.expanding.push(address);
            let compiled = self.node(target_doc, target, depth);
            self.expanding.pop();
            compiled
        };
        // OpenAPI 3.1 (and 3.0 in practice) allows keywords beside `$ref`; they apply together.
        let siblings: Map<String, Value> =
            map.iter().filter(|(k, _)| *k != "$ref").map(|(k, v)| (k.clone(), v.clone())).collect();
        if siblings.is_empty() {
            return compiled;
        }
        let compiled_siblings = self.object(doc, &siblings, depth);
        let mut merged = merge_all(vec![compiled_siblings, compiled], self.options.mode);
        apply_nullable(map, &mut merged);
        merged
    }

    fn object(&mut self, doc: DocId, map: &Map<String, Value>, depth: usize) -> Value {
        let input = self.options.mode == Mode::Input;
        let mut out = Map::new();
        let mut nullable = false;
        for (key, value) in map {
            match key.as_str() {
                "type" => {
                    let normalised = match value {
                        Value::String(t) if t == "file" => {
                            out.insert("format".into(), json!("binary"));
                            json!("string")
                        }
                        other => other.clone(),
                    };
                    out.insert(key.clone(), normalised);
                }
                "nullable" | "x-nullable" => nullable |= value.as_bool().unwrap_or(false),
                "properties" => {
                    if let Value::Object(properties) = value {
                        let mut compiled = Map::new();
                        for (name, property) in properties {
                            self.budget_left -= name.len() as isize + 12;
                            let mut compiled_property = self.node(doc, property, depth + 1);
                            let dropped = match self.options.mode {
                                Mode::Input => marker(&compiled_property, "readOnly"),
                                Mode::Output => marker(&compiled_property, "writeOnly"),
                            };
                            if !dropped {
                                strip_markers(&mut compiled_property);
                                compiled.insert(name.clone(), compiled_property);
                            }
                        }
                        out.insert(key.clone(), Value::Object(compiled));
                    }
                }
                "items"
                | "additionalProperties"
                | "not"
                | "propertyNames"
                | "contains"
                | "if"
                | "then"
                | "else"
                | "unevaluatedProperties"
                | "unevaluatedItems" => {
                    if !input && matches!(key.as_str(), "not" | "propertyNames" | "contains" | "if" | "then" | "else") {
                        continue;
                    }
                    match value {
                        Value::Object(_) => {
                            let mut compiled = self.node(doc, value, depth + 1);
                            strip_markers(&mut compiled);
                            out.insert(key.clone(), compiled);
                        }
                        Value::Bool(false) if !input => {}
                        Value::Bool(_) => {
                            out.insert(key.clone(), value.clone());
                        }
                        _ => {}
                    }
                }
                "prefixItems" | "oneOf" | "anyOf" => {
                    if let Value::Array(variants) = value {
                        let compiled: Vec<Value> = variants
                            .iter()
                            .map(|variant| {
                                let mut compiled = self.node(doc, variant, depth + 1);
                                strip_markers(&mut compiled);
                                compiled
                            })
                            .collect();
                        out.insert(key.clone(), Value::Array(compiled));
                    }
                }
                "patternProperties" | "dependentSchemas" if input => {
                    if let Value::Object(entries) = value {
                        let compiled = entries
                            .iter()
                            .map(|(pattern, schema)| (pattern.clone(), self.node(doc, schema, depth + 1)))
                            .collect();
                        out.insert(key.clone(), Value::Object(compiled));
                    }
                }
                "readOnly" | "writeOnly" if value.as_bool() == Some(true) => {
                    out.insert(key.clone(), Value::Bool(true));
                }
                "description" if input && self.options.description_words > 0 => {
                    if let Some(description) = value.as_str() {
                        let cleaned = text::concise_sentences(description, self.options.description_words, 1);
                        self.findings.extend(cleaned.findings);
                        if !cleaned.text.is_empty() {
                            out.insert(key.clone(), Value::String(cleaned.text));
                        }
                    }
                }
                // Examples only for direct arguments: nested ones cost more than they teach.
                "example" if input && depth <= 1 => add_example(&mut out, value),
                "examples" if input && depth <= 1 => {
                    if let Some(first) = value.as_array().and_then(|examples| examples.first()) {
                        add_example(&mut out, first);
                    }
                }
                "exclusiveMinimum" | "exclusiveMaximum" if input => match value {
                    // OpenAPI 3.0: a boolean modifying `minimum`/`maximum`; 2020-12: the bound itself.
                    Value::Bool(true) => {
                        let bound = if key == "exclusiveMinimum" { "minimum" } else { "maximum" };
                        if let Some(limit) = map.get(bound) {
                            out.insert(key.clone(), limit.clone());
                        }
                    }
                    Value::Number(_) => {
                        out.insert(key.clone(), value.clone());
                    }
                    _ => {}
                },
                // Storage widths say nothing to a model and nothing JSON Schema validates.
                "format" if matches!(value.as_str(), Some("int32" | "int64" | "float" | "double")) => {}
                "enum" | "const" | "format" | "default" | "minimum" | "maximum" | "multipleOf" | "minLength"
                | "maxLength" | "pattern" | "minItems" | "maxItems" | "uniqueItems" | "minProperties"
                | "maxProperties" | "required" | "dependentRequired" | "contentMediaType" | "contentEncoding"
                    if input =>
                {
                    out.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        // A bound turned into an exclusive bound above must not also stay inclusive.
        for (exclusive, inclusive) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
            if map.get(exclusive) == Some(&Value::Bool(true)) {
                out.remove(inclusive);
            }
        }
        if let Some(Value::Array(required)) = out.get("required") {
            let properties = out.get("properties").and_then(Value::as_object);
            let kept: Vec<Value> = required
                .iter()
                .filter(|name| match (properties, name.as_str()) {
                    // A required property dropped as readOnly is no longer required.
                    (Some(properties), Some(name)) => properties.contains_key(name) || !map_has_property(map, name),
                    _ => true,
                })
                .cloned()
                .collect();
            if kept.is_empty() {
                out.remove("required");
            } else {
                out.insert("required".into(), Value::Array(kept));
            }
        }
        simplify_variants(&mut out);
        if nullable {
            make_nullable(&mut out);
        }
        if !input {
            self.budget_left -= 16;
        }
        Value::Object(out)
    }
}

/// `nullable` beside `allOf` or `$ref` (the usual 3.0 way to make a referenced schema nullable) applies
/// to the merged result; on its own keywords it would be lost, as they have no `type`.
fn apply_nullable(map: &Map<String, Value>, merged: &mut Value) {
    let nullable = ["nullable", "x-nullable"].iter().any(|key| map.get(*key) == Some(&Value::Bool(true)));
    if nullable && let Value::Object(merged) = merged {
        make_nullable(merged);
    }
}

fn map_has_property(map: &Map<String, Value>, name: &str) -> bool {
    map.get("properties").and_then(Value::as_object).is_some_and(|p| p.contains_key(name))
}

/// One example is kept when it teaches a format (a string, or a small structure); numbers and booleans
/// add nothing to the type and bounds, so they are not worth their tokens.
fn add_example(out: &mut Map<String, Value>, example: &Value) {
    if out.contains_key("examples")
        || out.contains_key("enum")
        || matches!(example, Value::Number(_) | Value::Bool(_) | Value::Null)
    {
        return;
    }
    let compact = example.to_string();
    if compact.len() <= MAX_EXAMPLE_BYTES {
        out.insert("examples".into(), Value::Array(vec![example.clone()]));
    }
}

fn marker(value: &Value, name: &str) -> bool {
    value.get(name) == Some(&Value::Bool(true))
}

fn strip_markers(value: &mut Value) {
    if let Value::Object(map) = value {
        map.remove("readOnly");
        map.remove("writeOnly");
    }
}

/// What is left of a schema that is not expanded (recursion or depth cut): its type, so the argument
/// is still typed, and nothing that could be wrong.
fn shallow(map: &Map<String, Value>) -> Value {
    match map.get("type") {
        Some(kind @ (Value::String(_) | Value::Array(_))) => json!({ "type": kind }),
        _ if map.contains_key("properties") => json!({"type": "object"}),
        _ => json!({}),
    }
}

/// `nullable: true` (3.0) → `null` added to `type` or `enum`, else wrapped in `anyOf`.
fn make_nullable(out: &mut Map<String, Value>) {
    match out.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = kind.clone();
            out.insert("type".into(), json!([kind, "null"]));
        }
        Some(Value::Array(kinds)) => {
            if !kinds.contains(&json!("null")) {
                kinds.push(json!("null"));
            }
        }
        _ => {
            if out.is_empty() {
                return;
            }
            let inner = std::mem::take(out);
            out.insert("anyOf".into(), json!([Value::Object(inner), {"type": "null"}]));
            return;
        }
    }
    if let Some(Value::Array(values)) = out.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

/// Safe simplifications of `oneOf`/`anyOf`: duplicates removed; a single variant merged into its
/// parent; `[X, {type: null}]` becomes a nullable X when X has a plain type.
fn simplify_variants(out: &mut Map<String, Value>) {
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(mut variants)) = out.remove(key) else {
            continue;
        };
        let mut unique: Vec<Value> = Vec::with_capacity(variants.len());
        for variant in variants.drain(..) {
            if !unique.contains(&variant) {
                unique.push(variant);
            }
        }
        let null_variant = json!({"type": "null"});
        if unique.len() == 2 && unique.contains(&null_variant) {
            let other = unique.iter().find(|v| **v != null_variant).cloned().unwrap_or_default();
            if let Value::Object(mut other) = other
                && matches!(other.get("type"), Some(Value::String(_)))
                && !other.keys().any(|k| out.contains_key(k))
            {
                make_nullable(&mut other);
                out.extend(other);
                continue;
            }
        }
        if unique.len() == 1
            && let Value::Object(only) = &unique[0]
            && !only.keys().any(|k| out.contains_key(k))
        {
            out.extend(only.clone());
            continue;
        }
        if !unique.is_empty() {
            out.insert(key.into(), Value::Array(unique));
        }
    }
}

/// Merges `allOf` parts (already compiled) into one schema. The first part is the schema's own
/// keywords, which win for annotations like `description`. Keywords that conflict stay in a residual
/// `allOf`, so nothing the spec required is lost.
pub fn merge_all(parts: Vec<Value>, mode: Mode) -> Value {
    let mut merged = Map::new();
    let mut residue: Vec<Value> = Vec::new();
    for part in parts {
        let Value::Object(map) = part else {
            if part != Value::Bool(true) {
                residue.push(part);
            }
            continue;
        };
        let mut conflicts = Map::new();
        for (key, value) in map {
            match key.as_str() {
                "properties" => {
                    let target = merged.entry("properties").or_insert_with(|| json!({}));
                    if let (Some(target), Value::Object(new)) = (target.as_object_mut(), value) {
                        for (name, schema) in new {
                            target.entry(name).or_insert(schema);
                        }
                    }
                }
                "required" => {
                    let target = merged.entry("required").or_insert_with(|| json!([]));
                    if let (Some(target), Value::Array(new)) = (target.as_array_mut(), value) {
                        for name in new {
                            if !target.contains(&name) {
                                target.push(name);
                            }
                        }
                    }
                }
                // A part closed with `additionalProperties: false` would reject the other parts' properties.
                "additionalProperties" if value == Value::Bool(false) => {}
                "description" | "examples" | "default" => {
                    merged.entry(key).or_insert(value);
                }
                _ => match merged.get(&key) {
                    None => {
                        merged.insert(key, value);
                    }
                    Some(existing) if *existing == value => {}
                    Some(_) => {
                        conflicts.insert(key, value);
                    }
                },
            }
        }
        if !conflicts.is_empty() {
            residue.push(Value::Object(conflicts));
        }
    }
    if merged.get("properties").is_some() && !merged.contains_key("type") && mode == Mode::Input {
        merged.insert("type".into(), json!("object"));
    }
    if !residue.is_empty() {
        merged.insert("allOf".into(), Value::Array(residue));
    }
    Value::Object(merged)
}
