//! Headers and cookies from arguments: header names must be tokens, values that could inject a
//! header are refused; cookies in OpenAPI's `form` style.

use serde_json::Value;

use super::*;

/// RFC 9110 `tchar`: what a header or cookie name may contain.
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Refuses values that could end the header early (CR, LF, NUL), other control characters, and
/// non-ASCII text, whose meaning in a header depends on the receiver. The value itself is never
/// echoed: it may be a secret or an injection attempt.
pub(super) fn check_header_value(argument: &str, value: &str) -> Result<(), BuildError> {
    for character in value.chars() {
        if matches!(character, '\r' | '\n' | '\0') {
            return Err(invalid(argument, "a header value cannot contain line breaks or NUL characters"));
        }
        if !character.is_ascii() {
            return Err(invalid(argument, "a header value must be ASCII text"));
        }
        if character.is_ascii_control() && character != '\t' {
            return Err(invalid(argument, "a header value cannot contain control characters"));
        }
    }
    Ok(())
}

/// Simple style, unencoded (headers are not URLs); `None` for an empty array or object.
pub(super) fn header_value(binding: &ArgumentBinding, value: &Value) -> Result<Option<String>, BuildError> {
    if !is_token(&binding.wire_name) {
        return Err(invalid(
            &binding.argument,
            "the header name from the API description is not a valid HTTP header name",
        ));
    }
    // Compile leaves these out of the inputSchema; refusing again keeps a hand-built binding honest.
    if crate::catalogue::is_reserved_header(&binding.wire_name) {
        return Err(invalid(
            &binding.argument,
            format!(
                "the '{}' header is reserved (credentials, cookies, forwarding, framing or routing) and cannot be set by a tool argument",
                binding.wire_name
            ),
        ));
    }
    let identity = |text: &str| text.to_string();
    let text = match shape(binding, value)? {
        Shape::Scalar(text) => text,
        Shape::List(items) if items.is_empty() => return Ok(None),
        Shape::List(items) => items.join(","),
        Shape::Pairs(pairs) if pairs.is_empty() => return Ok(None),
        Shape::Pairs(pairs) => join_pairs(&pairs, identity, binding.explode, ","),
    };
    check_header_value(&binding.argument, &text)?;
    Ok(Some(text))
}

/// Form style (the only cookie style in OpenAPI 3.0): `name=value`, exploded arrays repeat the
/// cookie, exploded objects make each property a cookie. Values (and property names) are strictly
/// encoded, which keeps `;`, `,`, spaces and quotes out of the `Cookie` header.
pub(super) fn cookie_pieces(binding: &ArgumentBinding, value: &Value, out: &mut Vec<String>) -> Result<(), BuildError> {
    if !is_token(&binding.wire_name) {
        return Err(invalid(&binding.argument, "the cookie name from the API description is not a valid cookie name"));
    }
    let name = binding.wire_name.as_str();
    let strict = |text: &str| encode(text, STRICT);
    match shape(binding, value)? {
        Shape::Scalar(text) => out.push(format!("{name}={}", strict(&text))),
        Shape::List(items) if items.is_empty() => {}
        Shape::List(items) if binding.explode => {
            out.extend(items.iter().map(|item| format!("{name}={}", strict(item))))
        }
        Shape::List(items) => out.push(format!("{name}={}", join_encoded(&items, strict, ","))),
        Shape::Pairs(pairs) if pairs.is_empty() => {}
        Shape::Pairs(pairs) if binding.explode => {
            out.extend(pairs.iter().map(|(key, member)| format!("{}={}", strict(key), strict(member))));
        }
        Shape::Pairs(pairs) => out.push(format!("{name}={}", join_pairs(&pairs, strict, false, ","))),
    }
    Ok(())
}
