//! The operational endpoints over real parts: api2mcp serving on 127.0.0.1:0, a real upstream whose
//! port first refuses connections, then listens, fails and recovers, a real `redis-server`, the rmcp client in the
//! 2026-07-28 era, and the `api2mcp` binary's `healthcheck` and `summary` commands.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use rmcp::ClientLifecycleMode;
use rmcp::model::{ProtocolVersion, RequestMetaObject};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/serve/openapi.yaml");

/// A mapping file for the serve fixture, written to a fresh directory (removed when the `TempFile`
/// is dropped). `extra_server` and `extra_upstream` are YAML lines added under `server:` and the
/// upstream.
fn mapping(label: &str, base_url: &str, extra_server: &str, extra_upstream: &str) -> TempFile {
    let text = format!(
        "version: 1\n\
         server:\n  name: ops-test\n  title: 'Ops <b>test</b> & \"friends\"'\n  description: Pets for the operational tests.\n{extra_server}\
         upstreams:\n  store:\n    spec: {SPEC}\n    base_url: {base_url}\n\
         \x20   settings: {{headers: {{Authorization: Bearer s3cret-token}}}}\n\
         \x20   tools:\n      getPet: {{scopes: [pets.read]}}\n{extra_upstream}"
    );
    TempFile::new(&format!("ops-{label}"), "api2mcp.yaml", &text)
}

async fn serve(path: &std::path::Path, shutdown: CancellationToken) -> String {
    let source = api2mcp::load::ConfigSource::Mapping(path.to_path_buf());
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let mcp_url = crate::support::serve_prepared(prepared, Default::default(), shutdown).await;
    mcp_url.trim_end_matches("/mcp").to_string()
}

async fn get_with(url: &str, accept: &str) -> (u16, HeaderPairs, String) {
    let response = reqwest::Client::new().get(url).header("accept", accept).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or_default().to_string()))
        .collect();
    (status, HeaderPairs(headers), response.text().await.unwrap())
}

struct HeaderPairs(Vec<(String, String)>);

impl HeaderPairs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

async fn get_json(url: &str) -> (u16, Value) {
    let (status, _, body) = get_with(url, "application/json").await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("{url} answers JSON: {body}")))
}

/// Polls `/ready` until it answers `expected`, or fails after 15 seconds with the last answer.
async fn wait_ready(base: &str, expected: u16) -> Value {
    let url = format!("{base}/ready");
    poll(&format!("/ready answers {expected}"), Duration::from_secs(15), || async {
        let (status, body) = get_json(&url).await;
        if status == expected { Ok(body) } else { Err(format!("{status} {body}")) }
    })
    .await
}

#[tokio::test]
async fn summary_tools_list_and_server_discover_agree() {
    let shutdown = CancellationToken::new();
    let config = mapping("agree", "http://127.0.0.1:9", "", "");
    let base = serve(&config.path, shutdown.clone()).await;
    let (status, summary) = get_json(&format!("{base}/")).await;
    assert_eq!(status, 200);

    let client = crate::serve::client(
        &format!("{base}/mcp"),
        ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] },
    )
    .await;
    let listed = client.list_all_tools().await.unwrap();
    let discovered = client.discover(RequestMetaObject::default()).await.unwrap();
    client.cancel().await.unwrap();

    // Every tool, in order, with the same name, title, description and annotations.
    let from_list: Vec<Value> = listed
        .iter()
        .map(|tool| {
            let tool = serde_json::to_value(tool).unwrap();
            json!({"name": tool["name"], "title": tool.get("title"), "description": tool.get("description"),
                   "annotations": tool.get("annotations")})
        })
        .collect();
    let from_summary: Vec<Value> = summary["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| {
            json!({"name": tool["name"], "title": tool.get("title"), "description": tool.get("description"),
                   "annotations": tool.get("annotations")})
        })
        .collect();
    assert_eq!(from_summary, from_list);
    assert_eq!(summary["toolCount"], listed.len());
    // The server's identity and protocol versions as server/discover gives them.
    let info = discovered.server_info().expect("server/discover names the server");
    assert_eq!(summary["name"], info.name);
    assert_eq!(summary["version"], info.version);
    assert_eq!(summary["title"].as_str(), info.title.as_deref());
    let versions: Vec<&str> = discovered.supported_versions.iter().map(|v| v.as_str()).collect();
    assert_eq!(summary["protocolVersions"], json!(versions));
    assert!(versions.contains(&"2026-07-28") && versions.contains(&"2025-11-25"), "{versions:?}");
    shutdown.cancel();
}

