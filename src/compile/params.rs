//! Builds a tool's `inputSchema`: one flat object holding the operation's path, query, header and
//! cookie parameters and its request body (an object body's properties flattened into the arguments,
//! any other body as one `body` argument). Each argument remembers where it goes on the wire in an
//! [`ArgumentBinding`], so name collisions between locations can be resolved by renaming.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::names::argument_name;
use super::schema::SchemaCompiler;
use crate::catalogue::{ArgumentBinding, ArgumentLocation, ParameterStyle, PropertyEncoding, RequestBody};
use crate::spec::{DocId, Operation, Spec};
use crate::text;

pub struct BuiltInput {
    pub schema: Map<String, Value>,
    pub bindings: Vec<ArgumentBinding>,
    pub body: Option<RequestBody>,
    /// Problems worth a warning (e.g. a parameter that could not be read), in the user's terms.
    pub problems: Vec<String>,
    /// Fixed values of declared `Accept` / `Content-Type` header parameters (const, default or
    /// first enum value): the API's real requirement, although OpenAPI says to ignore them.
    pub declared_accept: Option<String>,
    pub declared_content_type: Option<String>,
    /// Why the operation's request body cannot be built from arguments (the tool is left out).
    pub unsupported_body: Option<String>,
    /// Header parameters left out because their names are reserved (`catalogue::RESERVED_HEADERS`).
    pub reserved_headers: Vec<String>,
}

struct Parameter<'a> {
    doc: DocId,
    map: &'a Map<String, Value>,
    name: &'a str,
    location: ArgumentLocation,
}

/// Headers that OpenAPI says are controlled by the transport, not by parameters: never tool
/// arguments. A declared `Accept` or `Content-Type` with a fixed value is still sent (see
/// [`declared_value`]); `Authorization` comes from the upstream's credentials (it is also in the
/// reserved list, but is skipped silently here, as OpenAPI says).
const IGNORED_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];

/// Header parameters met while collecting parameters whose declared value is sent as is.
#[derive(Default)]
struct DeclaredHeaders {
    accept: Option<String>,
    content_type: Option<String>,
}

pub fn build_input(
    spec: &Spec,
    operation: &Operation<'_>,
    compiler: &mut SchemaCompiler<'_>,
    description_words: usize,
) -> BuiltInput {
    let mut problems = Vec::new();
    let mut declared = DeclaredHeaders::default();
    let mut reserved_headers = Vec::new();
    let parameters = collect_parameters(spec, operation, compiler, &mut problems, &mut declared, &mut reserved_headers);
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut bindings = Vec::new();
    let mut used: HashSet<String> = HashSet::new();

    // Path parameters first: they are always required and name the resource.
    let mut ordered: Vec<&Parameter<'_>> = parameters.iter().filter(|p| p.location == ArgumentLocation::Path).collect();
    ordered.extend(parameters.iter().filter(|p| p.location != ArgumentLocation::Path));
    for parameter in ordered {
        let mut schema = parameter_schema(parameter, compiler);
        if parameter.location == ArgumentLocation::Path {
            require_non_empty(&mut schema);
        }
        if let Some(description) = parameter.map.get("description").and_then(Value::as_str) {
            let cleaned = text::concise_sentences(description, description_words, 1);
            compiler.findings.extend(cleaned.findings);
            if let Value::Object(schema_map) = &mut schema {
                if cleaned.text.is_empty() || description_words == 0 {
                    schema_map.remove("description");
                } else {
                    schema_map.insert("description".into(), Value::String(cleaned.text));
                }
            }
        }
        if let (Some(example), Value::Object(schema_map)) = (parameter.map.get("example"), &mut schema)
            && !schema_map.contains_key("examples")
            && matches!(example, Value::String(_) | Value::Array(_) | Value::Object(_))
            && example.to_string().len() <= 80
        {
            schema_map.insert("examples".into(), json!([example]));
        }
        let is_required = parameter.location == ArgumentLocation::Path
            || parameter.map.get("required").and_then(Value::as_bool).unwrap_or(false);
        let argument = unique_name(argument_name(parameter.name), parameter.location, &mut used);
        if is_required {
            required.push(Value::String(argument.clone()));
        }
        properties.insert(argument.clone(), schema);
        let (style, explode) = style_of(parameter.map, parameter.location);
        bindings.push(ArgumentBinding {
            argument,
            location: parameter.location,
            wire_name: parameter.name.to_string(),
            required: is_required,
            style,
            explode,
            allow_reserved: parameter.map.get("allowReserved").and_then(Value::as_bool).unwrap_or(false),
        });
    }

    let mut unsupported_body = None;
    let body = match request_body(spec, operation, compiler, &mut problems) {
        Some(Ok((request_body, body_schema))) => {
            add_body(body_schema, &request_body, &mut properties, &mut required, &mut bindings, &mut used);
            Some(request_body)
        }
        Some(Err(reason)) => {
            unsupported_body = Some(reason);
            None
        }
        None => None,
    };

    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    BuiltInput {
        schema,
        bindings,
        body,
        problems,
        declared_accept: declared.accept,
        declared_content_type: declared.content_type,
        unsupported_body,
        reserved_headers,
    }
}

