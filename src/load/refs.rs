//! Loads every document that a spec reaches through `$ref`s to other files or URLs, breadth first, each
//! once (cycles between files are fine: a document already loaded is not fetched again).
//!
//! A spec is third-party text, so its references are not followed anywhere they point
//! (`specs/tool-generation.md`, "Loading"): a remote document's `$ref`s are fetched only from its own
//! origin or an origin the upstream's `ref_origins` allows (redirects stay on the origin asked), and
//! only a local document may refer to local files. Each fetch has the size and time limits of
//! [`super::fetch`].

use std::collections::{HashMap, VecDeque};

use serde_json::Value;
use url::Url;

use super::fetch::Fetcher;
use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::{Document, locate_in_text};

pub async fn load_referenced(
    root: Document,
    fetcher: &mut Fetcher,
    ref_origins: &[url::Origin],
    diagnostics: &mut Diagnostics,
) -> (Vec<Document>, Vec<bool>, bool) {
    let mut documents = vec![root];
    // Each document's position by URL, and whether its top-level keys are keywords (see
    // `extensions::drop_unread`): the root's are; a file's are when every `$ref` to it stands where
    // a schema, an operation or another keyword object does.
    let mut known: HashMap<String, usize> = HashMap::from([(documents[0].url.to_string(), 0)]);
    let mut keyword_roots = vec![true];
    // The `$ref`s inside extensions that will be let go (`super::extensions`) are not followed: what
    // they name is never read (DigitalOcean's `x-codeSamples` name 1,379 files). Unless a `$ref`
    // points into an extension, which keeps them all: then they are followed too.
    let mut state = (&mut documents, &mut known, &mut keyword_roots);
    let refs_into_extensions = follow(&mut state, Refs::OutsideUnread, fetcher, ref_origins, diagnostics).await;
    if refs_into_extensions {
        follow(&mut state, Refs::InsideUnread, fetcher, ref_origins, diagnostics).await;
    }
    (documents, keyword_roots, refs_into_extensions)
}

/// The documents loaded so far, their positions by URL, and whether their top-level keys are keywords.
type Loaded<'a> = (&'a mut Vec<Document>, &'a mut HashMap<String, usize>, &'a mut Vec<bool>);

/// Which `$ref`s of the documents loaded so far a pass follows.
#[derive(Clone, Copy, PartialEq)]
enum Refs {
    OutsideUnread,
    /// Those the first pass left: inside the unread extensions (every one, in a document loaded now).
    InsideUnread,
}

