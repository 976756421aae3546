//! Form fields of `application/x-www-form-urlencoded` and `multipart/form-data` bodies: one body
//! property becomes zero or more fields, following the media type's OpenAPI `encoding` entry
//! (`style`, `explode`, `allowReserved`) and, for values OpenAPI leaves undefined, bracket nesting
//! as Stripe, Rails, PHP and `qs` read it (`address[city]=Berlin`, `items[0][price]=p1`).
//!
//! A field's name and values stay structured until they are written out, so the delimiters this
//! module adds (`[`, `]`, `,`, `%20`, `%7C`) can never be confused with the same characters inside
//! an agent's keys or values, which are always encoded.

use percent_encoding::utf8_percent_encode;
use serde_json::{Map, Value};

use super::{QUERY_ALLOW_RESERVED, scalar_text};
use crate::catalogue::{ParameterStyle, PropertyEncoding};

/// One form field: the property name, then one bracketed segment per nesting level, and its value
/// (several items joined by `delimiter` for the non-exploded styles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    pub key: Vec<String>,
    pub items: Vec<String>,
    pub delimiter: Delimiter,
}

/// What joins the items of a non-exploded array or object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Delimiter {
    /// `form`, `explode: false`.
    Comma,
    /// `spaceDelimited`.
    Space,
    /// `pipeDelimited`.
    Pipe,
}

impl Delimiter {
    /// As written in an urlencoded body. Items go through the form serializer, which writes a space
    /// as `+` and encodes `,` and `|`, so none of these can be mistaken for an item's own text
    /// (`%7C` would be: it is how an item's `|` is written).
    fn encoded(self) -> &'static str {
        match self {
            Delimiter::Comma => ",",
            Delimiter::Space => "%20",
            Delimiter::Pipe => "|",
        }
    }

    /// As written in a multipart text part.
    fn raw(self) -> &'static str {
        match self {
            Delimiter::Comma => ",",
            Delimiter::Space => " ",
            Delimiter::Pipe => "|",
        }
    }
}

impl Field {
    fn single(key: Vec<String>, text: String) -> Field {
        Field { key, items: vec![text], delimiter: Delimiter::Comma }
    }

    /// `name=value` for an urlencoded body: names and values through the WHATWG
    /// `application/x-www-form-urlencoded` serializer (space → `+`), brackets and delimiters literal.
    /// With `allow_reserved`, RFC 3986 reserved characters in values stay as they are, except those
    /// that would split the body (`&`, `=`), start a fragment (`#`) or read as a space (`+`).
    pub fn urlencoded(&self, allow_reserved: bool) -> String {
        let mut out = serialize(&self.key[0]);
        for segment in &self.key[1..] {
            out.push('[');
            out.push_str(&serialize(segment));
            out.push(']');
        }
        out.push('=');
        let values: Vec<String> = self
            .items
            .iter()
            .map(|item| {
                if allow_reserved {
                    utf8_percent_encode(item, QUERY_ALLOW_RESERVED).to_string()
                } else {
                    serialize(item)
                }
            })
            .collect();
        out.push_str(&values.join(self.delimiter.encoded()));
        out
    }

    /// The part name of a multipart body (`address[city]`).
    pub fn multipart_name(&self) -> String {
        let mut out = self.key[0].clone();
        for segment in &self.key[1..] {
            out.push('[');
            out.push_str(segment);
            out.push(']');
        }
        out
    }

    /// The text of a multipart part.
    pub fn multipart_text(&self) -> String {
        self.items.join(self.delimiter.raw())
    }
}

