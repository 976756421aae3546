//! Checks tool arguments against the tool's `inputSchema` before anything is sent (rmcp does not):
//! every unknown, missing or mistyped argument is reported with what was expected.

use serde_json::{Map, Value};

use crate::catalogue::Tool;
use crate::classify::{FieldError, Outcome};
use crate::diag::did_you_mean;

pub struct ArgumentChecker {
    validator: jsonschema::Validator,
    known: Vec<String>,
    binary: Vec<String>,
}

impl ArgumentChecker {
    pub fn new(tool: &Tool) -> Result<Self, String> {
        let schema = Value::Object(tool.input_schema.clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&schema)
            .map_err(|error| format!("tool '{}': its inputSchema does not compile: {error}", tool.name))?;
        let properties = tool.input_schema.get("properties").and_then(Value::as_object);
        let known = properties.map(|p| p.keys().cloned().collect()).unwrap_or_default();
        let binary = properties
            .map(|p| {
                p.iter()
                    .filter(|(_, schema)| schema.get("format").and_then(Value::as_str) == Some("binary"))
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ArgumentChecker { validator, known, binary })
    }

    /// Arguments whose schema is `format: binary`: base64 strings decoded before sending.
    pub fn binary_arguments(&self) -> &[String] {
        &self.binary
    }

    /// Checks `arguments` and hands them back: validation needs them as one `Value`, which is built
    /// from the map and taken apart again instead of copying it.
    pub fn check(&self, arguments: Map<String, Value>) -> Result<Map<String, Value>, Outcome> {
        let mut fields = Vec::new();
        for name in arguments.keys() {
            if !self.known.contains(name) {
                let expected = if self.known.is_empty() {
                    "this tool takes no arguments".to_string()
                } else {
                    did_you_mean(name, self.known.iter().map(String::as_str))
                        .unwrap_or_else(|| format!("expected one of: {}", self.known.join(", ")))
                };
                fields.push(FieldError { field: name.clone(), message: format!("unknown argument; {expected}") });
            }
        }
        let instance = Value::Object(arguments);
        for error in self.validator.iter_errors(&instance) {
            let path = error.instance_path().to_string();
            let field = path.trim_start_matches('/').replace('/', ".");
            let field = if field.is_empty() { "(arguments)".to_string() } else { field };
            let mut message = error.to_string();
            if message.len() > 200 {
                let cut = (0..=200).rev().find(|i| message.is_char_boundary(*i)).unwrap_or(0);
                message.truncate(cut);
                message.push('…');
            }
            fields.push(FieldError { field, message });
        }
        match instance {
            Value::Object(arguments) if fields.is_empty() => Ok(arguments),
            _ => Err(Outcome::InvalidArguments { fields }),
        }
    }
}
