//! One copy of each distinct `inputSchema` of a catalogue. Tools whose argument schemas are the
//! same share one allocation: Kubernetes lists, watches and deletes ~60 kinds of resource with the
//! same arguments, so its 1,123 tools have ~200 distinct input schemas, which are most of what the
//! catalogue holds.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value};

type Schema = Map<String, Value>;

/// The schemas kept so far, by the hash of their compact JSON.
#[derive(Default)]
pub struct SharedSchemas {
    by_hash: HashMap<u64, Vec<Arc<Schema>>>,
}

impl SharedSchemas {
    /// `schema`, or the one kept before that serialises to the same bytes (same keys in the same
    /// order, same values): what a tool serves is unchanged whichever copy it holds.
    pub fn share(&mut self, schema: Arc<Schema>) -> Arc<Schema> {
        // Serialised once: hashed, and compared with each kept schema of the same hash.
        let bytes = serde_json::to_vec(&*schema).unwrap_or_default();
        let mut hasher = DefaultHasher::new();
        hasher.write(&bytes);
        let candidates = self.by_hash.entry(hasher.finish()).or_default();
        // Equal as JSON text, not only as maps: `Map`'s equality ignores the order of keys, which
        // the served JSON keeps.
        if let Some(kept) = candidates.iter().find(|kept| serde_json::to_vec(&***kept).ok().as_ref() == Some(&bytes)) {
            return kept.clone();
        }
        candidates.push(schema.clone());
        schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(value: Value) -> Arc<Schema> {
        match value {
            Value::Object(object) => Arc::new(object),
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn identical_schemas_share_one_copy_and_others_keep_theirs() {
        let mut shared = SharedSchemas::default();
        let first = shared.share(schema(json!({"type": "object", "properties": {"a": {"type": "string"}}})));
        let again = shared.share(schema(json!({"type": "object", "properties": {"a": {"type": "string"}}})));
        assert!(Arc::ptr_eq(&first, &again));
        let other = shared.share(schema(json!({"type": "object", "properties": {"a": {"type": "integer"}}})));
        assert!(!Arc::ptr_eq(&first, &other));
    }

    #[test]
    fn the_same_keys_in_another_order_are_not_shared() {
        let mut shared = SharedSchemas::default();
        let first = shared.share(schema(json!({"type": "object", "required": ["a"]})));
        let reordered = shared.share(schema(json!({"required": ["a"], "type": "object"})));
        assert_eq!(*first, *reordered, "equal as maps");
        assert!(!Arc::ptr_eq(&first, &reordered), "but served differently");
        assert_eq!(serde_json::to_string(&*reordered).unwrap(), r#"{"required":["a"],"type":"object"}"#);
    }
}
