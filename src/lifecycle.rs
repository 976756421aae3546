//! Reloading a running server: on SIGHUP the configuration and specs are read and compiled again,
//! and the new catalogue replaces the old one atomically, only when it has no errors. A broken
//! reload changes nothing and says why in the log.

use std::sync::Arc;

use crate::cli::SourceArgs;
use crate::load::ProcessEnvironment;
use crate::mcp::McpServer;
use crate::pipeline::{config_source, prepare, render_all};

/// Reads, checks and compiles the configuration again and swaps it in. Returns the new tool count,
/// or why the old catalogue stays.
pub async fn reload(server: &McpServer, args: &SourceArgs) -> Result<usize, String> {
    let result = try_reload(server, args).await;
    server.metrics().reload(result.is_ok());
    match &result {
        Ok(tools) => tracing::info!(tools, "configuration reloaded"),
        Err(why) => tracing::error!(why = %why, "configuration reload refused; still serving the previous catalogue"),
    }
    result
}

async fn try_reload(server: &McpServer, args: &SourceArgs) -> Result<usize, String> {
    let source = config_source(args).map_err(|error| error.to_string())?;
    let prepared = prepare(&source, &ProcessEnvironment).await;
    if prepared.diagnostics.has_errors() {
        let errors = prepared.diagnostics.error_count();
        return Err(format!("{errors} error(s) in the new configuration:\n{}", render_all(&prepared).trim_end()));
    }
    let Some(compiled) = prepared.compiled else {
        return Err("the configuration did not compile".to_string());
    };
    let previous = server.caller();
    let caller = crate::call::Caller::new(Arc::new(compiled.catalogue))?
        .with_metrics(server.metrics().clone())
        .keep_cursor_key(&previous)
        .with_response_budget(previous.response_budget().clone());
    let tools = caller.catalogue().tools.len();
    drop(previous);
    server.replace(Arc::new(caller)).await?;
    // The new spec's values and whatever of the old catalogue no call holds any more.
    crate::memory::return_freed_memory();
    Ok(tools)
}

/// Reloads on every SIGHUP until `shutdown`. Reloads never overlap: a signal during one is served after it.
/// The handler is installed before this returns, so a SIGHUP sent once the server answers is never
/// lost (nor, before it is installed, does it end the process as the default action would).
pub fn reload_on_hangup(server: McpServer, args: SourceArgs, shutdown: tokio_util::sync::CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: reload is unavailable");
            return;
        };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    received = hangup.recv() => {
                        if received.is_none() {
                            return;
                        }
                        tracing::info!("SIGHUP: reloading the configuration");
                        let _ = reload(&server, &args).await;
                    }
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (server, args, shutdown);
}
