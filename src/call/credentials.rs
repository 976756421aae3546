//! The credentials api2mcp sends upstream, per upstream: API keys (header, query or cookie), bearer
//! tokens, basic auth, and OAuth2 client-credentials tokens (fetched, cached, refreshed a minute
//! before expiry, one fetch per key at a time however many calls wait: a caller whose token is cached
//! never waits behind another caller's fetch). The caller's own credentials never
//! reach an upstream: requests are built from arguments only, plus these.

use std::time::{Duration, Instant};

use base64::Engine;

use crate::auth::SubjectToken;
use crate::catalogue::{Credential, CredentialChoice, KeyLocation};
use crate::classify::Outcome;

/// What a request needs added: headers, query parameters and cookies.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Additions {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub cookies: Vec<(String, String)>,
}

/// Tokens refreshed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Largest token response accepted.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Exchanged tokens kept at most (one per caller token); beyond it the least used are evicted.
const MAX_EXCHANGED: u64 = 10_000;

/// An OAuth2 token source: client credentials (one token for all callers) or RFC 8693 token
/// exchange (one token per caller token, cached under its SHA-256).
pub struct TokenSource {
    credential: Credential,
    client: reqwest::Client,
    /// Per-key single flight with expiry (moka): callers of one key share one fetch, callers of other
    /// keys are not held up by it, and an entry expires when its token enters the refresh margin.
    /// A failed fetch is not cached.
    cached: moka::future::Cache<CacheKey, CachedToken>,
}

#[derive(Clone)]
struct CachedToken {
    token: String,
    /// How long it may be handed out: its lifetime less the refresh margin.
    usable_for: Duration,
}

/// Each token expires from the cache when it is due for refresh.
struct UntilRefresh;

impl moka::Expiry<CacheKey, CachedToken> for UntilRefresh {
    fn expire_after_create(&self, _key: &CacheKey, value: &CachedToken, _created_at: Instant) -> Option<Duration> {
        Some(value.usable_for)
    }
}

/// `None` for client credentials (one token for everyone), the SHA-256 of the caller's token for token exchange.
type CacheKey = Option<[u8; 32]>;

