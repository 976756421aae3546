//! Cross-reference checks of the mapping file against the loaded specs, all in one pass: every tool
//! entry names an operation, selectors are well formed and match something, names, URLs, headers
//! and pagination settings make sense. Settings compiled into runtime types (`auth`, `output`) are
//! checked where they are compiled, in `compile/`. Each diagnostic names the user's entity
//! and points at the line of the mapping file; close misses get a did-you-mean.
//!
//! A configuration mistake that would only surface at request time is a bug here: add the check and
//! a fixture.

mod auth;
mod ops;
mod output;
mod resilience;
mod toolsets;

use serde_json::Value;

use crate::compile::names::is_valid_tool_name;
use crate::compile::select::{CompiledSelector, path_glob, tool_entry};
use crate::diag::{Diagnostic, Diagnostics, Location, did_you_mean};
use crate::load::{LoadedConfig, MappingSource};
use crate::mapping::{Selector, UpstreamConfig};
use crate::spec::{HttpMethod, Operation, Spec, pointer_segment};

pub fn validate(loaded: &LoadedConfig, diagnostics: &mut Diagnostics) {
    let source = loaded.mapping_source.as_ref();
    let at = |pointer: &str| source.map(|s| s.locate(pointer));
    let at_key = |pointer: &str| source.map(|s| s.locate_key(pointer));
    let defaults = &loaded.mapping.defaults;
    if let Some(max) = defaults.max_name_length
        && !(8..=128).contains(&max)
    {
        diagnostics.push(
            Diagnostic::error("mapping/invalid", format!("defaults.max_name_length {max} is out of range (8 to 128)"))
                .at(at("/defaults/max_name_length")),
        );
    }
    ops::check(loaded, diagnostics);
    auth::check(loaded, diagnostics);
    resilience::check_server(&loaded.mapping, source, diagnostics);
    let server_limits = {
        let limits = &loaded.mapping.server.limits;
        crate::mapping::LimitsConfig {
            total: limits.total,
            per_caller: limits.per_caller,
            per_client: limits.per_client,
        }
    };
    toolsets::check(loaded, diagnostics);

    for (name, upstream) in &loaded.mapping.upstreams {
        let pointer = format!("/upstreams/{}", pointer_segment(name));
        check_upstream_settings(name, upstream, &pointer, source, diagnostics);
        let owner = resilience::Owner {
            who: format!("upstream '{name}'"),
            pointer: format!("{pointer}/settings"),
            method: None,
            upstream: None,
        };
        resilience::check_settings(&owner, &upstream.settings, &server_limits, source, diagnostics);
        let Some(spec) = loaded.specs.get(name) else {
            continue;
        };
        let (operations, _) = spec.operations();
        check_server_variables(name, upstream, spec, &pointer, source, diagnostics);
        for (kind, selectors) in [("include", &upstream.include), ("exclude", &upstream.exclude)] {
            for (index, selector) in selectors.iter().enumerate() {
                let selector_pointer = format!("{pointer}/{kind}/{index}");
                check_selector(selector, &operations, &selector_pointer, source, diagnostics);
            }
        }
        let operation_keys: Vec<String> = operations
            .iter()
            .flat_map(|op| op.operation_id().map(str::to_string).into_iter().chain([op.method_and_path()]))
            .collect();
        for (key, tool) in &upstream.tools {
            let tool_pointer = format!("{pointer}/tools/{}", pointer_segment(key));
            let operation = operations.iter().find(|op| tool_entry(upstream, op).is_some_and(|(k, _)| k == key));
            let Some(operation) = operation else {
                diagnostics.push(
                    Diagnostic::error(
                        "mapping/unknown-operation",
                        format!("upstream '{name}' has no operation '{key}'"),
                    )
                    .at(at_key(&tool_pointer))
                    .maybe_help(
                        did_you_mean(key, operation_keys.iter().map(String::as_str)).or_else(|| {
                            Some(
                                "tool entries are keyed by operationId or by `METHOD /path`, e.g. `GET /pets/{id}`"
                                    .to_string(),
                            )
                        }),
                    ),
                );
                continue;
            };
            if let Some(tool_name) = &tool.name {
                check_tool_name(tool_name, upstream, loaded, &format!("{tool_pointer}/name"), source, diagnostics);
            }
            for (index, scope) in tool.scopes.iter().flatten().chain(&tool.extra_scopes).enumerate() {
                if scope.is_empty() || scope.contains(char::is_whitespace) {
                    diagnostics.push(
                        Diagnostic::error(
                            "mapping/invalid-scope",
                            format!("tool '{key}': scope '{scope}' is empty or contains spaces"),
                        )
                        .at(at(&format!("{tool_pointer}/scopes/{index}"))),
                    );
                }
            }
            if let Some(output) = &tool.output {
                output::check_fields(
                    output,
                    tool.pagination.as_ref(),
                    spec,
                    operation,
                    key,
                    &format!("{tool_pointer}/output"),
                    source,
                    diagnostics,
                );
            }
            if let Some(pagination) = &tool.pagination {
                output::check_pagination(
                    pagination,
                    spec,
                    operation,
                    key,
                    &format!("{tool_pointer}/pagination"),
                    source,
                    diagnostics,
                );
                if tool.output.as_ref().is_some_and(|o| o.select.is_some()) {
                    diagnostics.push(
                        Diagnostic::warning(
                            "mapping/select-ignored",
                            format!("tool '{key}': output.select is not used for a paginated tool"),
                        )
                        .at(at(&format!("{tool_pointer}/output/select")))
                        .with_help("`pagination.items` chooses the items of each page; `fields` shapes each item"),
                    );
                }
            }
            check_headers(&tool.settings.headers, &format!("{tool_pointer}/settings/headers"), source, diagnostics);
            let owner = resilience::Owner {
                who: format!("tool '{key}'"),
                pointer: format!("{tool_pointer}/settings"),
                method: Some(operation.method),
                upstream: Some(&upstream.settings),
            };
            resilience::check_settings(&owner, &tool.settings, &server_limits, source, diagnostics);
        }
    }
}

