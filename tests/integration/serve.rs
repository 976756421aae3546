//! The core loop over real parts: an axum upstream on 127.0.0.1:0, api2mcp's Streamable HTTP server
//! on 127.0.0.1:0, and rmcp's client in both protocol eras (2026-07-28 `server/discover` and the
//! 2025-11-25 `initialize` handshake) listing and calling tools.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// What the upstream received, for the assertions.
pub type Seen = crate::support::Recorded<String>;

pub async fn upstream() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/pets",
            get(|State(seen): State<Seen>, RawQuery(query): RawQuery| async move {
                seen.push(format!("GET /pets?{}", query.unwrap_or_default()));
                axum::Json(json!([{"id": 1, "name": "Rex"}, {"id": 2, "name": "Tom"}]))
            })
            .post(|State(seen): State<Seen>, headers: HeaderMap, body: String| async move {
                let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                seen.push(format!("POST /pets {body} x-request-id={request_id}"));
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"id": 3, "created": serde_json::from_str::<Value>(&body).unwrap()})),
                )
            }),
        )
        .route(
            "/pets/{id}",
            get(|State(seen): State<Seen>, Path(id): Path<String>, headers: HeaderMap| async move {
                let cookie = headers.get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                seen.push(format!("GET /pets/{id} cookie={cookie}"));
                if id == "404" {
                    return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "No pet with id 404"})));
                }
                (StatusCode::OK, axum::Json(json!({"id": id, "name": "Rex"})))
            }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                let mut headers = HeaderMap::new();
                headers.insert("retry-after", "7".parse().unwrap());
                (StatusCode::from_u16(code).unwrap(), headers, "upstream says no")
            }),
        )
        .route("/text", get(|| async { "plain words" }))
        .route(
            "/forms",
            axum::routing::post(|State(seen): State<Seen>, headers: HeaderMap, body: String| async move {
                let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("-").to_string();
                seen.push(format!("POST /forms {content_type} {body}"));
                "ok"
            }),
        )
        .route(
            "/upload",
            axum::routing::post(|State(seen): State<Seen>, headers: HeaderMap, body: axum::body::Bytes| async move {
                let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("-");
                let body = String::from_utf8_lossy(&body);
                let has = |needle: &str| body.contains(needle);
                seen.push(format!(
                    "POST /upload multipart={} caption={} file={}",
                    content_type.starts_with("multipart/form-data; boundary="),
                    has("name=\"caption\"") && has("a cat"),
                    has("name=\"file\"") && has("hello file"),
                ));
                "ok"
            }),
        )
        .with_state(seen.clone());
    let base = crate::support::serve_router(app).await;
    (base, seen)
}

/// Compiles the serve fixture against `base_url` and serves it; returns the MCP endpoint URL.
pub async fn api2mcp(base_url: &str, shutdown: CancellationToken) -> String {
    let source = api2mcp::load::ConfigSource::Spec {
        spec: "tests/fixtures/serve/openapi.yaml".to_string(),
        base_url: Some(base_url.to_string()),
    };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    crate::support::serve_prepared(prepared, Default::default(), shutdown).await
}

pub async fn client(url: &str, lifecycle: ClientLifecycleMode) -> RunningService<RoleClient, ClientConfig> {
    let transport = StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(url));
    ClientConfig::default().serve_with_lifecycle(transport, lifecycle).await.expect("the MCP client connects")
}

pub async fn call(client: &RunningService<RoleClient, ClientConfig>, tool: &str, arguments: Value) -> CallToolResult {
    let arguments = arguments.as_object().cloned().unwrap();
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .expect("tools/call answers")
}

pub fn text(result: &CallToolResult) -> String {
    result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
}

