//! The compiler: (loaded specs, mapping) → [`Catalogue`]. Pure: no IO, no clock, no network, so it can
//! neither hang nor fail differently from one run to the next. Its warnings (name collisions, cut
//! names, suspicious descriptions, unresolved references) go to the same diagnostics as `validate/`.

pub mod auth;
pub mod credentials;
mod lean;
pub mod names;
pub mod output;
pub mod paging;
pub mod params;
pub mod resilience;
pub mod schema;
pub mod security;
pub mod select;
mod shared;
pub mod views;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::catalogue::{Annotations, Catalogue, ServerInfo, Tool, ToolSource, Upstream, UpstreamCall};
use crate::diag::{Diagnostic, Diagnostics, Location};
use crate::load::LoadedConfig;
use crate::mapping::{MappingFile, OutputSchemaMode, StructuredContentMode, ToolConfig, ToolDefaults, UpstreamConfig};
use crate::shape::schema::{ResultShape, shaped_output_schema};
use crate::spec::{DocId, HttpMethod, Operation, OperationError, RefError, Spec};
use crate::text;
use schema::{Mode, SchemaCompiler, SchemaOptions};
use select::{CompiledSelector, Selection};

pub const DEFAULT_MAX_NAME_LENGTH: usize = 64;
pub const DEFAULT_DESCRIPTION_WORDS: usize = 50;
pub const DEFAULT_DESCRIPTION_SENTENCES: usize = 2;
pub const DEFAULT_PARAMETER_DESCRIPTION_WORDS: usize = 20;
pub const DEFAULT_OUTPUT_SCHEMA_MAX_BYTES: usize = 400;
/// Nesting kept in input schemas; deeper levels keep only their type.
const INPUT_MAX_DEPTH: usize = 8;
/// The depths tried in turn until a tool's `inputSchema` fits [`INPUT_SCHEMA_MAX_BYTES`]; at depth 0
/// the arguments stay but composite ones are not expanded.
const INPUT_CUT_DEPTHS: [usize; 6] = [INPUT_MAX_DEPTH, 4, 3, 2, 1, 0];
/// The argument description lengths (words) tried in turn at depth 0 when a tool is still over
/// [`INPUT_SCHEMA_MAX_BYTES`] with every nested structure cut.
const INPUT_CUT_WORDS: [usize; 2] = [8, 0];
/// About 800 tokens: with the tool's name and description, a tool stays under ~1,000 tokens.
const INPUT_SCHEMA_MAX_BYTES: usize = 3_200;
/// Nesting kept in output schemas, which only sketch the response.
const OUTPUT_MAX_DEPTH: usize = 3;

/// Settings after the defaults chain: tool entry → upstream `defaults` → file `defaults` → built-in.
#[derive(Debug, Clone)]
struct Effective {
    max_name_length: usize,
    description_words: usize,
    description_sentences: usize,
    parameter_description_words: usize,
    output_schema: OutputSchemaMode,
    output_schema_max_bytes: usize,
    structured_content: StructuredContentMode,
    include_deprecated: bool,
    scopes: Vec<String>,
    /// The `output` of the upstream's `defaults`, else of the file's, compiled.
    output: Option<crate::catalogue::output::Output>,
    infer_pagination: bool,
    clean: crate::mapping::CleanMode,
    flag_instructions: bool,
}

impl Effective {
    fn of(mapping: &MappingFile, upstream: &UpstreamConfig, output: Option<crate::catalogue::output::Output>) -> Self {
        let layers: [&ToolDefaults; 2] = [&upstream.defaults, &mapping.defaults];
        macro_rules! pick {
            ($field:ident, $default:expr) => {
                layers.iter().find_map(|layer| layer.$field.clone()).unwrap_or($default)
            };
        }
        Effective {
            max_name_length: pick!(max_name_length, DEFAULT_MAX_NAME_LENGTH),
            description_words: pick!(description_words, DEFAULT_DESCRIPTION_WORDS),
            description_sentences: pick!(description_sentences, DEFAULT_DESCRIPTION_SENTENCES),
            parameter_description_words: pick!(parameter_description_words, DEFAULT_PARAMETER_DESCRIPTION_WORDS),
            output_schema: pick!(output_schema, OutputSchemaMode::None),
            output_schema_max_bytes: pick!(output_schema_max_bytes, DEFAULT_OUTPUT_SCHEMA_MAX_BYTES),
            structured_content: pick!(structured_content, StructuredContentMode::WithOutputSchema),
            include_deprecated: pick!(include_deprecated, false),
            scopes: pick!(scopes, Vec::new()),
            output,
            infer_pagination: pick!(infer_pagination, false),
            clean: pick!(clean, crate::mapping::CleanMode::Basic),
            flag_instructions: pick!(flag_instructions, false),
        }
    }
}

/// A counted summary of what was left out, for `check`.
#[derive(Debug, Default, Clone)]
pub struct SelectionReport {
    pub operations: usize,
    pub not_included: usize,
    pub excluded: usize,
    pub disabled: usize,
    pub deprecated: usize,
}

pub struct Compiled {
    pub catalogue: Catalogue,
    pub selection: SelectionReport,
}

/// One selected operation on its way to becoming a tool.
struct Pending<'m, 's> {
    upstream_index: usize,
    operation: Operation<'s>,
    entry: Option<(&'m String, &'m ToolConfig)>,
    /// The entry's `output` and `pagination`, compiled.
    settings: EntrySettings,
    /// An explicit `name:` from the mapping.
    explicit_name: Option<String>,
    base_name: String,
}

/// Where a path key is written in the root document: as a JSON or YAML key, else its first mention.
fn locate_path_key(spec: &Spec, path: &str) -> Location {
    spec.locate_any(crate::spec::ROOT, &[format!("\"{path}\":"), format!("{path}:"), path.to_string()])
}

