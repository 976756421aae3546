//! What a new user meets in the first hour (issue 14): the README's commands, the container files,
//! client-facing defaults. Each test names the promise it keeps.

use std::path::Path;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_readme_test_command_is_the_script_ci_runs() {
    let readme = repo_file("README.md");
    let test_section = readme.split("## Test it").nth(1).expect("README has a Test it section");
    let first_block = test_section.split("```sh\n").nth(1).and_then(|b| b.split("```").next()).unwrap();
    assert_eq!(first_block.trim(), "./test");
    let ci = repo_file(".ci/run");
    assert!(ci.lines().any(|line| line.trim() == "./test"), ".ci/run must call ./test");
    let script = repo_file("test");
    assert!(script.contains("exec cargo test --locked"), "{script}");
    assert!(script.contains("\"redis-server:redis-server\""), "{script}");
}

#[test]
fn the_image_is_pinned_labelled_from_cargo_toml_and_runs_as_a_named_user() {
    let dockerfile = repo_file("Dockerfile");
    // The base images are build arguments (bench/image swaps in local stand-ins); their defaults, the
    // images a plain `docker build` pulls, are pinned by digest, and every FROM names one of them or a stage.
    let bases = ["RUST_IMAGE", "RUNTIME_IMAGE"];
    for base in bases {
        let default = dockerfile
            .lines()
            .find_map(|line| line.strip_prefix(&format!("ARG {base}=")))
            .unwrap_or_else(|| panic!("the Dockerfile needs `ARG {base}=<image>@sha256:...`"));
        assert!(default.contains("@sha256:"), "base image not pinned by digest: {base}={default}");
    }
    let first_from = dockerfile.lines().position(|line| line.starts_with("FROM ")).unwrap();
    let args_before: Vec<&str> = dockerfile.lines().take(first_from).collect();
    for base in bases {
        assert!(args_before.iter().any(|line| line.starts_with(&format!("ARG {base}="))), "{base} after a FROM");
    }
    let stages = ["chef", "plan", "build"];
    for line in dockerfile.lines().filter(|line| line.starts_with("FROM ")) {
        let image = line.split_whitespace().nth(1).unwrap();
        let named = bases.iter().any(|base| image == format!("${{{base}}}")) || stages.contains(&image);
        assert!(named, "FROM must name a pinned base argument or a stage: {line}");
    }
    let version_arg = format!("ARG VERSION={}", env!("CARGO_PKG_VERSION"));
    assert!(dockerfile.lines().any(|line| line == version_arg), "the Dockerfile needs `{version_arg}`");
    assert!(dockerfile.contains("groupadd --system --gid 10001"), "no group for USER 10001:10001");
    assert!(dockerfile.contains("USER 10001:10001"));
    // The dependency-only layer comes before the sources.
    let cook = dockerfile.find("cargo chef cook").expect("a dependency-only layer");
    let sources = dockerfile.rfind("COPY . .").unwrap();
    assert!(cook < sources, "dependencies must build before COPY . .");
}

#[test]
fn the_compose_example_is_pinned_locked_down_and_has_no_guessable_secret() {
    let compose = repo_file("examples/docker-compose.yml");
    let images: Vec<&str> = compose.lines().filter(|line| line.trim_start().starts_with("image: ")).collect();
    for image in images.iter().filter(|line| !line.contains("api2mcp:local")) {
        assert!(image.contains("@sha256:"), "image not pinned by digest: {image}");
    }
    assert_eq!(compose.matches("cap_drop: [ALL]").count(), 3, "every service drops all capabilities");
    assert_eq!(compose.matches("read_only: true").count(), 3, "every service has a read-only root");
    assert!(compose.contains("secrets:\n      - cursor_secret"), "{compose}");
    let mapping = repo_file("examples/docker/api2mcp.yaml");
    assert!(mapping.contains("cursor_secret: ${file:/run/secrets/cursor_secret}"), "{mapping}");
    // A `${VAR:-default}` default is for URLs, never for secrets.
    for line in compose.lines().chain(mapping.lines()) {
        let lower = line.to_ascii_lowercase();
        if ["secret", "password", "token", "key:"].iter().any(|word| lower.contains(word)) {
            assert!(!line.contains(":-"), "a secret with a default value: {line}");
        }
    }
}

use std::time::{Duration, Instant};

use rmcp::ClientLifecycleMode;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::serve::{call, client, text};

/// A field of a JSON log line (tracing's JSON layer flattens event fields; span fields are nested).
fn field<'a>(line: &'a Value, name: &str) -> &'a Value {
    if line[name].is_null() { &line["fields"][name] } else { &line[name] }
}

