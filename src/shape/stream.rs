//! Stream-and-shape: a JSON response decoded while it arrives, keeping only what shaping keeps.
//!
//! A tool whose shaping reads only part of a response (its items) need not hold the response:
//! when the `select` query is a plain path of names (`$`, `$.data`, `$['result'].items`), optionally
//! ending in a wildcard (`$.data[*]`), and the format is `json` or `table` (a template may read
//! anything), the document is walked with serde_json's streaming deserializer: keys off the path
//! are skipped without being stored (`IgnoredAny`), each item of the selected array is decoded,
//! cleaned and shaped on its own ([`Shaper::shape_item`]), and only items the budgets can still
//! show are kept; the others are counted, for the "showing N of M items" note. The result is the
//! same as shaping the whole document ([`Shaper::apply`]): the per-item steps (fields, exclude,
//! rename, drop_empty) act on each item alone, and the budgets are given the real item count.
//! When the selected node is not an array it is kept whole (holding budget for its size) and
//! shaped as usual.
//!
//! Why serde_json's own deserializer, fed from a blocking reader, rather than a push parser such as
//! `actson`: it is the parser of the buffered path, so numbers, strings, nesting limits and errors
//! are exactly the same; a push parser would need a second value builder whose every edge (number
//! forms, escapes, duplicate keys) must be proven equal. The cost is a blocking-pool thread per
//! streamed body, bounded by the response budget (each stream holds a window of it).

use std::io::Read;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{HINT, ShapeError, Shaped, Shaper, compact_len, items_note};
use crate::catalogue::CleanMode;

/// What streaming needs of a tool: its shaper and where its items are.
#[derive(Debug, Clone)]
pub struct Streaming {
    shaper: Shaper,
    /// Object keys from the root to the selected node.
    path: Vec<String>,
}

impl Shaper {
    /// `Some` when this shaping can be applied to a response while it streams (see the module doc).
    pub fn streaming(&self) -> Option<Streaming> {
        if !matches!(self.format, super::Format::Json | super::Format::Table) {
            return None;
        }
        // Only an explicit `select` says the result is items: without one (the default shaping) a
        // response is more often one object, which would be kept whole anyway. A final `[*]`
        // selects an array's elements, which are its items anyway; over an object it selects
        // member values, and the object is then kept whole.
        let path = plain_path(&self.select.as_ref()?.path.to_string())?.0;
        Some(Streaming { shaper: self.clone(), path })
    }
}

/// `$`, `.name` and `['name']` segments, optionally ending in `[*]` or `.*` (as `JsonPath` displays
/// queries); anything else (indices, slices, filters, descendants) is not streamed.
fn plain_path(query: &str) -> Option<(Vec<String>, bool)> {
    let mut rest = query.strip_prefix('$')?;
    let mut path = Vec::new();
    loop {
        if rest.is_empty() {
            return Some((path, false));
        }
        if rest == "[*]" || rest == ".*" {
            return Some((path, true));
        }
        if let Some(after) = rest.strip_prefix("['") {
            let end = after.find("']")?;
            let name = &after[..end];
            if name.contains(['\'', '\\']) {
                return None;
            }
            path.push(name.to_string());
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            path.push(name.to_string());
            rest = &after[end..];
        } else {
            return None;
        }
    }
}

/// A streamed response reduced to what shaping keeps; [`Streamed::finish`] shapes it.
#[derive(Debug)]
pub struct Streamed {
    found: Found,
    /// Invisible characters removed from what was decoded (items skipped unread are not counted).
    pub removed: usize,
}

#[derive(Debug)]
enum Found {
    /// The path is not in the document.
    Missing,
    /// The selected node, not an array: kept whole.
    Whole(Value),
    /// The selected items: the first ones, already shaped, and how many there were in all.
    Items {
        kept: Vec<Value>,
        total: usize,
        /// Items were left out because they could not fit `max_tokens`.
        over: bool,
        /// Compact length of the kept items, with their commas.
        used: usize,
    },
}

/// Why a streamed body could not be shaped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the response is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no memory budget for the items kept")]
    OverBudget,
}

