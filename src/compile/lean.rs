//! Leaner `inputSchema`s: a pass over a tool's finished input schema that removes what costs an agent
//! tokens without telling it anything. Argument descriptions that only restate the argument's name, its
//! type or the tool's own name or description go; one-value enums become `const`; an enum of strings
//! no longer repeats `type: string`; enums longer than [`LONG_ENUM`] values become a line of the
//! description (how many values, the first few), the upstream still checking the value.
//! Every constraint that is not an enum (bounds, lengths, patterns, `required`) is kept.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Enums with more values than this are described instead of listed (Stripe's country, timezone and
/// merchant-category lists run to 600 values: a fifth of its `tools/list`).
pub const LONG_ENUM: usize = 30;
/// Values named in the description of a long enum.
const LONG_ENUM_SHOWN: usize = 5;

/// Words that say nothing next to an argument's name and type.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "to",
    "for",
    "this",
    "that",
    "is",
    "are",
    "be",
    "by",
    "in",
    "on",
    "at",
    "with",
    "its",
    "it",
    "and",
    "or",
    "as",
    "from",
    "which",
    "will",
    "value",
    "field",
    "parameter",
    "param",
    "specified",
    "specifie",
    "given",
    "object",
    "number",
    "unique",
    "fetch",
    "retrieve",
    "get",
    "return",
    "returned",
    "used",
    "use",
    "should",
    "being",
    "s",
];

/// Removes what restates the obvious from `schema` (a tool's `inputSchema`), for the tool `tool_name`
/// described as `tool_description`.
pub fn lean_input_schema(schema: &mut Map<String, Value>, tool_name: &str, tool_description: &str) {
    let context = Context { tool_words: words(tool_name), tool_description: normalised(tool_description) };
    lean_node(schema, None, &context);
}

struct Context {
    tool_words: HashSet<String>,
    tool_description: String,
}

/// `name`: the property this node is the schema of, when it is one.
fn lean_node(node: &mut Map<String, Value>, name: Option<&str>, context: &Context) {
    drop_inapplicable(node);
    compact_enum(node);
    if let Some(description) = node.get("description").and_then(Value::as_str)
        && says_nothing(description, name, node, context)
    {
        node.remove("description");
    }
    for (key, child) in node.iter_mut() {
        match (key.as_str(), child) {
            ("properties", Value::Object(properties)) => {
                for (property, schema) in properties.iter_mut() {
                    if let Value::Object(schema) = schema {
                        lean_node(schema, Some(property), context);
                    }
                }
            }
            // A variant or an item describes the same argument: the argument's name still applies.
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(variants)) => {
                for variant in variants.iter_mut().filter_map(Value::as_object_mut) {
                    lean_node(variant, name, context);
                }
            }
            ("items" | "additionalProperties", Value::Object(schema)) => lean_node(schema, name, context),
            _ => {}
        }
    }
}

/// Keywords that constrain only one kind of value, and the `type`s they apply to. JSON Schema ignores
/// them on any other type, so on a node of a single other type they say nothing (Kubernetes puts
/// `uniqueItems: true` on ~1,100 string parameters: 9% of its `tools/list`).
const TYPED_KEYWORDS: &[(&[&str], &[&str])] = &[
    (
        &["array"],
        &[
            "items",
            "prefixItems",
            "additionalItems",
            "unevaluatedItems",
            "uniqueItems",
            "minItems",
            "maxItems",
            "contains",
            "minContains",
            "maxContains",
        ],
    ),
    (&["string"], &["minLength", "maxLength", "pattern", "contentEncoding", "contentMediaType"]),
    (&["number", "integer"], &["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]),
    (
        &["object"],
        &[
            "properties",
            "patternProperties",
            "additionalProperties",
            "unevaluatedProperties",
            "required",
            "minProperties",
            "maxProperties",
            "propertyNames",
            "dependentRequired",
            "dependentSchemas",
        ],
    ),
];

/// Removes the keywords that cannot apply to the node's one `type` (validation is unchanged).
fn drop_inapplicable(node: &mut Map<String, Value>) {
    let Some(kind) = node.get("type").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    for (types, keywords) in TYPED_KEYWORDS {
        if !types.contains(&kind.as_str()) {
            for keyword in *keywords {
                node.remove(*keyword);
            }
        }
    }
}

fn compact_enum(node: &mut Map<String, Value>) {
    let Some(Value::Array(values)) = node.get("enum") else {
        return;
    };
    if values.len() > LONG_ENUM {
        let count = values.len();
        let shown: Vec<String> = values.iter().take(LONG_ENUM_SHOWN).map(short_value).collect();
        let line = format!("One of {count} values, e.g. {}, …", shown.join(", "));
        node.remove("enum");
        let description = match node.get("description").and_then(Value::as_str) {
            Some(description) if !description.is_empty() => format!("{description} {line}"),
            _ => line,
        };
        node.insert("description".into(), Value::String(description));
        return;
    }
    let all_strings = values.iter().all(Value::is_string);
    if values.len() == 1 {
        let value = values[0].clone();
        let implied = json_type(&value);
        node.remove("enum");
        if node.get("type").and_then(Value::as_str) == Some(implied) {
            node.remove("type");
        }
        node.insert("const".into(), value);
    } else if all_strings && node.get("type").and_then(Value::as_str) == Some("string") {
        node.remove("type");
    }
}

fn short_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A description says nothing when it repeats the tool's own description, or when every word of it is
/// a word of the argument's name, of its type, of the tool's name, or a filler word.
fn says_nothing(description: &str, name: Option<&str>, node: &Map<String, Value>, context: &Context) -> bool {
    let text = normalised(description);
    if text.is_empty() {
        return true;
    }
    let tool_description = &context.tool_description;
    if *tool_description == text || tool_description.starts_with(&format!("{text} ")) {
        return true;
    }
    let Some(name) = name else {
        return false;
    };
    let name_words = words(name);
    let type_words = type_words(node);
    words_in_order(description).iter().all(|word| {
        FILLER.contains(&word.as_str())
            || name_words.contains(word)
            || type_words.contains(&word.as_str())
            || context.tool_words.contains(word)
            || (word == "identifier" && name_words.contains("id"))
    })
}

fn type_words(node: &Map<String, Value>) -> Vec<&'static str> {
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(single)) => vec![single.as_str()],
        Some(Value::Array(several)) => several.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for kind in types {
        out.extend_from_slice(match kind {
            "string" => &["string", "text"][..],
            "integer" => &["integer", "number", "count"][..],
            "number" => &["number"][..],
            "boolean" => &["boolean", "whether", "flag", "true", "false", "if"][..],
            "array" => &["array", "list"][..],
            "object" => &["object", "map"][..],
            _ => &[][..],
        });
    }
    out
}

