//! Wiring: load → validate → compile, and the commands that print the result. Every command ends
//! in `Result<(), Failure>`; the failure's type chooses the exit code (`failure.rs`).

mod failure;

use std::io::Write;
use std::process::ExitCode;

pub use failure::{EXIT_CONFIG, EXIT_FAILURE, Failure};

use crate::catalogue::Catalogue;
use crate::cli::{Cli, Command, SourceArgs};
use crate::compile::Compiled;
use crate::load::{LoadedConfig, ProcessEnvironment};
use crate::pipeline::{Prepared, config_source, prepare_here, render_all};
use crate::shape::approx_tokens;

/// Runs one command; the exit code follows the failure, if any.
pub async fn run(cli: Cli) -> ExitCode {
    match run_command(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

async fn run_command(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Schema => {
            let schema = crate::mapping::json_schema();
            print_stdout(&serde_json::to_string_pretty(&schema).unwrap_or_default())
        }
        Command::Serve { source, listen, allowed_hosts, allowed_origins, run } => {
            serve(&source, &listen, allowed_hosts, allowed_origins, &run).await
        }
        Command::Stdio { source } => stdio(&source).await,
        Command::Call { source, tool, args } => call(&source, &tool, &args).await,
        Command::Check { source, deny_warnings } => {
            with_prepared(&source, |prepared| check(prepared, deny_warnings)).await
        }
        Command::Tools { source, json } => with_prepared(&source, |prepared| tools(prepared, json)).await,
        Command::Summary { source, format, url } => summary_command(&source, format, url.as_deref()).await,
        Command::Healthcheck { url, listen, timeout } => {
            let url = url.unwrap_or_else(|| crate::ops::default_healthcheck_url(&listen));
            match crate::ops::healthcheck(&url, std::time::Duration::from_secs(timeout)).await {
                Ok(line) => print_stdout(&line),
                Err(line) => Err(Failure::Unhealthy(line)),
            }
        }
    }
}

async fn with_prepared(
    args: &SourceArgs,
    command: impl FnOnce(&Prepared) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let source = config_source(args)?;
    let prepared = prepare_here(&source, &ProcessEnvironment).await;
    let result = command(&prepared);
    // The process exits right after these one-shot commands: freeing a large spec's millions of
    // small values one by one was ~10% of `tools`' CPU (GitHub's description), for nothing.
    std::mem::forget(prepared);
    result
}

fn check(prepared: &Prepared, deny_warnings: bool) -> Result<(), Failure> {
    let mut out = render_all(prepared);
    let errors = prepared.diagnostics.error_count();
    let warnings = prepared.diagnostics.warning_count();
    if let (Some(compiled), Some(loaded), 0) = (&prepared.compiled, &prepared.loaded, errors) {
        out.push_str(&summary(compiled, loaded));
    }
    out.push_str(&format!(
        "{}: {errors} error{}, {warnings} warning{}\n",
        if errors > 0 || (deny_warnings && warnings > 0) { "failed" } else { "ok" },
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
    ));
    // A closed stdout (`check | head`) is not a failure of the configuration.
    let _ = std::io::stdout().write_all(out.as_bytes());
    if errors > 0 || (deny_warnings && warnings > 0) { Err(Failure::CheckFailed) } else { Ok(()) }
}

/// The catalogue's size: what it costs an agent's context.
pub fn summary(compiled: &Compiled, loaded: &LoadedConfig) -> String {
    let catalogue = &compiled.catalogue;
    let selection = &compiled.selection;
    let mut out = String::new();
    let specs: Vec<String> =
        loaded.specs.iter().map(|(name, spec)| format!("{name}: {}", spec.version.label())).collect();
    out.push_str(&format!(
        "catalogue: {} tools from {} of {} operations ({})\n",
        catalogue.tools.len(),
        catalogue.tools.len(),
        selection.operations,
        specs.join(", ")
    ));
    out.push_str(&auth_line(catalogue));
    let undescribed = catalogue.tools.iter().filter(|tool| !tool.source.has_description).count();
    if undescribed > 0 {
        out.push_str(&format!(
            "  no description in the spec: {undescribed} of {} tools (described from operationId, path and \
             arguments; add `description:` per tool for better ones)\n",
            catalogue.tools.len()
        ));
    }
    let left_out = [
        (selection.not_included, "not included"),
        (selection.excluded, "excluded"),
        (selection.disabled, "disabled"),
        (selection.deprecated, "deprecated (set include_deprecated: true to keep them)"),
    ];
    for (count, why) in left_out {
        if count > 0 {
            out.push_str(&format!("  left out: {count} {why}\n"));
        }
    }
    let inferred: Vec<String> = catalogue
        .tools
        .iter()
        .filter_map(|tool| {
            let pagination = tool.pagination.as_ref().filter(|p| p.inferred)?;
            Some(format!("  {}: {}\n", tool.name, pagination.describe()))
        })
        .collect();
    if !inferred.is_empty() {
        out.push_str(&format!("pagination inferred for {} tools (set `pagination:` to change):\n", inferred.len()));
        inferred.iter().for_each(|line| out.push_str(line));
    }
    let shaped: Vec<String> = catalogue
        .tools
        .iter()
        .filter(|tool| tool.output.is_some() || tool.pagination.as_ref().is_some_and(|p| !p.inferred))
        .map(|tool| {
            let mut parts = Vec::new();
            if let Some(pagination) = tool.pagination.as_ref().filter(|p| !p.inferred) {
                parts.push(format!("pages: {}", pagination.describe()));
            }
            if let Some(output) = &tool.output {
                parts.push(format!("output: {}", crate::shape::describe(output)));
            }
            format!("  {}: {}\n", tool.name, parts.join("; "))
        })
        .collect();
    if !shaped.is_empty() {
        out.push_str(&format!("shaping and pagination ({} tools):\n", shaped.len()));
        shaped.iter().for_each(|line| out.push_str(line));
    }
    out.push_str(&views_report(catalogue));
    let list = catalogue.tools_list_json().to_string();
    let total_tokens = approx_tokens(&list);
    let per_tool = if catalogue.tools.is_empty() { 0 } else { total_tokens / catalogue.tools.len() };
    out.push_str(&format!(
        "tools/list: {} bytes, ~{total_tokens} tokens (~{per_tool} per tool; tokens ≈ bytes/4)\n",
        list.len()
    ));
    let mut sizes: Vec<(usize, &str)> = catalogue
        .tools
        .iter()
        .map(|tool| (approx_tokens(&tool.to_mcp_json().to_string()), tool.name.as_str()))
        .collect();
    sizes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    if !sizes.is_empty() {
        let largest: Vec<String> = sizes.iter().take(5).map(|(tokens, name)| format!("{name} ~{tokens}")).collect();
        out.push_str(&format!("largest tools: {}\n", largest.join(", ")));
    }
    out
}

fn tools(prepared: &Prepared, json: bool) -> Result<(), Failure> {
    let rendered = render_all(prepared);
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
    let Some(catalogue) = prepared.catalogue().filter(|_| !prepared.diagnostics.has_errors()) else {
        return Err(Failure::Diagnostics("run `api2mcp check` for all of them"));
    };
    // What each endpoint serves (mode, token cost, caps, profiles) goes to stderr: stdout stays the
    // catalogue, for scripts.
    eprint!("{}", views_report(catalogue));
    // Buffered: the JSON is one long line, which stdout's line buffer would write 1 KiB at a time.
    let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = if json {
        serde_json::to_writer(&mut stdout, &catalogue.tools_list())
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(stdout))
    } else {
        write!(stdout, "{}", tools_table(catalogue))
    };
    let written = written.and_then(|_| stdout.flush());
    match written {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Failure::Output { what: "the catalogue", source }),
    }
}