/// Compiles what was loaded. The specs' path items written in the root document are let go as their
/// tools are built ([`Spec::release_path_item`]): after this, a spec still names its documents and
/// version, but lists no operations.
pub fn compile(loaded: &mut LoadedConfig, diagnostics: &mut Diagnostics) -> Compiled {
    let load_failed = diagnostics.has_errors();
    let LoadedConfig { mapping, mapping_source, specs: loaded_specs, .. } = loaded;
    let mapping = &*mapping;
    let specs = &*loaded_specs;
    let mut upstreams = Vec::new();
    let mut pending: Vec<Pending<'_, '_>> = Vec::new();
    let mut report = SelectionReport::default();
    let mut effective_by_upstream = Vec::new();
    let mut spec_by_upstream = Vec::new();
    let source = mapping_source.as_ref();
    // Every `output` of the file is compiled once, and reported where it is written, whether or not
    // a tool ends up using it.
    let file_output =
        mapping.defaults.output.as_ref().map(|config| output::output(config, "/defaults/output", source, diagnostics));
    let mut upstream_outputs: HashMap<&String, crate::catalogue::output::Output> = HashMap::new();
    for (name, upstream_config) in &mapping.upstreams {
        if let Some(config) = &upstream_config.defaults.output {
            let pointer = format!("/upstreams/{}/defaults/output", crate::spec::pointer_segment(name));
            upstream_outputs.insert(name, output::output(config, &pointer, source, diagnostics));
        }
    }

    for (name, upstream_config) in &mapping.upstreams {
        let Some(spec) = specs.get(name) else {
            continue;
        };
        let defaults_output = upstream_outputs.remove(name).or_else(|| file_output.clone());
        let effective = Effective::of(mapping, upstream_config, defaults_output);
        let upstream_index = upstreams.len();
        upstreams.push(Arc::new(build_upstream(name, upstream_config, spec, diagnostics)));
        let (operations, problems) = spec.operations();
        for problem in problems {
            let at = crate::spec::readable_pointer(&problem.pointer);
            diagnostics.push(match &problem.error {
                OperationError::Ref(error) => Diagnostic::error("spec/unresolved-ref", format!("{at}: {error}"))
                    .at(Some(spec.locate_text(crate::spec::ROOT, error.reference()))),
                OperationError::NotAnObject { kind, expected } => {
                    Diagnostic::warning("spec/skipped", format!("{at} skipped: it is {kind}, not {expected}"))
                        .at(Some(locate_path_key(spec, &problem.path)))
                }
            });
        }
        if let Some(written) = spec.root().get("security").filter(|security| !security.is_array()) {
            diagnostics.push(
                Diagnostic::warning(
                    "spec/skipped",
                    format!(
                        "the spec's global `security` is {}, not a list of requirements; read as not written",
                        crate::spec::json_kind(written)
                    ),
                )
                .at(Some(locate_path_key(spec, "security"))),
            );
        }
        let includes: Vec<CompiledSelector<'_>> = upstream_config.include.iter().map(CompiledSelector::new).collect();
        let excludes: Vec<CompiledSelector<'_>> = upstream_config.exclude.iter().map(CompiledSelector::new).collect();
        let entry_settings = entry_settings(name, upstream_config, &operations, source, diagnostics);
        for operation in operations {
            report.operations += 1;
            match select::select(upstream_config, &includes, &excludes, effective.include_deprecated, &operation) {
                Selection::Excluded(reason) => match reason {
                    select::ExclusionReason::NotIncluded => report.not_included += 1,
                    select::ExclusionReason::Excluded => report.excluded += 1,
                    select::ExclusionReason::Disabled => report.disabled += 1,
                    select::ExclusionReason::Deprecated => report.deprecated += 1,
                },
                Selection::Included(entry) => {
                    let explicit_name = entry.and_then(|(_, tool)| tool.name.clone());
                    let generated = match operation.operation_id() {
                        Some(id) => names::snake_case(id),
                        None => names::from_method_and_path(operation.method.upper(), operation.path),
                    };
                    let generated = if generated.is_empty() { "operation".to_string() } else { generated };
                    let prefix = upstream_config.tool_prefix.as_deref().unwrap_or("");
                    let settings = entry.and_then(|(key, _)| entry_settings.get(key).cloned()).unwrap_or_default();
                    pending.push(Pending {
                        upstream_index,
                        operation,
                        entry,
                        settings,
                        explicit_name,
                        base_name: format!("{prefix}{generated}"),
                    });
                }
            }
        }
        effective_by_upstream.push(effective);
        spec_by_upstream.push((name, upstream_config, spec));
    }

    // Toolset membership is decided on the operations, with the same selectors as `include`.
    let toolset_selectors: Vec<(&crate::mapping::ToolsetConfig, Vec<CompiledSelector<'_>>)> = mapping
        .toolsets
        .values()
        .map(|config| (config, config.include.iter().map(CompiledSelector::new).collect()))
        .collect();
    let toolset_members: Vec<Vec<usize>> = toolset_selectors
        .iter()
        .map(|(config, selectors)| {
            (0..pending.len())
                .filter(|&index| {
                    let item = &pending[index];
                    let upstream_name = spec_by_upstream[item.upstream_index].0;
                    (config.upstreams.is_empty() || config.upstreams.contains(upstream_name))
                        && selectors.iter().any(|selector| selector.matches(&item.operation))
                })
                .collect()
        })
        .collect();
    let tool_names = assign_names(&pending, &effective_by_upstream, &spec_by_upstream, diagnostics);
    let upstream_names: Vec<&String> = spec_by_upstream.iter().map(|(name, _, _)| *name).collect();
    let upstream_configs: Vec<&UpstreamConfig> = spec_by_upstream.iter().map(|(_, config, _)| *config).collect();
    let (releasable, references): (Vec<bool>, Vec<Vec<usize>>) = (spec_by_upstream.iter())
        .map(|(_, _, spec)| spec.reference_facts())
        .map(|(into_paths, references)| (!into_paths, references))
        .unzip();
    // From here on the operations are found again path by path, so that each path item can be let
    // go once its tools are built.
    let pending: Vec<(Selected<'_>, String)> = pending
        .into_iter()
        .zip(tool_names)
        .map(|(item, name)| {
            let selected = Selected {
                upstream_index: item.upstream_index,
                path: item.operation.path.to_string(),
                pointer: item.operation.pointer,
                entry: item.entry,
                settings: item.settings,
            };
            (selected, name)
        })
        .collect();
    let mut problems = SharedProblems { load_failed, ..SharedProblems::default() };
    let mut tools = Vec::with_capacity(pending.len());
    let mut shared_schemas = shared::SharedSchemas::default();
    let mut notes: Vec<UpstreamNotes> = (0..upstreams.len()).map(|_| UpstreamNotes::default()).collect();
    // Per upstream: how many exposed operations the spec says need credentials, and the schemes named.
    let mut secured: Vec<(usize, std::collections::BTreeSet<String>)> = vec![Default::default(); upstreams.len()];
    let mut rest = &pending[..];
    while let Some((first, _)) = rest.first() {
        // The selected operations of one path item are next to each other, in document order.
        let same =
            rest.iter().take_while(|(item, _)| item.upstream_index == first.upstream_index && item.path == first.path);
        let (group, after) = rest.split_at(same.count());
        rest = after;
        let upstream_name = upstream_names[first.upstream_index];
        let spec = &loaded_specs[upstream_name.as_str()];
        let operations = spec.operations_of_path(&first.path);
        // Documents only this path item or one of its operations names, let go with the path item.
        let mut documents: Vec<DocId> = operations.iter().flat_map(|o| [o.path_item_doc, o.operation_doc]).collect();
        documents.retain(|doc| *doc != crate::spec::ROOT && references[first.upstream_index][doc.0 as usize] == 1);
        documents.dedup();
        for (item, name) in group {
            let Some(operation) = operations.iter().find(|operation| operation.pointer == item.pointer) else {
                continue;
            };
            build_into(
                name.clone(),
                item,
                operation,
                BuildState {
                    tools: &mut tools,
                    shared_schemas: &mut shared_schemas,
                    spec,
                    upstream_name,
                    upstream: &upstreams[item.upstream_index],
                    upstream_config: upstream_configs[item.upstream_index],
                    effective: &effective_by_upstream[item.upstream_index],
                    notes: &mut notes[item.upstream_index],
                    secured: &mut secured[item.upstream_index],
                },
                diagnostics,
                &mut problems,
            );
        }
        let spec = &mut loaded_specs[upstream_name.as_str()];
        if releasable[first.upstream_index] {
            spec.release_path_item(&first.path);
        }
        documents.into_iter().for_each(|doc| spec.release_document(doc));
    }
    let spec_by_upstream: Vec<(&String, &UpstreamConfig, &Spec)> = (upstream_names.iter().zip(&upstream_configs))
        .map(|(name, config)| (*name, *config, &loaded_specs[name.as_str()]))
        .collect();
    for ((upstream, (_, _, spec)), notes) in upstreams.iter().zip(&spec_by_upstream).zip(&notes) {
        notes.report(upstream, spec, diagnostics);
    }
    let SharedProblems { unresolved, invalid, .. } = problems;
    let mut invalid: Vec<_> = invalid.into_iter().collect();
    invalid.sort_by(|a, b| a.0.cmp(&b.0));
    for ((upstream_index, _, _), (first_use, uses, keyword)) in invalid {
        let (_, _, spec) = spec_by_upstream[upstream_index];
        let also = if uses > 1 { format!(" and {} more operations", uses - 1) } else { String::new() };
        let location = spec.locate_any(
            keyword.doc,
            &[
                format!("{}: {}", keyword.key, keyword.value),
                format!("\"{}\": {}", keyword.key, keyword.value),
                format!("\"{}\":{}", keyword.key, keyword.value),
                keyword.value.clone(),
                keyword.key.clone(),
            ],
        );
        diagnostics.push(
            Diagnostic::warning("spec/invalid-keyword", format!("{}; in the input of {first_use}{also}", keyword.note))
                .at(Some(location))
                .with_help(
                    "the API still validates what it receives; correct the schema to give agents the constraint",
                ),
        );
    }
    let mut unresolved: Vec<_> = unresolved.into_iter().collect();
    unresolved.sort_by(|a, b| (a.0.0, a.0.1, &a.0.2).cmp(&(b.0.0, b.0.1, &b.0.2)));
    for ((doc, upstream_index, message), (first_use, uses, reference)) in unresolved {
        let (_, _, spec) = spec_by_upstream[upstream_index];
        let also = if uses > 1 { format!(" and {} more operations", uses - 1) } else { String::new() };
        diagnostics.push(
            Diagnostic::error("spec/unresolved-ref", format!("{message}; used by {first_use}{also}"))
                .at(Some(spec.locate_text(doc, &reference))),
        );
    }

    // Without `server.name` (always so in zero-config mode) the server is named after the first
    // spec's `info.title`, which is what a user recognises in a client's server list.
    let spec_title = spec_by_upstream
        .first()
        .and_then(|(_, _, spec)| spec.root().pointer("/info/title").and_then(serde_json::Value::as_str))
        // Cleaned like any third-party text; cleaning ends sentences with a period, a title has none.
        .map(|title| {
            let cleaned = text::clean(title).text;
            if title.trim_end().ends_with('.') { cleaned } else { cleaned.trim_end_matches('.').to_string() }
        })
        .filter(|title| !title.trim().is_empty());
    for (upstream, (count, schemes)) in upstreams.iter().zip(&secured) {
        if *count > 0 && upstream.credentials.is_empty() && upstream.headers.is_empty() {
            let schemes: Vec<&str> = schemes.iter().map(String::as_str).collect();
            diagnostics.push(Diagnostic::warning(
                "upstream/no-credentials",
                format!(
                    "upstream '{}': {count} exposed operation{} need{} credentials (security: {}) but the upstream \
                     has no `credentials` or `settings.headers`; the API will refuse those calls",
                    upstream.name,
                    if *count == 1 { "" } else { "s" },
                    if *count == 1 { "s" } else { "" },
                    schemes.join(", ")
                ),
            ));
        }
    }

    let server = ServerInfo {
        name: mapping
            .server
            .name
            .clone()
            .or_else(|| spec_title.as_deref().map(names::server_name_from_title).filter(|name| !name.is_empty()))
            .unwrap_or_else(|| "api2mcp".to_string()),
        title: mapping
            .server
            .title
            .clone()
            .or_else(|| if mapping.server.name.is_none() { spec_title.clone() } else { None }),
        description: mapping.server.description.clone(),
        instructions: mapping.server.instructions.clone(),
        cursor_secret: mapping.server.cursor_secret.clone(),
        // `${REDIS_URL:-}` leaves it empty: no Redis.
        redis_url: mapping.server.redis_url.clone().filter(|url| !url.trim().is_empty()),
        discovery: discovery_info(&mapping.server.discovery),
        auth: mapping.auth.as_ref().and_then(|settings| auth::inbound(settings, source, diagnostics)),
        limits: resilience::server_limits(&mapping.server.limits),
    };
    let upstream_names: Vec<String> = upstreams.iter().map(|u| u.name.clone()).collect();
    let views = views::build(mapping, &tools, &upstream_names, toolset_members, diagnostics);
    let catalogue = Catalogue::new(server, upstreams, tools).with_views(views);
    catalogue_size_warning(&catalogue, diagnostics);
    Compiled { catalogue, selection: report }
}

/// A selected operation with its name decided, found again by path and method when its tool is built.
struct Selected<'m> {
    upstream_index: usize,
    path: String,
    /// `paths./pets.get`, the method key as written: what tells two operations of a path apart.
    pointer: String,
    entry: Option<(&'m String, &'m ToolConfig)>,
    settings: EntrySettings,
}

/// What building one tool reads and adds to, for its upstream.
struct BuildState<'a> {
    /// The catalogue's tools so far.
    tools: &'a mut Vec<Arc<Tool>>,
    shared_schemas: &'a mut shared::SharedSchemas,
    spec: &'a Spec,
    upstream_name: &'a str,
    upstream: &'a Upstream,
    upstream_config: &'a UpstreamConfig,
    effective: &'a Effective,
    notes: &'a mut UpstreamNotes,
    /// How many exposed operations need credentials, and the schemes named.
    secured: &'a mut (usize, std::collections::BTreeSet<String>),
}

