//! Vendor extensions (`x-` keys) that nothing in api2mcp reads are let go once a spec is loaded.
//!
//! They are documentation for other tools (OpenAI's `x-oaiMeta` is a third of its description,
//! DigitalOcean's `x-codeSamples`, Kubernetes' `x-kubernetes-*`), and held as `serde_json` values
//! they cost several times their text for the whole compile (issue 17 item 10). An `x-` key is an
//! extension only where the object's keys are keywords (a schema, an operation, a parameter...):
//! where they are names (`properties`, `paths`, `headers`, `content`, `components.*`...) it is a
//! name and stays, and data (`example`, `default`, `enum`...) is never touched. Extensions api2mcp
//! does read ([`READ`]) stay. So do examples nothing reads ([`let_go`]: a media type's, a
//! parameter's map, `components.examples`). When any `$ref` of the spec outside them points into an
//! extension or those examples, a spec that keeps reusable parts there, nothing is let go.

use serde_json::{Map, Value};

use crate::spec::Document;

/// The extensions something in api2mcp reads.
const READ: &[&str] = &["x-nullable"];

/// Keys whose object value is a map of names (each to a keyword object). A `match`, not a list:
/// it runs for every key of a spec.
fn name_map(key: &str) -> bool {
    matches!(
        key,
        "properties"
            | "patternProperties"
            | "definitions"
            | "$defs"
            | "dependentSchemas"
            | "dependentRequired"
            | "paths"
            | "webhooks"
            | "callbacks"
            | "schemas"
            | "responses"
            | "parameters"
            | "requestBodies"
            | "headers"
            | "securitySchemes"
            | "securityDefinitions"
            | "links"
            | "examples"
            | "content"
            | "encoding"
            | "variables"
            | "mapping"
            | "scopes"
            | "pathItems"
    )
}

/// Keys whose value is data, whatever its keys.
fn data(key: &str) -> bool {
    matches!(key, "example" | "examples" | "default" | "enum" | "const" | "value" | "x-nullable")
}

#[derive(Clone, Copy, PartialEq)]
enum Keys {
    /// Keywords: `x-` keys are extensions.
    Keywords,
    /// Names: every key stays.
    Names,
    /// The top of a file not known to be a keyword object (named with a fragment, or where names
    /// stand): its keys stay, and what they hold is taken by the keyword rules (a `definitions`
    /// there holds names, an `example` data), which keep at least what either reading would.
    Unknown,
    /// A `content` map: media types, each a [`Keys::Media`] object.
    MediaTypes,
    /// A media type object: keywords, and its `example`/`examples` are read by nothing (see
    /// [`let_go`]).
    Media,
    /// The root's `components`: keywords, and its `examples` (the Example objects that only the
    /// `examples` let go of refer to) are read by nothing.
    Components,
}

/// Whether `key` of an object of `keys` is let go ([`drop_unread`]): an unread extension, or
/// examples nothing in api2mcp reads (GitHub keeps a quarter of its description there, issue 17
/// item 10): a media type's `example` and `examples`, a parameter's map of `examples` (an object of
/// keywords with a string `in` and `name`; its single `example` stays, it is shown on the argument)
/// and the root's `components.examples`, which only those refer to. A schema's own `example` and
/// `examples` stay.
fn let_go(key: &str, value: &Value, keys: Keys, parameter: bool) -> bool {
    unread(key, keys)
        || match (keys, key) {
            (Keys::Media, "example" | "examples") => true,
            (Keys::Components, "examples") => true,
            (Keys::Keywords, "examples") => parameter && value.is_object(),
            _ => false,
        }
}

/// Whether an object of keywords is a parameter: a string `in` and `name`.
fn is_parameter(map: &Map<String, Value>) -> bool {
    map.get("in").is_some_and(Value::is_string) && map.get("name").is_some_and(Value::is_string)
}

/// How the keys of the object under `key` of an object of keywords are read.
fn child_keys(key: &str, child: &Value) -> Option<Keys> {
    match key {
        _ if data(key) && !child.is_object() => None,
        // A schema's `examples` is an array of data; OpenAPI's is a map of Example objects, whose
        // `value` is data.
        _ if data(key) && key != "examples" => None,
        "security" => Some(Keys::Names),
        "content" if child.is_object() => Some(Keys::MediaTypes),
        "components" if child.is_object() => Some(Keys::Components),
        _ if name_map(key) && child.is_object() => Some(Keys::Names),
        _ => Some(Keys::Keywords),
    }
}

