//! `${VAR}` interpolation in mapping-file values, and secrets read from files, so that no secret has to
//! sit in the mapping file. The process environment is reached only through [`Environment`], so tests
//! pass a map instead of mutating the process's variables.
//!
//! Syntax (the docker-compose one, which users already know):
//! `${NAME}` (error when unset), `${NAME:-default}` (default when unset or empty), `${NAME-default}`
//! (default when unset), `${file:PATH}` (the file's content without its trailing newline; a relative
//! path is relative to the mapping file), `$$` (a literal `$`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where `${VAR}` values come from.
pub trait Environment: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Environment for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    #[error("environment variable '{name}' is not set")]
    Unset { name: String },
    #[error("cannot read secret file '{path}': {reason}")]
    SecretFile { path: String, reason: String },
    #[error("unterminated '${{' in '{text}'")]
    Unterminated { text: String },
    #[error("'{expression}' is not a valid variable reference (use ${{NAME}}, ${{NAME:-default}} or ${{file:PATH}})")]
    Invalid { expression: String },
}

/// The result of interpolating one string: its new value, and whether it was exactly one `${...}`
/// (so that a plain YAML scalar like `${PORT}` can become a number again).
#[derive(Debug, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    pub whole: bool,
    /// True when any part came from a `${file:...}` secret: such values are never printed.
    pub secret: bool,
}

pub fn interpolate(text: &str, env: &dyn Environment, base_dir: &Path) -> Result<Interpolated, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut expressions = 0;
    let mut secret = false;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body_and_rest) = after.strip_prefix('{') {
            let close =
                body_and_rest.find('}').ok_or_else(|| InterpolationError::Unterminated { text: text.to_string() })?;
            let expression = &body_and_rest[..close];
            let (value, from_file) = evaluate(expression, env, base_dir)?;
            secret |= from_file;
            expressions += 1;
            out.push_str(&value);
            rest = &body_and_rest[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    let whole = expressions == 1 && text.starts_with("${") && text.ends_with('}') && text.matches("${").count() == 1;
    Ok(Interpolated { value: out, whole, secret })
}

fn evaluate(expression: &str, env: &dyn Environment, base_dir: &Path) -> Result<(String, bool), InterpolationError> {
    if let Some(path) = expression.strip_prefix("file:") {
        let path = path.trim();
        let full: PathBuf = if Path::new(path).is_absolute() { PathBuf::from(path) } else { base_dir.join(path) };
        let content = std::fs::read_to_string(&full).map_err(|error| InterpolationError::SecretFile {
            path: full.display().to_string(),
            reason: error.to_string(),
        })?;
        let trimmed = content.strip_suffix('\n').map(|c| c.strip_suffix('\r').unwrap_or(c)).unwrap_or(&content);
        return Ok((trimmed.to_string(), true));
    }
    let name_end = expression.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expression.len());
    let (name, operator) = expression.split_at(name_end);
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_name {
        return Err(InterpolationError::Invalid { expression: format!("${{{expression}}}") });
    }
    let value = env.var(name);
    let result = if operator.is_empty() {
        value.ok_or_else(|| InterpolationError::Unset { name: name.to_string() })?
    } else if let Some(default) = operator.strip_prefix(":-") {
        value.filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
    } else if let Some(default) = operator.strip_prefix('-') {
        value.unwrap_or_else(|| default.to_string())
    } else {
        return Err(InterpolationError::Invalid { expression: format!("${{{expression}}}") });
    };
    Ok((result, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> HashMap<String, String> {
        HashMap::from([("HOST".to_string(), "api.example.com".to_string()), ("EMPTY".to_string(), String::new())])
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        let dir = Path::new(".");
        let run = |text: &str| interpolate(text, &env(), dir).map(|i| (i.value, i.whole));
        assert_eq!(run("https://${HOST}/v1"), Ok(("https://api.example.com/v1".into(), false)));
        assert_eq!(run("${HOST}"), Ok(("api.example.com".into(), true)));
        assert_eq!(run("${PORT:-8080}"), Ok(("8080".into(), true)));
        assert_eq!(run("${EMPTY:-x}"), Ok(("x".into(), true)));
        assert_eq!(run("${EMPTY-x}"), Ok(("".into(), true)));
        assert_eq!(run("${MISSING-x}"), Ok(("x".into(), true)));
        assert_eq!(run("cost: $$5 and $x"), Ok(("cost: $5 and $x".into(), false)));
        assert_eq!(run("${MISSING}"), Err(InterpolationError::Unset { name: "MISSING".into() }));
        assert!(matches!(run("${HOST"), Err(InterpolationError::Unterminated { .. })));
        assert!(matches!(run("${1BAD}"), Err(InterpolationError::Invalid { .. })));
        assert!(matches!(run("${HOST:?x}"), Err(InterpolationError::Invalid { .. })));
    }

    #[test]
    fn reads_secrets_from_files_relative_to_the_mapping_file() {
        let scratch = tempfile::Builder::new().prefix("api2mcp-test-env-").tempdir().unwrap();
        let dir = scratch.path();
        std::fs::write(dir.join("token"), "s3cret\n").unwrap();
        let result = interpolate("Bearer ${file:token}", &env(), dir).unwrap();
        assert_eq!(result, Interpolated { value: "Bearer s3cret".into(), whole: false, secret: true });
        let missing = interpolate("${file:nope}", &env(), dir);
        assert!(matches!(missing, Err(InterpolationError::SecretFile { .. })));
        scratch.close().unwrap();
    }
}
