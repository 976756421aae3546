//! ARCHITECTURE.md's structural invariants, checked on the source: no import cycle between the
//! top-level modules of `src/` (edges from `crate::X` outside `#[cfg(test)]` code), rmcp used only
//! inside `src/mcp/`, mapping types used only by the compiler and the wiring.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Top-level module → the top-level modules its non-test code names.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(src) {
        let relative = path.strip_prefix(src).unwrap();
        let top =
            relative.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" || relative.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps = graph.entry(top.clone()).or_default();
        let mut add = |name: &str| {
            if !name.is_empty()
                && name != top
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                deps.insert(name.to_string());
            }
        };
        for piece in code.split("crate::").skip(1) {
            if let Some(group) = piece.strip_prefix('{') {
                for item in group.split('}').next().unwrap_or("").split(',') {
                    add(item.trim().split("::").next().unwrap_or("").trim());
                }
            } else {
                add(piece.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or(""));
            }
        }
    }
    graph
}

/// A path from `from` back to itself, if there is one.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == from {
                let mut cycle = path.clone();
                cycle.push(from.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn top_level_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(graph.len() > 10, "found only {} modules", graph.len());
    let cycles: Vec<String> =
        graph.keys().filter_map(|module| cycle_through(&graph, module)).map(|cycle| cycle.join(" -> ")).collect();
    assert!(cycles.is_empty(), "import cycles between modules:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle_through(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    graph.insert("c".to_string(), BTreeSet::new());
    assert!(cycle_through(&graph, "a").is_none());
}

#[test]
fn only_mcp_uses_rmcp() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let outside: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|path| !path.starts_with(src.join("mcp")))
        .filter(|path| {
            // Code that names rmcp, not a string that mentions it (a log filter target, say).
            std::fs::read_to_string(path).unwrap().lines().any(|line| {
                let code: String = line.split('"').step_by(2).collect();
                !code.trim_start().starts_with("//") && (code.contains("rmcp::") || code.contains("use rmcp"))
            })
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(outside.is_empty(), "rmcp used outside src/mcp/: {outside:?}");
}

/// `unsafe` is denied crate-wide (Cargo.toml) and allowed in `src/memory.rs` alone: one FFI call.
#[test]
fn unsafe_code_is_allowed_only_in_memory() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let outside: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|path| *path != src.join("memory.rs"))
        .filter(|path| {
            std::fs::read_to_string(path).unwrap().lines().any(|line| {
                let code: String = line.split('"').step_by(2).collect();
                !code.trim_start().starts_with("//") && (code.contains("unsafe_code") || code.contains("unsafe "))
            })
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(outside.is_empty(), "unsafe code outside src/memory.rs: {outside:?}");
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("unsafe_code = \"deny\""), "the crate-wide lint is gone");
}

/// `auth` knows identities and scopes only: it reads its compiled settings (catalogue) and reports
/// (telemetry), and uses the two leaf utilities `body` (capped reads) and `tls` (client builder). It
/// never reaches into the call path, the serving layer or the mapping file's types.
#[test]
fn auth_depends_only_on_catalogue_telemetry_and_leaves() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let leaves = ["body", "tls"];
    for leaf in leaves {
        assert!(graph.get(leaf).is_none_or(BTreeSet::is_empty), "`{leaf}` is no longer a leaf: {:?}", graph[leaf]);
    }
    let allowed: BTreeSet<&str> = ["catalogue", "telemetry"].into_iter().chain(leaves).collect();
    let outside: Vec<&String> = graph["auth"].iter().filter(|dep| !allowed.contains(dep.as_str())).collect();
    assert!(outside.is_empty(), "auth depends on {outside:?}; allowed: {allowed:?}");
}