/// Clients show only this many tools (common caps), and prefix names like `mcp__<server>__<tool>`.
const CLIENT_CAPS: [usize; 2] = [40, 128];
const CLIENT_NAME_LIMIT: usize = 64;

/// For each endpoint (`/mcp`, `/mcp/<toolset>`): the mode of each part and why, the token cost of its
/// `tools/list` as served, the count against client caps, names a client prefix pushes over 64
/// characters, and what each schema profile rewrites.
pub fn views_report(catalogue: &Catalogue) -> String {
    use crate::discovery::profile::{self, SchemaProfile};
    let mut out = String::new();
    for view in &catalogue.views {
        let entries = crate::mcp::served_entries(catalogue, view);
        let list = serde_json::json!({"tools": entries.iter().map(|(_, e)| e).collect::<Vec<_>>()}).to_string();
        let caps: Vec<String> = CLIENT_CAPS
            .iter()
            .map(|cap| format!("{} {cap}", if entries.len() <= *cap { "within" } else { "OVER" }))
            .collect();
        out.push_str(&format!(
            "endpoint {} (profile {}): tools/list {} entries, ~{} tokens ({})\n",
            view.path(),
            view.profile.label(),
            entries.len(),
            approx_tokens(&list),
            caps.join(", ")
        ));
        for part in &view.parts {
            let mode = if part.discovery { "discovery (search_tools, describe_tools, call_tool)" } else { "direct" };
            out.push_str(&format!("  {}: {} tools, {mode}: {}\n", part.label, part.tools, part.reason));
        }
        let prefix = format!("mcp__{}__", catalogue.server.name);
        let long: Vec<&str> = entries
            .iter()
            .filter_map(|(_, e)| e["name"].as_str())
            .filter(|name| prefix.len() + name.len() > CLIENT_NAME_LIMIT)
            .collect();
        if !long.is_empty() {
            let examples: Vec<&str> = long.iter().take(3).copied().collect();
            out.push_str(&format!(
                "  {} listed names exceed {CLIENT_NAME_LIMIT} characters with the prefix '{prefix}': {}\n",
                long.len(),
                examples.join(", ")
            ));
        }
        for candidate in SchemaProfile::ALL.into_iter().filter(|p| *p != SchemaProfile::Full) {
            let members = view.members();
            let (mut rewritten, mut remaining) = (0, 0);
            let mut first: Option<String> = None;
            for &index in &members {
                let original = &*catalogue.tools[index].input_schema;
                let schema = profile::rewrite(candidate, original);
                if &schema != original {
                    rewritten += 1;
                }
                let violations = profile::violations(candidate, &schema);
                if first.is_none()
                    && let Some(violation) = violations.first()
                {
                    first = Some(format!(" (first: {} {violation})", catalogue.tools[index].name));
                }
                remaining += violations.len();
            }
            let chosen = if candidate == view.profile { " (this endpoint's profile)" } else { "" };
            out.push_str(&format!(
                "  profile {}{chosen}: rewrites {rewritten} of {} input schemas; {remaining} rule violations left{}\n",
                candidate.label(),
                members.len(),
                first.unwrap_or_default()
            ));
        }
    }
    out
}

