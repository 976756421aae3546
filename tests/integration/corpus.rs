//! Every real third-party document in `../shared/specs` (listed in its MANIFEST.tsv) compiles with no
//! error, and every generated `inputSchema` is valid JSON Schema 2020-12 without `$ref`.

use std::path::{Path, PathBuf};

use api2mcp::load::ConfigSource;
use api2mcp::pipeline::prepare;

fn corpus_entries() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv"))
        .expect("../shared/specs/MANIFEST.tsv must exist beside the project (CI puts ../shared there)");
    manifest
        .lines()
        .skip(1)
        .filter_map(|line| line.split('\t').next())
        .filter(|entry| !entry.is_empty())
        .map(|entry| dir.join(entry.split(' ').next().unwrap_or(entry)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shared_spec_compiles_to_valid_tools() {
    let entries = corpus_entries();
    assert!(entries.len() >= 28, "the corpus lists {} documents", entries.len());
    let meta = jsonschema::draft202012::meta::validator();
    let mut failures = Vec::new();
    for entry in entries {
        let source = ConfigSource::Spec { spec: entry.display().to_string(), base_url: None };
        let prepared = prepare(&source, &std::collections::HashMap::new()).await;
        if prepared.diagnostics.has_errors() {
            let first = prepared.diagnostics.sorted()[0].message.clone();
            failures.push(format!("{}: {first}", entry.display()));
            continue;
        }
        let catalogue = prepared.catalogue().expect("no errors means a catalogue");
        for tool in &catalogue.tools {
            let schema = serde_json::Value::Object((*tool.input_schema).clone());
            if let Err(error) = meta.validate(&schema) {
                failures.push(format!("{}: {}: invalid inputSchema: {error}", entry.display(), tool.name));
            }
            // A `$ref` keyword has a string value; a property that is named `$ref` (Kubernetes has one) does not.
            if schema.to_string().contains("\"$ref\":\"") {
                failures.push(format!("{}: {}: $ref left in inputSchema", entry.display(), tool.name));
            }
            if let Some(output) = &tool.output_schema {
                assert_eq!(output.get("type"), Some(&serde_json::json!("object")), "{}", tool.name);
            }
            assert!(tool.name.len() <= 64 && api2mcp::compile::names::is_valid_tool_name(&tool.name), "{}", tool.name);
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
