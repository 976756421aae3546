//! The `POST /mcp` fast path (`src/mcp/http/fast.rs`) answers `tools/call` and `tools/list` exactly
//! as rmcp's Streamable HTTP service does: the same requests, sent to one server with the fast path
//! and to one without it (same catalogue, same upstream), get the same status, content type and
//! JSON-RPC reply in every protocol era, and the fast path did serve them.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// An upstream for `tests/fixtures/serve/faults.yaml`'s `echo` and `leakyError` operations.
async fn upstream() -> String {
    let app = Router::new()
        .route(
            "/echo/{id}",
            get(|Path(id): Path<String>, Query(query): Query<HashMap<String, String>>| async move {
                axum::Json(json!({"id": id, "q": query.get("q"), "items": [1, 2, 3]}))
            }),
        )
        .route("/leaky-error", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }));
    crate::support::serve_router(app).await
}

async fn serve(base_url: &str, fast_path: bool, shutdown: CancellationToken) -> String {
    let source = api2mcp::load::ConfigSource::Spec {
        spec: "tests/fixtures/serve/faults.yaml".into(),
        base_url: Some(base_url.to_string()),
    };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let settings = api2mcp::mcp::http::HttpSettings { fast_path, ..Default::default() };
    crate::support::serve_prepared(prepared, settings, shutdown).await
}

/// How a request states its protocol era.
#[derive(Clone, Copy, Debug)]
enum Era {
    /// No `MCP-Protocol-Version` header (2025-03-26 is assumed).
    Unstated,
    /// The header only, as 2025 clients send it after `initialize`.
    Header(&'static str),
    /// 2026-07-28: the version in the header and in `_meta`, with the SEP-2243 headers.
    PerRequest(&'static str),
}

struct Reply {
    status: u16,
    content_type: Option<String>,
    body: Value,
}

async fn send(url: &str, era: Era, id: Value, method: &str, mut params: Value) -> Reply {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    match era {
        Era::Unstated => {}
        Era::Header(version) => request = request.header("mcp-protocol-version", version),
        Era::PerRequest(version) => {
            params["_meta"] = json!({
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientInfo": {"name": "fast-path-test", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            });
            request = request.header("mcp-protocol-version", version).header("mcp-method", method);
            if let Some(name) = params["name"].as_str() {
                request = request.header("mcp-name", name);
            }
        }
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text));
    Reply { status, content_type, body }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_path_answers_exactly_as_rmcp_does() {
    let base_url = upstream().await;
    let shutdown = CancellationToken::new();
    let fast = serve(&base_url, true, shutdown.clone()).await;
    let rmcp = serve(&base_url, false, shutdown.clone()).await;

    let requests: Vec<(&str, Value)> = vec![
        ("tools/list", json!({})),
        ("tools/list", json!({"cursor": "not-a-cursor"})),
        ("tools/call", json!({"name": "echo", "arguments": {"id": "7", "q": "x"}})),
        ("tools/call", json!({"name": "echo", "arguments": {"id": 42}})),
        ("tools/call", json!({"name": "echo", "arguments": {}})),
        ("tools/call", json!({"name": "echo", "arguments": {"id": "7", "unknown": true}})),
        ("tools/call", json!({"name": "leaky_error"})),
        ("tools/call", json!({"name": "no_such_tool", "arguments": {}})),
    ];
    let eras = [
        Era::Unstated,
        Era::Header("2025-03-26"),
        Era::Header("2025-06-18"),
        Era::Header("2025-11-25"),
        Era::PerRequest("2026-07-28"),
        // A legacy version named per request: negotiated inline, answered in that version's shape.
        Era::PerRequest("2025-11-25"),
    ];
    let before = api2mcp::mcp::http::fast_path_served();
    let mut sent = 0;
    for era in eras {
        for (n, (method, params)) in requests.iter().enumerate() {
            // Numbers and strings both, as ids.
            let id = if n % 2 == 0 { json!(n) } else { json!(format!("id-{n}")) };
            let through_rmcp = send(&rmcp, era, id.clone(), method, params.clone()).await;
            let through_fast = send(&fast, era, id.clone(), method, params.clone()).await;
            sent += 1;
            let case = format!("{era:?} {method} {params}");
            assert_eq!(through_fast.status, through_rmcp.status, "{case}");
            assert_eq!(through_fast.content_type, through_rmcp.content_type, "{case}");
            assert_eq!(through_fast.body, through_rmcp.body, "{case}");
            assert_eq!(through_fast.body["id"], id, "{case}: {}", through_fast.body);
        }
    }
    // Every request above is of a shape the fast path serves (other tests run in this process too,
    // so the count may grow by more).
    let served = api2mcp::mcp::http::fast_path_served() - before;
    assert!(served >= sent, "the fast path served {served} of {sent} requests");
    shutdown.cancel();
}

/// Requests the fast path leaves to rmcp get rmcp's answers: a refused `Host`, a missing `Accept`
/// type, a header that contradicts `_meta`, an unknown protocol version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_left_to_rmcp_get_its_refusals() {
    let base_url = upstream().await;
    let shutdown = CancellationToken::new();
    let fast = serve(&base_url, true, shutdown.clone()).await;
    let rmcp = serve(&base_url, false, shutdown.clone()).await;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"id": "1"}}});
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("host", "evil.example"), ("accept", "application/json, text/event-stream")],
        vec![("accept", "application/json")],
        vec![("accept", "application/json, text/event-stream"), ("mcp-protocol-version", "1999-01-01")],
        vec![("accept", "application/json, text/event-stream"), ("mcp-protocol-version", "2026-07-28")],
        vec![("accept", "application/json, text/event-stream;q=0"), ("mcp-protocol-version", "2025-11-25")],
    ];
    for headers in cases {
        let mut replies = Vec::new();
        for url in [&fast, &rmcp] {
            let mut request = reqwest::Client::new()
                .post(url.as_str())
                .header("content-type", "application/json")
                .body(call.to_string());
            for (name, value) in &headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            replies.push((response.status().as_u16(), response.text().await.unwrap()));
        }
        assert_eq!(replies[0], replies[1], "{headers:?}");
        assert_ne!(replies[0].0, 200, "{headers:?}: {}", replies[0].1);
    }
    shutdown.cancel();
}

