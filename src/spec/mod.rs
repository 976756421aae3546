//! The loaded OpenAPI description of one upstream, read-only: its documents (the root and every file it
//! `$ref`s), `$ref` resolution across them, and the list of operations.
//!
//! Documents stay `serde_json::Value`s normalised to OpenAPI 3.x shapes at load time (Swagger 2.0 is
//! upgraded by `load/`); schema keywords of 3.0 and 3.1 are reconciled later, per schema, by
//! `compile/schema.rs`. Nothing here does IO: `load/` builds a [`Spec`] and everything after only reads it.

mod operations;
mod text_index;

pub use operations::{HttpMethod, Operation, OperationError};
pub use text_index::TextIndex;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::diag::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecVersion {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

impl SpecVersion {
    pub fn label(self) -> &'static str {
        match self {
            SpecVersion::Swagger2 => "Swagger 2.0",
            SpecVersion::OpenApi30 => "OpenAPI 3.0",
            SpecVersion::OpenApi31 => "OpenAPI 3.1",
        }
    }
}

/// One file or URL of a (possibly multi-file) description.
#[derive(Debug)]
pub struct Document {
    /// Absolute URL without fragment (`file:///...` or `https://...`): the base for relative `$ref`s.
    pub url: url::Url,
    /// How diagnostics name the document: the path as the user would write it, or the URL.
    pub display: String,
    pub value: Value,
    /// The source text, for diagnostics that point at a line.
    text: SourceText,
    /// Built on the first diagnostic that needs a location in this document, then reused.
    index: OnceLock<TextIndex>,
}

impl Document {
    pub fn new(url: url::Url, display: String, value: Value, text: SourceText) -> Self {
        Document { url, display, value, text, index: OnceLock::new() }
    }

    /// The source text; `None` when it was let go and can no longer be read as it was.
    pub fn text(&self) -> Option<&str> {
        self.text.get()
    }

    /// Line starts and `operationId` positions of the text, built once.
    pub fn text_index(&self) -> &TextIndex {
        self.index.get_or_init(|| TextIndex::new(self.text().unwrap_or_default()))
    }

    /// `file:line:col` of a byte offset in the text.
    pub fn location_at(&self, offset: usize) -> Location {
        let Some(text) = self.text() else { return Location::file_only(&self.display) };
        let (line, column) = self.text_index().line_column(text, offset);
        Location { file: self.display.clone(), line, column }
    }
}

/// A document's source text, which only diagnostics read: held, or let go once the document is
/// parsed and read again the first time a diagnostic needs it. A spec's text is as large as the
/// spec and was held beside its parsed value through the whole compile, for diagnostics that real
/// specs seldom have. The reading is `load/`'s (a closure it hands over): nothing here does IO.
pub struct SourceText {
    text: OnceLock<Option<String>>,
    reread: Option<Box<dyn Fn() -> Option<String> + Send + Sync>>,
}

impl SourceText {
    /// A text kept in memory (a document fetched over HTTP cannot be read again for free).
    pub fn held(text: String) -> Self {
        SourceText { text: OnceLock::from(Some(text)), reread: None }
    }

    /// A text let go: `reread` gives it back, or `None` when it changed since it was parsed.
    pub fn reread(reread: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        SourceText { text: OnceLock::new(), reread: Some(Box::new(reread)) }
    }

    fn get(&self) -> Option<&str> {
        self.text.get_or_init(|| self.reread.as_ref().and_then(|reread| reread())).as_deref()
    }
}

impl std::fmt::Debug for SourceText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.text.get() {
            Some(Some(text)) => format!("{} bytes", text.len()),
            Some(None) => "unreadable".to_string(),
            None => "not read".to_string(),
        };
        formatter.debug_tuple("SourceText").field(&state).finish()
    }
}

#[derive(Debug)]
pub struct Spec {
    /// The root is always `DocId(0)`.
    pub documents: Vec<Document>,
    pub version: SpecVersion,
    by_url: HashMap<String, DocId>,
}

pub const ROOT: DocId = DocId(0);

