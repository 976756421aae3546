//! Reads the mapping file: YAML with positions → `${VAR}` interpolation → typed [`MappingFile`], every
//! error located at `file:line:col`.
//!
//! Each upstream and each tool entry is deserialized on its own, so one run reports a mistake in every
//! entry rather than stopping at the first, as serde would.

use std::collections::HashSet;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::env::{Environment, interpolate};
use super::yaml::{self, SpanIndex};
use crate::diag::{Diagnostic, Diagnostics, Location, did_you_mean};
use crate::mapping::{MappingFile, ToolConfig, UpstreamConfig};
use crate::spec::pointer_segment;

/// The mapping file's text and where each node sits in it.
#[derive(Debug)]
pub struct MappingSource {
    pub display: String,
    pub text: String,
    pub spans: SpanIndex,
    /// JSON pointers of values that came from `${file:...}`: never shown in output.
    pub secret_pointers: HashSet<String>,
}

impl MappingSource {
    /// Location of a node (or its nearest ancestor) by JSON pointer.
    pub fn locate(&self, pointer: &str) -> Location {
        match self.spans.nearest(pointer) {
            Some(position) => Location { file: self.display.clone(), line: position.line, column: position.column },
            None => Location::file_only(&self.display),
        }
    }

    /// Location of a mapping key (for "unknown name" diagnostics), else of the value.
    pub fn locate_key(&self, pointer: &str) -> Location {
        match self.spans.key_or_value(pointer).or_else(|| self.spans.nearest(pointer)) {
            Some(position) => Location { file: self.display.clone(), line: position.line, column: position.column },
            None => Location::file_only(&self.display),
        }
    }
}

pub fn load(path: &Path, env: &dyn Environment, diagnostics: &mut Diagnostics) -> Option<(MappingFile, MappingSource)> {
    let display = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            diagnostics.push(
                Diagnostic::error("mapping/unreadable", format!("cannot read mapping file '{display}': {error}"))
                    .at(Some(Location::file_only(&display))),
            );
            return None;
        }
    };
    let base_dir = std::path::absolute(path).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
    parse(&display, text, env, &base_dir, diagnostics)
}

