//! Inbound auth and upstream credentials over real parts: an issuer serving a JWKS in-process (keys
//! rotated, taken down, made huge), tokens minted here with test-only keys, api2mcp serving on
//! 127.0.0.1:0, an upstream that records every request it receives, and a token endpoint.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use crate::support::TempFile;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auth/openapi.yaml");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auth");
const AUDIENCE: &str = "https://mcp.example.test/mcp";
const API_KEY: &str = "key-ci-0123456789";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap()
}

fn jwk(name: &str) -> Value {
    serde_json::from_str(&fixture(&format!("{name}.jwk.json"))).unwrap()
}

/// An issuer serving its JWKS; what it serves can be changed while it runs.
#[derive(Clone)]
struct Issuer {
    url: String,
    jwks: Arc<Mutex<IssuerMode>>,
    fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
enum IssuerMode {
    Keys(Vec<Value>),
    Down,
    Huge,
}

impl Issuer {
    async fn start(keys: Vec<Value>) -> Issuer {
        let jwks = Arc::new(Mutex::new(IssuerMode::Keys(keys)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let state = (jwks.clone(), fetches.clone());
        let app = Router::new()
            .route(
                "/jwks",
                get(|State((jwks, fetches)): State<(Arc<Mutex<IssuerMode>>, Arc<AtomicUsize>)>| async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    let mode = jwks.lock().unwrap().clone();
                    match mode {
                        IssuerMode::Keys(keys) => axum::Json(json!({"keys": keys})).into_response(),
                        IssuerMode::Down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        IssuerMode::Huge => {
                            let filler: Vec<Value> = (0..4000).map(|i| json!({"kty": "RSA", "kid": format!("k{i}"), "n": "x".repeat(100), "e": "AQAB"})).collect();
                            axum::Json(json!({"keys": filler})).into_response()
                        }
                    }
                }),
            )
            .with_state(state);
        let url = crate::support::serve_router(app).await;
        Issuer { url, jwks, fetches }
    }

    fn set(&self, mode: IssuerMode) {
        *self.jwks.lock().unwrap() = mode;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn token(&self, kid: &str, claims: Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        let key = EncodingKey::from_rsa_pem(fixture(&format!("{kid}.pem")).as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    /// Claims that pass every check, with `scope`.
    fn claims(&self, scope: &str) -> Value {
        json!({"iss": self.url, "aud": AUDIENCE, "sub": "alice", "exp": now() + 600, "iat": now(), "scope": scope})
    }
}

/// Every request an upstream received: method, path and query, and the headers that matter here.
type Seen = crate::support::Recorded<Value>;

async fn upstream() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/{*path}",
            any(|State(seen): State<Seen>, method: axum::http::Method, uri: Uri, headers: HeaderMap| async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                let record = json!({
                    "request": format!("{method} {uri}"),
                    "authorization": header("authorization"), "x-api-key": header("x-api-key"),
                    "cookie": header("cookie"), "x-tenant-id": header("x-tenant-id"),
                    "x-forwarded-for": header("x-forwarded-for"), "x-custom-key": header("x-custom-key"),
                });
                seen.push(record.clone());
                if uri.path() == "/pets/fail" {
                    // A careless upstream that echoes the credentials it got.
                    return (StatusCode::INTERNAL_SERVER_ERROR, format!("failed for {:?}", header("authorization")))
                        .into_response();
                }
                axum::Json(json!({"ok": true})).into_response()
            }),
        )
        .with_state(seen.clone());
    let url = crate::support::serve_router(app).await;
    (url, seen)
}

/// `text` as `api2mcp.yaml` in a fresh directory, removed when the `TempFile` is dropped.
fn write(label: &str, text: &str) -> TempFile {
    TempFile::new(&format!("auth-{label}"), "api2mcp.yaml", text)
}

fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A mapping with inbound auth by `issuer` (refresh interval `interval`) and an API key.
fn mapping(label: &str, issuer: &Issuer, upstream: &str, interval: &str, extra_auth: &str) -> TempFile {
    write(
        label,
        &format!(
            "version: 1\nserver: {{name: auth-test}}\n\
             auth:\n  resource: {AUDIENCE}\n  issuers:\n    - {{issuer: '{iss}', jwks_uri: '{iss}/jwks', min_refresh_interval: {interval}}}\n\
             \x20 api_keys:\n    - {{id: ci, sha256: {hash}, scopes: ['pets:read']}}\n{extra_auth}\
             upstreams:\n  store:\n    spec: {SPEC}\n    base_url: {upstream}\n",
            iss = issuer.url,
            hash = sha256_hex(API_KEY),
        ),
    )
}

async fn serve(path: &Path) -> (String, CancellationToken) {
    let source = api2mcp::load::ConfigSource::Mapping(path.to_path_buf());
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    assert!(!prepared.diagnostics.has_errors(), "{}", crate::support::rendered_diagnostics(&prepared));
    let shutdown = CancellationToken::new();
    let mcp = crate::support::serve_prepared(prepared, Default::default(), shutdown.clone()).await;
    (mcp, shutdown)
}

struct Answer {
    status: u16,
    challenge: String,
    body: Value,
}

/// One JSON-RPC request in the 2026-07-28 era (stateless), with `auth` as the Authorization header.
async fn rpc(mcp: &str, auth: Option<&str>, method: &str, params: Value) -> Answer {
    rpc_with(mcp, auth, method, params, &[]).await
}

async fn rpc_with(mcp: &str, auth: Option<&str>, method: &str, mut params: Value, headers: &[(&str, &str)]) -> Answer {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "auth-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut request = reqwest::Client::new()
        .post(mcp)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params.clone()}));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    // The 2026-07-28 era names the tool in a header too (the guard reads the body, never this).
    if method == "tools/call" && !headers.iter().any(|(name, _)| *name == "mcp-name") {
        request = request.header("mcp-name", params["name"].as_str().unwrap_or_default());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge =
        response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, challenge, body }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn listed(mcp: &str, auth: &str) -> Vec<String> {
    let answer = rpc(mcp, Some(auth), "tools/list", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["result"]["cacheScope"], "private", "{}", answer.body);
    let tools = answer.body["result"]["tools"].as_array().unwrap();
    // `get_pet` and `delete_pet` share `petId`'s description: the first tool listed to this caller
    // shows it, later ones leave it out, whichever of the two this caller may see.
    let described: Vec<bool> = tools
        .iter()
        .filter_map(|t| t["inputSchema"]["properties"].get("petId"))
        .map(|petid| petid.get("description").is_some())
        .collect();
    assert!(described.iter().enumerate().all(|(i, d)| *d == (i == 0)), "petId described {described:?}: {tools:?}");
    tools.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

async fn call(mcp: &str, auth: Option<&str>, tool: &str) -> Answer {
    rpc(mcp, auth, "tools/call", json!({"name": tool, "arguments": {"petId": "1"}})).await
}

#[tokio::test]
async fn tokens_are_verified_with_hardened_settings() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let config = mapping("tokens", &issuer, &base, "10s", "");
    let (mcp, shutdown) = serve(&config.path).await;
    let valid = issuer.token("rsa1", issuer.claims("pets:read"));
    let answer = call(&mcp, Some(&bearer(&valid)), "get_pet").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["result"]["isError"], json!(false), "{}", answer.body);
    assert_eq!(seen.count(), 1);

    let mut refused: Vec<(&str, Option<String>, &str)> = Vec::new();
    let claims = |patch: Value| {
        let mut claims = issuer.claims("pets:read");
        for (key, value) in patch.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };
    refused.push(("no token", None, ""));
    // 45 s past expiry: inside the library's default 60 s leeway, outside the configured 30 s.
    refused.push(("expired", Some(bearer(&issuer.token("rsa1", claims(json!({"exp": now() - 45}))))), "expired"));
    refused.push(("no exp", Some(bearer(&issuer.token("rsa1", claims(json!({"exp": null}))))), "required claim"));
    refused.push((
        "not yet valid",
        Some(bearer(&issuer.token("rsa1", claims(json!({"nbf": now() + 120}))))),
        "not valid yet",
    ));
    refused.push((
        "wrong issuer",
        Some(bearer(&issuer.token("rsa1", claims(json!({"iss": "https://evil.test"}))))),
        "untrusted issuer",
    ));
    refused.push((
        "wrong audience",
        Some(bearer(&issuer.token("rsa1", claims(json!({"aud": "https://other.test/mcp"}))))),
        "aud",
    ));
    refused.push(("no audience", Some(bearer(&issuer.token("rsa1", claims(json!({"aud": null}))))), "required claim"));
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&issuer.claims("pets:read")));
    refused.push(("alg none", Some(bearer(&unsigned)), "not a JWT"));
    // HS256 "signed" with the issuer's public key: the classic algorithm confusion.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("rsa1".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &issuer.claims("pets:read"),
        &EncodingKey::from_secret(fixture("rsa1.pub.pem").as_bytes()),
    )
    .unwrap();
    refused.push(("HS256 with the public key", Some(bearer(&confused)), "HS256"));
    refused.push(("garbage", Some(bearer("not.a.jwt")), "not a JWT"));
    refused.push(("basic scheme", Some("Basic YWxpY2U6cGFzcw==".to_string()), "Bearer"));
    refused.push(("oversized", Some(bearer(&"a".repeat(17_000))), "larger than"));
    for (case, auth, why) in &refused {
        let answer = call(&mcp, auth.as_deref(), "get_pet").await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        let challenge = &answer.challenge;
        assert!(challenge.starts_with("Bearer "), "{case}: {challenge}");
        assert!(
            challenge
                .contains("resource_metadata=\"https://mcp.example.test/.well-known/oauth-protected-resource/mcp\""),
            "{case}: {challenge}"
        );
        assert!(challenge.contains("scope=\"pets:read\""), "{case}: {challenge}");
        if auth.is_some() {
            assert!(challenge.contains("error=\"invalid_token\""), "{case}: {challenge}");
            assert!(answer.body["error"].as_str().unwrap().contains(why), "{case}: {}", answer.body);
        }
    }
    // A token in the query string is not a credential.
    let query = format!("{mcp}?access_token={valid}");
    let answer = call(&query, None, "get_pet").await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(seen.count(), 1, "no refused call reached the upstream");
    shutdown.cancel();
}