/// What `check` says about auth: who may call (inbound) and what each upstream is sent (kinds, never values).
fn auth_line(catalogue: &Catalogue) -> String {
    let scoped = catalogue.tools.iter().filter(|t| !t.scopes.is_empty()).count();
    let mut out = match &catalogue.server.auth {
        None => format!(
            "inbound auth: none (anyone who reaches the server; serve refuses non-loopback addresses without --allow-anonymous); {scoped} tools declare scopes, unenforced\n"
        ),
        Some(auth) => {
            let mut who = Vec::new();
            if !auth.issuers.is_empty() {
                let issuers: Vec<&str> = auth.issuers.iter().map(|i| i.issuer.as_str()).collect();
                who.push(format!("JWTs from {}", issuers.join(", ")));
            }
            if auth.introspection.is_some() {
                who.push("introspected tokens".to_string());
            }
            if !auth.api_keys.is_empty() {
                who.push(format!("{} API keys", auth.api_keys.len()));
            }
            if auth.anonymous {
                who.push("anonymous callers (no scopes)".to_string());
            }
            format!("inbound auth: {}; {scoped} of {} tools need scopes\n", who.join(", "), catalogue.tools.len())
        }
    };
    for upstream in catalogue.upstreams.iter().filter(|u| !u.credentials.is_empty()) {
        let kinds: Vec<&str> = upstream.credentials.iter().map(|c| c.kind()).collect();
        out.push_str(&format!("  upstream {} credentials: {}\n", upstream.name, kinds.join(", ")));
    }
    out
}

