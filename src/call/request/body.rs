//! The request body: JSON, `application/x-www-form-urlencoded` (through [`super::form`]),
//! `multipart/form-data` parts, raw text and binary (base64 arguments decoded here).

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::*;

/// Which parts of the body carry base64 that must be decoded.
enum Binary<'a> {
    /// The whole body came from one argument; `true` when that argument is binary.
    Whole(bool),
    /// The body was assembled from properties; (wire name, argument) of the binary ones.
    Properties(Vec<(&'a str, &'a str)>),
}

/// The media type without parameters, lowercased: `Application/JSON; charset=utf-8` → `application/json`.
fn media_essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// `application/json`, any `+json` suffix, and any `*/json` such as `text/json`.
fn is_json(essence: &str) -> bool {
    essence.ends_with("+json") || essence.split_once('/').is_some_and(|(_, subtype)| subtype == "json")
}

pub(super) fn build_body(
    call: &UpstreamCall,
    arguments: &Map<String, Value>,
    binary_arguments: &[&str],
) -> Result<RequestBodyBytes, BuildError> {
    let is_binary = |argument: &str| binary_arguments.contains(&argument);
    let body_required = call.body.as_ref().is_some_and(|body| body.required);
    // Bindings without a declared body cannot come from `compile/`; JSON is the safe reading.
    let content_type = call.body.as_ref().map_or("application/json", |body| body.content_type.trim());
    let whole = call.arguments.iter().find(|binding| binding.location == ArgumentLocation::Body);
    let properties: Vec<&ArgumentBinding> =
        call.arguments.iter().filter(|binding| binding.location == ArgumentLocation::BodyProperty).collect();

    // Properties keep `null` (it means something in JSON); form and multipart skip it later.
    let mut object = Map::new();
    let mut binary_properties = Vec::new();
    let mut first_missing: Option<&str> = None;
    for property in &properties {
        match arguments.get(&property.argument) {
            Some(value) => {
                object.insert(property.wire_name.clone(), value.clone());
                if is_binary(&property.argument) {
                    binary_properties.push((property.wire_name.as_str(), property.argument.as_str()));
                }
            }
            None if property.required && first_missing.is_none() => first_missing = Some(&property.argument),
            None => {}
        }
    }

    // A `null` whole body is read as "no body": sending the JSON literal `null` is almost never meant.
    let whole_value = whole.and_then(|binding| arguments.get(&binding.argument).map(|value| (binding, value)));
    let whole_value = whole_value.filter(|(_, value)| !value.is_null());
    let body_argument = whole.map_or("body", |binding| binding.argument.as_str());

    let (value, binary): (Cow<'_, Value>, Binary<'_>) = if let Some((binding, value)) = whole_value {
        if !object.is_empty() {
            return Err(invalid(&binding.argument, "the whole body and individual body properties were both given"));
        }
        (Cow::Borrowed(value), Binary::Whole(is_binary(&binding.argument)))
    } else if whole.is_some_and(|binding| binding.required) {
        return Err(missing(body_argument));
    } else if !object.is_empty() || (body_required && !properties.is_empty()) {
        if let Some(argument) = first_missing {
            return Err(missing(argument));
        }
        // A required body whose properties are all optional is sent as `{}`: that is a valid body,
        // and the agent has no `body` argument it could supply instead.
        (Cow::Owned(Value::Object(object)), Binary::Properties(binary_properties))
    } else if body_required {
        return Err(missing(body_argument));
    } else {
        return Ok(RequestBodyBytes::None);
    };

    let essence = media_essence(content_type);
    if is_json(&essence) {
        let bytes = serde_json::to_vec(value.as_ref())
            .map_err(|error| invalid(body_argument, format!("the body cannot be serialized as JSON: {error}")))?;
        return Ok(RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes });
    }
    // The argument behind a body member, which is what errors must name for the agent.
    let argument_of = |wire_name: &str| -> String {
        properties
            .iter()
            .find(|binding| binding.wire_name == wire_name)
            .map_or(body_argument, |binding| binding.argument.as_str())
            .to_string()
    };
    let encoding_of = |name: &str| call.body.as_ref().and_then(|body| body.encoding_of(name));
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            let Value::Object(map) = value.as_ref() else {
                return Err(invalid(body_argument, "a form-encoded body must be an object"));
            };
            let text = form::urlencoded_body(map, encoding_of)
                .map_err(|(wire_name, reason)| invalid(&argument_of(&wire_name), reason))?;
            Ok(RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes: text.into_bytes() })
        }
        "multipart/form-data" => {
            let parts = multipart_body(body_argument, &value, &binary, &encoding_of, &argument_of)?;
            if parts.is_empty() {
                // An HTTP client sends a form without parts as no bytes at all, which multipart
                // parsers refuse; the empty form of RFC 2046 is the closing delimiter alone.
                let content_type = format!("{content_type}; boundary={EMPTY_FORM_BOUNDARY}");
                let bytes = format!("--{EMPTY_FORM_BOUNDARY}--\r\n").into_bytes();
                return Ok(RequestBodyBytes::Bytes { content_type, bytes });
            }
            Ok(RequestBodyBytes::Multipart(parts))
        }
        _ => {
            let bytes = match (value.as_ref(), &binary) {
                (Value::String(text), Binary::Whole(true)) => decode_base64(text)
                    .ok_or_else(|| invalid(body_argument, "the value is not valid base64 (standard or URL-safe)"))?,
                // Any other string is the body's text as written (text/*, XML, YAML, CSV...):
                // JSON-quoting it would send the quotes too.
                (Value::String(text), _) => text.as_bytes().to_vec(),
                (other, _) => serde_json::to_vec(other)
                    .map_err(|error| invalid(body_argument, format!("the body cannot be serialized: {error}")))?,
            };
            Ok(RequestBodyBytes::Bytes { content_type: content_type.to_string(), bytes })
        }
    }
}

