//! Rate limits, shared limits in a real `redis-server` (killed, restarted, paused), circuit breakers,
//! retries and their budget, bulkheads, deadlines and cancellation, against real upstreams on
//! 127.0.0.1:0 and the real rmcp client.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::ClientLifecycleMode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::serve::{call, client};
use crate::support::{RedisServer, eventually, redis_ready, serve_prepared, temp_dir};

/// What the drill upstream saw and how it answers.
#[derive(Default)]
pub struct Upstream {
    pub hits: AtomicUsize,
    /// Status of `/flaky` while `failures_left` > 0 (then 200); 0 means 503.
    pub flaky_status: AtomicU16,
    pub failures_left: AtomicUsize,
    /// `Retry-After` sent with `/flaky` failures, in seconds (0: none).
    pub retry_after: AtomicUsize,
    /// Idempotency keys received, in order.
    pub keys: std::sync::Mutex<Vec<String>>,
    /// `/hang` requests whose handler was dropped (the client went away).
    pub hangs_dropped: AtomicUsize,
    pub hangs_started: AtomicUsize,
}

struct DropSignal(Arc<Upstream>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.hangs_dropped.fetch_add(1, Ordering::SeqCst);
    }
}

async fn flaky(State(state): State<Arc<Upstream>>, headers: HeaderMap) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        state.keys.lock().unwrap().push(key.to_string());
    }
    let left = state.failures_left.load(Ordering::SeqCst);
    if left > 0 {
        state.failures_left.store(left - 1, Ordering::SeqCst);
        let status = match state.flaky_status.load(Ordering::SeqCst) {
            0 => 503,
            status => status,
        };
        let mut response =
            (StatusCode::from_u16(status).unwrap(), axum::Json(json!({"message": "failing"}))).into_response();
        let wait = state.retry_after.load(Ordering::SeqCst);
        if wait > 0 {
            response.headers_mut().insert("retry-after", wait.to_string().parse().unwrap());
        }
        return response;
    }
    axum::Json(json!({"ok": true})).into_response()
}

/// A fast upstream on 127.0.0.1:0 with `/items`, `/flaky` and `/hang`.
pub async fn upstream() -> (String, Arc<Upstream>) {
    let state = Arc::new(Upstream::default());
    let app = Router::new()
        .route(
            "/items",
            get(|State(state): State<Arc<Upstream>>| async move {
                state.hits.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"items": [1, 2, 3]}))
            })
            .post(|State(state): State<Arc<Upstream>>| async move {
                state.hits.fetch_add(1, Ordering::SeqCst);
                axum::Json(json!({"created": true}))
            }),
        )
        .route("/flaky", get(flaky).post(flaky))
        .route(
            "/hang",
            get(|State(state): State<Arc<Upstream>>| async move {
                state.hangs_started.fetch_add(1, Ordering::SeqCst);
                let _signal = DropSignal(state.clone());
                std::future::pending::<()>().await;
                axum::Json(json!({}))
            }),
        )
        .with_state(state.clone());
    let base = crate::support::serve_router(app).await;
    (base, state)
}

/// Serves a mapping (`{spec}` replaced by the drill spec's path) on 127.0.0.1:0; returns the MCP URL.
pub async fn serve_mapping(yaml: &str, shutdown: CancellationToken) -> String {
    let spec = std::fs::canonicalize("tests/fixtures/resilience/api.yaml").unwrap();
    let dir = temp_dir("resilience");
    let mapping = dir.path().join("api2mcp.yaml");
    std::fs::write(&mapping, yaml.replace("{spec}", &spec.display().to_string())).unwrap();
    let prepared = api2mcp::pipeline::prepare(&api2mcp::load::ConfigSource::Mapping(mapping), &HashMap::new()).await;
    dir.close().unwrap();
    serve_prepared(prepared, Default::default(), shutdown).await
}

fn error_of(result: &rmcp::model::CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    result.structured_content.clone().expect("errors carry structured content")
}

fn ok(result: &rmcp::model::CallToolResult) {
    assert_eq!(result.is_error, Some(false), "{result:?}");
}

