//! Shared helpers for the integration tests.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

use api2mcp::app::{Prepared, prepare};
use api2mcp::catalogue::Catalogue;
use api2mcp::load::ConfigSource;

/// Runs load → validate → compile on a fixture folder: `api2mcp.yaml` when present, else the
/// `spec.*` file in zero-config mode. `env.json` (optional) is the environment.
pub async fn prepare_case(dir: &Path) -> Prepared {
    let env: HashMap<String, String> = std::fs::read_to_string(dir.join("env.json"))
        .map(|text| serde_json::from_str(&text).expect("env.json is a string map"))
        .unwrap_or_default();
    let mapping = dir.join("api2mcp.yaml");
    let source = if mapping.exists() {
        ConfigSource::Mapping(mapping)
    } else {
        let spec = ["spec.yaml", "spec.json"].iter().map(|name| dir.join(name)).find(|p| p.exists());
        let spec = spec.unwrap_or_else(|| panic!("{} has neither api2mcp.yaml nor spec.*", dir.display()));
        ConfigSource::Spec { spec: spec.display().to_string(), base_url: None }
    };
    prepare(&source, &env).await
}

/// Diagnostics as `check` prints them (without snippets, which the CLI tests cover).
pub fn rendered_diagnostics(prepared: &Prepared) -> String {
    let no_sources = HashMap::new();
    prepared.diagnostics.sorted().into_iter().map(|d| api2mcp::diag::render(d, &no_sources)).collect()
}

/// Where each argument of each tool goes, and the upstream settings (secret values never shown).
pub fn describe_calls(catalogue: &Catalogue) -> String {
    let mut out = String::new();
    for upstream in &catalogue.upstreams {
        let headers: Vec<&str> = upstream.headers.iter().map(|(name, _)| name.as_str()).collect();
        let _ = writeln!(
            out,
            "upstream {}: base_url={} timeout={:?} headers=[{}]",
            upstream.name,
            upstream.base_url.as_deref().unwrap_or("-"),
            upstream.timeout,
            headers.join(", ")
        );
    }
    for tool in &catalogue.tools {
        let call = &tool.call;
        let _ = writeln!(out, "{}: {} {} scopes={:?}", tool.name, call.method.upper(), call.path, tool.scopes);
        if let Some(body) = &call.body {
            let _ = writeln!(out, "  body: {} required={}", body.content_type, body.required);
        }
        if !call.accept.is_empty() {
            let _ = writeln!(out, "  accept: {}", call.accept.join(", "));
        }
        for binding in &call.arguments {
            let _ = writeln!(
                out,
                "  {} <- {} {:?} style={:?} explode={} required={}",
                binding.argument,
                binding.location.label(),
                binding.wire_name,
                binding.style,
                binding.explode,
                binding.required
            );
        }
        if let Some(pagination) = &tool.pagination {
            let how = if pagination.inferred { "inferred" } else { "declared" };
            let described = api2mcp::compile::paging::describe(&pagination.config);
            let _ = writeln!(out, "  pagination ({how}): {described}; cursor argument: {}", pagination.cursor_argument);
        }
        if let Some(output) = &tool.output {
            let _ = writeln!(out, "  output: {}", api2mcp::shape::describe(output));
        }
    }
    out
}

/// Serves a prepared (error-free) configuration over Streamable HTTP on 127.0.0.1:0 until `shutdown`;
/// returns the MCP endpoint URL.
pub async fn serve_prepared(
    prepared: Prepared,
    settings: api2mcp::mcp::http::HttpSettings,
    shutdown: tokio_util::sync::CancellationToken,
) -> String {
    assert!(!prepared.diagnostics.has_errors(), "{:?}", prepared.diagnostics);
    let catalogue = std::sync::Arc::new(prepared.compiled.expect("no errors means a catalogue").catalogue);
    let server = server_for(catalogue);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { api2mcp::mcp::http::serve(listener, server, &settings, shutdown).await.unwrap() });
    format!("http://{address}/mcp")
}

/// The MCP server `api2mcp serve` builds: upstream requests and tool calls recorded in one `Metrics`.
pub fn server_for(catalogue: std::sync::Arc<Catalogue>) -> api2mcp::mcp::McpServer {
    let metrics = std::sync::Arc::new(api2mcp::telemetry::metrics::Metrics::new());
    let caller = api2mcp::call::Caller::new(catalogue).unwrap().with_metrics(metrics.clone());
    api2mcp::mcp::McpServer::with_metrics(std::sync::Arc::new(caller), metrics).unwrap()
}

/// A `redis-server` on `port` (no persistence); killed on drop.
pub struct RedisServer(std::process::Child);

impl RedisServer {
    pub fn start(port: u16) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it; locally: apt-get install -y redis-server)");
        RedisServer(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends a signal (`STOP`, `CONT`, ...) to the server.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} redis-server");
    }

    pub fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port that was free a moment ago, for servers that cannot report the port they bound (redis-server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