#[tokio::test]
async fn key_rotation_and_an_issuer_that_goes_down() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let config = mapping("rotation", &issuer, &base, "0s", "");
    let (mcp, shutdown) = serve(&config.path).await;
    let old = bearer(&issuer.token("rsa1", issuer.claims("pets:read")));
    assert_eq!(call(&mcp, Some(&old), "get_pet").await.status, 200);
    // A token signed by a key the issuer has not published yet: refused after one refresh.
    let new = bearer(&issuer.token("rsa2", issuer.claims("pets:read")));
    let before = issuer.fetches();
    let answer = call(&mcp, Some(&new), "get_pet").await;
    assert_eq!(answer.status, 401);
    assert!(answer.body["error"].as_str().unwrap().contains("signing key is unknown"), "{}", answer.body);
    assert_eq!(issuer.fetches(), before + 1);
    // The issuer rotates: the unknown kid triggers a refresh and the token is accepted.
    issuer.set(IssuerMode::Keys(vec![jwk("rsa1"), jwk("rsa2")]));
    assert_eq!(call(&mcp, Some(&new), "get_pet").await.status, 200);
    // The issuer goes down: cached keys keep working.
    issuer.set(IssuerMode::Down);
    assert_eq!(call(&mcp, Some(&old), "get_pet").await.status, 200);
    assert_eq!(call(&mcp, Some(&new), "get_pet").await.status, 200);
    assert_eq!(seen.count(), 4);
    shutdown.cancel();

    // An issuer down from the start, and one whose JWKS is too large: nothing is accepted.
    for mode in [IssuerMode::Down, IssuerMode::Huge] {
        let issuer = Issuer::start(vec![]).await;
        issuer.set(mode);
        let (base, seen) = upstream().await;
        let config = mapping("down", &issuer, &base, "0s", "");
        let (mcp, shutdown) = serve(&config.path).await;
        let answer = call(&mcp, Some(&bearer(&issuer.token("rsa1", issuer.claims("pets:read")))), "get_pet").await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert!(answer.challenge.contains("invalid_token"), "{}", answer.challenge);
        assert_eq!(seen.count(), 0);
        assert!(issuer.fetches() >= 1);
        shutdown.cancel();
    }
}