/// Problems many operations can share (a schema they all refer to), reported once each, with the
/// first operation that met it and how many more did.
#[derive(Default)]
struct SharedProblems {
    /// `$ref`s that could not be followed, by document, upstream and message: the first operation
    /// that met one, how many did, and the `$ref` as written.
    unresolved: HashMap<(DocId, usize, String), (String, usize, String)>,
    /// Whether loading or validating reported an error before the compile: then a `$ref` into a
    /// document that was not loaded is one of those (a file that could not be read), said already.
    load_failed: bool,
    /// Keyword values the argument checker could not read, by upstream, document and note.
    invalid: HashMap<(usize, DocId, String), (String, usize, schema::InvalidKeyword)>,
}

/// Builds the tool of one selected operation and adds it to the catalogue's tools.
fn build_into(
    name: String,
    item: &Selected<'_>,
    operation: &Operation<'_>,
    state: BuildState<'_>,
    diagnostics: &mut Diagnostics,
    problems: &mut SharedProblems,
) {
    let BuildState { tools, shared_schemas, spec, upstream_name, upstream, upstream_config, effective, notes, secured } =
        state;
    if let Some(schemes) = required_schemes(spec, operation) {
        secured.0 += 1;
        secured.1.extend(schemes);
    }
    let context = ToolContext { upstream_name, upstream, spec, effective, notes };
    let tool_settings = item.entry.map(|(_, config)| &config.settings);
    let Some(mut tool) = build_tool(name, item, operation, context, diagnostics, problems) else { return };
    tool.resilience = resilience::tool(operation.method, &upstream_config.settings, tool_settings);
    // The catalogue's schemas are most of what is held once the spec is freed (Kubernetes:
    // ~12 MiB for 1,123 tools); built by growing, they are a third unused capacity.
    crate::load::json::compact_object(Arc::make_mut(&mut tool.input_schema));
    // Shared as each tool is built: a copy let go here is reused by the next tool's.
    tool.input_schema = shared_schemas.share(tool.input_schema);
    if let Some(output_schema) = &mut tool.output_schema {
        crate::load::json::compact_object(output_schema);
    }
    tool.description.shrink_to_fit();
    tools.push(Arc::new(tool));
}