/// The boundary of a multipart body without parts (nothing can collide with it).
const EMPTY_FORM_BOUNDARY: &str = "api2mcp-empty-form";

/// One part per property, in argument order. Binary properties are decoded from base64 into file
/// parts (one per item for an array of files), typed by the `encoding` entry's `contentType`
/// (default `application/octet-stream`). Otherwise, by OpenAPI's default encodings: strings,
/// numbers and booleans are text parts, objects are JSON parts, arrays give one part per item (the
/// repeated-field convention every multipart parser understands). An entry's `contentType` types
/// the part (a JSON type sends the whole value as one JSON part); an entry's `style` turns the
/// property into form fields, one text part each.
fn multipart_body<'a>(
    argument: &str,
    value: &Value,
    binary: &Binary<'_>,
    encoding_of: &dyn Fn(&str) -> Option<&'a crate::catalogue::PropertyEncoding>,
    argument_of: &dyn Fn(&str) -> String,
) -> Result<Vec<MultipartPart>, BuildError> {
    let Value::Object(map) = value else {
        return Err(invalid(argument, "a multipart/form-data body must be an object"));
    };
    let mut parts = Vec::new();
    for (name, member) in map {
        let encoding = encoding_of(name);
        let part_type = encoding.and_then(|encoding| encoding.content_type.as_deref());
        // The argument behind a binary property, which is what errors must name for the agent.
        let file_argument = match binary {
            Binary::Properties(files) => {
                files.iter().find(|(wire, _)| *wire == name.as_str()).map(|(_, argument)| *argument)
            }
            Binary::Whole(_) => None,
        };
        if file_argument.is_none() && form::is_styled(encoding) {
            let fields = form::fields(name, member, encoding).map_err(|reason| invalid(&argument_of(name), reason))?;
            parts.extend(fields.iter().map(|field| MultipartPart {
                name: field.multipart_name(),
                value: MultipartValue::Text(field.multipart_text()),
            }));
            continue;
        }
        let json_part = part_type.is_some_and(|part_type| is_json(&media_essence(part_type)));
        let items: Vec<&Value> = match member {
            Value::Array(items) if !json_part => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let value = match (item, part_type) {
                (Value::Null, _) => continue,
                (Value::String(text), _) if file_argument.is_some() => MultipartValue::File {
                    bytes: decode_base64(text).ok_or_else(|| {
                        invalid(
                            file_argument.unwrap_or(argument),
                            "the value is not valid base64 (standard or URL-safe)",
                        )
                    })?,
                    file_name: name.clone(),
                    content_type: part_type.unwrap_or("application/octet-stream").to_string(),
                },
                (item, Some(part_type)) if json_part => {
                    MultipartValue::Typed { text: item.to_string(), content_type: part_type.to_string() }
                }
                (Value::Array(_) | Value::Object(_), _) => MultipartValue::Json(item.to_string()),
                (scalar, Some(part_type)) => MultipartValue::Typed {
                    text: scalar_text(scalar).unwrap_or_default(),
                    content_type: part_type.to_string(),
                },
                (scalar, None) => MultipartValue::Text(scalar_text(scalar).unwrap_or_default()),
            };
            parts.push(MultipartPart { name: name.clone(), value });
        }
    }
    Ok(parts)
}

/// Decodes standard (`+/`) or URL-safe (`-_`) base64, padding optional but exact when present,
/// ASCII whitespace ignored (agents and MIME tools wrap long lines). `None` for any other character,
/// data after padding, or an impossible length. The URL-safe letters are mapped onto the standard
/// ones first, so one alphabet reads both.
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const fn engine(padding: DecodePaddingMode) -> GeneralPurpose {
        GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_padding_mode(padding).with_decode_allow_trailing_bits(true),
        )
    }
    const PADDED: GeneralPurpose = engine(DecodePaddingMode::RequireCanonical);
    const UNPADDED: GeneralPurpose = engine(DecodePaddingMode::RequireNone);
    let standard: Vec<u8> = text
        .bytes()
        .filter(|byte| !byte.is_ascii_whitespace())
        .map(|byte| match byte {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    let engine = if standard.ends_with(b"=") { &PADDED } else { &UNPADDED };
    engine.decode(standard).ok()
}