fn serialize(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Whether an encoding entry asks for an explicit OpenAPI style rather than api2mcp's default.
pub(super) fn is_styled(encoding: Option<&PropertyEncoding>) -> bool {
    encoding.is_some_and(|encoding| encoding.style.is_some() || encoding.explode == Some(false))
}

/// The fields of one body property. Without a `style` in the spec (the common case), scalars are
/// `name=value`, arrays of scalars repeat the field (OpenAPI's default, `form` exploded), and objects
/// or arrays holding objects or arrays nest with brackets (`deepObject`, arrays indexed). `null`
/// anywhere is undefined and left out; so are empty arrays and objects.
pub(super) fn fields(name: &str, value: &Value, encoding: Option<&PropertyEncoding>) -> Result<Vec<Field>, String> {
    let mut out = Vec::new();
    let root = vec![name.to_string()];
    let style = encoding.and_then(|encoding| encoding.style);
    let explode = encoding.and_then(|encoding| encoding.explode);
    match (style, explode) {
        (None, None | Some(true)) => default_fields(root, value, &mut out),
        (Some(ParameterStyle::DeepObject), _) => nest(root, value, &mut out),
        (style, explode) => {
            let style = style.unwrap_or(ParameterStyle::Form);
            // OpenAPI: `explode` defaults to true for `form` only.
            let explode = explode.unwrap_or(style == ParameterStyle::Form);
            let delimiter = match style {
                ParameterStyle::SpaceDelimited => Delimiter::Space,
                ParameterStyle::PipeDelimited => Delimiter::Pipe,
                _ => Delimiter::Comma,
            };
            styled(root, value, explode, delimiter, &mut out)?;
        }
    }
    Ok(out)
}

fn default_fields(key: Vec<String>, value: &Value, out: &mut Vec<Field>) {
    match value {
        Value::Array(items) if items.iter().all(is_scalar_or_null) => {
            out.extend(items.iter().filter_map(scalar_text).map(|text| Field::single(key.clone(), text)));
        }
        _ => nest(key, value, out),
    }
}

fn is_scalar_or_null(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

/// Bracket nesting: `key[member]=v`, `key[member][sub]=v`, arrays by index from 0 counting only the
/// items that send something (`key[0]=a&key[1]=b`, `items[0][price]=p`), so every reader sees a
/// dense list.
fn nest(key: Vec<String>, value: &Value, out: &mut Vec<Field>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (member, inner) in map {
                nest(with_segment(&key, member.clone()), inner, out);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().filter(|item| sends_anything(item)).enumerate() {
                nest(with_segment(&key, index.to_string()), item, out);
            }
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            out.push(Field::single(key, scalar_text(value).unwrap_or_default()));
        }
    }
}

/// Whether a value writes at least one field: a scalar somewhere inside it.
fn sends_anything(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => items.iter().any(sends_anything),
        Value::Object(map) => map.values().any(sends_anything),
    }
}

fn with_segment(key: &[String], segment: String) -> Vec<String> {
    let mut key = key.to_vec();
    key.push(segment);
    key
}

const NESTED: &str =
    "this field's encoding (a non-exploded style) cannot hold arrays or objects nested inside arrays or objects";

/// `form`, `spaceDelimited` and `pipeDelimited`, as for query parameters: exploded arrays repeat the
/// field and exploded objects spread their members into fields of their own; otherwise the items
/// (or `name,value` pairs) are joined into one field. Nested values have no standard form: exploded,
/// they nest with brackets under their own name; not exploded, they are refused.
fn styled(
    key: Vec<String>,
    value: &Value,
    explode: bool,
    delimiter: Delimiter,
    out: &mut Vec<Field>,
) -> Result<(), String> {
    match value {
        Value::Null => {}
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            out.push(Field::single(key, scalar_text(value).unwrap_or_default()));
        }
        Value::Array(items) => {
            let items: Vec<&Value> = items.iter().filter(|item| !item.is_null()).collect();
            if explode {
                for item in items {
                    match scalar_text(item) {
                        Some(text) => out.push(Field::single(key.clone(), text)),
                        None => {
                            // An array inside the array: indexed like deepObject under the same name.
                            nest(key.clone(), &Value::Array(vec![item.clone()]), out);
                        }
                    }
                }
            } else if !items.is_empty() {
                let texts = items.iter().map(|item| scalar_text(item).ok_or(NESTED)).collect::<Result<Vec<_>, _>>()?;
                out.push(Field { key, items: texts, delimiter });
            }
        }
        Value::Object(map) => {
            let members: Vec<(&String, &Value)> = map.iter().filter(|(_, member)| !member.is_null()).collect();
            if explode {
                for (member, inner) in members {
                    nest(vec![member.clone()], inner, out);
                }
            } else if !members.is_empty() {
                let mut texts = Vec::with_capacity(members.len() * 2);
                for (member, inner) in members {
                    texts.push(member.clone());
                    texts.push(scalar_text(inner).ok_or(NESTED)?);
                }
                out.push(Field { key, items: texts, delimiter });
            }
        }
    }
    Ok(())
}

