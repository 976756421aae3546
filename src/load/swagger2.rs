//! Swagger 2.0 to OpenAPI 3.0.3 upgrade at the JSON value level, so later stages only see 3.x.

use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::fmt::Display;

/// The upgraded document together with notes about everything that could not be carried over
/// faithfully.
#[derive(Debug, Clone)]
pub struct Upgraded {
    pub document: Value,
    pub notes: Vec<String>,
}

type JsonObject = Map<String, Value>;

/// Schemas are trees, but a hostile or generated document can still nest absurdly deep, so
/// recursion stops here.
const MAX_DEPTH: usize = 256;
const JSON_MEDIA: &str = "application/json";
const MULTIPART: &str = "multipart/form-data";
const URLENCODED: &str = "application/x-www-form-urlencoded";
const METHODS: &str = "get put post delete options head patch trace";
/// Keys of a non-body 2.0 parameter, header or items object that describe the value and so belong
/// in a 3.0 `schema`.
const TYPE_KEYS: &str = "type format items default enum minimum maximum exclusiveMinimum \
    exclusiveMaximum minLength maxLength pattern minItems maxItems uniqueItems multipleOf";
/// Operation fields that mean the same in both versions and are copied through.
const OPERATION_KEYS: &str = "tags summary description externalDocs operationId deprecated security";
/// Keys whose values are user data rather than document structure; a `$ref` inside them is not a
/// reference.
const DATA_KEYS: &str = "example examples x-example x-examples default enum";
/// Keys whose object value is keyed by user-chosen names, so a child called `default` or `$ref` is
/// a name.
const NAME_MAP_KEYS: &str = "properties definitions schemas parameters requestBodies responses \
    headers securitySchemes paths encoding content patternProperties";

fn listed(list: &str, key: &str) -> bool {
    list.split_whitespace().any(|k| k == key)
}

/// Inserts and discards the displaced value, which keeps the many copy-through match arms to one
/// line.
fn set_member(object: &mut JsonObject, key: &str, value: Value) {
    object.insert(key.to_owned(), value);
}

fn get_str<'a>(m: &'a JsonObject, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// Copies vendor extensions; `x-nullable` is skipped because it is translated into `nullable`
/// instead.
fn copy_extensions(from: &JsonObject, to: &mut JsonObject) {
    for (k, v) in from.iter().filter(|(k, _)| k.starts_with("x-") && *k != "x-nullable") {
        to.insert(k.clone(), v.clone());
    }
}

/// Conversion state: the collected notes and the document-wide defaults that operations fall back
/// to.
struct Conversion {
    notes: Vec<String>,
    seen: HashSet<String>,
    top_params: JsonObject,
    consumes: Vec<String>,
    produces: Vec<String>,
}

impl Conversion {
    /// Records a note once, because repeated identical problems would otherwise drown the useful
    /// ones.
    fn note(&mut self, at: &str, msg: impl Display) {
        let msg = if at.is_empty() { msg.to_string() } else { format!("{at}: {msg}") };
        if self.seen.insert(msg.clone()) {
            self.notes.push(msg);
        }
    }

    /// Follows a local `#/parameters/...` reference into the original top-level parameters.
    fn resolve_param(&self, reference: &str) -> Option<(String, JsonObject)> {
        let raw = reference.strip_prefix("#/parameters/")?;
        let name = raw.replace("~1", "/").replace("~0", "~");
        Some((name.clone(), self.top_params.get(&name)?.as_object()?.clone()))
    }
}

/// The members of a name-keyed section that are objects; everything else is noted and skipped.
fn objects<'a>(val: &'a Value, at: &str, what: &str, conversion: &mut Conversion) -> Vec<(&'a String, &'a JsonObject)> {
    let Some(map) = val.as_object() else {
        conversion.note(at, "is not an object; skipped");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, v) in map {
        match v.as_object() {
            Some(o) => out.push((name, o)),
            None if name.starts_with("x-") => {}
            None => conversion.note(&format!("{at}.{name}"), format!("{what} is not an object; skipped")),
        }
    }
    out
}

/// Converts a parsed Swagger 2.0 document into an equivalent OpenAPI 3.0.3 document.
pub fn upgrade(doc: Value) -> Upgraded {
    let Value::Object(src) = doc else {
        let notes = vec!["document is not a json object; nothing converted".to_owned()];
        return Upgraded { document: doc, notes };
    };
    let top_params = src.get("parameters").and_then(Value::as_object).cloned();
    let mut conversion = Conversion {
        notes: Vec::new(),
        seen: HashSet::new(),
        top_params: top_params.unwrap_or_default(),
        consumes: media_or_json(src.get("consumes").map(strings)),
        produces: media_or_json(src.get("produces").map(strings)),
    };
    // Top-level body parameters become request bodies, so references to them move to another
    // section.
    let body_names: HashSet<String> = (conversion.top_params.iter())
        .filter(|(_, parameter)| parameter.get("in").and_then(Value::as_str) == Some("body"))
        .map(|(name, _)| name.clone())
        .collect();
    match src.get("swagger") {
        Some(Value::String(v)) if v == "2.0" => {}
        other => conversion.note("", format!("swagger version {} is not 2.0; converted as 2.0", json!(other))),
    }

    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.3"));
    if let Some(info) = src.get("info") {
        out.insert("info".into(), info.clone());
    }
    out.insert("servers".into(), build_servers(&src, &mut conversion));
    let mut sections: [(&str, JsonObject); 5] = [
        ("schemas", Map::new()),
        ("parameters", Map::new()),
        ("requestBodies", Map::new()),
        ("responses", Map::new()),
        ("securitySchemes", Map::new()),
    ];
    // By value: each section of the original is freed once converted (see `convert_paths`).
    for (key, val) in src {
        let at = key.as_str();
        match at {
            "swagger" | "info" | "host" | "basePath" | "schemes" | "consumes" | "produces" => {}
            "paths" => set_member(&mut out, at, convert_paths(val, &mut conversion)),
            "definitions" => match val {
                Value::Object(defs) => {
                    for (name, original) in defs {
                        let mut s = convert_schema(&original, 0, &format!("definitions.{name}"), &mut conversion);
                        drop(original);
                        super::json::compact(&mut s);
                        sections[0].1.insert(name, s);
                    }
                }
                _ => conversion.note(at, "is not an object; skipped"),
            },
            "parameters" => {
                for (name, parameter) in objects(&val, at, "parameter", &mut conversion) {
                    let here = format!("parameters.{name}");
                    match get_str(parameter, "in") {
                        Some("body") => {
                            let consumes = conversion.consumes.clone();
                            let body = body_request(parameter, &consumes, &here, &mut conversion);
                            sections[2].1.insert(name.clone(), body);
                        }
                        // 3.0 has no formData parameters; they are folded into request bodies
                        // wherever referenced.
                        Some("formData") => {}
                        _ => {
                            let param = convert_parameter(parameter, &here, &mut conversion);
                            sections[1].1.insert(name.clone(), param);
                        }
                    }
                }
            }
            "responses" => {
                let produces = conversion.produces.clone();
                for (name, r) in objects(&val, at, "response", &mut conversion) {
                    let r = convert_response(r, &produces, &format!("responses.{name}"), &mut conversion);
                    sections[3].1.insert(name.clone(), r);
                }
            }
            "securityDefinitions" => {
                for (name, s) in objects(&val, at, "security definition", &mut conversion) {
                    let here = format!("securityDefinitions.{name}");
                    let scheme = convert_security_scheme(s, &here, &mut conversion);
                    sections[4].1.insert(name.clone(), scheme);
                }
            }
            k if listed("tags externalDocs security", k) || k.starts_with("x-") => set_member(&mut out, k, val),
            k => conversion.note("", format!("unknown top-level key '{k}' dropped")),
        }
    }
    // OpenAPI 3 requires `paths`, so a document without it still gets an empty one.
    out.entry("paths").or_insert_with(|| json!({}));
    let components: JsonObject = (sections.into_iter())
        .filter(|(_, m)| !m.is_empty())
        .map(|(name, m)| (name.to_owned(), Value::Object(m)))
        .collect();
    if !components.is_empty() {
        out.insert("components".into(), Value::Object(components));
    }
    let mut document = Value::Object(out);
    rewrite_refs(&mut document, false, 0, &body_names, &mut conversion);
    Upgraded { document, notes: conversion.notes }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// An empty or missing media type list means JSON, which is what 2.0 tooling assumed in practice.
fn media_or_json(list: Option<Vec<String>>) -> Vec<String> {
    match list {
        Some(l) if !l.is_empty() => l,
        _ => vec![JSON_MEDIA.to_owned()],
    }
}

fn is_form_media(m: &str) -> bool {
    m == MULTIPART || m == URLENCODED
}

/// Media types for a body parameter: form types cannot carry a body schema, so they are skipped.
fn body_media(consumes: &[String]) -> Vec<String> {
    media_or_json(Some(consumes.iter().filter(|m| !is_form_media(m)).cloned().collect()))
}

fn build_servers(src: &JsonObject, conversion: &mut Conversion) -> Value {
    let mut text = |key: &str| match src.get(key) {
        Some(Value::String(s)) => s.trim().trim_end_matches('/').to_owned(),
        None => String::new(),
        Some(_) => {
            conversion.note(key, "is not a string; ignored");
            String::new()
        }
    };
    let (host, base) = (text("host"), text("basePath"));
    // Paths always start with '/', so the base keeps a leading slash and loses its trailing one to
    // avoid '//'.
    let base = if base.is_empty() || base.starts_with('/') { base } else { format!("/{base}") };
    if host.is_empty() {
        let url = if base.is_empty() { "/".to_owned() } else { base };
        return json!([{ "url": url }]);
    }
    let mut schemes = src.get("schemes").map(strings).unwrap_or_default();
    if schemes.is_empty() {
        schemes.push("https".into());
    }
    let mut urls: Vec<String> = Vec::new();
    for scheme in schemes {
        let url = match host.contains("://") {
            true => format!("{host}{base}"),
            false => format!("{}://{host}{base}", scheme.to_ascii_lowercase()),
        };
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    Value::Array(urls.into_iter().map(|url| json!({ "url": url })).collect())
}

/// Takes the paths by value: each original path item is freed as soon as it is converted, so the
/// two documents are never both whole in memory.
fn convert_paths(val: Value, conversion: &mut Conversion) -> Value {
    let Value::Object(map) = val else {
        conversion.note("paths", "is not an object; no operations converted");
        return json!({});
    };
    // Each path item is converted, the original let go, and the conversion (built by growing, as
    // `json!` and `insert` do) reallocated at its exact size before the next: Kubernetes' upgraded
    // document 20.5 -> 17.0 MiB. Definitions likewise (`upgrade`).
    // Extensions come first and are not path items, however object-shaped they are.
    let mut out = Map::new();
    let mut items = Vec::new();
    for (key, value) in map {
        if key.starts_with("x-") {
            out.insert(key, value);
        } else {
            items.push((key, value));
        }
    }
    for (path, item) in items {
        match item {
            Value::Object(item) => {
                let mut converted = Value::Object(convert_path_item(&item, &format!("paths.{path}"), conversion));
                drop(item);
                super::json::compact(&mut converted);
                out.insert(path, converted);
            }
            _ => conversion.note(&format!("paths.{path}"), "path item is not an object; skipped"),
        }
    }
    Value::Object(out)
}

/// A list-valued field, where anything but an array is noted and treated as empty.
fn array(v: Option<&Value>, at: &str, key: &str, conversion: &mut Conversion) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        None => Vec::new(),
        Some(_) => {
            conversion.note(at, format!("{key} is not an array; ignored"));
            Vec::new()
        }
    }
}

