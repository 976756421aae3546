//! Metrics, request ids, traces and the lifecycle over real parts: api2mcp serving on 127.0.0.1:0
//! (in-process, or the built binary as a child process), real upstreams, an in-process OTLP/HTTP
//! receiver, the rmcp client, and real signals (SIGHUP, SIGTERM).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use rmcp::ClientLifecycleMode;
use rmcp::model::ProtocolVersion;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::serve::{call, client, text};
use crate::support::{ServeProcess, eventually, temp_dir};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/serve/openapi.yaml");

fn discover() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
}

async fn get_text(url: &str) -> (u16, HeaderMap, String) {
    let response = reqwest::Client::new().get(url).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

/// The value of the one sample line starting with `series` (name and labels), or 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    let values: Vec<f64> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix(series))
        .filter_map(|rest| rest.strip_prefix(' '))
        .map(|value| value.trim().parse().unwrap())
        .collect();
    assert!(values.len() <= 1, "{series} appears more than once");
    values.first().copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_calls_exactly() {
    let (base_url, _) = crate::serve::upstream().await;
    let shutdown = CancellationToken::new();
    let mcp = crate::serve::api2mcp(&base_url, shutdown.clone()).await;
    let base = mcp.trim_end_matches("/mcp");

    let client = client(&mcp, discover()).await;
    let tools = client.list_all_tools().await.unwrap();
    for _ in 0..2 {
        assert!(!call(&client, "list_pets", json!({})).await.is_error.unwrap_or(false));
    }
    assert!(call(&client, "get_pet", json!({"petId": "404"})).await.is_error.unwrap());
    assert!(call(&client, "fail_with", json!({"code": 503})).await.is_error.unwrap());
    let plain = call(&client, "get_text", json!({})).await;
    assert_eq!(text(&plain), "plain words");
    // Refused before anything is sent: no upstream request, no status.
    assert!(call(&client, "get_pet", json!({})).await.is_error.unwrap());
    client.cancel().await.unwrap();

    let (status, headers, metrics) = get_text(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let calls = |labels: &str| sample(&metrics, &format!("api2mcp_tool_calls_total{{{labels}}}"));
    assert_eq!(calls(r#"tool="list_pets",category="ok",status="2xx""#), 2.0, "{metrics}");
    assert_eq!(calls(r#"tool="get_pet",category="CLIENT",status="404""#), 1.0, "{metrics}");
    assert_eq!(calls(r#"tool="fail_with",category="EXTERNAL",status="503""#), 1.0, "{metrics}");
    assert_eq!(calls(r#"tool="get_text",category="ok",status="200""#), 1.0, "{metrics}");
    assert_eq!(calls(r#"tool="get_pet",category="CLIENT",status="none""#), 1.0, "{metrics}");
    let total: f64 = metrics.lines().filter(|l| l.starts_with("api2mcp_tool_calls_total{")).map(last_value).sum();
    assert_eq!(total, 6.0, "{metrics}");

    let upstream: Vec<&str> = metrics.lines().filter(|l| l.starts_with("api2mcp_upstream_requests_total{")).collect();
    let by_status = |status: &str| {
        upstream.iter().filter(|l| l.contains(&format!("status=\"{status}\""))).map(|l| last_value(l)).sum::<f64>()
    };
    assert_eq!((by_status("200"), by_status("404"), by_status("503")), (3.0, 1.0, 1.0), "{metrics}");
    assert_eq!(upstream.iter().map(|l| last_value(l)).sum::<f64>(), 5.0, "{metrics}");
    assert_eq!(sample(&metrics, r#"api2mcp_tool_call_duration_seconds_count{tool="list_pets"}"#), 2.0);
    assert_eq!(sample(&metrics, r#"api2mcp_tool_result_tokens_count{tool="get_pet"}"#), 2.0);
    assert!(sample(&metrics, r#"api2mcp_tool_result_bytes_total{tool="get_text"}"#) >= "plain words".len() as f64);
    assert_eq!(sample(&metrics, "api2mcp_tools_list_tools"), tools.len() as f64);
    assert!(sample(&metrics, "api2mcp_tools_list_tokens") > 100.0);
    assert!(metrics.contains(&format!("api2mcp_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))));
    // No request value ever becomes a label.
    assert!(!metrics.contains("Rex") && !metrics.contains("petId"), "{metrics}");
    shutdown.cancel();
}

fn last_value(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn shed_requests_are_counted_and_metrics_stay_reachable() {
    let source =
        api2mcp::load::ConfigSource::Spec { spec: SPEC.to_string(), base_url: Some("http://127.0.0.1:9".to_string()) };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let settings = api2mcp::mcp::http::HttpSettings { max_concurrent_requests: 0, ..Default::default() };
    let shutdown = CancellationToken::new();
    let mcp = crate::support::serve_prepared(prepared, settings, shutdown.clone()).await;
    for _ in 0..3 {
        let response = reqwest::Client::new().post(&mcp).body("{}").send().await.unwrap();
        assert_eq!(response.status(), 503);
    }
    let (status, _, metrics) = get_text(&mcp.replace("/mcp", "/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(sample(&metrics, r#"api2mcp_requests_shed_total{reason="concurrency"}"#), 3.0, "{metrics}");
    shutdown.cancel();
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let shutdown = CancellationToken::new();
    let mcp = crate::serve::api2mcp("http://127.0.0.1:9", shutdown.clone()).await;
    let health = mcp.replace("/mcp", "/health");
    let kept = reqwest::Client::new().get(&health).header("x-request-id", "req-42").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "req-42");
    let made = reqwest::Client::new().get(&health).header("x-request-id", "bad id\twith tab").send().await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let mcp_response = reqwest::Client::new().post(&mcp).body("not json").send().await.unwrap();
    assert!(mcp_response.headers().contains_key("x-request-id"));
    shutdown.cancel();
}

/// An upstream whose `/pets/{id}` answers only when the test says so, and reports when a request arrives.
async fn gated_upstream() -> (String, tokio::sync::mpsc::UnboundedReceiver<()>, Arc<tokio::sync::Notify>) {
    let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let state = (arrived, release.clone());
    let app = Router::new()
        .route(
            "/pets/{id}",
            get(
                |State((arrived, release)): State<(
                    tokio::sync::mpsc::UnboundedSender<()>,
                    Arc<tokio::sync::Notify>,
                )>| async move {
                    let _ = arrived.send(());
                    release.notified().await;
                    axum::Json(json!({"id": 7, "name": "Slowpoke"}))
                },
            ),
        )
        .with_state(state);
    let base = crate::support::serve_router(app).await;
    (base, arrivals, release)
}

#[tokio::test]
async fn shutdown_finishes_the_call_in_flight_then_stops() {
    let (base_url, mut arrivals, release) = gated_upstream().await;
    let source = api2mcp::load::ConfigSource::Spec { spec: SPEC.to_string(), base_url: Some(base_url) };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let catalogue = Arc::new(prepared.compiled.unwrap().catalogue);
    let server = crate::support::server_for(catalogue);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let settings = api2mcp::mcp::http::HttpSettings::default();
    let stop = shutdown.clone();
    let serving = tokio::spawn(async move { api2mcp::mcp::http::serve(listener, server, &settings, stop).await });

    let mcp = format!("http://{address}/mcp");
    let client = client(&mcp, discover()).await;
    let in_flight = tokio::spawn(async move {
        let result = call(&client, "get_pet", json!({"petId": "7"})).await;
        (result, client)
    });
    arrivals.recv().await.expect("the call reaches the upstream");
    shutdown.cancel();
    // New connections are refused once shutdown starts, while the call is still running.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener still accepts after shutdown");
        tokio::task::yield_now().await;
    }
    assert!(!serving.is_finished(), "the server waits for the call in flight");
    release.notify_one();
    let (result, _client) = in_flight.await.unwrap();
    assert!(!result.is_error.unwrap_or(false), "{result:?}");
    assert!(text(&result).contains("Slowpoke"));
    tokio::time::timeout(Duration::from_secs(10), serving).await.expect("the server stops").unwrap().unwrap();
}

#[tokio::test]
async fn the_grace_period_bounds_shutdown() {
    let (base_url, mut arrivals, _release) = gated_upstream().await;
    let source = api2mcp::load::ConfigSource::Spec { spec: SPEC.to_string(), base_url: Some(base_url) };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let server = crate::support::server_for(Arc::new(prepared.compiled.unwrap().catalogue));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let settings =
        api2mcp::mcp::http::HttpSettings { shutdown_grace: Duration::from_millis(200), ..Default::default() };
    let stop = shutdown.clone();
    let serving = tokio::spawn(async move { api2mcp::mcp::http::serve(listener, server, &settings, stop).await });
    let client = client(&format!("http://{address}/mcp"), discover()).await;
    let _stuck = tokio::spawn(async move { call(&client, "get_pet", json!({"petId": "7"})).await });
    arrivals.recv().await.expect("the call reaches the upstream");
    shutdown.cancel();
    // The upstream never answers: the server gives up after the grace period, not never.
    tokio::time::timeout(Duration::from_secs(10), serving).await.expect("the server stops").unwrap().unwrap();
}

fn write_mapping(path: &Path, base_url: &str, tools: &[&str]) {
    let list = tools.iter().map(|t| format!("{{operation_id: {t}}}")).collect::<Vec<_>>().join(", ");
    std::fs::write(
        path,
        format!(
            "version: 1\nserver: {{name: reload-test}}\nupstreams:\n  store:\n    spec: {SPEC}\n    base_url: {base_url}\n    include: [{list}]\n"
        ),
    )
    .unwrap();
}

async fn tool_names(mcp: &str) -> Vec<String> {
    let client = client(mcp, discover()).await;
    let tools = client.list_all_tools().await.unwrap();
    client.cancel().await.unwrap();
    tools.into_iter().map(|t| t.name.to_string()).collect()
}

#[tokio::test]
async fn reload_swaps_a_valid_catalogue_and_refuses_an_invalid_one() {
    let (base_url, _) = crate::serve::upstream().await;
    let dir = temp_dir("telemetry-reload");
    let path = dir.path().join("api2mcp.yaml");
    write_mapping(&path, &base_url, &["listPets"]);
    let args = api2mcp::cli::SourceArgs { config: Some(path.clone()), spec: None, base_url: None };
    let source = api2mcp::load::ConfigSource::Mapping(path.clone());
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let server = crate::support::server_for(Arc::new(prepared.compiled.unwrap().catalogue));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let (serving, stop) = (server.clone(), shutdown.clone());
    tokio::spawn(async move { api2mcp::mcp::http::serve(listener, serving, &Default::default(), stop).await });
    assert_eq!(tool_names(&mcp).await, ["list_pets"]);

    write_mapping(&path, &base_url, &["listPets", "getPet"]);
    assert_eq!(api2mcp::lifecycle::reload(&server, &args).await, Ok(2));
    assert_eq!(tool_names(&mcp).await, ["list_pets", "get_pet"]);
    let client = client(&mcp, discover()).await;
    assert!(text(&call(&client, "get_pet", json!({"petId": "1"})).await).contains("Rex"));
    client.cancel().await.unwrap();

    // A broken file and a file with a semantic error: both refused, the catalogue stays.
    std::fs::write(&path, "version: 1\nupstreams: [unclosed\n").unwrap();
    let why = api2mcp::lifecycle::reload(&server, &args).await.unwrap_err();
    assert!(why.contains("api2mcp.yaml"), "{why}");
    write_mapping(&path, &base_url, &["listPets"]);
    let text = std::fs::read_to_string(&path).unwrap() + "    tools: {noSuchOperation: {name: ghost}}\n";
    std::fs::write(&path, text).unwrap();
    let why = api2mcp::lifecycle::reload(&server, &args).await.unwrap_err();
    assert!(why.contains("noSuchOperation"), "{why}");
    assert_eq!(tool_names(&mcp).await, ["list_pets", "get_pet"]);

    let (_, _, metrics) = get_text(&mcp.replace("/mcp", "/metrics")).await;
    assert_eq!(sample(&metrics, r#"api2mcp_catalogue_reloads_total{result="ok"}"#), 1.0, "{metrics}");
    assert_eq!(sample(&metrics, r#"api2mcp_catalogue_reloads_total{result="refused"}"#), 2.0, "{metrics}");
    assert_eq!(sample(&metrics, "api2mcp_tools_list_tools"), 2.0);
    shutdown.cancel();
}

fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("the child is running").to_string();
    let status = Command::new("kill").args([&format!("-{name}"), &pid]).status().unwrap();
    assert!(status.success());
}

async fn summary_tools(base: &str) -> Option<usize> {
    let response = reqwest::Client::new().get(base).header("accept", "application/json").send().await.ok()?;
    let summary: serde_json::Value = response.json().await.ok()?;
    summary["tools"].as_array().map(Vec::len)
}

#[tokio::test]
async fn sighup_reloads_the_running_binary_and_sigterm_stops_it() {
    let (base_url, _) = crate::serve::upstream().await;
    let dir = temp_dir("telemetry-sighup");
    let path = dir.path().join("api2mcp.yaml");
    write_mapping(&path, &base_url, &["listPets"]);
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command.args(["serve", "--config", path.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let mut running = ServeProcess::start(command).await;
    let base = format!("{}/", running.base);
    let within = Duration::from_secs(20);
    assert_eq!(summary_tools(&base).await, Some(1));

    write_mapping(&path, &base_url, &["listPets", "getPet", "getText"]);
    signal(&running.child, "HUP");
    eventually("the reload shows three tools", within, || async { summary_tools(&base).await == Some(3) }).await;

    std::fs::write(&path, "version: 1\nupstreams: {store: {spec: /nonexistent.yaml}}\n").unwrap();
    signal(&running.child, "HUP");
    let metrics = format!("{}/metrics", running.base);
    eventually("the broken reload is refused", within, || async {
        let (_, _, text) = get_text(&metrics).await;
        sample(&text, r#"api2mcp_catalogue_reloads_total{result="refused"}"#) == 1.0
    })
    .await;
    assert_eq!(summary_tools(&base).await, Some(3));

    signal(&running.child, "TERM");
    let status = tokio::time::timeout(within, running.child.wait()).await.expect("SIGTERM stops it").unwrap();
    let mut lines: Vec<serde_json::Value> = running.earlier.iter().filter(|l| l.is_object()).cloned().collect();
    lines.push(running.startup.clone());
    while let Some(line) = running.lines.recv().await {
        lines.push(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}")));
    }
    let logs: String = lines.iter().map(|line| format!("{line}\n")).collect();
    assert!(status.success(), "{status:?}\n{logs}");
    // JSON log lines, one object each, saying what happened.
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"configuration reloaded"), "{logs}");
    assert!(messages.iter().any(|m| m.starts_with("configuration reload refused")), "{logs}");
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()), "{logs}");
}

/// An OTLP/HTTP receiver: every export request's body.
async fn otlp_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(sender): State<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>, body: axum::body::Bytes| async move {
                let _ = sender.send(body.to_vec());
                ""
            }),
        )
        .with_state(sender);
    let base = crate::support::serve_router(app).await;
    (base, receiver)
}

/// An upstream recording the `traceparent` it receives.
async fn tracing_upstream() -> (String, crate::support::Recorded<String>) {
    let seen = crate::support::Recorded::default();
    let app = Router::new()
        .route(
            "/pets/{id}",
            get(|State(seen): State<crate::support::Recorded<String>>, headers: HeaderMap| async move {
                let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("-");
                seen.push(traceparent.to_string());
                axum::Json(json!({"id": 1, "name": "Rex"}))
            }),
        )
        .with_state(seen.clone());
    let base = crate::support::serve_router(app).await;
    (base, seen)
}

fn hex(bytes: &str) -> Vec<u8> {
    (0..bytes.len()).step_by(2).map(|i| u8::from_str_radix(&bytes[i..i + 2], 16).unwrap()).collect()
}

#[tokio::test]
async fn spans_reach_an_otlp_receiver_and_the_trace_continues_upstream() {
    let (collector, mut exports) = otlp_receiver().await;
    let (base_url, seen) = tracing_upstream().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command
        .args(["serve", "--spec", SPEC, "--base-url", &base_url, "--listen", "127.0.0.1:0"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .env_remove("OTEL_SERVICE_NAME")
        .env_remove("OTEL_RESOURCE_ATTRIBUTES");
    let running = ServeProcess::start(command).await;

    // A client that sends its trace context in `_meta` (SEP-414).
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "get_pet", "arguments": {"petId": "1"},
        "_meta": {"traceparent": traceparent,
                  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
                  "io.modelcontextprotocol/clientCapabilities": {}}}});
    let response = reqwest::Client::new()
        .post(&running.mcp_url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "get_pet")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer = response.text().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("Rex"), "{answer}");

    // The upstream request is a child in the caller's trace.
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].starts_with(&format!("00-{trace_id}-")), "{sent:?}");
    assert!(!sent[0].contains("00f067aa0ba902b7"), "the upstream span has its own id: {sent:?}");

    // The spans arrive at the receiver: the tool call's and the upstream request's, in that trace,
    // under the default service name.
    let mut received = Vec::new();
    let wanted = [b"tools/call get_pet".as_slice(), b"GET /pets/{petId}", b"api2mcp"];
    let deadline = Instant::now() + Duration::from_secs(20);
    while !wanted.iter().all(|w| contains(&received, w)) || !contains(&received, &hex(trace_id)) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, exports.recv()).await {
            Ok(Some(export)) => received.extend(export),
            _ => panic!("spans did not arrive; got {} bytes", received.len()),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Records `notifications/tools/list_changed`.
#[derive(Clone)]
struct ListChanges(tokio::sync::mpsc::UnboundedSender<()>);

impl rmcp::ClientHandler for ListChanges {
    async fn on_tool_list_changed(&self, _context: rmcp::service::NotificationContext<rmcp::RoleClient>) {
        let _ = self.0.send(());
    }
}

#[tokio::test]
async fn stdio_clients_are_told_when_a_reload_changes_the_tools() {
    use rmcp::ServiceExt;
    let (base_url, _) = crate::serve::upstream().await;
    let dir = temp_dir("telemetry-stdio-reload");
    let path = dir.path().join("api2mcp.yaml");
    write_mapping(&path, &base_url, &["listPets"]);
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command.args(["stdio", "--config", path.to_str().unwrap()]);
    let transport = rmcp::transport::TokioChildProcess::new(command).expect("api2mcp stdio starts");
    let pid = transport.id().expect("the child has a pid");
    let (sender, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let client = ListChanges(sender).serve(transport).await.expect("the stdio handshake completes");
    let capabilities = client.peer_info().unwrap().capabilities.tools.clone().unwrap();
    assert_eq!(capabilities.list_changed, Some(true));
    assert_eq!(client.list_all_tools().await.unwrap().len(), 1);

    write_mapping(&path, &base_url, &["listPets", "getPet"]);
    let status = Command::new("kill").args(["-HUP", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let told = tokio::time::timeout(Duration::from_secs(20), changes.recv()).await;
    let names: Vec<String> = client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    // Listed either way, so that a lost notification is told apart from a reload that did not happen.
    assert!(matches!(told, Ok(Some(()))), "list_changed did not arrive ({told:?}); the tools now: {names:?}");
    assert_eq!(names, ["list_pets", "get_pet"]);
    client.cancel().await.unwrap();
}