/// One line per tool: name, the call it makes, its scopes, and the start of its description.
pub fn tools_table(catalogue: &Catalogue) -> String {
    let name_width = catalogue.tools.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    let calls: Vec<String> =
        catalogue.tools.iter().map(|t| format!("{} {}", t.call.method.upper(), t.call.path)).collect();
    let call_width = calls.iter().map(String::len).max().unwrap_or(4).clamp(4, 60);
    let mut out = format!("{:name_width$}  {:call_width$}  DESCRIPTION\n", "TOOL", "CALL");
    for (tool, call) in catalogue.tools.iter().zip(calls) {
        let mut description: String = tool.description.chars().take(80).collect();
        if tool.description.chars().count() > 80 {
            description.push('…');
        }
        let mut extras = Vec::new();
        if !tool.scopes.is_empty() {
            extras.push(format!("scopes: {}", tool.scopes.join(" ")));
        }
        if let Some(pagination) = &tool.pagination {
            let inferred = if pagination.inferred { ", inferred" } else { "" };
            extras.push(format!("pages: {}{inferred}", pagination.describe()));
        }
        if let Some(output) = &tool.output {
            extras.push(format!("output: {}", crate::shape::describe(output)));
        }
        let extras = if extras.is_empty() { String::new() } else { format!(" [{}]", extras.join("; ")) };
        out.push_str(&format!("{:name_width$}  {call:call_width$}  {description}{extras}\n", tool.name));
    }
    out
}

/// Loads and compiles for serving: diagnostics to stderr, a failure when there are errors.
async fn catalogue_for_serving(args: &SourceArgs) -> Result<std::sync::Arc<Catalogue>, Failure> {
    let source = config_source(args)?;
    let prepared = prepare_here(&source, &ProcessEnvironment).await;
    let rendered = render_all(&prepared);
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
    let not_serving = || Failure::Diagnostics("not serving");
    if prepared.diagnostics.has_errors() {
        return Err(not_serving());
    }
    let compiled = prepared.compiled.ok_or_else(not_serving)?;
    Ok(std::sync::Arc::new(compiled.catalogue))
}

/// Builds the search indexes of a catalogue about to be served, on this thread, before serving
/// starts (`McpServer` would otherwise build them on a thread of its own, which then finds them
/// built). This thread parsed the document, which `catalogue_for_serving` has let go: glibc gives
/// each thread its own arena, and an index built on another thread took new pages (Kubernetes
/// +4 MiB at the server's peak) while the document's freed ones stayed mapped here, unused.
/// Costs the time of the build before the listener opens (~0.1-0.2 s on the largest specs), no CPU.
fn build_search_indexes(catalogue: &Catalogue) {
    for view in &catalogue.views {
        let _ = view.search_index(&catalogue.tools);
    }
}

/// `catalogue_for_serving`, then the MCP server for it.
async fn server_for_serving(args: &SourceArgs) -> Result<crate::mcp::McpServer, Failure> {
    mcp_server(catalogue_for_serving(args).await?, crate::body::Budget::default())
}

fn mcp_server(
    catalogue: std::sync::Arc<Catalogue>,
    budget: crate::body::Budget,
) -> Result<crate::mcp::McpServer, Failure> {
    let metrics = std::sync::Arc::new(crate::telemetry::metrics::Metrics::new());
    for upstream in &catalogue.upstreams {
        if upstream.max_response_bytes > budget.total() as u64 {
            tracing::warn!(
                upstream = %upstream.name,
                max_response_bytes = upstream.max_response_bytes,
                response_budget = budget.total(),
                "max_response_bytes is above the response budget: responses are capped at the budget"
            );
        }
    }
    let caller = crate::call::Caller::new(catalogue)
        .map_err(Failure::Catalogue)?
        .with_metrics(metrics.clone())
        .with_response_budget(budget);
    crate::mcp::McpServer::with_metrics(std::sync::Arc::new(caller), metrics).map_err(Failure::Server)
}

