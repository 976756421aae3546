//! Loading: the ONLY module that reads spec and mapping files or fetches URLs.
//!
//! `load_config` turns what the user gave on the command line (a mapping file, or `--spec` for
//! zero-config mode) into a [`LoadedConfig`]: the typed mapping, its source positions for diagnostics,
//! and one [`Spec`] per upstream with every externally referenced document loaded, Swagger 2.0 already
//! upgraded to OpenAPI 3 shapes. Problems become diagnostics; loading goes on as far as it can so that
//! one run reports everything.

pub mod env;
mod extensions;
pub mod fetch;
pub mod json;
mod mapping_file;
mod refs;
pub mod swagger2;
pub mod yaml;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::Value;
use url::Url;

pub use env::{Environment, ProcessEnvironment};
pub use mapping_file::MappingSource;

use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::mapping::{MappingFile, UpstreamConfig};
use crate::spec::{Document, SourceText, Spec, SpecVersion};
use fetch::Fetcher;

/// What the user asked to serve, as given on the command line.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// A mapping file.
    Mapping(PathBuf),
    /// Zero-config mode: one spec, every operation a tool.
    Spec { spec: String, base_url: Option<String> },
}

/// Everything read from disk or network, ready for `validate` and `compile`.
#[derive(Debug)]
pub struct LoadedConfig {
    pub mapping: MappingFile,
    /// Present when a mapping file was read (absent in zero-config mode).
    pub mapping_source: Option<MappingSource>,
    /// One spec per upstream that loaded, by upstream name.
    pub specs: IndexMap<String, Spec>,
    /// File texts by display name, for diagnostic snippets.
    pub sources: HashMap<String, String>,
}

pub async fn load_config(
    source: &ConfigSource,
    env: &dyn Environment,
    diagnostics: &mut Diagnostics,
) -> Option<LoadedConfig> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let (mapping, mapping_source, base_dir) = match source {
        ConfigSource::Mapping(path) => {
            let loaded = mapping_file::load(path, env, diagnostics)?;
            let base_dir = std::path::absolute(path)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| cwd.clone());
            (loaded.0, Some(loaded.1), base_dir)
        }
        ConfigSource::Spec { spec, base_url } => (zero_config_mapping(spec, base_url.clone()), None, cwd.clone()),
    };
    let mut sources = HashMap::new();
    if let Some(source) = &mapping_source {
        sources.insert(source.display.clone(), source.text.clone());
    }
    let mut fetcher = Fetcher::new();
    let mut specs = IndexMap::new();
    for (name, upstream) in &mapping.upstreams {
        let location = mapping_source
            .as_ref()
            .map(|source| source.locate(&format!("/upstreams/{}/spec", crate::spec::pointer_segment(name))));
        // Invalid entries are reported by `validate/` (mapping/invalid-ref-origin).
        let ref_origins: Vec<url::Origin> = upstream.ref_origins.iter().filter_map(|o| ref_origin(o).ok()).collect();
        if let Some(spec) =
            load_spec(&upstream.spec, &base_dir, &mut fetcher, location, &ref_origins, diagnostics).await
        {
            specs.insert(name.to_string(), spec);
        }
    }
    Some(LoadedConfig { mapping, mapping_source, specs, sources })
}

/// An entry of `ref_origins`: an http(s) URL with a host and nothing after it but `/`.
pub fn ref_origin(text: &str) -> Result<url::Origin, String> {
    let url = Url::parse(text).map_err(|error| format!("'{text}' is not a URL: {error}"))?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare || url.password().is_some() {
        return Err(format!("'{text}' is not an origin (http or https, a host, an optional port, nothing else)"));
    }
    Ok(url.origin())
}

