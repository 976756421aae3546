//! What each MCP endpoint serves: the main `/mcp` and one `/mcp/<toolset>` per toolset. A view lists
//! some tools directly and offers the others through discovery (`search_tools`, `describe_tools`,
//! `call_tool`), with one schema profile. Built by `compile/` with the search index over its
//! discovered tools, so serving needs no further work.

use crate::discovery::profile::SchemaProfile;
use crate::discovery::search::Index;

#[derive(Debug, Default)]
pub struct View {
    /// `None`: the main endpoint `/mcp`; otherwise the toolset served at `/mcp/<name>`.
    pub toolset: Option<String>,
    pub description: Option<String>,
    /// Tools listed one by one in `tools/list` (catalogue positions, ascending).
    pub direct: Vec<usize>,
    /// Tools reached through discovery (catalogue positions, ascending); empty: no discovery tools.
    pub discovered: Vec<usize>,
    /// The search index over `discovered`, in the same order.
    pub index: Option<Index>,
    /// How each part of the view runs, and why, for `check` and the capability summary.
    pub parts: Vec<Part>,
    pub profile: SchemaProfile,
}

/// One upstream of the main endpoint, or a whole toolset, and the mode it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `upstream api`, `toolset issues`.
    pub label: String,
    pub tools: usize,
    pub discovery: bool,
    /// Why: `discovery: on`, `auto: 1186 tools > 40`, ...
    pub reason: String,
}

impl View {
    /// The endpoint path: `/mcp` or `/mcp/<toolset>`.
    pub fn path(&self) -> String {
        match &self.toolset {
            None => "/mcp".to_string(),
            Some(name) => format!("/mcp/{name}"),
        }
    }

    /// Whether a tool can be called through this view (listed directly or discovered).
    pub fn contains(&self, tool_index: usize) -> bool {
        self.direct.binary_search(&tool_index).is_ok() || self.discovered.binary_search(&tool_index).is_ok()
    }

    pub fn uses_discovery(&self) -> bool {
        !self.discovered.is_empty()
    }

    /// Every tool of the view, ascending.
    pub fn members(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.direct.iter().chain(&self.discovered).copied().collect();
        all.sort_unstable();
        all
    }

    /// A view listing every tool directly (catalogues built without `compile/`, e.g. in tests).
    pub fn all_direct(tools: usize) -> View {
        View {
            direct: (0..tools).collect(),
            parts: vec![Part { label: "catalogue".into(), tools, discovery: false, reason: "default".into() }],
            ..View::default()
        }
    }
}
