//! Output shaping and pagination, end to end through the library's call path (`McpServer::call_once`,
//! the `CallToolResult` exactly as a client receives it) against a real paginating HTTP upstream.
//!
//! - `fixture_case::*`: one test per folder in `tests/fixtures/shape/` ("config + upstream + arguments →
//!   tool results"), snapshotted; every `structuredContent` is validated against the advertised
//!   `outputSchema`, and walks that follow `next_cursor` must return every record exactly once.
//! - `ten_thousand_records_*`: every pagination style, both modes, over 10,000 records.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use api2mcp::load::ConfigSource;
use api2mcp::mcp::McpServer;
use api2mcp::pipeline::prepare;

/// The upstream: `records` numbered 1..=n, served in every paging style real APIs use.
struct Records {
    count: usize,
    base: String,
    canned: Value,
    requests: AtomicUsize,
}

fn record(number: usize) -> Value {
    json!({
        "id": format!("rec_{number:05}"),
        "number": number,
        "title": format!("Record {number}"),
        "state": if number.is_multiple_of(3) { "closed" } else { "open" },
        "body": if number.is_multiple_of(2) { Value::Null } else { json!("") },
        "user": {"login": format!("user{}", number % 7), "id": 1000 + number % 7},
        "labels": if number.is_multiple_of(4) { json!([{"name": "bug", "color": "d73a4a"}]) } else { json!([]) },
    })
}

type Params = Query<HashMap<String, String>>;

fn number(params: &HashMap<String, String>, name: &str, default: usize) -> usize {
    params.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl Records {
    /// Records `start+1 ..= start+size`, clipped to the set.
    fn slice(&self, start: usize, size: usize) -> Vec<Value> {
        (start + 1..=(start + size).min(self.count)).map(record).collect()
    }
}

async fn by_cursor(State(r): State<Arc<Records>>, Query(q): Params) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    // An opaque cursor, as real APIs issue them: here the hex of the next start, reversed.
    let start = q.get("cursor").map_or(0, |c| usize::from_str_radix(&c.chars().rev().collect::<String>(), 16).unwrap());
    let limit = number(&q, "limit", 10);
    let data = r.slice(start, limit);
    let next = (start + limit < r.count).then(|| format!("{:x}", start + limit).chars().rev().collect::<String>());
    axum::Json(json!({"data": data, "next_cursor": next})).into_response()
}

async fn stripe(State(r): State<Arc<Records>>, Query(q): Params) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let start = q.get("starting_after").map_or(0, |id| id.trim_start_matches("rec_").parse::<usize>().unwrap());
    let limit = number(&q, "limit", 10);
    let data = r.slice(start, limit);
    axum::Json(json!({"object": "list", "data": data, "has_more": start + limit < r.count})).into_response()
}

async fn by_offset(State(r): State<Arc<Records>>, Query(q): Params) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let data = r.slice(number(&q, "offset", 0), number(&q, "limit", 10));
    axum::Json(json!({"items": data, "total": r.count})).into_response()
}

async fn by_page(State(r): State<Arc<Records>>, Query(q): Params) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let (page, per_page) = (number(&q, "page", 1), number(&q, "per_page", 10));
    axum::Json(r.slice((page.max(1) - 1) * per_page, per_page)).into_response()
}