/// The mapping zero-config mode implies: one upstream named `api`, every operation a tool.
fn zero_config_mapping(spec: &str, base_url: Option<String>) -> MappingFile {
    let upstream = UpstreamConfig {
        spec: spec.to_string(),
        base_url,
        server_variables: IndexMap::new(),
        tool_prefix: None,
        include: Vec::new(),
        exclude: Vec::new(),
        tools: IndexMap::new(),
        defaults: crate::mapping::ToolDefaults { infer_pagination: Some(true), ..Default::default() },
        settings: Default::default(),
        health: None,
        ref_origins: Vec::new(),
        credentials: IndexMap::new(),
    };
    MappingFile { upstreams: IndexMap::from([("api".to_string(), upstream)]), ..MappingFile::default() }
}

/// Loads one spec with every document it references. `used_at` is where the mapping file names it.
pub async fn load_spec(
    location: &str,
    base_dir: &Path,
    fetcher: &mut Fetcher,
    used_at: Option<Location>,
    ref_origins: &[url::Origin],
    diagnostics: &mut Diagnostics,
) -> Option<Spec> {
    let url = match fetch::to_url(location, base_dir) {
        Ok(url) => url,
        Err(message) => {
            diagnostics.push(Diagnostic::error("spec/unreadable", message).at(used_at));
            return None;
        }
    };
    let root = match read_document(&url, fetcher, diagnostics).await {
        Ok(document) => document,
        Err(message) => {
            diagnostics.push(Diagnostic::error("spec/unreadable", message).at(used_at));
            return None;
        }
    };
    let mut root = root;
    let version = match detect_version(&root.value) {
        Ok(version) => version,
        Err(message) => {
            diagnostics.push(
                Diagnostic::error("spec/unsupported-version", message).at(Some(Location::file_only(&root.display))),
            );
            return None;
        }
    };
    if version == SpecVersion::Swagger2 {
        let upgraded = swagger2::upgrade(std::mem::take(&mut root.value));
        root.value = upgraded.document;
        for note in upgraded.notes {
            diagnostics.push(
                Diagnostic::warning("spec/swagger2-conversion", note).at(Some(Location::file_only(&root.display))),
            );
        }
    }
    let (mut documents, keyword_roots, refs_into_extensions) =
        refs::load_referenced(root, fetcher, ref_origins, diagnostics).await;
    extensions::drop_unread(&mut documents, &keyword_roots, refs_into_extensions);
    Some(Spec::new(documents, version))
}

fn detect_version(value: &Value) -> Result<SpecVersion, String> {
    if !value.is_object() {
        return Err("not an OpenAPI document: the top level is not an object".to_string());
    }
    if let Some(swagger) = value.get("swagger") {
        return match swagger.as_str() {
            Some("2.0") => Ok(SpecVersion::Swagger2),
            _ => Err(format!("unsupported swagger version {swagger} (only 2.0 exists)")),
        };
    }
    match value.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.0") => Ok(SpecVersion::OpenApi30),
        // 3.2 is a compatible superset of 3.1 for everything api2mcp reads.
        Some(version) if version.starts_with("3.1") || version.starts_with("3.2") => Ok(SpecVersion::OpenApi31),
        Some(version) => {
            Err(format!("unsupported OpenAPI version '{version}' (supported: Swagger 2.0, OpenAPI 3.0, 3.1)"))
        }
        None => Err("not an OpenAPI document: no 'openapi' or 'swagger' field at the top level".to_string()),
    }
}

/// Reads and parses one document (JSON or YAML, decided by its first character since JSON parses
/// faster), with a `spec/yaml-recovered` warning for each cosmetic YAML error read past.
pub(crate) async fn read_document(
    url: &Url,
    fetcher: &mut Fetcher,
    diagnostics: &mut Diagnostics,
) -> Result<Document, String> {
    let text = fetcher.fetch(url).await.map_err(|error| error.to_string())?;
    parse_document(url, text, diagnostics)
}

/// [`read_document`] for a document a spec refers to (redirects stay on its origin).
pub(crate) async fn read_referenced_document(
    url: &Url,
    fetcher: &mut Fetcher,
    diagnostics: &mut Diagnostics,
) -> Result<Document, String> {
    let text = fetcher.fetch_referenced(url).await.map_err(|error| error.to_string())?;
    parse_document(url, text, diagnostics)
}