#[tokio::test]
async fn every_endpoint_answers_with_its_status_and_body() {
    let shutdown = CancellationToken::new();
    let discovery = "  discovery: {server_card: true, registry_name: com.example/pets}\n";
    let upstream = "https://user:pa55word@pets.example.com/v1?api_key=k3y#frag";
    let config = mapping("endpoints", upstream, discovery, "");
    let base = serve(&config.path, shutdown.clone()).await;
    let mcp_url = format!("{base}/mcp");

    // GET / as JSON, and the same document at the well-known URL.
    let (status, headers, body) = get_with(&format!("{base}/"), "application/json").await;
    assert_eq!(status, 200);
    assert!(headers.get("content-type").unwrap().starts_with("application/json"));
    assert_eq!(headers.get("access-control-allow-origin"), Some("*"));
    let summary: Value = serde_json::from_str(&body).unwrap();
    let (status, well_known) = get_json(&format!("{base}/.well-known/api2mcp.json")).await;
    assert_eq!((status, &well_known), (200, &summary));
    assert_eq!(summary["name"], "ops-test");
    assert_eq!(summary["description"], "Pets for the operational tests.");
    assert_eq!(summary["transports"], json!([{"type": "streamable-http", "url": mcp_url}]));
    assert_eq!(summary["auth"], json!({"type": "none"}));
    assert_eq!(summary["endpoints"]["ready"], format!("{base}/ready"));
    assert_eq!(summary["endpoints"]["serverCard"], format!("{mcp_url}/server-card"));
    // Upstream names and base URLs only: no credentials, query or headers.
    assert_eq!(summary["upstreams"], json!([{"name": "store", "baseUrl": "https://pets.example.com/v1"}]));
    for secret in ["pa55word", "k3y", "s3cret-token", "user:"] {
        assert!(!body.contains(secret), "the summary leaks {secret}: {body}");
    }
    let get_pet = summary["tools"].as_array().unwrap().iter().find(|t| t["name"] == "get_pet").unwrap();
    assert_eq!(
        *get_pet,
        json!({"name": "get_pet", "description": "Get a pet.", "annotations": {"readOnlyHint": true}, "scopes": ["pets.read"], "upstream": "store", "cost": 1})
    );

    // A browser gets a page, with everything escaped.
    let (status, headers, page) = get_with(&format!("{base}/"), "text/html,application/xhtml+xml,*/*;q=0.8").await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(headers.get("content-security-policy"), Some("default-src 'none'; style-src 'unsafe-inline'"));
    assert!(page.contains("<h1>Ops &lt;b&gt;test&lt;/b&gt; &amp; &quot;friends&quot;</h1>"), "{page}");
    assert!(page.contains("<code>get_pet</code>") && page.contains(&mcp_url), "{page}");
    assert!(!page.contains("<b>test</b>") && !page.contains("pa55word"), "{page}");

    // Liveness and readiness.
    assert_eq!(
        get_json(&format!("{base}/health")).await,
        (200, json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
    );
    let (status, ready) = get_json(&format!("{base}/ready")).await;
    assert_eq!(status, 200);
    assert_eq!(
        ready,
        json!({"status": "ready", "checks": {
            "catalogue": {"status": "ok", "tools": 7},
            "rate_limits": {"status": "ok", "detail": "limits enforced in this instance"},
            "circuit_breakers": {"store": {"status": "ok", "state": "closed"}},
        }})
    );

    // The draft Server Card and Catalog.
    let (status, headers, card) = get_with(&format!("{mcp_url}/server-card"), "application/mcp-server-card+json").await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type"), Some("application/mcp-server-card+json"));
    // Its URLs come from the request's Host here, so shared caches must not keep it.
    assert_eq!(headers.get("cache-control"), Some("no-cache"));
    let card: Value = serde_json::from_str(&card).unwrap();
    assert_eq!(
        card,
        json!({
            "$schema": "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json",
            "name": "com.example/pets",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Pets for the operational tests.",
            "title": "Ops <b>test</b> & \"friends\"",
            "remotes": [{"type": "streamable-http", "url": mcp_url, "supportedProtocolVersions": summary["protocolVersions"]}],
        })
    );
    let (status, catalog) = get_json(&format!("{base}/.well-known/mcp/catalog.json")).await;
    assert_eq!(status, 200);
    assert_eq!(
        catalog,
        json!({"specVersion": "draft", "entries": [{"identifier": "urn:air:example.com:pets",
               "displayName": "Ops <b>test</b> & \"friends\"", "type": "application/mcp-server-card+json",
               "url": format!("{mcp_url}/server-card")}]})
    );
    // MCP itself still answers beside them.
    let (status, _, _) = get_with(&format!("{base}/nowhere"), "application/json").await;
    assert_eq!(status, 404);
    shutdown.cancel();
}

#[tokio::test]
async fn the_server_card_is_off_unless_switched_on() {
    let shutdown = CancellationToken::new();
    let config = mapping("card-off", "http://127.0.0.1:9", "", "");
    let base = serve(&config.path, shutdown.clone()).await;
    assert_eq!(get_with(&format!("{base}/mcp/server-card"), "*/*").await.0, 404);
    assert_eq!(get_with(&format!("{base}/.well-known/mcp/catalog.json"), "*/*").await.0, 404);
    let (_, summary) = get_json(&format!("{base}/")).await;
    assert!(summary["endpoints"].get("serverCard").is_none(), "{summary}");
    // A public URL replaces the one built from the request.
    shutdown.cancel();
    let shutdown = CancellationToken::new();
    let discovery = "  discovery: {public_url: 'https://mcp.example.com/pets/mcp'}\n";
    let config = mapping("public-url", "http://127.0.0.1:9", discovery, "");
    let base = serve(&config.path, shutdown.clone()).await;
    let (_, summary) = get_json(&format!("{base}/")).await;
    assert_eq!(summary["endpoints"]["mcp"], "https://mcp.example.com/pets/mcp");
    assert_eq!(summary["endpoints"]["health"], "https://mcp.example.com/pets/health");
    shutdown.cancel();
}

#[tokio::test]
async fn ready_follows_the_upstream_down_and_up() {
    let closed = ClosedPort::new();
    let upstream_url = format!("http://{}", closed.address());
    let shutdown = CancellationToken::new();
    let probe = "    health: {path: /status, timeout: 2s}\n";
    let config = mapping("upstream", &upstream_url, "", probe);
    let base = serve(&config.path, shutdown.clone()).await;

    // Nothing listens yet.
    let body = wait_ready(&base, 503).await;
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["upstreams"]["store"]["status"], "down");
    assert_eq!(body["checks"]["upstreams"]["store"]["detail"], "connection refused");

    // Up on the same port; then failing (503) and healthy again.
    let healthy = Arc::new(AtomicBool::new(true));
    let answer = healthy.clone();
    let app = Router::new().route(
        "/status",
        get(move || {
            let healthy = answer.load(Ordering::SeqCst);
            async move { if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE } }
        }),
    );
    let listener = closed.listen();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let body = wait_ready(&base, 200).await;
    assert_eq!(body["checks"]["upstreams"]["store"]["status"], "ok");
    assert!(body["checks"]["upstreams"]["store"]["detail"].as_str().unwrap().starts_with("GET /status: 200"));

    healthy.store(false, Ordering::SeqCst);
    let body = wait_ready(&base, 503).await;
    assert_eq!(body["checks"]["upstreams"]["store"]["detail"], "GET /status: HTTP 503", "{body}");

    healthy.store(true, Ordering::SeqCst);
    wait_ready(&base, 200).await;
    shutdown.cancel();
}

