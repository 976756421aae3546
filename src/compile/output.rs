//! The mapping's `output` and `pagination` settings compiled into `catalogue::output` types, once,
//! with their diagnostics: JSONPaths parsed (RFC 9535), the template compiled, the format decided,
//! dotted field paths and budgets checked, each pagination style's required settings present,
//! defaults applied, paging parameters bound to tool arguments. What cannot be compiled is left out of
//! the result and reported; a catalogue with errors is never served. Checks against the spec (fields
//! the response does not have, parameters the operation does not take) stay in `validate/output.rs`.

use serde_json_path::JsonPath;

use serde_json::{Map, Value};

use crate::catalogue::output::{
    Output, OutputFormat, Pagination, PaginationMode, PaginationStyle, Query, Select, Template,
};
use crate::catalogue::{ArgumentBinding, ArgumentLocation};
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::MappingSource;
use crate::mapping::{self, OutputConfig, PaginationConfig};

/// `collect`: pages fetched in one call when `max_pages` is not set.
pub const DEFAULT_MAX_PAGES: u64 = 10;

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
    let mut field_path = |at: String, field: &String| {
        let valid = crate::shape::is_field_path(field);
        if !valid {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-field-path",
                    format!("'{field}' is not a dotted field path like `owner.login`"),
                )
                .at(locate(source, &at)),
            );
        }
        valid.then(|| field.clone())
    };
    let fields: Vec<String> = config
        .fields
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, field)| field_path(format!("{pointer}/fields/{index}"), field))
        .collect();
    let exclude: Vec<String> = config
        .exclude
        .iter()
        .enumerate()
        .filter_map(|(index, field)| field_path(format!("{pointer}/exclude/{index}"), field))
        .collect();
    let rename: Vec<(String, String)> = config
        .rename
        .iter()
        .filter_map(|(path, name)| Some((field_path(format!("{pointer}/rename"), path)?, name.clone())))
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
        rename,
        drop_empty: config.drop_empty.unwrap_or(true),
        format,
        max_items: config.max_items,
        max_tokens: config.max_tokens,
    }
}

/// The JSONPaths of one `pagination` entry, parsed.
#[derive(Debug, Clone, Default)]
pub struct PagingQueries {
    pub items: Option<Query>,
    pub next_cursor: Option<Query>,
    pub has_more: Option<Query>,
    pub next_url: Option<Query>,
}

/// One `pagination` entry (at `pointer`, of tool entry `tool_key`) checked: its JSONPaths parsed and
/// the settings its style needs present. What the rest of the compiler needs to finish it (the
/// tool's arguments) comes later, in [`pagination`].
pub fn paging_queries(
    config: &PaginationConfig,
    tool_key: &str,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) -> PagingQueries {
    let (style_name, required): (&str, &[(&str, bool)]) = match config.style {
        mapping::PaginationStyle::Cursor => (
            "cursor",
            &[("cursor_param", config.cursor_param.is_some()), ("next_cursor", config.next_cursor.is_some())],
        ),
        mapping::PaginationStyle::Offset => ("offset", &[("offset_param", config.offset_param.is_some())]),
        mapping::PaginationStyle::Page => ("page", &[("page_param", config.page_param.is_some())]),
        mapping::PaginationStyle::NextUrl => ("next_url", &[("next_url", config.next_url.is_some())]),
        mapping::PaginationStyle::LinkHeader => ("link_header", &[]),
    };
    for (setting, present) in required {
        if !present {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/pagination-incomplete",
                    format!("tool '{tool_key}': pagination style `{style_name}` needs `{setting}`"),
                )
                .at(locate(source, pointer)),
            );
        }
    }
    let mut parse = |setting: &str, path: &Option<String>| {
        let path = path.as_deref()?;
        query(path, &format!("pagination.{setting}"), &format!("{pointer}/{setting}"), source, diagnostics)
    };
    PagingQueries {
        items: parse("items", &config.items),
        next_cursor: parse("next_cursor", &config.next_cursor),
        has_more: parse("has_more", &config.has_more),
        next_url: parse("next_url", &config.next_url),
    }
}