#[tokio::test]
async fn the_n_plus_first_call_is_refused_with_the_exact_wait() {
    let (base_url, state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "upstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings: {{limits: {{total: 10/hour}}}}\n    tools:\n      listItems:\n        settings: {{limits: {{per_caller: 3/hour}}}}\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    for _ in 0..3 {
        ok(&call(&client, "list_items", json!({})).await);
    }
    let refused = error_of(&call(&client, "list_items", json!({})).await);
    assert_eq!(refused["category"], "CLIENT", "{refused}");
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(refused["retryable"], true, "{refused}");
    // 3 per hour: one unit every 20 minutes; the wait is what is left of it, rounded up.
    assert_eq!(refused["retry_after"], 1200, "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("tool:per_caller"), "{refused}");
    assert_eq!(state.hits.load(Ordering::SeqCst), 3, "a refused call is never sent");

    // A write costs 5: with 3 of the upstream's 10 units used, one write fits, the second does not.
    ok(&call(&client, "create_item", json!({"name": "a"})).await);
    let refused = error_of(&call(&client, "create_item", json!({"name": "b"})).await);
    assert_eq!(
        (refused["code"].as_str(), refused["message"].as_str().map(|m| m.contains("upstream:total"))),
        (Some("rate_limited"), Some(true)),
        "{refused}"
    );
    assert_eq!(state.hits.load(Ordering::SeqCst), 4);

    // The summary shows each tool's cost and limits.
    let base = url.trim_end_matches("/mcp");
    let summary: Value = reqwest::get(format!("{base}/.well-known/api2mcp.json")).await.unwrap().json().await.unwrap();
    let list = summary["tools"].as_array().unwrap().iter().find(|t| t["name"] == "list_items").unwrap();
    assert_eq!(list["cost"], 1);
    assert_eq!(list["limits"], json!({"tool": {"per_caller": "3/hour"}, "upstream": {"total": "10/hour"}}));
    let create = summary["tools"].as_array().unwrap().iter().find(|t| t["name"] == "create_item").unwrap();
    assert_eq!(create["cost"], 5);
    let page = reqwest::Client::new()
        .get(format!("{base}/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("cost 1; tool: per_caller 3/hour; upstream: total 10/hour"), "{page}");
    shutdown.cancel();
}

#[tokio::test]
async fn unidentified_callers_share_one_strict_bucket() {
    let (base_url, state) = upstream().await;
    let yaml = format!(
        "server:\n  limits: {{per_caller: 100/hour, anonymous: 2/hour}}\nupstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n"
    );
    let spec = std::fs::canonicalize("tests/fixtures/resilience/api.yaml").unwrap();
    let dir = temp_dir("resilience-anon");
    let mapping = dir.path().join("api2mcp.yaml");
    std::fs::write(&mapping, yaml.replace("{spec}", &spec.display().to_string())).unwrap();
    let prepared = api2mcp::pipeline::prepare(&api2mcp::load::ConfigSource::Mapping(mapping), &HashMap::new()).await;
    dir.close().unwrap();
    let catalogue = Arc::new(prepared.compiled.unwrap().catalogue);
    // `call_once` has no subject and no address: the anonymous bucket, never unlimited.
    let server = crate::support::server_for(catalogue);
    for _ in 0..2 {
        let result = server.call_once("list_items", serde_json::Map::new()).await.unwrap();
        assert_eq!(result["isError"], false, "{result}");
    }
    let result = server.call_once("list_items", serde_json::Map::new()).await.unwrap();
    assert_eq!(result["structuredContent"]["code"], "rate_limited", "{result}");
    assert_eq!(result["structuredContent"]["retry_after"], 1800, "{result}");
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_flood_before_any_tool_is_known_gets_429_with_retry_after() {
    let (base_url, _state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "server:\n  limits: {{http_per_address: 3/minute}}\nupstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let http = reqwest::Client::new();
    let post = || {
        http.post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
            .send()
    };
    for _ in 0..3 {
        assert_ne!(post().await.unwrap().status(), 429);
    }
    let refused = post().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "20");
    // The operational routes are never limited.
    let base = url.trim_end_matches("/mcp");
    assert_eq!(http.get(format!("{base}/health")).send().await.unwrap().status(), 200);
    shutdown.cancel();
}

fn redis_yaml(base_url: &str, redis_port: u16, limits: &str) -> String {
    format!(
        "server:\n  redis_url: redis://127.0.0.1:{redis_port}/0\n  limits: {{instances: 2, redis_timeout: 100ms}}\nupstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings: {{limits: {limits}}}\n"
    )
}

async fn rate_keys(connection: &mut deadpool_redis::redis::aio::MultiplexedConnection) -> Vec<String> {
    deadpool_redis::redis::cmd("KEYS").arg("api2mcp:rl:*").query_async(connection).await.unwrap()
}

#[tokio::test]
async fn two_instances_share_one_limit_in_redis_and_keys_expire() {
    let redis_server = RedisServer::start();
    let redis_port = redis_server.port();
    let mut redis = redis_ready(redis_port).await;
    let (base_url, state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = redis_yaml(&base_url, redis_port, "{total: 4/2s}");
    let first = client(&serve_mapping(&yaml, shutdown.clone()).await, ClientLifecycleMode::Initialize).await;
    let second = client(&serve_mapping(&yaml, shutdown.clone()).await, ClientLifecycleMode::Initialize).await;
    // 4 calls, alternating instances, all fit; the 5th is refused whichever instance serves it.
    let started = Instant::now();
    for index in 0..4 {
        let client = if index % 2 == 0 { &first } else { &second };
        ok(&call(client, "list_items", json!({})).await);
    }
    for client in [&first, &second] {
        let refused = error_of(&call(client, "list_items", json!({})).await);
        assert_eq!(refused["code"], "rate_limited", "{refused}");
        assert_eq!(refused["retry_after"], 1, "{refused}");
    }
    assert!(started.elapsed() < Duration::from_millis(500), "the bucket did not refill meanwhile");
    assert_eq!(state.hits.load(Ordering::SeqCst), 4);
    // Every key has a TTL, and is gone once its bucket is full again.
    let keys = rate_keys(&mut redis).await;
    assert_eq!(keys, ["api2mcp:rl:u:drill:total:"], "{keys:?}");
    let ttl: i64 = deadpool_redis::redis::cmd("PTTL").arg(&keys[0]).query_async(&mut redis).await.unwrap();
    assert!(ttl > 0 && ttl <= 2001, "ttl {ttl}");
    eventually("the keys expire", Duration::from_secs(5), || {
        let mut redis = redis.clone();
        async move { rate_keys(&mut redis).await.is_empty() }
    })
    .await;
    ok(&call(&first, "list_items", json!({})).await);
    shutdown.cancel();
}

#[tokio::test]
async fn redis_killed_paused_and_restarted_under_traffic() {
    let redis_server = RedisServer::start();
    let redis_port = redis_server.port();
    let mut redis = redis_ready(redis_port).await;
    let (base_url, _state) = upstream().await;
    let shutdown = CancellationToken::new();
    let url = serve_mapping(&redis_yaml(&base_url, redis_port, "{total: 100000/day}"), shutdown.clone()).await;
    let base = url.trim_end_matches("/mcp").to_string();
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    ok(&call(&client, "list_items", json!({})).await);
    // One unit refills in 864ms: the key lives that long.
    assert_eq!(rate_keys(&mut redis).await.len(), 1, "decisions are made in Redis");

    // Paused: every call is still answered, within the Redis timeout (100ms) plus the call itself.
    redis_server.signal("STOP");
    for _ in 0..10 {
        let started = Instant::now();
        ok(&call(&client, "list_items", json!({})).await);
        assert!(started.elapsed() < Duration::from_millis(600), "a hung Redis held a call {:?}", started.elapsed());
    }
    let ready: Value = reqwest::get(format!("{base}/ready")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["rate_limits"]["status"], "degraded", "{ready}");
    redis_server.signal("CONT");

    // Killed: calls go on with this instance's share, counted in a metric; /ready stays 200.
    redis_server.stop();
    for _ in 0..10 {
        ok(&call(&client, "list_items", json!({})).await);
    }
    let response = reqwest::get(format!("{base}/ready")).await.unwrap();
    assert_eq!(response.status(), 200);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    let fallbacks: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("api2mcp_rate_limit_fallbacks_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(fallbacks >= 10, "{metrics}");

    // Restarted on the same port: decisions return to Redis by themselves.
    let _redis_server = RedisServer::restart(redis_port);
    let redis = redis_ready(redis_port).await;
    eventually("api2mcp makes its decisions in Redis again", Duration::from_secs(10), || {
        let (client, mut redis) = (&client, redis.clone());
        async move {
            ok(&call(client, "list_items", json!({})).await);
            !rate_keys(&mut redis).await.is_empty()
        }
    })
    .await;
    shutdown.cancel();
}

async fn ready(base: &str) -> Value {
    reqwest::get(format!("{base}/ready")).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_breaker_opens_on_5xx_fails_fast_probes_and_closes_never_on_4xx() {
    let (base_url, state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "upstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings:\n      circuit_breaker: {{min_requests: 4, failure_rate: 0.5, window: 60s, open_for: 1s, probes: 1}}\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let base = url.trim_end_matches("/mcp").to_string();
    let client = client(&url, ClientLifecycleMode::Initialize).await;

    // 4xx answers are the caller's mistakes: ten of them never open the breaker.
    state.flaky_status.store(404, Ordering::SeqCst);
    state.failures_left.store(10, Ordering::SeqCst);
    for _ in 0..10 {
        assert_eq!(error_of(&call(&client, "get_flaky", json!({})).await)["code"], "upstream_not_found");
    }
    assert_eq!(ready(&base).await["checks"]["circuit_breakers"]["drill"]["state"], "closed");

    // 503s: after the ten 404s, the tenth 503 makes 10 failures in 20 requests (50%) and opens it.
    state.flaky_status.store(503, Ordering::SeqCst);
    state.failures_left.store(1000, Ordering::SeqCst);
    for _ in 0..10 {
        assert_eq!(error_of(&call(&client, "get_flaky", json!({})).await)["code"], "upstream_unavailable");
    }
    let hits = state.hits.load(Ordering::SeqCst);
    let open = error_of(&call(&client, "get_flaky", json!({})).await);
    assert_eq!(open["category"], "EXTERNAL", "{open}");
    assert_eq!(open["code"], "circuit_open", "{open}");
    assert_eq!(open["retryable"], true, "{open}");
    assert_eq!(open["retry_after"], 1, "{open}");
    assert_eq!(state.hits.load(Ordering::SeqCst), hits, "an open breaker sends nothing");
    let body = ready(&base).await;
    assert_eq!(body["checks"]["circuit_breakers"]["drill"]["state"], "open", "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"api2mcp_circuit_state{upstream="drill"} 2"#), "{metrics}");

    // The upstream recovers: after open_for, one probe goes through and closes the breaker.
    state.failures_left.store(0, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let result = call(&client, "get_flaky", json!({})).await;
        if result.is_error == Some(false) {
            break;
        }
        assert_eq!(error_of(&result)["code"], "circuit_open");
        assert!(Instant::now() < deadline, "the breaker never half-opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready(&base).await["checks"]["circuit_breakers"]["drill"]["state"], "closed");
    ok(&call(&client, "get_flaky", json!({})).await);
    shutdown.cancel();
}

#[tokio::test]
async fn retries_follow_the_method_rules_the_idempotency_key_and_the_budget() {
    let (base_url, state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "upstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings:\n      retry: {{attempts: 3, base_delay: 1ms, max_delay: 5ms, budget: 0.5}}\n      circuit_breaker: {{enabled: false}}\n    tools:\n      createItem: {{}}\n      postFlaky:\n        settings: {{retry: {{idempotency_key: Idempotency-Key}}}}\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    // Fill the budget: each first attempt adds half a retry.
    for _ in 0..8 {
        ok(&call(&client, "list_items", json!({})).await);
    }
    let hits = |state: &Upstream| state.hits.load(Ordering::SeqCst);
    let before = hits(&state);

    // GET: two 503s, then success on the third attempt.
    state.failures_left.store(2, Ordering::SeqCst);
    ok(&call(&client, "get_flaky", json!({})).await);
    assert_eq!(hits(&state) - before, 3);

    // A plain 500 is not transient: no retry.
    let before = hits(&state);
    state.flaky_status.store(500, Ordering::SeqCst);
    state.failures_left.store(1, Ordering::SeqCst);
    assert_eq!(error_of(&call(&client, "get_flaky", json!({})).await)["code"], "upstream_error");
    assert_eq!(hits(&state) - before, 1);

    // POST with an idempotency key: retried, with the same key on every attempt.
    let before = hits(&state);
    state.flaky_status.store(503, Ordering::SeqCst);
    state.failures_left.store(1, Ordering::SeqCst);
    ok(&call(&client, "post_flaky", json!({})).await);
    assert_eq!(hits(&state) - before, 2);
    let keys = state.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1], "one key across attempts");
    assert_eq!(keys[0].len(), 32);

    // The budget: with it spent, failures come back at once.
    let before = hits(&state);
    state.failures_left.store(1000, Ordering::SeqCst);
    for _ in 0..10 {
        error_of(&call(&client, "get_flaky", json!({})).await);
    }
    let retries = hits(&state) - before - 10;
    // 8 + 1 + 1 + 1 first attempts deposited 5.5 retries, 2 + 1 were spent, then 10 more deposit 5.
    assert!(retries <= 8, "retries {retries} exceed the budget");
    shutdown.cancel();
}

#[tokio::test]
async fn a_post_without_a_key_is_never_retried_and_retry_after_must_fit_the_deadline() {
    let (base_url, state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "upstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings:\n      retry: {{attempts: 3, base_delay: 1ms, budget: 1}}\n      deadline: 1500ms\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    for _ in 0..5 {
        ok(&call(&client, "list_items", json!({})).await);
    }
    let before = state.hits.load(Ordering::SeqCst);
    state.failures_left.store(1, Ordering::SeqCst);
    error_of(&call(&client, "post_flaky", json!({})).await);
    assert_eq!(state.hits.load(Ordering::SeqCst) - before, 1, "POST without an idempotency key");

    // Retry-After 1s fits the 1.5s deadline: honoured, then success.
    let before = state.hits.load(Ordering::SeqCst);
    state.retry_after.store(1, Ordering::SeqCst);
    state.failures_left.store(1, Ordering::SeqCst);
    let started = Instant::now();
    ok(&call(&client, "get_flaky", json!({})).await);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(state.hits.load(Ordering::SeqCst) - before, 2);

    // Retry-After 5s does not fit: returned at once, with the upstream's wait for the agent.
    let before = state.hits.load(Ordering::SeqCst);
    state.retry_after.store(5, Ordering::SeqCst);
    state.failures_left.store(1, Ordering::SeqCst);
    let started = Instant::now();
    let refused = error_of(&call(&client, "get_flaky", json!({})).await);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(refused["retry_after"], 5, "{refused}");
    assert_eq!(state.hits.load(Ordering::SeqCst) - before, 1);
    shutdown.cancel();
}

#[tokio::test]
async fn a_hanging_upstream_fills_its_bulkhead_while_another_keeps_its_latency() {
    let (slow_url, slow) = upstream().await;
    let (fast_url, _fast) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "upstreams:\n  slow:\n    spec: {{spec}}\n    base_url: {slow_url}\n    tool_prefix: slow_\n    settings:\n      bulkhead: {{max_concurrent: 2, max_wait: 200ms}}\n      deadline: 20s\n  fast:\n    spec: {{spec}}\n    base_url: {fast_url}\n    tool_prefix: fast_\n    settings:\n      bulkhead: {{max_concurrent: 2, max_wait: 200ms}}\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let hanging: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let client = client(&url, ClientLifecycleMode::Initialize).await;
                call(&client, "slow_hang", json!({})).await
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while slow.hangs_started.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the hanging calls never reached the upstream");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let started = Instant::now();
    let busy = error_of(&call(&client, "slow_list_items", json!({})).await);
    assert_eq!((busy["category"].as_str(), busy["code"].as_str()), (Some("EXTERNAL"), Some("upstream_busy")), "{busy}");
    assert_eq!(busy["retryable"], true);
    assert!(started.elapsed() >= Duration::from_millis(200) && started.elapsed() < Duration::from_secs(2));
    // The other upstream is untouched by the slow one.
    for _ in 0..5 {
        let started = Instant::now();
        ok(&call(&client, "fast_list_items", json!({})).await);
        assert!(started.elapsed() < Duration::from_millis(150), "fast upstream slowed: {:?}", started.elapsed());
    }
    for task in hanging {
        task.abort();
    }
    shutdown.cancel();
}

#[tokio::test]
async fn the_deadline_ends_a_call_and_a_dropped_request_aborts_the_upstream_one() {
    let (base_url, state) = upstream().await;
    let shutdown = CancellationToken::new();
    let yaml = format!(
        "upstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings: {{timeout: 30s, deadline: 300ms}}\n"
    );
    let url = serve_mapping(&yaml, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let started = Instant::now();
    let timeout = error_of(&call(&client, "hang", json!({})).await);
    assert_eq!(timeout["code"], "upstream_timeout", "{timeout}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.hangs_dropped.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline, "the upstream request outlived the deadline");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A client that gives up (drops its HTTP request) aborts the upstream request too.
    let long = format!(
        "upstreams:\n  drill:\n    spec: {{spec}}\n    base_url: {base_url}\n    settings: {{timeout: 30s, deadline: 30s}}\n"
    );
    let url = serve_mapping(&long, shutdown.clone()).await;
    let request = reqwest::Client::new()
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .body(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"hang","arguments":{}}}"#)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(request.is_err(), "the call hangs until the client gives up");
    let deadline = Instant::now() + Duration::from_secs(5);
    while state.hangs_dropped.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "the upstream request outlived the client's");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
}
