//! Discovery mode, toolsets and schema profiles over real parts: an axum upstream on 127.0.0.1:0,
//! api2mcp's Streamable HTTP server, and rmcp's client. Zero-config GitHub lists three tools in under
//! 1,000 tokens and an agent-style session (search, describe, call) reaches the upstream; `call_tool`
//! and a direct call give identical results; scopes filter search, describe and call alike; every
//! profile's schemas pass that profile's rules and arguments map back to valid original arguments.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Request, State};
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use api2mcp::discovery::profile;
use api2mcp::discovery::profile::SchemaProfile;
use api2mcp::load::ConfigSource;

const GITHUB: &str = "../shared/specs/github-api.github.com.v3.json";
const READER_KEY: &str = "reader-key";
const ADMIN_KEY: &str = "admin-key";

/// An upstream that answers every request with what it received, and records it.
async fn echo_upstream() -> (String, crate::support::Recorded<String>) {
    let seen = crate::support::Recorded::<String>::default();
    let app = Router::new()
        .fallback(|State(seen): State<crate::support::Recorded<String>>, request: Request| async move {
            let method = request.method().to_string();
            let uri = request.uri().to_string();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&body).to_string();
            seen.push(format!("{method} {uri} {body}"));
            if uri.contains("/404") {
                return (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({"message": "not found"})));
            }
            (axum::http::StatusCode::OK, axum::Json(json!({"method": method, "uri": uri, "body": body})))
        })
        .with_state(seen.clone());
    let base = crate::support::serve_router(app).await;
    (base, seen)
}

async fn client(url: &str, key: Option<&str>) -> RunningService<RoleClient, ClientConfig> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(key) = key {
        config = config.auth_header(key);
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    ClientConfig::default()
        .serve_with_lifecycle(transport, ClientLifecycleMode::Initialize)
        .await
        .expect("the MCP client connects")
}

async fn call(client: &RunningService<RoleClient, ClientConfig>, tool: &str, arguments: Value) -> CallToolResult {
    let arguments = arguments.as_object().cloned().unwrap();
    client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(arguments))
        .await
        .expect("tools/call answers")
}

