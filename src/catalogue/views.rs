//! What each MCP endpoint serves: the main `/mcp` and one `/mcp/<toolset>` per toolset. A view lists
//! some tools directly and offers the others through discovery (`search_tools`, `describe_tools`,
//! `call_tool`), with one schema profile. Built by `compile/`; the search index over its discovered
//! tools is built on the first search (see [`SearchIndex`]).

use std::sync::{Arc, OnceLock};

use super::Tool;
use crate::discovery::profile::SchemaProfile;
use crate::discovery::search::{Document, Index};

#[derive(Debug, Default)]
pub struct View {
    /// `None`: the main endpoint `/mcp`; otherwise the toolset served at `/mcp/<name>`.
    pub toolset: Option<String>,
    pub description: Option<String>,
    /// Tools listed one by one in `tools/list` (catalogue positions, ascending).
    pub direct: Vec<usize>,
    /// Tools reached through discovery (catalogue positions, ascending); empty: no discovery tools.
    pub discovered: Vec<usize>,
    /// The search index over `discovered`, in the same order; `None` without discovery.
    pub index: Option<SearchIndex>,
    /// How each part of the view runs, and why, for `check` and the capability summary.
    pub parts: Vec<Part>,
    pub profile: SchemaProfile,
    /// Whether `tools/list` repeats an argument's description on every tool (`descriptions`).
    pub repeated_descriptions: super::descriptions::RepeatedDescriptions,
}

/// The search index of a view, built once, on the first search: building it (tokenising and
/// stemming every discovered tool's text) was up to a fifth of a large spec's startup CPU, and a
/// catalogue that nobody searches (`tools`, `check`, a client that only lists) never needs it.
#[derive(Debug)]
pub struct SearchIndex {
    built: OnceLock<Index>,
    /// What the index reads of a tool (`compile::views::document`).
    document: fn(&Tool) -> Document,
}

impl SearchIndex {
    pub fn new(document: fn(&Tool) -> Document) -> Self {
        SearchIndex { built: OnceLock::new(), document }
    }

    /// The index over `discovered` (positions in `tools`), built on the first call; concurrent
    /// first calls wait for one build.
    pub fn get(&self, tools: &[Arc<Tool>], discovered: &[usize]) -> &Index {
        self.built.get_or_init(|| {
            let documents: Vec<Document> = discovered.iter().map(|&index| (self.document)(&tools[index])).collect();
            Index::build(&documents)
        })
    }
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

    /// The search index over `discovered` (built on first use); `None` without discovery.
    pub fn search_index(&self, tools: &[Arc<Tool>]) -> Option<&Index> {
        self.index.as_ref().map(|index| index.get(tools, &self.discovered))
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
