//! Snapshot tests over `tests/fixtures/compile/*`: one folder per case (a spec, or a mapping file and
//! its specs) → diagnostics, the `tools/list` JSON and where every argument goes.

use std::path::Path;

use crate::support::{describe_calls, prepare_case, rendered_diagnostics};

async fn snapshot_case(name: &str) {
    let dir = Path::new("tests/fixtures/compile").join(name);
    let prepared = prepare_case(&dir).await;
    let mut text = format!("== diagnostics\n{}", rendered_diagnostics(&prepared));
    if let Some(catalogue) = prepared.catalogue() {
        let list = serde_json::to_string_pretty(&catalogue.tools_list_json()).unwrap();
        // `tools --json` writes the list straight from the tools: the same bytes as the value.
        assert_eq!(
            serde_json::to_string(&catalogue.tools_list()).unwrap(),
            catalogue.tools_list_json().to_string(),
            "{name}: the borrowed tools/list differs from the value"
        );
        text.push_str(&format!("== tools/list\n{list}\n== calls\n{}", describe_calls(catalogue)));
        for tool in &catalogue.tools {
            jsonschema::draft202012::meta::validator()
                .validate(&serde_json::Value::Object((*tool.input_schema).clone()))
                .unwrap_or_else(|error| {
                    panic!("{name}: inputSchema of {} is not valid JSON Schema: {error}", tool.name)
                });
            assert_eq!(tool.input_schema.get("type"), Some(&serde_json::json!("object")));
            assert!(
                !serde_json::to_string(&tool.input_schema).unwrap().contains("\"$ref\":\""),
                "{name}: $ref left in {}",
                tool.name
            );
        }
    }
    insta::assert_snapshot!(name, text);
}

macro_rules! cases {
    ($($test:ident => $folder:literal),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                snapshot_case($folder).await;
            }
        )*
        /// Every fixture folder has a test: a new folder without one fails here.
        #[test]
        fn every_fixture_folder_has_a_case() {
            let mut folders: Vec<String> = std::fs::read_dir("tests/fixtures/compile")
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            folders.sort();
            let mut cases = vec![$($folder.to_string()),*];
            cases.sort();
            assert_eq!(folders, cases);
        }
    };
}

cases! {
    openapi_30_petstore => "v30-petstore",
    swagger_20_converted => "v20-petstore",
    openapi_31_features => "v31-features",
    multi_file_refs => "multi-file",
    recursive_schemas => "recursive",
    allof_oneof_anyof => "composition",
    every_parameter_location_and_collisions => "parameter-locations",
    tool_names_collisions_and_long_names => "names",
    full_mapping_file => "mapping-full",
    broken_mapping_diagnostics => "broken-mapping",
    broken_spec_diagnostics => "broken-spec",
    suspicious_descriptions => "injection",
    server_variables => "server-variables",
    pagination_inferred_in_zero_config => "pagination-inferred",
}

#[tokio::test]
async fn compiling_twice_gives_identical_catalogues() {
    let dir = Path::new("tests/fixtures/compile/names");
    let first = prepare_case(dir).await.catalogue().unwrap().tools_list_json();
    let second = prepare_case(dir).await.catalogue().unwrap().tools_list_json();
    assert_eq!(first, second);
}
