//! Which operations of an upstream become tools: `include` / `exclude` selectors (operationId, tag,
//! HTTP method, path glob), tool entries that name operations explicitly, and deprecated operations.

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::mapping::{Selector, ToolConfig, UpstreamConfig};
use crate::spec::{HttpMethod, Operation};

/// A selector with its globs compiled.
pub struct CompiledSelector<'a> {
    pub selector: &'a Selector,
    paths: Vec<GlobMatcher>,
}

/// Compiles a path glob. `*` stays within one segment, `**` crosses segments; `{name}` is literal
/// (it is how path templates are written) rather than glob alternation.
pub fn path_glob(pattern: &str) -> Result<GlobMatcher, String> {
    let escaped = pattern.replace('{', "[{]").replace('}', "[}]");
    GlobBuilder::new(&escaped)
        .literal_separator(true)
        .build()
        .map(|glob: Glob| glob.compile_matcher())
        .map_err(|error| format!("invalid path glob '{pattern}': {}", error.kind()))
}

impl<'a> CompiledSelector<'a> {
    /// Invalid globs are reported by `validate`; here they simply match nothing.
    pub fn new(selector: &'a Selector) -> Self {
        let paths = selector
            .path
            .as_ref()
            .map(|paths| paths.values().iter().filter_map(|p| path_glob(p).ok()).collect())
            .unwrap_or_default();
        CompiledSelector { selector, paths }
    }

    pub fn matches(&self, operation: &Operation<'_>) -> bool {
        let selector = self.selector;
        if selector.operation_id.is_none()
            && selector.tag.is_none()
            && selector.method.is_none()
            && selector.path.is_none()
        {
            return false;
        }
        if let Some(ids) = &selector.operation_id
            && !operation.operation_id().is_some_and(|id| ids.values().iter().any(|wanted| wanted == id))
        {
            return false;
        }
        if let Some(tags) = &selector.tag
            && !operation.tags().any(|tag| tags.values().iter().any(|wanted| wanted == tag))
        {
            return false;
        }
        if let Some(methods) = &selector.method
            && !methods.values().iter().any(|m| HttpMethod::parse(m) == Some(operation.method))
        {
            return false;
        }
        if selector.path.is_some() && !self.paths.iter().any(|glob| glob.is_match(operation.path)) {
            return false;
        }
        true
    }
}

/// The tool entry of the mapping that names this operation, by operationId or `METHOD /path`.
pub fn tool_entry<'a>(upstream: &'a UpstreamConfig, operation: &Operation<'_>) -> Option<(&'a String, &'a ToolConfig)> {
    if let Some(id) = operation.operation_id()
        && let Some(entry) = upstream.tools.get_key_value(id)
    {
        return Some(entry);
    }
    upstream.tools.iter().find(|(key, _)| is_method_path_key(key, operation))
}

/// `GET /pets/{id}` (method in any case, single space).
pub fn is_method_path_key(key: &str, operation: &Operation<'_>) -> bool {
    key.split_once(' ').is_some_and(|(method, path)| {
        HttpMethod::parse(method) == Some(operation.method) && path.trim() == operation.path
    })
}

pub enum Selection<'a> {
    Included(Option<(&'a String, &'a ToolConfig)>),
    Excluded(ExclusionReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExclusionReason {
    NotIncluded,
    Excluded,
    Disabled,
    Deprecated,
}

/// An operation named in `tools` is exposed unless `enabled: false`; otherwise `include` (all when
/// empty), then `exclude`, then deprecated operations are left out unless `include_deprecated`.
pub fn select<'a>(
    upstream: &'a UpstreamConfig,
    includes: &[CompiledSelector<'_>],
    excludes: &[CompiledSelector<'_>],
    include_deprecated: bool,
    operation: &Operation<'_>,
) -> Selection<'a> {
    if let Some(entry) = tool_entry(upstream, operation) {
        return match entry.1.enabled {
            Some(false) => Selection::Excluded(ExclusionReason::Disabled),
            _ => Selection::Included(Some(entry)),
        };
    }
    if !includes.is_empty() && !includes.iter().any(|s| s.matches(operation)) {
        return Selection::Excluded(ExclusionReason::NotIncluded);
    }
    if excludes.iter().any(|s| s.matches(operation)) {
        return Selection::Excluded(ExclusionReason::Excluded);
    }
    if operation.deprecated() && !include_deprecated {
        return Selection::Excluded(ExclusionReason::Deprecated);
    }
    Selection::Included(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_globs_respect_segments_and_literal_braces() {
        let one = path_glob("/repos/*/*/issues").unwrap();
        assert!(one.is_match("/repos/{owner}/{repo}/issues"));
        assert!(!one.is_match("/repos/{owner}/{repo}/pulls/issues"));
        let many = path_glob("/repos/**").unwrap();
        assert!(many.is_match("/repos/{owner}/{repo}/pulls/{n}"));
        let literal = path_glob("/pets/{id}").unwrap();
        assert!(literal.is_match("/pets/{id}"));
        assert!(!literal.is_match("/pets/id"));
        assert!(path_glob("/a/[").is_err());
    }
}
