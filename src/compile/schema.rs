//! Turns an OpenAPI schema (3.0 or 3.1, possibly spread over several documents) into a self-contained
//! JSON Schema 2020-12 value: every `$ref` inlined (most MCP clients reject `$ref`), `allOf` merged into
//! one object schema, trivial `oneOf`/`anyOf` simplified, 3.0 keywords rewritten (`nullable`, boolean
//! `exclusiveMinimum`, `example`), `readOnly` properties dropped from inputs and `writeOnly` ones from
//! outputs, and everything a model does not need (titles, `xml`, `x-*`, discriminators) left out.
//!
//! Recursion is bounded two ways: a `$ref` that is already being expanded (a self-referencing schema)
//! becomes a loose `{"type": ...}`, and nesting deeper than `max_depth` is cut the same way.

use serde_json::{Map, Value, json};

use crate::spec::{DocId, RefError, Spec};
use crate::text::{self, Finding};

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
    /// How many cut union variants carry their choices under [`CHOICES`], to be kept or dropped
    /// once the tool's size is known ([`settle_choices`]).
    pub marked_choices: usize,
    pub findings: Vec<Finding>,
    pub unresolved: Vec<(DocId, RefError)>,
    /// Keyword values the argument checker could not read, read otherwise or left out
    /// ([`checked_keyword`]).
    pub invalid: Vec<InvalidKeyword>,
}

/// A keyword value of a spec's schema that the argument checker could not read.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidKeyword {
    /// The document it is in.
    pub doc: DocId,
    /// `maxLength: "10"`, as compact JSON, to find it in the document's text.
    pub key: String,
    pub value: String,
    /// What was made of it: "`maxLength: \"10\"` is read as 10".
    pub note: String,
}

/// Where a cut union variant holds the properties that tell it apart until [`settle_choices`]
/// decides whether they fit.
const CHOICES: &str = "x-api2mcp-choices";

impl<'a> SchemaCompiler<'a> {
    pub fn new(spec: &'a Spec, options: SchemaOptions) -> Self {
        SchemaCompiler {
            spec,
            options,
            expanding: Vec::new(),
            budget_left: options.max_bytes.map_or(isize::MAX, |bytes| bytes as isize),
            marked_choices: 0,
            findings: Vec::new(),
            unresolved: Vec::new(),
            invalid: Vec::new(),
        }
    }

    /// Compiles a schema found in document `doc`. `None` when over budget: in output mode the budget is
    /// per schema; in input mode it is shared by every schema of one tool (see [`Self::over_budget`]).
    pub fn compile(&mut self, doc: DocId, schema: &Value) -> Option<Value> {
        self.compile_at(doc, schema, 0)
    }

    /// Like [`Self::compile`], for a schema that already sits `depth` levels deep (a tool argument is
    /// at depth 1, like the properties of a flattened body), so that every argument is cut alike.
    pub fn compile_at(&mut self, doc: DocId, schema: &Value, depth: usize) -> Option<Value> {
        if self.options.mode == Mode::Output {
            self.budget_left = self.options.max_bytes.map_or(isize::MAX, |bytes| bytes as isize);
        }
        let mut compiled = self.node(doc, schema, depth);
        strip_markers(&mut compiled);
        (self.budget_left >= 0).then_some(compiled)
    }

    /// True once the schemas compiled so far outgrew `max_bytes` (an estimate that errs low): the
    /// caller compiles the tool again with a smaller `max_depth`.
    pub fn over_budget(&self) -> bool {
        self.budget_left < 0
    }

