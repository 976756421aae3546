//! Documentation that must stay true: every diagnostic code used in `src/` is listed in
//! `specs/diagnostics.md`.

#[test]
fn every_diagnostic_code_is_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let documented = std::fs::read_to_string(root.join("specs/diagnostics.md")).unwrap();
    let mut stack = vec![root.join("src")];
    let mut missing = Vec::new();
    let mut found = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split('"').skip(1).step_by(2) {
                let is_code = ["mapping/", "spec/", "tool/", "upstream/"].iter().any(|p| piece.starts_with(p))
                    && piece.chars().all(|c| c.is_ascii_lowercase() || c == '/' || c == '-');
                if is_code {
                    found += 1;
                    if !documented.contains(&format!("`{piece}`")) {
                        missing.push(piece.to_string());
                    }
                }
            }
        }
    }
    assert!(found > 30, "found only {found} diagnostic codes in src/");
    assert!(missing.is_empty(), "undocumented diagnostic codes: {missing:?}");
}