impl Streaming {
    /// Decodes `reader` (the whole body) and keeps what shaping keeps. `keep` is asked for the
    /// bytes of each item kept (the response budget); `false` fails with [`StreamError::OverBudget`].
    pub fn read(
        &self,
        reader: impl Read,
        clean: CleanMode,
        keep: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Streamed, StreamError> {
        let mut state = State { streaming: self, clean, keep, found: Found::Missing, removed: 0, over_budget: false };
        let mut deserializer = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
        let walked = Walk { state: &mut state, depth: 0 }.deserialize(&mut deserializer);
        if state.over_budget {
            return Err(StreamError::OverBudget);
        }
        walked?;
        deserializer.end()?;
        Ok(Streamed { found: state.found, removed: state.removed })
    }
}

impl Streamed {
    /// The shaped result, the same as [`Shaper::apply`] on the whole document.
    pub fn finish(
        self,
        streaming: &Streaming,
        arguments: &Map<String, Value>,
        status: u16,
    ) -> Result<Shaped, ShapeError> {
        let shaper = &streaming.shaper;
        match self.found {
            // Only the path to the node matters to `select`: the rest of the document is not read.
            Found::Missing => shaper.apply(&Value::Object(Map::new()), arguments, status),
            Found::Whole(node) => {
                let document = streaming.path.iter().rev().fold(node, |inner, key| {
                    let mut object = Map::new();
                    object.insert(key.clone(), inner);
                    Value::Object(object)
                });
                shaper.apply(&document, arguments, status)
            }
            Found::Items { kept, total, over, .. } => {
                let mut value = Value::Array(kept);
                let mut notes = Vec::new();
                if let Some((shown, total)) = shaper.budget_items(&mut value, Some((total, over))) {
                    notes.push(items_note(shown, total));
                }
                shaper.finish(value, notes, HINT, arguments, status)
            }
        }
    }
}

struct State<'a> {
    streaming: &'a Streaming,
    clean: CleanMode,
    keep: &'a mut dyn FnMut(usize) -> bool,
    found: Found,
    removed: usize,
    over_budget: bool,
}

impl State<'_> {
    fn start_items(&mut self) {
        self.found = Found::Items { kept: Vec::new(), total: 0, over: false, used: 0 };
    }

    /// Whether the next item can still be shown: below `max_items` and not past `max_tokens`.
    fn wants_item(&self) -> bool {
        let Found::Items { kept, over, .. } = &self.found else { return false };
        !*over && self.streaming.shaper.max_items.is_none_or(|max| kept.len() < max)
    }

    /// One item decoded: cleaned, shaped, and kept while the budgets may show it. Items past the
    /// first that overflows `max_tokens` can never be shown (each shown item fits the budget).
    fn item(&mut self, mut item: Value) {
        self.removed += super::clean::clean_value(&mut item, self.clean);
        let shaped = self.streaming.shaper.shape_item(&item);
        drop(item);
        let length = compact_len(&shaped);
        let budget = self.streaming.shaper.max_tokens.map(|tokens| tokens.saturating_mul(4));
        let Found::Items { kept, over, used, .. } = &mut self.found else { return };
        let after = *used + length + usize::from(!kept.is_empty());
        if !kept.is_empty() && budget.is_some_and(|budget| after > budget) {
            *over = true;
            return;
        }
        if !(self.keep)(length) {
            self.over_budget = true;
            return;
        }
        *used = after;
        kept.push(shaped);
    }

    fn count(&mut self) {
        if let Found::Items { total, .. } = &mut self.found {
            *total += 1;
        }
    }
}

