//! Pagination cursors handed to agents: opaque, tamper-evident (HMAC-SHA256), and bound to one tool, one
//! upstream origin and one caller, with an expiry. The payload holds everything needed to fetch the next
//! page (the upstream position and the original arguments), so that any instance sharing the key can
//! continue a walk: no server-side state.
//!
//! Format: `base64url(JSON payload) "." base64url(HMAC-SHA256(key, tool, origin, caller, payload)[..16])`.
//! The binding (tool, origin, caller) is signed but not carried, which keeps cursors short (they cost the
//! agent tokens). The payload is signed, not encrypted: it holds only what the agent sent and what the
//! upstream returned for it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = hmac::Hmac<Sha256>;

/// How long a cursor stays valid.
pub const CURSOR_LIFETIME_SECS: u64 = 24 * 3600;

/// Cursors longer than this are refused before any decoding.
const MAX_CURSOR_BYTES: usize = 16 * 1024;

/// Bytes of the HMAC kept in a cursor: 128 bits.
const TAG_BYTES: usize = 16;

/// The key that signs cursors: derived from `server.cursor_secret` when set (same value on every
/// instance), else random per process (cursors then die with the process).
#[derive(Clone)]
pub struct CursorKey {
    key: [u8; 32],
}

impl CursorKey {
    pub fn new(secret: Option<&str>) -> Self {
        let key = match secret {
            Some(secret) => Sha256::digest(format!("api2mcp cursor key\0{secret}").as_bytes()).into(),
            None => {
                let mut key = [0u8; 32];
                // Without an entropy source the process cannot serve safely anyway; a failure here
                // would only happen on a broken system, and then a fixed key is not an option.
                getrandom::fill(&mut key).expect("the operating system provides random bytes");
                key
            }
        };
        CursorKey { key }
    }

    fn mac(&self) -> HmacSha256 {
        <HmacSha256 as KeyInit>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    fn tag(&self, binding: &Binding<'_>, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.mac();
        for part in [binding.tool, binding.origin, &caller_tag(binding.caller)] {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        mac.update(payload);
        mac
    }

    pub fn seal(&self, binding: &Binding<'_>, state: &CursorState) -> String {
        let payload = serde_json::to_vec(state).unwrap_or_default();
        let tag = self.tag(binding, &payload).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
    }

    /// Checks the signature (which covers the tool, origin and caller it was issued for), then the expiry.
    pub fn open(&self, token: &str, expect: &Binding<'_>, now: u64) -> Result<CursorState, CursorError> {
        if token.len() > MAX_CURSOR_BYTES {
            return Err(CursorError::Malformed);
        }
        let (payload, tag) = token.split_once('.').ok_or(CursorError::Malformed)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CursorError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CursorError::Malformed)?;
        self.tag(expect, &payload).verify_truncated_left(&tag).map_err(|_| CursorError::NotIssued)?;
        let state: CursorState = serde_json::from_slice(&payload).map_err(|_| CursorError::Malformed)?;
        if state.expires < now {
            return Err(CursorError::Expired);
        }
        Ok(state)
    }
}

/// What a cursor is bound to.
pub struct Binding<'a> {
    pub tool: &'a str,
    pub origin: &'a str,
    /// The authenticated caller (subject or key id), when there is one.
    pub caller: Option<&'a str>,
}

/// A hash of the caller's identity: enough to tell callers apart, without putting the identity itself
/// into a token the agent can read.
pub fn caller_tag(caller: Option<&str>) -> String {
    match caller {
        None => String::new(),
        Some(caller) => {
            let digest = Sha256::digest(caller.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..12])
        }
    }
}

/// Where the walk stands in the upstream's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Position {
    /// The first page.
    Start,
    /// The upstream's cursor value for the next page.
    Cursor {
        c: String,
    },
    Offset {
        o: u64,
    },
    Page {
        p: u64,
    },
    /// A next-page URL (Link header or body); same origin as the upstream, checked when followed.
    Url {
        u: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CursorState {
    /// The arguments of the first call (without `cursor`): later pages repeat the same query.
    #[serde(rename = "a", default, skip_serializing_if = "Map::is_empty")]
    pub arguments: Map<String, Value>,
    #[serde(rename = "p")]
    pub position: Position,
    /// Items of the page at `position` already returned (a budget cut a page short).
    #[serde(rename = "s", default, skip_serializing_if = "is_zero")]
    pub skip: usize,
    #[serde(rename = "e")]
    pub expires: u64,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("is not a cursor issued by this server")]
    Malformed,
    #[error("was not issued by this tool for this caller, or has been altered")]
    NotIssued,
    #[error("has expired")]
    Expired,
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CursorState {
        CursorState { arguments: Map::new(), position: Position::Offset { o: 40 }, skip: 3, expires: 1_000 }
    }

    fn binding<'a>(tool: &'a str, caller: Option<&'a str>) -> Binding<'a> {
        Binding { tool, origin: "http://127.0.0.1:1", caller }
    }

    #[test]
    fn a_sealed_cursor_opens_only_for_its_tool_origin_and_caller() {
        let key = CursorKey::new(Some("secret"));
        let token = key.seal(&binding("list", Some("alice")), &state());
        assert!(token.len() < 100, "cursors stay short: {token}");
        assert_eq!(key.open(&token, &binding("list", Some("alice")), 999), Ok(state()));
        assert_eq!(key.open(&token, &binding("other", Some("alice")), 999), Err(CursorError::NotIssued));
        assert_eq!(key.open(&token, &binding("list", Some("bob")), 999), Err(CursorError::NotIssued));
        assert_eq!(key.open(&token, &binding("list", None), 999), Err(CursorError::NotIssued));
        let other_origin = Binding { tool: "list", origin: "http://127.0.0.1:2", caller: Some("alice") };
        assert_eq!(key.open(&token, &other_origin, 999), Err(CursorError::NotIssued));
        assert_eq!(key.open(&token, &binding("list", Some("alice")), 1_001), Err(CursorError::Expired));
    }

    #[test]
    fn tampering_and_foreign_keys_are_detected() {
        let key = CursorKey::new(Some("secret"));
        let token = key.seal(&binding("list", None), &state());
        let (payload, tag) = token.split_once('.').unwrap();
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap().replace("40", "99");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(decoded.as_bytes()));
        assert_eq!(key.open(&forged, &binding("list", None), 0), Err(CursorError::NotIssued));
        let other = CursorKey::new(Some("another secret"));
        assert_eq!(other.open(&token, &binding("list", None), 0), Err(CursorError::NotIssued));
        assert_eq!(key.open("garbage", &binding("list", None), 0), Err(CursorError::Malformed));
        assert_eq!(key.open(&"a.".repeat(10_000), &binding("list", None), 0), Err(CursorError::Malformed));
        // Random keys differ per process (and per key).
        assert_ne!(CursorKey::new(None).key, CursorKey::new(None).key);
    }
}