fn check_upstream_settings(
    name: &str,
    upstream: &UpstreamConfig,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    if let Some(base_url) = &upstream.base_url {
        let valid =
            url::Url::parse(base_url).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if valid.is_none() {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-base-url",
                    format!("upstream '{name}': base_url '{base_url}' is not an absolute http(s) URL"),
                )
                .at(source.map(|s| s.locate(&format!("{pointer}/base_url")))),
            );
        }
    }
    for (index, origin) in upstream.ref_origins.iter().enumerate() {
        if let Err(problem) = crate::load::ref_origin(origin) {
            diagnostics.push(
                Diagnostic::error("mapping/invalid-ref-origin", format!("upstream '{name}': ref_origins: {problem}"))
                    .at(source.map(|s| s.locate(&format!("{pointer}/ref_origins/{index}")))),
            );
        }
    }
    if let Some(prefix) = &upstream.tool_prefix
        && !prefix.is_empty()
        && !is_valid_tool_name(prefix)
    {
        diagnostics.push(
            Diagnostic::error(
                "mapping/invalid-tool-name",
                format!("upstream '{name}': tool_prefix '{prefix}' may only contain A-Z a-z 0-9 _ -"),
            )
            .at(source.map(|s| s.locate(&format!("{pointer}/tool_prefix")))),
        );
    }
    check_headers(&upstream.settings.headers, &format!("{pointer}/settings/headers"), source, diagnostics);
}

fn check_server_variables(
    name: &str,
    upstream: &UpstreamConfig,
    spec: &Spec,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    let variables = spec
        .root()
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|servers| servers.first())
        .and_then(|server| server.get("variables"))
        .and_then(Value::as_object);
    for (variable, value) in &upstream.server_variables {
        let variable_pointer = format!("{pointer}/server_variables/{}", pointer_segment(variable));
        match variables.and_then(|v| v.get(variable)) {
            None => diagnostics.push(
                Diagnostic::error(
                    "mapping/unknown-server-variable",
                    format!("upstream '{name}': the spec's first server has no variable '{variable}'"),
                )
                .at(source.map(|s| s.locate_key(&variable_pointer)))
                .maybe_help(variables.and_then(|v| did_you_mean(variable, v.keys().map(String::as_str)))),
            ),
            Some(definition) => {
                if let Some(allowed) = definition.get("enum").and_then(Value::as_array)
                    && !allowed.iter().any(|a| a.as_str() == Some(value))
                {
                    let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
                    diagnostics.push(
                        Diagnostic::error("mapping/unknown-server-variable", format!("upstream '{name}': '{value}' is not an allowed value of server variable '{variable}' ({})", allowed.join(", ")))
                            .at(source.map(|s| s.locate(&variable_pointer)))
                            .maybe_help(did_you_mean(value, allowed.iter().copied())),
                    );
                }
            }
        }
    }
}