/// A paged tool's [`Pagination`]: `config` with its parsed `queries`, defaults applied, and the
/// upstream's paging parameters bound to the tool's arguments (`bindings`, as sent).
pub fn pagination(
    config: &PaginationConfig,
    queries: PagingQueries,
    bindings: &[ArgumentBinding],
    cursor_argument: String,
    first_values: Map<String, Value>,
    inferred: bool,
) -> Pagination {
    let argument = |param: &Option<String>| -> Option<String> {
        let param = param.as_deref()?;
        bindings
            .iter()
            .find(|b| b.wire_name == param && b.location != ArgumentLocation::Body)
            .map(|b| b.argument.clone())
    };
    let mode = match config.mode {
        mapping::PaginationMode::Agent => PaginationMode::Agent,
        mapping::PaginationMode::Collect => PaginationMode::Collect,
    };
    Pagination {
        style: match config.style {
            mapping::PaginationStyle::Cursor => PaginationStyle::Cursor,
            mapping::PaginationStyle::Offset => PaginationStyle::Offset,
            mapping::PaginationStyle::Page => PaginationStyle::Page,
            mapping::PaginationStyle::LinkHeader => PaginationStyle::LinkHeader,
            mapping::PaginationStyle::NextUrl => PaginationStyle::NextUrl,
        },
        mode,
        items: queries.items,
        next_cursor: queries.next_cursor,
        has_more: queries.has_more,
        next_url: queries.next_url,
        cursor_arg: argument(&config.cursor_param),
        offset_arg: argument(&config.offset_param),
        page_arg: argument(&config.page_param),
        limit_arg: argument(&config.limit_param),
        cursor_param: config.cursor_param.clone(),
        offset_param: config.offset_param.clone(),
        page_param: config.page_param.clone(),
        limit_param: config.limit_param.clone(),
        first_page: config.first_page.unwrap_or(1),
        page_size: config.page_size,
        max_pages: match mode {
            PaginationMode::Agent => 1,
            PaginationMode::Collect => config.max_pages.unwrap_or(DEFAULT_MAX_PAGES).max(1),
        },
        max_items: config.max_items.map(|m| usize::try_from(m).unwrap_or(usize::MAX)),
        cursor_argument,
        inferred,
        first_values,
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
        let (output, problems) = compile(
            json!({"fields": ["a..b", "id"], "exclude": [".x"], "rename": {"y.": "z", "w": "v"}, "max_items": 0}),
        );
        assert_eq!(output.fields, ["id"]);
        assert!(output.exclude.is_empty());
        assert_eq!(output.rename, [("w".to_string(), "v".to_string())]);
        assert_eq!(
            problems,
            [
                "mapping/invalid-field-path: 'a..b' is not a dotted field path like `owner.login`",
                "mapping/invalid-field-path: '.x' is not a dotted field path like `owner.login`",
                "mapping/invalid-field-path: 'y.' is not a dotted field path like `owner.login`",
                "mapping/invalid: output.max_items must be at least 1",
            ]
        );
    }

    fn paging(value: serde_json::Value) -> (PagingQueries, Vec<String>) {
        let config: PaginationConfig = serde_json::from_value(value).expect("test config deserialises");
        let mut diagnostics = Diagnostics::new();
        let queries = paging_queries(&config, "list", "/pagination", None, &mut diagnostics);
        (queries, diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect())
    }

    #[test]
    fn pagination_paths_are_parsed_and_bad_ones_reported() {
        let (queries, problems) = paging(json!({
            "style": "cursor", "cursor_param": "c", "next_cursor": "$.next[", "items": "$.data", "has_more": "$.more"
        }));
        assert!(queries.next_cursor.is_none());
        assert_eq!(queries.items.map(|q| q.text).as_deref(), Some("$.data"));
        assert!(queries.has_more.is_some());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("mapping/invalid-jsonpath: pagination.next_cursor '$.next[' is not a valid JSONPath"),
            "{problems:?}"
        );
    }

    #[test]
    fn each_style_needs_its_settings() {
        let (_, problems) = paging(json!({"style": "cursor"}));
        assert_eq!(
            problems,
            [
                "mapping/pagination-incomplete: tool 'list': pagination style `cursor` needs `cursor_param`",
                "mapping/pagination-incomplete: tool 'list': pagination style `cursor` needs `next_cursor`",
            ]
        );
        for (style, setting) in [("offset", "offset_param"), ("page", "page_param"), ("next_url", "next_url")] {
            let (_, problems) = paging(json!({"style": style}));
            assert_eq!(
                problems,
                [format!("mapping/pagination-incomplete: tool 'list': pagination style `{style}` needs `{setting}`")]
            );
        }
        assert!(paging(json!({"style": "link_header"})).1.is_empty());
    }

    #[test]
    fn pagination_binds_parameters_to_arguments_and_applies_defaults() {
        use crate::catalogue::ParameterStyle;
        let binding = |argument: &str, wire_name: &str, location| ArgumentBinding {
            argument: argument.to_string(),
            location,
            wire_name: wire_name.to_string(),
            required: false,
            style: ParameterStyle::Form,
            explode: true,
            allow_reserved: false,
        };
        let bindings = [
            binding("page_number", "page", ArgumentLocation::Query),
            binding("per_page", "per_page", ArgumentLocation::Query),
            binding("body_page", "offset", ArgumentLocation::Body),
        ];
        let config: PaginationConfig = serde_json::from_value(json!({
            "style": "page", "page_param": "page", "limit_param": "per_page", "offset_param": "offset", "mode": "collect"
        }))
        .unwrap();
        let compiled = pagination(&config, PagingQueries::default(), &bindings, "cursor".into(), Map::new(), false);
        assert_eq!(compiled.page_arg.as_deref(), Some("page_number"));
        assert_eq!(compiled.limit_arg.as_deref(), Some("per_page"));
        assert_eq!(compiled.offset_arg, None, "a body property is not a paging parameter");
        assert_eq!((compiled.first_page, compiled.max_pages, compiled.max_items), (1, DEFAULT_MAX_PAGES, None));
        assert_eq!(compiled.describe(), "page page/per_page (collect)");
        let agent: PaginationConfig = serde_json::from_value(json!({"style": "link_header", "max_pages": 5})).unwrap();
        let compiled = pagination(&agent, PagingQueries::default(), &bindings, "cursor".into(), Map::new(), true);
        assert_eq!(compiled.max_pages, 1, "agent mode fetches one page per call");
    }
}
