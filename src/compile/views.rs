//! The views of a catalogue (`catalogue::views`): which tools each endpoint lists directly and which
//! it offers through discovery, why, with which schema profile, and what the search index over the
//! discovered ones reads of a tool (the index itself is built on the first search). Pure, like the
//! rest of `compile/`.

use std::sync::Arc;

use crate::catalogue::Tool;
use crate::catalogue::descriptions::RepeatedDescriptions;
use crate::catalogue::views::{Part, SearchIndex, View};
use crate::diag::{Diagnostic, Diagnostics};
use crate::discovery::profile::SchemaProfile;
use crate::discovery::search::Document;
use crate::mapping::{DiscoveryMode, MappingFile};

/// Tools above which `discovery: auto` turns discovery on: the smallest common client cap.
pub const DEFAULT_DISCOVERY_THRESHOLD: usize = 40;

/// The names of the discovery tools; a view that uses discovery cannot list a tool of the same name.
pub const DISCOVERY_TOOL_NAMES: [&str; 3] = ["search_tools", "describe_tools", "call_tool"];

/// Builds the main view and one per toolset. `toolset_members[t]` holds the tools the selectors of
/// toolset `t` match directly (before other toolsets are added).
pub fn build(
    mapping: &MappingFile,
    tools: &[Arc<Tool>],
    upstream_names: &[String],
    toolset_members: Vec<Vec<usize>>,
    diagnostics: &mut Diagnostics,
) -> Vec<View> {
    let file_mode = mapping.defaults.discovery;
    let file_threshold = mapping.defaults.discovery_threshold;
    let server_profile = mapping.server.profile.map(profile).unwrap_or_default();

    let server_descriptions = mapping.server.repeated_descriptions.map(repeated_descriptions).unwrap_or_default();
    let mut main = View { profile: server_profile, repeated_descriptions: server_descriptions, ..View::default() };
    for (upstream_index, upstream_name) in upstream_names.iter().enumerate() {
        let members: Vec<usize> = (0..tools.len()).filter(|&i| tools[i].upstream == upstream_index).collect();
        let config = mapping.upstreams.get(upstream_name);
        let mode = config.and_then(|c| c.defaults.discovery).or(file_mode).unwrap_or(DiscoveryMode::Auto);
        let threshold = config
            .and_then(|c| c.defaults.discovery_threshold)
            .or(file_threshold)
            .unwrap_or(DEFAULT_DISCOVERY_THRESHOLD);
        let (discovery, reason) = decide(mode, threshold, members.len());
        main.parts.push(Part { label: format!("upstream {upstream_name}"), tools: members.len(), discovery, reason });
        if discovery { main.discovered.extend(members) } else { main.direct.extend(members) }
    }
    main.direct.sort_unstable();
    main.discovered.sort_unstable();

    let names: Vec<&String> = mapping.toolsets.keys().collect();
    let members = close_over_includes(mapping, &names, toolset_members);
    let mut views = vec![main];
    for ((name, config), members) in mapping.toolsets.iter().zip(members) {
        let mode = config.discovery.or(file_mode).unwrap_or(DiscoveryMode::Auto);
        let threshold = config.discovery_threshold.or(file_threshold).unwrap_or(DEFAULT_DISCOVERY_THRESHOLD);
        if members.is_empty() {
            diagnostics.push(
                Diagnostic::warning(
                    "toolset/empty",
                    format!("toolset '{name}' selects no tool: /mcp/{name} serves an empty list"),
                )
                .with_help("check its selectors against `api2mcp tools`"),
            );
        }
        let (discovery, reason) = decide(mode, threshold, members.len());
        let mut view = View {
            toolset: Some(name.clone()),
            description: config.description.clone(),
            parts: vec![Part { label: format!("toolset {name}"), tools: members.len(), discovery, reason }],
            profile: config.profile.map(profile).unwrap_or(server_profile),
            repeated_descriptions: config
                .repeated_descriptions
                .map(repeated_descriptions)
                .unwrap_or(server_descriptions),
            ..View::default()
        };
        if discovery {
            view.discovered = members
        } else {
            view.direct = members
        }
        views.push(view);
    }
    for view in &mut views {
        if !view.uses_discovery() {
            continue;
        }
        for &tool_index in &view.direct {
            let name = &tools[tool_index].name;
            if DISCOVERY_TOOL_NAMES.contains(&name.as_str()) {
                diagnostics.push(
                    Diagnostic::warning(
                        "discovery/name-taken",
                        format!(
                            "tool '{name}' has the name of a discovery tool on {}: it is reachable only through call_tool there",
                            view.path()
                        ),
                    )
                    .with_help("set `name:` for this tool in the mapping file"),
                );
            }
        }
        view.index = Some(SearchIndex::new(document));
    }
    views
}