/// Path-level parameters apply to every operation; an operation-level one with the same name and
/// location replaces it.
fn collect_parameters<'a>(
    spec: &'a Spec,
    operation: &Operation<'a>,
    compiler: &mut SchemaCompiler<'_>,
    problems: &mut Vec<String>,
    declared: &mut DeclaredHeaders,
    reserved_headers: &mut Vec<String>,
) -> Vec<Parameter<'a>> {
    let mut parameters: Vec<Parameter<'a>> = Vec::new();
    let sources = [
        (operation.path_item_doc, operation.path_item.get("parameters")),
        (operation.operation_doc, operation.operation.get("parameters")),
    ];
    for (doc, list) in sources {
        let list = match list {
            Some(Value::Array(list)) => list,
            None => continue,
            Some(other) => {
                problems
                    .push(format!("parameters skipped: `parameters` is {}, not a list", crate::spec::json_kind(other)));
                continue;
            }
        };
        for (position, raw) in list.iter().enumerate() {
            let (parameter_doc, map) = match spec.deref(doc, raw) {
                Ok((parameter_doc, Value::Object(map))) => (parameter_doc, map),
                Ok((_, other)) => {
                    let which = match raw.get("$ref").and_then(Value::as_str) {
                        Some(reference) => format!("$ref '{reference}'"),
                        None => format!("entry {position}"),
                    };
                    problems.push(format!(
                        "parameter skipped: {which} of `parameters` is {}, not a parameter object",
                        crate::spec::json_kind(other)
                    ));
                    continue;
                }
                Err(error) => {
                    compiler.unresolved.push((doc, error));
                    continue;
                }
            };
            let Some(name) = map.get("name").and_then(Value::as_str) else {
                problems.push("parameter without a name skipped".to_string());
                continue;
            };
            let location = match map.get("in").and_then(Value::as_str) {
                Some("path") => ArgumentLocation::Path,
                Some("query") => ArgumentLocation::Query,
                Some("header") => ArgumentLocation::Header,
                Some("cookie") => ArgumentLocation::Cookie,
                other => {
                    problems.push(format!("parameter '{name}' skipped: unsupported location {other:?}"));
                    continue;
                }
            };
            let lowercase = name.to_ascii_lowercase();
            if location == ArgumentLocation::Header && IGNORED_HEADERS.contains(&lowercase.as_str()) {
                // Operation-level declarations come later and replace path-level ones.
                let value = declared_value(spec, parameter_doc, map);
                match lowercase.as_str() {
                    "accept" => declared.accept = value,
                    "content-type" => declared.content_type = value,
                    _ => {}
                }
                continue;
            }
            if location == ArgumentLocation::Header && crate::catalogue::is_reserved_header(name) {
                if !reserved_headers.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                    reserved_headers.push(name.to_string());
                }
                continue;
            }
            parameters.retain(|p| !(p.name == name && p.location == location));
            parameters.push(Parameter { doc: parameter_doc, map, name, location });
        }
    }
    parameters
}

/// The one value a declared header parameter pins: its schema's `const`, else `default`, else the
/// first `enum` value; `None` for a free-form header, which is then
/// left to the transport as OpenAPI says. Values that are not header-safe text are ignored.
fn declared_value(spec: &Spec, doc: DocId, parameter: &Map<String, Value>) -> Option<String> {
    let schema = parameter.get("schema").and_then(|schema| spec.deref(doc, schema).ok()).map(|(_, schema)| schema);
    let from_schema = |schema: &Value| {
        schema
            .get("const")
            .or_else(|| schema.get("default"))
            .or_else(|| schema.get("enum").and_then(Value::as_array).and_then(|values| values.first()))
            .cloned()
    };
    // Swagger 2.0 fragments write the keywords on the parameter itself.
    let value = schema.and_then(from_schema).or_else(|| from_schema(&Value::Object(parameter.clone())));
    let text = value.and_then(|value| value.as_str().map(str::to_string))?;
    let safe = !text.trim().is_empty() && text.chars().all(|c| c.is_ascii() && (!c.is_ascii_control() || c == '\t'));
    safe.then(|| text.trim().to_string())
}

