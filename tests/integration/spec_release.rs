//! The compile lets go of each path item, and of each document only one operation names, once the
//! tools it gives are built (issue 17 item 10, `compile::compile`): every tool is still built from
//! the whole of what it refers to, and what is let go is let go.

use std::collections::HashMap;

use api2mcp::catalogue::Catalogue;
use api2mcp::load::ConfigSource;
use api2mcp::pipeline::{Prepared, prepare};
use serde_json::{Value, json};

async fn prepared(spec: &str) -> Prepared {
    let spec = format!("tests/fixtures/release/{spec}");
    let prepared = prepare(&ConfigSource::Spec { spec, base_url: None }, &HashMap::new()).await;
    let diagnostics = crate::support::rendered_diagnostics(&prepared);
    assert!(!prepared.diagnostics.has_errors(), "{diagnostics}");
    prepared
}

fn properties(catalogue: &Catalogue, tool: &str) -> Value {
    let tool = catalogue.tools.iter().find(|t| t.name == tool).unwrap_or_else(|| panic!("no tool {tool}"));
    tool.input_schema["properties"].clone()
}

#[tokio::test]
async fn a_document_named_by_one_operation_is_let_go_once_its_tool_is_built() {
    let prepared = prepared("split.yaml").await;
    let catalogue = prepared.catalogue().unwrap();
    let names: Vec<&str> = catalogue.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["shared_op", "shared_op_2", "once_op", "inline_d"]);
    // Both operations of the shared document got all of it, the second one too.
    for tool in ["shared_op", "shared_op_2"] {
        assert_eq!(properties(catalogue, tool)["filter"]["enum"], json!(["all", "some"]), "{tool}");
    }
    assert_eq!(properties(catalogue, "once_op")["size"]["minimum"], 1);
    // The path item's own parameters count for its operation.
    assert_eq!(properties(catalogue, "inline_d")["level"]["type"], "integer");

    let spec = &prepared.loaded.as_ref().unwrap().specs["api"];
    let document = |name: &str| &spec.documents.iter().find(|d| d.url.path().ends_with(name)).unwrap().value;
    assert_eq!(document("ops/once.yaml"), &Value::Null, "named once: let go");
    assert_eq!(document("ops/shared.yaml")["operationId"], "sharedOp", "named twice: kept");
    assert_eq!(spec.root()["paths"]["/d"], Value::Null, "an inline path item is let go");
    assert_eq!(spec.root()["info"]["title"], "Split", "the rest stays");
}

#[tokio::test]
async fn no_path_item_is_let_go_when_a_ref_points_into_one() {
    let prepared = prepared("paths-ref.yaml").await;
    let catalogue = prepared.catalogue().unwrap();
    assert_eq!(properties(catalogue, "second")["cursor"]["maxLength"], 40);
    let spec = &prepared.loaded.as_ref().unwrap().specs["api"];
    assert!(spec.root()["paths"]["/first"].is_object());
}

#[tokio::test]
async fn files_named_only_inside_unread_extensions_are_not_read() {
    let prepared = prepared("samples.yaml").await;
    let catalogue = prepared.catalogue().unwrap();
    assert_eq!(properties(catalogue, "list_a")["filter"]["enum"], json!(["all", "some"]));
    // `params.yml#/x-trace` names a parameter, not an extension.
    assert_eq!(properties(catalogue, "list_a")["X-Trace"], json!({"type": "string", "maxLength": 64}));
    let spec = &prepared.loaded.as_ref().unwrap().specs["api"];
    let read: Vec<&str> = spec.documents.iter().map(|d| d.url.path().rsplit('/').next().unwrap()).collect();
    assert_eq!(read, ["samples.yaml", "params.yml", "shared.yaml"]);
}

#[tokio::test]
async fn a_ref_into_an_extension_keeps_extensions_and_what_they_name() {
    let named = prepared("extension-ref.yaml").await;
    assert_eq!(properties(named.catalogue().unwrap(), "list_a")["size"]["minimum"], 1);
    // At the top of a file named whole where keywords stand, an `x-` key is an extension too.
    let top = prepared("top-extension-ref.yaml").await;
    assert_eq!(properties(top.catalogue().unwrap(), "list_b")["size"]["minimum"], 1);
}

#[tokio::test]
async fn examples_nothing_reads_are_let_go_and_what_only_they_name_is_not_read() {
    let prepared = prepared("examples.yaml").await;
    let properties = properties(prepared.catalogue().unwrap(), "create_a");
    assert_eq!(properties["tag"]["examples"], json!(["blue"]), "a parameter's example is read");
    let spec = &prepared.loaded.as_ref().unwrap().specs["api"];
    let read: Vec<&str> = spec.documents.iter().map(|d| d.url.path().rsplit('/').next().unwrap()).collect();
    assert_eq!(read, ["examples.yaml"]);
    assert_eq!(spec.root()["components"], json!({}));
}

#[tokio::test]
async fn a_ref_into_examples_keeps_them() {
    let prepared = prepared("examples-ref.yaml").await;
    assert_eq!(properties(prepared.catalogue().unwrap(), "list_b")["size"]["minimum"], 1);
    let spec = &prepared.loaded.as_ref().unwrap().specs["api"];
    assert!(spec.root()["components"]["examples"]["Size"].is_object());
}

#[tokio::test]
async fn a_file_whose_keys_turn_out_to_be_names_is_read_again_for_its_refs() {
    let prepared = prepared("dual.yaml").await;
    assert_eq!(properties(prepared.catalogue().unwrap(), "get_b")["size"]["minimum"], 1);
}

#[tokio::test]
async fn a_ref_to_a_document_loading_passed_over_is_an_error_not_a_lost_parameter() {
    // As if loading had not followed `size.yaml` (what it did before it walked a file again) and
    // said nothing: the compile reports the `$ref`, it does not leave the parameter out silently.
    let source = ConfigSource::Spec { spec: "tests/fixtures/release/dual.yaml".into(), base_url: None };
    let mut diagnostics = api2mcp::diag::Diagnostics::new();
    let mut loaded = api2mcp::load::load_config(&source, &HashMap::new(), &mut diagnostics).await.unwrap();
    assert!(!diagnostics.has_errors());
    let spec = loaded.specs.get_mut("api").unwrap();
    let mut documents = std::mem::take(&mut spec.documents);
    documents.retain(|d| !d.url.path().ends_with("dual/size.yaml"));
    *spec = api2mcp::spec::Spec::new(documents, spec.version);
    let prepared = api2mcp::pipeline::compile_loaded(loaded, diagnostics);
    let unresolved: Vec<&str> =
        (prepared.diagnostics.iter()).filter(|d| d.code == "spec/unresolved-ref").map(|d| d.message.as_str()).collect();
    assert_eq!(unresolved.len(), 1, "{unresolved:?}");
    assert!(unresolved[0].contains("'size.yaml'") && unresolved[0].contains("which was not loaded"), "{unresolved:?}");
}