#[tokio::test]
async fn a_flood_of_unknown_kids_does_not_hammer_the_issuer() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let config = mapping("flood", &issuer, &base, "10s", "");
    let (mcp, shutdown) = serve(&config.path).await;
    assert_eq!(
        call(&mcp, Some(&bearer(&issuer.token("rsa1", issuer.claims("pets:read")))), "get_pet").await.status,
        200
    );
    let calls = (0..50).map(|i| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("random-{i}"));
        let key = EncodingKey::from_rsa_pem(fixture("rsa1.pem").as_bytes()).unwrap();
        let token = jsonwebtoken::encode(&header, &issuer.claims("pets:read"), &key).unwrap();
        let mcp = mcp.clone();
        tokio::spawn(async move { call(&mcp, Some(&bearer(&token)), "get_pet").await.status })
    });
    for status in futures_util_join(calls).await {
        assert_eq!(status, 401);
    }
    // One fetch at startup's first use, at most one refresh for the whole flood.
    assert!(issuer.fetches() <= 2, "{} fetches", issuer.fetches());
    assert_eq!(seen.count(), 1);
    let (_, _, metrics) = fetch(&mcp.replace("/mcp", "/metrics")).await;
    assert!(metrics.contains("api2mcp_jwks_refreshes_total{result=\"ok\"}"), "{metrics}");
    shutdown.cancel();
}