    fn node(&mut self, doc: DocId, schema: &Value, depth: usize) -> Value {
        let map = match schema {
            Value::Object(map) => map,
            Value::Bool(value) => return Value::Bool(*value),
            other => {
                self.left_out(doc, "schema", other, "a schema (an object or a boolean); any value is accepted");
                return json!({});
            }
        };
        if self.over_budget() {
            return json!({});
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            return self.reference(doc, reference, map, depth);
        }
        if depth > self.options.max_depth && is_composite(map) {
            return self.cut(map, None, Cut::Depth);
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
        let cut = if self.expanding.contains(&address) {
            Some(Cut::Recursion)
        } else if depth > self.options.max_depth && target.as_object().is_some_and(is_composite) {
            Some(Cut::Depth)
        } else {
            None
        };
        let compiled = if let Some(cut) = cut {
            let name = component_name(reference);
            match target.as_object() {
                Some(target) => self.cut(target, Some(&name), cut),
                None => json!({}),
            }
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
        let sibling_description = compiled_siblings.get("description").cloned();
        let cut_note = compiled.get("x-cut-note").cloned();
        let mut merged = merge_all(vec![compiled_siblings, compiled], self.options.mode);
        // The note of a cut must survive a sibling `description`, which would otherwise win the merge.
        if let (Some(Value::String(own)), Some(Value::String(note)), Value::Object(merged)) =
            (sibling_description, cut_note, &mut merged)
        {
            merged.insert("description".into(), Value::String(format!("{own} {note}")));
        }
        apply_nullable(map, &mut merged);
        merged
    }

    /// A map of schemas (`properties`, `patternProperties`, ...), following a `$ref` written in its
    /// place (`properties: {$ref: '#/components/schemas/Props'}`, as DigitalOcean does), with the
    /// document its schemas are relative to. A member named `$ref` whose value is a schema is a
    /// property called `$ref` (Kubernetes has one), not a reference.
    fn schema_map<'v>(&mut self, doc: DocId, value: &'v Value) -> Option<(DocId, &'v Map<String, Value>)>
    where
        'a: 'v,
    {
        let map = value.as_object()?;
        if !matches!(map.get("$ref"), Some(Value::String(_))) {
            return Some((doc, map));
        }
        match self.spec.deref(doc, value) {
            Ok((target_doc, Value::Object(target))) => Some((target_doc, target)),
            Ok(_) => None,
            Err(error) => {
                self.unresolved.push((doc, error));
                None
            }
        }
    }

    fn map_has_property(&mut self, doc: DocId, map: &Map<String, Value>, name: &str) -> bool {
        map.get("properties")
            .and_then(|properties| self.schema_map(doc, properties))
            .is_some_and(|(_, properties)| properties.contains_key(name))
    }

    /// What stands in for a schema that is not expanded: its type (so the argument stays typed and
    /// accepts anything of that type, as the API does) and, for tool inputs, a description saying
    /// what was cut and naming the component, so the agent knows the API takes the whole object.
    fn cut(&mut self, map: &Map<String, Value>, name: Option<&str>, cut: Cut) -> Value {
        let mut stub = shallow(map);
        if self.options.mode == Mode::Output {
            return stub;
        }
        // Short: a flat tool can carry dozens of these (Stripe's payment methods: 50).
        let note = match (cut, name) {
            (Cut::Recursion, Some(name)) => {
                format!("A {name} (recursive, not expanded again; the API accepts a full one).")
            }
            (_, Some(name)) => format!("A {name}; fields not listed (any accepted)."),
            (_, None) => "Fields not listed (any accepted).".to_string(),
        };
        let own = map.get("description").and_then(Value::as_str).map(|description| {
            let cleaned = text::concise_sentences(description, self.options.description_words, 1);
            self.findings.extend(cleaned.findings);
            cleaned.text
        });
        let description = match own {
            Some(own) if !own.is_empty() && self.options.description_words > 0 => format!("{own} {note}"),
            _ => note.clone(),
        };
        self.budget_left -= description.len() as isize + 16;
        if let Value::Object(stub) = &mut stub {
            stub.insert("description".into(), Value::String(description));
            // Read (and removed) by `reference` when a sibling description has to carry the note.
            stub.insert("x-cut-note".into(), Value::String(note));
        }
        stub
    }

    /// A union's variant cut for size can still say what tells it apart: its required properties
    /// whose values are listed (`type: reboot | power_off | ...` of DigitalOcean's droplet actions),
    /// found through `$ref` and `allOf` a few levels down. Without them the agent has the variants'
    /// names and no value to pick one with. They are only marked here, outside the size budget:
    /// [`settle_choices`] keeps them where the finished tool has room, so that they never make a
    /// tool cut deeper than it would be without them.
    fn keep_choices(&mut self, doc: DocId, variant: &Value, stub: &mut Value) {
        let mut required = Vec::new();
        let mut properties = Map::new();
        self.gather_choices(doc, variant, 6, &mut required, &mut properties);
        let choices: Map<String, Value> = properties.into_iter().filter(|(name, _)| required.contains(name)).collect();
        let Value::Object(stub) = stub else { return };
        if choices.is_empty() || stub.contains_key("properties") {
            return;
        }
        stub.insert(CHOICES.into(), Value::Object(choices));
        self.marked_choices += 1;
    }

    /// The required names and the scalar properties with `enum` or `const` of an object schema, its
    /// `allOf` parts and `$ref` targets, `hops` levels deep.
    fn gather_choices(
        &mut self,
        doc: DocId,
        schema: &Value,
        hops: usize,
        required: &mut Vec<String>,
        properties: &mut Map<String, Value>,
    ) {
        let Some(map) = schema.as_object() else { return };
        if hops == 0 {
            return;
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            if let Ok((target_doc, target, _)) = self.spec.resolve_ref(doc, reference) {
                self.gather_choices(target_doc, target, hops - 1, required, properties);
            }
            return;
        }
        for part in map.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.gather_choices(doc, part, hops - 1, required, properties);
        }
        for name in map.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !required.iter().any(|known| known == name) {
                required.push(name.to_string());
            }
        }
        let Some((entries_doc, entries)) = map.get("properties").and_then(|value| self.schema_map(doc, value)) else {
            return;
        };
        for (name, property) in entries {
            let property = match property.get("$ref").and_then(Value::as_str) {
                Some(reference) => match self.spec.resolve_ref(entries_doc, reference) {
                    Ok((_, target, _)) => target,
                    Err(_) => continue,
                },
                None => property,
            };
            let choice = if let Some(values) = property.get("enum").and_then(Value::as_array) {
                let values: Vec<Value> =
                    values.iter().filter(|value| !value.is_object() && !value.is_array()).cloned().collect();
                (!values.is_empty()).then(|| json!({ "enum": values }))
            } else {
                property
                    .get("const")
                    .filter(|value| !value.is_object() && !value.is_array())
                    .map(|value| json!({ "const": value }))
            };
            if let Some(choice) = choice {
                properties.entry(name.clone()).or_insert(choice);
            }
        }
    }

