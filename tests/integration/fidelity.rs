//! Request fidelity on real-world constructs (issue 17): each class of construct is compiled from a
//! small fixture spec, called through the real argument check, request builder and HTTP client,
//! and the request is read byte for byte by a raw recording upstream. Form bodies are also read
//! back the way bracket-nesting readers (Stripe, PHP, `qs`; Rails/Rack) and OpenAPI-style readers
//! parse them. The Stripe case compiles `PostCustomers` from the shared Stripe description.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use api2mcp::call::{CallContext, Caller};
use api2mcp::catalogue::Catalogue;
use api2mcp::load::ConfigSource;
use api2mcp::pipeline::{Prepared, prepare};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::support::{RawRequest, TempFile, raw_recorder, rendered_diagnostics};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fidelity");

/// A compiled configuration whose upstream is a raw recorder.
struct Harness {
    catalogue: Arc<Catalogue>,
    caller: Caller,
    requests: UnboundedReceiver<RawRequest>,
    diagnostics: String,
    /// The mapping file, when there is one: removed when the harness is dropped.
    _mapping: Option<TempFile>,
}

impl Harness {
    async fn zero_config(spec: &str, answer: Value) -> Harness {
        let (base, requests) = raw_recorder(answer).await;
        let source = ConfigSource::Spec { spec: format!("{FIXTURES}/{spec}"), base_url: Some(base) };
        Harness::from(prepare(&source, &HashMap::new()).await, requests)
    }

    /// `mapping` is a mapping file's text with `{base}` for the recorder's URL.
    async fn mapping(label: &str, mapping: &str) -> Harness {
        let (base, requests) = raw_recorder(json!({})).await;
        let file = TempFile::new(&format!("fidelity-{label}"), "api2mcp.yaml", &mapping.replace("{base}", &base));
        let harness =
            Harness::from(prepare(&ConfigSource::Mapping(file.path.clone()), &HashMap::new()).await, requests);
        Harness { _mapping: Some(file), ..harness }
    }

    fn from(prepared: Prepared, requests: UnboundedReceiver<RawRequest>) -> Harness {
        let diagnostics = rendered_diagnostics(&prepared);
        assert!(!prepared.diagnostics.has_errors(), "{diagnostics}");
        let catalogue = Arc::new(prepared.compiled.expect("a catalogue").catalogue);
        let caller = Caller::new(catalogue.clone()).expect("a caller");
        Harness { catalogue, caller, requests, diagnostics, _mapping: None }
    }

    /// Calls a tool and returns the request the upstream received.
    async fn call(&mut self, tool: &str, arguments: Value) -> RawRequest {
        let index = self.catalogue.tool_index(tool).unwrap_or_else(|| panic!("no tool {tool}"));
        let Value::Object(arguments) = arguments else { panic!("arguments are an object") };
        let result = self.caller.call(index, arguments, &CallContext::default()).await;
        assert!(result.is_ok(), "{tool}: {result:?}");
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("the upstream saw the request")
            .expect("the recorder is running")
    }

    fn input_properties(&self, tool: &str) -> Vec<String> {
        let tool = self.catalogue.tool(tool).unwrap_or_else(|| panic!("no tool {tool}"));
        tool.input_schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
    }
}

// --- readers ------------------------------------------------------------------------------------

/// What a bracket-nesting reader builds from a form body: PHP's `parse_str`, `qs` and Stripe read
/// dense numeric segments as lists (`numeric_lists`); Rails/Rack keeps them as hash keys.
fn bracket_reader(body: &str, numeric_lists: bool) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in url::form_urlencoded::parse(body.as_bytes()) {
        let (name, rest) = key.split_once('[').map_or((key.as_ref(), ""), |(name, rest)| (name, rest));
        let mut path = vec![name.to_string()];
        path.extend(rest.trim_end_matches(']').split("][").filter(|s| !s.is_empty()).map(str::to_string));
        let mut node = &mut root;
        for (depth, segment) in path.iter().enumerate() {
            let map = node.as_object_mut().expect("an object node");
            if depth + 1 == path.len() {
                map.insert(segment.clone(), Value::String(value.to_string()));
                break;
            }
            node = map.entry(segment.clone()).or_insert_with(|| Value::Object(Map::new()));
        }
    }
    if numeric_lists { lists(root) } else { root }
}

