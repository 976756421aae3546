//! The strict percent-encoding set, shared by the request builder (`call/request`) and secret
//! redaction (`classify`): redaction must know every form in which a secret can leave, so both use
//! the one definition. A leaf module: it imports nothing from the crate.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Everything except RFC 3986 unreserved characters (`A-Za-z0-9-._~`) is encoded, so a value can
/// never contribute a delimiter to the path or the query.
pub const STRICT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `text` percent-encoded with [`STRICT`] (upper-case hex digits).
#[must_use]
pub fn strict(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, STRICT).to_string()
}