    /// A keyword's value as the argument checker can read it ([`checked_keyword`]); what was read
    /// otherwise or left out is noted.
    fn read_keyword(&mut self, doc: DocId, key: &str, value: &Value) -> Option<Value> {
        match checked_keyword(key, value) {
            Checked::Kept => Some(value.clone()),
            Checked::ReadAs(read) => {
                let note = format!("{} is read as {}", shown(key, value), compact(&read));
                self.note_invalid(doc, key, value, note);
                Some(read)
            }
            Checked::LeftOut(what) => {
                let note = format!("{} is left out: not {what}", shown(key, value));
                self.note_invalid(doc, key, value, note);
                None
            }
        }
    }

    /// A keyword whose value is not of the kind it takes, left out (noted when compiling an input).
    fn left_out(&mut self, doc: DocId, key: &str, value: &Value, what: &str) {
        if self.options.mode == Mode::Input {
            let note = format!("{} is left out: not {what}", shown(key, value));
            self.note_invalid(doc, key, value, note);
        }
    }

    /// A keyword value read otherwise or left out, once per document.
    fn note_invalid(&mut self, doc: DocId, key: &str, value: &Value, note: String) {
        if !self.invalid.iter().any(|seen| seen.doc == doc && seen.note == note) {
            self.invalid.push(InvalidKeyword { doc, key: key.to_string(), value: value.to_string(), note });
        }
    }