/// Objects whose keys are exactly 0..n become lists, inside out.
fn lists(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let map: Map<String, Value> = map.into_iter().map(|(k, v)| (k, lists(v))).collect();
            let dense = !map.is_empty() && map.keys().enumerate().all(|(i, k)| *k == i.to_string());
            if dense { Value::Array(map.into_iter().map(|(_, v)| v).collect()) } else { Value::Object(map) }
        }
        other => other,
    }
}

/// What an OpenAPI-style reader recovers for one property, knowing its style, explode and type
/// (and, for an exploded object, its member names).
fn openapi_reader(body: &str, name: &str, style: &str, explode: bool, kind: &str, members: &[&str]) -> Value {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let own: Vec<&String> = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect();
    let delimiter = match style {
        "spaceDelimited" => ' ',
        "pipeDelimited" => '|',
        _ => ',',
    };
    match (kind, style, explode) {
        ("array", "deepObject", _) => json!(null),
        ("array", _, true) => json!(own),
        ("array", _, false) => json!(own.first().map(|v| v.split(delimiter).collect::<Vec<_>>()).unwrap_or_default()),
        ("object", "deepObject", _) => {
            let prefix = format!("{name}[");
            let map: Map<String, Value> = pairs
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(&prefix)?.strip_suffix(']').map(|member| (member.to_string(), json!(v)))
                })
                .collect();
            Value::Object(map)
        }
        ("object", _, true) => Value::Object(
            pairs.iter().filter(|(k, _)| members.contains(&k.as_str())).map(|(k, v)| (k.clone(), json!(v))).collect(),
        ),
        ("object", _, false) => {
            let items: Vec<&str> = own.first().map(|v| v.split(delimiter).collect()).unwrap_or_default();
            Value::Object(
                items.chunks(2).map(|pair| (pair[0].to_string(), json!(pair.get(1).unwrap_or(&"")))).collect(),
            )
        }
        _ => own.first().map_or(json!(null), |v| json!(v)),
    }
}

// --- form bodies --------------------------------------------------------------------------------

