//! The mapping file's `auth` section (who may call this server) and each upstream's `credentials`
//! (how api2mcp authenticates to the upstream). Both are compiled into catalogue types
//! (`compile/auth.rs`, `compile/credentials.rs`); nothing at run time reads these.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::duration::DurationSpec;

/// Inbound authentication of MCP clients on the HTTP transport (stdio is not affected). Without this
/// section the server accepts anonymous callers, and refuses to start on a non-loopback address
/// unless `--allow-anonymous` is given.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// This server's canonical MCP URL, e.g. `https://mcp.example.com/mcp` (RFC 8707). Tokens must name it in `aud` (unless `audiences` says otherwise) and it is the `resource` of the protected resource metadata.
    pub resource: Option<String>,
    /// Accept callers without credentials. They get no scopes, so they see and call only tools that need none.
    #[serde(default)]
    pub anonymous: bool,
    /// JWT bearer tokens issued by these OAuth 2.1 / OpenID Connect issuers, verified locally against their JWKS.
    #[serde(default)]
    pub issuers: Vec<IssuerSettings>,
    /// Signature algorithms accepted. Default: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA. `none` and HS* are never accepted.
    pub algorithms: Option<Vec<String>>,
    /// Clock skew allowed when checking `exp` and `nbf`, e.g. `30s` (the default).
    pub leeway: Option<DurationSpec>,
    /// Largest bearer token accepted, in bytes. Default 16384.
    pub max_token_bytes: Option<usize>,
    /// Opaque (non-JWT) bearer tokens checked at the issuer's RFC 7662 introspection endpoint, cached for their lifetime.
    pub introspection: Option<IntrospectionSettings>,
    /// Static API keys for service-to-service callers, sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Only their SHA-256 is stored here.
    #[serde(default)]
    pub api_keys: Vec<ApiKeySettings>,
    /// Inbound request headers forwarded to upstreams (an explicit allow-list, e.g. `[X-Tenant-Id]`). `Authorization`, `Cookie`, `Proxy-Authorization` and forwarding headers are never forwarded.
    #[serde(default)]
    pub forward_headers: Vec<String>,
    /// Log argument values in the audit log (default false: names only).
    #[serde(default)]
    pub audit_arguments: bool,
}

/// One token issuer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The issuer identifier, exactly as in the tokens' `iss` claim.
    pub issuer: String,
    /// Where the issuer publishes its signing keys (JWKS), e.g. `https://idp.example.com/.well-known/jwks.json`.
    pub jwks_uri: String,
    /// Audiences accepted in `aud`. Default: the `resource` URL.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// A token naming an unknown key id refreshes the JWKS at most this often, e.g. `10s` (the default).
    pub min_refresh_interval: Option<DurationSpec>,
    /// Also grant the scopes in this issuer's `scp` claim (an array of strings or a space-delimited
    /// string, as Okta and Microsoft Entra ID issue them). Default false: only the RFC 9068 `scope`
    /// claim counts, and only as a space-delimited string.
    #[serde(default)]
    pub read_scp: bool,
}

/// An RFC 7662 token introspection endpoint.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSettings {
    /// The introspection endpoint, e.g. `https://idp.example.com/oauth2/introspect`.
    pub url: String,
    /// api2mcp's client id at the endpoint (sent with HTTP basic auth).
    pub client_id: String,
    /// Its secret; use `${VAR}` or `${file:...}`.
    pub client_secret: String,
    /// Longest time an answer is reused, e.g. `5m` (the default); never past the token's `exp`.
    pub cache_for: Option<DurationSpec>,
}

/// One static API key.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// A name for the key, shown in audit logs and metrics instead of the key.
    pub id: String,
    /// The key's SHA-256, as 64 hex digits (`printf %s "$KEY" | sha256sum`).
    pub sha256: String,
    /// Scopes this key grants.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// How api2mcp authenticates to an upstream: by the name of a security scheme of its spec (its type
/// and location then come from the spec), or by any name with an explicit `type`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialSettings {
    /// `api_key`, `bearer`, `basic`, `oauth2_client_credentials`, or `token_exchange` (RFC 8693: the caller's token is exchanged at `token_url` for a token of this upstream, per caller). Default: from the spec's security scheme of this name.
    #[serde(rename = "type")]
    pub kind: Option<CredentialKind>,
    /// For `api_key`: where the key goes (`header`, `query` or `cookie`). Default: from the spec.
    #[serde(rename = "in")]
    pub location: Option<KeyLocation>,
    /// For `api_key`: the header, query parameter or cookie name. Default: from the spec.
    pub name: Option<String>,
    /// The API key or bearer token; use `${VAR}` or `${file:/run/secrets/...}`.
    pub value: Option<String>,
    /// For `basic`.
    pub username: Option<String>,
    /// For `basic`; use `${VAR}` or `${file:...}`.
    pub password: Option<String>,
    /// For `token_exchange`: the `audience` requested (the upstream's identifier at the token service).
    pub audience: Option<String>,
    /// For `oauth2_client_credentials` and `token_exchange`: the token endpoint. Default: the spec's `tokenUrl`.
    pub token_url: Option<String>,
    /// For `oauth2_client_credentials`.
    pub client_id: Option<String>,
    /// For `oauth2_client_credentials`; use `${VAR}` or `${file:...}`.
    pub client_secret: Option<String>,
    /// For `oauth2_client_credentials`: scopes requested.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// For `oauth2_client_credentials`: extra form fields of the token request, e.g. `{audience: https://api.example.com}`.
    #[serde(default)]
    pub extra_params: IndexMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    ApiKey,
    Bearer,
    Basic,
    Oauth2ClientCredentials,
    TokenExchange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyLocation {
    Header,
    Query,
    Cookie,
}