fn parse_document(url: &Url, text: String, diagnostics: &mut Diagnostics) -> Result<Document, String> {
    let display = display_name(url);
    let (value, recovered) = parse_text(&text, &display)?;
    for flow in recovered {
        diagnostics.push(
            Diagnostic::warning(
                "spec/yaml-recovered",
                format!(
                    "the flow collection on lines {}-{} is indented at or left of its key, which YAML forbids; \
                     it was read as PyYAML and js-yaml read it",
                    flow.opened, flow.closed
                ),
            )
            .at(Some(Location { file: display.clone(), line: flow.opened, column: 1 }))
            .with_help("indent the collection's lines deeper than its key"),
        );
    }
    Ok(Document::new(url.clone(), display, value, source_text(url, text)))
}

/// A file's text is let go once parsed and read again only if a diagnostic needs it: the same
/// bytes or nothing (a file changed since gives locations without a line, never wrong ones). A
/// text fetched over HTTP is held.
fn source_text(url: &Url, text: String) -> SourceText {
    if url.scheme() != "file" {
        return SourceText::held(text);
    }
    let modified = std::fs::metadata(url.to_file_path().unwrap_or_default()).ok().and_then(|m| m.modified().ok());
    reread_text(url, text.len(), modified)
}

/// A file's text to read again when a diagnostic needs it: `length` bytes (after a BOM), unchanged
/// since `modified_then`.
fn reread_text(url: &Url, length: usize, modified_then: Option<std::time::SystemTime>) -> SourceText {
    let modified = |url: &Url| std::fs::metadata(url.to_file_path().ok()?).ok()?.modified().ok();
    let url = url.clone();
    SourceText::reread(move || {
        let text = fetch::read_file_text(&url).ok()?;
        (text.len() == length && modified(&url) == modified_then).then_some(text)
    })
}

pub(crate) fn parse_text(text: &str, display: &str) -> Result<(Value, Vec<yaml::Recovered>), String> {
    let first = text.trim_start().chars().next();
    if matches!(first, Some('{') | Some('[')) {
        json::from_str(text)
            .map(|value| (value, Vec::new()))
            .map_err(|error| format!("{display}:{}:{}: invalid JSON: {error}", error.line(), error.column()))
    } else {
        yaml::parse_lenient(text).map_err(|error| {
            format!("{display}:{}:{}: invalid YAML: {}", error.position.line, error.position.column, error.message)
        })
    }
}

/// A file URL is shown as a path relative to the working directory when it is below it.
pub fn display_name(url: &Url) -> String {
    if url.scheme() == "file"
        && let Ok(path) = url.to_file_path()
    {
        if let Ok(cwd) = std::env::current_dir()
            && let Ok(relative) = path.strip_prefix(&cwd)
        {
            return relative.display().to_string();
        }
        return path.display().to_string();
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec file's text is let go after parsing and read again for a diagnostic; once the file
    /// has changed, a diagnostic gets the file without a line rather than a wrong one.
    #[test]
    fn a_files_text_is_read_again_only_while_unchanged() {
        let file = tempfile::Builder::new().prefix("api2mcp-test-source-text-").suffix(".yaml").tempfile().unwrap();
        let path = file.path();
        let text = "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      operationId: listA\n";
        std::fs::write(path, text).unwrap();
        let url = Url::from_file_path(path).unwrap();
        let mut diagnostics = Diagnostics::new();
        let document = parse_document(&url, text.to_string(), &mut diagnostics).unwrap();
        assert_eq!(document.value["paths"]["/a"]["get"]["operationId"], "listA");
        let offset = text.find("listA").unwrap();
        let location = document.location_at(offset);
        assert_eq!((location.line, location.column), (5, 20));
        assert_eq!(document.text(), Some(text));

        let changed = parse_document(&url, text.to_string(), &mut diagnostics).unwrap();
        std::fs::write(path, format!("# moved\n{text}")).unwrap();
        let location = changed.location_at(offset);
        assert_eq!((location.line, location.column, changed.text()), (0, 0, None));
        file.close().unwrap();
    }
}
