//! The mapping's `output` settings compiled into [`catalogue::output::Output`], once, with their
//! diagnostics: JSONPaths parsed (RFC 9535), the template compiled, the format decided, dotted field
//! paths and budgets checked. What cannot be compiled is left out of the result and reported; a
//! catalogue with errors is never served. Checks against the spec (fields the response does not
//! have) stay in `validate/output.rs`.

use serde_json_path::JsonPath;

use crate::catalogue::output::{Output, OutputFormat, Query, Select, Template};
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::MappingSource;
use crate::mapping::{self, OutputConfig};

/// `what` at `pointer` parsed as a JSONPath, or `mapping/invalid-jsonpath` reported and `None`.
pub fn query(
    path: &str,
    what: &str,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) -> Option<Query> {
    match JsonPath::parse(path) {
        Ok(parsed) => Some(Query { text: path.to_string(), path: parsed }),
        Err(error) => {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-jsonpath",
                    format!("{what} '{path}' is not a valid JSONPath: {error}"),
                )
                .at(locate(source, pointer))
                .with_help("JSONPath starts with `$`, e.g. `$.data[*]` or `$.next_cursor`"),
            );
            None
        }
    }
}

/// One `output` entry (at `pointer` in the mapping file) compiled.
pub fn output(
    config: &OutputConfig,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) -> Output {
    let select = config.select.as_deref().and_then(|path| {
        let query = query(path, "output.select", &format!("{pointer}/select"), source, diagnostics)?;
        Some(Select { singular: crate::shape::is_singular(path), query })
    });
    // A template without `format` means `format: template`; an explicit json/table wins over a stray
    // template (reported: `mapping/conflicting-format`).
    let format = match (config.format, &config.template) {
        (Some(mapping::OutputFormat::Template), None) => {
            diagnostics.push(
                Diagnostic::error("mapping/missing-template", "output.format is `template` but no `template` is given")
                    .at(locate(source, &format!("{pointer}/format"))),
            );
            mapping::OutputFormat::Json
        }
        (Some(format), Some(_)) if format != mapping::OutputFormat::Template => {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/conflicting-format",
                    "output.template is given but output.format is not `template`",
                )
                .at(locate(source, &format!("{pointer}/template")))
                .with_help("remove `format`, or set `format: template`"),
            );
            format
        }
        (Some(format), _) => format,
        (None, Some(_)) => mapping::OutputFormat::Template,
        (None, None) => mapping::OutputFormat::Json,
    };
    // The template is compiled (and its errors reported) even when another format wins.
    let template = config.template.as_deref().and_then(|template| match Template::compile(template) {
        Ok(compiled) => Some(compiled),
        Err(error) => {
            let line = error.line().map(|l| format!(" (template line {l})")).unwrap_or_default();
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-template",
                    format!("output.template does not compile{line}: {}", error.detail().unwrap_or("syntax error")),
                )
                .at(locate(source, &format!("{pointer}/template"))),
            );
            None
        }
    });
    let format = match format {
        mapping::OutputFormat::Json => OutputFormat::Json,
        mapping::OutputFormat::Table => OutputFormat::Table,
        // A template that did not compile was reported above.
        mapping::OutputFormat::Template => template.map_or(OutputFormat::Json, OutputFormat::Template),
    };
    let mut field_path = |index: usize, field: &String| {
        let valid = !(field.is_empty() || field.starts_with('.') || field.ends_with('.') || field.contains(".."));
        if !valid {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-field-path",
                    format!("'{field}' is not a dotted field path like `owner.login`"),
                )
                .at(locate(source, &format!("{pointer}/fields/{index}"))),
            );
        }
        valid.then(|| field.clone())
    };
    let fields_count = config.fields.as_ref().map_or(0, Vec::len);
    let fields: Vec<String> =
        config.fields.iter().flatten().enumerate().filter_map(|(index, field)| field_path(index, field)).collect();
    // `exclude` entries are numbered on from `fields`, under `fields/`: where `check` has always pointed
    // them (kept as it was when this check moved here from `validate/`).
    let exclude: Vec<String> = config
        .exclude
        .iter()
        .enumerate()
        .filter_map(|(index, field)| field_path(fields_count + index, field))
        .collect();
    for (key, limit) in [("max_items", config.max_items), ("max_tokens", config.max_tokens)] {
        if limit == Some(0) {
            diagnostics.push(
                Diagnostic::error("mapping/invalid", format!("output.{key} must be at least 1"))
                    .at(locate(source, &format!("{pointer}/{key}"))),
            );
        }
    }
    Output {
        select,
        fields,
        exclude,
        rename: config.rename.iter().map(|(path, name)| (path.clone(), name.clone())).collect(),
        drop_empty: config.drop_empty.unwrap_or(true),
        format,
        max_items: config.max_items,
        max_tokens: config.max_tokens,
    }
}