impl TokenSource {
    pub fn new(credential: Credential) -> Result<Self, String> {
        let client = crate::tls::client_builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| format!("cannot build the token client: {error}"))?;
        let cached = moka::future::Cache::builder().max_capacity(MAX_EXCHANGED).expire_after(UntilRefresh).build();
        Ok(TokenSource { credential, client, cached })
    }

    /// A valid access token: the cached one, or a new one. Concurrent callers of the same key wait for
    /// one fetch; other keys go on.
    pub async fn token(&self, subject: Option<&SubjectToken>) -> Result<String, Outcome> {
        use sha2::Digest;
        let exchange = matches!(self.credential, Credential::TokenExchange { .. });
        let subject = match (exchange, subject) {
            (false, _) => None,
            (true, Some(subject)) => Some(subject),
            (true, None) => {
                return Err(Outcome::Misconfigured {
                    detail: "this upstream acts for the caller (token exchange), but the call carries no bearer token"
                        .into(),
                });
            }
        };
        let key = subject.map(|s| <[u8; 32]>::from(sha2::Sha256::digest(s.0.as_bytes())));
        let fetched = self.cached.try_get_with(key, async {
            let (token, lifetime) = self.fetch(subject).await?;
            Ok::<_, Outcome>(CachedToken { token, usable_for: lifetime.saturating_sub(REFRESH_MARGIN) })
        });
        match fetched.await {
            Ok(cached) => Ok(cached.token),
            Err(error) => Err(error.as_ref().clone()),
        }
    }

    async fn fetch(&self, subject: Option<&SubjectToken>) -> Result<(String, Duration), Outcome> {
        let mut form: Vec<(&str, &str)> = Vec::new();
        let (token_url, client_id, client_secret, scopes, extra_params) = match &self.credential {
            Credential::ClientCredentials { token_url, client_id, client_secret, scopes, extra_params } => {
                form.push(("grant_type", "client_credentials"));
                (token_url, client_id, client_secret, scopes, extra_params)
            }
            Credential::TokenExchange { token_url, client_id, client_secret, audience, scopes, extra_params } => {
                form.push(("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"));
                form.push(("subject_token", subject.map(|s| s.0.as_str()).unwrap_or_default()));
                form.push(("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"));
                form.push(("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"));
                if let Some(audience) = audience {
                    form.push(("audience", audience));
                }
                (token_url, client_id, client_secret, scopes, extra_params)
            }
            _ => return Err(Outcome::Internal { detail: "a token source for a credential without tokens".into() }),
        };
        let scope = scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        form.extend(extra_params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        // client_secret_basic (RFC 6749 §2.3.1): id and secret form-encoded, then base64.
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(client_id),
            encode(client_secret)
        ));
        let failed =
            |detail: String| Outcome::Misconfigured { detail: format!("upstream token request failed: {detail}") };
        let mut response = self
            .client
            .post(token_url)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| failed(format!("cannot reach the token endpoint ({})", error_kind(&error))))?;
        let status = response.status();
        let bytes = crate::body::read_capped(&mut response, MAX_TOKEN_RESPONSE, crate::body::Overflow::Fail, None)
            .await
            .map_err(|error| match error {
                crate::body::ReadError::TooLarge => failed("the token response is too large".into()),
                _ => failed("the token response broke off".into()),
            })?
            .bytes;
        if !status.is_success() {
            // The body may echo what was sent: only the status and the OAuth error code are shown.
            let code = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_default();
            return Err(failed(format!("the token endpoint answered {status} {code}")));
        }
        let parsed: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| failed("the token response is not JSON".into()))?;
        let token = parsed
            .get("access_token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| failed("the token response has no access_token".into()))?;
        let lifetime = parsed.get("expires_in").and_then(|e| e.as_u64()).unwrap_or(300);
        Ok((token.to_string(), Duration::from_secs(lifetime)))
    }
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What the upstream's credentials chosen for the operation add to a request; `tokens` holds one
/// source per client-credentials credential, in order.
pub async fn additions(
    credentials: &[Credential],
    choice: &CredentialChoice,
    tokens: &[TokenSource],
    subject: Option<&SubjectToken>,
) -> Result<Additions, Outcome> {
    let mut additions = Additions::default();
    let mut token_sources = tokens.iter();
    for (index, credential) in credentials.iter().enumerate() {
        let chosen = match choice {
            CredentialChoice::All => true,
            CredentialChoice::Only(indexes) => indexes.contains(&index),
        };
        // Token sources are matched by position, so a skipped one is still consumed.
        let source = match credential {
            Credential::ClientCredentials { .. } | Credential::TokenExchange { .. } => {
                Some(token_sources.next().ok_or(Outcome::Internal { detail: "no token source".into() })?)
            }
            _ => None,
        };
        if !chosen {
            continue;
        }
        match credential {
            Credential::ApiKey { location, name, value } => {
                let pair = (name.clone(), value.clone());
                match location {
                    KeyLocation::Header => additions.headers.push(pair),
                    KeyLocation::Query => additions.query.push(pair),
                    KeyLocation::Cookie => additions.cookies.push(pair),
                }
            }
            Credential::Bearer { token } => additions.headers.push(("authorization".into(), format!("Bearer {token}"))),
            Credential::Basic { username, password } => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                additions.headers.push(("authorization".into(), format!("Basic {encoded}")));
            }
            Credential::ClientCredentials { .. } | Credential::TokenExchange { .. } => {
                let source = source.ok_or(Outcome::Internal { detail: "no token source".into() })?;
                let token = source.token(subject).await?;
                additions.headers.push(("authorization".into(), format!("Bearer {token}")));
            }
        }
    }
    Ok(additions)
}

/// The token sources an upstream's credentials need.
pub fn token_sources(credentials: &[Credential]) -> Result<Vec<TokenSource>, String> {
    credentials
        .iter()
        .filter(|c| matches!(c, Credential::ClientCredentials { .. } | Credential::TokenExchange { .. }))
        .map(|c| TokenSource::new(c.clone()))
        .collect()
}
