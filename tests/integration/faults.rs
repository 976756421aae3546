//! Fault drills against real upstreams on 127.0.0.1:0: every failure an upstream can inflict ends as
//! a classified tool error (and the server keeps serving), and hostile argument values reach the
//! upstream exactly as intended, never as another path, query or header.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::ClientLifecycleMode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::serve::{call, client, text};
use crate::support::serve_prepared;

/// Serves `tests/fixtures/serve/faults.yaml` against `base_url` with a short upstream timeout.
async fn api2mcp(base_url: &str, shutdown: CancellationToken) -> String {
    let dir = crate::support::temp_dir("faults");
    let spec = std::fs::canonicalize("tests/fixtures/serve/faults.yaml").unwrap();
    let mapping = dir.path().join("api2mcp.yaml");
    std::fs::write(
        &mapping,
        format!(
            "upstreams:\n  faults:\n    spec: {}\n    base_url: {base_url}\n    settings: {{timeout: 1s, max_response_bytes: 1048576, headers: {{Authorization: Bearer upstream-secret-token}}}}\n",
            spec.display()
        ),
    )
    .unwrap();
    let prepared = api2mcp::pipeline::prepare(&api2mcp::load::ConfigSource::Mapping(mapping), &HashMap::new()).await;
    dir.close().unwrap();
    serve_prepared(prepared, Default::default(), shutdown).await
}

/// 200 MB of zeros, gzipped (about 200 KB on the wire).
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

type Seen = crate::support::Recorded<String>;

async fn upstream(seen: Seen) -> String {
    let bomb = Arc::new(gzip_bomb());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let other_origin = format!("http://localhost:{}/echo/x", address.port());
    let app = Router::new()
        .route("/hang", get(std::future::pending::<&'static str>))
        .route(
            "/leaky-error",
            // A careless upstream that echoes the request's credentials in its error body.
            get(|headers: HeaderMap| async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                (StatusCode::BAD_REQUEST, axum::Json(json!({"message": format!("bad request with {auth}")})))
            }),
        )
        .route(
            "/image",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0x89u8, b'P', b'N', b'G', 0, 1, 2, 255]) }),
        )
        .route(
            "/drip",
            get(|| async {
                // One byte every 200 ms, forever: only the total timeout ends it.
                let stream = futures_stream();
                Response::builder()
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from_stream(stream))
                    .unwrap()
            }),
        )
        .route(
            "/bomb",
            get(move || {
                let bomb = bomb.clone();
                async move {
                    Response::builder()
                        .header(header::CONTENT_TYPE, "application/json")
                        .header(header::CONTENT_ENCODING, "gzip")
                        .body(Body::from(bomb.as_ref().clone()))
                        .unwrap()
                }
            }),
        )
        .route("/redirect-away", get(move || async move { (StatusCode::FOUND, [(header::LOCATION, other_origin)]) }))
        .route("/redirect-home", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/echo/home")]) }))
        .route(
            "/limited/{how}",
            get(|Path(how): Path<String>| async move {
                let retry_after = match how.as_str() {
                    "seconds" => "30".to_string(),
                    _ => httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120)),
                };
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, retry_after)], "slow down")
            }),
        )
        .fallback(move |request: Request| {
            let seen = seen.clone();
            async move {
                let trace = request.headers().get("x-trace").map(|v| v.to_str().unwrap_or("?").to_string());
                let auth = request.headers().get("authorization").map(|v| v.to_str().unwrap_or("?").to_string());
                seen.push(format!("{} trace={trace:?} auth={auth:?}", request.uri()));
                axum::Json(json!({"ok": true})).into_response()
            }
        });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

fn futures_stream() -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    tokio_stream_like::Drip::default()
}

/// A tiny stream (no extra dependency) that yields one byte every 200 ms.
mod tokio_stream_like {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    pub struct Drip {
        sleep: Pin<Box<tokio::time::Sleep>>,
    }

    impl Default for Drip {
        fn default() -> Self {
            Drip { sleep: Box::pin(tokio::time::sleep(Duration::from_millis(200))) }
        }
    }

    impl futures_core::Stream for Drip {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.sleep = Box::pin(tokio::time::sleep(Duration::from_millis(200)));
                    Poll::Ready(Some(Ok(b" ".to_vec())))
                }
                Poll::Pending => Poll::Pending,
            }
        }
    }
    use std::future::Future as _;
}