#[tokio::test]
async fn arguments_are_coerced_only_when_nothing_is_lost() {
    let (base_url, seen) = crate::serve::upstream().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let url = crate::serve::api2mcp(&base_url, shutdown.clone()).await;
    let client = client(&url, ClientLifecycleMode::Initialize).await;

    // An integer for a string path id (what the Inspector sends), a decimal string for an integer.
    let result = call(&client, "get_pet", json!({"petId": 7})).await;
    // No outputSchema here, so the value is the text alone.
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text(&result)).ok(), Some(json!({"id": "7", "name": "Rex"})));
    let result = call(&client, "list_pets", json!({"limit": "2"})).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    assert_eq!(seen.lock().unwrap().as_slice(), ["GET /pets/7 cookie=-", "GET /pets?limit=2"]);

    // The converted value is validated like any other: `minimum: 1`.
    let result = call(&client, "list_pets", json!({"limit": "0"})).await;
    let error = result.structured_content.unwrap();
    assert_eq!(error["code"], "invalid_arguments");
    assert_eq!(error["fields"][0]["field"], "limit");
    // Lossy conversions are refused as before.
    for lossy in [json!("02"), json!("2.0"), json!(" 2"), json!(2.5), json!(true)] {
        let result = call(&client, "list_pets", json!({ "limit": lossy })).await;
        let error = result.structured_content.unwrap_or_default();
        assert_eq!(
            (error["code"].as_str(), error["fields"][0]["field"].as_str()),
            (Some("invalid_arguments"), Some("limit")),
            "{lossy}"
        );
    }
    // A missing required argument is named.
    let result = call(&client, "get_pet", json!({})).await;
    let error = result.structured_content.unwrap();
    assert_eq!(error["fields"], json!([{"field": "petId", "message": "is required"}]));
    assert_eq!(seen.lock().unwrap().len(), 2, "nothing refused reached the upstream");
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn capabilities_and_list_fields_match_the_negotiated_protocol() {
    let (base_url, _) = crate::serve::upstream().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let url = crate::serve::api2mcp(&base_url, shutdown.clone()).await;
    let http = reqwest::Client::new();
    let post = |body: Value, version: &'static str| {
        http.post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .json(&body)
            .send()
    };
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let answer: Value = post(initialize, "2025-11-25").await.unwrap().json().await.unwrap();
    let capabilities = &answer["result"]["capabilities"];
    assert!(capabilities["tools"].is_object(), "{answer}");
    // Offered capabilities only: the catalogue resources and the `use_api` prompt exist (never empty).
    assert!(capabilities["prompts"].is_object() && capabilities["resources"].is_object(), "{answer}");
    let prompts = json!({"jsonrpc": "2.0", "id": 3, "method": "prompts/list"});
    let answer: Value = post(prompts, "2025-11-25").await.unwrap().json().await.unwrap();
    assert!(answer["result"]["prompts"].as_array().is_some_and(|p| !p.is_empty()), "{answer}");

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let answer: Value = post(list, "2025-11-25").await.unwrap().json().await.unwrap();
    let result = &answer["result"];
    assert!(result["tools"].as_array().is_some_and(|tools| !tools.is_empty()), "{answer}");
    for era_2026 in ["ttlMs", "cacheScope", "resultType"] {
        assert!(result.get(era_2026).is_none(), "{era_2026} sent to a 2025-11-25 client: {answer}");
    }

    // A 2026-era client still gets them.
    let client = client(
        &url,
        ClientLifecycleMode::Discover { preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28] },
    )
    .await;
    let page = client.list_tools(None).await.unwrap();
    assert!(page.ttl_ms.is_some() && page.cache_scope.is_some(), "{page:?}");
    client.cancel().await.unwrap();
    shutdown.cancel();
}