fn decide(mode: DiscoveryMode, threshold: usize, tools: usize) -> (bool, String) {
    match mode {
        DiscoveryMode::On => (true, "discovery: on".to_string()),
        DiscoveryMode::Off => (false, "discovery: off".to_string()),
        DiscoveryMode::Auto if tools > threshold => (true, format!("auto: {tools} tools > threshold {threshold}")),
        DiscoveryMode::Auto => (false, format!("auto: {tools} tools ≤ threshold {threshold}")),
    }
}

/// Adds the members of the toolsets each toolset names, until nothing changes (cycles are reported by
/// `validate/` and end here because sets only grow).
fn close_over_includes(mapping: &MappingFile, names: &[&String], mut members: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    loop {
        let mut changed = false;
        for (index, config) in mapping.toolsets.values().enumerate() {
            for included in &config.toolsets {
                let Some(other) = names.iter().position(|name| *name == included) else { continue };
                if other == index {
                    continue;
                }
                let extra: Vec<usize> =
                    members[other].iter().filter(|t| members[index].binary_search(t).is_err()).copied().collect();
                if !extra.is_empty() {
                    members[index].extend(extra);
                    members[index].sort_unstable();
                    changed = true;
                }
            }
        }
        if !changed {
            return members;
        }
    }
}

/// What the search index reads of a tool.
pub fn document(tool: &Tool) -> Document {
    Document {
        name: tool.name.clone(),
        call: format!("{} {}", tool.call.method.upper(), tool.call.path),
        method: tool.call.method.lower().to_string(),
        path: tool.call.path.clone(),
        operation_id: tool.source.operation_id.clone(),
        summary: tool.source.summary.clone().unwrap_or_default(),
        description: tool.description.clone(),
        tags: tool.source.tags.clone(),
        parameters: parameter_words(tool),
    }
}

/// Parameter names and the values of their enums (`state: open | closed` says the tool can close),
/// and the same for the alternatives of an argument that is a union of objects (a body that is
/// not flattened into arguments: DigitalOcean's actions, `type: attach | detach | resize`). Not
/// deeper: nested objects' fields and values were noise in the query sets (`bench/search`).
fn parameter_words(tool: &Tool) -> Vec<String> {
    let mut words = Vec::new();
    property_words(&tool.input_schema, true, &mut words);
    words
}

fn property_words(schema: &serde_json::Map<String, serde_json::Value>, top: bool, words: &mut Vec<String>) {
    for (name, property) in schema.get("properties").and_then(|p| p.as_object()).into_iter().flatten() {
        if !words.contains(name) {
            words.push(name.clone());
        }
        let values = property.get("enum").and_then(|e| e.as_array()).into_iter().flatten();
        let values = values.chain(property.get("const")).filter_map(|v| v.as_str()).take(12);
        for value in values {
            if !words.iter().any(|word| word == value) {
                words.push(value.to_string());
            }
        }
        if !top {
            continue;
        }
        for key in ["anyOf", "oneOf"] {
            let alternatives = property.get(key).and_then(|a| a.as_array()).into_iter().flatten();
            for alternative in alternatives.filter_map(|a| a.as_object()) {
                property_words(alternative, false, words);
            }
        }
    }
}

/// The mapping's `profile` as a view carries it.
fn repeated_descriptions(mode: crate::mapping::RepeatedDescriptions) -> RepeatedDescriptions {
    match mode {
        crate::mapping::RepeatedDescriptions::Once => RepeatedDescriptions::Once,
        crate::mapping::RepeatedDescriptions::Every => RepeatedDescriptions::Every,
    }
}

fn profile(profile: crate::mapping::SchemaProfile) -> SchemaProfile {
    match profile {
        crate::mapping::SchemaProfile::Full => SchemaProfile::Full,
        crate::mapping::SchemaProfile::OpenaiStrict => SchemaProfile::OpenaiStrict,
        crate::mapping::SchemaProfile::Gemini => SchemaProfile::Gemini,
        crate::mapping::SchemaProfile::Anthropic => SchemaProfile::Anthropic,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::property_words;

    #[test]
    fn search_words_reach_into_the_alternatives_of_a_union_argument_only() {
        let schema = json!({"type": "object", "properties": {
            "state": {"enum": ["open", "closed"]},
            "body": {"anyOf": [
                {"type": "object", "properties": {"type": {"enum": ["attach", "detach"]}, "droplet_id": {}}},
                {"type": "object", "properties": {"type": {"const": "resize"}}},
            ]},
            "address": {"type": "object", "properties": {"city": {"enum": ["berlin"]}}},
        }});
        let mut words = Vec::new();
        property_words(schema.as_object().unwrap(), true, &mut words);
        assert_eq!(
            words,
            ["state", "open", "closed", "body", "type", "attach", "detach", "droplet_id", "resize", "address"]
        );
    }
}