/// Why a `$ref` could not be followed; the message names the reference.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RefError {
    #[error("$ref '{reference}' points into '{document}', which was not loaded")]
    MissingDocument { reference: String, document: String },
    #[error("$ref '{reference}' points at nothing: '{pointer}' does not exist in {document}")]
    MissingTarget { reference: String, pointer: String, document: String },
    #[error("$ref '{reference}' is not a valid reference: {reason}")]
    Invalid { reference: String, reason: String },
    #[error("$ref '{reference}' starts a chain of references that does not end")]
    Chain { reference: String },
}

impl RefError {
    /// The `$ref` as written.
    pub fn reference(&self) -> &str {
        match self {
            RefError::MissingDocument { reference, .. }
            | RefError::MissingTarget { reference, .. }
            | RefError::Invalid { reference, .. }
            | RefError::Chain { reference } => reference,
        }
    }
}

impl Spec {
    pub fn new(documents: Vec<Document>, version: SpecVersion) -> Self {
        let by_url = documents
            .iter()
            .enumerate()
            .map(|(index, document)| (document.url.to_string(), DocId(index as u32)))
            .collect();
        Spec { documents, version, by_url }
    }

    pub fn root(&self) -> &Value {
        &self.documents[0].value
    }

    pub fn doc(&self, id: DocId) -> &Document {
        &self.documents[id.0 as usize]
    }

    pub fn doc_id(&self, url: &url::Url) -> Option<DocId> {
        self.by_url.get(url.as_str()).copied()
    }

    /// Resolves one `$ref` string written in document `from`, returning the target document, the target
    /// value and the JSON pointer of the target inside that document.
    pub fn resolve_ref<'a>(&'a self, from: DocId, reference: &str) -> Result<(DocId, &'a Value, String), RefError> {
        let (document_part, fragment) = match reference.split_once('#') {
            Some((document_part, fragment)) => (document_part, fragment),
            None => (reference, ""),
        };
        let target_doc = if document_part.is_empty() {
            from
        } else {
            let url = self
                .doc(from)
                .url
                .join(document_part)
                .map_err(|error| RefError::Invalid { reference: reference.to_string(), reason: error.to_string() })?;
            let mut url_without_fragment = url;
            url_without_fragment.set_fragment(None);
            self.doc_id(&url_without_fragment).ok_or_else(|| RefError::MissingDocument {
                reference: reference.to_string(),
                document: url_without_fragment.to_string(),
            })?
        };
        let pointer = decode_fragment(fragment);
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(RefError::Invalid {
                reference: reference.to_string(),
                reason: "the fragment is not a JSON pointer (anchors are not supported)".to_string(),
            });
        }
        let value = self.doc(target_doc).value.pointer(&pointer).ok_or_else(|| RefError::MissingTarget {
            reference: reference.to_string(),
            pointer: pointer.clone(),
            document: self.doc(target_doc).display.clone(),
        })?;
        Ok((target_doc, value, pointer))
    }

    /// Follows `$ref` until a value that is not a reference (for parameters, responses, path items and
    /// other non-schema objects). Chains longer than 32 links are treated as cycles.
    pub fn deref<'a>(&'a self, mut doc: DocId, mut value: &'a Value) -> Result<(DocId, &'a Value), RefError> {
        for _ in 0..32 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let (target_doc, target, _) = self.resolve_ref(doc, reference)?;
                    doc = target_doc;
                    value = target;
                }
                None => return Ok((doc, value)),
            }
        }
        let reference = value.get("$ref").and_then(Value::as_str).unwrap_or_default().to_string();
        Err(RefError::Chain { reference })
    }

    /// Where the first of `needles` that occurs in a document's text is, else the document alone.
    pub fn locate_any(&self, doc: DocId, needles: &[String]) -> Location {
        (needles.iter())
            .map(|needle| self.locate_text(doc, needle))
            .find(|location| location.line > 0)
            .unwrap_or_else(|| Location::file_only(&self.doc(doc).display))
    }

    /// Best-effort location of the first occurrence of `needle` (e.g. a `$ref` value) in a document's
    /// text, for diagnostics about specs that were not parsed with spans.
    pub fn locate_text(&self, doc: DocId, needle: &str) -> Location {
        let document = self.doc(doc);
        match document.text().and_then(|text| text.find(needle)) {
            Some(offset) => document.location_at(offset),
            None => Location::file_only(&document.display),
        }
    }
}

