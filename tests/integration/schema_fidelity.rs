//! Issue 17's schema classes on a fixture of our own (`tests/fixtures/fidelity/schemas.yaml`): what
//! `tools/list` advertises, and that a value valid for the advertised schema goes through the real
//! request builder to a recording upstream byte for byte (and one it refuses is refused before).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use api2mcp::catalogue::Catalogue;
use api2mcp::classify::Outcome;
use api2mcp::load::ConfigSource;
use api2mcp::pipeline::prepare;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Map, Value, json};

/// (method, path and query, content type, body) of every request the upstream saw.
type Seen = Arc<Mutex<Vec<(String, String, String, Vec<u8>)>>>;

async fn recording_upstream(seen: Seen) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let seen = seen.clone();
        async move {
            let content_type =
                headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            seen.lock().unwrap().push((method.to_string(), uri.to_string(), content_type, body.to_vec()));
            axum::Json(json!({"ok": true}))
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

async fn compiled(base_url: Option<String>) -> (Catalogue, String) {
    let spec = "tests/fixtures/fidelity/schemas.yaml".to_string();
    let prepared = prepare(&ConfigSource::Spec { spec, base_url }, &HashMap::new()).await;
    let diagnostics = crate::support::rendered_diagnostics(&prepared);
    assert!(!prepared.diagnostics.has_errors(), "{diagnostics}");
    (prepared.compiled.expect("no errors").catalogue, diagnostics)
}

fn input<'a>(catalogue: &'a Catalogue, tool: &str) -> &'a Map<String, Value> {
    &catalogue.tools.iter().find(|t| t.name == tool).unwrap_or_else(|| panic!("no tool {tool}")).input_schema
}

#[tokio::test]
async fn advertised_schemas_say_what_the_api_and_the_call_accept() {
    let (catalogue, diagnostics) = compiled(None).await;
    // Item 7: the flow mapping indented at its key's column loads, with a warning at its line.
    assert!(diagnostics.contains("spec/yaml-recovered"), "{diagnostics}");
    assert!(diagnostics.contains("schemas.yaml:51"), "{diagnostics}");

    let rule = &input(&catalogue, "create_rule")["properties"];
    // Item 5: overlapping all-optional objects become anyOf; disjoint types stay oneOf; a
    // discriminator pins each variant's value, which makes the oneOf exact.
    assert!(rule["action"].get("oneOf").is_none() && rule["action"]["anyOf"].as_array().unwrap().len() == 2);
    assert_eq!(rule["mode"]["oneOf"], json!([{"type": "string"}, {"type": "integer"}]));
    let target = rule["target"]["oneOf"].as_array().expect("the discriminated oneOf stays oneOf");
    assert_eq!(target[0]["properties"]["kind"], json!({"type": "string", "const": "host"}));
    assert_eq!(target[1]["properties"]["kind"], json!({"type": "string", "const": "Ip"}));
    // Item 9: allOf intersects: the second branch's enum and pattern, the tighter bounds, the common enum.
    let settings = &rule["settings"]["properties"];
    assert_eq!(
        settings["strategy"],
        // A string enum needs no `type` (the lean inputSchema drops it).
        json!({"enum": ["round_robin", "random"], "pattern": "^[a-z_]+$"})
    );
    assert_eq!(settings["retries"], json!({"type": "integer", "minimum": 1, "maximum": 5}));
    assert_eq!(settings["level"], json!({"enum": ["mid", "high"]}));
    // Item 9: a `$ref`'d properties map gives its properties, not one called `ref`.
    assert_eq!(rule["labels"]["properties"], json!({"env": {"type": "string"}, "team": {"type": "string"}}));
    // Item 10: the deep tree is cut to fit, and each cut names its component and says the API takes it.
    let size = serde_json::to_vec(input(&catalogue, "create_rule")).unwrap().len();
    assert!(size <= 3_200, "create_rule's inputSchema is {size} bytes");
    let tree = serde_json::to_string(&rule["tree"]).unwrap();
    assert!(tree.contains("; fields not listed (any accepted)"), "{tree}");
    assert!(tree.contains(" A Level3; fields not listed"), "{tree}");

    // Item 10: variants of a union cut for size keep what tells them apart (the required `type`
    // and its values), where the tool has room for it.
    let action = input(&catalogue, "server_action");
    let size = serde_json::to_vec(action).unwrap().len();
    assert!(size <= 3_200, "server_action's inputSchema is {size} bytes");
    let body = &action["properties"]["body"];
    let variants = body.get("anyOf").or_else(|| body.get("oneOf")).and_then(Value::as_array).expect("a union");
    assert_eq!(variants.len(), 4, "{body}");
    for variant in variants {
        assert!(variant["description"].as_str().unwrap().ends_with("; fields not listed (any accepted)."), "{variant}");
        assert_eq!(variant["required"], json!(["type"]), "{variant}");
        assert_eq!(variant["properties"]["type"]["enum"][0], json!("reboot"), "{variant}");
    }
    let text = serde_json::to_string(action).unwrap();
    assert!(!text.contains("x-api2mcp"), "a mark left in {text}");

    // Item 5: an object path parameter must not be empty (it would be an empty path segment).
    assert_eq!(input(&catalogue, "get_zone")["properties"]["filter"]["minProperties"], json!(1));
    // Item 8: raw bytes are base64, said so; a text body takes its text.
    assert_eq!(
        input(&catalogue, "upload_file")["properties"]["body"],
        json!({"type": "string", "contentEncoding": "base64", "contentMediaType": "application/octet-stream"})
    );
    assert_eq!(input(&catalogue, "put_note")["properties"]["body"], json!({"type": "string"}));
    // Lean: a keyword of another type goes; a body that can only be `{}` is no argument.
    assert_eq!(input(&catalogue, "list_notes")["properties"], json!({"label": {"type": "string"}}));
}