    fn object(&mut self, doc: DocId, map: &Map<String, Value>, depth: usize) -> Value {
        let input = self.options.mode == Mode::Input;
        let mut out = Map::new();
        let mut nullable = false;
        for (key, value) in map {
            match key.as_str() {
                "type" => {
                    let normalised = match value {
                        // Swagger 2.0's file: bytes, which a tool argument carries as base64 (see `format`).
                        Value::String(t) if t == "file" && input => {
                            out.insert("contentEncoding".into(), json!("base64"));
                            json!("string")
                        }
                        Value::String(t) if t == "file" => {
                            out.insert("format".into(), json!("binary"));
                            json!("string")
                        }
                        other => match self.read_keyword(doc, key, other) {
                            Some(value) => value,
                            None => continue,
                        },
                    };
                    out.insert(key.clone(), normalised);
                }
                "nullable" | "x-nullable" => nullable |= value.as_bool().unwrap_or(false),
                "properties" if !value.is_object() => {
                    self.left_out(doc, key, value, "a map of property names to schemas");
                }
                "properties" => {
                    if let Some((properties_doc, properties)) = self.schema_map(doc, value) {
                        let mut compiled = Map::new();
                        for (name, property) in properties {
                            self.budget_left -= name.len() as isize + 12;
                            let mut compiled_property = self.node(properties_doc, property, depth + 1);
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
                        _ => self.left_out(doc, key, value, "a schema (an object or a boolean)"),
                    }
                }
                "prefixItems" | "oneOf" | "anyOf" | "allOf" if !value.is_array() => {
                    self.left_out(doc, key, value, "a list of schemas");
                }
                "prefixItems" | "oneOf" | "anyOf" => {
                    if let Value::Array(variants) = value {
                        let compiled: Vec<Value> = variants
                            .iter()
                            .map(|variant| {
                                let mut compiled = self.node(doc, variant, depth + 1);
                                if input && key != "prefixItems" && compiled.get("x-cut-note").is_some() {
                                    self.keep_choices(doc, variant, &mut compiled);
                                }
                                strip_markers(&mut compiled);
                                compiled
                            })
                            .collect();
                        if key == "oneOf" {
                            let (key, variants) = exclusive_variants(map, variants, compiled);
                            insert_variants(&mut out, key, variants);
                        } else {
                            insert_variants(&mut out, key, compiled);
                        }
                    }
                }
                "patternProperties" | "dependentSchemas" if input => {
                    if let Some((entries_doc, entries)) = self.schema_map(doc, value) {
                        let compiled = entries
                            .iter()
                            .filter(|(pattern, _)| key != "patternProperties" || pattern_checkable(pattern))
                            .map(|(pattern, schema)| {
                                let mut compiled = self.node(entries_doc, schema, depth + 1);
                                strip_markers(&mut compiled);
                                (pattern.clone(), compiled)
                            })
                            .collect();
                        if key == "patternProperties" {
                            for pattern in entries.keys().filter(|pattern| !pattern_checkable(pattern)) {
                                let pattern = json!(pattern);
                                let note = format!(
                                    "{} is left out: not a regular expression the argument checker can compile",
                                    shown(key, &pattern)
                                );
                                self.note_invalid(entries_doc, key, &pattern, note);
                            }
                        }
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
                            self.budget_left -= cleaned.text.len() as isize;
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
                        // Read as `minimum`/`maximum` are (which notes what it is not).
                        if let Some(limit) = map.get(bound).and_then(number) {
                            out.insert(key.clone(), limit);
                        }
                    }
                    Value::Number(_) => {
                        out.insert(key.clone(), value.clone());
                    }
                    Value::Bool(false) => {}
                    _ => {
                        if let Some(value) = self.read_keyword(doc, key, value) {
                            out.insert(key.clone(), value);
                        }
                    }
                },
                // Raw bytes cannot travel in JSON arguments: the agent sends base64, and the request
                // builder decodes it for raw and multipart bodies. The schema says so in 2020-12 terms.
                "format" if input && value.as_str() == Some("binary") => {
                    out.insert("contentEncoding".into(), json!("base64"));
                }
                // Storage widths say nothing to a model and nothing JSON Schema validates.
                "format" if matches!(value.as_str(), Some("int32" | "int64" | "float" | "double")) => {}
                "enum" | "const" | "format" | "default" | "minimum" | "maximum" | "multipleOf" | "minLength"
                | "maxLength" | "pattern" | "minItems" | "maxItems" | "uniqueItems" | "minProperties"
                | "maxProperties" | "required" | "dependentRequired" | "contentMediaType" | "contentEncoding"
                    if input =>
                {
                    if let Some(value) = self.read_keyword(doc, key, value) {
                        out.insert(key.clone(), value);
                    }
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
                    (Some(properties), Some(name)) => {
                        properties.contains_key(name) || !self.map_has_property(doc, map, name)
                    }
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
        self.budget_left -= 16;
        Value::Object(out)
    }
}

/// What [`checked_keyword`] makes of a keyword's value.
#[derive(Debug, PartialEq)]
enum Checked {
    Kept,
    /// What the author meant, in the form JSON Schema asks for (`maxLength: "10"` → 10).
    ReadAs(Value),
    /// Meaningless for the keyword; what it should have been.
    LeftOut(&'static str),
}

/// A keyword of an input schema as the argument checker (JSON Schema 2020-12, `call/arguments.rs`)
/// can read it. A spec's `maxLength: "10"` or an ECMA-262 `pattern` the checker cannot compile
/// would make the tool's whole schema refused, and with it every call of the tool (or a server
/// that does not start): a value with an obvious meaning is read as such (a number or boolean
/// written as a string, `10.0` for a count), anything else is left out (the API still validates),
/// and `check` says which.
fn checked_keyword(key: &str, value: &Value) -> Checked {
    let read = |read: Option<Value>, what: &'static str| match read {
        Some(read) if read == *value => Checked::Kept,
        Some(read) => Checked::ReadAs(read),
        None => Checked::LeftOut(what),
    };
    match key {
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties" => read(
            number(value)
                .and_then(|n| n.as_f64())
                .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= u64::MAX as f64)
                .map(|n| json!(n as u64)),
            "a count (a non-negative integer)",
        ),
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => read(number(value), "a number"),
        "multipleOf" => read(number(value).filter(|n| n.as_f64().is_some_and(|n| n > 0.0)), "a number above 0"),
        "uniqueItems" => read(
            match value {
                Value::Bool(_) => Some(value.clone()),
                Value::String(text) if text == "true" || text == "false" => Some(Value::Bool(text == "true")),
                _ => None,
            },
            "a boolean",
        ),
        "enum" => read(value.is_array().then(|| value.clone()), "a list of values"),
        "format" | "contentMediaType" | "contentEncoding" => read(value.is_string().then(|| value.clone()), "a string"),
        "pattern" => read(
            value.as_str().filter(|pattern| pattern_checkable(pattern)).map(|_| value.clone()),
            "a regular expression the argument checker can compile",
        ),
        "type" => read(types(value), "a JSON type name or a list of them"),
        "required" => read(names(value), "a list of property names"),
        "dependentRequired" => read(
            value.as_object().map(|map| {
                Value::Object(map.iter().filter_map(|(key, names_of)| Some((key.clone(), names(names_of)?))).collect())
            }),
            "a map of property names to lists of names",
        ),
        _ => Checked::Kept,
    }
}

/// A number, or a string that is one (`"10"`).
fn number(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(text) => text.trim().parse::<f64>().ok().filter(|n| n.is_finite()).map(number_value),
        _ => None,
    }
}

fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 { json!(n as i64) } else { json!(n) }
}

