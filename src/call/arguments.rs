//! Checks tool arguments against the tool's `inputSchema` before anything is sent (rmcp does not):
//! every unknown, missing or mistyped argument is reported with what was expected. Before the check,
//! values of the wrong JSON type are converted when nothing is lost (see [`coerce_value`]): agents and
//! clients often send `42` for a string id or `"42"` for an integer. Numbers are made
//! exact first ([`exact_numbers`]): what is validated is what is sent.

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::catalogue::Tool;
use crate::classify::{FieldError, Outcome};
use crate::diag::did_you_mean;

pub struct ArgumentChecker {
    schema: Arc<Map<String, Value>>,
    /// Compiled on the first call of a tool with this schema, not at startup: `jsonschema`'s compiled
    /// form is 10-20 KB a schema (a pattern's automata are compiled again in each), which was a third
    /// of a served catalogue's heap (GitHub 5.8 MiB, Discord 3.2), while an agent calls few of a
    /// large API's tools. `compile/schema.rs` keeps only keyword values the checker can read; a
    /// schema that still does not compile fails the calls of its tools, not the server.
    validator: OnceLock<Result<jsonschema::Validator, String>>,
    known: Vec<String>,
    binary: Vec<String>,
    /// Per top-level argument, the JSON types its schema names (`type`, a string or a list).
    types: Vec<(String, Vec<String>)>,
}

/// One argument converted to the type its schema asks for (reported in the audit line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coercion {
    pub argument: String,
    pub from: &'static str,
    pub to: &'static str,
}

impl std::fmt::Display for Coercion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}->{}", self.argument, self.from, self.to)
    }
}