/// A tool entry's `output` and `pagination`, compiled.
#[derive(Default, Clone)]
struct EntrySettings {
    output: Option<crate::catalogue::output::Output>,
    paging: Option<output::PagingQueries>,
}

/// The `output` and `pagination` of each tool entry that names an operation of the spec, compiled,
/// in mapping order (entries that name none are `mapping/unknown-operation`, reported by `validate/`).
/// Disabled entries are compiled too: `check` reports every mistake in the file.
fn entry_settings<'a>(
    upstream_name: &str,
    upstream: &'a UpstreamConfig,
    operations: &[Operation<'_>],
    source: Option<&crate::load::MappingSource>,
    diagnostics: &mut Diagnostics,
) -> HashMap<&'a String, EntrySettings> {
    if upstream.tools.values().all(|tool| tool.output.is_none() && tool.pagination.is_none()) {
        return HashMap::new();
    }
    let named: HashSet<&String> =
        operations.iter().filter_map(|operation| select::tool_entry(upstream, operation)).map(|(key, _)| key).collect();
    let mut compiled = HashMap::new();
    for (key, tool) in upstream.tools.iter().filter(|(key, _)| named.contains(key)) {
        let pointer = format!(
            "/upstreams/{}/tools/{}",
            crate::spec::pointer_segment(upstream_name),
            crate::spec::pointer_segment(key)
        );
        let settings = EntrySettings {
            output: tool
                .output
                .as_ref()
                .map(|config| output::output(config, &format!("{pointer}/output"), source, diagnostics)),
            paging: tool.pagination.as_ref().map(|config| {
                output::paging_queries(config, key, &format!("{pointer}/pagination"), source, diagnostics)
            }),
        };
        compiled.insert(key, settings);
    }
    compiled
}

/// More tools than common clients accept: VS Code and OpenAI's function calling take at most 128,
/// Cursor about 40 across all servers.
pub const CLIENT_TOOL_LIMIT: usize = 128;
/// A `tools/list` over this many tokens (bytes / 4) takes a large share of a model's context on every
/// request, and tool choice degrades well before it.
pub const CLIENT_TOKEN_LIMIT: usize = 50_000;

/// `tool/catalogue-too-large`: the catalogue is bigger than common clients take.
fn catalogue_size_warning(catalogue: &Catalogue, diagnostics: &mut Diagnostics) {
    let tools = catalogue.tools.len();
    // Discovery already serves a large catalogue as three tools.
    if tools == 0 || catalogue.view(None).is_some_and(|view| view.uses_discovery()) {
        return;
    }
    let tokens = crate::shape::approx_tokens(&catalogue.tools_list_json().to_string());
    if tools <= CLIENT_TOOL_LIMIT && tokens <= CLIENT_TOKEN_LIMIT {
        return;
    }
    diagnostics.push(
        Diagnostic::warning(
            "tool/catalogue-too-large",
            format!(
                "the catalogue has {tools} tools and its tools/list costs ~{tokens} tokens: more than common \
                 clients take (at most {CLIENT_TOOL_LIMIT} tools; Cursor about 40) or than fits a model's \
                 context comfortably (~{CLIENT_TOKEN_LIMIT} tokens)"
            ),
        )
        .with_help(
            "serve fewer tools: `include`/`exclude` by tag, path or operationId, or a discovery mode that lets \
             agents search the catalogue instead of listing it",
        ),
    );
}

/// The security schemes an operation requires (its own `security`, else the document's), or `None`
/// when it needs none: no requirement, or an empty alternative (`{}`) that allows anonymous calls.
fn required_schemes(spec: &Spec, operation: &Operation<'_>) -> Option<Vec<String>> {
    let security = security::security_of(operation.operation.get("security"), spec.root().get("security"))?;
    let alternatives = security.as_array()?;
    if alternatives.is_empty() || alternatives.iter().any(|a| a.as_object().is_none_or(|o| o.is_empty())) {
        return None;
    }
    Some(alternatives.iter().filter_map(Value::as_object).flat_map(|o| o.keys().cloned()).collect())
}

fn build_upstream(name: &str, config: &UpstreamConfig, spec: &Spec, diagnostics: &mut Diagnostics) -> Upstream {
    let spec_url = if config.base_url.is_some() { Ok(None) } else { spec_server_url(spec, config) };
    let base_url = config.base_url.clone().or_else(|| spec_url.clone().ok().flatten());
    match spec_url {
        Err(problem) => diagnostics.push(
            Diagnostic::error("upstream/unusable-server-url", format!("upstream '{name}': {problem}"))
                .at(Some(spec.locate_text(crate::spec::ROOT, "servers")))
                .with_help(
                    "only http and https servers can be called: set `base_url` in the mapping file, or pass --base-url",
                ),
        ),
        Ok(None) if base_url.is_none() => diagnostics.push(
            Diagnostic::warning(
                "upstream/no-base-url",
                format!("upstream '{name}' has no base URL: its spec names no server"),
            )
            .at(Some(Location::file_only(&spec.doc(crate::spec::ROOT).display)))
            .with_help("set `base_url` in the mapping file, or pass --base-url"),
        ),
        Ok(_) => {}
    }
    let settings = &config.settings;
    let (credential_names, credentials) = config
        .credentials
        .iter()
        .filter_map(|(scheme, settings)| {
            credentials::resolve(scheme, settings, spec).ok().map(|credential| (scheme.clone(), credential))
        })
        .unzip();
    Upstream {
        name: name.to_string(),
        base_url,
        spec: config.spec.clone(),
        timeout: settings.timeout.map_or(Duration::from_secs(30), |d| d.0),
        connect_timeout: settings.connect_timeout.map_or(Duration::from_secs(5), |d| d.0),
        max_response_bytes: settings.max_response_bytes.unwrap_or(10 * 1024 * 1024),
        headers: settings.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        health: config.health.as_ref().map(|probe| crate::catalogue::HealthProbe {
            path: probe.path.clone(),
            timeout: probe.timeout.map_or(Duration::from_secs(2), |d| d.0),
        }),
        credentials,
        credential_names,
        resilience: resilience::upstream(settings),
    }
}

/// The spec's first server URL with its variables resolved (mapping values first, then defaults),
/// made absolute against the spec's own URL when it is relative and the spec came from http(s).
/// `None` when the spec names no server.
pub fn spec_base_url(spec: &Spec, config: &UpstreamConfig) -> Option<String> {
    spec_server_url(spec, config).ok().flatten()
}

