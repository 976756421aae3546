//! One issuer's signing keys: fetched from its `jwks_uri` with a timeout and a size limit, cached,
//! refreshed when a token names a key id the cache lacks (at most once per `min_refresh_interval`,
//! one fetch at a time, so a flood of random `kid`s cannot hammer the issuer), and kept in use while
//! the issuer is down.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::telemetry::metrics::Metrics;

/// Largest JWKS document accepted.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Time allowed for one JWKS fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys older than this are refreshed before use (the old ones stay when the issuer is down).
pub const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct Key {
    pub key: Arc<DecodingKey>,
    /// The JWK's own `alg`, when it names one: a token must then use exactly it.
    pub algorithm: Option<Algorithm>,
}

#[derive(Default)]
struct Cached {
    keys: HashMap<String, Key>,
    /// Keys without a `kid`, usable only by tokens without one when they are alone.
    anonymous: Vec<Key>,
    fetched: Option<Instant>,
}

pub struct Jwks {
    uri: String,
    client: reqwest::Client,
    cached: ArcSwap<Cached>,
    /// Held while fetching; `last_attempt` under it rate-limits fetches.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    min_refresh_interval: Duration,
    metrics: Arc<Metrics>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// No key with this id, even after a refresh (or a refresh was not allowed yet).
    Unknown(Option<String>),
    /// The issuer's keys could not be fetched and none are cached.
    Unavailable(String),
}

impl Jwks {
    pub fn new(uri: String, min_refresh_interval: Duration, metrics: Arc<Metrics>) -> Result<Self, String> {
        let client = crate::tls::client_builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|error| format!("cannot build the JWKS client: {error}"))?;
        Ok(Jwks {
            uri,
            client,
            cached: ArcSwap::default(),
            fetching: tokio::sync::Mutex::new(None),
            min_refresh_interval,
            metrics,
        })
    }

    /// The key a token's header names.
    pub async fn key(&self, kid: Option<&str>) -> Result<Key, KeyError> {
        let stale = self.cached.load().fetched.is_none_or(|fetched| fetched.elapsed() > MAX_AGE);
        if !stale && let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        let fetch_error = self.refresh().await.err();
        match self.lookup(kid) {
            Some(key) => Ok(key),
            None => match fetch_error {
                Some(error) if self.cached.load().fetched.is_none() => Err(KeyError::Unavailable(error)),
                _ => Err(KeyError::Unknown(kid.map(str::to_string))),
            },
        }
    }

    fn lookup(&self, kid: Option<&str>) -> Option<Key> {
        let cached = self.cached.load();
        match kid {
            Some(kid) => cached.keys.get(kid).cloned(),
            None if cached.anonymous.len() == 1 && cached.keys.is_empty() => cached.anonymous.first().cloned(),
            None => None,
        }
    }

    /// Fetches the keys unless another task just did or the rate limit says not yet. Errors say why
    /// the fetch failed (the cache is unchanged then).
    async fn refresh(&self) -> Result<(), String> {
        let before = self.cached.load().fetched;
        let mut last_attempt = self.fetching.lock().await;
        if self.cached.load().fetched != before {
            return Ok(()); // another task refreshed while this one waited
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            return Err("refreshed too recently".to_string());
        }
        *last_attempt = Some(Instant::now());
        let fetched = self.fetch().await;
        self.metrics.jwks_refresh(fetched.is_ok());
        match fetched {
            Ok(cached) => {
                self.cached.store(Arc::new(cached));
                Ok(())
            }
            Err(error) => {
                tracing::warn!(jwks_uri = %self.uri, %error, "cannot refresh the issuer's keys; using the cached ones");
                Err(error)
            }
        }
    }

    async fn fetch(&self) -> Result<Cached, String> {
        let mut response = self.client.get(&self.uri).send().await.map_err(|e| format!("fetch failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("the JWKS endpoint answered {}", response.status()));
        }
        if response.content_length().is_some_and(|length| length as usize > MAX_JWKS_BYTES) {
            return Err(format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"));
        }
        let body = crate::body::read_capped(&mut response, MAX_JWKS_BYTES, crate::body::Overflow::Fail, None)
            .await
            .map_err(|error| match error {
                crate::body::ReadError::TooLarge => format!("the JWKS is larger than {MAX_JWKS_BYTES} bytes"),
                error => format!("reading the JWKS failed: {error}"),
            })?;
        parse(&body.bytes)
    }
}

/// The usable signing keys of a JWKS document; keys that do not parse, or are for encryption, are skipped.
fn parse(body: &[u8]) -> Result<Cached, String> {
    let document: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = document.get("keys").and_then(|k| k.as_array()).ok_or("the JWKS has no `keys` array")?;
    let mut cached = Cached { fetched: Some(Instant::now()), ..Cached::default() };
    for raw in keys {
        if raw.get("use").and_then(|u| u.as_str()).is_some_and(|u| u != "sig") {
            continue;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else { continue };
        // Symmetric keys never verify tokens here: HS* is not accepted from a JWKS.
        if matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else { continue };
        let algorithm = jwk.common.key_algorithm.and_then(|alg| alg.to_string().parse::<Algorithm>().ok());
        let key = Key { key: Arc::new(key), algorithm };
        match jwk.common.key_id {
            Some(kid) => {
                cached.keys.insert(kid, key);
            }
            None => cached.anonymous.push(key),
        }
    }
    Ok(cached)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_skips_what_cannot_verify_signatures() {
        let body = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "nonsense", "kid": "x"}
        ]});
        let cached = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(cached.keys.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(cached.keys["a"].algorithm, Some(Algorithm::RS256));
        assert!(parse(b"[]").err().unwrap().contains("keys"));
        assert!(parse(b"not json").err().unwrap().contains("not JSON"));
    }
}
