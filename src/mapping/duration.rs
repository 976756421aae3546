//! Durations as users write them in the mapping file: `30s`, `500ms`, `2m`, or a number of seconds.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A duration: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSpec(pub Duration);

impl DurationSpec {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number.parse().map_err(|_| format!("'{text}' is not a duration like 30s or 500ms"))?;
        let seconds = match unit.trim() {
            "ms" => number / 1000.0,
            "" | "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            other => {
                return Err(format!("unknown unit '{other}' in '{text}' (use ms, s, m or h)"));
            }
        };
        if !seconds.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&seconds) {
            return Err(format!("'{text}' is out of range"));
        }
        Ok(DurationSpec(Duration::from_secs_f64(seconds)))
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(seconds) => DurationSpec::parse(&seconds.to_string()),
            Raw::Text(text) => DurationSpec::parse(&text),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for DurationSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: a number of seconds, or a number with a unit: ms, s, m, h (e.g. `500ms`, `30s`).",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$"}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_garbage() {
        assert_eq!(DurationSpec::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(DurationSpec::parse("30s").unwrap().0, Duration::from_secs(30));
        assert_eq!(DurationSpec::parse("2m").unwrap().0, Duration::from_secs(120));
        assert_eq!(DurationSpec::parse("1.5").unwrap().0, Duration::from_millis(1500));
        assert!(DurationSpec::parse("fast").is_err());
        assert!(DurationSpec::parse("3 weeks").is_err());
    }
}
