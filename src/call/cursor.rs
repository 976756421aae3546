//! Pagination cursors handed to agents: opaque, tamper-evident (HMAC-SHA256), and bound to one tool, one
//! upstream origin and one caller, with an expiry. The payload holds everything needed to fetch the next
//! page (the upstream position and the original arguments), so that any instance sharing the key can
//! continue a walk: no server-side state.
//!
//! Format: `base64url(JSON payload) "." base64url(HMAC-SHA256(key, payload))`. The payload is signed, not
//! encrypted: it holds only what the agent sent and what the upstream returned for it.

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

/// The key that signs cursors: derived from `server.cursor_secret` when set (same value on every
/// instance), else random per process (cursors then die with the process).
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

    pub fn seal(&self, state: &CursorState) -> String {
        let payload = serde_json::to_vec(state).unwrap_or_default();
        let mut mac = self.mac();
        mac.update(&payload);
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks the signature first, then that the cursor belongs to this tool, origin and caller and has
    /// not expired.
    pub fn open(&self, token: &str, expect: &Binding<'_>, now: u64) -> Result<CursorState, CursorError> {
        if token.len() > MAX_CURSOR_BYTES {
            return Err(CursorError::Malformed);
        }
        let (payload, tag) = token.split_once('.').ok_or(CursorError::Malformed)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CursorError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CursorError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| CursorError::Forged)?;
        let state: CursorState = serde_json::from_slice(&payload).map_err(|_| CursorError::Malformed)?;
        if state.tool != expect.tool || state.origin != expect.origin {
            return Err(CursorError::OtherTool);
        }
        if state.caller != caller_tag(expect.caller) {
            return Err(CursorError::OtherCaller);
        }
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
    #[serde(rename = "t")]
    pub tool: String,
    #[serde(rename = "o")]
    pub origin: String,
    #[serde(rename = "c", default)]
    pub caller: String,
    /// The arguments of the first call (without `cursor`): later pages repeat the same query.
    #[serde(rename = "a", default)]
    pub arguments: Map<String, Value>,
    #[serde(rename = "p")]
    pub position: Position,
    /// Items of the page at `position` already returned (a budget cut a page short).
    #[serde(rename = "s", default)]
    pub skip: usize,
    #[serde(rename = "e")]
    pub expires: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("is not a cursor issued by this server")]
    Malformed,
    #[error("has been altered or was signed with another key")]
    Forged,
    #[error("belongs to another tool")]
    OtherTool,
    #[error("belongs to another caller")]
    OtherCaller,
    #[error("has expired")]
    Expired,
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(tool: &str, caller: Option<&str>) -> CursorState {
        CursorState {
            tool: tool.into(),
            origin: "http://127.0.0.1:1".into(),
            caller: caller_tag(caller),
            arguments: Map::new(),
            position: Position::Offset { o: 40 },
            skip: 3,
            expires: 1_000,
        }
    }

    fn binding<'a>(tool: &'a str, caller: Option<&'a str>) -> Binding<'a> {
        Binding { tool, origin: "http://127.0.0.1:1", caller }
    }

    #[test]
    fn a_sealed_cursor_opens_for_its_tool_origin_and_caller() {
        let key = CursorKey::new(Some("secret"));
        let token = key.seal(&state("list", Some("alice")));
        assert_eq!(key.open(&token, &binding("list", Some("alice")), 999), Ok(state("list", Some("alice"))));
        assert_eq!(key.open(&token, &binding("other", Some("alice")), 999), Err(CursorError::OtherTool));
        assert_eq!(key.open(&token, &binding("list", Some("bob")), 999), Err(CursorError::OtherCaller));
        assert_eq!(key.open(&token, &binding("list", None), 999), Err(CursorError::OtherCaller));
        let other_origin = Binding { tool: "list", origin: "http://127.0.0.1:2", caller: Some("alice") };
        assert_eq!(key.open(&token, &other_origin, 999), Err(CursorError::OtherTool));
        assert_eq!(key.open(&token, &binding("list", Some("alice")), 1_001), Err(CursorError::Expired));
    }

    #[test]
    fn tampering_and_foreign_keys_are_detected() {
        let key = CursorKey::new(Some("secret"));
        let token = key.seal(&state("list", None));
        let (payload, tag) = token.split_once('.').unwrap();
        let mut decoded = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let text = String::from_utf8(decoded.clone()).unwrap().replace("40", "99");
        decoded = text.into_bytes();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(&decoded));
        assert_eq!(key.open(&forged, &binding("list", None), 0), Err(CursorError::Forged));
        let other = CursorKey::new(Some("another secret"));
        assert_eq!(other.open(&token, &binding("list", None), 0), Err(CursorError::Forged));
        assert_eq!(key.open("garbage", &binding("list", None), 0), Err(CursorError::Malformed));
        assert_eq!(key.open(&"a.".repeat(10_000), &binding("list", None), 0), Err(CursorError::Malformed));
        // Random keys differ per process (and per key).
        assert_ne!(CursorKey::new(None).key, CursorKey::new(None).key);
    }
}