/// A parameter's schema: `schema`, else the schema of its single `content` entry, else (Swagger 2.0
/// fragments in external files) the type keywords written on the parameter itself.
fn parameter_schema(parameter: &Parameter<'_>, compiler: &mut SchemaCompiler<'_>) -> Value {
    // Arguments sit at depth 1, like the properties of a flattened body.
    if let Some(schema) = parameter.map.get("schema") {
        return compiler.compile_at(parameter.doc, schema, 1).unwrap_or_else(|| json!({}));
    }
    if let Some(schema) = parameter
        .map
        .get("content")
        .and_then(Value::as_object)
        .and_then(|content| content.values().next())
        .and_then(|media| media.get("schema"))
    {
        return compiler.compile_at(parameter.doc, schema, 1).unwrap_or_else(|| json!({}));
    }
    let inline: Map<String, Value> = parameter
        .map
        .iter()
        .filter(|(key, _)| {
            matches!(
                key.as_str(),
                "type"
                    | "format"
                    | "items"
                    | "enum"
                    | "default"
                    | "minimum"
                    | "maximum"
                    | "exclusiveMinimum"
                    | "exclusiveMaximum"
                    | "minLength"
                    | "maxLength"
                    | "pattern"
                    | "minItems"
                    | "maxItems"
                    | "uniqueItems"
                    | "multipleOf"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    compiler.compile_at(parameter.doc, &Value::Object(inline), 1).unwrap_or_else(|| json!({}))
}

/// An empty object or array in a path expands to an empty segment, which the request builder
/// refuses (it would address another resource): the advertised schema must not promise it, so it
/// asks for at least one member.
fn require_non_empty(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    let admits = |kind: &str| match map.get("type") {
        Some(Value::String(t)) => t == kind,
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k.as_str() == Some(kind)),
        _ => false,
    };
    let has_required = map.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
    let (object, array) = (admits("object"), admits("array"));
    if object && !has_required && map.get("minProperties").and_then(Value::as_u64).unwrap_or(0) == 0 {
        map.insert("minProperties".into(), json!(1));
    }
    if array && map.get("minItems").and_then(Value::as_u64).unwrap_or(0) == 0 {
        map.insert("minItems".into(), json!(1));
    }
}

/// Media types whose bytes are text: a string argument is sent as written, with no base64.
fn is_textual(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.starts_with("text/")
        || ["json", "xml", "yaml", "csv", "javascript", "graphql", "sdp", "x-www-form-urlencoded"]
            .iter()
            .any(|word| essence.contains(word))
}

/// A string whose bytes go out as they are: no `contentEncoding` (nor `format: binary`), which would
/// make the request builder expect base64.
fn plain_text(schema: &mut Map<String, Value>) {
    if schema.get("contentEncoding").and_then(Value::as_str) == Some("base64") {
        schema.remove("contentEncoding");
    }
    if schema.get("format").and_then(Value::as_str) == Some("binary") {
        schema.remove("format");
    }
}

/// The advertised schema and the accepted value agree on bytes: a raw body of a text media type takes
/// the text itself; any other raw body (`application/octet-stream`, `image/png`, ...) takes base64,
/// said with `contentEncoding` and `contentMediaType`. Multipart parts declared with a text
/// `contentType` in `encoding` take their text too.
fn bytes_as_arguments(media_type: &str, media: &Value, schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "multipart/form-data" {
        let encoding = media.get("encoding").and_then(Value::as_object);
        if let (Some(encoding), Some(Value::Object(properties))) = (encoding, map.get_mut("properties")) {
            for (name, part) in encoding {
                let textual = part.get("contentType").and_then(Value::as_str).is_some_and(is_textual);
                if let (true, Some(Value::Object(property))) = (textual, properties.get_mut(name)) {
                    plain_text(property);
                    if let Some(Value::Object(items)) = property.get_mut("items") {
                        plain_text(items);
                    }
                }
            }
        }
        return;
    }
    if crate::spec::media_rank(media_type) < 4 || map.get("type").and_then(Value::as_str) != Some("string") {
        return;
    }
    if is_textual(media_type) {
        plain_text(map);
    } else if !map.contains_key("format") {
        map.insert("contentEncoding".into(), json!("base64"));
        map.entry("contentMediaType").or_insert_with(|| json!(essence));
    }
}

fn style_of(map: &Map<String, Value>, location: ArgumentLocation) -> (ParameterStyle, bool) {
    let style = match map.get("style").and_then(Value::as_str) {
        Some("matrix") => ParameterStyle::Matrix,
        Some("label") => ParameterStyle::Label,
        Some("form") => ParameterStyle::Form,
        Some("simple") => ParameterStyle::Simple,
        Some("spaceDelimited") => ParameterStyle::SpaceDelimited,
        Some("pipeDelimited") => ParameterStyle::PipeDelimited,
        Some("deepObject") => ParameterStyle::DeepObject,
        _ => match location {
            ArgumentLocation::Query | ArgumentLocation::Cookie => ParameterStyle::Form,
            _ => ParameterStyle::Simple,
        },
    };
    let explode = map.get("explode").and_then(Value::as_bool).unwrap_or(style == ParameterStyle::Form);
    (style, explode)
}

/// The request body to send (media type, `required`, `encoding`) and its schema; `Err` with the
/// reason when the only media type offered is one api2mcp cannot produce from arguments.
fn request_body(
    spec: &Spec,
    operation: &Operation<'_>,
    compiler: &mut SchemaCompiler<'_>,
    problems: &mut Vec<String>,
) -> Option<Result<(RequestBody, Value), String>> {
    let raw = operation.operation.get("requestBody")?;
    let (doc, body) = match spec.deref(operation.operation_doc, raw) {
        Ok((doc, Value::Object(body))) => (doc, body),
        Ok((_, other)) => {
            problems.push(format!(
                "request body left out: it is {}, not a request body object",
                crate::spec::json_kind(other)
            ));
            return None;
        }
        Err(error) => {
            compiler.unresolved.push((operation.operation_doc, error));
            return None;
        }
    };
    let Some((media_type, media)) =
        body.get("content").and_then(Value::as_object).and_then(crate::spec::preferred_media)
    else {
        problems.push("request body left out: its `content` names no media type".to_string());
        return None;
    };
    let required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
    let mut schema = match media.get("schema") {
        Some(schema) => compiler.compile(doc, schema).unwrap_or_else(|| json!({})),
        None => json!({}),
    };
    let media_type = concrete_media_type(media_type, &schema);
    // An XML body described as a string is the document itself, written by the agent; a structured
    // one would need the schema's `xml` mapping, which api2mcp does not implement: refused, so that
    // no tool sends JSON text as XML.
    let structured = match schema.get("type") {
        Some(kind) => kind != "string",
        None => ["properties", "items", "allOf", "oneOf", "anyOf"].iter().any(|keyword| schema.get(*keyword).is_some()),
    };
    if is_xml(&media_type) && structured {
        return Some(Err(format!(
            "its request body is only offered as {media_type}, which api2mcp does not serialise from arguments"
        )));
    }
    if crate::spec::media_rank(&media_type) >= 4
        && let Value::Object(map) = &mut schema
        && !map.contains_key("type")
    {
        map.insert("type".into(), json!("string"));
    }
    bytes_as_arguments(&media_type, media, &mut schema);
    if let (Some(description), Value::Object(map)) = (body.get("description").and_then(Value::as_str), &mut schema)
        && !map.contains_key("description")
    {
        let cleaned = text::concise_sentences(description, 20, 1);
        compiler.findings.extend(cleaned.findings);
        if !cleaned.text.is_empty() {
            map.insert("description".into(), Value::String(cleaned.text));
        }
    }
    let encoding = media.get("encoding").and_then(Value::as_object).map(encodings).unwrap_or_default();
    Some(Ok((RequestBody { content_type: media_type, required, encoding }, schema)))
}

/// `application/xml`, `text/xml` and any `+xml` type.
fn is_xml(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/xml" || essence == "text/xml" || essence.ends_with("+xml")
}

/// A wildcard media type (`*/*`, `application/*`, Swagger 2.0's `consumes: ["*/*"]`) means "any",
/// which is no type to send: the body's real type replaces it. A string of `format: binary` is
/// `application/octet-stream`, another string `text/plain`, anything else JSON.
fn concrete_media_type(media_type: &str, schema: &Value) -> String {
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return media_type.to_string();
    };
    if kind != "*" && subtype != "*" {
        return media_type.to_string();
    }
    let is_string = schema.get("type") == Some(&json!("string"));
    let binary =
        is_string && (schema.get("format") == Some(&json!("binary")) || schema.get("contentEncoding").is_some());
    match (kind, is_string) {
        ("text", _) => "text/plain".to_string(),
        (_, true) if binary => "application/octet-stream".to_string(),
        ("*", true) => "text/plain".to_string(),
        _ => "application/json".to_string(),
    }
}

/// The media type's `encoding` object: style (the form-body ones), explode, allowReserved and the
/// first `contentType` of each entry.
fn encodings(encoding: &Map<String, Value>) -> Vec<(String, PropertyEncoding)> {
    encoding
        .iter()
        .filter_map(|(property, entry)| {
            let entry = entry.as_object()?;
            let style = match entry.get("style").and_then(Value::as_str) {
                Some("form") => Some(ParameterStyle::Form),
                Some("spaceDelimited") => Some(ParameterStyle::SpaceDelimited),
                Some("pipeDelimited") => Some(ParameterStyle::PipeDelimited),
                Some("deepObject") => Some(ParameterStyle::DeepObject),
                _ => None,
            };
            let content_type = entry
                .get("contentType")
                .and_then(Value::as_str)
                .and_then(|types| types.split(',').next())
                .map(|first| first.trim().to_string())
                .filter(|first| !first.is_empty() && !first.contains('*'));
            Some((
                property.clone(),
                PropertyEncoding {
                    style,
                    explode: entry.get("explode").and_then(Value::as_bool),
                    allow_reserved: entry.get("allowReserved").and_then(Value::as_bool).unwrap_or(false),
                    content_type,
                },
            ))
        })
        .collect()
}

/// An object body with named properties is flattened into the arguments (what agents expect); any
/// other body is one `body` argument.
fn add_body(
    body_schema: Value,
    request_body: &RequestBody,
    properties: &mut Map<String, Value>,
    required: &mut Vec<Value>,
    bindings: &mut Vec<ArgumentBinding>,
    used: &mut HashSet<String>,
) {
    let flattenable = body_schema.get("properties").and_then(Value::as_object).is_some_and(|p| !p.is_empty())
        && !["oneOf", "anyOf", "allOf", "not", "if"].iter().any(|k| body_schema.get(*k).is_some())
        && body_schema.get("additionalProperties").is_none_or(|a| *a == Value::Bool(false))
        && body_schema.get("type").is_none_or(|t| *t == json!("object"));
    // An optional body that can only be `{}` (Stripe declares one on every GET) gives the agent nothing
    // to say: no argument, and nothing is sent, as when the agent leaves an optional body out.
    let only_empty = body_schema.get("properties").and_then(Value::as_object).is_some_and(Map::is_empty)
        && body_schema.get("additionalProperties") == Some(&Value::Bool(false))
        && !["oneOf", "anyOf", "allOf", "not", "if", "patternProperties"].iter().any(|k| body_schema.get(*k).is_some());
    if only_empty && !request_body.required {
        return;
    }
    if !flattenable {
        let argument = unique_name("body".to_string(), ArgumentLocation::Body, used);
        if request_body.required {
            required.push(Value::String(argument.clone()));
        }
        properties.insert(argument.clone(), body_schema);
        bindings.push(body_binding(argument, "body".to_string(), ArgumentLocation::Body, request_body.required));
        return;
    }
    let Value::Object(mut body_map) = body_schema else {
        return;
    };
    let body_required: Vec<String> = body_map
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let Some(Value::Object(body_properties)) = body_map.remove("properties") else {
        return;
    };
    for (wire_name, schema) in body_properties {
        let argument = unique_name(argument_name(&wire_name), ArgumentLocation::BodyProperty, used);
        // A property is required of the agent only when the body itself is required.
        let is_required = request_body.required && body_required.contains(&wire_name);
        if is_required {
            required.push(Value::String(argument.clone()));
        }
        properties.insert(argument.clone(), schema);
        bindings.push(body_binding(argument, wire_name, ArgumentLocation::BodyProperty, is_required));
    }
}

fn body_binding(argument: String, wire_name: String, location: ArgumentLocation, required: bool) -> ArgumentBinding {
    ArgumentBinding {
        argument,
        location,
        wire_name,
        required,
        style: ParameterStyle::Form,
        explode: true,
        allow_reserved: false,
    }
}

/// The first argument with a name keeps it; a later one from another location becomes
/// `name_<location>` (`id_body`, `id_query`), then `name_<location>_2`, ... Deterministic because
/// parameters are visited in spec order, path first, body last.
fn unique_name(base: String, location: ArgumentLocation, used: &mut HashSet<String>) -> String {
    let name = if used.contains(&base) {
        let with_location = format!("{base}_{}", location.label());
        let mut candidate = with_location.clone();
        let mut counter = 2;
        while used.contains(&candidate) {
            candidate = format!("{with_location}_{counter}");
            counter += 1;
        }
        candidate
    } else {
        base
    };
    used.insert(name.clone());
    name
}