/// The urlencoded body of an object: its members in order, each through [`fields`] with its
/// encoding entry. `argument_of` names the tool argument behind a member, for errors.
pub(super) fn urlencoded_body<'a>(
    map: &Map<String, Value>,
    encoding_of: impl Fn(&str) -> Option<&'a PropertyEncoding>,
) -> Result<String, (String, String)> {
    let mut pieces = Vec::new();
    for (name, member) in map {
        let encoding = encoding_of(name);
        let allow_reserved = encoding.is_some_and(|encoding| encoding.allow_reserved);
        let fields = fields(name, member, encoding).map_err(|reason| (name.clone(), reason))?;
        pieces.extend(fields.iter().map(|field| field.urlencoded(allow_reserved)));
    }
    Ok(pieces.join("&"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encoding(style: Option<ParameterStyle>, explode: Option<bool>) -> PropertyEncoding {
        PropertyEncoding { style, explode, ..PropertyEncoding::default() }
    }

    fn body(value: Value, encoding: Option<PropertyEncoding>) -> Result<String, String> {
        let map = json!({ "p": value });
        let map = map.as_object().expect("an object");
        urlencoded_body(map, |_| encoding.as_ref()).map_err(|(_, reason)| reason)
    }

    #[test]
    fn defaults_nest_objects_and_repeat_scalar_arrays() {
        let table: &[(Value, &str)] = &[
            (json!("a b&c=d+e/ü"), "p=a+b%26c%3Dd%2Be%2F%C3%BC"),
            (json!(12), "p=12"),
            (json!(true), "p=true"),
            (json!(["x", null, 2]), "p=x&p=2"),
            (json!({"city": "Berlin", "zip": null}), "p[city]=Berlin"),
            (json!({"a": {"b": [1, {"c": "d"}]}}), "p[a][b][0]=1&p[a][b][1][c]=d"),
            (
                json!([{"price": "p1", "quantity": 2}, null, {"price": "p2"}]),
                "p[0][price]=p1&p[0][quantity]=2&p[1][price]=p2",
            ),
            (json!([[1, 2], [3]]), "p[0][0]=1&p[0][1]=2&p[1][0]=3"),
            (json!([{}, [null], "x", {"a": []}, {"a": [null, {}, 1]}]), "p[0]=x&p[1][a][0]=1"),
            (json!({"we[ir]d": "]["}), "p[we%5Bir%5Dd]=%5D%5B"),
            (json!({}), ""),
            (json!([]), ""),
            (json!(null), ""),
        ];
        for (value, expected) in table {
            assert_eq!(body(value.clone(), None).as_deref(), Ok(*expected), "{value}");
            // An entry that only says `explode: true` is the default.
            assert_eq!(body(value.clone(), Some(encoding(None, Some(true)))).as_deref(), Ok(*expected), "{value}");
        }
    }

    #[test]
    fn explicit_styles() {
        use ParameterStyle::*;
        let array = json!(["a b", "c,d", 3]);
        let object = json!({"r": 100, "g": "2 0"});
        let nested = json!({"a": {"b": 1}});
        type Row = (Option<ParameterStyle>, Option<bool>, &'static str, &'static str, Result<&'static str, ()>);
        let table: &[Row] = &[
            (Some(Form), None, "p=a+b&p=c%2Cd&p=3", "r=100&g=2+0", Ok("a[b]=1")),
            (Some(Form), Some(false), "p=a+b,c%2Cd,3", "p=r,100,g,2+0", Err(())),
            (None, Some(false), "p=a+b,c%2Cd,3", "p=r,100,g,2+0", Err(())),
            (Some(SpaceDelimited), None, "p=a+b%20c%2Cd%203", "p=r%20100%20g%202+0", Err(())),
            (Some(SpaceDelimited), Some(true), "p=a+b&p=c%2Cd&p=3", "r=100&g=2+0", Ok("a[b]=1")),
            (Some(PipeDelimited), Some(false), "p=a+b|c%2Cd|3", "p=r|100|g|2+0", Err(())),
            (Some(DeepObject), Some(true), "p[0]=a+b&p[1]=c%2Cd&p[2]=3", "p[r]=100&p[g]=2+0", Ok("p[a][b]=1")),
            (Some(DeepObject), Some(false), "p[0]=a+b&p[1]=c%2Cd&p[2]=3", "p[r]=100&p[g]=2+0", Ok("p[a][b]=1")),
        ];
        for (style, explode, for_array, for_object, for_nested) in table {
            let encoding = encoding(*style, *explode);
            let label = format!("{style:?} explode={explode:?}");
            assert_eq!(body(array.clone(), Some(encoding.clone())).as_deref(), Ok(*for_array), "{label}");
            assert_eq!(body(object.clone(), Some(encoding.clone())).as_deref(), Ok(*for_object), "{label}");
            let nested_body = body(nested.clone(), Some(encoding.clone()));
            match for_nested {
                Ok(expected) => assert_eq!(nested_body.as_deref(), Ok(*expected), "{label}"),
                Err(()) => assert!(nested_body.is_err(), "{label}: {nested_body:?}"),
            }
            // A scalar is `name=value` in every style.
            assert_eq!(body(json!("x y"), Some(encoding)).as_deref(), Ok("p=x+y"), "{label}");
        }
    }

    #[test]
    fn allow_reserved_keeps_reserved_characters_in_values_only() {
        let encoding = PropertyEncoding { allow_reserved: true, ..PropertyEncoding::default() };
        assert_eq!(
            body(json!({"u": "https://x.test/a?b=c&d#e f+g"}), Some(encoding)).as_deref(),
            Ok("p[u]=https://x.test/a?b%3Dc%26d%23e%20f%2Bg")
        );
    }

    #[test]
    fn multipart_names_and_texts() {
        let nested = fields("items", &json!([{"price": "p 1"}]), None).expect("fields");
        assert_eq!(nested[0].multipart_name(), "items[0][price]");
        assert_eq!(nested[0].multipart_text(), "p 1");
        let piped = fields("tags", &json!(["a", "b"]), Some(&encoding(Some(ParameterStyle::PipeDelimited), None)))
            .expect("fields");
        assert_eq!(piped[0].multipart_text(), "a|b");
    }
}
