//! Inbound authentication and authorization on the HTTP transport (upstream credentials live in
//! `call::credentials`, beside the requests they go on).
//!
//! - `guard` (axum middleware in front of `/mcp`): every request carries a valid JWT (verified
//!   locally against the issuer's JWKS, `jwks.rs`) or a static API key, or is anonymous where the
//!   configuration allows it; otherwise `401` with `WWW-Authenticate` pointing at the RFC 9728
//!   metadata. A `tools/call` (tool name read from the JSON-RPC body, never from `Mcp-Name`) of a
//!   tool the caller's scopes do not permit is refused with `403 insufficient_scope`. The
//!   authenticated [`Principal`] rides in the request's extensions to the MCP handler.
//! - [`permits`] is the one rule for "listed in `tools/list`" and "callable".

pub mod introspect;
pub mod jwks;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::catalogue::auth::InboundAuth;
use crate::telemetry::metrics::Metrics;

/// Who is calling, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub` (or `client_id`), `key:<id>` for an API key; `None` for anonymous callers.
    pub subject: Option<String>,
    /// The API key's id, when the caller used one.
    pub key_id: Option<String>,
    /// The scopes granted, matched exactly.
    pub scopes: BTreeSet<String>,
}

impl Principal {
    pub fn anonymous() -> Self {
        Principal { subject: None, key_id: None, scopes: BTreeSet::new() }
    }
}

/// The one rule for both `tools/list` and `tools/call`: a tool is listed and callable when every
/// scope it requires is granted, compared byte for byte (no case folding, trimming or wildcards).
pub fn permits(granted: &BTreeSet<String>, required: &[String]) -> bool {
    required.iter().all(|scope| granted.contains(scope))
}