#[tokio::test]
async fn a_tcp_probe_needs_only_a_listening_port() {
    let closed = ClosedPort::new();
    let shutdown = CancellationToken::new();
    let probe = "    health: {timeout: 500ms}\n";
    let config = mapping("tcp", &format!("http://{}", closed.address()), "", probe);
    let base = serve(&config.path, shutdown.clone()).await;
    wait_ready(&base, 503).await;
    let listener = closed.listen();
    let body = wait_ready(&base, 200).await;
    assert!(body["checks"]["upstreams"]["store"]["detail"].as_str().unwrap().starts_with("TCP connect"), "{body}");
    drop(listener);
    shutdown.cancel();
}

use crate::support::{ClosedPort, RedisServer, ServeProcess, TempFile, poll};

#[tokio::test]
async fn ready_reports_redis_down_as_degraded_but_stays_ready() {
    // A port redis-server can bind, with nothing on it for now (see `RedisServer`: the one server
    // the tests cannot start on port 0).
    let port = RedisServer::start().port();
    let shutdown = CancellationToken::new();
    let redis = format!("  redis_url: 'redis://127.0.0.1:{port}/0'\n");
    let config = mapping("redis", "http://127.0.0.1:9", &redis, "");
    let base = serve(&config.path, shutdown.clone()).await;

    // Redis down: rate limits fall back to this instance's share, so it still serves.
    let body = wait_redis(&base, "degraded").await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(!body.to_string().contains(&port.to_string()), "the redis URL stays private: {body}");

    let server = RedisServer::restart(port);
    let body = wait_redis(&base, "ok").await;
    assert_eq!(body["status"], "ready", "{body}");

    server.stop();
    wait_redis(&base, "degraded").await;

    let server = RedisServer::restart(port);
    wait_redis(&base, "ok").await;
    server.stop();
    shutdown.cancel();
}