/// Like [`spec_base_url`], but says why a server URL that is there cannot be called: another scheme
/// than http(s) (`file:`, `ftp:`, `javascript:`...), or a relative URL in a spec read from a file.
fn spec_server_url(spec: &Spec, config: &UpstreamConfig) -> Result<Option<String>, String> {
    let server = match spec.root().get("servers") {
        None => return Ok(None),
        Some(Value::Array(servers)) => match servers.first() {
            None => return Ok(None),
            Some(server) => server,
        },
        Some(other) => {
            return Err(format!("the spec's `servers` is {}, not a list of servers", crate::spec::json_kind(other)));
        }
    };
    let Some(written) = server.get("url").and_then(Value::as_str) else {
        let what = match server.get("url") {
            Some(url) => format!("its `url` is {}", crate::spec::json_kind(url)),
            None if server.is_object() => "it has no `url`".to_string(),
            None => format!("it is {}", crate::spec::json_kind(server)),
        };
        return Err(format!("the spec's first server names no URL: {what}"));
    };
    let mut url = written.to_string();
    if let Some(variables) = server.get("variables").and_then(Value::as_object) {
        for (variable, definition) in variables {
            let value = config
                .server_variables
                .get(variable)
                .cloned()
                .or_else(|| definition.get("default").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            url = url.replace(&format!("{{{variable}}}"), &value);
        }
    }
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Ok(Some(url.trim_end_matches('/').to_string()));
    }
    let absolute = match url::Url::parse(&url) {
        Ok(absolute) => absolute,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let root_url = &spec.doc(crate::spec::ROOT).url;
            // A Swagger 2.0 document without `host` ("the host serving the documentation") names no
            // server at all; its upgrade only carries `basePath` over as a relative URL.
            if spec.version == crate::spec::SpecVersion::Swagger2 && !matches!(root_url.scheme(), "http" | "https") {
                return Ok(None);
            }
            if !matches!(root_url.scheme(), "http" | "https") {
                return Err(format!(
                    "the spec's server URL '{written}' is relative and the spec was read from a file, so it has no host"
                ));
            }
            root_url.join(&url).map_err(|error| format!("the spec's server URL '{written}' is not a URL: {error}"))?
        }
        Err(error) => return Err(format!("the spec's server URL '{written}' is not a URL: {error}")),
    };
    match absolute.scheme() {
        "http" | "https" if absolute.host().is_some() => {
            Ok(Some(absolute.to_string().trim_end_matches('/').to_string()))
        }
        "http" | "https" => Err(format!("the spec's server URL '{written}' has no host")),
        scheme => {
            Err(format!("the spec's server URL '{written}' has scheme '{scheme}'; only http and https are upstreams"))
        }
    }
}

/// Names in two passes: explicit names from the mapping are reserved first; generated names are then
/// fitted to the length limit and, on collision, suffixed `_2`, `_3`, ... in spec order, with a warning.
fn assign_names(
    pending: &[Pending<'_, '_>],
    effective: &[Effective],
    specs: &[(&String, &UpstreamConfig, &Spec)],
    diagnostics: &mut Diagnostics,
) -> Vec<String> {
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (index, item) in pending.iter().enumerate() {
        if let Some(name) = &item.explicit_name
            && let Some(&other) = taken.get(name)
        {
            diagnostics.push(Diagnostic::error(
                "mapping/duplicate-tool-name",
                format!(
                    "tool name '{name}' is given to both {} and {}",
                    describe(&pending[other], specs),
                    describe(item, specs)
                ),
            ));
        } else if let Some(name) = &item.explicit_name {
            taken.insert(name.clone(), index);
        }
    }
    let mut names = Vec::with_capacity(pending.len());
    let mut shortened: Vec<String> = Vec::new();
    for (index, item) in pending.iter().enumerate() {
        if let Some(name) = &item.explicit_name {
            names.push(name.clone());
            continue;
        }
        let max = effective[item.upstream_index].max_name_length;
        let fitted = names::fit(&item.base_name, max);
        if fitted != item.base_name {
            shortened.push(format!("'{}' → '{fitted}'", item.base_name));
        }
        let mut name = fitted.clone();
        let mut counter = 2;
        while taken.contains_key(&name) {
            let suffix = format!("_{counter}");
            name = format!("{}{suffix}", names::fit(&item.base_name, max.saturating_sub(suffix.len())));
            counter += 1;
        }
        if name != fitted {
            let other = taken[&fitted];
            diagnostics.push(
                Diagnostic::warning(
                    "tool/name-collision",
                    format!(
                        "{} and {} both want the tool name '{fitted}'; the second is named '{name}'",
                        describe(&pending[other], specs),
                        describe(item, specs)
                    ),
                )
                .with_help("set `name:` for one of them in the mapping file, or a `tool_prefix` per upstream"),
            );
        }
        taken.insert(name.clone(), index);
        names.push(name);
    }
    // One warning for all of them: big specs have dozens, and each has the same remedy.
    if !shortened.is_empty() {
        let examples: Vec<&str> = shortened.iter().take(3).map(String::as_str).collect();
        let more = if shortened.len() > 3 { format!(" and {} more", shortened.len() - 3) } else { String::new() };
        diagnostics.push(
            Diagnostic::warning(
                "tool/name-shortened",
                format!(
                    "{} tool name{} longer than the limit shortened with a hash suffix: {}{more}",
                    shortened.len(),
                    if shortened.len() == 1 { "" } else { "s" },
                    examples.join(", ")
                ),
            )
            .with_help("set `name:` per operation, or raise `defaults.max_name_length`"),
        );
    }
    names
}

fn describe(item: &Pending<'_, '_>, specs: &[(&String, &UpstreamConfig, &Spec)]) -> String {
    let upstream = specs[item.upstream_index].0;
    let what = match item.operation.operation_id() {
        Some(id) => format!("'{id}' ({})", item.operation.method_and_path()),
        None => item.operation.method_and_path(),
    };
    if specs.len() > 1 { format!("{what} of upstream '{upstream}'") } else { what }
}

/// What building one tool needs to know about its upstream, and where it leaves findings that
/// `check` reports once per upstream.
struct ToolContext<'a> {
    upstream_name: &'a str,
    upstream: &'a Upstream,
    spec: &'a Spec,
    effective: &'a Effective,
    notes: &'a mut UpstreamNotes,
}

/// Findings summed over an upstream's operations: one diagnostic each, however many operations.
#[derive(Default)]
struct UpstreamNotes {
    /// Operations no configured `security` alternative covers, with the alternatives they accept.
    uncovered: Vec<(String, Vec<String>)>,
    /// `header: value` pairs sent because the spec declares them, with how many operations send each.
    declared_headers: Vec<(String, usize)>,
}