fn check_selector(
    selector: &Selector,
    operations: &[Operation<'_>],
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    let at = |suffix: &str| source.map(|s| s.locate(&format!("{pointer}{suffix}")));
    if selector.operation_id.is_none() && selector.tag.is_none() && selector.method.is_none() && selector.path.is_none()
    {
        diagnostics.push(
            Diagnostic::error(
                "mapping/empty-selector",
                "a selector needs at least one of operation_id, tag, method, path",
            )
            .at(at("")),
        );
        return;
    }
    let mut valid = true;
    if let Some(ids) = &selector.operation_id {
        let known: Vec<&str> = operations.iter().filter_map(Operation::operation_id).collect();
        for id in ids.values() {
            if !known.contains(&id.as_str()) {
                valid = false;
                diagnostics.push(
                    Diagnostic::error("mapping/unknown-operation", format!("no operation with operationId '{id}'"))
                        .at(at("/operation_id"))
                        .maybe_help(did_you_mean(id, known.iter().copied())),
                );
            }
        }
    }
    if let Some(tags) = &selector.tag {
        let mut known: Vec<&str> = operations.iter().flat_map(|op| op.tags()).collect();
        known.sort_unstable();
        known.dedup();
        for tag in tags.values() {
            if !known.contains(&tag.as_str()) {
                diagnostics.push(
                    Diagnostic::warning("mapping/unknown-tag", format!("no operation has the tag '{tag}'"))
                        .at(at("/tag"))
                        .maybe_help(did_you_mean(tag, known.iter().copied())),
                );
            }
        }
    }
    if let Some(methods) = &selector.method {
        for method in methods.values() {
            if HttpMethod::parse(method).is_none() {
                valid = false;
                diagnostics.push(
                    Diagnostic::error("mapping/invalid-method", format!("'{method}' is not an HTTP method"))
                        .at(at("/method"))
                        .maybe_help(did_you_mean(method, HttpMethod::ALL.iter().map(|m| m.upper()))),
                );
            }
        }
    }
    if let Some(paths) = &selector.path {
        for path in paths.values() {
            if let Err(message) = path_glob(path) {
                valid = false;
                diagnostics.push(Diagnostic::error("mapping/invalid-glob", message).at(at("/path")));
            }
        }
    }
    if valid {
        let compiled = CompiledSelector::new(selector);
        if !operations.iter().any(|op| compiled.matches(op)) {
            diagnostics.push(
                Diagnostic::warning("mapping/selector-matches-nothing", "this selector matches no operation")
                    .at(at("")),
            );
        }
    }
}

fn check_tool_name(
    tool_name: &str,
    upstream: &UpstreamConfig,
    loaded: &LoadedConfig,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    let max = upstream
        .defaults
        .max_name_length
        .or(loaded.mapping.defaults.max_name_length)
        .unwrap_or(crate::compile::DEFAULT_MAX_NAME_LENGTH);
    if !is_valid_tool_name(tool_name) || tool_name.len() > max {
        diagnostics.push(
            Diagnostic::error(
                "mapping/invalid-tool-name",
                format!("tool name '{tool_name}' must be 1 to {max} characters of A-Z a-z 0-9 _ -"),
            )
            .at(source.map(|s| s.locate(pointer))),
        );
    }
}

fn check_headers(
    headers: &indexmap::IndexMap<String, String>,
    pointer: &str,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) {
    for (name, value) in headers {
        let header_pointer = format!("{pointer}/{}", pointer_segment(name));
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            diagnostics.push(
                Diagnostic::error("mapping/invalid-header", format!("'{name}' is not a valid HTTP header name"))
                    .at(source.map(|s| s.locate_key(&header_pointer))),
            );
        }
        if value.contains(['\r', '\n', '\0']) {
            // The value itself is not shown: it may be a secret read from a file.
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-header",
                    format!("the value of header '{name}' contains a line break or NUL"),
                )
                .at(source.map(|s| s.locate(&header_pointer))),
            );
        }
    }
}

/// Location helper for submodules.
fn locate(source: Option<&MappingSource>, pointer: &str) -> Option<Location> {
    source.map(|s| s.locate(pointer))
}