/// GitHub style: the body is the array; `Link` holds absolute next/last URLs.
async fn by_link(State(r): State<Arc<Records>>, Query(q): Params) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let (page, per_page) = (number(&q, "page", 1), number(&q, "per_page", 10));
    let mut headers = HeaderMap::new();
    let last = r.count.div_ceil(per_page).max(1);
    let state = q.get("state").map(|s| format!("&state={s}")).unwrap_or_default();
    let mut links = Vec::new();
    if page < last {
        links.push(format!(r#"<{}/link?page={}&per_page={per_page}{state}>; rel="next""#, r.base, page + 1));
    }
    links.push(format!(r#"<{}/link?page={last}&per_page={per_page}{state}>; rel="last""#, r.base));
    headers.insert("link", links.join(", ").parse().unwrap());
    (headers, axum::Json(r.slice((page - 1) * per_page, per_page))).into_response()
}

/// A relative next URL in the body; `foreign=true` points it at another origin, which must not be followed.
async fn by_next_url(State(r): State<Arc<Records>>, Query(q): Params) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let (page, size) = (number(&q, "page", 1), number(&q, "size", 10));
    let foreign = q.get("foreign").is_some_and(|f| f == "true");
    let next = (page * size < r.count).then(|| {
        if foreign {
            format!("http://other.invalid/next?page={}&size={size}", page + 1)
        } else {
            format!("/next?page={}&size={size}", page + 1)
        }
    });
    axum::Json(json!({"results": r.slice((page - 1) * size, size), "next": next})).into_response()
}

async fn serve_canned(State(r): State<Arc<Records>>) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    axum::Json(r.canned.clone()).into_response()
}

/// Starts the upstream on 127.0.0.1:0; returns its base URL and state.
async fn start_upstream(count: usize, canned: Value) -> (String, Arc<Records>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let records = Arc::new(Records { count, base: base.clone(), canned, requests: AtomicUsize::new(0) });
    let app = axum::Router::new()
        .route("/canned", get(serve_canned))
        .route("/cursor", get(by_cursor))
        .route("/stripe", get(stripe))
        .route("/offset", get(by_offset))
        .route("/page", get(by_page))
        .route("/link", get(by_link))
        .route("/next", get(by_next_url))
        .with_state(records.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, records)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shape")
}

/// A server for one tool of the records spec with the given tool settings (YAML/JSON value).
async fn server_for(base: &str, operation: &str, tool: &Value, defaults: Option<&Value>) -> McpServer {
    // Removed when this returns: only `prepare` reads the mapping file.
    let dir = crate::support::temp_dir("shaping");
    let mut mapping = json!({
        "server": {"cursor_secret": "test secret"},
        "upstreams": {"records": {
            "spec": fixtures().join("openapi.yaml").display().to_string(),
            "base_url": "${UPSTREAM}",
            "include": [{"operation_id": operation}],
            "tools": {operation: tool},
        }},
    });
    // These cases show the shaped value too: structuredContent for every JSON result, schema or not.
    mapping["defaults"] = json!({"structured_content": "always"});
    if let Some(Value::Object(defaults)) = defaults {
        for (key, value) in defaults {
            mapping["defaults"][key] = value.clone();
        }
    }
    // JSON is YAML: the mapping file is written as JSON.
    let path = dir.path().join("api2mcp.yaml");
    std::fs::write(&path, serde_json::to_string_pretty(&mapping).unwrap()).unwrap();
    let env: HashMap<String, String> = HashMap::from([("UPSTREAM".to_string(), base.to_string())]);
    let prepared = prepare(&ConfigSource::Mapping(path), &env).await;
    assert!(!prepared.diagnostics.has_errors(), "{}", crate::support::rendered_diagnostics(&prepared));
    let catalogue = Arc::new(prepared.compiled.unwrap().catalogue);
    let caller = Arc::new(api2mcp::call::Caller::new(catalogue).unwrap());
    McpServer::new(caller).unwrap()
}

async fn call(server: &McpServer, tool: &str, arguments: Value) -> Value {
    let Value::Object(arguments) = arguments else { panic!("arguments must be an object") };
    server.call_once(tool, arguments).await.unwrap()
}

fn next_cursor(result: &Value) -> Option<String> {
    result["structuredContent"]["next_cursor"].as_str().map(str::to_string)
}

/// Calls, then follows `next_cursor` until there is none (at most `limit` calls); returns every result.
async fn walk(server: &McpServer, tool: &str, arguments: Value, limit: usize) -> Vec<Value> {
    let mut results = vec![call(server, tool, arguments).await];
    while let Some(cursor) = next_cursor(results.last().unwrap()) {
        assert!(results.len() < limit, "{tool}: still paging after {limit} calls");
        results.push(call(server, tool, json!({"cursor": cursor})).await);
    }
    results
}

fn numbers(results: &[Value]) -> Vec<u64> {
    results
        .iter()
        .flat_map(|result| {
            assert_ne!(result["isError"], json!(true), "{result}");
            result["structuredContent"]["items"].as_array().cloned().unwrap_or_default()
        })
        .map(|item| item["number"].as_u64().expect("every item keeps its number"))
        .collect()
}

/// The tool's `tools/list` entry.
fn listed(server: &McpServer, tool: &str) -> Value {
    server.tools().into_iter().find(|t| t["name"] == tool).expect("the tool is listed")
}

/// Structured content must conform to the advertised output schema (the MCP spec's rule).
fn assert_conforms(tool: &Value, result: &Value) {
    let Some(schema) = tool.get("outputSchema") else { return };
    let structured = result.get("structuredContent").expect("a tool with an outputSchema returns structuredContent");
    let validator = jsonschema::validator_for(schema).expect("the output schema is valid JSON Schema");
    let errors: Vec<String> =
        validator.iter_errors(structured).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "structuredContent does not match outputSchema: {errors:?}\n{structured}");
}