/// The binary's log as an operator sees it: the startup line (JSON, with a usable URL), an upstream
/// failure at WARN with method, redacted URL, cause and duration, the audit line's coercions, and
/// nothing at WARN for probes of methods api2mcp does not offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_tells_an_operator_what_they_need() {
    let (base_url, _) = crate::serve::upstream().await;
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(["serve", "--spec", "tests/fixtures/serve/openapi.yaml", "--base-url", &base_url])
        .args(["--listen", "0.0.0.0:0", "--allow-anonymous"])
        .env("API2MCP_LOG_FORMAT", "json")
        .env_remove("RUST_LOG")
        .env_remove("API2MCP_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut stderr = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let _ = sender.send(line);
        }
    });
    let mut log: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let startup = loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.recv()).await.expect("a startup line").unwrap();
        let parsed: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        if field(&parsed, "message").as_str().is_some_and(|m| m.starts_with("serving ")) {
            break parsed;
        }
        log.push(parsed);
    };
    let url = field(&startup, "url").as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"), "{startup}");
    assert!(field(&startup, "listen").as_str().unwrap().starts_with("0.0.0.0:"), "{startup}");
    assert_eq!(field(&startup, "tools"), 7);

    let client = client(&url, ClientLifecycleMode::Initialize).await;
    assert_eq!(call(&client, "get_pet", json!({"petId": 7})).await.is_error, Some(false));
    assert_eq!(call(&client, "fail_with", json!({"code": 503})).await.is_error, Some(true));
    assert_eq!(call(&client, "get_pet", json!({"petId": "404"})).await.is_error, Some(true));
    // Lists of prompts and resources, and a read of a resource that does not exist, are answered and
    // not logged at WARN (a client's mistake is not the operator's business).
    assert!(!client.list_prompts(None).await.unwrap().prompts.is_empty());
    assert!(!client.list_resources(None).await.unwrap().resources.is_empty());
    let missing = rmcp::model::ReadResourceRequestParams::new("api2mcp://tools/missing");
    assert!(client.read_resource(missing).await.is_err());
    client.cancel().await.unwrap();

    // The audit line of the last call is written after its result: wait for it, then for the rest.
    let deadline = Instant::now() + Duration::from_secs(20);
    while log.iter().filter(|line| line["target"] == "audit").count() < 3 {
        let line = tokio::time::timeout_at(deadline.into(), lines.recv()).await.expect("three audit lines").unwrap();
        log.push(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON log line: {line}")));
    }
    server.kill().await.unwrap();
    let rendered: Vec<String> = log.iter().map(Value::to_string).collect();
    let rendered = rendered.join("\n");

    let audits: Vec<&Value> = log.iter().filter(|line| line["target"] == "audit").collect();
    assert_eq!(field(audits[0], "coerced"), "petId:integer->string", "{rendered}");
    assert_eq!(field(audits[1], "coerced"), "", "{rendered}");
    let warnings: Vec<&Value> = log.iter().filter(|line| line["level"] == "WARN").collect();
    assert_eq!(warnings.len(), 1, "only the 503 is the operator's business:\n{rendered}");
    let failure = warnings[0];
    assert_eq!(field(failure, "method"), "GET");
    assert_eq!(field(failure, "url").as_str(), Some(format!("{base_url}/status/503").as_str()), "{rendered}");
    assert_eq!(field(failure, "cause"), "HTTP 503");
    assert!(field(failure, "duration_ms").is_u64(), "{rendered}");
}

#[test]
fn upstream_urls_are_logged_without_query_values_or_user_info() {
    assert_eq!(
        api2mcp::call::redacted_url("https://user:pw@api.example.com/v1/pets/7?api_key=s3cret&limit=2#x"),
        "https://api.example.com/v1/pets/7?api_key=redacted&limit=redacted"
    );
    assert_eq!(api2mcp::call::redacted_url("http://127.0.0.1:9/a/b"), "http://127.0.0.1:9/a/b");
}

