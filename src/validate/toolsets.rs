//! Checks of the settings for large APIs: toolset names (they become URL paths), the toolsets and
//! upstreams they name, their selectors, and discovery thresholds.

use crate::compile::select::path_glob;
use crate::diag::{Diagnostic, Diagnostics, did_you_mean};
use crate::load::LoadedConfig;
use crate::spec::{HttpMethod, pointer_segment};

/// Paths under `/mcp/` that other routes own.
const RESERVED: [&str; 1] = ["server-card"];

pub fn check(loaded: &LoadedConfig, diagnostics: &mut Diagnostics) {
    let source = loaded.mapping_source.as_ref();
    let at = |pointer: &str| source.map(|s| s.locate(pointer));
    let at_key = |pointer: &str| source.map(|s| s.locate_key(pointer));
    let mapping = &loaded.mapping;
    let toolset_names: Vec<&str> = mapping.toolsets.keys().map(String::as_str).collect();
    let upstream_names: Vec<&str> = mapping.upstreams.keys().map(String::as_str).collect();
    for (name, toolset) in &mapping.toolsets {
        let pointer = format!("/toolsets/{}", pointer_segment(name));
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !RESERVED.contains(&name.as_str());
        if !valid_name {
            diagnostics.push(
                Diagnostic::error(
                    "toolset/invalid-name",
                    format!(
                        "toolset name '{name}' cannot be a path segment of /mcp/<toolset>: use 1 to 64 of A-Z a-z 0-9 _ - (and not {})",
                        RESERVED.join(", ")
                    ),
                )
                .at(at_key(&pointer)),
            );
        }
        for (index, included) in toolset.toolsets.iter().enumerate() {
            if !toolset_names.contains(&included.as_str()) {
                diagnostics.push(
                    Diagnostic::error(
                        "toolset/unknown-toolset",
                        format!("toolset '{name}' includes unknown toolset '{included}'"),
                    )
                    .at(at(&format!("{pointer}/toolsets/{index}")))
                    .maybe_help(did_you_mean(included, toolset_names.iter().copied())),
                );
            }
        }
        for (index, upstream) in toolset.upstreams.iter().enumerate() {
            if !upstream_names.contains(&upstream.as_str()) {
                diagnostics.push(
                    Diagnostic::error(
                        "toolset/unknown-upstream",
                        format!("toolset '{name}' names unknown upstream '{upstream}'"),
                    )
                    .at(at(&format!("{pointer}/upstreams/{index}")))
                    .maybe_help(did_you_mean(upstream, upstream_names.iter().copied())),
                );
            }
        }
        if toolset.include.is_empty() && toolset.toolsets.is_empty() {
            diagnostics.push(
                Diagnostic::error("toolset/no-selection", format!("toolset '{name}' selects nothing"))
                    .at(at_key(&pointer))
                    .with_help("add `include: [{tag: ...}]` (or operation_id, method, path) or `toolsets: [...]`"),
            );
        }
        for (index, selector) in toolset.include.iter().enumerate() {
            let selector_pointer = format!("{pointer}/include/{index}");
            if selector.operation_id.is_none()
                && selector.tag.is_none()
                && selector.method.is_none()
                && selector.path.is_none()
            {
                diagnostics.push(
                    Diagnostic::error(
                        "mapping/empty-selector",
                        "a selector needs at least one of operation_id, tag, method, path",
                    )
                    .at(at(&selector_pointer)),
                );
            }
            for glob in selector.path.iter().flat_map(|p| p.values()) {
                if let Err(message) = path_glob(glob) {
                    diagnostics.push(
                        Diagnostic::error("mapping/invalid-glob", message).at(at(&format!("{selector_pointer}/path"))),
                    );
                }
            }
            for method in selector.method.iter().flat_map(|m| m.values()) {
                if HttpMethod::parse(method).is_none() {
                    diagnostics.push(
                        Diagnostic::error("mapping/invalid-method", format!("'{method}' is not an HTTP method"))
                            .at(at(&format!("{selector_pointer}/method"))),
                    );
                }
            }
        }
    }
}