/// Cursors are signed with an expiry: replace them so that snapshots are stable.
fn stable(mut result: Value, cursors: &mut Vec<String>) -> Value {
    if let Some(cursor) = next_cursor(&result)
        && !cursors.contains(&cursor)
    {
        cursors.push(cursor);
    }
    fn walk_strings(value: &mut Value, cursors: &[String]) {
        match value {
            Value::String(text) => {
                for (index, cursor) in cursors.iter().enumerate() {
                    *text = text.replace(cursor.as_str(), &format!("<cursor {}>", index + 1));
                }
            }
            Value::Array(values) => values.iter_mut().for_each(|v| walk_strings(v, cursors)),
            Value::Object(map) => map.values_mut().for_each(|v| walk_strings(v, cursors)),
            _ => {}
        }
    }
    walk_strings(&mut result, cursors);
    result
}

/// One `#[tokio::test]` per folder of `tests/fixtures/shape/`, so every failing case shows, not only the
/// first; `every_shaping_fixture_has_a_test` fails when a folder is not listed here.
macro_rules! shaping_cases {
    ($($test:ident => $folder:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                run_case($folder).await;
            }
        )*
        const CASES: &[&str] = &[$($folder),*];
    };
}

mod fixture_case {
    use super::run_case;

    shaping_cases! {
        agent_budget_mid_page => "agent-budget-mid-page",
        cursor_agent => "cursor-agent",
        cursor_collect_max_pages => "cursor-collect-max-pages",
        drop_empty_default => "drop-empty-default",
        exclude_rename => "exclude-rename",
        global_defaults => "global-defaults",
        item_too_large => "item-too-large",
        keep_empty => "keep-empty",
        link_collect_table => "link-collect-table",
        link_header_agent => "link-header-agent",
        max_items => "max-items",
        max_tokens => "max-tokens",
        next_url_agent => "next-url-agent",
        next_url_foreign_origin => "next-url-foreign-origin",
        offset_agent => "offset-agent",
        offset_collect_max_items => "offset-collect-max-items",
        page_agent => "page-agent",
        page_collect_budget => "page-collect-budget",
        select_fields => "select-fields",
        singular_select => "singular-select",
        stripe_agent => "stripe-agent",
        table_format => "table-format",
        template_format => "template-format",
    }

    #[test]
    fn every_shaping_fixture_has_a_test() {
        let mut folders: Vec<String> = std::fs::read_dir(super::fixtures())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.join("case.yaml").exists())
            .map(|path| path.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        folders.sort();
        assert_eq!(folders, CASES, "list each folder of tests/fixtures/shape in `shaping_cases!`");
    }
}

/// One case folder: `case.yaml` with `operation`, `tool` (its mapping entry), optional `defaults`,
/// `records` (upstream size), optional `canned` (the `/canned` response), and `calls`: a list of
/// `{arguments, follow?: true, cursor?: "tampered"}`; optional `expect_all: true` checks that the walk
/// returned records 1..=records exactly once.
/// Snapshotted as `shape-<name>`.
async fn run_case(name: &str) {
    let dir = fixtures().join(name);
    let text = std::fs::read_to_string(dir.join("case.yaml")).unwrap();
    let case: Value = yaml_to_json(&text);
    let operation = case["operation"].as_str().unwrap();
    let (base, upstream) = start_upstream(case["records"].as_u64().unwrap_or(0) as usize, case["canned"].clone()).await;
    let server = server_for(&base, operation, &case["tool"], case.get("defaults")).await;
    let tool_name = server.tools()[0]["name"].as_str().unwrap().to_string();
    let tool = listed(&server, &tool_name);
    let mut out = format!("== tools/list entry\n{}\n", serde_json::to_string_pretty(&tool).unwrap());
    let mut cursors = Vec::new();
    let mut all_results = Vec::new();
    for step in case["calls"].as_array().expect("calls") {
        let arguments = step.get("arguments").cloned().unwrap_or(json!({}));
        let results = if step["follow"] == json!(true) {
            walk(&server, &tool_name, arguments.clone(), 50).await
        } else if step["cursor"] == json!("tampered") {
            let first = all_results.iter().rev().find_map(next_cursor).expect("an earlier call gave a cursor");
            let tampered = format!("x{}", &first[1..]);
            vec![call(&server, &tool_name, json!({"cursor": tampered})).await]
        } else {
            vec![call(&server, &tool_name, arguments.clone()).await]
        };
        for result in &results {
            if result["isError"] != json!(true) {
                assert_conforms(&tool, result);
            }
        }
        if case["expect_all"] == json!(true) && step["follow"] == json!(true) {
            let got = numbers(&results);
            let expected: Vec<u64> = (1..=case["records"].as_u64().unwrap()).collect();
            assert_eq!(got, expected, "{name}: the walk returns every record exactly once, in order");
        }
        out.push_str(&format!("== call {}\n", serde_json::to_string(&arguments).unwrap()));
        for result in results {
            all_results.push(result.clone());
            let result = stable(result, &mut cursors);
            out.push_str(&serde_json::to_string_pretty(&result).unwrap());
            out.push('\n');
        }
    }
    out.push_str(&format!("== upstream requests: {}\n", upstream.requests.load(Ordering::Relaxed)));
    insta::assert_snapshot!(format!("shape-{name}"), out);
}

