//! Inbound authentication as the runtime uses it: the mapping's `auth` section compiled once, in
//! `compile/auth.rs`, with every default applied, every value parsed (algorithms, key hashes,
//! durations) and every problem reported there. `auth::Inbound` is built from this and cannot meet an
//! unusable setting.

use std::collections::BTreeSet;
use std::time::Duration;

use jsonwebtoken::Algorithm;

#[derive(Debug, Clone)]
pub struct InboundAuth {
    /// This server's canonical MCP URL (RFC 8707), when configured.
    pub resource: Option<String>,
    /// Callers without credentials are accepted (with no scopes).
    pub anonymous: bool,
    pub issuers: Vec<TokenIssuer>,
    /// Signature algorithms accepted: asymmetric only, never empty when there are issuers.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// Largest bearer token accepted, in bytes.
    pub max_token_bytes: usize,
    pub introspection: Option<Introspection>,
    pub api_keys: Vec<ApiKey>,
    /// Inbound headers forwarded upstream: lowercase, never a credential or forwarding header.
    pub forward_headers: Vec<String>,
    /// Argument values appear in audit lines (default: names only).
    pub audit_arguments: bool,
}

/// One trusted JWT issuer.
#[derive(Debug, Clone)]
pub struct TokenIssuer {
    /// Exactly as in the tokens' `iss`.
    pub issuer: String,
    /// An absolute http(s) URL.
    pub jwks_uri: String,
    /// Audiences accepted in `aud`: the configured ones, else the `resource`; never empty.
    pub audiences: Vec<String>,
    /// An unknown `kid` refreshes the JWKS at most this often.
    pub min_refresh_interval: Duration,
    /// Also grant the scopes of the `scp` claim.
    pub read_scp: bool,
}

/// An RFC 7662 introspection endpoint.
#[derive(Clone)]
pub struct Introspection {
    /// An absolute http(s) URL.
    pub url: String,
    pub client_id: String,
    /// Never printed (`Debug` redacts it).
    pub client_secret: String,
    /// Longest time an answer is reused.
    pub cache_for: Duration,
    /// Audiences an introspected token must name, when it names one (the `resource`).
    pub audiences: Vec<String>,
}

impl std::fmt::Debug for Introspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspection")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("cache_for", &self.cache_for)
            .field("audiences", &self.audiences)
            .finish()
    }
}

/// A static API key: only its SHA-256 is kept.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub sha256: [u8; 32],
    pub scopes: BTreeSet<String>,
}