fn error_of(result: &rmcp::model::CallToolResult) -> Value {
    assert_eq!(result.is_error, Some(true), "{}", text(result));
    result.structured_content.clone().expect("errors carry structured content")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_failure_is_classified_and_the_server_keeps_serving() {
    let seen = Seen::default();
    let base_url = upstream(seen.clone()).await;
    let shutdown = CancellationToken::new();
    let url = api2mcp(&base_url, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;

    for (tool, category, code, retryable) in [
        ("hang", "EXTERNAL", "upstream_timeout", true),
        ("drip", "EXTERNAL", "upstream_timeout", true),
        ("bomb", "EXTERNAL", "response_too_large", false),
        ("redirect_away", "EXTERNAL", "redirect_refused", false),
    ] {
        let error = error_of(&call(&client, tool, json!({})).await);
        assert_eq!(
            (error["category"].as_str(), error["code"].as_str(), error["retryable"].as_bool()),
            (Some(category), Some(code), Some(retryable)),
            "{tool}: {error}"
        );
        assert!(!error.to_string().contains("upstream-secret-token"), "{tool}: {error}");
    }

    // Upstream error bodies never echo api2mcp's upstream credentials.
    let error = error_of(&call(&client, "leaky_error", json!({})).await);
    assert_eq!(error["code"].as_str(), Some("upstream_rejected_request"));
    assert!(!error.to_string().contains("upstream-secret-token"), "{error}");
    assert!(error.to_string().contains("[redacted]"), "{error}");

    // Binary bodies come back as an embedded resource, base64.
    let result = call(&client, "image", json!({})).await;
    let resource = serde_json::to_value(&result.content[0]).unwrap();
    assert_eq!(resource["resource"]["blob"], "iVBORwABAv8=");
    assert_eq!(resource["resource"]["mimeType"], "image/png");

    // A same-origin redirect is followed.
    let result = call(&client, "redirect_home", json!({})).await;
    assert_eq!(serde_json::to_value(&result.content[0]).unwrap()["text"], r#"{"ok":true}"#);

    // Retry-After in both forms.
    let error = error_of(&call(&client, "limited", json!({"how": "seconds"})).await);
    assert_eq!((error["code"].as_str(), error["retry_after"].as_u64()), (Some("rate_limited"), Some(30)));
    let error = error_of(&call(&client, "limited", json!({"how": "date"})).await);
    let retry_after = error["retry_after"].as_u64().unwrap();
    assert!((118..=120).contains(&retry_after), "{error}");

    // Still serving after all of that.
    let result = call(&client, "echo", json!({"id": "still-here"})).await;
    assert_eq!(result.is_error, Some(false));
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn a_reset_connection_is_an_external_error() {
    // An "upstream" that accepts and closes every connection without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let shutdown = CancellationToken::new();
    let url = api2mcp(&format!("http://{address}"), shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let error = error_of(&call(&client, "echo", json!({"id": "x"})).await);
    assert_eq!(
        (error["category"].as_str(), error["code"].as_str()),
        (Some("EXTERNAL"), Some("connection_reset")),
        "{error}"
    );
    client.cancel().await.unwrap();
    shutdown.cancel();
}

/// An unresolvable host is a DNS failure, not a refused connection. The `.invalid` TLD never
/// resolves (RFC 6761) and api2mcp's resolver refuses it without asking any server.
#[tokio::test]
async fn an_unresolvable_host_is_a_dns_failure() {
    let shutdown = CancellationToken::new();
    let url = api2mcp("http://api2mcp-fault-drill.invalid:8080", shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let error = error_of(&call(&client, "echo", json!({"id": "x"})).await);
    assert_eq!(
        (error["category"].as_str(), error["code"].as_str(), error["retryable"].as_bool()),
        (Some("EXTERNAL"), Some("dns_failure"), Some(true)),
        "{error}"
    );
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn hostile_argument_values_reach_the_upstream_exactly_as_intended() {
    let seen = Seen::default();
    let base_url = upstream(seen.clone()).await;
    let shutdown = CancellationToken::new();
    let url = api2mcp(&base_url, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    // (arguments, what the upstream must receive)
    let table = [
        (json!({"id": "../admin"}), "/echo/..%2Fadmin"),
        (json!({"id": "%2e%2e"}), "/echo/%252e%252e"),
        (json!({"id": "a?admin=1"}), "/echo/a%3Fadmin%3D1"),
        (json!({"id": "a#frag"}), "/echo/a%23frag"),
        (json!({"id": "user@evil.example"}), "/echo/user%40evil.example"),
        (json!({"id": "http://evil.example/"}), "/echo/http%3A%2F%2Fevil.example%2F"),
        (json!({"id": "a b"}), "/echo/a%20b"),
        (json!({"id": "ü"}), "/echo/%C3%BC"),
        (json!({"id": "x", "q": "a&admin=true"}), "/echo/x?q=a%26admin%3Dtrue"),
        (json!({"id": "x", "q": "#+%"}), "/echo/x?q=%23%2B%25"),
    ];
    for (arguments, _) in &table {
        let result = call(&client, "echo", arguments.clone()).await;
        assert_eq!(result.is_error, Some(false), "{arguments}: {}", text(&result));
    }
    // A header value with CR/LF is refused before anything is sent, naming the argument.
    let error = error_of(&call(&client, "echo", json!({"id": "x", "X-Trace": "a\r\nX-Admin: 1"})).await);
    assert_eq!((error["category"].as_str(), error["code"].as_str()), (Some("CLIENT"), Some("invalid_arguments")));
    assert!(error.to_string().contains("X-Trace"), "{error}");
    // The upstream saw exactly the intended requests, each with api2mcp's own credentials.
    let expected: Vec<String> =
        table.iter().map(|(_, uri)| format!("{uri} trace=None auth=Some(\"Bearer upstream-secret-token\")")).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn the_http_transport_rejects_foreign_hosts_and_oversized_bodies() {
    let seen = Seen::default();
    let base_url = upstream(seen).await;
    let shutdown = CancellationToken::new();
    let url = api2mcp(&base_url, shutdown.clone()).await;
    let http = reqwest::Client::new();
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let post = |body: String| crate::support::mcp_post(&http, &url, body);
    let ok = post(list.to_string()).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    // DNS-rebinding protection: a Host that is not allowed is refused.
    let foreign = post(list.to_string()).header("host", "evil.example").send().await.unwrap();
    assert_eq!(foreign.status(), 403);
    let origin = post(list.to_string()).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(origin.status(), 403);
    // Request bodies over the limit (4 MiB) are refused before they are parsed.
    let huge =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#, "x".repeat(5 << 20));
    let too_big = post(huge).send().await.unwrap();
    assert_eq!(too_big.status(), 413);
    shutdown.cancel();
}

/// Every status row of the classification table, through the real server and client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_status_row_is_classified_end_to_end() {
    let (base_url, _) = crate::serve::upstream().await;
    let shutdown = CancellationToken::new();
    let url = crate::serve::api2mcp(&base_url, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let table = [
        (400, "CLIENT", "upstream_rejected_request", false),
        (422, "CLIENT", "upstream_rejected_request", false),
        (401, "CLIENT", "upstream_unauthorized", false),
        (403, "CLIENT", "upstream_forbidden", false),
        (404, "CLIENT", "upstream_not_found", false),
        (405, "CLIENT", "method_not_allowed", false),
        (409, "CLIENT", "conflict", false),
        (410, "CLIENT", "gone", false),
        (412, "CLIENT", "precondition_failed", false),
        (428, "CLIENT", "precondition_failed", false),
        (413, "CLIENT", "payload_too_large", false),
        (415, "SERVER", "unsupported_media_type", false),
        (429, "CLIENT", "rate_limited", true),
        (418, "CLIENT", "upstream_client_error", false),
        (500, "EXTERNAL", "upstream_error", false),
        (501, "EXTERNAL", "upstream_error", false),
        (502, "EXTERNAL", "upstream_unavailable", true),
        (503, "EXTERNAL", "upstream_unavailable", true),
        (504, "EXTERNAL", "upstream_unavailable", true),
        (599, "EXTERNAL", "upstream_error", false),
        (304, "EXTERNAL", "unexpected_status", false),
    ];
    for (status, category, code, retryable) in table {
        let error = error_of(&call(&client, "fail_with", json!({"code": status})).await);
        assert_eq!(
            (
                error["category"].as_str(),
                error["code"].as_str(),
                error["retryable"].as_bool(),
                error["http_status"].as_u64()
            ),
            (Some(category), Some(code), Some(retryable), Some(status)),
            "{status}: {error}"
        );
    }
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn tls_failures_and_missing_base_urls_are_classified() {
    // TLS spoken to a plain-HTTP loopback server: the handshake fails.
    let (plain, _) = crate::serve::upstream().await;
    let shutdown = CancellationToken::new();
    let url = crate::serve::api2mcp(&plain.replace("http://", "https://"), shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let error = error_of(&call(&client, "get_text", json!({})).await);
    assert_eq!(
        (error["category"].as_str(), error["code"].as_str()),
        (Some("EXTERNAL"), Some("tls_failure")),
        "{error}"
    );
    client.cancel().await.unwrap();

    // No base URL anywhere (the fixture spec has no servers): a SERVER error whose detail is logged, not shown.
    let source = api2mcp::load::ConfigSource::Spec { spec: "tests/fixtures/serve/openapi.yaml".into(), base_url: None };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let caller = api2mcp::call::Caller::new(Arc::new(prepared.compiled.unwrap().catalogue)).unwrap();
    let tool = caller.catalogue().tools.iter().position(|t| t.name == "get_text").unwrap();
    let outcome = caller.call(tool, serde_json::Map::new(), &Default::default()).await.unwrap_err();
    let error = api2mcp::classify::classify(&outcome, std::time::SystemTime::now(), &[]);
    assert_eq!((error.category, error.code), (api2mcp::classify::Category::Server, "misconfigured"));
    assert!(!error.message.contains("base URL"), "{}", error.message);
    shutdown.cancel();
}

/// With the concurrency cap reached, further requests are shed with 503 and `Retry-After` instead of
/// queueing; the request in flight is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_concurrency_cap_are_shed() {
    let arrived = Arc::new(tokio::sync::Notify::new());
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
    let upstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", upstream_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(upstream_listener, app).await.unwrap() });

    let source =
        api2mcp::load::ConfigSource::Spec { spec: "tests/fixtures/serve/faults.yaml".into(), base_url: Some(base_url) };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let settings = api2mcp::mcp::http::HttpSettings { max_concurrent_requests: 1, ..Default::default() };
    let shutdown = CancellationToken::new();
    let url = serve_prepared(prepared, settings, shutdown.clone()).await;

    let http = reqwest::Client::new();
    let post = |body: &'static str| crate::support::mcp_post(&http, &url, body);
    let in_flight =
        tokio::spawn(post(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"hang"}}"#).send());
    arrived.notified().await;
    let shed = post(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#).send().await.unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers().get("retry-after").unwrap(), "1");
    in_flight.abort();
    shutdown.cancel();
}

/// When the MCP client disconnects mid-call, the upstream request is dropped too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_drops_the_upstream_call() {
    struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            if let Some(sender) = self.0.take() {
                let _ = sender.send(());
            }
        }
    }
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (dropped_sender, dropped) = tokio::sync::oneshot::channel::<()>();
    let dropped_sender = Arc::new(Mutex::new(Some(dropped_sender)));
    let upstream_arrived = arrived.clone();
    let app = Router::new().route(
        "/hang",
        get(move || {
            let arrived = upstream_arrived.clone();
            let guard = Dropped(dropped_sender.lock().unwrap().take());
            async move {
                let _guard = guard;
                arrived.notify_one();
                std::future::pending::<&'static str>().await
            }
        }),
    );
    let upstream_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", upstream_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(upstream_listener, app).await.unwrap() });
    let source =
        api2mcp::load::ConfigSource::Spec { spec: "tests/fixtures/serve/faults.yaml".into(), base_url: Some(base_url) };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let shutdown = CancellationToken::new();
    let url = serve_prepared(prepared, Default::default(), shutdown.clone()).await;

    let call =
        tokio::spawn(crate::support::mcp_post(&reqwest::Client::new(), &url, crate::support::HANGING_CALL).send());
    arrived.notified().await;
    call.abort();
    // The upstream handler future is dropped once api2mcp gives up the upstream request; the
    // default upstream timeout (30 s) is far longer than this bound.
    tokio::time::timeout(Duration::from_secs(10), dropped).await.expect("the upstream call was dropped").unwrap();
    shutdown.cancel();
}
