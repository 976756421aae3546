//! Opaque bearer tokens, checked at an RFC 7662 introspection endpoint. An answer is cached (keyed by
//! the token's SHA-256, never the token) until the token's `exp` or `cache_for`, whichever is first,
//! so a busy client costs the endpoint one request per token lifetime. Concurrent requests with one
//! token share one question to the endpoint; other tokens are not held up by it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Denial, Principal, granted_scopes};
use crate::catalogue::auth::Introspection;

/// Cached answers at most; beyond it the least used are evicted (a flood of random tokens cannot grow it).
const MAX_CACHED: u64 = 10_000;
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A token's SHA-256: the cache never holds tokens.
type TokenHash = [u8; 32];
/// The endpoint's verdict and how long it may be reused.
type Answer = (Result<Principal, Denial>, Duration);

/// Each answer expires from the cache after its own lifetime.
struct AnswerLifetime;

impl moka::Expiry<TokenHash, Answer> for AnswerLifetime {
    fn expire_after_create(&self, _key: &TokenHash, answer: &Answer, _created_at: Instant) -> Option<Duration> {
        Some(answer.1)
    }
}

pub struct Introspector {
    settings: Introspection,
    client: reqwest::Client,
    /// Per-token single flight with expiry; an endpoint failure is not cached.
    cache: moka::future::Cache<TokenHash, Answer>,
}

impl Introspector {
    pub fn new(settings: &Introspection) -> Result<Self, String> {
        let client = crate::tls::client_builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| format!("cannot build the introspection client: {error}"))?;
        let cache = moka::future::Cache::builder().max_capacity(MAX_CACHED).expire_after(AnswerLifetime).build();
        Ok(Introspector { settings: settings.clone(), client, cache })
    }

    pub async fn check(&self, token: &str) -> Result<Principal, Denial> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match self.cache.try_get_with(key, self.ask(token)).await {
            Ok((answer, _)) => answer,
            Err(unavailable) => Err(unavailable.as_ref().clone()),
        }
    }

    /// The endpoint's verdict and how long it may be reused; `Err` when the endpoint cannot answer
    /// (not cached: the next request asks again).
    async fn ask(&self, token: &str) -> Result<(Result<Principal, Denial>, Duration), Denial> {
        let unavailable = |why: &str| Denial::Unavailable(format!("token introspection failed: {why}"));
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let mut response = self
            .client
            .post(&self.settings.url)
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|_| unavailable("the endpoint cannot be reached"))?;
        if !response.status().is_success() {
            return Err(unavailable(&format!("the endpoint answered {}", response.status())));
        }
        let bytes = crate::body::read_capped(&mut response, MAX_RESPONSE_BYTES, crate::body::Overflow::Fail, None)
            .await
            .map_err(|error| match error {
                crate::body::ReadError::TooLarge => unavailable("the answer is too large"),
                _ => unavailable("the answer broke off"),
            })?
            .bytes;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|_| unavailable("the answer is not JSON"))?;
        let cache_for = self.settings.cache_for;
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Ok((Err(Denial::Invalid("the token is not active".into())), cache_for));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let exp = answer.get("exp").and_then(Value::as_u64);
        if exp.is_some_and(|exp| exp <= now) {
            return Ok((Err(Denial::Invalid("the token has expired".into())), cache_for));
        }
        if let Some(aud) = answer.get("aud") {
            let audiences: Vec<&str> = match aud {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !audiences.iter().any(|a| self.settings.audiences.iter().any(|ours| ours == a)) {
                return Ok((Err(Denial::Invalid("the token is not for this server (aud)".into())), cache_for));
            }
        }
        let lifetime = exp.map_or(cache_for, |exp| cache_for.min(Duration::from_secs(exp - now)));
        let subject = ["sub", "client_id", "username"].iter().find_map(|c| answer.get(*c).and_then(Value::as_str));
        let scopes: BTreeSet<String> = granted_scopes(&answer, false);
        Ok((Ok(Principal { subject: subject.map(str::to_string), key_id: None, scopes }), lifetime))
    }
}