/// The document walked down the path: keys off it are skipped, the node at its end is handed to
/// [`Node`].
struct Walk<'s, 'a> {
    state: &'s mut State<'a>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth == self.state.streaming.path.len() {
            return Node { state: self.state }.deserialize(deserializer);
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.state.streaming.path[self.depth] {
                // A repeated key replaces what an earlier one held, as in a parsed document.
                self.state.found = Found::Missing;
                map.next_value_seed(Walk { state: &mut *self.state, depth: self.depth + 1 })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A name does not select anything in an array.
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The selected node: an array's elements are items; any other node is kept whole.
struct Node<'s, 'a> {
    state: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Node<'_, '_> {
    /// A node that is not an array, shaped as usual from a document holding only it; it holds
    /// budget for its compact size, as kept items do.
    fn whole<E: serde::de::Error>(self, mut value: Value) -> Result<(), E> {
        self.state.removed += super::clean::clean_value(&mut value, self.state.clean);
        if !(self.state.keep)(compact_len(&value)) {
            self.state.over_budget = true;
            return Err(E::custom("over budget"));
        }
        self.state.found = Found::Whole(value);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.state.start_items();
        loop {
            if self.state.wants_item() {
                let Some(item) = seq.next_element::<Value>()? else { break };
                self.state.count();
                self.state.item(item);
                if self.state.over_budget {
                    return Err(serde::de::Error::custom("over budget"));
                }
            } else {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                self.state.count();
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        // An object is kept whole, also under `[*]` (its member values are the items then, but a
        // repeated key decides which value a member has only at the end).
        let value = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        self.whole(value)
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<(), E> {
        self.whole(Value::Bool(value))
    }
    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<(), E> {
        self.whole(Value::from(value))
    }
    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<(), E> {
        self.whole(Value::from(value))
    }
    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<(), E> {
        self.whole(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<(), E> {
        self.whole(Value::String(value.to_string()))
    }
    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<(), E> {
        self.whole(Value::String(value))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.whole(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn shaper(config: Value) -> Shaper {
        let config: crate::mapping::OutputConfig = serde_json::from_value(config).expect("test config deserialises");
        let mut diagnostics = crate::diag::Diagnostics::new();
        let output = crate::compile::output::output(&config, "", None, &mut diagnostics);
        assert!(diagnostics.is_empty(), "test config compiles: {diagnostics:?}");
        Shaper::new(&output)
    }

    /// The buffered path: the whole document parsed, cleaned, then shaped.
    fn buffered(shaper: &Shaper, body: &[u8]) -> Result<Shaped, String> {
        let mut document: Value = serde_json::from_slice(body).map_err(|error| StreamError::Json(error).to_string())?;
        super::super::clean::clean_value(&mut document, CleanMode::Basic);
        shaper.apply(&document, &Map::new(), 200).map_err(|error| error.to_string())
    }

    fn streamed(shaper: &Shaper, body: &[u8]) -> Result<Shaped, String> {
        let streaming = shaper.streaming().expect("streamable");
        let streamed = streaming.read(body, CleanMode::Basic, &mut |_| true).map_err(|error| error.to_string())?;
        streamed.finish(&streaming, &Map::new(), 200).map_err(|error| error.to_string())
    }

    /// The shaping settings compared, one per line of the table.
    fn configs() -> Vec<Value> {
        vec![
            json!({"select": "$"}),
            json!({"select": "$.data"}),
            json!({"select": "$.data[*]", "fields": ["id", "labels.name"]}),
            json!({"select": "$.data", "max_items": 2}),
            json!({"select": "$['data']", "max_tokens": 30, "exclude": ["secret"]}),
            json!({"select": "$.data[*]", "rename": {"id": "key"}, "drop_empty": false, "format": "table"}),
            json!({"select": "$.wrap.data", "max_tokens": 60, "max_items": 5}),
            json!({"select": "$.data.*", "max_tokens": 25}),
            json!({"select": "$[*]", "fields": ["name"]}),
            json!({"select": "$", "max_tokens": 20}),
        ]
    }

    #[test]
    fn only_plain_paths_and_json_or_table_output_stream() {
        assert_eq!(plain_path("$"), Some((vec![], false)));
        assert_eq!(plain_path("$.data[*]"), Some((vec!["data".into()], true)));
        assert_eq!(plain_path("$['a b'].c"), Some((vec!["a b".into(), "c".into()], false)));
        assert_eq!(plain_path("$.a.*"), Some((vec!["a".into()], true)));
        for query in ["$.a[0]", "$..a", "$.a[?@.b]", "$.a[1:2]", "$[*].a", "$['it''s']", "a"] {
            assert_eq!(plain_path(query), None, "{query}");
        }
        for config in configs() {
            assert!(shaper(config.clone()).streaming().is_some(), "{config}");
        }
        assert!(shaper(json!({"select": "$.data[0]"})).streaming().is_none());
        assert!(shaper(json!({})).streaming().is_none(), "no select: the default shaping");
        assert!(shaper(json!({"template": "{{ response | length }}"})).streaming().is_none());
    }

    /// Documents where the wire text matters: repeated keys, a path through a non-object, a
    /// selected node that is not an array, empty arrays, nothing selected.
    #[test]
    fn streamed_results_equal_buffered_ones_on_a_table_of_documents() {
        let documents = [
            r#"{"data": [1, 2], "data": [{"id": 3, "name": "x"}]}"#,
            r#"{"data": {"id": 1, "labels": [{"name": "a"}]}, "other": [1]}"#,
            r#"{"data": 5}"#,
            r#"{"data": []}"#,
            r#"{"wrap": 7, "data": null}"#,
            r#"{"wrap": {"data": [{"id": 1}, {"id": 2}], "data": "late"}}"#,
            r#"{"data": {"a": {"id": 1}, "a": {"id": 2}, "b": {"id": 3}}}"#,
            r#"[{"name": "a\u200bb", "id": 1}, {"name": "", "id": 2}, 3, [4]]"#,
            r#"{"data": [{"id": 1.5e300, "name": "\u0000\u001b[31mred"}, {"id": -0, "secret": "s"}]}"#,
            r#"{}"#,
            r#"[]"#,
            r#""just text""#,
        ];
        for config in configs() {
            let shaper = shaper(config.clone());
            for document in documents {
                assert_eq!(
                    streamed(&shaper, document.as_bytes()),
                    buffered(&shaper, document.as_bytes()),
                    "{config} on {document}"
                );
            }
        }
    }

    #[test]
    fn malformed_and_truncated_documents_fail_as_json_errors() {
        let shaper = shaper(json!({"select": "$.data", "max_items": 1}));
        for document in [r#"{"data": [1, 2"#, r#"{"data": [1, 2]} trailing"#, r#"{"data": [1, 2,]}"#, "", "<html>"] {
            let error = streamed(&shaper, document.as_bytes()).unwrap_err();
            assert!(error.starts_with("the response is not valid JSON"), "{document}: {error}");
            assert!(buffered(&shaper, document.as_bytes()).is_err(), "{document}");
        }
    }

    #[test]
    fn items_past_the_budgets_are_counted_not_kept() {
        let shaper = shaper(json!({"select": "$.data", "max_items": 2}));
        let items: Vec<Value> = (0..10_000).map(|id| json!({"id": id, "pad": "x".repeat(100)})).collect();
        let body = serde_json::to_vec(&json!({"data": items})).unwrap();
        let streaming = shaper.streaming().unwrap();
        let mut kept_bytes = 0;
        let streamed = streaming
            .read(body.as_slice(), CleanMode::Basic, &mut |bytes| {
                kept_bytes += bytes;
                true
            })
            .unwrap();
        let Found::Items { kept, total, .. } = &streamed.found else { panic!("{streamed:?}") };
        assert_eq!((kept.len(), *total), (2, 10_000));
        assert!(kept_bytes < 300, "{kept_bytes} bytes kept");
        let shaped = streamed.finish(&streaming, &Map::new(), 200).unwrap();
        assert!(shaped.text.contains("showing 2 of 10000 items"), "{}", shaped.text);
        assert_eq!(Ok(shaped), buffered(&shaper, &body));
        // Refused budget for an item fails the read.
        let refused = streaming.read(body.as_slice(), CleanMode::Basic, &mut |_| false);
        assert!(matches!(refused, Err(StreamError::OverBudget)), "{refused:?}");
    }

    fn item() -> impl Strategy<Value = Value> + Clone {
        let text = prop_oneof![Just(String::new()), "[a-z]{1,8}", Just("a\u{200b}b\u{1b}[0m".to_string())];
        let scalar = prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            text.clone().prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
        ];
        let label = (text.clone(), text.clone()).prop_map(|(name, color)| json!({"name": name, "color": color}));
        prop_oneof![
            4 => (any::<u16>(), text.clone(), prop::collection::vec(label, 0..3), scalar.clone(), text)
                .prop_map(|(id, name, labels, secret, empty)| {
                    json!({"id": id, "name": name, "labels": labels, "secret": secret, "empty": empty})
                }),
            1 => scalar,
        ]
    }

    fn document() -> impl Strategy<Value = Value> {
        let items = || prop::collection::vec(item(), 0..40);
        prop_oneof![
            (items(), item(), items())
                .prop_map(|(data, other, inner)| json!({"other": other, "data": data, "wrap": {"data": inner}})),
            items().prop_map(Value::Array),
            (items(), any::<bool>())
                .prop_map(|(data, flag)| json!({"data": {"first": data.first(), "all": data}, "flag": flag})),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Every shaping of the table gives the same result streamed as buffered.
        #[test]
        fn streamed_results_equal_buffered_ones(document in document()) {
            let body = serde_json::to_vec(&document).unwrap();
            for config in configs() {
                let shaper = shaper(config.clone());
                prop_assert_eq!(streamed(&shaper, &body), buffered(&shaper, &body), "{}", config);
            }
        }
    }
}