fn convert_path_item(item: &JsonObject, at: &str, conversion: &mut Conversion) -> JsonObject {
    let shared = array(item.get("parameters"), at, "path-level parameters", conversion);
    let mut out = Map::new();
    let mut has_ops = false;
    for (key, val) in item {
        match key.as_str() {
            "parameters" => {}
            m if listed(METHODS, m) => match val.as_object() {
                Some(op) => {
                    has_ops = true;
                    let op = convert_operation(op, &shared, &format!("{at}.{m}"), conversion);
                    out.insert(key.clone(), op);
                }
                None => conversion.note(&format!("{at}.{m}"), "operation is not an object; skipped"),
            },
            k if listed("$ref summary description servers", k) || k.starts_with("x-") => {
                set_member(&mut out, k, val.clone())
            }
            k => conversion.note(at, format!("unknown path item key '{k}' dropped")),
        }
    }
    if !has_ops && !shared.is_empty() {
        conversion.note(at, "path-level parameters dropped because the path item has no operations");
    }
    out
}

/// The identity of a parameter for override purposes, looking through local references.
fn param_key(parameter: &Value, conversion: &Conversion) -> Option<(String, String)> {
    let parameter = parameter.as_object()?;
    let resolved;
    let target = match get_str(parameter, "$ref") {
        Some(r) => match conversion.resolve_param(r) {
            Some((_, t)) => {
                resolved = t;
                &resolved
            }
            None => return Some(("$ref".into(), r.to_owned())),
        },
        None => parameter,
    };
    let field = |k: &str| get_str(target, k).unwrap_or_default().to_owned();
    Some((field("name"), field("in")))
}

fn convert_operation(op: &JsonObject, shared: &[Value], at: &str, conversion: &mut Conversion) -> Value {
    let consumes = op.get("consumes").map_or_else(|| conversion.consumes.clone(), |v| media_or_json(Some(strings(v))));
    let produces = op.get("produces").map_or_else(|| conversion.produces.clone(), |v| media_or_json(Some(strings(v))));
    let own = array(op.get("parameters"), at, "parameters", conversion);
    // An operation-level parameter with the same name and location replaces the path-level one.
    let own_keys: HashSet<_> = own.iter().filter_map(|parameter| param_key(parameter, conversion)).collect();
    let mut merged: Vec<Value> = (shared.iter())
        .filter(|parameter| param_key(parameter, conversion).is_none_or(|k| !own_keys.contains(&k)))
        .cloned()
        .collect();
    merged.extend(own);

    let mut params = Vec::new();
    let mut bodies: Vec<(JsonObject, Option<String>)> = Vec::new();
    let mut forms: Vec<JsonObject> = Vec::new();
    for parameter in &merged {
        let Some(obj) = parameter.as_object() else {
            conversion.note(at, "parameter that is not an object skipped");
            continue;
        };
        if let Some(r) = get_str(obj, "$ref") {
            // Body and formData parameters are not parameters in 3.0, so a reference must be looked
            // through.
            match conversion.resolve_param(r) {
                Some((name, t)) => match get_str(&t, "in") {
                    Some("body") => bodies.push((t, Some(name))),
                    Some("formData") => forms.push(t),
                    _ => params.push(parameter.clone()),
                },
                None => {
                    if r.starts_with("#/") {
                        conversion.note(at, format!("parameter reference '{r}' does not resolve"));
                    }
                    params.push(parameter.clone());
                }
            }
            continue;
        }
        match get_str(obj, "in") {
            Some("body") => bodies.push((obj.clone(), None)),
            Some("formData") => forms.push(obj.clone()),
            _ => params.push(convert_parameter(obj, at, conversion)),
        }
    }

    let mut request_body = None;
    if let Some((body, ref_name)) = bodies.first() {
        for (extra, _) in &bodies[1..] {
            let name = get_str(extra, "name").unwrap_or("?");
            conversion.note(at, format!("extra body parameter '{name}' dropped; only one body is allowed"));
        }
        if !forms.is_empty() {
            conversion.note(at, "formData parameters dropped because the operation also has a body parameter");
        }
        // The shared request body was built with the global media types, so it only fits when they
        // agree.
        request_body = Some(match ref_name {
            Some(name) if body_media(&consumes) == body_media(&conversion.consumes) => {
                let escaped = name.replace('~', "~0").replace('/', "~1");
                json!({ "$ref": format!("#/components/requestBodies/{escaped}") })
            }
            _ => body_request(body, &consumes, at, conversion),
        });
    } else if !forms.is_empty() {
        request_body = Some(form_request(&forms, &consumes, at, conversion));
    }

    let mut out = Map::new();
    let mut emit_params = |out: &mut JsonObject| {
        if !params.is_empty() {
            out.insert("parameters".into(), Value::Array(std::mem::take(&mut params)));
        }
        if let Some(rb) = request_body.take() {
            out.insert("requestBody".into(), rb);
        }
    };
    for (key, val) in op {
        match key.as_str() {
            "parameters" => emit_params(&mut out),
            "responses" => set_member(&mut out, key, convert_responses(val, &produces, at, conversion)),
            "consumes" | "produces" | "schemes" => {}
            k if listed(OPERATION_KEYS, k) || k.starts_with("x-") => set_member(&mut out, k, val.clone()),
            k => conversion.note(at, format!("unknown operation key '{k}' dropped")),
        }
    }
    // Path-level parameters still need a home when the operation had no `parameters` key of its
    // own.
    emit_params(&mut out);
    Value::Object(out)
}