impl ArgumentChecker {
    pub fn new(tool: &Tool) -> Self {
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
        let types = properties
            .map(|p| {
                p.iter()
                    .map(|(name, schema)| {
                        let types = match schema.get("type") {
                            Some(Value::String(one)) => vec![one.clone()],
                            Some(Value::Array(many)) => {
                                many.iter().filter_map(Value::as_str).map(str::to_string).collect()
                            }
                            _ => Vec::new(),
                        };
                        (name.clone(), types)
                    })
                    .filter(|(_, types)| !types.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        ArgumentChecker { schema: tool.input_schema.clone(), validator: OnceLock::new(), known, binary, types }
    }

    /// Converts, in place, every argument whose value has a JSON type its schema does not allow but
    /// converts to an allowed one without loss; returns what was converted. The check that follows
    /// validates the converted values like any other (a coerced `"-1"` still fails `minimum: 0`).
    pub fn coerce(&self, arguments: &mut Map<String, Value>) -> Vec<Coercion> {
        let mut coerced = Vec::new();
        for (name, types) in &self.types {
            let Some(value) = arguments.get_mut(name) else { continue };
            if types.iter().any(|t| has_type(value, t)) {
                continue;
            }
            if let Some((converted, from, to)) = coerce_value(value, types) {
                *value = converted;
                coerced.push(Coercion { argument: name.clone(), from, to });
            }
        }
        coerced
    }

    /// Arguments whose schema says base64 (`contentEncoding`): decoded for raw and multipart bodies.
    /// The compiled schema, compiled by the first call that needs it.
    fn validator(&self) -> Result<&jsonschema::Validator, &str> {
        let compiled = self.validator.get_or_init(|| {
            let schema = Value::Object((*self.schema).clone());
            (crate::catalogue::argument_checker_options().build(&schema))
                .map_err(|error| format!("the tool's inputSchema does not compile: {error}"))
        });
        compiled.as_ref().map_err(String::as_str)
    }

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
        let validator = self.validator().map_err(|detail| Outcome::Misconfigured { detail: detail.to_string() })?;
        let instance = Value::Object(arguments);
        for error in validator.iter_errors(&instance) {
            let path = error.instance_path().to_string();
            let mut field = path.trim_start_matches('/').replace('/', ".");
            let mut message = error.to_string();
            // A missing property is reported at its parent: name the property itself.
            if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
                let property = property.as_str().map(str::to_string).unwrap_or_else(|| property.to_string());
                field = if field.is_empty() { property } else { format!("{field}.{property}") };
                message = "is required".to_string();
            }
            let field = if field.is_empty() { "(arguments)".to_string() } else { field };
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

/// Whether `value` is of JSON Schema type `name` (`integer` includes floats with no fraction, as
/// JSON Schema says).
fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "string" => value.is_string(),
        "integer" => {
            value.as_i64().is_some() || value.as_u64().is_some() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// The lossless conversions, tried in the order of `types`: an integer to its decimal string; a
/// string that is exactly the decimal form of an integer (no sign `+`, no leading zeros, no spaces) or
/// of a number to that number; `"true"`/`"false"` to a boolean. Anything else is left for the check to
/// refuse. Returns the new value and the JSON types converted from and to.
pub fn coerce_value(value: &Value, types: &[String]) -> Option<(Value, &'static str, &'static str)> {
    for target in types {
        let converted = match (value, target.as_str()) {
            (Value::Number(number), "string") if number.is_i64() || number.is_u64() => {
                Some((Value::String(number.to_string()), "integer", "string"))
            }
            (Value::String(text), "integer") => {
                let parsed =
                    text.parse::<i64>().ok().map(Value::from).or_else(|| text.parse::<u64>().ok().map(Value::from));
                parsed.filter(|n| renders_as(n, text)).map(|n| (n, "string", "integer"))
            }
            (Value::String(text), "number") => {
                let integer = text.parse::<i64>().ok().map(Value::from);
                let parsed = integer
                    .or_else(|| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number));
                parsed.filter(|n| renders_as(n, text)).map(|n| (n, "string", "number"))
            }
            (Value::String(text), "boolean") => match text.as_str() {
                "true" => Some((Value::Bool(true), "string", "boolean")),
                "false" => Some((Value::Bool(false), "string", "boolean")),
                _ => None,
            },
            _ => None,
        };
        if converted.is_some() {
            return converted;
        }
    }
    None
}

/// Whether a converted number's JSON text is exactly the string it came from (so nothing was lost).
/// Not `Value == String`: that compares a number with a string value and is always false.
fn renders_as(number: &Value, text: &str) -> bool {
    let rendered = number.to_string();
    rendered == text
}

#[cfg(test)]
mod coercion_tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn types(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn only_lossless_conversions_happen() {
        let integer = types(&["integer"]);
        assert_eq!(coerce_value(&json!("42"), &integer).map(|c| c.0), Some(json!(42)));
        assert_eq!(coerce_value(&json!("-7"), &integer).map(|c| c.0), Some(json!(-7)));
        assert_eq!(coerce_value(&json!("18446744073709551615"), &integer).map(|c| c.0), Some(json!(u64::MAX)));
        for lossy in ["042", "+42", " 42", "42 ", "4.2", "4e1", "", "0x2a", "42abc", "99999999999999999999"] {
            assert_eq!(coerce_value(&json!(lossy), &integer), None, "{lossy:?}");
        }
        let string = types(&["string"]);
        assert_eq!(coerce_value(&json!(42), &string), Some((json!("42"), "integer", "string")));
        assert_eq!(coerce_value(&json!(4.5), &string), None, "a float's text form is not unique");
        assert_eq!(coerce_value(&json!(true), &string), None);
        let number = types(&["number"]);
        assert_eq!(coerce_value(&json!("1.5"), &number).map(|c| c.0), Some(json!(1.5)));
        assert_eq!(coerce_value(&json!("1.50"), &number), None);
        let boolean = types(&["boolean"]);
        assert_eq!(coerce_value(&json!("true"), &boolean).map(|c| c.0), Some(json!(true)));
        assert_eq!(coerce_value(&json!("false"), &boolean).map(|c| c.0), Some(json!(false)));
        for lossy in ["True", "1", "yes", "TRUE", ""] {
            assert_eq!(coerce_value(&json!(lossy), &boolean), None, "{lossy:?}");
        }
        assert_eq!(coerce_value(&json!([1]), &string), None);
    }

    proptest! {
        /// Integer → string → integer gives back the same value, both ways.
        #[test]
        fn integer_coercion_round_trips(n in any::<i64>()) {
            let (as_string, ..) = coerce_value(&json!(n), &types(&["string"])).unwrap();
            prop_assert_eq!(&as_string, &json!(n.to_string()));
            let (back, ..) = coerce_value(&as_string, &types(&["integer"])).unwrap();
            prop_assert_eq!(back, json!(n));
        }

        /// A converted string always renders back to exactly the text that was sent.
        #[test]
        fn no_string_is_converted_lossily(text in "[-+0-9. eE]{0,12}|true|false|True") {
            for target in ["integer", "number", "boolean"] {
                if let Some((converted, ..)) = coerce_value(&json!(text), &types(&[target])) {
                    let rendered = match &converted { Value::Bool(b) => b.to_string(), other => other.to_string() };
                    prop_assert_eq!(rendered, text.clone());
                }
            }
        }
    }
}