#[tokio::test]
async fn form_bodies_nest_like_form_readers_when_the_spec_gives_no_encoding() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    let arguments = json!({
        "name": "Ada L",
        "address": {"city": "Berlin", "line1": "Main St 1"},
        "tags": ["a", "b&c"],
        "items": [{"price": "p1", "quantity": 2}, {"price": "p2"}],
    });
    let request = harness.call("form_default", arguments).await;
    assert_eq!(request.request_line(), "POST /forms/default HTTP/1.1");
    assert_eq!(request.header("content-type").as_deref(), Some("application/x-www-form-urlencoded"));
    let body = request.body_text();
    assert_eq!(
        body,
        "name=Ada+L&address[city]=Berlin&address[line1]=Main+St+1&tags=a&tags=b%26c&items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2"
    );
    assert_eq!(request.header("content-length"), Some(body.len().to_string()));
    // Stripe, PHP and qs read it back as sent (numbers as text, as every form reader does).
    assert_eq!(
        bracket_reader(&body, true),
        json!({
            "name": "Ada L",
            "address": {"city": "Berlin", "line1": "Main St 1"},
            "tags": "b&c",
            "items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        })
    );
    // Rails/Rack keeps indexes as hash keys (`accepts_nested_attributes_for` reads exactly that).
    assert_eq!(
        bracket_reader(&body, false)["items"],
        json!({"0": {"price": "p1", "quantity": "2"}, "1": {"price": "p2"}})
    );
    // Repeated fields are OpenAPI's default for arrays (form, exploded).
    assert_eq!(openapi_reader(&body, "tags", "form", true, "array", &[]), json!(["a", "b&c"]));
}

#[tokio::test]
async fn form_styles_per_encoding_entry_read_back_as_sent() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    // (property, its encoding, its type, the value sent, the exact field(s) on the wire, how the
    // property's own reader reads them back)
    type Row = (&'static str, &'static str, bool, &'static str, Value, &'static str, Value);
    let rows: Vec<Row> = vec![
        ("tags", "pipeDelimited", false, "array", json!(["a b", "c|d"]), "tags=a+b|c%7Cd", json!(null)),
        ("tags", "pipeDelimited", false, "array", json!(["x", "y"]), "tags=x|y", json!(["x", "y"])),
        ("ids", "form", false, "array", json!([1, 2, 3]), "ids=1,2,3", json!(["1", "2", "3"])),
        ("words", "spaceDelimited", false, "array", json!(["x", "y"]), "words=x%20y", json!(["x", "y"])),
        ("color", "form", true, "object", json!({"r": 100, "g": 200}), "r=100&g=200", json!({"r": "100", "g": "200"})),
        (
            "filter",
            "deepObject",
            true,
            "object",
            json!({"status": "open"}),
            "filter[status]=open",
            json!({"status": "open"}),
        ),
        (
            "link",
            "form",
            true,
            "string",
            json!("https://x.test/a?b=c d"),
            "link=https://x.test/a?b%3Dc%20d",
            json!("https://x.test/a?b=c d"),
        ),
    ];
    for (property, style, explode, kind, value, wire, read) in rows {
        let request = harness.call("form_styled", json!({ property: value })).await;
        let body = request.body_text();
        assert_eq!(body, wire, "{property} {value}");
        if !read.is_null() {
            let members = ["r", "g"];
            assert_eq!(openapi_reader(&body, property, style, explode, kind, &members), read, "{property} {value}");
        }
    }
    // (The first row's `|` inside an item is sent as `%7C`, the delimiter as `|`: a reader that
    // splits before decoding gets both items back, one that decodes first cannot; the property
    // test below pins the former for every style.)
    // deepObject beyond one level, with arrays: bracket readers get the structure back.
    let request = harness.call("form_styled", json!({"filter": {"labels": ["open", "new"]}})).await;
    assert_eq!(request.body_text(), "filter[labels][0]=open&filter[labels][1]=new");
    assert_eq!(bracket_reader(&request.body_text(), true), json!({"filter": {"labels": ["open", "new"]}}));
    // A value the declared style cannot carry is refused before anything is sent.
    let index = harness.catalogue.tool_index("form_styled").unwrap();
    let Value::Object(nested) = json!({"ids": [[1]]}) else { unreachable!() };
    let refused = harness.caller.call(index, nested, &CallContext::default()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(harness.requests.try_recv().is_err(), "nothing was sent");
}

// --- multipart and empty bodies ----------------------------------------------------------------

/// The parts of a multipart body: (headers, content), boundary from the request's content type.
fn parts(request: &RawRequest) -> Vec<(String, String)> {
    let content_type = request.header("content-type").expect("a content type");
    let boundary = content_type.split("boundary=").nth(1).expect("a boundary").trim_matches('"').to_string();
    let body = request.body_text();
    assert!(body.ends_with(&format!("--{boundary}--\r\n")), "{body:?}");
    body.split(&format!("--{boundary}"))
        .filter(|part| part.starts_with("\r\n"))
        .map(|part| {
            let (head, content) = part[2..].split_once("\r\n\r\n").expect("part head");
            (head.to_string(), content.trim_end_matches("\r\n").to_string())
        })
        .collect()
}

#[tokio::test]
async fn multipart_parts_follow_the_encoding_object() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    let arguments = json!({"meta": {"title": "T"}, "picture": "iVBORw==", "labels": ["x", "y"], "note": "n"});
    let request = harness.call("upload", arguments).await;
    assert!(request.header("content-type").is_some_and(|c| c.starts_with("multipart/form-data; boundary=")));
    assert_eq!(
        parts(&request),
        vec![
            (
                "Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json".into(),
                r#"{"title":"T"}"#.into()
            ),
            (
                "Content-Disposition: form-data; name=\"picture\"; filename=\"picture\"\r\nContent-Type: image/png"
                    .into(),
                "\u{fffd}PNG".into()
            ),
            ("Content-Disposition: form-data; name=\"labels\"".into(), "x,y".into()),
            ("Content-Disposition: form-data; name=\"note\"".into(), "n".into()),
        ]
    );
}