/// Builds a 3.0 schema from the type keys of a non-body parameter, header or items object.
fn simple_schema(src: &JsonObject, depth: usize, at: &str, conversion: &mut Conversion) -> Value {
    if depth > MAX_DEPTH {
        conversion.note(at, format!("items nested deeper than {MAX_DEPTH} levels dropped"));
        return json!({});
    }
    let mut s = Map::new();
    for key in TYPE_KEYS.split_whitespace() {
        let Some(v) = src.get(key) else { continue };
        if key != "items" {
            s.insert(key.into(), v.clone());
            continue;
        }
        let item_at = format!("{at}.items");
        match v {
            // Some 2.0 documents point query items at definitions; those are real schemas.
            Value::Object(o) if o.contains_key("$ref") || o.contains_key("properties") => {
                s.insert("items".into(), convert_schema(v, depth + 1, &item_at, conversion));
            }
            Value::Object(o) => {
                if let Some(collection_format) = o.get("collectionFormat") {
                    conversion.note(
                        &item_at,
                        format!("nested collectionFormat {collection_format} cannot be expressed; dropped"),
                    );
                }
                s.insert("items".into(), simple_schema(o, depth + 1, &item_at, conversion));
            }
            _ => conversion.note(&item_at, "items is not an object; dropped"),
        }
    }
    if let Some(Value::Bool(b)) = src.get("x-nullable") {
        s.insert("nullable".into(), Value::Bool(*b));
    }
    if get_str(&s, "type") == Some("file") {
        s.insert("type".into(), json!("string"));
        s.insert("format".into(), json!("binary"));
    }
    Value::Object(s)
}

/// Converts a query, header or path parameter; body and formData parameters never reach here.
fn convert_parameter(parameter: &JsonObject, at: &str, conversion: &mut Conversion) -> Value {
    if parameter.contains_key("$ref") {
        return Value::Object(parameter.clone());
    }
    let name = get_str(parameter, "name").unwrap_or("?");
    let loc = get_str(parameter, "in").unwrap_or_default();
    let here = format!("{at}: {loc} parameter '{name}'");
    let mut out = Map::new();
    for (key, val) in parameter {
        match key.as_str() {
            "name" | "in" | "description" | "required" | "deprecated" | "allowEmptyValue" => {}
            // These are already 3.0 shapes that some hand-written 2.0 documents use anyway.
            "example" | "examples" | "style" | "explode" | "allowReserved" | "content" => {}
            "collectionFormat" | "x-nullable" | "schema" => continue,
            k if listed(TYPE_KEYS, k) => continue,
            k if k.starts_with("x-") => {}
            k => {
                conversion.note(&here, format!("unknown key '{k}' dropped"));
                continue;
            }
        }
        out.insert(key.clone(), val.clone());
    }
    match loc {
        "query" | "header" | "path" => {}
        "" => conversion.note(&here, "no location given"),
        other => conversion.note(&here, format!("unknown location '{other}' kept as is")),
    }
    // OpenAPI 3 insists that path parameters are required, and 2.0 did too, so this only repairs
    // sloppy documents.
    if loc == "path" {
        out.insert("required".into(), Value::Bool(true));
    }
    let schema = match parameter.get("schema") {
        Some(s) => convert_schema(s, 0, &format!("{at}.{name}.schema"), conversion),
        None => simple_schema(parameter, 0, &format!("{at}.{name}"), conversion),
    };
    let is_array = schema.get("type").and_then(Value::as_str) == Some("array");
    if !out.contains_key("content") {
        out.insert("schema".into(), schema);
    }
    // 2.0 arrays default to csv while 3.0 query arrays default to exploded form, so the style is
    // always spelled out.
    if is_array && !out.contains_key("style") {
        let collection_format = get_str(parameter, "collectionFormat").unwrap_or("csv");
        let (style, explode) = match form_style(collection_format) {
            Some(style) if loc == "query" => style,
            _ if collection_format == "csv" => ("simple", false),
            _ => {
                conversion
                    .note(&here, format!("collectionFormat {collection_format} cannot be expressed; sent as csv"));
                (if loc == "query" { "form" } else { "simple" }, false)
            }
        };
        out.insert("style".into(), json!(style));
        out.insert("explode".into(), json!(explode));
    }
    Value::Object(out)
}

/// The 3.0 style and explode for a 2.0 collectionFormat in a query string or urlencoded form; tsv
/// has none.
fn form_style(collection_format: &str) -> Option<(&'static str, bool)> {
    Some(match collection_format {
        "csv" => ("form", false),
        "multi" => ("form", true),
        "ssv" => ("spaceDelimited", false),
        "pipes" => ("pipeDelimited", false),
        _ => return None,
    })
}

/// Turns a body parameter into a request body offered under every non-form media type the operation
/// consumes.
fn body_request(parameter: &JsonObject, consumes: &[String], at: &str, conversion: &mut Conversion) -> Value {
    let name = get_str(parameter, "name");
    let schema = match parameter.get("schema") {
        Some(s) => convert_schema(s, 0, &format!("{at}.body"), conversion),
        None => {
            conversion.note(at, format!("body parameter '{}' has no schema; any value accepted", name.unwrap_or("?")));
            json!({})
        }
    };
    let mut out = Map::new();
    if let Some(d) = parameter.get("description") {
        out.insert("description".into(), d.clone());
    }
    let content = schema_once(body_media(consumes), schema);
    out.insert("content".into(), Value::Object(content));
    if let Some(r) = parameter.get("required") {
        out.insert("required".into(), r.clone());
    }
    copy_extensions(parameter, &mut out);
    // 3.0 request bodies are nameless; this widely used extension keeps the 2.0 name for argument
    // naming.
    if let Some(name) = name {
        out.entry("x-codegen-request-body-name").or_insert_with(|| json!(name));
    }
    Value::Object(out)
}

/// A 2.0 body or response has one schema for all its media types. It is written once, under the
/// media type api2mcp sends or reads (`spec::preferred_media`); the others are listed without one.
/// Copied under each, Kubernetes' four media types per response made the upgraded document half as
/// large again as the one read (issue 17 item 10), for schemas nothing reads.
fn schema_once(media_types: Vec<String>, schema: Value) -> JsonObject {
    let preferred = media_types.iter().min_by_key(|m| crate::spec::media_rank(m)).cloned();
    let mut schema = Some(schema);
    let mut content = Map::with_capacity(media_types.len());
    for m in media_types {
        let media = match (Some(&m) == preferred.as_ref()).then(|| schema.take()).flatten() {
            Some(schema) => json!({ "schema": schema }),
            None => json!({}),
        };
        content.entry(m).or_insert(media);
    }
    content
}

/// Folds formData parameters into one object-shaped request body.
fn form_request(forms: &[JsonObject], consumes: &[String], at: &str, conversion: &mut Conversion) -> Value {
    let has_file = forms.iter().any(|f| get_str(f, "type") == Some("file"));
    let first_form = consumes.iter().find(|m| is_form_media(m)).map(String::as_str);
    let media = if has_file || first_form == Some(MULTIPART) { MULTIPART } else { URLENCODED };
    let (mut props, mut required, mut encoding) = (Map::new(), Vec::new(), Map::new());
    for f in forms {
        let Some(name) = get_str(f, "name") else {
            conversion.note(at, "formData parameter without a name skipped");
            continue;
        };
        let prop_at = format!("{at}.formData.{name}");
        let mut s = match f.get("schema") {
            Some(s) => convert_schema(s, 0, &prop_at, conversion),
            None => simple_schema(f, 0, &prop_at, conversion),
        };
        if let Value::Object(s) = &mut s {
            if let Some(d) = f.get("description") {
                s.insert("description".into(), d.clone());
            }
            copy_extensions(f, s);
        }
        if f.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(json!(name));
        }
        let collection_format = get_str(f, "collectionFormat");
        let is_array = s.get("type").and_then(Value::as_str) == Some("array");
        if is_array && media == URLENCODED {
            let collection_format = collection_format.unwrap_or("csv");
            let (style, explode) = form_style(collection_format).unwrap_or_else(|| {
                conversion
                    .note(&prop_at, format!("collectionFormat {collection_format} cannot be expressed; sent as csv"));
                ("form", false)
            });
            encoding.insert(name.to_owned(), json!({ "style": style, "explode": explode }));
        } else if let Some(collection_format) =
            collection_format.filter(|collection_format| is_array && *collection_format != "multi")
        {
            conversion.note(
                &prop_at,
                format!("multipart arrays are sent as repeated parts; collectionFormat {collection_format} dropped"),
            );
        }
        props.insert(name.to_owned(), s);
    }
    let mut schema = json!({ "type": "object", "properties": props });
    let mut out = json!({});
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
        out["required"] = json!(true);
    }
    let mut media_obj = json!({ "schema": schema });
    if !encoding.is_empty() {
        media_obj["encoding"] = Value::Object(encoding);
    }
    out["content"] = json!({ media: media_obj });
    out
}