/// A client that goes away while the fast path runs its call cancels the call, which is still
/// recorded as cancelled (as under rmcp, whose handler task outlives the request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_client_goes_away_is_recorded_as_cancelled() {
    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let upstream_arrived = arrived.clone();
    let app = Router::new().route(
        "/hang",
        get(move || {
            let arrived = upstream_arrived.clone();
            async move {
                arrived.notify_one();
                std::future::pending::<&'static str>().await
            }
        }),
    );
    let base_url = crate::support::serve_router(app).await;
    let shutdown = CancellationToken::new();
    let url = serve(&base_url, true, shutdown.clone()).await;
    let before = api2mcp::mcp::http::fast_path_served();
    let call =
        tokio::spawn(crate::support::mcp_post(&reqwest::Client::new(), &url, crate::support::HANGING_CALL).send());
    arrived.notified().await;
    call.abort();
    let metrics = url.replace("/mcp", "/metrics");
    let line = r#"api2mcp_tool_calls_total{tool="hang",category="cancelled",status="none"} 1"#;
    let metrics = &metrics;
    crate::support::poll("the cancelled call in /metrics", std::time::Duration::from_secs(10), move || async move {
        let text = reqwest::get(metrics).await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
        if text.contains(line) { Ok(()) } else { Err(format!("no `{line}` yet")) }
    })
    .await;
    // The fast path took it (other tests in this process may add to the count, never take away).
    assert!(api2mcp::mcp::http::fast_path_served() > before);
    shutdown.cancel();
}