/// Lets go of the unread extensions of every document, unless a `$ref` points into one. Returns
/// how many were let go. `keyword_roots[i]`: whether document `i`'s top-level keys are keywords (the
/// root's; a file named whole, only where a schema or an operation stands); any other file
/// (`properties: {$ref: props.yaml}`, `headers.yml#/x-request-id`) keeps its own keys.
/// `refs_into_extensions`: [`any_ref_into_extension`] of the documents, which loading has found.
pub fn drop_unread(documents: &mut [Document], keyword_roots: &[bool], refs_into_extensions: bool) -> usize {
    if refs_into_extensions {
        return 0;
    }
    let mut dropped = 0;
    for (index, document) in documents.iter_mut().enumerate() {
        let keyword_root = index == 0 || keyword_roots.get(index).copied().unwrap_or(false);
        dropped += walk(&mut document.value, if keyword_root { Keys::Keywords } else { Keys::Unknown });
    }
    dropped
}

fn walk(value: &mut Value, keys: Keys) -> usize {
    match value {
        Value::Object(map) => object(map, keys),
        // Items of an array are keyword objects (`allOf`, `parameters`, `servers`, `tags`), except
        // the security requirements, whose keys are scheme names (handled by the caller); a file
        // that is an array is not known to hold either.
        Value::Array(items) => {
            let item_keys = if keys == Keys::Unknown { Keys::Names } else { Keys::Keywords };
            items.iter_mut().map(|item| walk(item, item_keys)).sum()
        }
        _ => 0,
    }
}

fn object(map: &mut Map<String, Value>, keys: Keys) -> usize {
    let mut dropped = 0;
    if matches!(keys, Keys::Keywords | Keys::Media | Keys::Components) {
        let before = map.len();
        let parameter = is_parameter(map);
        map.retain(|key, value| !let_go(key, value, keys, parameter));
        dropped = before - map.len();
        if dropped > 0 {
            *map = super::json::exact(std::mem::take(map));
        }
    }
    for (key, child) in map.iter_mut() {
        dropped += match keys {
            Keys::Names => walk(child, Keys::Keywords),
            Keys::MediaTypes => walk(child, Keys::Media),
            _ => match child_keys(key, child) {
                None => 0,
                Some(Keys::Names) if key == "security" => match child {
                    Value::Array(requirements) => requirements.iter_mut().map(|r| walk(r, Keys::Names)).sum(),
                    _ => 0,
                },
                Some(child_keys) => walk(child, child_keys),
            },
        };
    }
    dropped
}

/// Whether `key`, met in an object of `keys`, is an extension [`drop_unread`] lets go of.
fn unread(key: &str, keys: Keys) -> bool {
    matches!(keys, Keys::Keywords | Keys::Media | Keys::Components) && key.starts_with("x-") && !READ.contains(&key)
}

/// What the `$ref`s of the documents walked so far say about pointing into extensions (see
/// [`drop_unread`]: when one does, nothing is let go).
#[derive(Default)]
pub struct RefsIntoExtensions<'v> {
    /// A `$ref` points through an `x-` key below the top of a document, where keys are keywords.
    pub below_top: bool,
    /// `$ref`s to an `x-` key at the top of a document (`headers.yml#/x-request-id`): an extension
    /// only if that document's top-level keys are keywords, which is known once every `$ref` to it
    /// has been seen, so loading decides (`super::refs`).
    pub at_top: Vec<&'v str>,
}

