//! Enumerates the operations of a spec in document order: `paths` → path item (possibly a `$ref`) →
//! method → operation (possibly a `$ref`, as DigitalOcean's description does). Webhooks and callbacks
//! are not operations a client can call, so they are not listed.

use serde_json::{Map, Value};

use super::{DocId, RefError, Spec, pointer_segment};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Options,
    Head,
    Patch,
    Trace,
}

impl HttpMethod {
    pub const ALL: [HttpMethod; 8] = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Options,
        HttpMethod::Head,
        HttpMethod::Patch,
        HttpMethod::Trace,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|method| method.lower().eq_ignore_ascii_case(text))
    }

    pub fn lower(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Put => "put",
            HttpMethod::Post => "post",
            HttpMethod::Delete => "delete",
            HttpMethod::Options => "options",
            HttpMethod::Head => "head",
            HttpMethod::Patch => "patch",
            HttpMethod::Trace => "trace",
        }
    }

    pub fn upper(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Head => "HEAD",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Trace => "TRACE",
        }
    }
}

/// One operation, with the path item it belongs to (whose `parameters` apply to it too).
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    pub method: HttpMethod,
    pub path: &'a str,
    pub operation_doc: DocId,
    pub operation: &'a Map<String, Value>,
    pub path_item_doc: DocId,
    pub path_item: &'a Map<String, Value>,
    /// `paths./pets.get`: how diagnostics and reports name the operation inside the spec.
    pub pointer: String,
}

