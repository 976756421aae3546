//! Checks tool arguments against the tool's `inputSchema` before anything is sent (rmcp does not):
//! every unknown, missing or mistyped argument is reported with what was expected. Numbers are made
//! exact first ([`exact_numbers`]): what is validated is what is sent.

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
        // Bytes travel as base64 (`contentEncoding`, or 3.0's `format: binary` in schemas written by
        // hand), alone or as the items of an array of files.
        let bytes = |schema: &Value| {
            schema.get("contentEncoding").and_then(Value::as_str) == Some("base64")
                || schema.get("format").and_then(Value::as_str) == Some("binary")
        };
        let binary = properties
            .map(|p| {
                p.iter()
                    .filter(|(_, schema)| bytes(schema) || schema.get("items").is_some_and(bytes))
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ArgumentChecker { validator, known, binary })
    }

    /// Arguments whose schema says base64 (`contentEncoding`): decoded for raw and multipart bodies.
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

/// 2^53: below this magnitude a double with no fraction stands for one integer only; from here on
/// neighbouring integers share a double, so a double this large may be a rounded reading.
const EXACT_DOUBLE_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Makes every number in the arguments one that is sent exactly as validated (`specs/tool-generation.md`,
/// "Numbers"). JSON numbers are read as 64-bit integers when they are written as such and fit, else as
/// doubles. A double with no fraction below 2^53 in magnitude (`1e2`, `100.0`) is the integer it equals and
/// becomes that integer, so `100` is validated and sent, never `100.0`. A double from 2^53 on
/// (`18446744073709551616`, `1e300`) may already have been rounded when it was read, so it is refused
/// (a CLIENT error naming the argument) rather than sent as another number.
pub fn exact_numbers(mut arguments: Map<String, Value>) -> Result<Map<String, Value>, Outcome> {
    let mut fields = Vec::new();
    for (name, value) in &mut arguments {
        exact_number(value, name, &mut fields);
    }
    if fields.is_empty() { Ok(arguments) } else { Err(Outcome::InvalidArguments { fields }) }
}

fn exact_number(value: &mut Value, field: &str, fields: &mut Vec<FieldError>) {
    match value {
        Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            let Some(double) = number.as_f64() else { return };
            if double.abs() >= EXACT_DOUBLE_LIMIT {
                fields.push(FieldError {
                    field: field.to_string(),
                    message: format!(
                        "{number} cannot be passed on exactly: integers must be written without a fraction or \
                         exponent and fit in 64 bits (-9223372036854775808 to 18446744073709551615), other \
                         numbers below 2^53 in magnitude"
                    ),
                });
            } else if double.fract() == 0.0 {
                // Below 2^53 the cast is exact.
                *value = Value::from(double as i64);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                exact_number(item, &format!("{field}.{index}"), fields);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                exact_number(item, &format!("{field}.{key}"), fields);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn exact(value: &str) -> Result<String, Outcome> {
        let arguments: Map<String, Value> = serde_json::from_str(&format!(r#"{{"n": {value}}}"#)).unwrap();
        exact_numbers(arguments).map(|arguments| arguments["n"].to_string())
    }

    #[test]
    fn integral_doubles_become_the_integer_they_equal() {
        assert_eq!(exact("1e2").unwrap(), "100");
        assert_eq!(exact("100.0").unwrap(), "100");
        assert_eq!(exact("-2.5e1").unwrap(), "-25");
        assert_eq!(exact("9007199254740991.0").unwrap(), "9007199254740991");
        assert_eq!(exact("[1e1, {\"k\": 2E0}]").unwrap(), "[10,{\"k\":2}]");
    }

    #[test]
    fn integers_and_fractions_that_are_exact_stay_as_they_are() {
        assert_eq!(exact("18446744073709551615").unwrap(), "18446744073709551615");
        assert_eq!(exact("-9223372036854775808").unwrap(), "-9223372036854775808");
        assert_eq!(exact("0.5").unwrap(), "0.5");
        assert_eq!(exact("-1.25e-3").unwrap(), "-0.00125");
    }

    #[test]
    fn numbers_that_may_have_been_rounded_are_refused_naming_the_argument() {
        for value in ["18446744073709551616", "-9223372036854775809", "1e300", "9007199254740993.0", "[1, 1e20]"] {
            let Err(Outcome::InvalidArguments { fields }) = exact(value) else { panic!("{value} was accepted") };
            assert!(fields[0].field.starts_with('n'), "{value}: {fields:?}");
            assert!(fields[0].message.contains("exactly"), "{value}: {fields:?}");
        }
        assert!(exact_numbers(json!({"a": 1}).as_object().unwrap().clone()).is_ok());
    }
}