/// Polls `/ready` (always 200 here) until its Redis check says `expected`.
async fn wait_redis(base: &str, expected: &str) -> Value {
    let url = format!("{base}/ready");
    poll(&format!("the redis check says {expected}"), Duration::from_secs(15), || async {
        let (status, body) = get_json(&url).await;
        assert_eq!(status, 200, "a Redis outage never makes the instance not ready: {body}");
        if body["checks"]["redis"]["status"] == expected { Ok(body) } else { Err(body.to_string()) }
    })
    .await
}

fn api2mcp(args: &[&str], listen: Option<&str>) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command.args(args).env_remove("API2MCP_CONFIG").env_remove("API2MCP_SPEC").env_remove("API2MCP_LISTEN");
    if let Some(listen) = listen {
        command.env("API2MCP_LISTEN", listen);
    }
    let output = command.output().expect("the api2mcp binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_0_when_ready_and_1_otherwise() {
    let shutdown = CancellationToken::new();
    let config = mapping("healthcheck", "http://127.0.0.1:9", "", "");
    let base = serve(&config.path, shutdown.clone()).await;
    let listen = base.trim_start_matches("http://").to_string();

    // The default URL: /ready on API2MCP_LISTEN, with 0.0.0.0 asked on loopback.
    let port = listen.rsplit(':').next().unwrap().to_string();
    let unspecified = format!("0.0.0.0:{port}");
    let (code, stdout, stderr) =
        tokio::task::spawn_blocking(move || api2mcp(&["healthcheck"], Some(&unspecified))).await.unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("/ready: HTTP 200"), "{stdout}");

    let url = format!("{base}/health");
    let (code, _, _) =
        tokio::task::spawn_blocking(move || api2mcp(&["healthcheck", "--url", &url], None)).await.unwrap();
    assert_eq!(code, 0);

    // A server that is not ready, and a port nobody listens on.
    let probe = "    health: {timeout: 500ms}\n";
    let closed = ClosedPort::new();
    let config_down = mapping("healthcheck-down", &format!("http://{}", closed.address()), "", probe);
    let not_ready = serve(&config_down.path, shutdown.clone()).await;
    let url = format!("{not_ready}/ready");
    let (code, _, stderr) =
        tokio::task::spawn_blocking(move || api2mcp(&["healthcheck", "--url", &url], None)).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("HTTP 503"), "{stderr}");

    let dead = closed.address().to_string();
    let (code, _, stderr) =
        tokio::task::spawn_blocking(move || api2mcp(&["healthcheck", "--timeout", "2"], Some(&dead))).await.unwrap();
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.starts_with("unhealthy: "), "{stderr}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_command_prints_what_the_server_serves() {
    let discovery = "  discovery: {registry_name: com.example/pets, website_url: 'https://example.com/pets'}\n";
    let file = mapping("summary", "https://pets.example.com/v1", discovery, "");
    let path = &file.path;
    let config = path.display().to_string();

    let shutdown = CancellationToken::new();
    let base = serve(path, shutdown.clone()).await;
    let (_, served) = get_json(&format!("{base}/")).await;
    shutdown.cancel();

    let url = format!("{base}/mcp");
    let args = ["summary", "--config", &config, "--url", &url];
    let (code, stdout, stderr) = api2mcp(&args, None);
    assert_eq!(code, 0, "{stderr}");
    let offline: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(offline, served);

    let (code, stdout, stderr) = api2mcp(&["summary", "--config", &config, "--format", "server-json"], None);
    assert_eq!(code, 0, "{stderr}");
    let server_json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        server_json,
        json!({
            "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
            "name": "com.example/pets",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Pets for the operational tests.",
            "title": "Ops <b>test</b> & \"friends\"",
            "websiteUrl": "https://example.com/pets",
            "remotes": [{"type": "streamable-http", "url": "http://127.0.0.1:8080/mcp"}],
        })
    );

    let (code, stdout, _) = api2mcp(&["summary", "--config", &config, "--format", "server-card"], None);
    assert_eq!(code, 0);
    let card: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(card["$schema"], "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json");
    assert_eq!(card["remotes"][0]["supportedProtocolVersions"], served["protocolVersions"]);
}