#[tokio::test]
async fn required_bodies_with_only_optional_properties_are_sent_empty() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    let request = harness.call("upload_empty", json!({})).await;
    assert_eq!(request.header("content-type").as_deref(), Some("multipart/form-data; boundary=api2mcp-empty-form"));
    assert_eq!(request.body, b"--api2mcp-empty-form--\r\n");
    let request = harness.call("put_settings", json!({})).await;
    assert_eq!(request.request_line(), "PUT /settings HTTP/1.1");
    assert_eq!(request.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(request.body, b"{}");
}

// --- content types ------------------------------------------------------------------------------

#[tokio::test]
async fn content_types_are_real_types() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    // A wildcard body type is sent as the body's real type.
    let request = harness.call("post_anything", json!({"kind": "x"})).await;
    assert_eq!(request.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(request.body_text(), r#"{"kind":"x"}"#);
    // An XML document described as a string is sent as written; a structured one is refused at
    // compile time rather than sent as JSON text.
    let request = harness.call("post_xml_document", json!({"body": "<pet><name>Rex</name></pet>"})).await;
    assert_eq!(request.header("content-type").as_deref(), Some("application/xml"));
    assert_eq!(request.body_text(), "<pet><name>Rex</name></pet>");
    assert!(harness.catalogue.tool("post_xml_object").is_none());
    assert!(harness.diagnostics.contains("warning[spec/unsupported-body]"), "{}", harness.diagnostics);
    assert!(harness.diagnostics.contains("postXmlObject"), "{}", harness.diagnostics);
}

#[tokio::test]
async fn swagger2_wildcard_consumes_sends_json() {
    let mut harness = Harness::zero_config("swagger2.yaml", json!({})).await;
    let request = harness.call("create_namespace", json!({"metadata": {"name": "dev"}})).await;
    assert_eq!(request.request_line(), "POST /api/v1/namespaces HTTP/1.1");
    assert_eq!(request.header_values("content-type"), vec!["application/json"]);
    assert_eq!(request.body_text(), r#"{"metadata":{"name":"dev"}}"#);
}

#[tokio::test]
async fn declared_accept_and_content_type_headers_are_sent_and_reported() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    // Neither is an argument the agent could set; a free-form header stays an argument.
    assert_eq!(harness.input_properties("list_incidents"), vec!["X-Free".to_string()]);
    let request = harness.call("list_incidents", json!({"X-Free": "1"})).await;
    assert_eq!(request.request_line(), "GET /incidents HTTP/1.1");
    assert_eq!(request.header_values("accept"), vec!["application/vnd.pagerduty+json;version=2"]);
    assert_eq!(request.header_values("content-type"), vec!["application/json"]);
    assert_eq!(request.header("x-free").as_deref(), Some("1"));
    assert!(request.body.is_empty());
    let request = harness.call("create_incident", json!({"title": "t"})).await;
    assert_eq!(request.header_values("content-type"), vec!["application/vnd.pagerduty+json"]);
    assert_eq!(request.body_text(), r#"{"title":"t"}"#);
    assert!(
        harness.diagnostics.contains(
            "Accept: application/vnd.pagerduty+json;version=2 (1 operations), Content-Type: application/json (1 operations), Content-Type: application/vnd.pagerduty+json (1 operations)"
        ),
        "{}",
        harness.diagnostics
    );
}

// --- path keys ----------------------------------------------------------------------------------

#[tokio::test]
async fn path_keys_lose_fragments_and_send_their_query() {
    let mut harness = Harness::zero_config("requests.yaml", json!({})).await;
    // The fragment still names the tool (it is what tells the operations apart).
    let tool = harness
        .catalogue
        .tools
        .iter()
        .find(|tool| tool.source.path.ends_with("#get_shared_link"))
        .map(|tool| tool.name.clone())
        .expect("a tool for the fragment key");
    assert!(tool.contains("get_shared_link"), "{tool}");
    let request = harness.call(&tool, json!({"file_id": "12345", "fields": "name"})).await;
    assert_eq!(request.request_line(), "GET /files/12345?fields=name HTTP/1.1");
    let request = harness.call("cancel_response", json!({"id": "r/1", "reason": "x y"})).await;
    assert_eq!(request.request_line(), "POST /responses/r%2F1/cancel?beta=true&mode=a%20b&reason=x%20y HTTP/1.1");
}

// --- pagination ---------------------------------------------------------------------------------

#[tokio::test]
async fn inferred_pagination_sends_required_paging_parameters_on_the_first_page() {
    let mut harness = Harness::zero_config("requests.yaml", json!({"data": []})).await;
    // `offset` is driven by api2mcp and hidden, `limit` stays the agent's.
    let properties = harness.input_properties("list_payouts");
    assert!(!properties.contains(&"offset".to_string()) && properties.contains(&"limit".to_string()), "{properties:?}");
    let request = harness.call("list_payouts", json!({"limit": 5})).await;
    assert_eq!(request.request_line(), "GET /payouts?offset=0&limit=5 HTTP/1.1");
}

// --- credentials --------------------------------------------------------------------------------

#[tokio::test]
async fn credentials_follow_each_operations_security() {
    let mapping = format!(
        "version: 1\nupstreams:\n  square:\n    spec: {FIXTURES}/security.yaml\n    base_url: {{base}}\n    credentials:\n      oauth2: {{type: bearer, value: oauth-token}}\n      square_key: {{value: square-key}}\n      tenant: {{value: t1}}\n"
    );
    let mut harness = Harness::mapping("security", &mapping).await;
    let cases: &[(&str, &str, Option<&str>)] = &[
        // Global security: OAuth2 first, and configured.
        ("global_security", "GET /global HTTP/1.1", Some("Bearer oauth-token")),
        ("key_only", "GET /key-only HTTP/1.1", Some("square-key")),
        // The first alternative lacks `partner`; the second is complete (an AND of two schemes).
        ("both", "GET /both?tenant=t1 HTTP/1.1", Some("square-key")),
        ("public", "GET /public HTTP/1.1", None),
        // Anonymous is allowed and `partner` is not configured.
        ("optional", "GET /optional HTTP/1.1", None),
        ("partner_only", "GET /partner HTTP/1.1", None),
    ];
    for (tool, line, authorization) in cases {
        let request = harness.call(tool, json!({})).await;
        assert_eq!(request.request_line(), *line, "{tool}");
        let expected: Vec<String> = authorization.iter().map(|a| a.to_string()).collect();
        assert_eq!(request.header_values("authorization"), expected, "{tool}");
    }
    assert!(
        harness.diagnostics.contains("warning[upstream/no-credentials-for-operation]: upstream 'square': operation 'partnerOnly' (GET /partner) need credentials none of which are configured (it accepts 'partner')"),
        "{}",
        harness.diagnostics
    );
}

// --- Stripe -------------------------------------------------------------------------------------

#[tokio::test]
async fn stripe_create_customer_sends_the_form_body_stripe_documents() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs/stripe.v3.yaml");
    let mapping = format!(
        "version: 1\nupstreams:\n  stripe:\n    spec: {}\n    base_url: {{base}}\n    include: [{{operation_id: PostCustomers}}]\n    credentials:\n      bearerAuth: {{value: sk_test_123}}\n",
        spec.display()
    );
    let mut harness = Harness::mapping("stripe", &mapping).await;
    let arguments = json!({
        "name": "Jenny Rosen",
        "email": "jenny.rosen@example.com",
        "address": {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"},
        "metadata": {"order_id": "6735"},
        "expand": ["tax", "invoice_settings.default_payment_method"],
        "preferred_locales": ["de", "en"],
    });
    let request = harness.call("post_customers", arguments).await;
    assert_eq!(request.request_line(), "POST /v1/customers HTTP/1.1");
    assert_eq!(request.header("content-type").as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(request.header_values("authorization"), vec!["Bearer sk_test_123"]);
    assert_eq!(
        request.body_text(),
        "address[line1]=Unter+den+Linden+1&address[city]=Berlin&address[postal_code]=10117&address[country]=DE\
         &email=jenny.rosen%40example.com\
         &expand[0]=tax&expand[1]=invoice_settings.default_payment_method\
         &metadata[order_id]=6735\
         &name=Jenny+Rosen\
         &preferred_locales[0]=de&preferred_locales[1]=en"
    );
    // Stripe's `metadata: ''` (unset) is a scalar in deepObject style: `metadata=`.
    let request = harness.call("post_customers", json!({"metadata": ""})).await;
    assert_eq!(request.body_text(), "metadata=");
}

// --- properties of the form encoder -------------------------------------------------------------

mod properties {
    use api2mcp::call::request::{RequestBodyBytes, build};
    use api2mcp::catalogue::{
        ArgumentBinding, ArgumentLocation, CredentialChoice, ParameterStyle, PropertyEncoding, RequestBody,
        UpstreamCall,
    };
    use api2mcp::spec::HttpMethod;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::bracket_reader;

    /// A form body of one property `p` with the given encoding, built by the real request builder.
    fn form_body(value: &Value, encoding: PropertyEncoding) -> String {
        let call = UpstreamCall {
            method: HttpMethod::Post,
            path: "/forms".into(),
            arguments: vec![ArgumentBinding {
                argument: "p".into(),
                location: ArgumentLocation::BodyProperty,
                wire_name: "p".into(),
                required: false,
                style: ParameterStyle::Form,
                explode: true,
                allow_reserved: false,
            }],
            body: Some(RequestBody {
                content_type: "application/x-www-form-urlencoded".into(),
                required: true,
                encoding: vec![("p".into(), encoding)],
            }),
            accept: Vec::new(),
            fixed_query: Vec::new(),
            declared_content_type: None,
            credentials: CredentialChoice::All,
        };
        let mut arguments = Map::new();
        arguments.insert("p".into(), value.clone());
        match build("http://127.0.0.1:9", &call, &arguments, &[]).expect("builds").body {
            RequestBodyBytes::Bytes { bytes, .. } => String::from_utf8(bytes).expect("ASCII"),
            other => panic!("{other:?}"),
        }
    }

    /// What survives on the wire: scalars as text; nulls, empty arrays and empty objects left out.
    fn normalize(value: &Value) -> Option<Value> {
        match value {
            Value::Null => None,
            Value::String(text) => Some(json!(text)),
            Value::Number(_) | Value::Bool(_) => Some(json!(value.to_string())),
            Value::Array(items) => {
                let items: Vec<Value> = items.iter().filter_map(normalize).collect();
                (!items.is_empty()).then_some(Value::Array(items))
            }
            Value::Object(map) => {
                let map: Map<String, Value> =
                    map.iter().filter_map(|(k, v)| normalize(v).map(|v| (k.clone(), v))).collect();
                (!map.is_empty()).then_some(Value::Object(map))
            }
        }
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                // Member names start with a letter: all-digit names read as list indexes.
                prop::collection::vec(("[a-z][a-z0-9 _.&=+%-]{0,5}", inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// deepObject nesting of anything reads back, through a bracket reader, as what was sent.
        #[test]
        fn deep_object_round_trips_through_bracket_readers(value in values()) {
            let encoding = PropertyEncoding { style: Some(ParameterStyle::DeepObject), ..PropertyEncoding::default() };
            let body = form_body(&value, encoding);
            let expected = normalize(&value).map_or(json!({}), |value| json!({ "p": value }));
            prop_assert_eq!(bracket_reader(&body, true), expected, "{}", body);
        }

        /// The delimiters of the non-exploded styles never collide with an item's own characters:
        /// split on the delimiter before decoding, and every item comes back.
        #[test]
        fn delimited_items_never_collide(items in prop::collection::vec("\\PC{0,6}", 1..5), style in 0..3usize) {
            let (style, delimiter) = [
                (ParameterStyle::Form, ","),
                (ParameterStyle::SpaceDelimited, "%20"),
                (ParameterStyle::PipeDelimited, "|"),
            ][style];
            let encoding = PropertyEncoding { style: Some(style), explode: Some(false), ..PropertyEncoding::default() };
            let body = form_body(&json!(items), encoding);
            let raw = body.strip_prefix("p=").expect("one field");
            prop_assert!(!raw.contains('&'));
            let read: Vec<String> = raw
                .split(delimiter)
                .map(|item| url::form_urlencoded::parse(format!("x={item}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default())
                .collect();
            prop_assert_eq!(read, items);
        }
    }
}
