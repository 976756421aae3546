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

#[test]
fn example_mapping_files_validate_against_the_schema() {
    let schema = api2mcp::mapping::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the mapping schema compiles");
    let mut checked = 0;
    for dir in ["examples/petstore", "tests/fixtures/compile/mapping-full", "tests/fixtures/compile/server-variables"] {
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n.to_string_lossy().ends_with("api2mcp.yaml")) {
                let text = std::fs::read_to_string(&path).unwrap();
                let (value, _) = api2mcp::load::yaml::parse(&text, false).unwrap();
                let errors: Vec<String> = validator.iter_errors(&value).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}: {errors:?}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 3, "checked {checked} mapping files");
}