pub fn parse(
    display: &str,
    text: String,
    env: &dyn Environment,
    base_dir: &Path,
    diagnostics: &mut Diagnostics,
) -> Option<(MappingFile, MappingSource)> {
    let (mut value, spans) = match yaml::parse(&text, true) {
        Ok(parsed) => parsed,
        Err(error) => {
            diagnostics.push(Diagnostic::error("mapping/syntax", format!("invalid YAML: {}", error.message)).at(Some(
                Location { file: display.to_string(), line: error.position.line, column: error.position.column },
            )));
            return None;
        }
    };
    let mut source = MappingSource { display: display.to_string(), text, spans, secret_pointers: HashSet::new() };
    if value.is_null() {
        value = Value::Object(Map::new());
    }
    // A variable that cannot be substituted is reported and its text left as written, so that the
    // rest of the file is still checked in this run.
    interpolate_values(&mut value, String::new(), env, base_dir, &mut source, diagnostics);
    let Value::Object(mut root) = value else {
        diagnostics.push(
            Diagnostic::error("mapping/invalid", "the mapping file must be a YAML mapping with an 'upstreams' key")
                .at(Some(source.locate(""))),
        );
        return None;
    };

    let raw_upstreams = root.remove("upstreams");
    let mut mapping: MappingFile = deserialize_part(Value::Object(root), "", &source, diagnostics).unwrap_or_default();
    match raw_upstreams {
        Some(Value::Object(upstreams)) => {
            for (name, raw_upstream) in upstreams {
                let pointer = format!("/upstreams/{}", pointer_segment(&name));
                if let Some(upstream) = deserialize_upstream(raw_upstream, &pointer, &source, diagnostics) {
                    mapping.upstreams.insert(name, upstream);
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => diagnostics.push(
            Diagnostic::error("mapping/invalid", "'upstreams' must be a mapping from upstream name to its settings")
                .at(Some(source.locate("/upstreams"))),
        ),
    }
    if mapping.upstreams.is_empty() && !diagnostics.has_errors() {
        diagnostics.push(
            Diagnostic::error("mapping/no-upstreams", "the mapping file declares no upstreams")
                .at(Some(source.locate("")))
                .with_help("add `upstreams: {my_api: {spec: ./openapi.yaml}}`"),
        );
    }
    if let Some(version) = mapping.version
        && version != 1
    {
        diagnostics.push(
            Diagnostic::error("mapping/version", format!("unknown mapping file version {version} (only 1 exists)"))
                .at(Some(source.locate("/version"))),
        );
    }
    Some((mapping, source))
}

fn deserialize_upstream(
    raw: Value,
    pointer: &str,
    source: &MappingSource,
    diagnostics: &mut Diagnostics,
) -> Option<UpstreamConfig> {
    let Value::Object(mut upstream_map) = raw else {
        diagnostics.push(
            Diagnostic::error("mapping/invalid", "an upstream must be a mapping with at least a 'spec' key")
                .at(Some(source.locate(pointer))),
        );
        return None;
    };
    let raw_tools = upstream_map.remove("tools");
    let upstream: Option<UpstreamConfig> = deserialize_part(Value::Object(upstream_map), pointer, source, diagnostics);
    let mut tools = indexmap::IndexMap::new();
    match raw_tools {
        Some(Value::Object(raw_tools)) => {
            for (key, raw_tool) in raw_tools {
                let tool_pointer = format!("{pointer}/tools/{}", pointer_segment(&key));
                // `listPets:` with nothing under it means "this operation, with defaults".
                let raw_tool = if raw_tool.is_null() { Value::Object(Map::new()) } else { raw_tool };
                if let Some(tool) = deserialize_part::<ToolConfig>(raw_tool, &tool_pointer, source, diagnostics) {
                    tools.insert(key, tool);
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => diagnostics.push(
            Diagnostic::error(
                "mapping/invalid",
                "'tools' must be a mapping from operationId (or `METHOD /path`) to tool settings",
            )
            .at(Some(source.locate(&format!("{pointer}/tools")))),
        ),
    }
    let mut upstream = upstream?;
    upstream.tools = tools;
    Some(upstream)
}

/// Deserializes one part of the file; on failure reports where, naming the field, with a did-you-mean
/// for misspelt field names.
fn deserialize_part<T: DeserializeOwned>(
    value: Value,
    pointer: &str,
    source: &MappingSource,
    diagnostics: &mut Diagnostics,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(parsed) => Some(parsed),
        Err(error) => {
            let mut error_pointer = pointer.to_string();
            for segment in error.path().iter() {
                use serde_path_to_error::Segment;
                match segment {
                    Segment::Seq { index } => error_pointer.push_str(&format!("/{index}")),
                    Segment::Map { key } | Segment::Enum { variant: key } => {
                        error_pointer.push('/');
                        error_pointer.push_str(&pointer_segment(key));
                    }
                    Segment::Unknown => {}
                }
            }
            let message = error.inner().to_string();
            let (location, help) = match unknown_field(&message) {
                Some((field, expected)) => {
                    let field_pointer = format!("{error_pointer}/{}", pointer_segment(&field));
                    (source.locate_key(&field_pointer), did_you_mean(&field, expected.iter().map(String::as_str)))
                }
                None => (source.locate(&error_pointer), None),
            };
            let place = crate::spec::readable_pointer(&error_pointer);
            let message = if place.is_empty() { message } else { format!("{place}: {message}") };
            diagnostics.push(Diagnostic::error("mapping/invalid", message).at(Some(location)).maybe_help(help));
            None
        }
    }
}

/// Picks the field name and the expected names out of serde's "unknown field `x`, expected one of `a`, `b`".
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).map(str::to_string).collect();
    Some((field.to_string(), expected))
}

fn interpolate_values(
    value: &mut Value,
    pointer: String,
    env: &dyn Environment,
    base_dir: &Path,
    source: &mut MappingSource,
    diagnostics: &mut Diagnostics,
) {
    match value {
        Value::String(text) if text.contains('$') => match interpolate(text, env, base_dir) {
            Ok(result) => {
                let plain = source.spans.get(&pointer).is_some_and(|info| info.plain_scalar);
                if result.secret {
                    source.secret_pointers.insert(pointer.clone());
                }
                // `port: ${PORT}` must become a number again, as if written unquoted; but an empty or
                // `null`-looking substitution stays a string, since the user wrote a value there.
                let resolved = (result.whole && plain).then(|| yaml::resolve_plain_scalar(&result.value));
                *value = match resolved {
                    Some(resolved @ (Value::Number(_) | Value::Bool(_))) => resolved,
                    _ => Value::String(result.value),
                };
            }
            Err(error) => {
                let help = matches!(error, super::env::InterpolationError::Unset { .. })
                    .then(|| "set it, or give a default with ${NAME:-default}".to_string());
                diagnostics.push(
                    Diagnostic::error("mapping/interpolation", error.to_string())
                        .at(Some(source.locate(&pointer)))
                        .maybe_help(help),
                );
            }
        },
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_values(item, format!("{pointer}/{index}"), env, base_dir, source, diagnostics);
            }
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let child_pointer = format!("{pointer}/{}", pointer_segment(key));
                interpolate_values(child, child_pointer, env, base_dir, source, diagnostics);
            }
        }
        _ => {}
    }
}