fn convert_responses(val: &Value, produces: &[String], at: &str, conversion: &mut Conversion) -> Value {
    let mut out = Map::new();
    if let Some(map) = val.as_object() {
        for (code, r) in map.iter().filter(|(c, _)| c.starts_with("x-")) {
            out.insert(code.clone(), r.clone());
        }
    }
    let responses = objects(val, &format!("{at}.responses"), "response", conversion).into_iter();
    for (code, r) in responses.filter(|(c, _)| !c.starts_with("x-")) {
        let converted = match r.get("$ref").is_some_and(Value::is_string) {
            true => Value::Object(r.clone()),
            false => convert_response(r, produces, &format!("{at}.responses.{code}"), conversion),
        };
        out.insert(code.clone(), converted);
    }
    Value::Object(out)
}

fn convert_response(r: &JsonObject, produces: &[String], at: &str, conversion: &mut Conversion) -> Value {
    let mut out = Map::new();
    // 3.0 requires a description, and 2.0 did too, so an empty one only repairs sloppy documents.
    let description = r.get("description").cloned().unwrap_or_else(|| json!(""));
    out.insert("description".into(), description);
    let schema = r.get("schema").map(|s| convert_schema(s, 0, &format!("{at}.schema"), conversion));
    let examples = r.get("examples").and_then(Value::as_object);
    let mut content = match schema {
        // A media type with an example is one of the response's too.
        Some(schema) => {
            let mut media_types = produces.to_vec();
            media_types
                .extend(examples.into_iter().flat_map(|ex| ex.keys()).filter(|m| !produces.contains(m)).cloned());
            schema_once(media_types, schema)
        }
        None => Map::new(),
    };
    match r.get("examples") {
        Some(Value::Object(ex)) => {
            for (mime, example) in ex {
                content.entry(mime.clone()).or_insert_with(|| json!({}))["example"] = example.clone();
            }
        }
        Some(_) => conversion.note(at, "examples is not an object; dropped"),
        None => {}
    }
    if !content.is_empty() {
        out.insert("content".into(), Value::Object(content));
    }
    if let Some(headers) = r.get("headers") {
        let here = format!("{at}.headers");
        let hs: JsonObject = (objects(headers, &here, "header", conversion).into_iter())
            .map(|(name, h)| (name.clone(), convert_header(h, &format!("{here}.{name}"), conversion)))
            .collect();
        out.insert("headers".into(), Value::Object(hs));
    }
    for (k, v) in r {
        match k.as_str() {
            "description" | "schema" | "examples" | "headers" => {}
            k if k.starts_with("x-") => set_member(&mut out, k, v.clone()),
            k => conversion.note(at, format!("unknown response key '{k}' dropped")),
        }
    }
    Value::Object(out)
}

fn convert_header(h: &JsonObject, at: &str, conversion: &mut Conversion) -> Value {
    if h.contains_key("$ref") {
        return Value::Object(h.clone());
    }
    let mut out = Map::new();
    if let Some(d) = h.get("description") {
        out.insert("description".into(), d.clone());
    }
    out.insert("schema".into(), simple_schema(h, 0, at, conversion));
    copy_extensions(h, &mut out);
    // Response headers are always style simple in 3.0, which matches csv only.
    if let Some(collection_format) =
        get_str(h, "collectionFormat").filter(|collection_format| *collection_format != "csv")
    {
        conversion.note(at, format!("collectionFormat {collection_format} cannot be expressed; sent as csv"));
    }
    Value::Object(out)
}

