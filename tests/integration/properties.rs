//! Property tests (proptest) for the encoders and parsers an agent's input goes through: the request
//! builder (path, query, header and body encoding round-trips; nothing leaves its place) and JSON-RPC
//! framing over stdio (every line with an id gets exactly one well-formed answer; never a hang).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::Stdio;

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());

/// The catalogue of `hostile.yaml`, compiled once: the request builder is exercised on real bindings.
static CATALOGUE: LazyLock<Arc<api2mcp::catalogue::Catalogue>> = LazyLock::new(|| {
    let source = api2mcp::load::ConfigSource::Spec {
        spec: "tests/fixtures/serve/hostile.yaml".into(),
        base_url: Some("http://127.0.0.1:9/base".into()),
    };
    let prepared = RUNTIME.block_on(api2mcp::pipeline::prepare(&source, &HashMap::new()));
    Arc::new(prepared.compiled.expect("hostile.yaml compiles").catalogue)
});

const BASE_URL: &str = "http://127.0.0.1:9/base";

fn build(tool: &str, arguments: Value) -> Result<api2mcp::call::request::BuiltRequest, String> {
    let tool = CATALOGUE.tool(tool).expect("the tool exists");
    let arguments: Map<String, Value> = arguments.as_object().cloned().unwrap();
    api2mcp::call::request::build(BASE_URL, &tool.call, &arguments, &[]).map_err(|error| format!("{error:?}"))
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8().expect("UTF-8 after decoding").into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// A path value stays inside its one segment and decodes to exactly the input; the origin and the
    /// rest of the path never change.
    #[test]
    fn a_path_value_stays_in_its_segment(id in any::<String>().prop_filter("non-empty", |s| !s.is_empty())) {
        let built = match build("echo", json!({"id": id})) {
            Ok(built) => built,
            // Dot segments would be normalised away by the URL parser: refused, never sent elsewhere.
            Err(error) => {
                prop_assert!(id == "." || id == "..", "{id:?}: {error}");
                return Ok(());
            }
        };
        let url = built.url.clone();
        prop_assert_eq!(url.origin().ascii_serialization(), "http://127.0.0.1:9");
        let segments: Vec<&str> = url.path_segments().unwrap().collect();
        prop_assert_eq!(segments.len(), 3, "{}", built.url);
        prop_assert_eq!(&segments[..2], &["base", "echo"]);
        prop_assert_eq!(decode(segments[2]), id);
        prop_assert!(url.query().is_none() && url.fragment().is_none(), "{}", built.url);
    }

    /// A query value is one pair that decodes to exactly the input, whatever delimiters it holds.
    #[test]
    fn a_query_value_is_one_pair_that_round_trips(q in any::<String>()) {
        let built = build("echo", json!({"id": "x", "q": q})).expect("any string is a query value");
        let url = built.url.clone();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        prop_assert_eq!(pairs, vec![("q".to_string(), q)]);
        prop_assert_eq!(url.path(), "/base/echo/x");
        prop_assert!(url.fragment().is_none());
    }

    /// Integers keep their exact value in the query.
    #[test]
    fn integers_round_trip_in_the_query(n in any::<i64>()) {
        let built = build("echo", json!({"id": "x", "n": n})).unwrap();
        prop_assert!(built.url.as_str().ends_with(&format!("?n={n}")), "{}", built.url);
    }

    /// A header value is sent exactly as given, or refused: never with a line break or control character.
    #[test]
    fn a_header_value_is_exact_or_refused(value in any::<String>()) {
        match build("echo", json!({"id": "x", "X-Trace": value})) {
            Ok(built) => {
                let sent = built.headers.iter().find(|(name, _)| name == "X-Trace").map(|(_, v)| v.clone());
                prop_assert_eq!(sent.as_deref(), Some(value.as_str()));
                prop_assert!(!value.chars().any(|c| c.is_control() && c != '\t'), "{value:?} was sent");
                prop_assert!(built.headers.iter().all(|(name, _)| !api2mcp::catalogue::is_reserved_header(name)));
            }
            Err(error) => {
                prop_assert!(value.chars().any(|c| !c.is_ascii() || (c.is_ascii_control() && c != '\t')), "{value:?}: {error}");
                prop_assert!(error.contains("X-Trace"), "{error}");
            }
        }
    }

    /// A JSON body holds exactly the arguments given.
    #[test]
    fn a_json_body_round_trips(name in any::<String>(), count in any::<i64>()) {
        let built = build("create_item", json!({"name": name, "count": count})).unwrap();
        let api2mcp::call::request::RequestBodyBytes::Bytes { bytes, .. } = built.body else {
            return Err(TestCaseError::fail("a JSON body"));
        };
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(body, json!({"name": name, "count": count}));
    }
}

