//! The `api2mcp` binary as a user runs it: exit codes, `check` output, `tools --json`.

use std::process::Command;

fn api2mcp(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(args)
        .env_remove("API2MCP_CONFIG")
        .env_remove("API2MCP_SPEC")
        .env_remove("API2MCP_BASE_URL")
        .output()
        .expect("the api2mcp binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_passes_a_clean_spec_and_reports_its_size() {
    let (code, stdout, _) = api2mcp(&["check", "--spec", "tests/fixtures/compile/v30-petstore/spec.yaml"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("catalogue: 5 tools from 5 of 6 operations (api: OpenAPI 3.0)"), "{stdout}");
    assert!(stdout.contains("left out: 1 deprecated"), "{stdout}");
    assert!(stdout.contains("tools/list: "), "{stdout}");
    assert!(stdout.contains("largest tools: "), "{stdout}");
    assert!(stdout.trim_end().ends_with("ok: 0 errors, 0 warnings"), "{stdout}");
}

#[test]
fn check_reports_every_mapping_error_with_location_and_exits_78() {
    let (code, stdout, _) = api2mcp(&["check", "--config", "tests/fixtures/compile/broken-mapping/api2mcp.yaml"]);
    assert_eq!(code, 78, "{stdout}");
    // A snippet and caret under the offending key, and the did-you-mean.
    assert!(
        stdout.contains("error[mapping/unknown-operation]: upstream 'petstore' has no operation 'showPetByID'"),
        "{stdout}"
    );
    assert!(stdout.contains("  --> tests/fixtures/compile/broken-mapping/api2mcp.yaml:21:7\n"), "{stdout}");
    assert!(
        stdout.contains("21 |       showPetByID:\n   |       ^\n  = help: did you mean 'showPetById'?"),
        "{stdout}"
    );
    // Each bad output field path points at its own entry: `fields/1`, then `exclude/0` (not `fields/2`).
    let bad_paths: Vec<&str> = stdout
        .split("error[mapping/invalid-field-path]")
        .skip(1)
        .filter_map(|entry| entry.lines().find(|line| line.contains("--> ")))
        .collect();
    assert_eq!(
        bad_paths,
        [
            "  --> tests/fixtures/compile/broken-mapping/api2mcp.yaml:35:24",
            "  --> tests/fixtures/compile/broken-mapping/api2mcp.yaml:36:21"
        ],
        "{stdout}"
    );
    let errors = stdout.matches("error[").count();
    assert!(errors >= 10, "expected every error in one run, got {errors}:\n{stdout}");
    // Errors come before warnings.
    let last_error = stdout.rfind("error[").unwrap();
    let first_warning = stdout.find("warning[").unwrap();
    assert!(last_error < first_warning, "{stdout}");
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let spec = "tests/fixtures/compile/names/spec.yaml";
    let (code, stdout, _) = api2mcp(&["check", "--spec", spec]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("warning[tool/name-collision]"), "{stdout}");
    let (code, stdout, _) = api2mcp(&["check", "--spec", spec, "--deny-warnings"]);
    assert_eq!(code, 78, "{stdout}");
    assert!(stdout.trim_end().ends_with("failed: 0 errors, 3 warnings"), "{stdout}");
}

#[test]
fn tools_json_prints_exactly_the_tools_list_result() {
    let spec = "tests/fixtures/compile/v30-petstore/spec.yaml";
    let (code, stdout, stderr) = api2mcp(&["tools", "--spec", spec, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let source = api2mcp::load::ConfigSource::Spec { spec: spec.to_string(), base_url: None };
    let prepared = runtime.block_on(api2mcp::pipeline::prepare(&source, &std::collections::HashMap::new()));
    assert_eq!(printed, prepared.catalogue().unwrap().tools_list_json());
    assert_eq!(printed["tools"].as_array().unwrap().len(), 5);
}

#[test]
fn tools_table_lists_names_calls_and_descriptions() {
    let (code, stdout, _) = api2mcp(&["tools", "--config", "tests/fixtures/compile/server-variables/api2mcp.yaml"]);
    assert_eq!(code, 0);
    assert_eq!(stdout, "TOOL  CALL       DESCRIPTION\nping  GET /ping  Check the service.\n");
}

#[test]
fn tools_refuses_a_broken_configuration() {
    let (code, stdout, stderr) =
        api2mcp(&["tools", "--spec", "tests/fixtures/compile/broken-spec/spec.yaml", "--json"]);
    assert_eq!(code, 78);
    assert!(stdout.is_empty());
    assert!(stderr.contains("error[spec/unresolved-ref]"), "{stderr}");
}

#[test]
fn missing_configuration_is_a_config_error() {
    let (code, _, stderr) = api2mcp(&["check", "--config", "tests/fixtures/nope.yaml"]);
    assert_eq!(code, 78);
    assert!(stderr.is_empty());
    let (code, stdout, _) = api2mcp(&["check", "--config", "tests/fixtures/nope.yaml"]);
    assert_eq!(code, 78);
    assert!(
        stdout.contains("error[mapping/unreadable]: cannot read mapping file 'tests/fixtures/nope.yaml'"),
        "{stdout}"
    );
}

#[tokio::test]
async fn call_runs_one_tool_and_reports_its_size() {
    let (base_url, _) = crate::serve::upstream().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(["call", "--spec", "tests/fixtures/serve/openapi.yaml", "--base-url", &base_url, "get_pet"])
        .args(["--args", r#"{"petId": "7"}"#])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["content"][0]["text"], r#"{"id":"7","name":"Rex"}"#);
    assert!(result.get("structuredContent").is_none(), "no outputSchema, no structuredContent: {result}");
    assert!(
        stderr.contains("~") && stderr.contains("tokens as sent; text ~") && stderr.contains("isError: false"),
        "{stderr}"
    );

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(["call", "--spec", "tests/fixtures/serve/openapi.yaml", "--base-url", &base_url, "get_pett"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown tool 'get_pett' (did you mean 'get_pet'?)"));
}

#[test]
fn check_and_tools_report_inferred_pagination_and_shaping() {
    let spec = "tests/fixtures/compile/pagination-inferred/spec.yaml";
    let (code, stdout, _) = api2mcp(&["check", "--spec", spec]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("pagination inferred for 4 tools (set `pagination:` to change):\n"), "{stdout}");
    assert!(stdout.contains("  list_logs: offset offset/limit (agent, items $.entries)\n"), "{stdout}");
    assert!(!stdout.contains("list_ambiguous:"), "two lists in one response: nothing inferred\n{stdout}");
    let (code, stdout, _) = api2mcp(&["tools", "--spec", spec]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("[pages: cursor starting_after ← $.data[-1].id (agent, items $.data), inferred]"),
        "{stdout}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_api2mcp"))
        .args(["check", "--config", "tests/fixtures/compile/mapping-full/api2mcp.yaml"])
        .envs(env_of("tests/fixtures/compile/mapping-full/env.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("shaping and pagination ("), "{stdout}");
    assert!(stdout.contains("output: select $[*], fields id,name,tagg, max_items 50, json"), "{stdout}");
}

fn env_of(path: &str) -> std::collections::HashMap<String, String> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The exit code follows the failure's type: a configuration the server refuses is 78 (EX_CONFIG), an
/// address another process holds is 1, whatever the message says.
#[test]
fn serve_exits_78_on_a_bad_configuration_and_1_on_an_address_in_use() {
    let (code, _, stderr) =
        api2mcp(&["serve", "--spec", "tests/fixtures/compile/broken-spec/spec.yaml", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 78, "{stderr}");
    assert!(stderr.contains("error: the configuration has errors; not serving"), "{stderr}");

    let (code, _, stderr) = api2mcp(&["serve", "--config", "tests/fixtures/nope.yaml", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 78, "{stderr}");

    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = held.local_addr().unwrap().to_string();
    let (code, _, stderr) =
        api2mcp(&["serve", "--spec", "tests/fixtures/compile/v30-petstore/spec.yaml", "--listen", &address]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {address} (--listen): the address is in use")), "{stderr}");
    drop(held);

    let (code, _, stderr) =
        api2mcp(&["serve", "--spec", "tests/fixtures/compile/v30-petstore/spec.yaml", "--listen", "localhost"]);
    assert_eq!(code, 78, "a malformed address is a configuration error: {stderr}");
}