fn locate(source: Option<&MappingSource>, pointer: &str) -> Option<crate::diag::Location> {
    source.map(|s| s.locate(pointer))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(value: serde_json::Value) -> (Output, Vec<String>) {
        let config: OutputConfig = serde_json::from_value(value).expect("test config deserialises");
        let mut diagnostics = Diagnostics::new();
        let output = output(&config, "/output", None, &mut diagnostics);
        (output, diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect())
    }

    #[test]
    fn invalid_select_is_reported_with_its_path() {
        let (output, problems) = compile(json!({"select": "data[*"}));
        assert!(output.select.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("mapping/invalid-jsonpath: output.select 'data[*' is not a valid JSONPath: "),
            "{problems:?}"
        );
    }

    #[test]
    fn template_syntax_error_and_missing_template_are_refused() {
        let (output, problems) = compile(json!({"template": "{% for x in %}"}));
        assert!(matches!(output.format, OutputFormat::Json));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("mapping/invalid-template: output.template does not compile"), "{problems:?}");
        let (_, problems) = compile(json!({"format": "template"}));
        assert_eq!(problems, ["mapping/missing-template: output.format is `template` but no `template` is given"]);
    }

    #[test]
    fn a_valid_output_compiles_without_diagnostics() {
        let (output, problems) = compile(json!({
            "select": "$.data[*]", "fields": ["id", "owner.login"], "exclude": ["x"], "rename": {"a": "b"},
            "drop_empty": false, "template": "{{ response }}", "max_items": 3
        }));
        assert!(problems.is_empty(), "{problems:?}");
        let select = output.select.expect("select compiled");
        assert_eq!(select.query.text, "$.data[*]");
        assert!(!select.singular);
        assert_eq!(output.fields, ["id", "owner.login"]);
        assert_eq!(output.rename, [("a".to_string(), "b".to_string())]);
        assert!(!output.drop_empty);
        assert!(matches!(output.format, OutputFormat::Template(_)));
        assert_eq!((output.max_items, output.max_tokens), (Some(3), None));
    }

    #[test]
    fn a_template_beside_another_format_is_a_conflict_and_the_format_wins() {
        let (output, problems) = compile(json!({"format": "table", "template": "{{ response }}"}));
        assert!(matches!(output.format, OutputFormat::Table));
        assert_eq!(
            problems,
            ["mapping/conflicting-format: output.template is given but output.format is not `template`"]
        );
    }

    #[test]
    fn bad_field_paths_and_zero_budgets_are_reported_and_left_out() {
        let (output, problems) = compile(json!({"fields": ["a..b", "id"], "exclude": [".x"], "max_items": 0}));
        assert_eq!(output.fields, ["id"]);
        assert!(output.exclude.is_empty());
        assert_eq!(
            problems,
            [
                "mapping/invalid-field-path: 'a..b' is not a dotted field path like `owner.login`",
                "mapping/invalid-field-path: '.x' is not a dotted field path like `owner.login`",
                "mapping/invalid: output.max_items must be at least 1",
            ]
        );
    }
}