async fn futures_util_join<T: Send + 'static>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn fetch(url: &str) -> (u16, HeaderMap, String) {
    let response = reqwest::get(url).await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

/// The tools and the scopes the fixture's `security` gives them.
const TOOLS: [(&str, &[&str]); 5] = [
    ("list_pets", &["pets:read"]),
    ("create_pet", &["pets:write"]),
    ("get_pet", &["pets:read"]),
    ("delete_pet", &["pets:write", "pets:admin"]),
    ("get_status", &[]),
];

#[tokio::test]
async fn listed_and_callable_agree_for_every_scope_set() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    // `scp` (read only when configured) carries scopes with spaces intact.
    let config = mapping("scopes", &issuer, &base, "10s, read_scp: true", "");
    let (mcp, shutdown) = serve(&config.path).await;
    // Real scopes and their near misses: case, whitespace, a Cyrillic "а", a wildcard.
    let pool =
        ["pets:read", "pets:write", "pets:admin", "Pets:read", "pets:read ", "pets:reаd", "pets:*", "*", "admin"];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut sets: Vec<Vec<&str>> = vec![vec![], pool.to_vec(), vec!["pets:read"], vec!["pets:write", "pets:admin"]];
    for _ in 0..8 {
        let mut set = Vec::new();
        for scope in pool {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(3) {
                set.push(scope);
            }
        }
        sets.push(set);
    }
    for set in sets {
        // `scp` as an array keeps scopes with spaces intact; `scope` is space-delimited.
        let mut claims = issuer.claims("");
        claims["scp"] = json!(set);
        let auth = bearer(&issuer.token("rsa1", claims));
        let visible = listed(&mcp, &auth).await;
        for (tool, required) in TOOLS {
            let expected = required.iter().all(|scope| set.contains(scope));
            let before = seen.count();
            let answer = call(&mcp, Some(&auth), tool).await;
            let callable = answer.status == 200;
            assert_eq!(visible.contains(&tool.to_string()), expected, "{tool} listed with {set:?}");
            assert_eq!(callable, expected, "{tool} callable with {set:?}: {} {}", answer.status, answer.body);
            if !expected {
                assert_eq!(answer.status, 403);
                let scope = format!("scope=\"{}\"", required.join(" "));
                assert!(
                    answer.challenge.contains("error=\"insufficient_scope\"") && answer.challenge.contains(&scope),
                    "{}",
                    answer.challenge
                );
                assert_eq!(seen.count(), before, "a refused call reaches no upstream");
            }
        }
    }
    shutdown.cancel();
}

#[tokio::test]
async fn the_tool_name_is_read_from_the_body_not_the_header() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let config = mapping("mcp-name", &issuer, &base, "10s", "");
    let (mcp, shutdown) = serve(&config.path).await;
    let auth = bearer(&issuer.token("rsa1", issuer.claims("pets:read")));
    let params = json!({"name": "create_pet", "arguments": {"name": "x"}});
    let answer = rpc_with(&mcp, Some(&auth), "tools/call", params, &[("mcp-name", "get_pet")]).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(seen.count(), 0);
    shutdown.cancel();
}