/// Lowercase words, split at non-alphanumerics and camelCase humps, plural `s` removed.
fn words_in_order(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for character in text.chars() {
        if character.is_alphanumeric() {
            if character.is_uppercase() && previous_lower && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            previous_lower = character.is_lowercase() || character.is_ascii_digit();
            current.extend(character.to_lowercase());
        } else {
            previous_lower = false;
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter().map(singular).collect()
}

fn words(text: &str) -> HashSet<String> {
    words_in_order(text).into_iter().collect()
}

fn singular(word: String) -> String {
    if word.len() > 2 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word
    }
}

fn normalised(text: &str) -> String {
    words_in_order(text).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lean(schema: Value, tool: &str, description: &str) -> Value {
        let Value::Object(mut schema) = schema else { panic!("an object") };
        lean_input_schema(&mut schema, tool, description);
        Value::Object(schema)
    }

    #[test]
    fn descriptions_that_restate_name_type_or_tool_go() {
        let schema = json!({"type": "object", "properties": {
            "limit": {"type": "integer", "description": "A limit on the number of objects to be returned."},
            "phone": {"type": "string", "description": "The customer's phone number."},
            "query": {"type": "string", "description": "The search query string."},
            "petId": {"type": "string", "description": "The unique identifier of the pet."},
            "email": {"type": "string", "description": "Customer's email address."},
            "max": {"type": "integer", "description": "Maximum number of pets to return."},
            "body": {"type": "object", "description": "Creates a new customer."},
        }});
        let leaned = lean(schema, "post_customers_search_pets", "Creates a new customer. Then more.");
        let properties = leaned["properties"].as_object().unwrap();
        for gone in ["limit", "phone", "query", "petId", "body"] {
            assert!(properties[gone].get("description").is_none(), "{gone}: {}", properties[gone]);
        }
        // A word the name, the type and the tool do not say keeps the description.
        assert_eq!(properties["email"]["description"], "Customer's email address.");
        assert_eq!(properties["max"]["description"], "Maximum number of pets to return.");
    }

    #[test]
    fn enums_are_compacted_and_long_ones_described() {
        let countries: Vec<String> = (0..40).map(|index| format!("C{index}")).collect();
        let schema = json!({"type": "object", "properties": {
            "unset": {"anyOf": [{"type": "object"}, {"type": "string", "enum": [""]}]},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "mixed": {"type": ["string", "null"], "enum": ["a", null]},
            "country": {"type": "string", "enum": countries, "description": "Where it ships."},
        }});
        let leaned = lean(schema, "ship", "");
        let properties = &leaned["properties"];
        assert_eq!(properties["unset"]["anyOf"][1], json!({"const": ""}));
        assert_eq!(properties["status"], json!({"enum": ["open", "closed"]}));
        assert_eq!(properties["mixed"], json!({"type": ["string", "null"], "enum": ["a", null]}));
        assert_eq!(
            properties["country"],
            json!({"type": "string", "description": "Where it ships. One of 40 values, e.g. C0, C1, C2, C3, C4, …"})
        );
    }

    #[test]
    fn keywords_of_another_type_go() {
        let schema = json!({"type": "object", "properties": {
            "name": {"type": "string", "uniqueItems": true, "maxLength": 9, "minimum": 1},
            "tags": {"type": "array", "uniqueItems": true, "maxLength": 9, "items": {"type": "string"}},
            "count": {"type": "integer", "minimum": 1, "pattern": "x", "required": ["a"]},
            "either": {"type": ["string", "array"], "uniqueItems": true, "maxLength": 9},
        }});
        let leaned = lean(schema, "t", "");
        let properties = &leaned["properties"];
        assert_eq!(properties["name"], json!({"type": "string", "maxLength": 9}));
        assert_eq!(properties["tags"], json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}}));
        assert_eq!(properties["count"], json!({"type": "integer", "minimum": 1}));
        // Several types: every keyword may apply to one of them.
        assert_eq!(properties["either"]["uniqueItems"], true);
        assert!(leaned.get("properties").is_some(), "the object keeps its own keywords");
    }

    #[test]
    fn words_split_camel_case_and_plurals() {
        assert_eq!(words_in_order("petIDs of HTTPServers"), ["pet", "id", "of", "httpserver"]);
        assert_eq!(words_in_order("customer_ids"), ["customer", "id"]);
    }
}