async fn exercise(lifecycle: ClientLifecycleMode) {
    let (base_url, seen) = upstream().await;
    let shutdown = CancellationToken::new();
    let url = api2mcp(&base_url, shutdown.clone()).await;
    let client = client(&url, lifecycle).await;

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["list_pets", "create_pet", "get_pet", "fail_with", "get_text", "submit_form", "upload"]);

    // Query parameters, with an array in form style without explode.
    let result = call(&client, "list_pets", json!({"limit": 2, "tags": ["a b", "c&d"]})).await;
    assert_eq!(result.is_error, Some(false));
    assert_eq!(text(&result), r#"[{"id":1,"name":"Rex"},{"id":2,"name":"Tom"}]"#);

    // A flattened JSON body and a header parameter.
    let result = call(&client, "create_pet", json!({"name": "Kit", "X-Request-Id": "r-1"})).await;
    assert_eq!(text(&result), r#"{"id":3,"created":{"name":"Kit"}}"#);
    // No outputSchema advertised: the text alone, not the same value again as structuredContent.
    assert_eq!(result.structured_content, None);

    // Path (a hostile value stays in one segment) and cookie parameters.
    let result = call(&client, "get_pet", json!({"petId": "../admin", "session": "s 1"})).await;
    assert_eq!(text(&result), r#"{"id":"../admin","name":"Rex"}"#);

    // Text bodies come back as text.
    assert_eq!(text(&call(&client, "get_text", json!({})).await), "plain words");

    // Form and multipart bodies; a binary argument travels as base64 and is sent as file bytes.
    assert_eq!(
        call(&client, "submit_form", json!({"email": "a@b.c", "tags": ["x", "y z"]})).await.is_error,
        Some(false)
    );
    let file = "aGVsbG8gZmlsZQ=="; // "hello file"
    assert_eq!(call(&client, "upload", json!({"caption": "a cat", "file": file})).await.is_error, Some(false));

    assert_eq!(
        *seen.lock().unwrap(),
        [
            "GET /pets?limit=2&tags=a%20b,c%26d",
            r#"POST /pets {"name":"Kit"} x-request-id=r-1"#,
            "GET /pets/../admin cookie=session=s%201",
            "POST /forms application/x-www-form-urlencoded email=a%40b.c&tags=x&tags=y+z",
            "POST /upload multipart=true caption=true file=true",
        ]
    );

    // Errors are results with isError and a structured, classified error.
    let result = call(&client, "get_pet", json!({"petId": "404"})).await;
    assert_eq!(result.is_error, Some(true));
    let error = result.structured_content.clone().unwrap();
    assert_eq!((error["category"].as_str(), error["code"].as_str()), (Some("CLIENT"), Some("upstream_not_found")));
    assert_eq!(error["http_status"], 404);
    assert!(text(&result).contains("No pet with id 404"), "{}", text(&result));

    let result = call(&client, "fail_with", json!({"code": 503})).await;
    let error = result.structured_content.unwrap();
    assert_eq!(
        (error["category"].as_str(), error["retryable"].as_bool(), error["retry_after"].as_u64()),
        (Some("EXTERNAL"), Some(true), Some(7))
    );

    let result = call(&client, "list_pets", json!({"limit": "two", "colour": "red"})).await;
    let error = result.structured_content.unwrap();
    assert_eq!((error["category"].as_str(), error["code"].as_str()), (Some("CLIENT"), Some("invalid_arguments")));
    let fields: Vec<&str> = error["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["colour", "limit"]);

    // An unknown tool is a protocol error, not a tool result.
    let unknown = client.call_tool(CallToolRequestParams::new("no_such_tool")).await;
    assert!(unknown.is_err());

    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn stateless_2026_era_lists_and_calls_tools() {
    exercise(ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }).await;
}

#[tokio::test]
async fn initialize_era_lists_and_calls_tools() {
    exercise(ClientLifecycleMode::Initialize).await;
}

#[tokio::test]
async fn an_upstream_that_is_down_is_an_external_error() {
    // A port held without listening: connections to it are refused, and no one else can take it.
    let closed = crate::support::ClosedPort::new();
    let address = closed.address();
    let shutdown = CancellationToken::new();
    let url = api2mcp(&format!("http://{address}"), shutdown.clone()).await;
    let client = ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(url)))
        .await
        .unwrap();
    let result = call(&client, "get_text", json!({})).await;
    let error = result.structured_content.unwrap();
    assert_eq!((error["category"].as_str(), error["code"].as_str()), (Some("EXTERNAL"), Some("connection_refused")));
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn stdio_transport_lists_and_calls_tools() {
    let (base_url, seen) = upstream().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command.args(["stdio", "--spec", "tests/fixtures/serve/openapi.yaml", "--base-url", &base_url]);
    let transport = rmcp::transport::TokioChildProcess::new(command).expect("api2mcp stdio starts");
    let client = ClientConfig::default().serve(transport).await.expect("the stdio handshake completes");
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 7);
    let result = call(&client, "get_pet", json!({"petId": "7"})).await;
    assert_eq!(text(&result), r#"{"id":"7","name":"Rex"}"#);
    assert_eq!(*seen.lock().unwrap(), ["GET /pets/7 cookie=-"]);
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_catalogue_is_listed_in_pages() {
    // GitHub's description: 1,186 tools, more than one page of tools/list.
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/specs/github-api.github.com.v3.json");
    let source =
        api2mcp::load::ConfigSource::Spec { spec: spec.to_string(), base_url: Some("http://127.0.0.1:9".into()) };
    let mut prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    // Zero-config serves a catalogue this large through discovery; this test lists every tool.
    let compiled = prepared.compiled.as_mut().unwrap();
    compiled.catalogue.views = vec![api2mcp::catalogue::views::View::all_direct(compiled.catalogue.tools.len())];
    let expected: Vec<String> = prepared.catalogue().unwrap().tools.iter().map(|t| t.name.clone()).collect();
    let shutdown = CancellationToken::new();
    let url = crate::support::serve_prepared(prepared, Default::default(), shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;
    let first = client.list_tools(None).await.unwrap();
    assert_eq!(first.tools.len(), api2mcp::mcp::TOOLS_PAGE_SIZE);
    assert!(first.next_cursor.is_some());
    let all: Vec<String> = client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect();
    assert_eq!(all, expected);
    client.cancel().await.unwrap();
    shutdown.cancel();
}

/// A stdio client that keeps the log messages the server sends it.
#[derive(Clone, Default)]
struct LogCollector(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

#[allow(deprecated)] // logging is deprecated from 2026-07-28 on (SEP-2577); stdio clients of 2025 use it
impl rmcp::ClientHandler for LogCollector {
    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.0.lock().unwrap().push(serde_json::to_value(params).unwrap());
    }

    fn get_info(&self) -> ClientConfig {
        // Logging exists up to the 2025 era.
        let mut config = ClientConfig::default();
        config.protocol_version = ProtocolVersion::V_2025_11_25;
        config
    }
}

#[tokio::test]
#[allow(deprecated)] // logging/setLevel: see LogCollector
async fn stdio_reports_failed_calls_at_the_level_the_client_set() {
    use rmcp::model::{LoggingLevel, SetLevelRequestParams};
    let (base_url, _) = upstream().await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command.args(["stdio", "--spec", "tests/fixtures/serve/openapi.yaml", "--base-url", &base_url]);
    let transport = rmcp::transport::TokioChildProcess::new(command).expect("api2mcp stdio starts");
    let logs = LogCollector::default();
    let client = logs.clone().serve(transport).await.expect("the stdio handshake completes");
    assert!(client.peer_info().unwrap().capabilities.logging.is_some());

    // No level set: a failure is not logged. The result arrives after any log message of its call,
    // so the collector is complete when `call` returns.
    assert_eq!(log_call(&client, "fail_with", json!({"code": 503})).await.is_error, Some(true));
    assert!(logs.0.lock().unwrap().is_empty());

    // At `error`: an upstream failure is logged, a client mistake (warning) and a success are not.
    client.set_level(SetLevelRequestParams::new(LoggingLevel::Error)).await.unwrap();
    assert_eq!(log_call(&client, "fail_with", json!({"code": 503})).await.is_error, Some(true));
    assert_eq!(log_call(&client, "get_pet", json!({})).await.is_error, Some(true));
    assert_eq!(log_call(&client, "get_pet", json!({"petId": "7"})).await.is_error, Some(false));
    {
        let logged = logs.0.lock().unwrap();
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert_eq!((logged[0]["level"].as_str(), logged[0]["logger"].as_str()), (Some("error"), Some("api2mcp")));
        assert_eq!(logged[0]["data"]["tool"], "fail_with");
        assert!(logged[0]["data"]["error"].as_str().unwrap().starts_with("EXTERNAL error"), "{logged:?}");
    }

    // At `warning`: the client mistake is logged too.
    client.set_level(SetLevelRequestParams::new(LoggingLevel::Warning)).await.unwrap();
    assert_eq!(log_call(&client, "get_pet", json!({})).await.is_error, Some(true));
    let logged = logs.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[1]["level"], "warning");
    assert!(logged[1]["data"]["error"].as_str().unwrap().starts_with("CLIENT error"), "{logged:?}");
    client.cancel().await.unwrap();
}

async fn log_call(client: &RunningService<RoleClient, LogCollector>, tool: &str, arguments: Value) -> CallToolResult {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments.as_object().cloned().unwrap());
    client.call_tool(params).await.unwrap()
}