#[test]
fn a_closed_stdout_ends_printing_commands_quietly() {
    let spec = "tests/fixtures/serve/openapi.yaml";
    for args in [vec!["schema"], vec!["summary", "--spec", spec], vec!["tools", "--spec", spec, "--json"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
            .args(&args)
            .env_remove("API2MCP_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes anything: every write fails with EPIPE.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn listen_mistakes_say_what_the_address_should_look_like() {
    for listen in ["localhost", "8080", "http://127.0.0.1:8080/mcp"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
            .args(["serve", "--spec", "tests/fixtures/serve/openapi.yaml", "--listen", listen])
            .env_remove("API2MCP_CONFIG")
            .env_remove("API2MCP_LISTEN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{listen}: {stderr}");
        assert!(stderr.contains(&format!("--listen '{listen}' is not HOST:PORT")), "{stderr}");
        assert!(stderr.contains("for example 127.0.0.1:8080"), "{stderr}");
    }
}

#[tokio::test]
async fn a_spec_url_that_refuses_connections_says_so() {
    // A port held without listening: it refuses connections.
    let closed = crate::support::ClosedPort::new();
    let address = closed.address();
    let source = api2mcp::load::ConfigSource::Spec { spec: format!("http://{address}/openapi.json"), base_url: None };
    let prepared = api2mcp::pipeline::prepare(&source, &std::collections::HashMap::new()).await;
    let rendered = crate::support::rendered_diagnostics(&prepared);
    assert!(rendered.to_lowercase().contains("connection refused"), "{rendered}");
}

#[tokio::test]
async fn undocumented_operations_get_descriptions_and_the_server_its_api_name() {
    let prepared = crate::support::prepare_case(Path::new("tests/fixtures/first-hour")).await;
    let catalogue = prepared.catalogue().unwrap();
    let descriptions: Vec<(&str, &str, bool)> = catalogue
        .tools
        .iter()
        .map(|tool| (tool.name.as_str(), tool.description.as_str(), tool.source.has_description))
        .collect();
    assert_eq!(
        descriptions,
        [
            ("list_guild_members", "List guild members (guild_id, limit, after).", false),
            ("delete_guilds_by_guild_id_bans_by_user_id", "Delete guilds bans (guild_id, user_id).", false),
            ("get_guild", "Only guilds the caller belongs to.", true),
        ]
    );
    assert_eq!(catalogue.server.name, "guild-directory");
    assert_eq!(catalogue.server.title.as_deref(), Some("Guild Directory: API v2"));

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(["check", "--spec", "tests/fixtures/first-hour/spec.yaml"])
        .env_remove("API2MCP_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("no description in the spec: 2 of 3 tools"), "{stdout}");
}

#[tokio::test]
async fn the_summary_page_shows_what_clients_assume_of_a_delete() {
    let prepared = crate::support::prepare_case(Path::new("tests/fixtures/first-hour")).await;
    let catalogue = std::sync::Arc::new(prepared.compiled.unwrap().catalogue);
    let served = crate::support::server_for(catalogue).served();
    let page = api2mcp::ops::summary::html(&api2mcp::ops::summary::document(&served, "http://127.0.0.1:8080/mcp"));
    let row =
        page.lines().find(|line| line.contains("<code>delete_guilds_by_guild_id_bans_by_user_id</code>")).unwrap();
    assert!(row.contains("destructive"), "{row}");
    let read = page.lines().find(|line| line.contains("<code>get_guild</code>")).unwrap();
    assert!(read.contains("read-only") && !read.contains("destructive"), "{read}");
}

#[test]
fn every_command_takes_dash_c_for_its_mapping_file() {
    for command in ["check", "tools", "summary"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
            .args([command, "-c", "tests/fixtures/compile/server-variables/api2mcp.yaml"])
            .env_remove("API2MCP_CONFIG")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{command}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[tokio::test]
async fn check_warns_of_missing_upstream_credentials_and_oversized_catalogues() {
    let scratch = crate::support::temp_dir("first-hour-check");
    let dir = scratch.path();
    // 130 secured operations, one of them open to anonymous callers.
    let mut paths = String::new();
    for i in 0..130 {
        let security = if i == 0 { "\n      security: [{}]" } else { "" };
        paths.push_str(&format!(
            "  /items{i}:\n    get:\n      operationId: getItem{i}{security}\n      responses: {{'200': {{description: ok}}}}\n"
        ));
    }
    let spec = format!(
        "openapi: 3.0.3\ninfo: {{title: Big, version: '1'}}\nservers: [{{url: 'https://big.example.com'}}]\n\
         security: [{{token: []}}]\ncomponents:\n  securitySchemes:\n    token: {{type: http, scheme: bearer}}\npaths:\n{paths}"
    );
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    let prepared = crate::support::prepare_case(dir).await;
    let rendered = crate::support::rendered_diagnostics(&prepared);
    assert!(
        rendered.contains("warning[upstream/no-credentials]: upstream 'api': 129 exposed operations need credentials (security: token)"),
        "{rendered}"
    );
    // Zero-config serves 130 tools through discovery (three tools): nothing is too large for a client.
    assert!(!rendered.contains("catalogue-too-large"), "{rendered}");
    let mapping = "version: 1\ndefaults: {discovery: off}\nupstreams:\n  api:\n    spec: spec.yaml\n";
    std::fs::write(dir.join("api2mcp.yaml"), mapping).unwrap();
    let prepared = crate::support::prepare_case(dir).await;
    let rendered = crate::support::rendered_diagnostics(&prepared);
    assert!(rendered.contains("warning[tool/catalogue-too-large]: the catalogue has 130 tools"), "{rendered}");
    assert!(rendered.contains("include`/`exclude"), "{rendered}");

    // With credentials configured, and few enough tools, neither warning.
    let mapping = "version: 1\nupstreams:\n  api:\n    spec: spec.yaml\n    include: [{path: /items1*}]\n    \
                   credentials: {token: {value: abc}}\n";
    std::fs::write(dir.join("api2mcp.yaml"), mapping).unwrap();
    let prepared = crate::support::prepare_case(dir).await;
    let rendered = crate::support::rendered_diagnostics(&prepared);
    assert!(!rendered.contains("upstream/no-credentials") && !rendered.contains("catalogue-too-large"), "{rendered}");
    scratch.close().unwrap();
}