impl UpstreamNotes {
    fn report(&self, upstream: &Upstream, spec: &Spec, diagnostics: &mut Diagnostics) {
        let location = Some(Location::file_only(&spec.doc(crate::spec::ROOT).display));
        let upstream_name = upstream.name.as_str();
        // An upstream with no credentials at all is `upstream/no-credentials` (below, one warning for
        // it); this one is for credentials configured under schemes the operations do not accept.
        if let Some((first, alternatives)) = self.uncovered.first().filter(|_| !upstream.credentials.is_empty()) {
            let more = match self.uncovered.len() {
                1 => String::new(),
                n => format!(" and {} more operations", n - 1),
            };
            diagnostics.push(
                Diagnostic::warning(
                    "upstream/no-credentials-for-operation",
                    format!(
                        "upstream '{upstream_name}': {first}{more} need credentials none of which are configured (it accepts {}); they are called without",
                        alternatives.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" or ")
                    ),
                )
                .at(location.clone())
                .with_help("add one of the spec's security schemes under the upstream's `credentials`"),
            );
        }
        if !self.declared_headers.is_empty() {
            let sent: Vec<String> =
                self.declared_headers.iter().map(|(header, count)| format!("{header} ({count} operations)")).collect();
            diagnostics.push(
                Diagnostic::warning(
                    "spec/declared-header",
                    format!(
                        "upstream '{upstream_name}': header parameters OpenAPI says to ignore are sent with their declared value: {}",
                        sent.join(", ")
                    ),
                )
                .at(location)
                .with_help("the spec pins these values; set the header in the upstream's `settings.headers` to send another"),
            );
        }
    }

    fn declared_header(&mut self, header: &str, value: &str) {
        let text = format!("{header}: {value}");
        match self.declared_headers.iter_mut().find(|(existing, _)| *existing == text) {
            Some((_, count)) => *count += 1,
            None => self.declared_headers.push((text, 1)),
        }
    }
}

/// The path to send and the query pairs pinned in a spec's path key: `/files/{id}#get_link` is sent
/// as `/files/{id}` (the fragment only tells operations apart), `/items/{id}/cancel?beta=true` as
/// `/items/{id}/cancel` with `beta=true` in the query.
pub fn split_path_key(key: &str) -> (String, Vec<(String, String)>) {
    let without_fragment = key.split_once('#').map_or(key, |(path, _)| path);
    match without_fragment.split_once('?') {
        Some((path, query)) => (
            path.to_string(),
            url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
        ),
        None => (without_fragment.to_string(), Vec::new()),
    }
}

/// Builds one tool; `None` when the operation cannot be called from arguments (the reason is reported).
fn build_tool(
    name: String,
    item: &Selected<'_>,
    operation: &Operation<'_>,
    context: ToolContext<'_>,
    diagnostics: &mut Diagnostics,
    problems: &mut SharedProblems,
) -> Option<Tool> {
    let ToolContext { upstream_name, upstream, spec, effective, notes } = context;
    let tool_config = item.entry.map(|(_, config)| config);
    // Looked up only when a diagnostic is emitted: finding it needs the document's text index.
    let operation_location = || operation.location(spec);
    let who = || match operation.operation_id() {
        Some(id) => format!("operation '{id}' ({})", operation.method_and_path()),
        None => format!("operation {}", operation.method_and_path()),
    };

    let mut findings = Vec::new();
    let described = match tool_config.and_then(|t| t.description.clone()) {
        Some(description) => Some(description),
        None => {
            let words = tool_config.and_then(|t| t.description_words).unwrap_or(effective.description_words);
            let cleaned = text::describe_operation(
                operation.summary(),
                operation.description(),
                words,
                effective.description_sentences,
            );
            findings.extend(cleaned.findings);
            Some(cleaned.text).filter(|text| !text.is_empty())
        }
    };

    let (mut input, mut input_compiler) = build_input_within_budget(spec, operation, effective);
    findings.append(&mut input_compiler.findings);
    for problem in &input.problems {
        diagnostics
            .push(Diagnostic::warning("spec/skipped", format!("{}: {problem}", who())).at(Some(operation_location())));
    }
    if let Some(reason) = &input.unsupported_body {
        diagnostics.push(
            Diagnostic::warning("spec/unsupported-body", format!("{}: {reason}; no tool is made for it", who()))
                .at(Some(operation_location()))
                .with_help("offer a JSON, form or multipart body in the spec, or describe the XML body as a string"),
        );
        return None;
    }
    for header in &input.reserved_headers {
        diagnostics.push(
            Diagnostic::warning(
                "spec/reserved-header",
                format!("{}: header parameter '{header}' left out: it is reserved and never set by a tool argument", who()),
            )
            .at(Some(operation_location()))
            .with_help("api2mcp sets credentials, cookies and forwarding headers itself (upstream `settings.headers`, `credentials`)"),
        );
    }

    let output_mode = tool_config.and_then(|t| t.output_schema).unwrap_or(effective.output_schema);
    let output = item.settings.output.clone().or_else(|| effective.output.clone());
    let declared = tool_config.and_then(|t| t.pagination.clone()).zip(item.settings.paging.clone());
    let pagination = match declared {
        Some((config, queries)) => Some((config, queries, false)),
        None if effective.infer_pagination => paging::infer(spec, operation, &input.bindings).map(|config| {
            // Inferred paths are built from the spec's field names; any problem is the compiler's.
            let queries = output::paging_queries(&config, &name, "", None, diagnostics);
            (config, queries, true)
        }),
        None => None,
    };
    let pagination = pagination.map(|(config, queries, inferred)| {
        let (cursor_argument, first_values) = paging::paged_input(&mut input.schema, &mut input.bindings, &config);
        output::pagination(&config, queries, &input.bindings, cursor_argument, first_values, inferred)
    });
    lean::lean_input_schema(&mut input.schema, &name, described.as_deref().unwrap_or_default());
    let shape = match &pagination {
        Some(pagination) => ResultShape::Paginated { items: pagination.items.as_ref().map(|q| q.text.as_str()) },
        None => ResultShape::Single,
    };
    let ResponseFacts { output_schema, mut accept, unresolved: output_unresolved, problems: response_problems } =
        output_schema(spec, operation, output_mode, effective.output_schema_max_bytes, output.as_ref(), shape);
    for problem in &response_problems {
        diagnostics
            .push(Diagnostic::warning("spec/skipped", format!("{}: {problem}", who())).at(Some(operation_location())));
    }
    if let Some(declared) = &input.declared_accept {
        notes.declared_header("Accept", declared);
        accept = vec![declared.clone()];
    }
    if let Some(declared) = &input.declared_content_type {
        notes.declared_header("Content-Type", declared);
        // The body's media type decides how it is serialised; the declared type replaces it on the
        // wire only when it names the same kind (a versioned JSON type for a JSON body).
        if let Some(body) = &mut input.body
            && same_media_kind(&body.content_type, declared)
        {
            body.content_type = declared.clone();
        }
    }
    if let Some(written) = operation.operation.get("security").filter(|security| !security.is_array()) {
        let global = if spec.root().get("security").is_some_and(Value::is_array) {
            "the spec's global `security`"
        } else {
            "none"
        };
        diagnostics.push(
            Diagnostic::warning(
                "spec/skipped",
                format!(
                    "{}: `security` is {}, not a list of requirements; read as not written ({global} applies)",
                    who(),
                    crate::spec::json_kind(written)
                ),
            )
            .at(Some(operation_location())),
        );
    }
    let selection = security::select(spec, operation, &upstream.credential_names);
    if let Some(alternatives) = selection.unsatisfied {
        notes.uncovered.push((who(), alternatives));
    }
    let (wire_path, fixed_query) = split_path_key(operation.path);

    // A document `load/` could not read (or was not allowed to) has its error already; one it never
    // tried to read is a `$ref` it passed over, and is reported here, never left silent.
    for (doc, error) in input_compiler.unresolved.into_iter().chain(output_unresolved) {
        if problems.load_failed && matches!(error, RefError::MissingDocument { .. }) {
            continue;
        }
        let key = (doc, item.upstream_index, error.to_string());
        problems.unresolved.entry(key).or_insert_with(|| (who(), 0, error.reference().to_string())).1 += 1;
    }
    for keyword in input_compiler.invalid.drain(..) {
        let key = (item.upstream_index, keyword.doc, keyword.note.clone());
        problems.invalid.entry(key).or_insert_with(|| (who(), 0, keyword)).1 += 1;
    }
    report_findings(&findings, &who(), &operation_location, diagnostics);

    let structured_content = match effective.structured_content {
        StructuredContentMode::WithOutputSchema => output_schema.is_some(),
        StructuredContentMode::Always => true,
    };
    let annotations = annotations(operation.method, tool_config);
    let scopes = scopes(spec, operation, tool_config, &effective.scopes);
    let has_description = described.is_some();
    // The spec says nothing: the operationId, the path and the arguments still tell an agent a lot.
    let description = described.unwrap_or_else(|| {
        let arguments: Vec<&str> = input
            .schema
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .map(|properties| properties.keys().map(String::as_str).collect())
            .unwrap_or_default();
        text::describe_undocumented(operation.operation_id(), operation.method.upper(), operation.path, &arguments)
    });
    Some(Tool {
        name,
        title: tool_config.and_then(|t| t.title.clone()),
        description,
        input_schema: Arc::new(input.schema),
        output_schema,
        structured_content,
        annotations,
        scopes,
        upstream: item.upstream_index,
        call: UpstreamCall {
            method: operation.method,
            path: wire_path,
            arguments: input.bindings,
            body: input.body,
            accept,
            fixed_query,
            declared_content_type: input.declared_content_type,
            credentials: selection.choice,
        },
        pagination,
        output,
        clean: clean_mode(tool_config.and_then(|t| t.clean).unwrap_or(effective.clean)),
        flag_instructions: tool_config.and_then(|t| t.flag_instructions).unwrap_or(effective.flag_instructions),
        source: ToolSource {
            upstream: upstream_name.to_string(),
            operation_id: operation.operation_id().map(str::to_string),
            method: operation.method,
            path: operation.path.to_string(),
            tags: operation.tags().map(str::to_string).collect(),
            summary: operation.summary().map(str::to_string),
            has_description,
        },
        resilience: Default::default(),
    })
}