fn yaml_to_json(text: &str) -> Value {
    api2mcp::load::yaml::parse(text, false).expect("case.yaml is valid YAML").0
}

/// Every style in both modes over 10,000 records: collected mode returns each record exactly once up to
/// its limits, and agent mode walks the whole set with cursors.
#[tokio::test]
async fn ten_thousand_records_every_style_both_modes() {
    const COUNT: u64 = 10_000;
    let (base, upstream) = start_upstream(COUNT as usize, Value::Null).await;
    let styles = [
        (
            "listByCursor",
            json!({"style": "cursor", "cursor_param": "cursor", "next_cursor": "$.next_cursor", "limit_param": "limit", "items": "$.data"}),
        ),
        (
            "listStripeStyle",
            json!({"style": "cursor", "cursor_param": "starting_after", "next_cursor": "$.data[-1].id", "has_more": "$.has_more", "limit_param": "limit"}),
        ),
        (
            "listByOffset",
            json!({"style": "offset", "offset_param": "offset", "limit_param": "limit", "items": "$.items"}),
        ),
        ("listByPage", json!({"style": "page", "page_param": "page", "limit_param": "per_page"})),
        ("listByLink", json!({"style": "link_header", "limit_param": "per_page"})),
        (
            "listByNextUrl",
            json!({"style": "next_url", "next_url": "$.next", "limit_param": "size", "items": "$.results"}),
        ),
    ];
    let all: Vec<u64> = (1..=COUNT).collect();
    for (operation, pagination) in styles {
        // Collected: everything in one call.
        let mut collect = pagination.clone();
        collect["mode"] = json!("collect");
        collect["page_size"] = json!(100);
        collect["max_pages"] = json!(1000);
        // All 10,000 records in one result: a budget far above the default one.
        let everything = json!({"pagination": collect, "output": {"max_tokens": 1_000_000}});
        let server = server_for(&base, operation, &everything, None).await;
        let name = server.tools()[0]["name"].as_str().unwrap().to_string();
        let before = upstream.requests.load(Ordering::Relaxed);
        let result = call(&server, &name, json!({})).await;
        assert_eq!(numbers(std::slice::from_ref(&result)), all, "{operation}: collect returns every record once");
        assert_eq!(next_cursor(&result), None, "{operation}: nothing left");
        let requests = upstream.requests.load(Ordering::Relaxed) - before;
        assert!((100..=101).contains(&requests), "{operation}: {requests} requests for 100 pages");

        // Collected up to max_items, cut inside a page, then continued with the cursor: still exactly once.
        let mut limited = collect.clone();
        limited["max_items"] = json!(2_550);
        let server =
            server_for(&base, operation, &json!({"pagination": limited, "output": {"max_tokens": 1_000_000}}), None)
                .await;
        let results = walk(&server, &name, json!({}), 10).await;
        assert_eq!(results.len(), 4, "{operation}: 2,550 + 2,550 + 2,550 + 2,350");
        assert!(results[0]["content"][0]["text"].as_str().unwrap().contains("stopped at 2550 items (max_items)"));
        assert_eq!(numbers(&results), all, "{operation}: limited collect + cursors return every record once");

        // Agent-driven: one page per call, walked with cursors.
        let mut agent = pagination.clone();
        agent["page_size"] = json!(250);
        let server = server_for(&base, operation, &json!({"pagination": agent}), None).await;
        let results = walk(&server, &name, json!({}), 100).await;
        // Offset and page styles cannot know that a full last page is the last: one more call returns none.
        let empty_end = results.len() == 41 && numbers(&results[40..]).is_empty();
        assert!(results.len() == 40 || empty_end, "{operation}: 40 pages of 250, not {}", results.len());
        assert_eq!(numbers(&results), all, "{operation}: the agent's walk sees every record once");
        let distinct: HashSet<u64> = numbers(&results).into_iter().collect();
        assert_eq!(distinct.len(), COUNT as usize);
    }
}

