//! The pipeline a configuration goes through before anything is served: load (files, URLs) →
//! validate → compile, with every diagnostic of one run. Used by every command, by reload and by the
//! tests; the commands that print or serve its result live in `app`.

use crate::catalogue::Catalogue;
use crate::cli::SourceArgs;
use crate::compile::{self, Compiled};
use crate::diag::{Diagnostic, Diagnostics, render};
use crate::load::{self, ConfigSource, Environment, LoadedConfig};
use crate::validate;

/// The result of reading and compiling a configuration.
pub struct Prepared {
    pub loaded: Option<LoadedConfig>,
    pub compiled: Option<Compiled>,
    pub diagnostics: Diagnostics,
}

impl Prepared {
    pub fn catalogue(&self) -> Option<&Catalogue> {
        self.compiled.as_ref().map(|c| &c.catalogue)
    }
}

/// Loads, validates and compiles. Compiles even after validation errors so that one run reports the
/// compiler's findings too; the catalogue must not be served when `diagnostics.has_errors()`.
///
/// Validation and compilation are CPU work (over a second for the largest specs): they run on a
/// blocking-pool thread, so a reload never stalls the runtime workers that serve calls meanwhile.
pub async fn prepare(source: &ConfigSource, env: &dyn Environment) -> Prepared {
    let mut diagnostics = Diagnostics::new();
    let Some(loaded) = load::load_config(source, env, &mut diagnostics).await else {
        return Prepared { loaded: None, compiled: None, diagnostics };
    };
    match tokio::task::spawn_blocking(move || compile_loaded(loaded, diagnostics)).await {
        Ok(prepared) => prepared,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// [`prepare`] for a command starting up, with the compile on this thread, the one that loaded: glibc
/// gives each thread its own arena, and a catalogue compiled on another thread took new pages while
/// the path items the compile lets go of stayed free in this one's (Kubernetes: +6 MiB at `tools`'
/// peak; issue 17 item 10). Nothing else runs yet to be held up; a reload, which runs beside the
/// calls being served, uses [`prepare`].
pub async fn prepare_here(source: &ConfigSource, env: &dyn Environment) -> Prepared {
    let mut diagnostics = Diagnostics::new();
    let Some(loaded) = load::load_config(source, env, &mut diagnostics).await else {
        return Prepared { loaded: None, compiled: None, diagnostics };
    };
    compile_loaded(loaded, diagnostics)
}

/// Validates and compiles what was loaded: pure, no IO.
pub fn compile_loaded(mut loaded: LoadedConfig, mut diagnostics: Diagnostics) -> Prepared {
    validate::validate(&loaded, &mut diagnostics);
    let compiled = compile::compile(&mut loaded, &mut diagnostics);
    Prepared { loaded: Some(loaded), compiled: Some(compiled), diagnostics }
}

/// Neither `--config` nor `--spec` was given and there is no `./api2mcp.yaml`.
#[derive(Debug, thiserror::Error)]
#[error("no configuration: pass --config FILE or --spec FILE|URL (or create ./api2mcp.yaml)")]
pub struct NoConfiguration;

/// Where the configuration comes from: `--spec`, `--config`, or `./api2mcp.yaml`.
pub fn config_source(args: &SourceArgs) -> Result<ConfigSource, NoConfiguration> {
    if let Some(spec) = &args.spec {
        return Ok(ConfigSource::Spec { spec: spec.clone(), base_url: args.base_url.clone() });
    }
    if let Some(config) = &args.config {
        return Ok(ConfigSource::Mapping(config.clone()));
    }
    let default = std::path::PathBuf::from("api2mcp.yaml");
    if default.exists() {
        return Ok(ConfigSource::Mapping(default));
    }
    Err(NoConfiguration)
}

/// Every diagnostic, sorted, rendered with the snippet of the file it points into.
pub fn render_all(prepared: &Prepared) -> String {
    let mut sources = std::collections::HashMap::new();
    if let Some(loaded) = &prepared.loaded {
        sources.clone_from(&loaded.sources);
        // Spec files too, for the ones a diagnostic points into (specs can be large: only those).
        for diagnostic in prepared.diagnostics.iter() {
            let Some(location) = &diagnostic.location else { continue };
            if location.line == 0 || sources.contains_key(&location.file) {
                continue;
            }
            let document = loaded.specs.values().flat_map(|spec| &spec.documents).find(|d| d.display == location.file);
            if let Some(text) = document.and_then(|document| document.text()) {
                sources.insert(location.file.clone(), text.to_string());
            }
        }
    }
    prepared.diagnostics.sorted().into_iter().map(|d: &Diagnostic| render(d, &sources) + "\n").collect()
}
