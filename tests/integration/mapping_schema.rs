//! The committed JSON Schema of the mapping file matches the Rust types it is generated from, and
//! every example mapping file in the repository validates against it.

use std::path::Path;

#[test]
fn committed_mapping_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/api2mcp.schema.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schemas/api2mcp.schema.json exists")).unwrap();
    assert!(
        committed == api2mcp::mapping::json_schema(),
        "schemas/api2mcp.schema.json is stale: regenerate it with `cargo run -- schema > schemas/api2mcp.schema.json`"
    );
}

/// Every `*.yaml` under `examples/` that is a mapping file (it has `upstreams:`), found by walking the
/// folder, so a new example is checked without being listed; plus two full fixtures.
fn mapping_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut folders = vec![root.join("examples")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && std::fs::read_to_string(&path).unwrap().lines().any(|line| line.starts_with("upstreams:"))
            {
                files.push(path);
            }
        }
    }
    for fixture in ["tests/fixtures/compile/mapping-full", "tests/fixtures/compile/server-variables"] {
        files.push(root.join(fixture).join("api2mcp.yaml"));
    }
    files.sort();
    files
}

#[test]
fn example_mapping_files_validate_against_the_schema() {
    let schema = api2mcp::mapping::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the mapping schema compiles");
    let files = mapping_files();
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    for example in ["petstore", "docker", "github-issues", "stripe-customers"] {
        assert!(names.iter().any(|n| n.contains(&format!("examples/{example}/"))), "{example} not found: {names:?}");
    }
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let (value, _) = api2mcp::load::yaml::parse(&text, false).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if !errors.is_empty() {
            failures.push(format!("{}: {errors:?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "mapping files the schema refuses:\n{}", failures.join("\n"));
}