/// The scopes in a token's (or an introspection answer's) claims: the `scope` claim, only as the
/// space-delimited string RFC 8693 and RFC 9068 define (a JSON array there grants nothing), and, when
/// `read_scp` is configured for the issuer, the `scp` claim as an array of strings or a string.
pub fn granted_scopes(claims: &Value, read_scp: bool) -> BTreeSet<String> {
    let words = |text: &str| text.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>();
    let mut scopes = BTreeSet::new();
    if let Some(Value::String(text)) = claims.get("scope") {
        scopes.extend(words(text));
    }
    if read_scp {
        match claims.get("scp") {
            Some(Value::String(text)) => scopes.extend(words(text)),
            Some(Value::Array(items)) => scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
    }
    scopes
}

struct Issuer {
    issuer: String,
    audiences: Vec<String>,
    read_scp: bool,
    jwks: jwks::Jwks,
}

/// The inbound side, built once from the catalogue's compiled `auth` at startup.
pub struct Inbound {
    settings: InboundAuth,
    issuers: Vec<Issuer>,
    /// SHA-256 of each API key → (id, scopes).
    api_keys: HashMap<[u8; 32], (String, BTreeSet<String>)>,
    introspector: Option<introspect::Introspector>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No credentials and anonymous access is off.
    Missing,
    /// Credentials were presented but are not valid: what is wrong (safe to show).
    Invalid(String),
    /// The issuer's keys cannot be fetched and none are cached.
    Unavailable(String),
}

impl Inbound {
    /// The settings were checked when the catalogue was compiled (`compile/auth.rs`); what can still
    /// fail here is building an HTTP client for the JWKS or introspection endpoint.
    pub fn new(settings: &InboundAuth, metrics: Arc<Metrics>) -> Result<Self, String> {
        let issuers = settings
            .issuers
            .iter()
            .map(|issuer| {
                Ok(Issuer {
                    issuer: issuer.issuer.clone(),
                    audiences: issuer.audiences.clone(),
                    read_scp: issuer.read_scp,
                    jwks: jwks::Jwks::new(issuer.jwks_uri.clone(), issuer.min_refresh_interval, metrics.clone())?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let api_keys = settings.api_keys.iter().map(|key| (key.sha256, (key.id.clone(), key.scopes.clone()))).collect();
        let introspector = settings.introspection.as_ref().map(introspect::Introspector::new).transpose()?;
        Ok(Inbound { introspector, settings: settings.clone(), issuers, api_keys })
    }

    /// Authenticates a request from its headers alone (a token in the query string is ignored).
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Denial> {
        // Proxies and frameworks disagree on which of two credentials counts: refuse the ambiguity.
        for name in [header::AUTHORIZATION.as_str(), "x-api-key"] {
            if headers.get_all(name).iter().count() > 1 {
                return Err(Denial::Invalid(format!("more than one {name} header")));
            }
        }
        let bearer = match headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                let value =
                    value.to_str().map_err(|_| Denial::Invalid("the Authorization header is not text".into()))?;
                let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
                if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                    return Err(Denial::Invalid("only `Authorization: Bearer <token>` is accepted".into()));
                }
                Some(token.trim().to_string())
            }
        };
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
        let Some(credential) = bearer.or(api_key) else {
            return if self.settings.anonymous { Ok(Principal::anonymous()) } else { Err(Denial::Missing) };
        };
        if credential.len() > self.settings.max_token_bytes {
            return Err(Denial::Invalid(format!("the token is larger than {} bytes", self.settings.max_token_bytes)));
        }
        if let Some((id, scopes)) = self.api_keys.get(&<[u8; 32]>::from(Sha256::digest(credential.as_bytes()))) {
            return Ok(Principal {
                subject: Some(format!("key:{id}")),
                key_id: Some(id.clone()),
                scopes: scopes.clone(),
            });
        }
        // Not a JWT (no header to decode): an opaque token, for the introspection endpoint if any.
        if jsonwebtoken::decode_header(&credential).is_err()
            && let Some(introspector) = &self.introspector
        {
            return introspector.check(&credential).await;
        }
        if self.issuers.is_empty() {
            return Err(Denial::Invalid(if self.introspector.is_some() {
                "the token is not valid".into()
            } else {
                "unknown API key".into()
            }));
        }
        self.verify_jwt(&credential).await
    }

    async fn verify_jwt(&self, token: &str) -> Result<Principal, Denial> {
        let invalid = |why: &str| Denial::Invalid(why.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT this server accepts"))?;
        if !self.settings.algorithms.contains(&header.alg) {
            return Err(Denial::Invalid(format!("algorithm {:?} is not accepted", header.alg)));
        }
        // The issuer is read before verification only to pick its keys; it is verified below.
        let unverified: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| invalid("the token's claims are not JSON"))?;
        let iss = unverified.get("iss").and_then(Value::as_str).ok_or_else(|| invalid("the token has no `iss`"))?;
        let issuer = self.issuers.iter().find(|i| i.issuer == iss).ok_or_else(|| invalid("untrusted issuer"))?;
        let key = issuer.jwks.key(header.kid.as_deref()).await.map_err(|error| match error {
            jwks::KeyError::Unknown(_) => invalid("the token's signing key is unknown"),
            jwks::KeyError::Unavailable(why) => Denial::Unavailable(why),
        })?;
        if key.algorithm.is_some_and(|alg| alg != header.alg) {
            return Err(invalid("the token's algorithm does not match its key"));
        }
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&issuer.issuer]);
        validation.set_audience(&issuer.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.leeway = self.settings.leeway.as_secs();
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            Denial::Invalid(
                match error.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                    ErrorKind::InvalidAudience => "the token is not for this server (aud)",
                    ErrorKind::InvalidIssuer => "untrusted issuer",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, iss, aud)",
                    ErrorKind::InvalidSignature => "the token's signature does not verify",
                    _ => "the token is not valid",
                }
                .to_string(),
            )
        })?;
        let claims = data.claims;
        let subject = ["sub", "client_id", "azp"].iter().find_map(|c| claims.get(*c).and_then(Value::as_str));
        Ok(Principal {
            subject: subject.map(str::to_string),
            key_id: None,
            scopes: granted_scopes(&claims, issuer.read_scp),
        })
    }

    /// The inbound headers that may travel upstream: only the configured allow-list, never credentials.
    pub fn forwarded(&self, headers: &HeaderMap) -> Vec<(String, String)> {
        self.settings
            .forward_headers
            .iter()
            .filter_map(|name| {
                let value = headers.get(name.as_str())?.to_str().ok()?;
                Some((name.clone(), value.to_string()))
            })
            .collect()
    }

    pub fn settings(&self) -> &InboundAuth {
        &self.settings
    }

    /// The issuers whose tokens are accepted (`authorization_servers` in the RFC 9728 metadata).
    pub fn issuer_urls(&self) -> Vec<String> {
        self.issuers.iter().map(|i| i.issuer.clone()).collect()
    }
}

