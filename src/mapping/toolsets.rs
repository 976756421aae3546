//! The mapping file's settings for large APIs: discovery mode, toolsets and client schema profiles
//! (see `specs/discovery-mode.md`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::Selector;

/// Whether tools are listed one by one or found through `search_tools`, `describe_tools` and `call_tool`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryMode {
    /// Discovery when there are more tools than `discovery_threshold`, direct listing otherwise.
    Auto,
    /// Always the three discovery tools.
    On,
    /// Always every tool listed.
    Off,
}

/// Whether `tools/list` repeats an argument's description on every tool that has the argument
/// (`specs/tool-generation.md`, "Repeated argument descriptions").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RepeatedDescriptions {
    /// An argument's description is shown on the first tool of the list that has an argument of that name
    /// with that description; later tools list the argument without it. Any first N tools of the list
    /// carry every description they need; `describe_tools` always gives a tool whole.
    #[default]
    Once,
    /// Every tool describes all of its arguments: for clients that load tool definitions one at a time
    /// (a client-side tool search) rather than the whole list.
    Every,
}

/// How tool schemas are rewritten for a model provider's function-calling rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaProfile {
    /// JSON Schema 2020-12 as compiled, unchanged.
    #[default]
    Full,
    /// OpenAI strict function calling / Structured Outputs: every property required (optional ones nullable),
    /// `additionalProperties: false`, only the supported keywords.
    OpenaiStrict,
    /// Gemini function declarations: the OpenAPI 3.0 schema subset (`nullable`, no type arrays, no `$ref`, no `const`).
    Gemini,
    /// Anthropic tool use: JSON Schema with an object at the top level and no top-level `oneOf`/`anyOf`/`allOf`.
    Anthropic,
}

/// A named group of tools served on its own endpoint, `/mcp/<name>`, with its own mode and profile.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolsetConfig {
    /// What this toolset is for, shown in the capability summary.
    pub description: Option<String>,
    /// Upstreams whose tools may belong to this toolset. Empty: all of them.
    #[serde(default)]
    pub upstreams: Vec<String>,
    /// Tools whose operation any selector matches (operationId, tag, method, path glob) belong to this toolset.
    #[serde(default)]
    pub include: Vec<Selector>,
    /// Other toolsets whose tools belong to this one too.
    #[serde(default)]
    pub toolsets: Vec<String>,
    /// `auto` (default), `on` or `off`: how this toolset's tools are offered.
    pub discovery: Option<DiscoveryMode>,
    /// With `discovery: auto`, the tool count above which discovery is used. Default: the file's `defaults.discovery_threshold`, else 40.
    #[schemars(range(min = 0))]
    pub discovery_threshold: Option<usize>,
    /// Schema profile of this toolset's endpoint. Default: `server.profile`.
    pub profile: Option<SchemaProfile>,
    /// Whether this toolset's `tools/list` repeats argument descriptions (`once` or `every`).
    /// Default: `server.repeated_descriptions`.
    pub repeated_descriptions: Option<RepeatedDescriptions>,
}