impl<'a> Operation<'a> {
    pub fn operation_id(&self) -> Option<&'a str> {
        self.operation.get("operationId").and_then(Value::as_str).filter(|id| !id.is_empty())
    }

    /// `GET /pets/{id}`: the key a mapping file may use for operations without an operationId.
    pub fn method_and_path(&self) -> String {
        format!("{} {}", self.method.upper(), self.path)
    }

    pub fn tags(&self) -> impl Iterator<Item = &'a str> {
        self.operation.get("tags").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    }

    pub fn summary(&self) -> Option<&'a str> {
        self.operation.get("summary").and_then(Value::as_str)
    }

    pub fn description(&self) -> Option<&'a str> {
        self.operation.get("description").and_then(Value::as_str)
    }

    /// Where the operation is written: its `operationId` value, else its path key, else the file.
    /// Costs a scan of the document the first time (see `TextIndex`): call it only for a diagnostic.
    pub fn location(&self, spec: &Spec) -> crate::diag::Location {
        let document = spec.doc(self.operation_doc);
        let offset = self
            .operation_id()
            .and_then(|id| document.text_index().operation_id(id))
            .or_else(|| document.text()?.find(self.path));
        match offset {
            Some(offset) => document.location_at(offset),
            None => crate::diag::Location::file_only(&document.display),
        }
    }

    pub fn deprecated(&self) -> bool {
        self.operation.get("deprecated").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// A path item or operation that could not be read; listed so that `check` can report it.
#[derive(Debug, Clone)]
pub struct OperationProblem {
    pub pointer: String,
    /// The path key, to find where the problem is written.
    pub path: String,
    pub error: OperationError,
}

/// Why a path item or an operation is not one: the compile reports it, never leaves it out silently.
#[derive(Debug, Clone)]
pub enum OperationError {
    /// Its `$ref` could not be followed.
    Ref(RefError),
    /// It is (or its `$ref` names) a value that is not an object: what it is (`a string`, `null`...)
    /// and what it should be (`a path item object`, `an operation object`).
    NotAnObject { kind: &'static str, expected: &'static str },
}

impl Spec {
    pub fn operations(&self) -> (Vec<Operation<'_>>, Vec<OperationProblem>) {
        let mut operations = Vec::new();
        let mut problems = Vec::new();
        let Some(paths) = self.root().get("paths").and_then(Value::as_object) else {
            return (operations, problems);
        };
        for (path, raw_path_item) in paths {
            self.path_operations(path, raw_path_item, &mut operations, &mut problems);
        }
        (operations, problems)
    }

    /// The operations of one path key, as [`Spec::operations`] lists them.
    pub fn operations_of_path(&self, path: &str) -> Vec<Operation<'_>> {
        let mut operations = Vec::new();
        let paths = self.root().get("paths").and_then(Value::as_object);
        if let Some((path, raw_path_item)) = paths.and_then(|paths| paths.get_key_value(path)) {
            self.path_operations(path, raw_path_item, &mut operations, &mut Vec::new());
        }
        operations
    }

    fn path_operations<'a>(
        &'a self,
        path: &'a str,
        raw_path_item: &'a Value,
        operations: &mut Vec<Operation<'a>>,
        problems: &mut Vec<OperationProblem>,
    ) {
        if !path.starts_with('/') {
            // `x-` extensions at the paths level are not paths.
            return;
        }
        let path_pointer = format!("/paths/{}", pointer_segment(path));
        let (path_item_doc, path_item) = match self.deref(super::ROOT, raw_path_item) {
            Ok((doc, Value::Object(map))) => (doc, map),
            Ok((_, other)) => {
                let error =
                    OperationError::NotAnObject { kind: super::json_kind(other), expected: "a path item object" };
                problems.push(OperationProblem { pointer: path_pointer, path: path.to_string(), error });
                return;
            }
            Err(error) => {
                problems.push(OperationProblem {
                    pointer: path_pointer,
                    path: path.to_string(),
                    error: OperationError::Ref(error),
                });
                return;
            }
        };
        for (key, raw_operation) in path_item {
            let Some(method) = HttpMethod::parse(key) else {
                continue;
            };
            let pointer = format!("{path_pointer}/{key}");
            match self.deref(path_item_doc, raw_operation) {
                Ok((operation_doc, Value::Object(operation))) => operations.push(Operation {
                    method,
                    path,
                    operation_doc,
                    operation,
                    path_item_doc,
                    path_item,
                    pointer: super::readable_pointer(&pointer),
                }),
                Ok((_, other)) => problems.push(OperationProblem {
                    pointer,
                    path: path.to_string(),
                    error: OperationError::NotAnObject {
                        kind: super::json_kind(other),
                        expected: "an operation object",
                    },
                }),
                Err(error) => problems.push(OperationProblem {
                    pointer,
                    path: path.to_string(),
                    error: OperationError::Ref(error),
                }),
            }
        }
    }

    /// In one walk of every document: whether any `$ref` points into a `paths` entry
    /// (`#/paths/~1pets/get/...`: then no path item may be released), and how many `$ref`s name each
    /// document from another one (or from itself by its own name).
    pub fn reference_facts(&self) -> (bool, Vec<usize>) {
        let mut into_paths = false;
        let mut counts = vec![0; self.documents.len()];
        for document in &self.documents {
            let mut stack = vec![&document.value];
            while let Some(value) = stack.pop() {
                match value {
                    Value::Object(map) => {
                        for (key, child) in map {
                            match (key.as_str(), child) {
                                ("$ref", Value::String(reference)) => {
                                    into_paths |= reference.contains("#/paths");
                                    let document_part = reference.split('#').next().unwrap_or_default();
                                    if document_part.is_empty() {
                                        continue;
                                    }
                                    let target = document.url.join(document_part).ok().and_then(|mut url| {
                                        url.set_fragment(None);
                                        self.doc_id(&url)
                                    });
                                    if let Some(target) = target {
                                        counts[target.0 as usize] += 1;
                                    }
                                }
                                _ => stack.push(child),
                            }
                        }
                    }
                    Value::Array(items) => stack.extend(items),
                    _ => {}
                }
            }
        }
        (into_paths, counts)
    }

    /// Lets go of a whole document (not the root) that only one operation's or path item's `$ref`
    /// names, once that operation's tool is built: a description split into a file per operation
    /// (DigitalOcean's) holds a quarter of itself in them.
    pub fn release_document(&mut self, doc: DocId) {
        if doc != super::ROOT {
            self.documents[doc.0 as usize].value = Value::Null;
        }
    }

    /// Lets go of a path item written in the root document once its tools are built (issue 17 item
    /// 10: a spec's paths are most of it, and the catalogue grows into what they free). Only for a
    /// spec of which [`Spec::reference_facts`] finds no `$ref` into `paths`; the key stays, with `null`, which
    /// [`Spec::operations`] reads as no operations. A path item that is a `$ref` stays.
    pub fn release_path_item(&mut self, path: &str) {
        let Some(Value::Object(paths)) = self.documents[0].value.get_mut("paths") else { return };
        if let Some(item) = paths.get_mut(path)
            && !item.get("$ref").is_some_and(Value::is_string)
        {
            *item = Value::Null;
        }
    }
}