/// `type` as JSON Schema names types: a known name or a list of distinct known names.
fn types(value: &Value) -> Option<Value> {
    const NAMES: [&str; 7] = ["string", "number", "integer", "boolean", "array", "object", "null"];
    match value {
        Value::String(name) if NAMES.contains(&name.as_str()) => Some(value.clone()),
        Value::Array(items) => {
            let mut kept: Vec<Value> = Vec::new();
            for item in items {
                if item.as_str().is_some_and(|name| NAMES.contains(&name)) && !kept.contains(item) {
                    kept.push(item.clone());
                }
            }
            match kept.len() {
                0 => None,
                // What is left of a list that named unknown types.
                1 if items.len() > 1 => kept.pop(),
                _ => Some(Value::Array(kept)),
            }
        }
        _ => None,
    }
}

/// A list of distinct strings (`required`, `dependentRequired`'s lists); a single name is read as a
/// list of one.
fn names(value: &Value) -> Option<Value> {
    match value {
        Value::String(_) => Some(Value::Array(vec![value.clone()])),
        Value::Array(items) => {
            let mut kept: Vec<Value> = Vec::new();
            for item in items {
                if item.is_string() && !kept.contains(item) {
                    kept.push(item.clone());
                }
            }
            Some(Value::Array(kept))
        }
        _ => None,
    }
}

/// Whether the argument checker can compile a spec's `pattern` (or a `patternProperties` key): it
/// reads ECMA-262 patterns through the `jsonschema` crate's translation, which refuses some (a
/// backreference to a group that does not exist, an unknown Unicode class). Each pattern is
/// asked about once per process.
pub fn pattern_checkable(pattern: &str) -> bool {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    // A pure function's answers; bounded, as the patterns come from third-party specs.
    static CHECKED: LazyLock<Mutex<HashMap<String, bool>>> = LazyLock::new(Default::default);
    const REMEMBERED: usize = 4096;
    if let Some(&known) = CHECKED.lock().ok().as_ref().and_then(|checked| checked.get(pattern)) {
        return known;
    }
    // As `jsonschema` reads a pattern: its translation of ECMA-262, then its regex engine
    // (fancy-regex, whose parser is stricter than the regex crate's in places, `a{3}*`, and which
    // hands what it can to the regex crate). A pattern both parsers take needs nothing more; only
    // one with lookarounds or backreferences is compiled to be sure.
    let checkable = jsonschema_regex::to_rust_regex(pattern).is_ok_and(|translated| {
        fancy_regex::Expr::parse_tree(&translated).is_ok()
            && (regex_syntax::parse(&translated).is_ok() || fancy_regex::Regex::new(&translated).is_ok())
    });
    if let Ok(mut checked) = CHECKED.lock()
        && checked.len() < REMEMBERED
    {
        checked.insert(pattern.to_string(), checkable);
    }
    checkable
}

/// `maxLength: "10"`, shortened: how a note names what the spec says.
fn shown(key: &str, value: &Value) -> String {
    format!("`{key}: {}`", compact(value))
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
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
        map.remove("x-cut-note");
    }
}

/// The size of `schema` as compact JSON without the choices [`SchemaCompiler::keep_choices`] marked.
pub fn size_without_choices(schema: &Map<String, Value>) -> usize {
    let mut copy = Value::Object(schema.clone());
    settle_choices(&mut copy, &mut 0);
    serde_json::to_vec(&copy).map_or(0, |bytes| bytes.len())
}

/// Keeps the marked choices of cut union variants, in document order, while `room` (bytes) lasts;
/// removes every mark.
pub fn settle_choices(value: &mut Value, room: &mut usize) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(choices)) = map.remove(CHOICES) {
                let names: Vec<Value> = choices.keys().map(|name| Value::String(name.clone())).collect();
                let (choices, names) = (Value::Object(choices), Value::Array(names));
                // `"properties":…,"required":…` and two commas.
                let cost = serde_json::to_vec(&choices).map_or(usize::MAX, |bytes| bytes.len())
                    + serde_json::to_vec(&names).map_or(usize::MAX, |bytes| bytes.len())
                    + 26;
                if cost <= *room {
                    *room -= cost;
                    map.insert("properties".into(), choices);
                    map.insert("required".into(), names);
                }
            }
            for child in map.values_mut() {
                settle_choices(child, room);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| settle_choices(item, room)),
        _ => {}
    }
}

/// `oneOf` or `anyOf` beside one already there (both in one schema): the second goes into `allOf`,
/// which requires both, as the spec does.
fn insert_variants(out: &mut Map<String, Value>, key: &str, variants: Vec<Value>) {
    if out.contains_key(key) {
        let wrapped = json!({ key: variants });
        match out.get_mut("allOf") {
            Some(Value::Array(parts)) => parts.push(wrapped),
            _ => {
                out.insert("allOf".into(), json!([wrapped]));
            }
        }
    } else {
        out.insert(key.to_string(), Value::Array(variants));
    }
}