async fn follow(
    (documents, known, keyword_roots): &mut Loaded<'_>,
    pass: Refs,
    fetcher: &mut Fetcher,
    ref_origins: &[url::Origin],
    diagnostics: &mut Diagnostics,
) -> bool {
    let mut below_top = false;
    // The `$ref`s to an `x-` key at the top of a document, by the document they name: an extension
    // if that document's top-level keys are keywords, known when every document has been walked.
    let mut at_top: Vec<AtTop> = Vec::new();
    let scanned = documents.len();
    let mut queue: VecDeque<usize> = (0..documents.len()).collect();
    // Whether this pass has walked each document: one walked as a document of keywords, whose
    // top-level `x-` keys it passed over, is walked again if a later `$ref` finds its keys are names.
    let mut walked = vec![false; documents.len()];
    while let Some(index) = queue.pop_front() {
        walked[index] = true;
        let mut wanted: Vec<(Url, String, bool)> = Vec::new();
        {
            let document = &documents[index];
            let mut into_extension = super::extensions::RefsIntoExtensions::default();
            let outside = super::extensions::external_refs_outside_unread(
                &document.value,
                keyword_roots[index],
                &mut into_extension,
            );
            below_top |= into_extension.below_top;
            at_top.extend(into_extension.at_top.iter().map(|reference| match reference.split_once('#') {
                Some(("", _)) => AtTop::Document(index),
                _ => AtTop::Url(document.url.join(reference).map_or_else(
                    |_| String::new(),
                    |mut url| {
                        url.set_fragment(None);
                        url.to_string()
                    },
                )),
            }));
            let references: Vec<(&str, bool)> = match pass {
                Refs::OutsideUnread => outside,
                // Inside extensions: their targets' keys are kept whole (names).
                Refs::InsideUnread if index >= scanned => {
                    external_refs(&document.value).into_iter().map(|r| (r, false)).collect()
                }
                Refs::InsideUnread => (external_refs(&document.value).into_iter())
                    .filter(|r| !outside.iter().any(|(o, _)| o == r))
                    .map(|r| (r, false))
                    .collect(),
            };
            for (reference, keyword_target) in references {
                let document_part = reference.split('#').next().unwrap_or_default();
                let mut target = match document.url.join(document_part) {
                    Ok(url) => url,
                    Err(error) => {
                        diagnostics.push(
                            Diagnostic::error(
                                "spec/invalid-ref",
                                format!("$ref '{reference}' is not a valid reference: {error}"),
                            )
                            .at(Some(locate_in_text(
                                &document.display,
                                document.text(),
                                reference,
                            ))),
                        );
                        continue;
                    }
                };
                target.set_fragment(None);
                if let Err(why) = allowed(&document.url, &target, ref_origins) {
                    diagnostics.push(
                        Diagnostic::error("spec/ref-not-allowed", format!("$ref '{reference}' not followed: {why}"))
                            .at(Some(locate_in_text(&document.display, document.text(), reference)))
                            .with_help("list the origin in the upstream's `ref_origins` if the spec may load from it"),
                    );
                    continue;
                }
                match known.get(target.as_str()) {
                    // Loaded, or about to be (`usize::MAX`; left so when it could not be read).
                    Some(&loaded) => match keyword_roots.get_mut(loaded) {
                        Some(keyword_root) => {
                            if *keyword_root && !keyword_target && walked[loaded] {
                                queue.push_back(loaded);
                            }
                            *keyword_root &= keyword_target;
                        }
                        None => {
                            if let Some(want) = wanted.iter_mut().find(|want| want.0 == target) {
                                want.2 &= keyword_target;
                            }
                        }
                    },
                    None => {
                        known.insert(target.to_string(), usize::MAX);
                        wanted.push((target, reference.to_string(), keyword_target));
                    }
                }
            }
        }
        for (url, reference, keyword_target) in wanted {
            match super::read_referenced_document(&url, fetcher, diagnostics).await {
                Ok(document) => {
                    documents.push(document);
                    keyword_roots.push(keyword_target);
                    walked.push(false);
                    known.insert(url.to_string(), documents.len() - 1);
                    queue.push_back(documents.len() - 1);
                }
                Err(message) => {
                    let referrer = &documents[index];
                    diagnostics.push(
                        Diagnostic::error("spec/unreadable", format!("{message} (referenced by $ref '{reference}')"))
                            .at(Some(locate_in_text(&referrer.display, referrer.text(), &reference))),
                    );
                }
            }
        }
    }
    let keywords = |index: usize| index == 0 || keyword_roots.get(index).copied().unwrap_or(false);
    below_top
        || at_top.iter().any(|target| match target {
            AtTop::Document(index) => keywords(*index),
            AtTop::Url(url) => known.get(url).is_some_and(|&index| keywords(index)),
        })
}

/// The document a `$ref` to a top-level `x-` key names.
enum AtTop {
    Document(usize),
    Url(String),
}

/// Whether `referrer` may make api2mcp read `target`.
fn allowed(referrer: &Url, target: &Url, ref_origins: &[url::Origin]) -> Result<(), String> {
    match (referrer.scheme(), target.scheme()) {
        ("file", "file") => Ok(()),
        (_, "file") => Err(format!(
            "a document fetched from {} may not refer to local files",
            referrer.origin().ascii_serialization()
        )),
        (_, "http" | "https") => {
            let origin = target.origin();
            if origin == referrer.origin() || ref_origins.contains(&origin) {
                Ok(())
            } else {
                let from = if referrer.scheme() == "file" {
                    "a local file".to_string()
                } else {
                    referrer.origin().ascii_serialization()
                };
                Err(format!(
                    "{} is not the origin of the document that refers to it ({from})",
                    origin.ascii_serialization()
                ))
            }
        }
        (_, scheme) => Err(format!("unsupported URL scheme '{scheme}'")),
    }
}

/// Every `$ref` string in a document that names another document (does not start with `#`).
fn external_refs(value: &Value) -> Vec<&str> {
    let mut found = Vec::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    if key == "$ref" {
                        if let Some(reference) = child.as_str()
                            && !reference.starts_with('#')
                        {
                            found.push(reference);
                        }
                    } else {
                        stack.push(child);
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    // The stack visits children in reverse; sort so that loading order (and so DocIds) is deterministic.
    found.sort_unstable();
    found.dedup();
    found
}
