//! Specs fetched over HTTP: a multi-file description served by a real axum server on 127.0.0.1:0,
//! relative `$ref`s resolved against URLs, a relative server URL resolved against the spec's URL, and
//! a clear diagnostic for a URL that fails.

use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

const ROOT: &str = r#"openapi: 3.1.0
info: {title: Remote, version: '1'}
servers: [{url: /api/v2}]
paths:
  /widgets:
    get:
      operationId: listWidgets
      summary: List widgets
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: 'schemas/widget.yaml#/WidgetPage'}
"#;

const WIDGET: &str = r#"WidgetPage:
  type: object
  properties:
    items: {type: array, items: {$ref: '#/Widget'}}
Widget:
  type: object
  properties:
    id: {type: string}
"#;

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/specs/openapi.yaml", get(|| async { ROOT }))
        .route("/specs/schemas/widget.yaml", get(|| async { WIDGET }))
        .route("/specs/broken.yaml", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

#[tokio::test]
async fn multi_file_spec_loads_from_a_url() {
    let address = serve().await;
    // A mapping file that names the spec by URL, asking for output schemas so that the `$ref`s into
    // the second document are followed.
    let dir = crate::support::temp_dir("remote");
    let mapping = dir.path().join("api2mcp.yaml");
    std::fs::write(
        &mapping,
        format!("defaults: {{output_schema: always}}\nupstreams:\n  remote:\n    spec: http://{address}/specs/openapi.yaml\n"),
    )
    .unwrap();
    let source = api2mcp::load::ConfigSource::Mapping(mapping);
    let prepared = api2mcp::pipeline::prepare(&source, &std::collections::HashMap::new()).await;
    dir.close().unwrap();
    assert!(prepared.diagnostics.is_empty(), "{:?}", prepared.diagnostics);
    let catalogue = prepared.catalogue().unwrap();
    assert_eq!(catalogue.upstreams[0].base_url.as_deref(), Some(format!("http://{address}/api/v2").as_str()));
    let tool = catalogue.tool("list_widgets").unwrap();
    assert_eq!(
        serde_json::Value::Object(tool.output_schema.clone().unwrap()),
        serde_json::json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}}}})
    );
}

#[tokio::test]
async fn failing_url_is_a_diagnostic_naming_it() {
    let address = serve().await;
    let spec = format!("http://{address}/specs/broken.yaml");
    let source = api2mcp::load::ConfigSource::Spec { spec: spec.clone(), base_url: None };
    let prepared = api2mcp::pipeline::prepare(&source, &std::collections::HashMap::new()).await;
    let messages: Vec<String> = prepared.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message)).collect();
    assert_eq!(messages, [format!("spec/unreadable: cannot fetch '{spec}': HTTP status 500 Internal Server Error")]);
}