/// A token budget in agent mode cuts inside a page; the cursor remembers where, so the walk still sees
/// every record once, and no result exceeds the budget.
#[tokio::test]
async fn budgets_cut_pages_without_losing_records() {
    let (base, _) = start_upstream(1_000, Value::Null).await;
    let tool = json!({
        "pagination": {"style": "offset", "offset_param": "offset", "limit_param": "limit", "page_size": 100},
        "output": {"fields": ["number", "title"], "max_tokens": 500},
    });
    let server = server_for(&base, "listByOffset", &tool, None).await;
    let results = walk(&server, "list_by_offset", json!({}), 200).await;
    assert!(results.len() > 10, "a 500-token budget needs many calls for 1,000 records");
    assert_eq!(numbers(&results), (1..=1000).collect::<Vec<_>>());
    for result in &results {
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.len().div_ceil(4) <= 500, "a result over budget: {} tokens", text.len().div_ceil(4));
    }
}

/// Cursors are bound to their tool: one tool's cursor does not open another's pages.
#[tokio::test]
async fn a_cursor_does_not_cross_tools() {
    let (base, upstream) = start_upstream(50, Value::Null).await;
    let pagination =
        json!({"pagination": {"style": "offset", "offset_param": "offset", "limit_param": "limit", "page_size": 10}});
    let offset = server_for(&base, "listByOffset", &pagination, None).await;
    let page =
        json!({"pagination": {"style": "page", "page_param": "page", "limit_param": "per_page", "page_size": 10}});
    let pages = server_for(&base, "listByPage", &page, None).await;
    let first = call(&offset, "list_by_offset", json!({})).await;
    let cursor = next_cursor(&first).unwrap();
    let before = upstream.requests.load(Ordering::Relaxed);
    let result = call(&pages, "list_by_page", json!({"cursor": cursor})).await;
    assert_eq!(result["isError"], json!(true));
    assert_eq!(result["structuredContent"]["category"], "CLIENT");
    assert!(result["content"][0]["text"].as_str().unwrap().contains("was not issued by this tool"), "{result}");
    assert_eq!(upstream.requests.load(Ordering::Relaxed), before, "a refused cursor sends nothing upstream");
}

/// Records the progress notifications a client receives.
#[derive(Clone)]
struct ProgressRecorder(tokio::sync::mpsc::UnboundedSender<rmcp::model::ProgressNotificationParam>);