/// The caller's own bearer token, kept only for upstream token exchange (RFC 8693); never sent
/// upstream, never printed.
#[derive(Clone)]
pub struct SubjectToken(pub String);

impl std::fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectToken(<redacted>)")
    }
}

/// What the guard hands to the MCP handler in the request's extensions.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    /// Allow-listed inbound headers to send upstream.
    pub forwarded: Vec<(String, String)>,
    pub audit_arguments: bool,
    /// The caller's bearer token (JWT or opaque), kept only for RFC 8693 token exchange.
    pub token: Option<SubjectToken>,
}

/// The RFC 9728 metadata URL for this server's `/mcp` resource.
pub fn metadata_url(inbound: &Inbound, headers: &HeaderMap) -> String {
    let origin = match inbound.settings.resource.as_deref().and_then(|r| url::Url::parse(r).ok()) {
        Some(resource) => resource.origin().ascii_serialization(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    format!("{origin}/.well-known/oauth-protected-resource/mcp")
}

/// One audit line (target `audit`, JSON with the log format) for a refused request.
pub fn audit_denied(principal: Option<&Principal>, tool: &str, reason: &str, took: Duration) {
    audit(principal, tool, ("denied", reason, "-"), took, ("-", ""));
}

/// The one shape of every audit line: who, which tool, the decision with its reason or the call's
/// outcome, how long it took, what is said of the arguments, and which arguments were converted to
/// their schema's type (`petId:integer->string`, empty when none). Never a token or a secret.
fn audit(
    principal: Option<&Principal>,
    tool: &str,
    (decision, reason, outcome): (&str, &str, &str),
    took: Duration,
    (arguments, coerced): (&str, &str),
) {
    tracing::info!(
        target: "audit",
        subject = principal.and_then(|p| p.subject.as_deref()).unwrap_or("-"),
        key_id = principal.and_then(|p| p.key_id.as_deref()).unwrap_or("-"),
        tool,
        decision,
        reason,
        outcome,
        duration_ms = took.as_millis() as u64,
        arguments = %arguments,
        coerced,
        "tool call {decision}"
    );
}

/// What the audit line says of a call's arguments: their names, or (with `audit_arguments`) the
/// arguments themselves.
pub fn audited_arguments(authenticated: Option<&Authenticated>, arguments: &serde_json::Map<String, Value>) -> String {
    if authenticated.is_some_and(|a| a.audit_arguments) {
        Value::Object(arguments.clone()).to_string()
    } else {
        arguments.keys().cloned().collect::<Vec<_>>().join(",")
    }
}

/// One audit line for an allowed tool call, after it ran: who (`-` without inbound auth, e.g. on
/// stdio), its outcome category and duration, `arguments` from [`audited_arguments`] and the
/// arguments converted to their schema's type.
pub fn audit_allowed(
    authenticated: Option<&Authenticated>,
    tool: &str,
    outcome: &str,
    took: Duration,
    arguments: (&str, &str),
) {
    audit(authenticated.map(|a| &a.principal), tool, ("allowed", "-", outcome), took, arguments);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(scopes: &[&str]) -> BTreeSet<String> {
        scopes.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_match_exactly() {
        let required = vec!["pets:read".to_string()];
        assert!(permits(&set(&["pets:read", "other"]), &required));
        for near_miss in ["Pets:read", "pets:read ", " pets:read", "pets:reаd", "pets:*", "pets", "*"] {
            assert!(!permits(&set(&[near_miss]), &required), "{near_miss:?}");
        }
        assert!(permits(&set(&[]), &[]));
    }

    #[test]
    fn scope_claims_are_read_from_scope_and_scp() {
        let claims = json!({"scope": "a b  c", "scp": ["d", "e"]});
        assert_eq!(granted_scopes(&claims, true), set(&["a", "b", "c", "d", "e"]));
        assert_eq!(granted_scopes(&claims, false), set(&["a", "b", "c"]));
        assert_eq!(granted_scopes(&json!({"scp": "x y"}), true), set(&["x", "y"]));
        assert_eq!(granted_scopes(&json!({"scope": 3}), true), set(&[]));
        assert_eq!(granted_scopes(&json!({"scope": ["a", "b"]}), true), set(&[]), "RFC 9068: a string only");
    }
}
