//! The query: OpenAPI's `form`, `spaceDelimited`, `pipeDelimited` and `deepObject` styles, keys
//! and values strictly encoded (`allowReserved` relaxes values only where it is harmless).

use serde_json::Value;

use super::*;

/// Appends the `key=value` pieces of one query parameter. Keys are always strictly encoded; values
/// keep reserved characters only with `allowReserved`. Structural delimiters (`,`, `%20`, `|`, `[`,
/// `]`) are added after encoding, so an agent's own commas, pipes or brackets stay distinguishable: an
/// item's own `|` is always sent as `%7C` (it is not a reserved character), so the literal `|` that
/// pipeDelimited puts between items, as OpenAPI's examples write it, cannot be confused with it.
pub(super) fn query_pieces(binding: &ArgumentBinding, value: &Value, out: &mut Vec<String>) -> Result<(), BuildError> {
    let value_set = if binding.allow_reserved { QUERY_ALLOW_RESERVED } else { STRICT };
    let encode_value = |text: &str| encode(text, value_set);
    let key = encode(&binding.wire_name, STRICT);

    if binding.style == ParameterStyle::DeepObject && value.is_object() {
        return deep_object(binding, &key, value, &encode_value, out);
    }
    let delimiter = match binding.style {
        ParameterStyle::SpaceDelimited if !binding.explode => Some("%20"),
        ParameterStyle::PipeDelimited if !binding.explode => Some("|"),
        _ => None,
    };
    // deepObject is only defined for objects; for anything else it falls back to exploded form,
    // the query default.
    let explode = binding.explode || binding.style == ParameterStyle::DeepObject;
    match shape(binding, value)? {
        Shape::Scalar(text) => out.push(format!("{key}={}", encode_value(&text))),
        // An empty array or object is undefined (RFC 6570): the parameter is left out.
        Shape::List(items) if items.is_empty() => {}
        Shape::List(items) => match delimiter {
            Some(sep) => out.push(format!("{key}={}", join_encoded(&items, encode_value, sep))),
            None if explode => out.extend(items.iter().map(|item| format!("{key}={}", encode_value(item)))),
            None => out.push(format!("{key}={}", join_encoded(&items, encode_value, ","))),
        },
        Shape::Pairs(pairs) if pairs.is_empty() => {}
        Shape::Pairs(pairs) => match delimiter {
            Some(sep) => out.push(format!("{key}={}", join_pairs(&pairs, encode_value, false, sep))),
            // Exploded form objects turn each property into its own parameter.
            None if explode => out.extend(
                pairs.iter().map(|(name, member)| format!("{}={}", encode(name, STRICT), encode_value(member))),
            ),
            None => out.push(format!("{key}={}", join_pairs(&pairs, encode_value, false, ","))),
        },
    }
    Ok(())
}

/// `key[prop]=v`, `key[prop][sub]=v` for nested objects, and `key[prop]=a&key[prop]=b` for arrays
/// (the non-standard `key[prop][]=a` is not used). The brackets stay literal as in the OpenAPI
/// examples; the names between them are strictly encoded.
fn deep_object(
    binding: &ArgumentBinding,
    prefix: &str,
    value: &Value,
    encode_value: &dyn Fn(&str) -> String,
    out: &mut Vec<String>,
) -> Result<(), BuildError> {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (name, member) in map {
                deep_object(binding, &format!("{prefix}[{}]", encode(name, STRICT)), member, encode_value, out)?;
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter(|item| !item.is_null()) {
                let text = scalar_text(item).ok_or_else(|| nested_error(binding))?;
                out.push(format!("{prefix}={}", encode_value(&text)));
            }
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            out.push(format!("{prefix}={}", encode_value(&scalar_text(value).unwrap_or_default())));
        }
    }
    Ok(())
}