/// Decides how a `oneOf` is advertised. `oneOf` demands that exactly one variant matches; when the
/// variants overlap (all-optional objects, `string` beside `string` with a format, ...) a value the
/// API accepts matches several and would be refused by the validation of the arguments. So `oneOf`
/// is kept only where it is exact: variants of disjoint types, or told apart by a property whose
/// `const`/`enum` values differ. A discriminator makes it exact by pinning its value in each
/// variant (from `mapping`, else the component's name), as OpenAPI defines it. Any other `oneOf`
/// becomes `anyOf`: the API still validates, and the agent is not refused a valid value.
fn exclusive_variants(map: &Map<String, Value>, raw: &[Value], compiled: Vec<Value>) -> (&'static str, Vec<Value>) {
    if pairwise_disjoint(&compiled) {
        return ("oneOf", compiled);
    }
    if let Some(discriminator) = map.get("discriminator").and_then(Value::as_object)
        && let Some(property) = discriminator.get("propertyName").and_then(Value::as_str)
    {
        let mapping = discriminator.get("mapping").and_then(Value::as_object);
        let values: Option<Vec<String>> = raw
            .iter()
            .map(|variant| {
                let reference = variant.get("$ref")?.as_str()?;
                let mapped = mapping.and_then(|mapping| {
                    mapping
                        .iter()
                        .find(|(_, target)| target.as_str() == Some(reference))
                        .map(|(value, _)| value.clone())
                });
                Some(mapped.unwrap_or_else(|| component_name(reference)))
            })
            .collect();
        if let Some(values) = values {
            let mut pinned = compiled.clone();
            let all_pinned = pinned.iter_mut().zip(&values).all(|(variant, value)| pin(variant, property, value));
            if all_pinned && pairwise_disjoint(&pinned) {
                return ("oneOf", pinned);
            }
        }
    }
    ("anyOf", compiled)
}

/// Requires `property` to equal `value` in an object variant; false when the variant cannot say so
/// (not an object with that property, or an `enum` that does not admit the value).
fn pin(variant: &mut Value, property: &str, value: &str) -> bool {
    let Some(schema) = variant.get_mut("properties").and_then(|p| p.get_mut(property)).and_then(Value::as_object_mut)
    else {
        return false;
    };
    let admitted = match schema.get("enum").and_then(Value::as_array) {
        Some(values) => values.iter().any(|v| v.as_str() == Some(value)),
        None => schema.get("const").is_none_or(|constant| constant.as_str() == Some(value)),
    };
    if !admitted {
        return false;
    }
    schema.remove("enum");
    schema.insert("const".into(), Value::String(value.to_string()));
    let Some(variant) = variant.as_object_mut() else {
        return false;
    };
    match variant.get_mut("required") {
        Some(Value::Array(required)) => {
            if !required.iter().any(|name| name.as_str() == Some(property)) {
                required.push(Value::String(property.to_string()));
            }
        }
        _ => {
            variant.insert("required".into(), json!([property]));
        }
    }
    true
}

fn pairwise_disjoint(variants: &[Value]) -> bool {
    variants.iter().enumerate().all(|(i, a)| variants[i + 1..].iter().all(|b| disjoint(a, b)))
}

/// True when no value can satisfy both schemas, judged on what is cheap to be sure of: their types,
/// their own `const`/`enum`, or a property both define with different `const`/`enum` values that
/// at least one of them requires.
fn disjoint(a: &Value, b: &Value) -> bool {
    if let (Some(a_types), Some(b_types)) = (types_of(a), types_of(b))
        && !a_types.iter().any(|kind| {
            b_types.iter().any(|other| {
                kind == other
                    || (*kind == "integer" && *other == "number")
                    || (*kind == "number" && *other == "integer")
            })
        })
    {
        return true;
    }
    if let (Some(a_values), Some(b_values)) = (values_of(a), values_of(b)) {
        return !a_values.iter().any(|value| b_values.contains(value));
    }
    let required = |schema: &Value, name: &str| {
        schema.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|n| n.as_str() == Some(name)))
    };
    let (Some(a_properties), Some(b_properties)) =
        (a.get("properties").and_then(Value::as_object), b.get("properties").and_then(Value::as_object))
    else {
        return false;
    };
    a_properties.iter().any(|(name, a_property)| {
        let Some(b_property) = b_properties.get(name) else {
            return false;
        };
        (required(a, name) || required(b, name))
            && matches!((values_of(a_property), values_of(b_property)),
                (Some(x), Some(y)) if !x.iter().any(|value| y.contains(value)))
    })
}

/// The JSON types a schema admits, when it says (`type`, or the types of its `const`/`enum`).
fn types_of(schema: &Value) -> Option<Vec<&'static str>> {
    let name = |kind: &str| -> Option<&'static str> {
        ["null", "boolean", "object", "array", "number", "string", "integer"].into_iter().find(|k| *k == kind)
    };
    match schema.get("type") {
        Some(Value::String(kind)) => return Some(vec![name(kind)?]),
        Some(Value::Array(kinds)) => return kinds.iter().map(|kind| name(kind.as_str()?)).collect(),
        _ => {}
    }
    let values = values_of(schema)?;
    Some(
        values
            .iter()
            .map(|value| match value {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            })
            .collect(),
    )
}