#[test]
fn check_reports_bad_operational_settings() {
    // The password comes from the environment, as it should: the message and snippet show neither.
    let extra_server = "  redis_url: '${OPS_REDIS_URL}'\n  \
                        discovery: {public_url: 'ftp://x', registry_name: petstore, website_url: 'https://u:p@example.com'}\n";
    let probe = "    health: {path: status, timeout: 0s}\n";
    let config = mapping("check", "http://127.0.0.1:9", extra_server, probe);
    let output = Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(["check", "--config", &config.path.display().to_string()])
        .env("OPS_REDIS_URL", "http://:hunter2@redis:6379")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(78), "{stdout}");
    for expected in [
        "error[mapping/invalid-redis-url]: server.redis_url is not a redis:// URL",
        "error[mapping/invalid-discovery]: server.discovery.public_url 'ftp://x' is not an absolute http(s) URL",
        "error[mapping/invalid-discovery]: server.discovery.website_url",
        "error[mapping/invalid-discovery]: server.discovery.registry_name 'petstore' is not a reverse-DNS name",
        "error[mapping/invalid-health-probe]: upstream 'store': health.path 'status' must start with one '/'",
        "error[mapping/invalid-health-probe]: upstream 'store': health.timeout must be more than 0",
    ] {
        assert!(stdout.contains(expected), "missing {expected}:\n{stdout}");
    }
    assert!(!stdout.contains("hunter2"), "{stdout}");
}