#[tokio::test]
async fn api_keys_metadata_and_what_goes_upstream() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let config = mapping("keys", &issuer, &base, "10s", "  forward_headers: [X-Tenant-Id]\n");
    let (mcp, shutdown) = serve(&config.path).await;
    for auth in [format!("Bearer {API_KEY}")] {
        assert_eq!(listed(&mcp, &auth).await, ["list_pets", "get_pet", "get_status"]);
    }
    let answer = rpc_with(
        &mcp,
        None,
        "tools/call",
        json!({"name": "get_pet", "arguments": {"petId": "1"}}),
        &[("x-api-key", API_KEY)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(call(&mcp, Some("Bearer wrong-key"), "get_pet").await.status, 401);

    // The caller's token, cookies and forwarding headers never reach the upstream; the allow-listed header does.
    let token = issuer.token("rsa1", issuer.claims("pets:read"));
    let headers = [("cookie", "sid=caller-cookie"), ("x-forwarded-for", "203.0.113.9"), ("x-tenant-id", "t-42")];
    let answer = rpc_with(
        &mcp,
        Some(&bearer(&token)),
        "tools/call",
        json!({"name": "get_pet", "arguments": {"petId": "2"}}),
        &headers,
    )
    .await;
    assert_eq!(answer.status, 200);
    let last = seen.all().pop().unwrap();
    assert_eq!(last["authorization"], Value::Null, "{last}");
    assert_eq!(last["cookie"], Value::Null, "{last}");
    assert_eq!(last["x-forwarded-for"], Value::Null, "{last}");
    assert_eq!(last["x-tenant-id"], "t-42", "{last}");
    assert!(!last.to_string().contains(&token));

    // RFC 9728 metadata at both paths, without a token.
    for suffix in ["", "/mcp"] {
        let (status, _, body) =
            fetch(&mcp.replace("/mcp", &format!("/.well-known/oauth-protected-resource{suffix}"))).await;
        assert_eq!(status, 200);
        let metadata: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(metadata["resource"], AUDIENCE);
        assert_eq!(metadata["authorization_servers"], json!([issuer.url]));
        assert_eq!(metadata["scopes_supported"], json!(["pets:admin", "pets:read", "pets:write"]));
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
    }
    // Health and the summary need no token; the summary names the issuer.
    assert_eq!(fetch(&mcp.replace("/mcp", "/health")).await.0, 200);
    let (_, _, summary) = fetch(&mcp.replace("/mcp", "/.well-known/api2mcp.json")).await;
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["auth"]["type"], "oauth2");
    assert_eq!(summary["auth"]["issuers"], json!([issuer.url]));
    shutdown.cancel();
}

/// A token endpoint counting its requests; tokens live `lifetime` seconds.
async fn token_endpoint(lifetime: u64) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/token",
            post(move |State(count): State<Arc<AtomicUsize>>, headers: HeaderMap, body: String| async move {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                // client-id:client-secret, base64
                if basic != "Basic bWFjaGluZTpDQU5BUlktY2xpZW50LXNlY3JldA==" || !body.contains("grant_type=client_credentials") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
                }
                axum::Json(json!({"access_token": format!("upstream-token-{n}"), "token_type": "Bearer", "expires_in": lifetime})).into_response()
            }),
        )
        .with_state(count.clone());
    let url = crate::support::serve_router(app).await;
    (url, count)
}