fn text_json(result: &CallToolResult) -> Value {
    let text: String = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn hit_names(result: &CallToolResult) -> Vec<String> {
    text_json(result)["hits"].as_array().unwrap().iter().map(|h| h["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn zero_config_github_is_small_and_an_agent_session_reaches_the_upstream() {
    let (base_url, seen) = echo_upstream().await;
    let source = ConfigSource::Spec { spec: GITHUB.to_string(), base_url: Some(base_url) };
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let shutdown = CancellationToken::new();
    let url = crate::support::serve_prepared(prepared, Default::default(), shutdown.clone()).await;
    let client = client(&url, None).await;

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["search_tools", "describe_tools", "call_tool"]);
    let list = serde_json::to_string(&json!({ "tools": tools })).unwrap();
    assert!(list.len() / 4 < 1000, "tools/list is ~{} tokens: {list}", list.len() / 4);

    let found = call(&client, "search_tools", json!({"query": "comment on an issue"})).await;
    assert_eq!(found.is_error, Some(false));
    let hits = text_json(&found);
    let top = &hits["hits"][0];
    assert_eq!(top["name"], "issues_create_comment", "{hits}");
    assert_eq!(top["call"], "POST /repos/{owner}/{repo}/issues/{issue_number}/comments");
    assert_eq!(top["required"], json!(["owner", "repo", "issue_number", "body"]));

    let described = call(&client, "describe_tools", json!({"names": ["issues_create_comment"]})).await;
    let schema = &text_json(&described)["tools"][0]["inputSchema"];
    assert_eq!(schema["properties"]["body"]["type"], "string", "{schema}");

    let arguments = json!({"owner": "octo", "repo": "hello", "issue_number": 7, "body": "Looks good"});
    let result = call(&client, "call_tool", json!({"name": "issues_create_comment", "arguments": arguments})).await;
    assert_eq!(result.is_error, Some(false), "{:?}", result);
    assert_eq!(*seen.lock().unwrap(), [r#"POST /repos/octo/hello/issues/7/comments {"body":"Looks good"}"#]);

    // An unknown name is a CLIENT error naming the closest tools.
    let result = call(&client, "call_tool", json!({"name": "issues_create_coment", "arguments": {}})).await;
    assert_eq!(result.is_error, Some(true));
    let error = result.structured_content.unwrap();
    assert_eq!(error["category"], "CLIENT");
    assert!(error.to_string().contains("issues_create_comment"), "{error}");

    client.cancel().await.unwrap();
    shutdown.cancel();
}

fn fixture_env(base_url: &str) -> HashMap<String, String> {
    HashMap::from([
        ("UPSTREAM".to_string(), base_url.to_string()),
        ("READER_SHA".to_string(), "ec4408df15da46b328f6f3246fa723d0aa6cb0f0a0dd9c4626080ab1b02aa3b2".to_string()),
        ("ADMIN_SHA".to_string(), "69a5265506c94c77b787a7d7377b7685a0eff82e33920a71e7ee22cd6154953e".to_string()),
    ])
}

async fn serve_fixture(shutdown: CancellationToken) -> (String, crate::support::Recorded<String>) {
    let (base_url, seen) = echo_upstream().await;
    let source = ConfigSource::Mapping("tests/fixtures/discovery/api2mcp.yaml".into());
    let prepared = api2mcp::pipeline::prepare(&source, &fixture_env(&base_url)).await;
    assert!(!prepared.diagnostics.has_errors(), "{}", crate::support::rendered_diagnostics(&prepared));
    (crate::support::serve_prepared(prepared, Default::default(), shutdown).await, seen)
}

#[tokio::test]
async fn call_tool_and_a_direct_call_give_identical_results() {
    let shutdown = CancellationToken::new();
    let (url, seen) = serve_fixture(shutdown.clone()).await;
    let discovered = client(&url, Some(ADMIN_KEY)).await;
    let direct = client(&format!("{url}/direct"), Some(ADMIN_KEY)).await;

    let direct_names: Vec<String> = direct.list_all_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(direct_names.len(), 7);
    assert!(!direct_names.contains(&"call_tool".to_string()));

    let cases = [
        ("get_pet", json!({"petId": "1"})),
        ("get_pet", json!({"petId": "404"})),
        ("create_pet", json!({"name": "Kit", "X-Request-Id": "r-1"})),
        ("list_pets", json!({"limit": "two"})),
    ];
    for (tool, arguments) in cases {
        let through_discovery =
            call(&discovered, "call_tool", json!({"name": tool, "arguments": arguments.clone()})).await;
        let straight = call(&direct, tool, arguments.clone()).await;
        assert_eq!(
            serde_json::to_value(&through_discovery).unwrap(),
            serde_json::to_value(&straight).unwrap(),
            "{tool} {arguments}"
        );
    }
    // Both reached the upstream the same way, twice each (the invalid call never left).
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[4], seen[5]);

    discovered.cancel().await.unwrap();
    direct.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn scopes_filter_search_describe_and_call_alike() {
    let shutdown = CancellationToken::new();
    let (url, seen) = serve_fixture(shutdown.clone()).await;
    let reader = client(&url, Some(READER_KEY)).await;
    let admin = client(&url, Some(ADMIN_KEY)).await;

    // `create_pet` needs pets:write: the reader cannot find, describe or call it.
    let reader_hits = hit_names(&call(&reader, "search_tools", json!({"query": "create a pet", "limit": 10})).await);
    let admin_hits = hit_names(&call(&admin, "search_tools", json!({"query": "create a pet", "limit": 10})).await);
    assert_eq!(admin_hits.first().map(String::as_str), Some("create_pet"));
    assert!(!reader_hits.contains(&"create_pet".to_string()), "{reader_hits:?}");
    assert!(reader_hits.contains(&"list_pets".to_string()), "{reader_hits:?}");

    let described = call(&reader, "describe_tools", json!({"names": ["create_pet"]})).await;
    assert_eq!(described.is_error, Some(true));
    assert!(!text_json(&described).to_string().contains("\"inputSchema\""));
    let described = call(&admin, "describe_tools", json!({"names": ["create_pet"]})).await;
    assert_eq!(text_json(&described)["tools"][0]["name"], "create_pet");

    // The call is refused before anything reaches the upstream, as a direct call would be.
    let refused =
        reader
            .call_tool(CallToolRequestParams::new("call_tool").with_arguments(
                json!({"name": "create_pet", "arguments": {"name": "Kit"}}).as_object().cloned().unwrap(),
            ))
            .await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(seen.lock().unwrap().is_empty());
    let allowed = call(&admin, "call_tool", json!({"name": "create_pet", "arguments": {"name": "Kit"}})).await;
    assert_eq!(allowed.is_error, Some(false));
    assert_eq!(seen.lock().unwrap().len(), 1);

    reader.cancel().await.unwrap();
    admin.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn toolsets_serve_their_own_mode_and_profile() {
    let shutdown = CancellationToken::new();
    let (url, _) = serve_fixture(shutdown.clone()).await;
    let reads = client(&format!("{url}/reads"), Some(ADMIN_KEY)).await;
    let names: Vec<String> = reads.list_all_tools().await.unwrap().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["search_tools", "describe_tools", "call_tool"]);
    // GET tools only, described with the strict profile.
    let hits = hit_names(&call(&reads, "search_tools", json!({"query": "pet", "limit": 10})).await);
    assert!(hits.contains(&"get_pet".to_string()) && !hits.contains(&"create_pet".to_string()), "{hits:?}");
    let described = text_json(&call(&reads, "describe_tools", json!({"names": ["list_pets"]})).await);
    let schema = described["tools"][0]["inputSchema"].as_object().unwrap().clone();
    assert!(profile::violations(SchemaProfile::OpenaiStrict, &schema).is_empty(), "{schema:?}");
    assert_eq!(schema["additionalProperties"], false);
    // Strict arguments (every property given, null for "not given") are mapped back before validation.
    let result = call(&reads, "call_tool", json!({"name": "list_pets", "arguments": {"limit": 2, "tags": null}})).await;
    assert_eq!(result.is_error, Some(false), "{result:?}");

    let strict = client(&format!("{url}/strict"), Some(ADMIN_KEY)).await;
    let tools = strict.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 7);
    for tool in &tools {
        let schema = tool.input_schema.as_ref().clone();
        assert!(profile::violations(SchemaProfile::OpenaiStrict, &schema).is_empty(), "{}: {schema:?}", tool.name);
    }
    let result = call(&strict, "get_pet", json!({"petId": "1", "session": null})).await;
    assert_eq!(result.is_error, Some(false), "{result:?}");

    // The capability summary lists the toolsets.
    let summary = reqwest::get(url.replace("/mcp", "/.well-known/api2mcp.json")).await.unwrap().text().await.unwrap();
    assert!(summary.to_string().contains("/mcp/reads"), "{summary}");

    reads.cancel().await.unwrap();
    strict.cancel().await.unwrap();
    shutdown.cancel();
}

/// A value valid for `schema`, chosen by `seed`: nullable properties are null or not at random.
fn sample(schema: &serde_json::Map<String, Value>, seed: &mut u64) -> Value {
    fn step(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }
    let next = |seed: &mut u64| step(seed);
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values[(next(seed) as usize) % values.len()].clone();
    }
    if let Some(value) = schema.get("const") {
        return value.clone();
    }
    if let Some(Value::Array(alternatives)) = schema.get("anyOf") {
        let chosen = alternatives[(next(seed) as usize) % alternatives.len()].as_object().cloned().unwrap_or_default();
        return sample(&chosen, seed);
    }
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec!["string".to_string()],
    };
    let mut kind = types[(next(seed) as usize) % types.len()].clone();
    if schema.get("nullable") == Some(&json!(true)) && next(seed) % 2 == 0 {
        kind = "null".into();
    }
    match kind.as_str() {
        "null" => Value::Null,
        "boolean" => json!(next(seed) % 2 == 0),
        "integer" | "number" => {
            let minimum = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            json!(minimum + (next(seed) % 3) as i64)
        }
        "array" => {
            let items = schema.get("items").and_then(Value::as_object).cloned().unwrap_or_default();
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            Value::Array((0..min.max(next(seed) % 2)).map(|_| sample(&items, seed)).collect())
        }
        "object" => {
            let mut object = serde_json::Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                if required.contains(&name.as_str()) || next(seed) % 2 == 0 {
                    object.insert(name.clone(), sample(property.as_object().unwrap(), seed));
                }
            }
            Value::Object(object)
        }
        _ => {
            // Strings: JSON text where the rewritten schema says so (the smallest object: the
            // text's content is described, not constrained), else a short word.
            let description = schema.get("description").and_then(Value::as_str).unwrap_or_default();
            if description.ends_with("as JSON text)") {
                json!("{}")
            } else if let Some(Value::String(format)) = schema.get("format") {
                json!(match format.as_str() {
                    "date-time" => "2026-01-01T00:00:00Z",
                    "date" => "2026-01-01",
                    "email" => "a@b.co",
                    "uuid" => "123e4567-e89b-12d3-a456-426614174000",
                    _ => "x",
                })
            } else {
                json!("x")
            }
        }
    }
}