/// What a JSON value is, for a diagnostic that says what a spec wrote where it should not.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Media types in the order api2mcp prefers to send them (and reads a response's schema from).
pub fn media_rank(media_type: &str) -> u8 {
    let media_type = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media_type == "application/json" {
        0
    } else if media_type.ends_with("+json") || media_type.ends_with("/json") {
        1
    } else if media_type == "application/x-www-form-urlencoded" {
        2
    } else if media_type == "multipart/form-data" {
        3
    } else if media_type.starts_with("text/") {
        4
    } else {
        5
    }
}

/// The media type of a `content` map that api2mcp sends or reads, with its entry.
pub fn preferred_media(content: &Map<String, Value>) -> Option<(&String, &Value)> {
    content.iter().min_by_key(|(media_type, _)| media_rank(media_type))
}

pub fn locate_in_text(display: &str, text: Option<&str>, needle: &str) -> Location {
    match text.and_then(|text| Some((text, text.find(needle)?))) {
        Some((text, offset)) => location_at(display, text, offset),
        None => Location::file_only(display),
    }
}

/// `file:line:col` of a byte offset in a document's text.
pub fn location_at(display: &str, text: &str, offset: usize) -> Location {
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = text[line_start..offset].chars().count() as u32 + 1;
    Location { file: display.to_string(), line, column }
}

/// A `$ref` fragment is a JSON pointer that may be percent-encoded (`%7B`), as RFC 3986 fragments are.
fn decode_fragment(fragment: &str) -> String {
    if fragment.contains('%') {
        percent_encoding::percent_decode_str(fragment).decode_utf8_lossy().into_owned()
    } else {
        fragment.to_string()
    }
}

/// Renders a JSON pointer in the user's terms: `/paths/~1pets/get` → `paths./pets.get`.
pub fn readable_pointer(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Escapes one key for a JSON pointer.
pub fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(url: &str, value: Value) -> Document {
        Document::new(url::Url::parse(url).unwrap(), url.to_string(), value, SourceText::held(String::new()))
    }

    #[test]
    fn resolves_local_external_and_encoded_refs() {
        let spec = Spec::new(
            vec![
                document(
                    "file:///spec/root.yaml",
                    json!({"components": {"schemas": {"Pet": {"type": "object"}}}, "paths": {"/a/{id}": {"x": 1}}}),
                ),
                document("file:///spec/common/defs.yaml", json!({"Error": {"type": "string"}})),
            ],
            SpecVersion::OpenApi30,
        );
        let (doc, value, pointer) = spec.resolve_ref(ROOT, "#/components/schemas/Pet").unwrap();
        assert_eq!((doc, value, pointer.as_str()), (ROOT, &json!({"type": "object"}), "/components/schemas/Pet"));
        let (doc, value, _) = spec.resolve_ref(ROOT, "common/defs.yaml#/Error").unwrap();
        assert_eq!((doc, value), (DocId(1), &json!({"type": "string"})));
        let (_, value, _) = spec.resolve_ref(ROOT, "#/paths/~1a~1%7Bid%7D/x").unwrap();
        assert_eq!(value, &json!(1));
        assert!(matches!(spec.resolve_ref(ROOT, "#/components/schemas/Nope"), Err(RefError::MissingTarget { .. })));
        assert!(matches!(spec.resolve_ref(ROOT, "other.yaml#/x"), Err(RefError::MissingDocument { .. })));
    }

    #[test]
    fn deref_detects_endless_chains() {
        let spec = Spec::new(
            vec![document("file:///r.json", json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}}))],
            SpecVersion::OpenApi31,
        );
        let start = json!({"$ref": "#/a"});
        assert!(matches!(spec.deref(ROOT, &start), Err(RefError::Chain { .. })));
    }

    #[test]
    fn locates_text_line_and_column() {
        let location = locate_in_text("s.yaml", Some("a: 1\nb:\n  $ref: '#/x'\n"), "#/x");
        assert_eq!((location.line, location.column), (3, 10));
        assert_eq!(readable_pointer("/paths/~1pets~1{id}/get"), "paths./pets/{id}.get");
    }
}