fn discovery_info(settings: &crate::mapping::DiscoverySettings) -> crate::catalogue::DiscoveryInfo {
    crate::catalogue::DiscoveryInfo {
        public_url: settings.public_url.clone(),
        registry_name: settings.registry_name.clone(),
        website_url: settings.website_url.clone(),
        server_card: settings.server_card,
    }
}

/// The mapping's `clean` as the catalogue carries it.
fn clean_mode(mode: crate::mapping::CleanMode) -> crate::catalogue::CleanMode {
    match mode {
        crate::mapping::CleanMode::Basic => crate::catalogue::CleanMode::Basic,
        crate::mapping::CleanMode::Strict => crate::catalogue::CleanMode::Strict,
        crate::mapping::CleanMode::Off => crate::catalogue::CleanMode::Off,
    }
}

/// Both JSON types, or the same type: a declared `Content-Type` may then stand for the body's.
fn same_media_kind(body_type: &str, declared: &str) -> bool {
    let essence = |media_type: &str| media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_json = |essence: &str| essence.ends_with("/json") || essence.ends_with("+json");
    let (body_type, declared) = (essence(body_type), essence(declared));
    body_type == declared || (is_json(&body_type) && is_json(&declared))
}

/// The tool's arguments, with nested schemas cut as deep as needed for the `inputSchema` to fit
/// [`INPUT_SCHEMA_MAX_BYTES`]: the full depth first, then shallower cuts. An attempt stops early
/// once over budget, so a spec whose schemas fan out (every level `$ref`ing wide components) costs
/// time and memory in proportion to the budget, not to the expansion. The last, shallowest attempt
/// is kept whatever its size: arguments themselves are never cut.
fn build_input_within_budget<'s>(
    spec: &'s Spec,
    operation: &Operation<'_>,
    effective: &Effective,
) -> (params::BuiltInput, SchemaCompiler<'s>) {
    let attempt = |max_depth: usize, description_words: usize, max_bytes: Option<usize>| {
        let options = SchemaOptions { mode: Mode::Input, description_words, max_depth, max_bytes };
        let mut compiler = SchemaCompiler::new(spec, options);
        let input = params::build_input(spec, operation, &mut compiler, description_words);
        (input, compiler)
    };
    let words = effective.parameter_description_words;
    // Depth first; then, with every nested structure cut, shorter argument descriptions (a flat
    // tool of 50 arguments, like Stripe's `POST /v1/payment_methods`, is over budget at depth 0).
    let mut attempts: Vec<(usize, usize)> = INPUT_CUT_DEPTHS
        .iter()
        .map(|&depth| (depth, words))
        .chain(INPUT_CUT_WORDS.iter().filter(|&&fewer| fewer < words).map(|&fewer| (0, fewer)))
        .collect();
    let last = attempts.pop().unwrap_or((0, words));
    let size = |input: &params::BuiltInput, compiler: &SchemaCompiler<'_>| {
        if compiler.marked_choices > 0 {
            schema::size_without_choices(&input.schema)
        } else {
            serde_json::to_vec(&input.schema).map_or(0, |bytes| bytes.len())
        }
    };
    // Cut union variants keep what tells them apart where the chosen attempt has room left.
    let settle = |(mut input, compiler): (params::BuiltInput, SchemaCompiler<'s>)| {
        if compiler.marked_choices > 0 {
            let mut room = INPUT_SCHEMA_MAX_BYTES.saturating_sub(size(&input, &compiler));
            let mut schema = Value::Object(std::mem::take(&mut input.schema));
            schema::settle_choices(&mut schema, &mut room);
            if let Value::Object(schema) = schema {
                input.schema = schema;
            }
        }
        (input, compiler)
    };
    for (max_depth, description_words) in attempts {
        let (input, compiler) = attempt(max_depth, description_words, Some(INPUT_SCHEMA_MAX_BYTES));
        if !compiler.over_budget() && size(&input, &compiler) <= INPUT_SCHEMA_MAX_BYTES {
            return settle((input, compiler));
        }
    }
    settle(attempt(last.0, last.1, None))
}

fn report_findings(
    findings: &[text::Finding],
    who: &str,
    location: &dyn Fn() -> Location,
    diagnostics: &mut Diagnostics,
) {
    let mut seen = HashSet::new();
    for finding in findings {
        let message = match finding {
            text::Finding::HiddenCharacters { count } => {
                format!("{who}: {count} hidden or control characters removed from its descriptions")
            }
            text::Finding::InstructionLike { pattern, excerpt } => {
                format!(
                    "{who}: a description reads like an instruction to a model ({pattern}) and was removed: \"{excerpt}\""
                )
            }
        };
        if seen.insert(message.clone()) {
            diagnostics.push(
                Diagnostic::warning("spec/suspicious-description", message)
                    .at(Some(location()))
                    .with_help("review the spec; set `description:` for this tool to replace it"),
            );
        }
    }
}