/// Every tool of the Stripe and Petstore specs, under every profile: the rewritten schema passes
/// the profile's rules, and random arguments valid for it map back to arguments the original
/// schema accepts.
#[tokio::test]
async fn profiles_pass_their_rules_and_arguments_map_back() {
    use proptest::test_runner::{Config, TestRunner};
    for spec in
        ["../shared/specs/stripe.v3.yaml", "../shared/specs/petstore3.yaml", "tests/fixtures/serve/openapi.yaml"]
    {
        let source = ConfigSource::Spec { spec: spec.to_string(), base_url: Some("http://127.0.0.1:9".into()) };
        let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
        let catalogue = prepared.catalogue().unwrap();
        for candidate in [SchemaProfile::OpenaiStrict, SchemaProfile::Gemini, SchemaProfile::Anthropic] {
            let mut runner = TestRunner::new(Config { cases: 8, ..Config::default() });
            for tool in &catalogue.tools {
                let rewritten = profile::rewrite(candidate, &tool.input_schema);
                let violations = profile::violations(candidate, &rewritten);
                assert!(violations.is_empty(), "{spec} {} {}: {violations:?}", tool.name, candidate.label());
                let rewritten_validator =
                    jsonschema::validator_for(&Value::Object(to_json_schema(&rewritten))).unwrap();
                let original_validator =
                    jsonschema::validator_for(&Value::Object((*tool.input_schema).clone())).unwrap();
                runner
                    .run(&proptest::num::u64::ANY, |seed| {
                        let mut seed = seed | 1;
                        let arguments = sample(&rewritten, &mut seed);
                        if !rewritten_validator.is_valid(&arguments) {
                            // The sampler is simple (patterns, lengths); only valid arguments count.
                            return Ok(());
                        }
                        let mapped =
                            profile::map_back(candidate, &tool.input_schema, arguments.as_object().unwrap().clone());
                        let mapped = Value::Object(mapped);
                        proptest::prop_assert!(
                            original_validator.is_valid(&mapped),
                            "{} {}: {arguments} → {mapped}",
                            tool.name,
                            candidate.label()
                        );
                        Ok(())
                    })
                    .unwrap();
            }
        }
    }
}