/// One line sent over stdio, and what must come back for it.
#[derive(Debug, Clone)]
enum Line {
    /// A valid request: one result with this id.
    Ping(u32),
    /// `"jsonrpc": "1.0"`: one -32600 error with this id.
    OldVersion(u32),
    /// A batch of pings: one array holding an error for each id.
    Batch(Vec<u32>),
    /// Not JSON at all: one -32700 error with id null.
    Garbage(String),
    /// An id that is not a string or an integer: one -32600 error with id null.
    ObjectId,
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        any::<u32>().prop_map(Line::Ping),
        any::<u32>().prop_map(Line::OldVersion),
        proptest::collection::vec(any::<u32>(), 1..4).prop_map(Line::Batch),
        "[^\n\r\u{feff}]{1,40}"
            .prop_filter("not JSON", |s| !s.trim().is_empty() && serde_json::from_str::<Value>(s).is_err())
            .prop_map(Line::Garbage),
        Just(Line::ObjectId),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_stdio_line_gets_exactly_its_answers(lines in proptest::collection::vec(line(), 1..12)) {
        RUNTIME.block_on(async move {
            let mut stdio = Stdio::start().await;
            // Ids are made unique per case so that each answer can be matched to its line.
            let mut expected_ids: Vec<Value> = Vec::new();
            let mut expected_nulls = 0;
            let mut expected_arrays = 0;
            for (index, line) in lines.iter().enumerate() {
                let id = |n: &u32| json!(format!("{index}-{n}"));
                let text = match line {
                    Line::Ping(n) => {
                        expected_ids.push(id(n));
                        json!({"jsonrpc": "2.0", "id": id(n), "method": "ping"}).to_string()
                    }
                    Line::OldVersion(n) => {
                        expected_ids.push(id(n));
                        json!({"jsonrpc": "1.0", "id": id(n), "method": "ping"}).to_string()
                    }
                    Line::Batch(ns) => {
                        expected_arrays += 1;
                        let items: Vec<Value> =
                            ns.iter().enumerate().map(|(k, _)| json!({"jsonrpc": "2.0", "id": format!("{index}-b{k}"), "method": "ping"})).collect();
                        Value::Array(items).to_string()
                    }
                    Line::Garbage(text) => {
                        expected_nulls += 1;
                        text.clone()
                    }
                    Line::ObjectId => {
                        expected_nulls += 1;
                        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#.to_string()
                    }
                };
                stdio.send(&text).await;
            }
            stdio.send(r#"{"jsonrpc":"2.0","id":"end","method":"ping"}"#).await;
            expected_ids.push(json!("end"));
            let mut answered: Vec<Value> = Vec::new();
            let (mut nulls, mut arrays) = (0, 0);
            // Every expected answer arrives (a missing one fails `answer`'s deadline instead of hanging).
            while !expected_ids.iter().all(|id| answered.contains(id)) {
                let answer = stdio.answer().await;
                match &answer {
                    Value::Array(items) => {
                        arrays += 1;
                        assert!(items.iter().all(|item| item["error"]["code"] == -32600), "{answer}");
                    }
                    _ => {
                        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
                        assert!(answer.get("result").is_some() != answer.get("error").is_some(), "{answer}");
                        if answer["id"].is_null() {
                            nulls += 1;
                        } else {
                            assert!(!answered.contains(&answer["id"]), "two answers for {}", answer["id"]);
                            answered.push(answer["id"].clone());
                        }
                    }
                }
            }
            // Answers written here (errors) precede rmcp's answer to the last line.
            assert_eq!((nulls, arrays), (expected_nulls, expected_arrays), "{lines:?}");
            assert_eq!(answered.len(), expected_ids.len(), "{answered:?}");
        });
    }
}
