//! JSON documents read into `serde_json::Value`s whose objects and arrays are allocated at their
//! exact size.
//!
//! `serde_json::from_str::<Value>` grows every object and array by doubling, so a spec's value
//! carries ~30% of unused entries (an object entry is 112 bytes with `preserve_order`): on a
//! 4 MB description that is several MiB held for the whole compile. Here each collection's items
//! are gathered on one shared stack and moved into a collection of exactly their number, which also
//! spares the rehashing that doubling costs. The value is the one `serde_json` builds: same numbers
//! (`Number` from u64, i64 or f64), the same strings, a repeated key keeps its first position with
//! its last value.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses a JSON document; errors are `serde_json`'s, with their line and column.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    let mut stacks = Stacks::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = CompactValue { stacks: &mut stacks }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Reallocates every object and array of a value built by growing (a tool's schemas) at its exact
/// size.
pub fn compact(value: &mut Value) {
    match value {
        Value::Object(object) => compact_object(object),
        Value::Array(items) => {
            items.shrink_to_fit();
            items.iter_mut().for_each(compact);
        }
        _ => {}
    }
}

/// [`compact`] for an object held on its own (a tool's `inputSchema`).
pub fn compact_object(object: &mut Map<String, Value>) {
    *object = exact(std::mem::take(object));
    object.values_mut().for_each(compact);
}

/// An object moved into one allocated for exactly its entries (`serde_json::Map` cannot shrink).
pub fn exact(object: Map<String, Value>) -> Map<String, Value> {
    if object.is_empty() {
        return Map::new();
    }
    let mut exact = Map::with_capacity(object.len());
    exact.extend(object);
    exact
}

/// The items of every collection still open, innermost last: one buffer for the whole document.
#[derive(Default)]
struct Stacks {
    entries: Vec<(String, Value)>,
    items: Vec<Value>,
}

struct CompactValue<'a> {
    stacks: &'a mut Stacks,
}

impl<'de> DeserializeSeed<'de> for CompactValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CompactValue<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let start = self.stacks.items.len();
        let result = (|| {
            while let Some(item) = sequence.next_element_seed(CompactValue { stacks: self.stacks })? {
                self.stacks.items.push(item);
            }
            Ok(())
        })();
        let items: Vec<Value> = self.stacks.items.drain(start..).collect();
        result.map(|()| Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let start = self.stacks.entries.len();
        let result = (|| {
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(CompactValue { stacks: self.stacks })?;
                self.stacks.entries.push((key, value));
            }
            Ok(())
        })();
        let entries = self.stacks.entries.drain(start..);
        let mut object = Map::with_capacity(entries.len());
        // `insert` keeps a repeated key at its first position with its last value, as serde_json does.
        for (key, value) in entries {
            object.insert(key, value);
        }
        result.map(|()| Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_equal_serde_jsons_in_content_and_order() {
        let text = r#"{"b": [1, -2, 3.5, -0.0, 1e-7, 18446744073709551615, "x\u00e9", null, true],
                       "a": {"z": {}, "y": [], "x": {"k": [[], [{}]]}}, "b2": "\ud83e\udd80", "a": 7}"#;
        let compact = from_str(text).unwrap();
        let reference: Value = serde_json::from_str(text).unwrap();
        assert_eq!(compact, reference);
        assert_eq!(serde_json::to_string(&compact).unwrap(), serde_json::to_string(&reference).unwrap());
    }

    #[test]
    fn collections_are_allocated_at_their_exact_size() {
        let Value::Object(object) = from_str(r#"{"a": [1, 2, 3, 4, 5], "b": 1, "c": 2, "d": 3, "e": 4}"#).unwrap()
        else {
            panic!("an object")
        };
        assert_eq!(object["a"].as_array().map(Vec::capacity), Some(5));
        assert_eq!(object.len(), 5);
    }

    #[test]
    fn compact_keeps_the_value_and_its_order() {
        let mut grown = Map::new();
        for key in ["z", "a", "m", "b"] {
            grown.insert(key.to_string(), serde_json::json!({"k": [1, {"y": 2, "x": 1}], "j": {}}));
        }
        let original = Value::Object(grown);
        let mut compacted = original.clone();
        compact(&mut compacted);
        assert_eq!(serde_json::to_string(&compacted).unwrap(), serde_json::to_string(&original).unwrap());
    }

    #[test]
    fn errors_are_serde_jsons() {
        for text in ["{\"a\": [1, 2}", "[1e400]", "{\"a\": 1} x", "", "[1,]", "{\"a\" 1}"] {
            let compact = from_str(text).unwrap_err();
            let reference = serde_json::from_str::<Value>(text).unwrap_err();
            assert_eq!((compact.line(), compact.column()), (reference.line(), reference.column()), "{text}");
            assert_eq!(compact.to_string(), reference.to_string(), "{text}");
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z\u{e9}\"\\\\]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(("[a-c]{0,2}", inner), 0..8).prop_map(|entries| {
                    // Written as text with the keys in this order, repeats included.
                    let text = format!(
                        "{{{}}}",
                        entries
                            .iter()
                            .map(|(k, v): &(String, Value)| format!("{}:{v}", Value::String(k.clone())))
                            .collect::<Vec<_>>()
                            .join(",")
                    );
                    serde_json::from_str(&text).unwrap()
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_document_reads_as_serde_json_reads_it(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
            let compact = from_str(&text).unwrap();
            let reference: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(serde_json::to_string(&compact).unwrap(), serde_json::to_string(&reference).unwrap());
        }
    }
}