#[tokio::test]
async fn values_valid_for_the_advertised_schema_reach_the_upstream_exactly() {
    let seen: Seen = Arc::default();
    let base_url = recording_upstream(seen.clone()).await;
    let (catalogue, _) = compiled(Some(base_url)).await;
    let index = |name: &str| catalogue.tools.iter().position(|tool| tool.name == name).unwrap();
    let (zone, rule, upload, note) = (index("get_zone"), index("create_rule"), index("upload_file"), index("put_note"));
    let (notes, action) = (index("list_notes"), index("server_action"));
    let caller = api2mcp::call::Caller::new(Arc::new(catalogue)).unwrap();
    let call = |tool: usize, arguments: Value| {
        let caller = &caller;
        async move {
            let Value::Object(arguments) = arguments else { unreachable!() };
            caller.call(tool, arguments, &Default::default()).await
        }
    };

    // Valid under both overlapping variants: refused before as "valid under more than one".
    let arguments = json!({
        "action": {"log": true},
        "target": {"kind": "Ip", "address": "192.0.2.1"},
        "settings": {"strategy": "random", "retries": 3, "level": "mid"},
        "labels": {"env": "prod"}
    });
    call(rule, arguments).await.expect("accepted");
    call(zone, json!({"filter": {"role": "admin"}})).await.expect("accepted");
    call(upload, json!({"body": "AAEC/w=="})).await.expect("accepted");
    call(note, json!({"body": "hello, world"})).await.expect("accepted");
    call(notes, json!({"label": "x"})).await.expect("accepted");
    call(action, json!({"id": 7, "body": {"type": "resize", "option3": "fast"}})).await.expect("accepted");
    let seen = seen.lock().unwrap().clone();
    let expected: Vec<(String, String, String, Vec<u8>)> = vec![
        (
            "POST".into(),
            "/rules".into(),
            "application/json".into(),
            br#"{"action":{"log":true},"target":{"kind":"Ip","address":"192.0.2.1"},"settings":{"strategy":"random","retries":3,"level":"mid"},"labels":{"env":"prod"}}"#.to_vec(),
        ),
        ("GET".into(), "/zones/role=admin".into(), String::new(), Vec::new()),
        ("PUT".into(), "/files".into(), "application/octet-stream".into(), vec![0, 1, 2, 255]),
        ("PUT".into(), "/notes".into(), "text/plain".into(), b"hello, world".to_vec()),
        // No body and no content type: the optional `{}` body is not sent.
        ("GET".into(), "/notes?label=x".into(), String::new(), Vec::new()),
        (
            "POST".into(),
            "/servers/7/actions".into(),
            "application/json".into(),
            br#"{"type":"resize","option3":"fast"}"#.to_vec(),
        ),
    ];
    assert_eq!(seen, expected);

    // What the advertised schema refuses is refused before anything is sent.
    for (tool, arguments) in [
        (zone, json!({"filter": {}})),
        (rule, json!({"settings": {"strategy": "weighted"}})),
        (rule, json!({"target": {"kind": "host", "address": "192.0.2.1"}})),
        // No variant lacks the required `type` any more, nor takes a value it does not list.
        (action, json!({"id": 7, "body": {"option3": "fast"}})),
        (action, json!({"id": 7, "body": {"type": "explode"}})),
    ] {
        let refused = call(tool, arguments.clone()).await.unwrap_err();
        assert!(matches!(refused, Outcome::InvalidArguments { .. }), "{arguments}: {refused:?}");
    }
}