#[tokio::test]
async fn each_credential_scheme_reaches_the_upstream_in_its_place() {
    let (base, seen) = upstream().await;
    let (token_url, fetches) = token_endpoint(3600).await;
    let upstream = |name: &str, credentials: &str| {
        format!(
            "  {name}:\n    spec: {SPEC}\n    base_url: {base}\n    tool_prefix: {name}_\n    include: [{{operation_id: getStatus}}]\n    credentials: {credentials}\n"
        )
    };
    let text = format!(
        "version: 1\nupstreams:\n{}{}{}{}{}{}{}",
        upstream("header", "{key_header: {value: CANARY-header-key}}"),
        upstream("query", "{key_query: {value: 'CANARY query&key'}}"),
        upstream("cookie", "{key_cookie: {value: CANARY-cookie}}"),
        upstream("bearer", "{bearer_auth: {value: CANARY-bearer}}"),
        upstream("basic", "{basic_auth: {username: svc, password: CANARY-pass}}"),
        upstream(
            "machine",
            &format!(
                "{{machine: {{client_id: machine, client_secret: CANARY-client-secret, token_url: '{token_url}/token'}}}}"
            )
        ),
        upstream("custom", "{anything: {type: api_key, in: header, name: X-Custom-Key, value: CANARY-custom}}"),
    );
    let config = write("credentials", &text);
    let (mcp, shutdown) = serve(&config.path).await;
    let client = crate::serve::client(
        &mcp,
        rmcp::ClientLifecycleMode::Discover { preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28] },
    )
    .await;
    for name in ["header", "query", "cookie", "bearer", "basic", "custom"] {
        let result = crate::serve::call(&client, &format!("{name}_get_status"), json!({})).await;
        assert!(!result.is_error.unwrap_or(false), "{name}: {result:?}");
    }
    let records = seen.all();
    assert_eq!(records[0]["x-api-key"], "CANARY-header-key");
    assert_eq!(records[1]["request"], "GET /status?api_key=CANARY+query%26key");
    assert_eq!(records[2]["cookie"], "session=CANARY-cookie");
    assert_eq!(records[3]["authorization"], "Bearer CANARY-bearer");
    assert_eq!(records[4]["authorization"], "Basic c3ZjOkNBTkFSWS1wYXNz");
    assert!(records[5].to_string().contains("CANARY-custom"));

    // Client credentials: 50 concurrent calls, one token fetch; every call carries the token.
    let client = Arc::new(client);
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { crate::serve::call(&client, "machine_get_status", json!({})).await })
        })
        .collect();
    for call in calls {
        let result = call.await.unwrap();
        assert!(!result.is_error.unwrap_or(false), "{result:?}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let machine: Vec<Value> = seen.all().into_iter().skip(6).collect();
    assert_eq!(machine.len(), 50);
    assert!(machine.iter().all(|r| r["authorization"] == "Bearer upstream-token-1"));
    shutdown.cancel();
}

#[tokio::test]
async fn expiring_client_credentials_tokens_are_refreshed() {
    let (base, seen) = upstream().await;
    // Tokens that live 30 s are inside the 60 s refresh margin: every call fetches a new one.
    let (token_url, fetches) = token_endpoint(30).await;
    let text = format!(
        "version: 1\nupstreams:\n  machine:\n    spec: {SPEC}\n    base_url: {base}\n    include: [{{operation_id: getStatus}}]\n    credentials: {{machine: {{client_id: machine, client_secret: CANARY-client-secret, token_url: '{token_url}/token'}}}}\n"
    );
    let config = write("refresh", &text);
    let (mcp, shutdown) = serve(&config.path).await;
    for _ in 0..2 {
        let answer = rpc(&mcp, None, "tools/call", json!({"name": "get_status", "arguments": {}})).await;
        assert_eq!(answer.body["result"]["isError"], json!(false), "{}", answer.body);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(seen.all()[1]["authorization"], "Bearer upstream-token-2");
    shutdown.cancel();
}

#[tokio::test]
async fn a_canary_secret_appears_in_no_log_error_or_metric() {
    let (base, _) = upstream().await;
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let canary = "CANARY-7f3a9c-never-show";
    let config = write(
        "canary",
        &format!(
            "version: 1\nauth:\n  resource: {AUDIENCE}\n  issuers: [{{issuer: '{iss}', jwks_uri: '{iss}/jwks'}}]\n\
             upstreams:\n  store:\n    spec: {SPEC}\n    base_url: {base}\n    credentials: {{bearer_auth: {{value: '${{SECRET}}'}}}}\n",
            iss = issuer.url
        ),
    );
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"));
    command
        .args(["serve", "--config", config.path.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("SECRET", canary)
        .env("RUST_LOG", "trace");
    let mut running = crate::support::ServeProcess::start(command).await;
    let mcp = running.mcp_url.clone();
    let auth = bearer(&issuer.token("rsa1", issuer.claims("pets:read pets:write")));
    let mut shown = String::new();
    for (tool, arguments) in
        [("get_pet", json!({"petId": "fail"})), ("get_pet", json!({"petId": "1"})), ("list_pets", json!({}))]
    {
        let answer = rpc(&mcp, Some(&auth), "tools/call", json!({"name": tool, "arguments": arguments})).await;
        assert_eq!(answer.status, 200);
        shown.push_str(&answer.body.to_string());
    }
    assert!(shown.contains("isError"), "the failing call is an error result: {shown}");
    let (_, _, metrics) = fetch(&mcp.replace("/mcp", "/metrics")).await;
    let (_, _, summary) = fetch(&mcp.replace("/mcp", "/")).await;
    let pid = running.child.id().unwrap().to_string();
    let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(20), running.child.wait()).await;
    let mut output: String = running.earlier.iter().chain([&running.startup]).map(|line| format!("{line}\n")).collect();
    while let Some(line) = running.lines.recv().await {
        output.push_str(&line);
        output.push('\n');
    }
    assert!(output.contains("\"target\":\"audit\""), "audit lines are logged: {output}");
    assert!(output.contains("\"subject\":\"alice\""), "{output}");
    for (what, text) in [("results", &shown), ("metrics", &metrics), ("summary", &summary), ("logs", &output)] {
        assert!(!text.contains(canary), "the canary leaked into {what}");
        assert!(!text.contains("Q0FOQVJZLTdmM2E5Yy1uZXZlci1zaG93"), "the canary leaked (base64) into {what}");
    }
}

#[tokio::test]
async fn serving_the_network_without_auth_needs_an_explicit_opt_in() {
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_api2mcp"))
            .args(["serve", "--spec", SPEC, "--base-url", "http://127.0.0.1:9", "--listen", "0.0.0.0:0"])
            .env_remove("API2MCP_ALLOW_ANONYMOUS")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without inbound auth") && stderr.contains("--allow-anonymous"), "{stderr}");
}

#[tokio::test]
async fn check_reports_unusable_auth_and_credentials() {
    let text = format!(
        "version: 1\nauth:\n  issuers: [{{issuer: x, jwks_uri: 'ftp://nope'}}]\n  algorithms: [HS256]\n  api_keys: [{{id: a, sha256: short}}]\n  forward_headers: [Authorization]\n\
         upstreams:\n  store:\n    spec: {SPEC}\n    credentials:\n      oidc: {{}}\n      nothing: {{value: x}}\n      bearer_auth: {{}}\n"
    );
    let config = write("check", &text);
    let source = api2mcp::load::ConfigSource::Mapping(config.path.clone());
    let prepared = api2mcp::pipeline::prepare(&source, &HashMap::new()).await;
    let rendered = crate::support::rendered_diagnostics(&prepared);
    for expected in [
        "mapping/invalid-auth",
        "is not an http(s) URL",
        "has no audience",
        "symmetric",
        "64 hex digits",
        "never forwarded",
        "mapping/invalid-credentials",
        "openIdConnect",
        "no security scheme named 'nothing'",
        "needs `value`",
    ] {
        assert!(rendered.contains(expected), "missing {expected:?} in\n{rendered}");
    }
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_cached() {
    let asked = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/introspect",
            post(|State(asked): State<Arc<AtomicUsize>>, headers: HeaderMap, body: String| async move {
                asked.fetch_add(1, Ordering::SeqCst);
                let client = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
                if client != "Basic YXBpMm1jcDppbnRyb3NwZWN0LXNlY3JldA==" {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let answer = match body.split('&').next().unwrap_or_default() {
                    "token=opaque-reader" => {
                        json!({"active": true, "sub": "bob", "scope": "pets:read", "aud": AUDIENCE, "exp": now() + 600})
                    }
                    "token=opaque-elsewhere" => {
                        json!({"active": true, "sub": "eve", "scope": "pets:read", "aud": "https://other.test"})
                    }
                    _ => json!({"active": false}),
                };
                axum::Json(answer).into_response()
            }),
        )
        .with_state(asked.clone());
    let endpoint = format!("{}/introspect", crate::support::serve_router(app).await);
    let (base, seen) = upstream().await;
    let config = write(
        "introspection",
        &format!(
            "version: 1\nauth:\n  resource: {AUDIENCE}\n  introspection: {{url: '{endpoint}', client_id: api2mcp, client_secret: introspect-secret}}\n\
             upstreams:\n  store:\n    spec: {SPEC}\n    base_url: {base}\n"
        ),
    );
    let (mcp, shutdown) = serve(&config.path).await;
    for _ in 0..3 {
        let answer = call(&mcp, Some("Bearer opaque-reader"), "get_pet").await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one introspection for the token's lifetime");
    assert_eq!(listed(&mcp, "Bearer opaque-reader").await, ["list_pets", "get_pet", "get_status"]);
    assert_eq!(call(&mcp, Some("Bearer opaque-reader"), "create_pet").await.status, 403);
    for (token, why) in [("opaque-revoked", "not active"), ("opaque-elsewhere", "aud")] {
        let answer = call(&mcp, Some(&bearer(token)), "get_pet").await;
        assert_eq!(answer.status, 401, "{token}");
        assert!(answer.body["error"].as_str().unwrap().contains(why), "{token}: {}", answer.body);
    }
    assert_eq!(seen.count(), 3);
    shutdown.cancel();
}

#[tokio::test]
async fn token_exchange_gives_each_caller_its_own_upstream_token() {
    let exchanges = Arc::new(Mutex::new(Vec::<String>::new()));
    let app = Router::new()
        .route(
            "/token",
            post(|State(exchanges): State<Arc<Mutex<Vec<String>>>>, body: String| async move {
                let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
                assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:token-exchange");
                assert_eq!(form["subject_token_type"], "urn:ietf:params:oauth:token-type:access_token");
                assert_eq!(form["audience"], "https://api.example.test");
                let mut exchanges = exchanges.lock().unwrap();
                exchanges.push(form["subject_token"].clone());
                axum::Json(json!({"access_token": format!("exchanged-{}", exchanges.len()), "expires_in": 3600}))
            }),
        )
        .with_state(exchanges.clone());
    let token_url = format!("{}/token", crate::support::serve_router(app).await);
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let credentials = format!(
        "    credentials:\n      machine: {{type: token_exchange, token_url: '{token_url}', client_id: api2mcp, client_secret: x-secret, audience: 'https://api.example.test'}}\n"
    );
    let config = mapping("exchange", &issuer, &base, "10s", "");
    let text = std::fs::read_to_string(&config.path).unwrap() + &credentials;
    std::fs::write(&config.path, text).unwrap();
    let (mcp, shutdown) = serve(&config.path).await;
    let alice = issuer.token("rsa1", issuer.claims("pets:read"));
    let mut bob_claims = issuer.claims("pets:read");
    bob_claims["sub"] = json!("bob");
    let bob = issuer.token("rsa1", bob_claims);
    for token in [&alice, &alice, &bob] {
        let answer = call(&mcp, Some(&bearer(token)), "get_pet").await;
        assert_eq!(answer.body["result"]["isError"], json!(false), "{}", answer.body);
    }
    // One exchange per caller token; each upstream request carries its caller's exchanged token, never the caller's own.
    assert_eq!(*exchanges.lock().unwrap(), [alice.clone(), bob.clone()]);
    let sent: Vec<Value> = seen.all().iter().map(|r| r["authorization"].clone()).collect();
    assert_eq!(sent, [json!("Bearer exchanged-1"), json!("Bearer exchanged-1"), json!("Bearer exchanged-2")]);
    // An API key caller has no token to exchange: a SERVER error, nothing sent.
    let answer = call(&mcp, Some(&format!("Bearer {API_KEY}")), "get_pet").await;
    assert_eq!(answer.body["result"]["isError"], json!(true), "{}", answer.body);
    assert_eq!(seen.count(), 3);
    shutdown.cancel();
}

/// Two Authorization headers (a valid one first) are refused; a `scope` claim that is a JSON array
/// grants nothing; `scp` counts only for an issuer configured with `read_scp`.
#[tokio::test]
async fn ambiguous_credentials_and_array_scopes_grant_nothing() {
    let issuer = Issuer::start(vec![jwk("rsa1")]).await;
    let (base, seen) = upstream().await;
    let config = mapping("ambiguous", &issuer, &base, "10s", "");
    let (mcp, shutdown) = serve(&config.path).await;
    let valid = bearer(&issuer.token("rsa1", issuer.claims("pets:read")));
    assert_eq!(call(&mcp, Some(&valid), "get_pet").await.status, 200);

    let answer = rpc_with(
        &mcp,
        Some(&valid),
        "tools/call",
        json!({"name": "get_pet", "arguments": {"petId": "1"}}),
        &[("authorization", "Bearer second")],
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert!(answer.body["error"].as_str().unwrap().contains("more than one authorization header"), "{}", answer.body);
    let answer = rpc_with(
        &mcp,
        None,
        "tools/call",
        json!({"name": "get_pet", "arguments": {"petId": "1"}}),
        &[("x-api-key", API_KEY), ("x-api-key", API_KEY)],
    )
    .await;
    assert_eq!(answer.status, 401, "two API keys: {}", answer.body);

    let mut array_scope = issuer.claims("");
    array_scope["scope"] = json!(["pets:read"]);
    let answer = call(&mcp, Some(&bearer(&issuer.token("rsa1", array_scope))), "get_pet").await;
    assert_eq!(answer.status, 403, "a JSON array `scope` grants nothing: {}", answer.body);
    let mut scp = issuer.claims("");
    scp["scp"] = json!(["pets:read"]);
    let scp_token = bearer(&issuer.token("rsa1", scp));
    assert_eq!(call(&mcp, Some(&scp_token), "get_pet").await.status, 403, "`scp` is not read unless configured");
    assert_eq!(seen.count(), 1, "no refused call reached the upstream");
    shutdown.cancel();

    let config = mapping("read-scp", &issuer, &base, "10s, read_scp: true", "");
    let (mcp, shutdown) = serve(&config.path).await;
    assert_eq!(call(&mcp, Some(&scp_token), "get_pet").await.status, 200, "`read_scp: true` grants `scp`");
    shutdown.cancel();
}