/// Converts a 2.0 schema, recursing through every place a subschema can appear.
fn convert_schema(v: &Value, depth: usize, at: &str, conversion: &mut Conversion) -> Value {
    let Value::Object(src) = v else {
        return v.clone();
    };
    if depth > MAX_DEPTH {
        conversion.note(at, format!("schema nested deeper than {MAX_DEPTH} levels left unconverted"));
        return v.clone();
    }
    let mut out = Map::new();
    let mut is_file = false;
    let sub = |s: &Value, path: String, conversion: &mut Conversion| convert_schema(s, depth + 1, &path, conversion);
    for (key, val) in src {
        let converted = match (key.as_str(), val) {
            ("x-nullable", Value::Bool(b)) => {
                out.insert("nullable".into(), Value::Bool(*b));
                continue;
            }
            // Type lists and "null" are not 2.0 at all, but generators emit them; 3.0.3 says null
            // with nullable.
            ("type", Value::String(_) | Value::Array(_)) => {
                let names: Vec<&str> = match val {
                    Value::Array(types) => types.iter().filter_map(Value::as_str).collect(),
                    _ => val.as_str().into_iter().collect(),
                };
                if names.contains(&"null") {
                    set_member(&mut out, "nullable", json!(true));
                }
                match names.iter().filter(|t| **t != "null").collect::<Vec<_>>()[..] {
                    [] if names.is_empty() => continue,
                    [] => {
                        conversion.note(at, "type null has no openapi 3.0 equivalent; made nullable");
                        continue;
                    }
                    [&"file"] => {
                        is_file = true;
                        json!("string")
                    }
                    [one] => json!(one),
                    ref many => {
                        let msg = format!("types {many:?} cannot be expressed in openapi 3.0; dropped");
                        conversion.note(at, msg);
                        continue;
                    }
                }
            }
            ("discriminator", Value::String(name)) => json!({ "propertyName": name }),
            ("required", Value::Bool(_)) => {
                conversion.note(at, "boolean required inside a schema is invalid; dropped");
                continue;
            }
            ("properties", Value::Object(props)) => Value::Object(
                (props.iter()).map(|(n, s)| (n.clone(), sub(s, format!("{at}.properties.{n}"), conversion))).collect(),
            ),
            ("items" | "additionalProperties" | "not", Value::Object(_)) => sub(val, format!("{at}.{key}"), conversion),
            // Positional items are not valid in either version; generators use them for
            // alternatives, often pairing a type with {"type": "null"}, which 3.0 expresses as
            // nullable.
            ("items", Value::Array(list)) => {
                let is_null = |s: &&Value| {
                    let annotation = |k: &String| listed("type title description", k);
                    s.as_object().is_some_and(|o| get_str(o, "type") == Some("null") && o.keys().all(annotation))
                };
                let nullable = list.iter().any(|s| is_null(&s));
                let mut list: Vec<Value> = (list.iter().enumerate())
                    .filter(|(_, s)| !is_null(s))
                    .map(|(i, s)| sub(s, format!("{at}.items[{i}]"), conversion))
                    .collect();
                // A reference ignores its siblings in 3.0, so a nullable reference needs an allOf
                // wrapper.
                for alt in list.iter_mut().filter(|_| nullable) {
                    match alt.as_object_mut() {
                        Some(o) if o.contains_key("$ref") => *alt = json!({ "allOf": [alt.clone()], "nullable": true }),
                        Some(o) => set_member(o, "nullable", json!(true)),
                        None => {}
                    }
                }
                match list.len() {
                    0 => json!({}),
                    1 => list.remove(0),
                    _ => {
                        conversion.note(at, "positional items array read as anyOf");
                        json!({ "anyOf": list })
                    }
                }
            }
            ("allOf" | "oneOf" | "anyOf", Value::Array(list)) => Value::Array(
                (list.iter().enumerate()).map(|(i, s)| sub(s, format!("{at}.{key}[{i}]"), conversion)).collect(),
            ),
            _ => val.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if is_file {
        out.insert("format".into(), json!("binary"));
    }
    Value::Object(out)
}

fn convert_security_scheme(s: &JsonObject, at: &str, conversion: &mut Conversion) -> Value {
    let mut out = match get_str(s, "type") {
        Some("basic") => json!({ "type": "http", "scheme": "basic" }),
        Some("apiKey") => {
            if !s.contains_key("name") || !s.contains_key("in") {
                conversion.note(at, "apiKey scheme lacks its name or location");
            }
            let mut key = json!({ "type": "apiKey" });
            for (k, v) in s.iter().filter(|(k, _)| *k == "name" || *k == "in") {
                key[k] = v.clone();
            }
            key
        }
        Some("oauth2") => json!({ "type": "oauth2", "flows": oauth_flows(s, at, conversion) }),
        other => {
            let other = other.unwrap_or("(missing)");
            conversion.note(at, format!("unknown security type {other}; kept as is"));
            return Value::Object(s.clone());
        }
    };
    if let Value::Object(o) = &mut out {
        if let Some(d) = s.get("description") {
            set_member(o, "description", d.clone());
        }
        copy_extensions(s, o);
    }
    out
}

/// Maps the single 2.0 oauth2 flow onto the matching 3.0 flow object.
fn oauth_flows(s: &JsonObject, at: &str, conversion: &mut Conversion) -> Value {
    let (auth, token) = (s.get("authorizationUrl"), s.get("tokenUrl"));
    let flow = match get_str(s, "flow") {
        Some("implicit") => "implicit",
        Some("password") => "password",
        Some("application") => "clientCredentials",
        Some("accessCode") => "authorizationCode",
        other => {
            // Without a usable flow name, the URLs present are the best evidence of which flow is
            // meant.
            let guess = match (auth.is_some(), token.is_some()) {
                (true, true) => "authorizationCode",
                (true, false) => "implicit",
                _ => "clientCredentials",
            };
            let other = other.unwrap_or("(missing)");
            conversion.note(at, format!("oauth2 flow {other} not recognised; assumed {guess}"));
            guess
        }
    };
    let mut f = Map::new();
    let url = |u: Option<&Value>| u.cloned().unwrap_or_else(|| json!(""));
    if matches!(flow, "implicit" | "authorizationCode") {
        set_member(&mut f, "authorizationUrl", url(auth));
    }
    if flow != "implicit" {
        set_member(&mut f, "tokenUrl", url(token));
    }
    let scopes = s.get("scopes").filter(|v| v.is_object()).cloned();
    set_member(&mut f, "scopes", scopes.unwrap_or_else(|| json!({})));
    json!({ flow: f })
}

/// Maps a 2.0 local reference to its 3.0 location; other references, including external ones, are
/// left alone.
fn rewrite_ref(r: &str, body_names: &HashSet<String>) -> Option<String> {
    if let Some(rest) = r.strip_prefix("#/definitions/") {
        return Some(format!("#/components/schemas/{rest}"));
    }
    if let Some(rest) = r.strip_prefix("#/responses/") {
        return Some(format!("#/components/responses/{rest}"));
    }
    let rest = r.strip_prefix("#/parameters/")?;
    let name = rest.split('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~");
    let section = if body_names.contains(&name) { "requestBodies" } else { "parameters" };
    Some(format!("#/components/{section}/{rest}"))
}

/// Rewrites every `$ref` in the finished document, skipping example data and treating name maps as
/// names.
fn rewrite_refs(v: &mut Value, names: bool, depth: usize, bodies: &HashSet<String>, conversion: &mut Conversion) {
    // Conversion adds a handful of levels above each schema, hence the margin over the schema cap.
    if depth > MAX_DEPTH * 2 {
        conversion.note("", format!("document nested deeper than {} levels; deeper refs not rewritten", MAX_DEPTH * 2));
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if !names {
                    match (k.as_str(), &mut *child) {
                        ("$ref", Value::String(s)) => {
                            if let Some(new) = rewrite_ref(s, bodies) {
                                *s = new;
                            }
                            continue;
                        }
                        (k, _) if listed(DATA_KEYS, k) => continue,
                        _ => {}
                    }
                }
                let child_names = !names && listed(NAME_MAP_KEYS, k);
                rewrite_refs(child, child_names, depth + 1, bodies, conversion);
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, false, depth + 1, bodies, conversion);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wraps paths in a minimal 2.0 document so each test only spells out what it exercises.
    fn doc(extra: Value) -> Value {
        let mut d = json!({ "swagger": "2.0", "info": { "title": "t", "version": "1" }, "paths": {} });
        if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
            d.extend(extra.clone());
        }
        d
    }

    fn op(paths: Value) -> Value {
        let up = upgrade(doc(json!({ "paths": paths })));
        assert!(up.notes.is_empty(), "unexpected notes: {:?}", up.notes);
        up.document
    }

    fn count_ops(d: &Value) -> usize {
        let Some(paths) = d["paths"].as_object() else {
            return 0;
        };
        let ops = paths.values().filter_map(Value::as_object).flat_map(|i| i.keys());
        ops.filter(|k| listed(METHODS, k)).count()
    }

    /// Collects every `$ref` string value, to check that none still points into 2.0 sections.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    match (k.as_str(), c) {
                        ("$ref", Value::String(s)) => out.push(s.clone()),
                        _ => refs(c, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
            _ => {}
        }
    }

    #[test]
    fn petstore_shell_and_servers() {
        let up = upgrade(doc(json!({
            "host": "petstore.swagger.io", "basePath": "/v2", "schemes": ["http", "https"],
            "tags": [{ "name": "pet" }], "externalDocs": { "url": "http://swagger.io" },
            "x-logo": { "url": "l.png" }, "consumes": ["application/json"],
        })));
        let d = &up.document;
        let keys: Vec<&String> = d.as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys[0], "openapi");
        assert_eq!(d["openapi"], "3.0.3");
        assert!(d.get("swagger").is_none() && d.get("host").is_none() && d.get("consumes").is_none());
        assert_eq!(d["info"]["title"], "t");
        assert_eq!(d["tags"][0]["name"], "pet");
        assert_eq!(d["externalDocs"]["url"], "http://swagger.io");
        assert_eq!(d["x-logo"]["url"], "l.png");
        assert_eq!(
            d["servers"],
            json!([{ "url": "http://petstore.swagger.io/v2" }, { "url": "https://petstore.swagger.io/v2" }])
        );
        assert!(up.notes.is_empty(), "{:?}", up.notes);
    }

    #[test]
    fn server_variants() {
        let servers = |extra: Value| upgrade(doc(extra)).document["servers"].clone();
        assert_eq!(servers(json!({})), json!([{ "url": "/" }]));
        assert_eq!(servers(json!({ "basePath": "/api/" })), json!([{ "url": "/api" }]));
        assert_eq!(servers(json!({ "basePath": "/" })), json!([{ "url": "/" }]));
        assert_eq!(servers(json!({ "host": "a.io" })), json!([{ "url": "https://a.io" }]));
        assert_eq!(servers(json!({ "host": "a.io/", "basePath": "/" })), json!([{ "url": "https://a.io" }]));
        assert_eq!(servers(json!({ "host": "a.io", "basePath": "v1" })), json!([{ "url": "https://a.io/v1" }]));
        assert_eq!(servers(json!({ "host": "a.io", "schemes": [] })), json!([{ "url": "https://a.io" }]));
        let up = upgrade(doc(json!({ "host": 5, "basePath": ["x"] })));
        assert_eq!(up.document["servers"], json!([{ "url": "/" }]));
        assert_eq!(up.notes.len(), 2);
    }

    #[test]
    fn body_parameter_becomes_request_body() {
        let d = op(json!({ "/pets": { "post": {
            "consumes": ["application/json", "application/xml", "application/x-www-form-urlencoded"],
            "parameters": [{ "in": "body", "name": "pet", "description": "the pet", "required": true,
                "schema": { "$ref": "#/definitions/Pet" }, "x-extra": 1 }],
            "responses": { "200": { "description": "ok" } } } } }));
        let post = &d["paths"]["/pets"]["post"];
        assert!(post.get("parameters").is_none());
        let rb = &post["requestBody"];
        assert_eq!(rb["description"], "the pet");
        assert_eq!(rb["required"], true);
        assert_eq!(rb["x-extra"], 1);
        assert_eq!(rb["x-codegen-request-body-name"], "pet");
        let content = rb["content"].as_object().cloned().unwrap_or_default();
        assert_eq!(content.keys().collect::<Vec<_>>(), ["application/json", "application/xml"]);
        // One schema for every media type: written once, under the one api2mcp sends.
        assert_eq!(content["application/json"]["schema"]["$ref"], "#/components/schemas/Pet");
        assert_eq!(content["application/xml"], json!({}));
        assert!(post["responses"]["200"].get("content").is_none());
    }

    #[test]
    fn body_with_only_form_consumes_uses_json() {
        let d = op(json!({ "/a": { "put": {
            "consumes": ["multipart/form-data"],
            "parameters": [{ "in": "body", "name": "b", "schema": { "type": "object" } }],
            "responses": {} } } }));
        let content = &d["paths"]["/a"]["put"]["requestBody"]["content"];
        assert_eq!(content, &json!({ "application/json": { "schema": { "type": "object" } } }));
    }

    #[test]
    fn form_data_with_file_is_multipart() {
        let d = op(json!({ "/pets/{id}/upload": { "post": {
            "consumes": ["application/x-www-form-urlencoded"],
            "parameters": [
                { "in": "path", "name": "id", "type": "integer", "format": "int64", "required": true },
                { "in": "formData", "name": "meta", "type": "string", "description": "extra data" },
                { "in": "formData", "name": "file", "type": "file", "required": true, "x-note": "n" }],
            "responses": { "200": { "description": "ok" } } } } }));
        let post = &d["paths"]["/pets/{id}/upload"]["post"];
        assert_eq!(post["parameters"].as_array().map(Vec::len), Some(1));
        assert_eq!(post["parameters"][0]["schema"], json!({ "type": "integer", "format": "int64" }));
        let rb = &post["requestBody"];
        assert_eq!(rb["required"], true);
        let schema = &rb["content"]["multipart/form-data"]["schema"];
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], json!(["file"]));
        assert_eq!(schema["properties"]["file"], json!({ "type": "string", "format": "binary", "x-note": "n" }));
        assert_eq!(schema["properties"]["meta"], json!({ "type": "string", "description": "extra data" }));
        assert_eq!(rb["content"].as_object().map(Map::len), Some(1));
    }

    #[test]
    fn form_data_urlencoded_and_consumes_order() {
        let form = |consumes: Value| {
            let d = op(json!({ "/f": { "post": { "consumes": consumes,
                "parameters": [
                    { "in": "formData", "name": "name", "type": "string", "required": false },
                    { "in": "formData", "name": "tags", "type": "array", "items": { "type": "string" } }],
                "responses": {} } } }));
            d["paths"]["/f"]["post"]["requestBody"].clone()
        };
        let rb = form(json!(["application/x-www-form-urlencoded", "multipart/form-data"]));
        assert!(rb.get("required").is_none());
        let media = &rb["content"]["application/x-www-form-urlencoded"];
        assert!(media["schema"].get("required").is_none());
        assert_eq!(media["schema"]["properties"]["tags"]["items"]["type"], "string");
        assert_eq!(media["encoding"]["tags"], json!({ "style": "form", "explode": false }));
        let rb = form(json!(["multipart/form-data", "application/x-www-form-urlencoded"]));
        assert!(rb["content"]["multipart/form-data"].is_object());
        let rb = form(json!(["application/json"]));
        assert!(rb["content"]["application/x-www-form-urlencoded"].is_object());
    }

    #[test]
    fn collection_formats() {
        let param = |loc: &str, collection_format: Option<&str>| {
            let mut p = json!({ "in": loc, "name": "v", "type": "array", "items": { "type": "string" } });
            if let Some(collection_format) = collection_format {
                p["collectionFormat"] = json!(collection_format);
            }
            let up = upgrade(doc(json!({ "paths": { "/{v}": { "get": { "parameters": [p], "responses": {} } } } })));
            let p = up.document["paths"]["/{v}"]["get"]["parameters"][0].clone();
            (p["style"].clone(), p["explode"].clone(), up.notes.len())
        };
        let (f, t) = (json!(false), json!(true));
        assert_eq!(param("query", None), (json!("form"), f.clone(), 0));
        assert_eq!(param("query", Some("csv")), (json!("form"), f.clone(), 0));
        assert_eq!(param("query", Some("ssv")), (json!("spaceDelimited"), f.clone(), 0));
        assert_eq!(param("query", Some("pipes")), (json!("pipeDelimited"), f.clone(), 0));
        assert_eq!(param("query", Some("multi")), (json!("form"), t, 0));
        assert_eq!(param("query", Some("tsv")), (json!("form"), f.clone(), 1));
        assert_eq!(param("path", None), (json!("simple"), f.clone(), 0));
        assert_eq!(param("header", Some("csv")), (json!("simple"), f.clone(), 0));
        assert_eq!(param("header", Some("pipes")), (json!("simple"), f.clone(), 1));
        assert_eq!(param("path", Some("multi")), (json!("simple"), f, 1));
    }

    #[test]
    fn parameter_type_keys_move_into_schema() {
        let d = op(json!({ "/q": { "get": { "parameters": [{
            "in": "query", "name": "limit", "type": "integer", "format": "int32", "minimum": 1,
            "maximum": 100, "default": 20, "description": "max", "required": false,
            "allowEmptyValue": true, "x-nullable": true, "x-hint": "h" }], "responses": {} } } }));
        let p = &d["paths"]["/q"]["get"]["parameters"][0];
        assert_eq!(p["name"], "limit");
        assert_eq!(p["in"], "query");
        assert_eq!(p["description"], "max");
        assert_eq!(p["allowEmptyValue"], true);
        assert_eq!(p["x-hint"], "h");
        for gone in ["type", "format", "minimum", "default", "x-nullable", "style"] {
            assert!(p.get(gone).is_none(), "{gone} left on parameter");
        }
        let expected = json!({ "type": "integer", "format": "int32", "default": 20, "minimum": 1,
            "maximum": 100, "nullable": true });
        assert_eq!(p["schema"], expected);
    }

    #[test]
    fn nested_array_items_and_file_outside_form() {
        let up = upgrade(doc(json!({ "paths": { "/n": { "get": { "parameters": [
            { "in": "query", "name": "grid", "type": "array", "collectionFormat": "pipes",
              "items": { "type": "array", "collectionFormat": "csv", "items": { "type": "integer", "maximum": 9 } } },
            { "in": "header", "name": "blob", "type": "file" }], "responses": {} } } } })));
        let ps = &up.document["paths"]["/n"]["get"]["parameters"];
        let expected =
            json!({ "type": "array", "items": { "type": "array", "items": { "type": "integer", "maximum": 9 } } });
        assert_eq!(ps[0]["schema"], expected);
        assert_eq!(ps[0]["style"], "pipeDelimited");
        assert_eq!(ps[1]["schema"], json!({ "type": "string", "format": "binary" }));
        assert_eq!(up.notes.len(), 1, "{:?}", up.notes);
        assert!(up.notes[0].contains("nested collectionFormat"));
    }

    #[test]
    fn path_level_parameters_merge_and_override() {
        let d = op(json!({ "/pets/{id}": {
            "parameters": [
                { "in": "path", "name": "id", "type": "string", "required": true },
                { "in": "query", "name": "verbose", "type": "boolean" }],
            "get": { "parameters": [{ "in": "query", "name": "verbose", "type": "integer" }], "responses": {} },
            "delete": { "responses": {} } } }));
        let item = &d["paths"]["/pets/{id}"];
        assert!(item.get("parameters").is_none());
        let get = item["get"]["parameters"].as_array().cloned().unwrap_or_default();
        assert_eq!(get.len(), 2);
        assert_eq!(get[0]["name"], "id");
        assert_eq!(get[1]["schema"]["type"], "integer");
        let delete = item["delete"]["parameters"].as_array().cloned().unwrap_or_default();
        assert_eq!(delete.len(), 2);
        assert_eq!(delete[1]["schema"]["type"], "boolean");
    }

    #[test]
    fn referenced_path_level_parameter_overridden_by_inline_one() {
        let d = upgrade(doc(json!({
            "parameters": { "pretty": { "in": "query", "name": "pretty", "type": "string" } },
            "paths": { "/x": { "parameters": [{ "$ref": "#/parameters/pretty" }],
                "get": { "parameters": [{ "in": "query", "name": "pretty", "type": "boolean" }], "responses": {} },
                "put": { "responses": {} } } } })))
        .document;
        let get = &d["paths"]["/x"]["get"]["parameters"];
        assert_eq!(get.as_array().map(Vec::len), Some(1));
        assert_eq!(get[0]["schema"]["type"], "boolean");
        assert_eq!(d["paths"]["/x"]["put"]["parameters"][0]["$ref"], "#/components/parameters/pretty");
        assert_eq!(d["components"]["parameters"]["pretty"]["schema"]["type"], "string");
    }

    #[test]
    fn refs_rewritten_across_sections() {
        let up = upgrade(doc(json!({
            "definitions": {
                "Pet": { "type": "object", "properties": {
                    "tag": { "$ref": "#/definitions/Tag" },
                    "default": { "$ref": "#/definitions/Tag" },
                    "$ref": { "type": "string" },
                    "other": { "$ref": "other.json#/definitions/Tag" } },
                    "example": { "$ref": "#/definitions/NotARef" } },
                "Tag": { "type": "string" } },
            "parameters": {
                "limit": { "in": "query", "name": "limit", "type": "integer" },
                "petBody": { "in": "body", "name": "pet", "required": true, "schema": { "$ref": "#/definitions/Pet" } } },
            "responses": { "NotFound": { "description": "missing", "schema": { "$ref": "#/definitions/Tag" } } },
            "paths": { "/pets": { "post": {
                "parameters": [{ "$ref": "#/parameters/limit" }, { "$ref": "#/parameters/petBody" }],
                "responses": { "404": { "$ref": "#/responses/NotFound" },
                    "default": { "description": "d", "schema": { "$ref": "#/definitions/Pet" } } } } } } })));
        assert!(up.notes.is_empty(), "{:?}", up.notes);
        let d = &up.document;
        let pet = &d["components"]["schemas"]["Pet"];
        assert_eq!(pet["properties"]["tag"]["$ref"], "#/components/schemas/Tag");
        assert_eq!(pet["properties"]["default"]["$ref"], "#/components/schemas/Tag");
        assert_eq!(pet["properties"]["$ref"]["type"], "string");
        assert_eq!(pet["properties"]["other"]["$ref"], "other.json#/definitions/Tag");
        assert_eq!(pet["example"]["$ref"], "#/definitions/NotARef");
        let post = &d["paths"]["/pets"]["post"];
        assert_eq!(post["parameters"], json!([{ "$ref": "#/components/parameters/limit" }]));
        assert_eq!(post["requestBody"], json!({ "$ref": "#/components/requestBodies/petBody" }));
        assert_eq!(post["responses"]["404"]["$ref"], "#/components/responses/NotFound");
        let default = &post["responses"]["default"]["content"]["application/json"]["schema"];
        assert_eq!(default["$ref"], "#/components/schemas/Pet");
        let body = &d["components"]["requestBodies"]["petBody"];
        assert_eq!(body["required"], true);
        assert_eq!(body["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Pet");
        assert!(d["components"]["parameters"].get("petBody").is_none());
        let nf = &d["components"]["responses"]["NotFound"];
        assert_eq!(nf["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/Tag");
    }

    #[test]
    fn referenced_body_and_form_parameters_with_local_media_types() {
        let d = upgrade(doc(json!({
            "parameters": {
                "body": { "in": "body", "name": "body", "schema": { "type": "object" } },
                "upload": { "in": "formData", "name": "upload", "type": "file" } },
            "paths": {
                "/patch": { "patch": { "consumes": ["application/merge-patch+json"],
                    "parameters": [{ "$ref": "#/parameters/body" }], "responses": {} } },
                "/up": { "post": { "parameters": [{ "$ref": "#/parameters/upload" }], "responses": {} } } } })))
        .document;
        let patch = &d["paths"]["/patch"]["patch"]["requestBody"];
        assert_eq!(patch["content"]["application/merge-patch+json"]["schema"]["type"], "object");
        let up = &d["paths"]["/up"]["post"];
        assert!(up.get("parameters").is_none());
        let file = &up["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["upload"];
        assert_eq!(file["format"], "binary");
        assert!(d["components"].get("parameters").is_none());
    }

    /// The schema goes under the media type api2mcp reads, even when only an example names it.
    #[test]
    fn a_schema_is_written_once_under_the_preferred_media_type() {
        let d = op(json!({ "/r": { "put": {
            "consumes": ["application/yaml", "application/vnd.kubernetes.protobuf", "application/merge-patch+json"],
            "produces": ["application/xml"],
            "parameters": [{ "in": "body", "name": "b", "schema": { "type": "object" } }],
            "responses": { "200": { "description": "ok", "schema": { "type": "object" },
                "examples": { "application/json": { "a": 1 } } } } } } }));
        let put = &d["paths"]["/r"]["put"];
        let body = &put["requestBody"]["content"];
        assert_eq!(body["application/merge-patch+json"], json!({ "schema": { "type": "object" } }));
        assert_eq!(
            (body["application/yaml"].clone(), body["application/vnd.kubernetes.protobuf"].clone()),
            (json!({}), json!({}))
        );
        let ok = &put["responses"]["200"]["content"];
        assert_eq!(
            ok.as_object().map(|c| c.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["application/xml".to_string(), "application/json".to_string()])
        );
        assert_eq!(ok["application/json"], json!({ "schema": { "type": "object" }, "example": { "a": 1 } }));
        assert_eq!(ok["application/xml"], json!({}));
    }

    #[test]
    fn responses_headers_examples_and_codes() {
        let d = op(json!({ "/r": { "get": { "produces": ["application/json", "application/xml"],
            "responses": {
                "200": { "description": "ok", "schema": { "type": "array", "items": { "type": "string" } },
                    "headers": { "X-Rate-Limit": { "type": "integer", "format": "int32", "description": "calls" } },
                    "examples": { "application/json": ["a"], "text/plain": "a" }, "x-r": 1 },
                "default": { "description": "error" } } } } }));
        let rs = &d["paths"]["/r"]["get"]["responses"];
        let ok = &rs["200"];
        assert_eq!(ok["content"]["application/json"]["schema"]["items"]["type"], "string");
        assert_eq!(ok["content"]["application/json"]["example"], json!(["a"]));
        assert_eq!(ok["content"]["application/xml"], json!({}));
        assert_eq!(ok["content"]["text/plain"], json!({ "example": "a" }));
        assert_eq!(ok["x-r"], 1);
        let header = &ok["headers"]["X-Rate-Limit"];
        assert_eq!(header, &json!({ "description": "calls", "schema": { "type": "integer", "format": "int32" } }));
        assert_eq!(rs["default"], json!({ "description": "error" }));
    }

    #[test]
    fn global_produces_and_empty_produces() {
        let d = op(json!({ "/p": {
            "get": { "responses": { "200": { "description": "ok", "schema": { "type": "string" } } } },
            "put": { "produces": [], "responses": { "200": { "description": "ok", "schema": { "type": "string" } } } } } }));
        assert!(d["paths"]["/p"]["get"]["responses"]["200"]["content"]["application/json"].is_object());
        assert!(d["paths"]["/p"]["put"]["responses"]["200"]["content"]["application/json"].is_object());
        let d = upgrade(doc(json!({ "produces": ["text/csv"], "paths": { "/p": { "get": {
            "responses": { "200": { "description": "ok", "schema": { "type": "string" } } } } } } })))
        .document;
        assert!(d["paths"]["/p"]["get"]["responses"]["200"]["content"]["text/csv"].is_object());
    }

    #[test]
    fn schema_keywords() {
        let up = upgrade(doc(json!({ "definitions": {
            "Animal": { "type": "object", "discriminator": "kind", "required": ["kind"],
                "properties": { "kind": { "type": "string", "readOnly": true, "example": "cat" },
                    "nick": { "type": "string", "x-nullable": true },
                    "photo": { "type": "file" },
                    "tags": { "type": "array", "items": { "type": "string", "x-nullable": true } },
                    "meta": { "type": "object", "additionalProperties": { "type": "integer", "x-nullable": true } },
                    "maybe": { "type": ["string", "null"] } },
                "x-kind": "k" },
            "Cat": { "allOf": [{ "$ref": "#/definitions/Animal" }, { "properties": { "lives": { "x-nullable": true } } }] },
            "Not": { "not": { "type": "file" } } } })));
        assert!(up.notes.is_empty(), "{:?}", up.notes);
        let s = &up.document["components"]["schemas"];
        let a = &s["Animal"];
        assert_eq!(a["discriminator"], json!({ "propertyName": "kind" }));
        assert_eq!(a["required"], json!(["kind"]));
        assert_eq!(a["x-kind"], "k");
        assert_eq!(a["properties"]["kind"], json!({ "type": "string", "readOnly": true, "example": "cat" }));
        assert_eq!(a["properties"]["nick"], json!({ "type": "string", "nullable": true }));
        assert_eq!(a["properties"]["photo"], json!({ "type": "string", "format": "binary" }));
        assert_eq!(a["properties"]["tags"]["items"]["nullable"], true);
        assert_eq!(a["properties"]["meta"]["additionalProperties"]["nullable"], true);
        assert_eq!(a["properties"]["maybe"], json!({ "nullable": true, "type": "string" }));
        assert_eq!(s["Cat"]["allOf"][0]["$ref"], "#/components/schemas/Animal");
        assert_eq!(s["Cat"]["allOf"][1]["properties"]["lives"], json!({ "nullable": true }));
        assert_eq!(s["Not"]["not"]["format"], "binary");
    }

    #[test]
    fn generator_quirks_in_schemas() {
        let up = upgrade(doc(json!({ "definitions": {
            "Opt": { "items": [{ "type": "integer" }, { "type": "null", "title": "nil" }] },
            "OptRef": { "items": [{ "$ref": "#/definitions/Opt" }, { "type": "null" }] },
            "Either": { "type": "array", "items": [{ "type": "string" }, { "type": "integer" }] },
            "Nil": { "type": "null" },
            "Many": { "type": ["object", "array"], "description": "d" } } })));
        let s = &up.document["components"]["schemas"];
        assert_eq!(s["Opt"]["items"], json!({ "type": "integer", "nullable": true }));
        let opt_ref = json!({ "allOf": [{ "$ref": "#/components/schemas/Opt" }], "nullable": true });
        assert_eq!(s["OptRef"]["items"], opt_ref);
        let either = json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }] });
        assert_eq!(s["Either"]["items"], either);
        assert_eq!(s["Nil"], json!({ "nullable": true }));
        assert_eq!(s["Many"], json!({ "description": "d" }));
        let expected = [
            "definitions.Either: positional items array read as anyOf",
            "definitions.Nil: type null has no openapi 3.0 equivalent; made nullable",
            "definitions.Many: types [\"object\", \"array\"] cannot be expressed in openapi 3.0; dropped",
        ];
        assert_eq!(up.notes, expected);
    }

    #[test]
    fn extensions_are_not_converted_but_x_headers_are() {
        let d = op(json!({ "x-paths-ext": { "get": { "k": 1 } }, "/e": { "x-item": { "a": 1 }, "get": {
            "responses": { "x-resp": { "schema": 1 }, "200": { "description": "ok",
                "headers": { "x-next": { "type": "string" } } } } } } }));
        assert_eq!(d["paths"]["x-paths-ext"], json!({ "get": { "k": 1 } }));
        assert_eq!(d["paths"]["/e"]["x-item"], json!({ "a": 1 }));
        let responses = &d["paths"]["/e"]["get"]["responses"];
        assert_eq!(responses["x-resp"], json!({ "schema": 1 }));
        assert_eq!(responses["200"]["headers"]["x-next"], json!({ "schema": { "type": "string" } }));
    }

    #[test]
    fn security_schemes() {
        let up = upgrade(doc(json!({ "securityDefinitions": {
            "basic": { "type": "basic", "description": "b" },
            "key": { "type": "apiKey", "name": "api_key", "in": "header", "x-k": 1 },
            "imp": { "type": "oauth2", "flow": "implicit", "authorizationUrl": "https://a/auth", "scopes": { "r": "read" } },
            "pw": { "type": "oauth2", "flow": "password", "tokenUrl": "https://a/token", "scopes": {} },
            "app": { "type": "oauth2", "flow": "application", "tokenUrl": "https://a/token" },
            "code": { "type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://a/auth",
                "tokenUrl": "https://a/token", "scopes": { "w": "write" } } },
            "security": [{ "key": [] }] })));
        assert!(up.notes.is_empty(), "{:?}", up.notes);
        let s = &up.document["components"]["securitySchemes"];
        assert_eq!(s["basic"], json!({ "type": "http", "scheme": "basic", "description": "b" }));
        assert_eq!(s["key"], json!({ "type": "apiKey", "name": "api_key", "in": "header", "x-k": 1 }));
        let imp = json!({ "implicit": { "authorizationUrl": "https://a/auth", "scopes": { "r": "read" } } });
        assert_eq!(s["imp"], json!({ "type": "oauth2", "flows": imp }));
        assert_eq!(s["pw"]["flows"], json!({ "password": { "tokenUrl": "https://a/token", "scopes": {} } }));
        assert_eq!(s["app"]["flows"], json!({ "clientCredentials": { "tokenUrl": "https://a/token", "scopes": {} } }));
        let code = json!({ "authorizationCode": { "authorizationUrl": "https://a/auth",
            "tokenUrl": "https://a/token", "scopes": { "w": "write" } } });
        assert_eq!(s["code"]["flows"], code);
        assert_eq!(up.document["security"], json!([{ "key": [] }]));
    }

    #[test]
    fn lossy_conversions_are_noted() {
        let up = upgrade(doc(json!({
            "securityDefinitions": { "odd": { "type": "oauth2", "tokenUrl": "t" }, "weird": { "type": "magic" } },
            "paths": { "/x": { "post": {
                "parameters": [
                    { "in": "body", "name": "a", "schema": {} }, { "in": "body", "name": "b", "schema": {} },
                    { "in": "formData", "name": "f", "type": "string" },
                    { "$ref": "#/parameters/missing" }],
                "responses": {}, "bogus": 1 } } } })));
        let joined = up.notes.join("\n");
        assert!(joined.contains("paths./x.post: extra body parameter 'b' dropped"), "{joined}");
        assert!(joined.contains("paths./x.post: formData parameters dropped"), "{joined}");
        assert!(joined.contains("'#/parameters/missing' does not resolve"), "{joined}");
        assert!(joined.contains("unknown operation key 'bogus' dropped"), "{joined}");
        assert!(joined.contains("securityDefinitions.odd: oauth2 flow (missing) not recognised"), "{joined}");
        assert!(joined.contains("securityDefinitions.weird: unknown security type magic"), "{joined}");
        assert_eq!(up.document["components"]["securitySchemes"]["odd"]["flows"]["clientCredentials"]["tokenUrl"], "t");
        for n in &up.notes {
            assert!(!n.ends_with('.'), "{n}");
            let message = n.rsplit(": ").next().unwrap_or_default();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{n}");
        }
    }

    #[test]
    fn garbage_shapes_do_not_panic() {
        let cases = [
            json!(null),
            json!([1, 2]),
            json!({ "swagger": "2.0", "paths": 3 }),
            json!({ "swagger": 2, "paths": { "/a": 5, "/b": { "get": "nope", "post": { "parameters": "x" } } } }),
            json!({ "paths": { "/a": { "parameters": ["str", 4, { "$ref": 7 }],
                "get": { "parameters": ["p", null, { "in": 3 }, { "in": "formData" }, { "in": "body" }],
                    "responses": { "200": "ok", "201": { "schema": 4, "headers": 3, "examples": [] },
                        "202": { "headers": { "h": 1, "g": { "items": 5, "type": "array" } } } },
                    "consumes": 9, "produces": { "a": 1 } },
                "put": { "responses": [] } } },
                "definitions": [1], "parameters": "x", "responses": { "a": 1 }, "securityDefinitions": { "s": [] },
                "host": {}, "schemes": "http" }),
            json!({ "definitions": { "A": { "properties": 3, "items": "x", "allOf": {}, "type": 9, "x-nullable": "y",
                "discriminator": 4, "required": true, "additionalProperties": false } },
                "securityDefinitions": { "o": { "type": "oauth2", "flow": 3, "scopes": [] }, "k": { "type": "apiKey" } } }),
        ];
        for case in cases {
            let up = upgrade(case.clone());
            if case.is_object() {
                assert_eq!(up.document["openapi"], "3.0.3");
                assert!(up.document["paths"].is_object());
                assert!(!up.notes.is_empty(), "expected notes for {case}");
            }
        }
        let bad = upgrade(json!({ "paths": { "/b": { "get": "nope", "post": { "responses": {} } } } }));
        assert_eq!(count_ops(&bad.document), 1);
    }

    #[test]
    fn deep_schemas_are_capped() {
        let mut s = json!({ "type": "string" });
        for _ in 0..300 {
            s = json!({ "type": "array", "items": s });
        }
        let up = upgrade(doc(json!({ "definitions": { "Deep": s } })));
        assert!(up.notes.iter().any(|n| n.contains("deeper than 256")), "{:?}", up.notes);
        let mut p = json!({ "type": "string" });
        for _ in 0..300 {
            p = json!({ "type": "array", "items": p });
        }
        p["in"] = json!("query");
        p["name"] = json!("deep");
        let up = upgrade(doc(json!({ "parameters": { "deep": p } })));
        assert!(up.notes.iter().any(|n| n.contains("deeper than 256")), "{:?}", up.notes);
    }

    /// Real specs must keep every operation and lose every 2.0 reference and
    /// parameter location.
    #[test]
    fn real_specs_if_present() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/specs"));
        for name in ["swagger-petstore.v2.json", "kubernetes.v2.json", "slack-web.v2.json"] {
            let text = std::fs::read_to_string(dir.join(name)).expect("../shared/specs beside the checkout");
            let original: Value = serde_json::from_str(&text).expect("the corpus documents are JSON");
            let up = upgrade(original.clone());
            let d = &up.document;
            assert_eq!(count_ops(d), count_ops(&original), "{name}");
            assert!(count_ops(d) > 0, "{name}");
            let mut all = Vec::new();
            refs(d, &mut all);
            let stale = ["#/definitions/", "#/parameters/", "#/responses/"];
            assert!(!all.iter().any(|r| stale.iter().any(|s| r.starts_with(s))), "{name}");
            for item in d["paths"].as_object().into_iter().flat_map(|p| p.values()) {
                assert!(item.get("parameters").is_none(), "{name}");
                for o in item.as_object().into_iter().flat_map(|i| i.values()) {
                    for p in o["parameters"].as_array().into_iter().flatten() {
                        assert!(!matches!(p["in"].as_str(), Some("body" | "formData")), "{name}");
                    }
                }
            }
            for r in all.iter().filter(|r| r.starts_with("#/components/")) {
                let pointer = r.trim_start_matches('#');
                assert!(d.pointer(pointer).is_some(), "{name}: dangling {r}");
            }
            // Slack's spec is not valid 2.0 in places; the others convert without loss.
            eprintln!("{name}: {:#?}", up.notes);
            assert!(name.starts_with("slack") || up.notes.is_empty(), "{name}: {:?}", up.notes);
        }
    }
}