/// What the 2xx responses give a tool.
struct ResponseFacts {
    output_schema: Option<Map<String, Value>>,
    /// Every 2xx media type, JSON ones first: the `Accept` header.
    accept: Vec<String>,
    unresolved: Vec<(DocId, RefError)>,
    /// What was left out because it is not what the spec format says it is, and why.
    problems: Vec<String>,
}

/// The lowest 2xx response with a JSON object schema gives the output schema; every 2xx media type
/// feeds `Accept`.
fn output_schema(
    spec: &Spec,
    operation: &Operation<'_>,
    mode: OutputSchemaMode,
    max_bytes: usize,
    output: Option<&crate::catalogue::output::Output>,
    shape: ResultShape<'_>,
) -> ResponseFacts {
    // Shaped and paginated results are rewritten from the whole response schema; the size limit then
    // applies to the rewritten schema.
    let rewritten = output.is_some() || matches!(shape, ResultShape::Paginated { .. });
    let mut accept: Vec<String> = Vec::new();
    let mut chosen = None;
    let mut unresolved = Vec::new();
    let mut problems = Vec::new();
    let responses = match operation.operation.get("responses") {
        Some(Value::Object(responses)) => responses,
        Some(other) => {
            let kind = crate::spec::json_kind(other);
            problems.push(format!("`responses` left out: it is {kind}, not a map of responses"));
            return ResponseFacts { output_schema: None, accept, unresolved, problems };
        }
        None => return ResponseFacts { output_schema: None, accept, unresolved, problems },
    };
    let mut success: Vec<(&String, &Value)> = responses.iter().filter(|(code, _)| code.starts_with('2')).collect();
    success.sort_by_key(|(code, _)| code.to_ascii_uppercase());
    for (code, raw) in success {
        let (doc, response) = match spec.deref(operation.operation_doc, raw) {
            Ok((doc, response @ Value::Object(_))) => (doc, response),
            Ok((_, other)) => {
                let kind = crate::spec::json_kind(other);
                problems.push(format!("response {code} left out: it is {kind}, not a response object"));
                continue;
            }
            Err(error) => {
                unresolved.push((operation.operation_doc, error));
                continue;
            }
        };
        let content = match response.get("content") {
            Some(Value::Object(content)) => content,
            Some(other) => {
                let kind = crate::spec::json_kind(other);
                problems.push(format!("response {code}: `content` left out: it is {kind}, not a map of media types"));
                continue;
            }
            None => continue,
        };
        for media_type in content.keys() {
            if !accept.contains(media_type) {
                accept.push(media_type.clone());
            }
        }
        if chosen.is_none()
            && let Some((media_type, media)) = crate::spec::preferred_media(content)
            && (media_type.contains("json") || media_type == "*/*")
            && let Some(schema) = media.get("schema")
        {
            chosen = Some((doc, schema));
        }
    }
    accept.sort_by_key(|m| if m.contains("json") { 0 } else { 1 });
    let schema = match (mode, chosen) {
        (OutputSchemaMode::None, _) | (_, None) => None,
        (mode, Some((doc, schema))) => {
            let max_bytes = (mode == OutputSchemaMode::Auto).then_some(max_bytes);
            let mut compiler = SchemaCompiler::new(
                spec,
                SchemaOptions {
                    mode: Mode::Output,
                    description_words: 0,
                    // A rewritten schema keeps only what shaping keeps, so it can afford more depth.
                    max_depth: if rewritten { INPUT_MAX_DEPTH } else { OUTPUT_MAX_DEPTH },
                    max_bytes: if rewritten { None } else { max_bytes.map(|b| b * 2) },
                },
            );
            let compiled = compiler.compile(doc, schema);
            unresolved.extend(compiler.unresolved);
            compiled.and_then(|compiled| match compiled {
                compiled if rewritten => shaped_output_schema(&compiled, output, shape)
                    .filter(|map| max_bytes.is_none_or(|max| Value::Object(map.clone()).to_string().len() <= max)),
                Value::Object(mut map)
                    if map.get("type") == Some(&json!("object"))
                        || (map.contains_key("properties") && !map.contains_key("type")) =>
                {
                    map.insert("type".into(), json!("object"));
                    let fits = max_bytes.is_none_or(|max| Value::Object(map.clone()).to_string().len() <= max);
                    fits.then_some(map)
                }
                _ => None,
            })
        }
    };
    ResponseFacts { output_schema: schema, accept, unresolved, problems }
}

/// GET/HEAD read-only; PUT/DELETE idempotent; DELETE destructive; POST/PATCH neither. The mapping
/// overrides any hint.
fn annotations(method: HttpMethod, tool: Option<&ToolConfig>) -> Annotations {
    let config = tool.map(|t| t.annotations.clone()).unwrap_or_default();
    let read_only =
        config.read_only.unwrap_or(matches!(method, HttpMethod::Get | HttpMethod::Head | HttpMethod::Options));
    let idempotent = config.idempotent.unwrap_or(matches!(method, HttpMethod::Put | HttpMethod::Delete));
    // Only hints that differ from MCP's defaults (readOnly false, destructive true, idempotent false,
    // openWorld true) are written: clients apply the defaults, and every byte is context. A write is
    // never declared non-destructive from its method alone: POST, PUT and PATCH often overwrite data
    // (MCP's `destructiveHint: false` means "only additive"); the mapping may say so per tool.
    Annotations {
        read_only: read_only.then_some(true),
        destructive: config.destructive.filter(|destructive| !read_only && !destructive),
        idempotent: (!read_only && idempotent).then_some(true),
        open_world: config.open_world.filter(|open| !open),
    }
}

/// Scopes from the spec's `security` (the operation's, else the document's): the first alternative's
/// scopes, since any one alternative suffices. The mapping's `scopes` replaces them, `extra_scopes`
/// adds to them, and the defaults apply when none remain.
fn scopes(spec: &Spec, operation: &Operation<'_>, tool: Option<&ToolConfig>, defaults: &[String]) -> Vec<String> {
    if let Some(scopes) = tool.and_then(|t| t.scopes.clone()) {
        return with_extra(scopes, tool);
    }
    let security = security::security_of(operation.operation.get("security"), spec.root().get("security"));
    let mut scopes: Vec<String> = security
        .and_then(Value::as_array)
        .and_then(|alternatives| alternatives.first())
        .and_then(Value::as_object)
        .map(|requirement| {
            requirement
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    scopes.dedup();
    let scopes = with_extra(scopes, tool);
    if scopes.is_empty() { defaults.to_vec() } else { scopes }
}

fn with_extra(mut scopes: Vec<String>, tool: Option<&ToolConfig>) -> Vec<String> {
    for extra in tool.map(|t| t.extra_scopes.as_slice()).unwrap_or_default() {
        if !scopes.contains(extra) {
            scopes.push(extra.clone());
        }
    }
    scopes
}