/// The `$ref`s to other documents outside the unread extensions of a document whose top-level keys
/// are keywords (`keyword_root`: the spec's own, or a file a `$ref` names whole in a keyword position,
/// such as an operation's): what loading must follow when the extensions are let go. DigitalOcean's
/// `x-codeSamples` name 1,379 files of code samples nothing reads. With each, whether the document it
/// names is one of keywords too (a `$ref` without a fragment standing for a schema, an operation...),
/// not of names (a `properties: {$ref: ...}`), data, or not known (a fragment names a part of it).
/// `into_extension` gathers the `$ref`s walked (local ones too) that point into an extension: one
/// walk of the document for both.
pub fn external_refs_outside_unread<'v>(
    value: &'v Value,
    keyword_root: bool,
    into_extension: &mut RefsIntoExtensions<'v>,
) -> Vec<(&'v str, bool)> {
    let mut found = Vec::new();
    // `None`: data, where nothing is an extension (and `$ref`s are followed, as loading always did).
    let mut stack = vec![(value, Some(if keyword_root { Keys::Keywords } else { Keys::Unknown }))];
    while let Some((value, keys)) = stack.pop() {
        match value {
            Value::Object(map) => {
                let parameter = is_parameter(map);
                for (key, child) in map {
                    if key == "$ref" {
                        if let Some(reference) = child.as_str() {
                            match points_into_extension(reference) {
                                Pointing::Elsewhere => {}
                                Pointing::BelowTop => into_extension.below_top = true,
                                Pointing::AtTop => into_extension.at_top.push(reference),
                            }
                            if !reference.starts_with('#') {
                                found.push((reference, keys == Some(Keys::Keywords) && names_whole(reference)));
                            }
                        }
                        continue;
                    }
                    if keys.is_some_and(|keys| let_go(key, child, keys, parameter)) {
                        continue;
                    }
                    // As `object` walks the value.
                    let child_keys = match keys {
                        None => None,
                        Some(Keys::Names) => Some(Keys::Keywords),
                        Some(Keys::MediaTypes) => Some(Keys::Media),
                        Some(_) => child_keys(key, child),
                    };
                    stack.push((child, child_keys));
                }
            }
            // Items are keyword objects, but a security requirement's keys are names, data stays
            // data, and a file that is an array is not known to hold either.
            Value::Array(items) => {
                let item_keys = keys.map(|keys| if keys == Keys::Keywords { Keys::Keywords } else { Keys::Names });
                stack.extend(items.iter().map(|item| (item, item_keys)));
            }
            _ => {}
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// Whether a `$ref` names a whole document (no fragment, or an empty one).
fn names_whole(reference: &str) -> bool {
    reference.split_once('#').is_none_or(|(_, fragment)| fragment.is_empty() || fragment == "/")
}

#[derive(Debug, PartialEq)]
enum Pointing {
    Elsewhere,
    /// Through an `x-` key below the top of a document, where keys are keywords.
    BelowTop,
    /// At an `x-` key at the top of a document.
    AtTop,
}

/// `#/x-components/schemas/A` points into an extension if its document's top-level keys are
/// keywords; `other.yaml#/paths/~1a/get/x-meta` does. `#/components/headers/x-request-id` names a
/// header: after a map of names, an `x-` segment is a name, not an extension. Anywhere else an `x-`
/// segment counts as an extension, so that nothing is let go, which is the safe side of not knowing
/// (`#/paths/~1a/get/security/0/x-scheme`, or data's keys). The examples [`let_go`] lets go of count
/// as extensions: an `example` or `examples` segment that is not a name (`#/components/examples/a`,
/// a response header's `$ref` to one, which stays; or a schema's `examples/0`, on the safe side).
fn points_into_extension(reference: &str) -> Pointing {
    let Some((_, fragment)) = reference.split_once('#') else { return Pointing::Elsewhere };
    // Before the first segment stands no map of names.
    let mut previous = "";
    for (position, segment) in fragment.split('/').skip(1).enumerate() {
        let let_go = segment.starts_with("x-") || matches!(segment, "example" | "examples");
        if let_go && !name_map(previous) {
            return if position == 0 && segment.starts_with("x-") { Pointing::AtTop } else { Pointing::BelowTop };
        }
        previous = segment;
    }
    Pointing::Elsewhere
}

/// Whether a `$ref` outside what is let go points into an `x-` key or the examples let go: then
/// nothing is let go (see [`drop_unread`]). Loading finds it while it walks the documents for their
/// `$ref`s (`external_refs_outside_unread`, as here); the tests ask it directly.
#[cfg(test)]
pub fn any_ref_into_extension(documents: &[Document]) -> bool {
    documents.iter().enumerate().any(|(index, document)| {
        let mut into = RefsIntoExtensions::default();
        external_refs_outside_unread(&document.value, index == 0, &mut into);
        into.below_top || !into.at_top.is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(url: &str, value: Value) -> Document {
        Document::new(url.parse().unwrap(), url.to_string(), value, crate::spec::SourceText::held(String::new()))
    }

    #[test]
    fn extensions_go_and_names_and_data_stay() {
        let mut documents = vec![document(
            "file:///r.yaml",
            json!({
                "openapi": "3.1.0", "x-tagGroups": [1], "info": {"title": "t", "x-logo": {"url": "l"}},
                "paths": {
                    "x-paths-extension": {"kept": true},
                    "/a": {"x-path-meta": 1, "get": {
                        "x-oaiMeta": {"examples": [1, 2]}, "x-codeSamples": [{"lang": "sh"}],
                        "security": [{"x-scheme": []}],
                        "parameters": [{"name": "x-request-id", "in": "header", "x-internal": true,
                            "schema": {"type": "string", "x-go-type": "s", "example": {"x-data": 1}}}],
                        "responses": {"200": {"description": "ok", "headers": {"x-rate-limit": {"schema": {}}},
                            "content": {"application/json": {"examples": {"x-named": {"value": {"x-v": 1}, "x-e": 1}},
                                "schema": {"type": "object", "x-nullable": true, "default": {"x-d": 1},
                                    "enum": [{"x-e": 1}], "examples": [{"x-a": 1}],
                                    "properties": {"x-prop": {"type": "string", "x-stainless": 1}}}}}}}}}},
                "components": {"schemas": {"x-named-schema": {"type": "string", "x-internal": 1}},
                    "securitySchemes": {"x-scheme": {"type": "http", "scheme": "bearer", "x-vendor": 1}}}
            }),
        )];
        assert_eq!(drop_unread(&mut documents, &[true], false), 11);
        assert_eq!(
            documents[0].value,
            json!({
                "openapi": "3.1.0", "info": {"title": "t"},
                "paths": {
                    "x-paths-extension": {"kept": true},
                    "/a": {"get": {
                        "security": [{"x-scheme": []}],
                        "parameters": [{"name": "x-request-id", "in": "header",
                            "schema": {"type": "string", "example": {"x-data": 1}}}],
                        "responses": {"200": {"description": "ok", "headers": {"x-rate-limit": {"schema": {}}},
                            "content": {"application/json": {
                                "schema": {"type": "object", "x-nullable": true, "default": {"x-d": 1},
                                    "enum": [{"x-e": 1}], "examples": [{"x-a": 1}],
                                    "properties": {"x-prop": {"type": "string"}}}}}}}}}},
                "components": {"schemas": {"x-named-schema": {"type": "string"}},
                    "securitySchemes": {"x-scheme": {"type": "http", "scheme": "bearer"}}}
            })
        );
    }

    #[test]
    fn a_name_that_starts_with_x_is_not_an_extension() {
        use Pointing::*;
        for (reference, pointing) in [
            ("#/x-components/schemas/A", AtTop),
            ("shared/headers.yml#/x-request-id", AtTop),
            ("other.yaml#/paths/~1a/get/x-meta", BelowTop),
            ("shared/headers.yml#/paths/~1a/x-meta", BelowTop),
            ("#/paths/~1a/get/security/0/x-scheme", BelowTop),
            ("#/components/headers/x-request-id", Elsewhere),
            ("#/definitions/x-thing", Elsewhere),
            ("#/components/schemas/A/properties/x-total", Elsewhere),
            ("models/x-thing.yaml", Elsewhere),
            ("models/x-thing.yaml#", Elsewhere),
            ("#/components/examples/pet", BelowTop),
            ("#/paths/~1a/get/responses/200/content/application~1json/example", BelowTop),
            ("params.yaml#/examples/big", BelowTop),
            ("#/components/schemas/A/examples/0", BelowTop),
            ("#/components/schemas/examples", Elsewhere),
            ("#/components/schemas/A/properties/example", Elsewhere),
        ] {
            assert_eq!(points_into_extension(reference), pointing, "{reference}");
        }
    }

    #[test]
    fn only_a_file_named_whole_where_keywords_stand_is_one_of_keywords() {
        let value = json!({"paths": {"/a": {"$ref": "item.yaml"}, "/b": {"$ref": "items.yaml#/b"}},
            "components": {"schemas": {"A": {"properties": {"$ref": "props.yaml"}}}},
            "x-samples": {"$ref": "samples.yaml"}});
        let mut into = RefsIntoExtensions::default();
        let found = external_refs_outside_unread(&value, true, &mut into);
        assert_eq!(found, [("item.yaml", true), ("items.yaml#/b", false), ("props.yaml", false)]);
        assert!(!into.below_top && into.at_top.is_empty());
    }

    #[test]
    fn a_referenced_files_own_keys_stay() {
        let mut documents = vec![
            document("file:///r.yaml", json!({"openapi": "3.0.3", "x-a": 1})),
            document("file:///props.yaml", json!({"x-prop": {"type": "string", "x-b": 1}, "name": {"type": "string"}})),
        ];
        assert_eq!(drop_unread(&mut documents, &[true, false], false), 2);
        assert_eq!(documents[1].value, json!({"x-prop": {"type": "string"}, "name": {"type": "string"}}));
        // What the top-level keys hold is read by the keyword rules: names and data stay.
        let mut documents = vec![
            document("file:///r.yaml", json!({"openapi": "3.0.3"})),
            document(
                "file:///common.yaml",
                json!({"x-top": 1, "definitions": {"x-name": {"type": "string", "x-go": 1}}, "example": {"x-d": 1}}),
            ),
        ];
        assert_eq!(drop_unread(&mut documents, &[true, false], false), 1);
        assert_eq!(
            documents[1].value,
            json!({"x-top": 1, "definitions": {"x-name": {"type": "string"}}, "example": {"x-d": 1}})
        );
    }

    #[test]
    fn nothing_goes_when_a_ref_points_into_an_extension() {
        let value = json!({"openapi": "3.0.3", "x-components": {"A": {"type": "string"}},
            "paths": {"/a": {"get": {"x-meta": 1, "responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/x-components/A"}}}}}}}}});
        let mut documents = vec![document("file:///r.yaml", value.clone())];
        assert!(any_ref_into_extension(&documents));
        assert_eq!(drop_unread(&mut documents, &[true, true], true), 0);
        assert_eq!(documents[0].value, value);
        let mut documents = vec![
            document("file:///r.yaml", json!({"openapi": "3.0.3", "x-a": 1})),
            document("file:///o.yaml", json!({"s": {"$ref": "r.yaml#/x-a"}})),
        ];
        assert!(any_ref_into_extension(&documents));
        assert_eq!(drop_unread(&mut documents, &[true, true], true), 0);
    }

    #[test]
    fn examples_nothing_reads_go_and_a_schemas_stay() {
        let value = json!({"openapi": "3.0.3", "paths": {"/a": {"post": {
            "parameters": [{"name": "q", "in": "query", "example": "abc", "examples": {"a": {"value": "abc"}},
                "schema": {"type": "string", "example": "s", "examples": ["t"]}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"},
                "example": {"a": 1}, "examples": {"one": {"$ref": "#/components/examples/One"}}}}},
            "responses": {"200": {"description": "ok", "headers": {"H": {"schema": {}, "examples": {"h": {"value": 1}}}},
                "content": {"application/json": {"examples": {"f": {"$ref": "samples/absent.yaml"}}}}}}}}},
            "components": {"examples": {"One": {"value": {"a": 1}}}, "schemas": {"examples": {"type": "string"}}}});
        let mut documents = vec![document("file:///r.yaml", value)];
        // The `$ref`s inside what goes neither keep anything nor are followed.
        let mut into = RefsIntoExtensions::default();
        assert!(external_refs_outside_unread(&documents[0].value, true, &mut into).is_empty());
        assert!(!any_ref_into_extension(&documents));
        assert_eq!(drop_unread(&mut documents, &[true], false), 5);
        assert_eq!(
            documents[0].value,
            json!({"openapi": "3.0.3", "paths": {"/a": {"post": {
                "parameters": [{"name": "q", "in": "query", "example": "abc",
                    "schema": {"type": "string", "example": "s", "examples": ["t"]}}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "ok", "headers": {"H": {"schema": {}, "examples": {"h": {"value": 1}}}},
                    "content": {"application/json": {}}}}}}},
                "components": {"schemas": {"examples": {"type": "string"}}}})
        );
    }

    #[test]
    fn nothing_goes_when_a_ref_outside_them_points_into_examples() {
        // A header's examples stay, and name one of `components.examples`: that stays too.
        let documents = vec![document(
            "file:///r.yaml",
            json!({"openapi": "3.0.3", "components": {"examples": {"One": {"value": 1}},
                "headers": {"H": {"schema": {}, "examples": {"one": {"$ref": "#/components/examples/One"}}}}}}),
        )];
        assert!(any_ref_into_extension(&documents));
    }
}
