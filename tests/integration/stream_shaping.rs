//! Stream-and-shape (issue 11, item 2): a large JSON response whose shaping keeps a few items is
//! shaped while it streams, under a response budget far smaller than the body, with the same
//! result as the buffered path; bodies that are malformed, cut short or endless fail as before.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::get;
use serde_json::{Map, Value, json};

use api2mcp::call::CallOutput;
use api2mcp::classify::Outcome;

const SERVE_SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/serve/openapi.yaml");
/// Items of the large body, about 100 bytes each: 24 MiB in all.
const ITEMS: usize = 250_000;
const BUDGET: usize = 2 * 1024 * 1024;

/// The large body, generated as it is sent: `{"items": [{"id": 0, "name": "pet 0", "pad": "…"}, …],
/// "total": ITEMS}`, or, for `kind`, a variant: `bad` (not JSON after its first MiBs), `cut` (the
/// connection ends mid-body), `endless` (items forever).
struct Generated {
    kind: &'static str,
    next: usize,
    done: bool,
}

impl futures_core::Stream for Generated {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::fmt::Write;
        if self.done {
            return std::task::Poll::Ready(None);
        }
        let mut chunk = String::new();
        if self.next == 0 {
            chunk.push_str(r#"{"items": ["#);
        }
        let end = if self.kind == "endless" { usize::MAX } else { ITEMS };
        for _ in 0..1000 {
            if self.next == end {
                break;
            }
            let comma = if self.next == 0 { "" } else { "," };
            let pad = "x".repeat(60);
            let _ = write!(chunk, r#"{comma}{{"id": {id}, "name": "pet {id}", "pad": "{pad}"}}"#, id = self.next);
            self.next += 1;
        }
        if self.kind == "bad" && self.next >= ITEMS / 4 {
            chunk.push_str("<html>oops</html>");
            self.done = true;
        } else if self.kind == "cut" && self.next >= ITEMS / 4 {
            self.done = true;
            return std::task::Poll::Ready(Some(Err(std::io::Error::other("cut"))));
        } else if self.next == end {
            let _ = write!(chunk, r#"], "total": {ITEMS}}}"#);
            self.done = true;
        }
        std::task::Poll::Ready(Some(Ok(Bytes::from(chunk))))
    }
}

fn large(kind: &'static str) -> axum::response::Response {
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(Generated { kind, next: 0, done: false }))
        .unwrap()
}

/// `getPet` keeps three items of `$.items` (streamable); `failWith` renders a template, which may read
/// anything, so its body is buffered. Both read the same bodies.
async fn caller(budget: usize) -> (Arc<api2mcp::call::Caller>, usize, usize) {
    let kinds = ["big", "bad", "cut", "endless"];
    let upstream = crate::support::serve_router(
        Router::new()
            .route(
                "/pets/{id}",
                get(move |axum::extract::Path(id): axum::extract::Path<String>| async move {
                    large(kinds.into_iter().find(|kind| *kind == id).unwrap_or("big"))
                }),
            )
            .route(
                "/status/{code}",
                get(move |axum::extract::Path(code): axum::extract::Path<usize>| async move { large(kinds[code]) }),
            ),
    )
    .await;
    // One directory per caller (the tests run at once), removed when this returns: only `prepare`
    // reads the mapping file.
    let dir = crate::support::temp_dir("stream-shaping");
    let path = dir.path().join("api2mcp.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nupstreams:\n  store:\n    spec: {SERVE_SPEC}\n    base_url: {upstream}\n\
             \x20   settings: {{max_response_bytes: 33554432}}\n\
             \x20   tools:\n\
             \x20     getPet: {{output: {{select: $.items, fields: [id, name], max_items: 3}}}}\n\
             \x20     failWith: {{output: {{template: '{{{{ response.total }}}}'}}}}\n"
        ),
    )
    .unwrap();
    let source = api2mcp::load::ConfigSource::Mapping(path);
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    assert!(!prepared.diagnostics.has_errors(), "{:?}", prepared.diagnostics);
    let catalogue = Arc::new(prepared.compiled.unwrap().catalogue);
    let (get_pet, fail_with) = (catalogue.tool_index("get_pet").unwrap(), catalogue.tool_index("fail_with").unwrap());
    let budget = api2mcp::body::Budget::new(budget);
    let caller = api2mcp::call::Caller::new(catalogue).unwrap().with_response_budget(budget);
    (Arc::new(caller), get_pet, fail_with)
}

fn arguments(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn code_of(outcome: &Outcome) -> &'static str {
    api2mcp::classify::classify(outcome, std::time::SystemTime::now(), &[]).code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_response_is_shaped_while_it_streams_under_a_small_budget() {
    let (caller, get_pet, fail_with) = caller(BUDGET).await;
    let output = caller.call(get_pet, arguments(json!({"petId": "big"})), &Default::default()).await;
    let Ok(CallOutput::Shaped(shaped)) = output else { panic!("{output:?}") };
    let (items, note) = shaped.text.split_once('\n').unwrap();
    assert_eq!(items, r#"[{"id":0,"name":"pet 0"},{"id":1,"name":"pet 1"},{"id":2,"name":"pet 2"}]"#);
    assert!(note.contains(&format!("showing 3 of {ITEMS} items")), "{note}");
    assert_eq!(caller.response_budget().available(), BUDGET, "every byte of budget is returned");

    // The buffered path cannot take this body under this budget: a buffered body is capped to it.
    let buffered = caller.call(fail_with, arguments(json!({"code": 0})), &Default::default()).await.unwrap_err();
    assert!(matches!(buffered, Outcome::ResponseTooLarge { .. }), "{buffered:?}");
    assert_eq!(caller.response_budget().available(), BUDGET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_cut_and_endless_streamed_bodies_fail_as_buffered_ones_do() {
    let (caller, get_pet, _) = caller(BUDGET).await;
    // With a budget the whole body fits, the buffered path reads the same bodies.
    let (roomy, _, fail_with) = caller_with_room().await;
    let streamed = |id: &'static str| {
        let caller = caller.clone();
        async move { caller.call(get_pet, arguments(json!({"petId": id})), &Default::default()).await.unwrap_err() }
    };

    let invalid = streamed("bad").await;
    assert!(
        matches!(&invalid, Outcome::InvalidResponse { reason } if reason.contains("not valid JSON")),
        "{invalid:?}"
    );
    assert_eq!(code_of(&invalid), "invalid_response");

    let cut = streamed("cut").await;
    let buffered_cut = roomy.call(fail_with, arguments(json!({"code": 2})), &Default::default()).await.unwrap_err();
    assert_eq!(code_of(&cut), code_of(&buffered_cut), "{cut:?} / {buffered_cut:?}");

    let endless = streamed("endless").await;
    assert!(matches!(endless, Outcome::ResponseTooLarge { limit: 33554432 }), "{endless:?}");
    assert_eq!(caller.response_budget().available(), BUDGET, "every byte of budget is returned");
}

async fn caller_with_room() -> (Arc<api2mcp::call::Caller>, usize, usize) {
    caller(64 * 1024 * 1024).await
}