async fn serve(
    args: &SourceArgs,
    listen: &str,
    extra_hosts: Vec<String>,
    extra_origins: Vec<String>,
    run: &crate::cli::RunArgs,
) -> Result<(), Failure> {
    let catalogue = catalogue_for_serving(args).await?;
    build_search_indexes(&catalogue);
    let tool_count = catalogue.tools.len();
    let server = mcp_server(catalogue, crate::body::Budget::new(run.response_budget))?;
    crate::memory::return_freed_memory();
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|source| Failure::Listen {
        option: "--listen",
        listen: listen.to_string(),
        source,
    })?;
    exposure_check(&listener, server.caller().catalogue(), run.allow_anonymous).map_err(Failure::Exposure)?;
    let mut settings = crate::mcp::http::HttpSettings::default();
    settings.allowed_hosts.extend(extra_hosts);
    settings.allowed_origins.extend(extra_origins);
    settings.shutdown_grace = run.shutdown_grace;
    settings.metrics = run.metrics_listen.is_none();
    settings.max_connections = run.max_connections;
    settings.header_read_timeout = run.header_timeout;
    settings.queue_target = Some(run.queue_target).filter(|target| !target.is_zero());
    let shutdown = tokio_util::sync::CancellationToken::new();
    if let Some(metrics_listen) = &run.metrics_listen {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_listen)
            .await
            .map_err(|source| Failure::Listen { option: "--metrics-listen", listen: metrics_listen.clone(), source })?;
        let (metrics, stop) = (server.metrics().clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(error) = crate::telemetry::serve_metrics(metrics_listener, metrics, stop).await {
                tracing::error!(%error, "the metrics listener failed");
            }
        });
    }
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| listen.to_string());
    let mcp_url = format!("http://{}/mcp", client_address(listener.local_addr().ok(), listen));
    // Signal handlers first: a signal sent as soon as the "serving" line is seen is acted on.
    let stop = shutdown_signal();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("shutting down: no new connections; in-flight calls may finish");
        signal.cancel();
    });
    crate::lifecycle::reload_on_hangup(server.clone(), args.clone(), shutdown.clone());
    // A log line like every other (JSON in JSON mode), with the URL a client on this machine can use.
    tracing::info!(url = %mcp_url, listen = %address, tools = tool_count, "serving {tool_count} tools at {mcp_url}");
    crate::mcp::http::serve(listener, server, &settings, shutdown)
        .await
        .map_err(|error| Failure::Serve(error.to_string()))
}

/// Refuses to serve tools to the network without inbound auth, unless anonymous access is chosen
/// explicitly (`auth: {anonymous: true}` or `--allow-anonymous`).
fn exposure_check(
    listener: &tokio::net::TcpListener,
    catalogue: &Catalogue,
    allow_anonymous: bool,
) -> Result<(), String> {
    let loopback = listener.local_addr().map(|address| address.ip().is_loopback()).unwrap_or(false);
    if loopback || allow_anonymous || catalogue.server.auth.is_some() {
        return Ok(());
    }
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    Err(format!(
        "refusing to serve {} tools on {address} without inbound auth: anyone who can reach it could call them. \
         Configure `auth` in the mapping file (see specs/auth.md), or pass --allow-anonymous \
         (API2MCP_ALLOW_ANONYMOUS=true) to serve them to anyone on purpose",
        catalogue.tools.len()
    ))
}

/// `api2mcp summary`: the documents the HTTP endpoints serve, from the same builder, offline.
async fn summary_command(
    args: &SourceArgs,
    format: crate::cli::SummaryFormat,
    url: Option<&str>,
) -> Result<(), Failure> {
    use crate::cli::SummaryFormat;
    use crate::ops::summary;
    let server = server_for_serving(args).await?;
    let served = server.served();
    let public_url = served.catalogue.server.discovery.public_url.clone();
    let mcp_url = url.map(str::to_string).or(public_url).unwrap_or_else(|| summary::DEFAULT_MCP_URL.to_string());
    let document = match format {
        SummaryFormat::Json => summary::document(&served, &mcp_url),
        SummaryFormat::ServerJson => summary::server_json(&served, &mcp_url),
        SummaryFormat::ServerCard => summary::server_card(&served, &mcp_url),
    };
    print_stdout(&serde_json::to_string_pretty(&document).unwrap_or_default())
}

