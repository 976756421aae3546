//! The mapping's `auth` section → [`InboundAuth`]: the one place its settings are checked, defaulted
//! and parsed. Every problem becomes a `mapping/invalid-auth` error at its place in the mapping file;
//! with any, no `InboundAuth` is produced (and the catalogue is not served).

use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::catalogue::auth::{ApiKey, InboundAuth, Introspection, TokenIssuer};
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::MappingSource;
use crate::mapping::AuthSettings;

/// Algorithms accepted when the configuration names none: asymmetric only.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Unknown `kid`s trigger a JWKS refresh at most this often per issuer.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// Introspection answers are reused at most this long by default.
pub const DEFAULT_INTROSPECTION_CACHE_FOR: Duration = Duration::from_secs(300);
/// Inbound headers never forwarded upstream, whatever `forward_headers` says.
pub const NEVER_FORWARDED: [&str; 10] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "host",
];

/// Compiles `auth`, reporting every problem; `None` when there is any.
pub fn inbound(
    settings: &AuthSettings,
    source: Option<&MappingSource>,
    diagnostics: &mut Diagnostics,
) -> Option<InboundAuth> {
    match compile_settings(settings) {
        Ok(inbound) => Some(inbound),
        Err(problems) => {
            for (pointer, problem) in problems {
                diagnostics.push(
                    Diagnostic::error("mapping/invalid-auth", problem)
                        .at(source.map(|s| s.locate(&pointer)))
                        .with_help("see specs/auth.md"),
                );
            }
            None
        }
    }
}

/// Every problem as (JSON pointer into the mapping, message), or the compiled settings.
pub fn compile_settings(settings: &AuthSettings) -> Result<InboundAuth, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let is_http_url = |text: &str| url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
    if let Some(resource) = &settings.resource
        && !is_http_url(resource)
    {
        problems.push(("/auth/resource".to_string(), format!("'{resource}' is not an absolute http(s) URL")));
    }
    let resource_audiences: Vec<String> = settings.resource.clone().into_iter().collect();
    let mut issuers = Vec::new();
    for (i, issuer) in settings.issuers.iter().enumerate() {
        if !is_http_url(&issuer.jwks_uri) {
            problems
                .push((format!("/auth/issuers/{i}/jwks_uri"), format!("'{}' is not an http(s) URL", issuer.jwks_uri)));
        }
        let audiences = if issuer.audiences.is_empty() { resource_audiences.clone() } else { issuer.audiences.clone() };
        if audiences.is_empty() {
            problems.push((
                format!("/auth/issuers/{i}"),
                format!(
                    "issuer '{}' has no audience: set `auth.resource` (this server's URL) or `audiences`",
                    issuer.issuer
                ),
            ));
        }
        issuers.push(TokenIssuer {
            issuer: issuer.issuer.clone(),
            jwks_uri: issuer.jwks_uri.clone(),
            audiences,
            min_refresh_interval: issuer.min_refresh_interval.map_or(DEFAULT_MIN_REFRESH_INTERVAL, |d| d.0),
            read_scp: issuer.read_scp,
        });
    }
    let mut algorithms = Vec::new();
    match &settings.algorithms {
        None => algorithms.extend(DEFAULT_ALGORITHMS),
        Some(names) => {
            for (i, name) in names.iter().enumerate() {
                match parse_algorithm(name) {
                    Ok(algorithm) => algorithms.push(algorithm),
                    Err(why) => problems.push((format!("/auth/algorithms/{i}"), why)),
                }
            }
        }
    }
    let mut api_keys = Vec::new();
    for (i, key) in settings.api_keys.iter().enumerate() {
        match parse_sha256(&key.sha256) {
            Some(sha256) => {
                api_keys.push(ApiKey { id: key.id.clone(), sha256, scopes: key.scopes.iter().cloned().collect() })
            }
            None => problems.push((
                format!("/auth/api_keys/{i}/sha256"),
                format!("api key '{}': sha256 must be 64 hex digits (printf %s \"$KEY\" | sha256sum)", key.id),
            )),
        }
    }
    let mut forward_headers = Vec::new();
    for (i, name) in settings.forward_headers.iter().enumerate() {
        let lowercase = name.to_ascii_lowercase();
        if NEVER_FORWARDED.contains(&lowercase.as_str()) {
            problems.push((format!("/auth/forward_headers/{i}"), format!("'{name}' is never forwarded upstream")));
        } else {
            forward_headers.push(lowercase);
        }
    }
    let introspection = settings.introspection.as_ref().map(|introspection| {
        if !is_http_url(&introspection.url) {
            problems.push((
                "/auth/introspection/url".to_string(),
                format!("'{}' is not an http(s) URL", introspection.url),
            ));
        }
        if settings.resource.is_none() {
            problems.push((
                "/auth/introspection".to_string(),
                "introspection needs `auth.resource` (the audience an introspected token must name, when it names one)"
                    .to_string(),
            ));
        }
        Introspection {
            url: introspection.url.clone(),
            client_id: introspection.client_id.clone(),
            client_secret: introspection.client_secret.clone(),
            cache_for: introspection.cache_for.map_or(DEFAULT_INTROSPECTION_CACHE_FOR, |d| d.0),
            audiences: resource_audiences.clone(),
        }
    });
    if settings.issuers.is_empty()
        && settings.api_keys.is_empty()
        && settings.introspection.is_none()
        && !settings.anonymous
    {
        problems.push((
            "/auth".to_string(),
            "`auth` accepts nobody: add `issuers`, `introspection`, `api_keys`, or `anonymous: true`".to_string(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(InboundAuth {
        resource: settings.resource.clone(),
        anonymous: settings.anonymous,
        issuers,
        algorithms,
        leeway: settings.leeway.map_or(DEFAULT_LEEWAY, |d| d.0),
        max_token_bytes: settings.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES),
        introspection,
        api_keys,
        forward_headers,
        audit_arguments: settings.audit_arguments,
    })
}

fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    let algorithm: Algorithm = name.parse().map_err(|_| format!("unknown algorithm '{name}'"))?;
    if matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
        return Err(format!("algorithm '{name}' is symmetric: tokens are verified with public keys only"));
    }
    Ok(algorithm)
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_parsing() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(parse_sha256(hex).unwrap()[0], 0x9f);
        assert!(parse_sha256("abc").is_none());
        assert!(parse_sha256(&"zz".repeat(32)).is_none());
    }

    #[test]
    fn symmetric_algorithms_are_refused() {
        assert!(parse_algorithm("HS256").is_err());
        assert!(parse_algorithm("none").is_err());
        assert_eq!(parse_algorithm("ES256"), Ok(Algorithm::ES256));
    }
}