/// Gemini's `nullable` as JSON Schema, so the rewritten schema can be validated like the others.
fn to_json_schema(schema: &serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (key, value) in schema {
        let value = match value {
            Value::Object(inner) if key != "properties" => Value::Object(to_json_schema(inner)),
            Value::Object(properties) => Value::Object(
                properties
                    .iter()
                    .map(|(k, v)| {
                        (k.clone(), v.as_object().map(|o| Value::Object(to_json_schema(o))).unwrap_or(v.clone()))
                    })
                    .collect(),
            ),
            Value::Array(items) if key == "anyOf" => Value::Array(
                items
                    .iter()
                    .map(|v| v.as_object().map(|o| Value::Object(to_json_schema(o))).unwrap_or(v.clone()))
                    .collect(),
            ),
            other => other.clone(),
        };
        out.insert(key.clone(), value);
    }
    if out.remove("nullable") == Some(json!(true)) {
        if let Some(Value::String(kind)) = out.get("type").cloned() {
            out.insert("type".into(), json!([kind, "null"]));
        } else if let Some(Value::Array(alternatives)) = out.get_mut("anyOf") {
            alternatives.push(json!({"type": "null"}));
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            values.push(Value::Null);
        }
    }
    out
}

#[tokio::test]
async fn resources_and_the_prompt_follow_the_callers_scopes() {
    use rmcp::model::{GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
    let shutdown = CancellationToken::new();
    let (url, seen) = serve_fixture(shutdown.clone()).await;
    let reader = client(&url, Some(READER_KEY)).await;
    let admin = client(&url, Some(ADMIN_KEY)).await;
    let capabilities = reader.peer_info().expect("initialised").capabilities.clone();
    assert!(capabilities.resources.is_some() && capabilities.prompts.is_some(), "{capabilities:?}");

    let resources = reader.list_all_resources().await.unwrap();
    assert_eq!(resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(), ["api2mcp://catalogue"]);
    let templates = reader.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "api2mcp://tools/{name}");

    let read_text = |result: rmcp::model::ReadResourceResult| match &result.contents[..] {
        [ResourceContents::TextResourceContents { text, mime_type, .. }] => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str::<Value>(text).unwrap()
        }
        other => panic!("one JSON text content expected: {other:?}"),
    };
    let catalogue = |peer: &rmcp::service::Peer<RoleClient>| {
        let peer = peer.clone();
        async move { read_text(peer.read_resource(ReadResourceRequestParams::new("api2mcp://catalogue")).await.unwrap()) }
    };
    let names = |document: &Value| -> Vec<String> {
        document["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    };
    // The reader's catalogue lacks `create_pet` (pets:write); the admin's has it, with its HTTP call.
    let reader_catalogue = catalogue(reader.peer()).await;
    let admin_catalogue = catalogue(admin.peer()).await;
    assert_eq!(reader_catalogue["mode"], "discovery");
    assert!(!names(&reader_catalogue).contains(&"create_pet".to_string()), "{reader_catalogue}");
    assert!(names(&reader_catalogue).contains(&"get_pet".to_string()), "{reader_catalogue}");
    let create = admin_catalogue["tools"].as_array().unwrap().iter().find(|t| t["name"] == "create_pet").unwrap();
    assert_eq!(create["call"], "POST /pets");
    assert_eq!(admin_catalogue["toolCount"], names(&admin_catalogue).len());

    // One tool's definition is what `describe_tools` gives; hidden and unknown tools are "not found".
    let definition =
        read_text(admin.read_resource(ReadResourceRequestParams::new("api2mcp://tools/create_pet")).await.unwrap());
    let described = text_json(&call(&admin, "describe_tools", json!({"names": ["create_pet"]})).await);
    assert_eq!(definition, described["tools"][0]);
    for uri in ["api2mcp://tools/create_pet", "api2mcp://tools/no_such_tool", "file:///etc/passwd"] {
        let refused = reader.read_resource(ReadResourceRequestParams::new(uri)).await;
        let Err(rmcp::ServiceError::McpError(error)) = refused else { panic!("{uri}: {refused:?}") };
        assert_eq!(error.code, rmcp::model::ErrorCode::RESOURCE_NOT_FOUND, "{uri}");
        assert_eq!(error.data, Some(json!({"uri": uri})));
    }

    // The prompt names the discovery tools of this view and carries the task; bad arguments are refused.
    let prompts = reader.list_all_prompts().await.unwrap();
    assert_eq!(prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["use_api"]);
    let task = json!({"task": "find the pet called Kit"}).as_object().cloned().unwrap();
    let prompt = reader.get_prompt(GetPromptRequestParams::new("use_api").with_arguments(task)).await.unwrap();
    let text = serde_json::to_value(&prompt.messages[0].content).unwrap()["text"].as_str().unwrap().to_string();
    assert!(text.contains("search_tools") && text.ends_with("Task: find the pet called Kit"), "{text}");
    assert!(reader.get_prompt(GetPromptRequestParams::new("no_such_prompt")).await.is_err());
    let bad = json!({"task": 5}).as_object().cloned().unwrap();
    assert!(reader.get_prompt(GetPromptRequestParams::new("use_api").with_arguments(bad)).await.is_err());

    // None of this reached the upstream.
    assert!(seen.lock().unwrap().is_empty());
    reader.cancel().await.unwrap();
    admin.cancel().await.unwrap();
    shutdown.cancel();
}