/// Mapping types are never runtime types: only the stages that read and compile the mapping file
/// (`mapping` itself, `load`, `validate`, `compile`) and the wiring that runs them (`pipeline`, `app`,
/// and `cli`, whose duration arguments use the mapping file's syntax) name `crate::mapping`. Every
/// other module, present or future, reads compiled `catalogue` types; test code may build them from
/// mapping types through `compile/`.
#[test]
fn runtime_modules_never_import_mapping_types() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let compiler_and_wiring = ["mapping", "load", "validate", "compile", "pipeline", "app", "cli"];
    for module in compiler_and_wiring.iter().chain(&["catalogue", "call", "shape", "discovery", "mcp", "auth"]) {
        assert!(graph.contains_key(*module), "module `{module}` not found in {:?}", graph.keys());
    }
    // The import finder sees the compiler's own use of mapping types, so an empty result below means
    // something.
    assert!(graph["compile"].contains("mapping"), "compile's imports: {:?}", graph["compile"]);
    let offending: Vec<&String> = graph
        .iter()
        .filter(|(module, deps)| !compiler_and_wiring.contains(&module.as_str()) && deps.contains("mapping"))
        .map(|(module, _)| module)
        .collect();
    assert!(offending.is_empty(), "runtime modules importing crate::mapping: {offending:?}");
}

/// Servers in tests listen on port 0 and report the address they bound; a port chosen by binding and
/// dropping a listener can be taken by another process before it is used again. The one exception is
/// `support::RedisServer` (redis-server cannot report a port it chose), which retries on a bind failure.
#[test]
fn tests_never_choose_a_port_by_binding_and_dropping() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration");
    // A listener bound and dropped in one expression, or a helper named for it.
    let patterns = ["fn free_port", ".unwrap().local_addr().unwrap().port()"];
    let mut found = Vec::new();
    for path in rust_files(&tests) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "architecture.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for pattern in patterns {
            let allowed = usize::from(name == "support.rs" && pattern == ".unwrap().local_addr().unwrap().port()");
            if text.matches(pattern).count() > allowed {
                found.push(format!("{name}: {pattern}"));
            }
        }
    }
    assert!(found.is_empty(), "bind-drop-rebind ports in tests: {found:?}");
}

/// Whether a line of code (strings and `//` comments aside) makes a scratch path by hand under the
/// system's temporary directory.
fn names_the_system_temp_dir(line: &str) -> bool {
    // Each string left as `""`, so that `temp_dir("label")` does not read as `temp_dir()`.
    let code = line.split('"').step_by(2).collect::<Vec<_>>().join("\"\"");
    !code.trim_start().starts_with("//") && (code.contains("env::temp_dir") || code.contains("temp_dir()"))
}

/// Tests make temporary files only through `tempfile` (`support::temp_dir`, `support::TempFile`,
/// `tempfile::Builder` in unit tests): its guards remove them when dropped, even when a test panics.
/// Paths made by hand under `std::env::temp_dir()` were never all removed: every run of the suite
/// left some 90 directories in /tmp.
#[test]
fn tests_make_temporary_files_only_through_tempfile() {
    for by_hand in [
        r#"    let dir = std::env::temp_dir().join(format!("api2mcp-{label}"));"#,
        "let dir = env::temp_dir();",
        "use std::env::temp_dir;",
        "let dir = temp_dir().join(name);",
    ] {
        assert!(names_the_system_temp_dir(by_hand), "not found in {by_hand:?}");
    }
    for fine in [
        r#"    let dir = crate::support::temp_dir("shaping");"#,
        "// never std::env::temp_dir() by hand",
        r#"panic!("std::env::temp_dir() is not used")"#,
        r#"tempfile::Builder::new().prefix("api2mcp-test-env-").tempdir().unwrap()"#,
    ] {
        assert!(!names_the_system_temp_dir(fine), "wrongly found in {fine:?}");
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let this = root.join("tests/integration/architecture.rs");
    let files: Vec<PathBuf> = rust_files(&root.join("src"))
        .into_iter()
        .chain(rust_files(&root.join("tests")))
        .chain(rust_files(&root.join("examples")))
        .collect();
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut found = Vec::new();
    for path in files.into_iter().filter(|path| *path != this) {
        let text = std::fs::read_to_string(&path).unwrap();
        for (index, line) in text.lines().enumerate() {
            if names_the_system_temp_dir(line) {
                found.push(format!("{}:{}", path.strip_prefix(root).unwrap().display(), index + 1));
            }
        }
    }
    assert!(found.is_empty(), "temporary paths made by hand (use support::temp_dir or tempfile): {found:?}");
}
