//! Renders a diagnostic as text: `error[code]: message`, ` --> file:line:col`, the source line with a
//! caret when the text of the file is at hand, and the `help:` line.

use std::collections::HashMap;
use std::fmt::Write;

use super::Diagnostic;

/// `sources` maps a file name (as it appears in locations) to its text, for snippets.
pub fn render(diagnostic: &Diagnostic, sources: &HashMap<String, String>) -> String {
    let mut out = format!("{}[{}]: {}\n", diagnostic.severity, diagnostic.code, diagnostic.message);
    if let Some(location) = &diagnostic.location {
        let _ = writeln!(out, "  --> {location}");
        if location.line > 0
            && let Some(line_text) =
                sources.get(&location.file).and_then(|text| text.lines().nth(location.line as usize - 1))
        {
            let number = location.line.to_string();
            let pad = " ".repeat(number.len());
            let shown: String = line_text.chars().take(160).collect();
            let caret_at = (location.column.max(1) as usize - 1).min(shown.chars().count());
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{number} | {shown}");
            let _ = writeln!(out, "{pad} | {}^", " ".repeat(caret_at));
        }
    }
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;

    #[test]
    fn renders_location_snippet_and_help() {
        let diagnostic = Diagnostic::error("mapping/unknown-operation", "no operation 'listPet' in upstream 'pets'")
            .at(Some(Location { file: "api2mcp.yaml".into(), line: 2, column: 5 }))
            .with_help("did you mean 'listPets'?");
        let sources = HashMap::from([("api2mcp.yaml".to_string(), "tools:\n    listPet:\n".to_string())]);
        let text = render(&diagnostic, &sources);
        assert_eq!(
            text,
            "error[mapping/unknown-operation]: no operation 'listPet' in upstream 'pets'\n  --> api2mcp.yaml:2:5\n  |\n2 |     listPet:\n  |     ^\n  = help: did you mean 'listPets'?\n"
        );
    }
}