/// What the Docker image relies on, without Docker: configuration from the environment only, the
/// compose example's mapping, listening on 0.0.0.0, and `api2mcp healthcheck` with no arguments
/// turning healthy once Redis and the upstream answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_container_contract_holds_outside_docker() {
    let upstream = Router::new().route("/pets", get(|| async { axum::Json(json!({"data": []})) }));
    let upstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}", upstream_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(upstream_listener, upstream).await.unwrap() });
    let redis = RedisServer::start();
    // The compose example's mapping, with the compose secret's mount point moved to a file of the test's own.
    let example_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/docker");
    let mapping = std::fs::read_to_string(format!("{example_dir}/api2mcp.yaml")).unwrap();
    assert!(mapping.contains("${file:/run/secrets/cursor_secret}"), "{mapping}");
    let work_dir = crate::support::temp_dir("container-contract");
    let secret_path = work_dir.path().join("cursor_secret");
    std::fs::write(&secret_path, "0123456789abcdef0123456789abcdef\n").unwrap();
    let mapping = mapping
        .replace("/run/secrets/cursor_secret", &secret_path.display().to_string())
        .replace("../petstore/", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/petstore/"));
    let mapping_path = work_dir.path().join("api2mcp.yaml");
    std::fs::write(&mapping_path, mapping).unwrap();
    let environment = [
        ("API2MCP_CONFIG", mapping_path.display().to_string()),
        ("API2MCP_LISTEN", "0.0.0.0:0".to_string()),
        ("API2MCP_ALLOWED_HOSTS", "api2mcp".to_string()),
        ("API2MCP_ALLOW_ANONYMOUS", "true".to_string()),
        ("REDIS_URL", redis.url()),
        ("PETSTORE_URL", upstream_url),
    ];
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    server.arg("serve").env_remove("API2MCP_SPEC").envs(environment.iter().map(|(k, v)| (k, v)));
    let mut server = ServeProcess::start(server).await;
    // The port the kernel chose, from the startup line; `healthcheck` is told the listen address as
    // the image tells it (API2MCP_LISTEN, unspecified host).
    let port = server.port();
    let listen = format!("0.0.0.0:{port}");

    // The image's HEALTHCHECK: `api2mcp healthcheck`, nothing else, until it passes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listen = listen.clone();
        let (code, stdout, stderr) =
            tokio::task::spawn_blocking(move || api2mcp(&["healthcheck", "--timeout", "2"], Some(&listen)))
                .await
                .unwrap();
        if code == 0 {
            assert!(stdout.contains(&format!("http://127.0.0.1:{port}/ready: HTTP 200")), "{stdout}");
            assert!(stdout.contains(r#""redis":{"#) && stdout.contains(r#""petstore":{"#), "{stdout}");
            break;
        }
        assert!(server.child.try_wait().unwrap().is_none(), "api2mcp serve exited: {stderr}");
        assert!(Instant::now() < deadline, "never healthy: {stdout}{stderr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = format!("http://127.0.0.1:{port}");
    let (status, summary) = get_json(&format!("{base}/")).await;
    assert_eq!((status, summary["name"].as_str()), (200, Some("petstore")));
    assert_eq!(get_with(&format!("{base}/mcp/server-card"), "*/*").await.0, 200);
    server.child.kill().await.unwrap();
    work_dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_ready_requests_probes_the_upstream_once() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let upstream = Router::new().route(
        "/status",
        get(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "ok" }
        }),
    );
    let upstream_url = crate::support::serve_router(upstream).await;
    let shutdown = CancellationToken::new();
    let probe = "    health: {path: /status}\n";
    let config = mapping("flood", &upstream_url, "", probe);
    let base = serve(&config.path, shutdown.clone()).await;

    let requests: Vec<_> = (0..20).map(|_| tokio::spawn(get_json_owned(format!("{base}/ready")))).collect();
    for request in requests {
        assert_eq!(request.await.unwrap().0, 200);
    }
    // One round answers them all (two if the machine stalls past the 1 s the answer is shared for).
    let probes = hits.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&probes), "{probes} probes for 20 requests");
    shutdown.cancel();
}

async fn get_json_owned(url: String) -> (u16, Value) {
    get_json(&url).await
}

#[tokio::test]
async fn health_checks_are_answered_while_mcp_traffic_is_shed() {
    // No permits at all: every MCP request is shed, the operational endpoints still answer.
    let settings = api2mcp::mcp::http::HttpSettings { max_concurrent_requests: 0, ..Default::default() };
    let config = mapping("shed", "http://127.0.0.1:9", "", "");
    let source = api2mcp::load::ConfigSource::Mapping(config.path.clone());
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let shutdown = CancellationToken::new();
    let mcp_url = crate::support::serve_prepared(prepared, settings, shutdown.clone()).await;
    let base = mcp_url.trim_end_matches("/mcp");
    let shed = reqwest::Client::new()
        .post(&mcp_url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status().as_u16(), 503);
    assert_eq!(get_json(&format!("{base}/health")).await.0, 200);
    assert_eq!(get_json(&format!("{base}/ready")).await.0, 200);
    assert_eq!(get_json(&format!("{base}/")).await.0, 200);
    shutdown.cancel();
}