fn values_of(schema: &Value) -> Option<Vec<&Value>> {
    if let Some(constant) = schema.get("const") {
        return Some(vec![constant]);
    }
    schema.get("enum").and_then(Value::as_array).map(|values| values.iter().collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// The schema is already being expanded further up this path.
    Recursion,
    /// Deeper than `max_depth`.
    Depth,
}

/// A schema that nests other schemas (the only kind worth cutting: a scalar with its enum or pattern
/// costs little and cannot recurse, so it is kept at any depth).
fn is_composite(map: &Map<String, Value>) -> bool {
    ["properties", "items", "allOf", "oneOf", "anyOf", "additionalProperties", "patternProperties", "prefixItems"]
        .iter()
        .any(|key| map.get(*key).is_some_and(|value| !value.is_boolean()))
        || matches!(map.get("type").and_then(Value::as_str), Some("object" | "array"))
}

/// The name a reference gives its target: the last segment of its JSON pointer, unescaped
/// (`#/components/schemas/PodSpec` → `PodSpec`), else the document's file name.
fn component_name(reference: &str) -> String {
    let (document, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    let last = fragment.rsplit('/').find(|segment| !segment.is_empty());
    let name = match last {
        Some(segment) => segment.replace("~1", "/").replace("~0", "~"),
        None => document.rsplit('/').next().unwrap_or(document).to_string(),
    };
    let name = percent_encoding::percent_decode_str(&name).decode_utf8_lossy().into_owned();
    if name.is_empty() { "object".to_string() } else { name }
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

/// Merges `allOf` parts (already compiled) into one schema whose instances satisfy every part: the
/// first part is the schema's own keywords, which win for annotations like `description`; a property
/// defined by several parts is merged the same way (so one part's `enum` or `pattern` still binds);
/// bounds take the tighter value (the larger minimum, the smaller maximum); `enum` and `type` are
/// intersected. Keywords that still conflict (two patterns, two formats) stay in a residual `allOf`,
/// so nothing the spec required is lost.
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
                            match target.remove(&name) {
                                Some(existing) if existing != schema => {
                                    target.insert(name, merge_all(vec![existing, schema], mode));
                                }
                                Some(existing) => {
                                    target.insert(name, existing);
                                }
                                None => {
                                    target.insert(name, schema);
                                }
                            }
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
                    Some(existing) => match intersect(&key, existing, &value) {
                        Some(both) => {
                            merged.insert(key, both);
                        }
                        None => {
                            conflicts.insert(key, value);
                        }
                    },
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

/// One keyword that two `allOf` parts both set, combined so that both constraints hold; `None` when
/// there is no single value for that (two patterns, two formats, an empty intersection), and the
/// second value then stays in the residual `allOf`.
fn intersect(key: &str, first: &Value, second: &Value) -> Option<Value> {
    let number = |value: &Value| value.as_f64();
    match key {
        "minimum" | "exclusiveMinimum" | "minLength" | "minItems" | "minProperties" => {
            Some(if number(second)? > number(first)? { second.clone() } else { first.clone() })
        }
        "maximum" | "exclusiveMaximum" | "maxLength" | "maxItems" | "maxProperties" => {
            Some(if number(second)? < number(first)? { second.clone() } else { first.clone() })
        }
        "uniqueItems" => Some(Value::Bool(first.as_bool()? || second.as_bool()?)),
        "enum" => {
            let (first, second) = (first.as_array()?, second.as_array()?);
            let both: Vec<Value> = first.iter().filter(|value| second.contains(value)).cloned().collect();
            (!both.is_empty()).then_some(Value::Array(both))
        }
        "type" => {
            let kinds = |value: &Value| -> Option<Vec<String>> {
                match value {
                    Value::String(kind) => Some(vec![kind.clone()]),
                    Value::Array(kinds) => kinds.iter().map(|kind| kind.as_str().map(str::to_string)).collect(),
                    _ => None,
                }
            };
            let (first, second) = (kinds(first)?, kinds(second)?);
            // `integer` is a subset of `number`.
            let admits = |kinds: &[String], kind: &str| {
                kinds.iter().any(|k| k == kind) || (kind == "integer" && kinds.iter().any(|k| k == "number"))
            };
            let mut both: Vec<String> = first.iter().filter(|kind| admits(&second, kind)).cloned().collect();
            for kind in &second {
                if kind == "integer" && admits(&first, kind) && !both.contains(kind) {
                    both.push(kind.clone());
                }
            }
            match both.len() {
                0 => None,
                1 => Some(Value::String(both.remove(0))),
                _ => Some(Value::Array(both.into_iter().map(Value::String).collect())),
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Document, ROOT, SourceText, SpecVersion};
    use proptest::prelude::*;

    fn compiled(schema: Value) -> (Value, Vec<String>) {
        let document = Document::new(
            url::Url::parse("file:///s.yaml").unwrap(),
            "s.yaml".into(),
            json!({}),
            SourceText::held(String::new()),
        );
        let spec = Spec::new(vec![document], SpecVersion::OpenApi31);
        let options = SchemaOptions { mode: Mode::Input, description_words: 20, max_depth: 8, max_bytes: None };
        let mut compiler = SchemaCompiler::new(&spec, options);
        let out = compiler.compile(ROOT, &schema).unwrap();
        (out, compiler.invalid.into_iter().map(|invalid| invalid.note).collect())
    }

    #[test]
    fn keyword_values_are_read_as_meant_or_left_out() {
        for (key, value, read) in [
            ("maxLength", json!(5), Some(json!(5))),
            ("maxLength", json!("5"), Some(json!(5))),
            ("maxLength", json!(5.0), Some(json!(5))),
            ("maxLength", json!(5.5), None),
            ("maxLength", json!(-1), None),
            ("minItems", json!(" 2 "), Some(json!(2))),
            ("minimum", json!(-2.5), Some(json!(-2.5))),
            ("minimum", json!("-2.5"), Some(json!(-2.5))),
            ("maximum", json!("ten"), None),
            ("multipleOf", json!(0.5), Some(json!(0.5))),
            ("multipleOf", json!(0), None),
            ("multipleOf", json!(-3), None),
            ("uniqueItems", json!("true"), Some(json!(true))),
            ("uniqueItems", json!(1), None),
            ("enum", json!(["a", 1]), Some(json!(["a", 1]))),
            ("enum", json!({"a": 1}), None),
            ("format", json!("uuid"), Some(json!("uuid"))),
            ("format", json!(["uuid"]), None),
            ("pattern", json!("^[a-z]+$"), Some(json!("^[a-z]+$"))),
            ("pattern", json!("^\\d{3}(?=x)"), Some(json!("^\\d{3}(?=x)"))),
            ("pattern", json!("(unclosed"), None),
            ("pattern", json!(7), None),
            ("type", json!("int"), None),
            ("type", json!(["string", "null", "string"]), Some(json!(["string", "null"]))),
            ("required", json!("a"), Some(json!(["a"]))),
            ("required", json!(["a", "a", 1]), Some(json!(["a"]))),
            ("dependentRequired", json!({"a": ["b"], "c": 1}), Some(json!({"a": ["b"]}))),
            ("contentEncoding", json!(64), None),
        ] {
            let (out, notes) = compiled(json!({key: value}));
            assert_eq!(out.get(key), read.as_ref(), "{key}: {value}");
            assert_eq!(notes.len(), usize::from(read.as_ref() != Some(&value)), "{key}: {value}: {notes:?}");
        }
    }

    #[test]
    fn pattern_properties_keep_only_patterns_the_checker_compiles() {
        let (out, notes) = compiled(json!({"type": "object", "patternProperties": {"^x-": {}, "(": {}}}));
        assert_eq!(out["patternProperties"], json!({"^x-": {}}));
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_filter("finite", |n| n.is_finite()).prop_map(|n| json!(n)),
            "[-+0-9a-z.()\\[\\]{}^$\\\\?*|]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    const KEYWORDS: [&str; 20] = [
        "type",
        "enum",
        "const",
        "format",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "required",
        "dependentRequired",
    ];

    proptest! {
        /// `pattern_checkable` answers as building the checker does, both ways.
        #[test]
        fn a_pattern_is_checkable_exactly_when_the_checker_compiles_it(
            parts in prop::collection::vec(
                prop_oneof![
                    Just("(?="), Just("(?!"), Just("(?<="), Just("(?<n>"), Just("\\k<n>"), Just("\\1"),
                    Just("\\p{L}"), Just("\\p{Foo}"), Just("\\d"), Just("\\w"), Just("\\c"), Just("[^"),
                    Just("]"), Just("("), Just(")"), Just("{2,1}"), Just("{3}"), Just("*"), Just("+?"), Just("|"),
                    Just("^"), Just("$"), Just("a"), Just("."), Just("\\"), Just("[a-z]"), Just("(?i)"),
                ],
                0..7,
            ),
        ) {
            let pattern = parts.concat();
            let built = crate::catalogue::argument_checker_options().build(&json!({"pattern": pattern})).is_ok();
            prop_assert_eq!(pattern_checkable(&pattern), built, "{}", pattern);
        }

        /// Whatever a spec writes under the keywords api2mcp keeps, the advertised schema is one the
        /// argument checker compiles: no spec makes a tool uncallable or a server refuse to start.
        #[test]
        fn every_compiled_input_schema_compiles_in_the_checker(
            values in prop::collection::vec((0..KEYWORDS.len(), any_json()), 1..6),
            nested in any::<bool>(),
        ) {
            let schema: Map<String, Value> =
                values.into_iter().map(|(key, value)| (KEYWORDS[key].to_string(), value)).collect();
            let schema = if nested {
                json!({"type": "object", "properties": {"p": schema.clone(), "q": {"type": "array", "items": schema}}})
            } else {
                Value::Object(schema)
            };
            let (out, _) = compiled(schema.clone());
            let built = crate::catalogue::argument_checker_options().build(&out);
            prop_assert!(built.is_ok(), "{schema} -> {out}: {:?}", built.err());
        }
    }
}