/// The address a client on this machine connects to: the bound one, with the unspecified address
/// (`0.0.0.0`, `[::]`, which no client can connect to) replaced by loopback.
pub fn client_address(bound: Option<std::net::SocketAddr>, listen: &str) -> String {
    match bound {
        Some(std::net::SocketAddr::V4(v4)) if v4.ip().is_unspecified() => format!("127.0.0.1:{}", v4.port()),
        Some(std::net::SocketAddr::V6(v6)) if v6.ip().is_unspecified() => format!("[::1]:{}", v6.port()),
        Some(address) => address.to_string(),
        None => listen.to_string(),
    }
}

/// Why an address could not be listened on, in words that say how to fix it: a value that is not
/// `HOST:PORT` (`localhost`, `8080`, `http://...`) gets the expected form and an example.
pub fn listen_error(option: &str, listen: &str, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::InvalidInput {
        let hint = if listen.contains("://") {
            "give the address without a scheme or path"
        } else if listen.parse::<u16>().is_ok() {
            "a port alone is not an address"
        } else {
            "the port is missing or the host is not an address or a name"
        };
        return format!(
            "{option} '{listen}' is not HOST:PORT ({hint}); for example 127.0.0.1:8080 (this machine only), \
             localhost:8080, [::1]:8080 or 0.0.0.0:8080 (every interface)"
        );
    }
    if error.kind() == std::io::ErrorKind::AddrInUse {
        return format!(
            "cannot listen on {listen} ({option}): the address is in use by another process; choose another port"
        );
    }
    format!("cannot listen on {listen} ({option}): {error}")
}

/// Prints `text` and a newline on stdout. A reader that stopped early (`api2mcp schema | head`)
/// closes the pipe: that ends the command quietly with success, as it does for other Unix tools,
/// instead of the panic `println!` turns it into.
pub fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(source) => Err(Failure::Output { what: "to stdout", source }),
    }
}

async fn stdio(args: &SourceArgs) -> Result<(), Failure> {
    let catalogue = catalogue_for_serving(args).await?;
    build_search_indexes(&catalogue);
    let server = mcp_server(catalogue, crate::body::Budget::default())?;
    crate::memory::return_freed_memory();
    let shutdown = tokio_util::sync::CancellationToken::new();
    crate::lifecycle::reload_on_hangup(server.clone(), args.clone(), shutdown.clone());
    let served = crate::mcp::stdio::serve_stdio(server).await;
    shutdown.cancel();
    served.map_err(Failure::Serve)
}

/// SIGINT or SIGTERM (what container runtimes send). The handlers are installed when this is
/// called, not when the future is first polled: a signal sent as soon as the server says it is
/// listening is never lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Ok(mut interrupt), Err(_)) => {
                    interrupt.recv().await;
                }
                (Err(_), Ok(mut terminate)) => {
                    terminate.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn call(args: &SourceArgs, tool: &str, arguments: &str) -> Result<(), Failure> {
    let arguments = match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(serde_json::Value::Object(arguments)) => arguments,
        Ok(_) => {
            return Err(Failure::Argument("--args must be a JSON object, e.g. '{\"petId\": \"1\"}'".to_string()));
        }
        Err(error) => return Err(Failure::Argument(format!("--args is not valid JSON: {error}"))),
    };
    let server = server_for_serving(args).await?;
    match server.call_once(tool, arguments).await {
        Ok(result) => {
            let compact = result.to_string();
            print_stdout(&serde_json::to_string_pretty(&result).unwrap_or(compact.clone()))?;
            let text: String = result["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!(
                "result: {} bytes, ~{} tokens as sent; text ~{} tokens; isError: {}",
                compact.len(),
                approx_tokens(&compact),
                approx_tokens(&text),
                result["isError"].as_bool().unwrap_or(false)
            );
            if result["isError"].as_bool() == Some(true) { Err(Failure::ToolError) } else { Ok(()) }
        }
        Err(message) => Err(Failure::Argument(message)),
    }
}
