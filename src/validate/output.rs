//! Checks of output shaping and pagination settings against the spec: that the request parameters and
//! response fields they name exist. The settings themselves (JSONPath and template syntax, what each
//! pagination style needs) are checked where they are compiled (`compile/output.rs`).

use serde_json::Value;

use super::locate;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::load::MappingSource;
use crate::mapping::{OutputConfig, PaginationConfig};
use crate::spec::{Operation, Spec};

pub fn check_pagination(
    pagination: &PaginationConfig,
    spec: &Spec,
    operation: &Operation<'_>,
    tool_key: &str,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    let parameter_names = request_parameter_names(spec, operation);
    for (setting, value) in [
        ("cursor_param", &pagination.cursor_param),
        ("offset_param", &pagination.offset_param),
        ("limit_param", &pagination.limit_param),
        ("page_param", &pagination.page_param),
    ] {
        if let Some(name) = value
            && !parameter_names.iter().any(|p| p == name)
        {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/unknown-parameter",
                    format!(
                        "tool '{tool_key}': pagination.{setting} '{name}' is not a parameter of {}",
                        operation.method_and_path()
                    ),
                )
                .at(locate(source, &format!("{pointer}/{setting}")))
                .maybe_help(did_you_mean(name, parameter_names.iter().map(String::as_str))),
            );
        }
    }
    let response_fields = response_top_level_fields(spec, operation);
    for (setting, value) in [
        ("items", &pagination.items),
        ("next_cursor", &pagination.next_cursor),
        ("has_more", &pagination.has_more),
        ("next_url", &pagination.next_url),
    ] {
        // A path that does not parse is reported where it is compiled (`compile/output.rs`); the
        // member names read off its text would mean nothing.
        let Some(path) = value.as_deref().filter(|path| serde_json_path::JsonPath::parse(path).is_ok()) else {
            continue;
        };
        let setting_pointer = format!("{pointer}/{setting}");
        if let (Some(fields), Some(first)) = (&response_fields, first_member(path))
            && !fields.iter().any(|f| f == first)
        {
            diagnostics.push(
                Diagnostic::error("mapping/unknown-response-field", format!("tool '{tool_key}': pagination.{setting} '{path}' names '{first}', which the success response schema of {} does not have", operation.method_and_path()))
                    .at(locate(source, &setting_pointer))
                    .maybe_help(did_you_mean(first, fields.iter().map(String::as_str))),
            );
        }
    }
}

/// The first member name of a simple JSONPath: `$.data[-1].id` → `data`, `$['next']` → `next`.
fn first_member(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("$.").or_else(|| path.strip_prefix("$['"))?;
    let end = rest.find(['.', '[', '\'']).unwrap_or(rest.len());
    let member = &rest[..end];
    (!member.is_empty() && member != "*").then_some(member)
}

fn request_parameter_names(spec: &Spec, operation: &Operation<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for (doc, list) in [
        (operation.path_item_doc, operation.path_item.get("parameters")),
        (operation.operation_doc, operation.operation.get("parameters")),
    ] {
        for raw in list.and_then(Value::as_array).into_iter().flatten() {
            if let Ok((_, parameter)) = spec.deref(doc, raw)
                && let Some(name) = parameter.get("name").and_then(Value::as_str)
            {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Top-level property names of the lowest 2xx JSON response, when the schema is a closed-enough object
/// to judge (has `properties`, is not a composition).
fn response_top_level_fields(spec: &Spec, operation: &Operation<'_>) -> Option<Vec<String>> {
    let compiled = crate::compile::paging::response_schema(spec, operation, 1)?;
    if compiled.get("anyOf").is_some() || compiled.get("oneOf").is_some() || compiled.get("allOf").is_some() {
        return None;
    }
    Some(compiled.get("properties")?.as_object()?.keys().cloned().collect())
}

/// Warns about `fields`, `exclude` and `rename` paths that the success response schema does not have
/// (a warning: specs are often incomplete, and the upstream may send more than it declares).
#[allow(clippy::too_many_arguments)]
pub fn check_fields(
    output: &OutputConfig,
    pagination: Option<&PaginationConfig>,
    spec: &Spec,
    operation: &Operation<'_>,
    tool_key: &str,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    use crate::shape::schema::{ResultShape, check_path, shaped_subject};
    let Some(response) = crate::compile::paging::response_schema(spec, operation, 8) else { return };
    let shape = match pagination {
        Some(pagination) => ResultShape::Paginated { items: pagination.items.as_deref() },
        None => ResultShape::Single,
    };
    let Some(subject) = shaped_subject(&response, output.select.as_deref(), shape) else { return };
    let lists: [(&str, Vec<&String>); 3] = [
        ("fields", output.fields.iter().flatten().collect()),
        ("exclude", output.exclude.iter().collect()),
        ("rename", output.rename.keys().collect()),
    ];
    for (setting, paths) in lists {
        for (index, path) in paths.into_iter().enumerate() {
            // An invalid path is an error of its own (compile/output.rs), not also an unknown field.
            if !crate::shape::is_field_path(path) {
                continue;
            }
            let steps = crate::shape::split_path(path);
            if let Some(Err(known)) = check_path(&subject, &steps) {
                let at = if setting == "rename" {
                    format!("{pointer}/rename")
                } else {
                    format!("{pointer}/{setting}/{index}")
                };
                let last = steps.iter().rev().find(|s| !known.contains(s)).map(String::as_str).unwrap_or(path);
                diagnostics.push(
                    Diagnostic::warning(
                        "mapping/unknown-field",
                        format!(
                            "tool '{tool_key}': output.{setting} '{path}' is not a field of what {} returns",
                            operation.method_and_path()
                        ),
                    )
                    .at(locate(source, &at))
                    .maybe_help(did_you_mean(last, known.iter().map(String::as_str))),
                );
            }
        }
    }
}