impl rmcp::ClientHandler for ProgressRecorder {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

/// Collecting pages over Streamable HTTP sends `notifications/progress` (one per page) before the result,
/// when the client asked for progress; both protocol eras.
#[tokio::test]
async fn collecting_reports_progress_to_clients_that_ask() {
    use rmcp::model::{CallToolRequestParams, NumberOrString, ProgressToken, ProtocolVersion, RequestMetaObject};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    use rmcp::{ClientLifecycleMode, ClientServiceExt};

    let (base, _) = start_upstream(30, Value::Null).await;
    let tool = json!({"pagination": {"style": "page", "mode": "collect", "page_param": "page", "limit_param": "per_page", "page_size": 10}});
    let server = server_for(&base, "listByPage", &tool, None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let settings = api2mcp::mcp::http::HttpSettings::default();
    let stop = shutdown.clone();
    tokio::spawn(async move { api2mcp::mcp::http::serve(listener, server, &settings, stop).await.unwrap() });

    for lifecycle in [
        ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] },
        ClientLifecycleMode::Initialize,
    ] {
        let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
        let transport =
            StreamableHttpClientTransport::from_config(StreamableHttpClientTransportConfig::with_uri(url.as_str()));
        let client = ProgressRecorder(sender).serve_with_lifecycle(transport, lifecycle).await.unwrap();
        let mut meta = RequestMetaObject::default();
        meta.set_progress_token(ProgressToken(NumberOrString::Number(7)));
        let mut params = CallToolRequestParams::new("list_by_page");
        params.meta = Some(meta);
        let result = client.call_tool(params).await.unwrap();
        let items = result.structured_content.unwrap()["items"].as_array().unwrap().len();
        assert_eq!(items, 30);
        let mut pages = Vec::new();
        let mut tokens = HashSet::new();
        while let Ok(progress) = received.try_recv() {
            // rmcp's client puts its own token on the request; every notification carries that one.
            tokens.insert(format!("{:?}", progress.progress_token));
            assert_eq!(progress.total, Some(10.0), "max_pages is the total");
            pages.push(progress.progress);
        }
        // Three full pages and the empty one that ends the walk, each reported before the result.
        assert_eq!(pages, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(tokens.len(), 1);
        client.cancel().await.unwrap();
    }
    shutdown.cancel();
}

#[path = "../../bench/token_data.rs"]
mod token_data;

/// The example mappings keep what an agent asked for at least 80% cheaper than the raw responses, and
/// keep it: every issue's number, title and author, every customer's id and email.
#[tokio::test]
async fn example_mappings_save_at_least_80_percent_of_tokens() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let measured = token_data::measure(&examples).await;
    assert_eq!(measured.len(), 2);
    for m in &measured {
        assert!(
            m.saving() >= 0.80,
            "{}: {} → {} tokens ({:.1}%)",
            m.name,
            m.raw_tokens(),
            m.shaped_tokens(),
            m.saving() * 100.0
        );
    }
    let issues = token_data::github_issues();
    for issue in issues.as_array().unwrap() {
        let number = issue["number"].to_string();
        assert!(measured[0].shaped_text.contains(&format!("\"number\":{number}")), "issue {number} is kept");
        assert!(measured[0].shaped_text.contains(issue["user"]["login"].as_str().unwrap()));
    }
    assert!(measured[0].shaped_text.contains("\"next_cursor\":\""), "the Link header gives a cursor");
    for customer in token_data::stripe_customers()["data"].as_array().unwrap() {
        assert!(measured[1].shaped_text.contains(customer["id"].as_str().unwrap()));
        assert!(measured[1].shaped_text.contains(customer["email"].as_str().unwrap()));
    }
}

/// Without any `output` settings, a result still stays within the default budget: a 10,000-record page
/// is cut at an item boundary with a note, and text is cut too.
#[tokio::test]
async fn the_default_budget_caps_every_result() {
    let (base, _) = start_upstream(10_000, Value::Null).await;
    let server = server_for(&base, "listByOffset", &json!({}), None).await;
    let result = call(&server, "list_by_offset", json!({"limit": 10_000})).await;
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(text.len().div_ceil(4) <= api2mcp::shape::DEFAULT_MAX_TOKENS, "{} tokens", text.len() / 4);
    assert!(text.contains("… showing "), "the note says what was left out");
    assert!(text.contains(" of 10000 items; "), "{}", &text[text.len() - 200..]);
}

/// `structuredContent` only where the tool advertises an `outputSchema` (by default), or for every
/// JSON result with `structured_content: always`; the text is the same either way.
#[tokio::test]
async fn structured_content_only_with_an_output_schema_unless_asked() {
    let canned = json!({"total_count": 1, "incomplete_results": false});
    let (base, _) = start_upstream(0, canned.clone()).await;
    let by_default = json!({"structured_content": "with_output_schema"});
    let cases = [
        (json!({}), &by_default, false),
        (json!({"output_schema": "always"}), &by_default, true),
        (json!({}), &json!({"structured_content": "always"}), true),
    ];
    for (tool, defaults, expected) in cases {
        let server = server_for(&base, "getCanned", &tool, Some(defaults)).await;
        let listed = listed(&server, "get_canned");
        let result = call(&server, "get_canned", json!({})).await;
        assert_eq!(
            result["content"][0]["text"], r#"{"total_count":1,"incomplete_results":false}"#,
            "{tool} {defaults}"
        );
        assert_eq!(result.get("structuredContent").is_some(), expected, "{tool} {defaults}: {result}");
        if expected {
            assert_eq!(result["structuredContent"], canned);
        }
        assert_eq!(listed.get("outputSchema").is_some(), tool.get("output_schema").is_some());
        assert_conforms(&listed, &result);
    }
}
