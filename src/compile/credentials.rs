//! An upstream's `credentials` entry resolved against the spec's security scheme of the same name:
//! the spec says what kind of credential and where it goes, the mapping gives the secret. `check`
//! reports the `Err` of [`resolve`]; the compiler keeps the `Ok`s.

use serde_json::Value;

use crate::catalogue::{Credential, KeyLocation};
use crate::mapping::{CredentialKind, CredentialSettings};
use crate::spec::Spec;

pub fn resolve(scheme_name: &str, settings: &CredentialSettings, spec: &Spec) -> Result<Credential, String> {
    let scheme = spec
        .root()
        .pointer("/components/securitySchemes")
        .and_then(|schemes| schemes.get(scheme_name))
        .and_then(|scheme| spec.deref(crate::spec::ROOT, scheme).ok())
        .map(|(_, scheme)| scheme.clone());
    let scheme_type = scheme.as_ref().and_then(|s| s.get("type")).and_then(Value::as_str).map(str::to_string);
    let http_scheme =
        scheme.as_ref().and_then(|s| s.get("scheme")).and_then(Value::as_str).map(str::to_ascii_lowercase);
    let kind = match (settings.kind, scheme_type.as_deref(), http_scheme.as_deref()) {
        (Some(kind), _, _) => kind,
        (None, Some("apiKey"), _) => CredentialKind::ApiKey,
        (None, Some("http"), Some("bearer")) => CredentialKind::Bearer,
        (None, Some("http"), Some("basic")) => CredentialKind::Basic,
        (None, Some("oauth2"), _) => CredentialKind::Oauth2ClientCredentials,
        (None, Some(other), _) => {
            return Err(format!(
                "the spec's security scheme '{scheme_name}' is of type '{other}'{}, which api2mcp cannot fill in by itself; set `type`",
                http_scheme.map(|s| format!(" ({s})")).unwrap_or_default()
            ));
        }
        (None, None, _) => {
            return Err(format!(
                "the spec has no security scheme named '{scheme_name}'; name one of its schemes{} or set `type`",
                scheme_names(spec)
            ));
        }
    };
    let from_scheme =
        |field: &str| scheme.as_ref().and_then(|s| s.get(field)).and_then(Value::as_str).map(str::to_string);
    let required = |value: &Option<String>, field: &str| {
        value
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("a {} credential needs `{field}`", kind_name(kind)))
    };
    match kind {
        CredentialKind::ApiKey => {
            let location = match settings.location {
                Some(crate::mapping::KeyLocation::Header) => KeyLocation::Header,
                Some(crate::mapping::KeyLocation::Query) => KeyLocation::Query,
                Some(crate::mapping::KeyLocation::Cookie) => KeyLocation::Cookie,
                None => match from_scheme("in").as_deref() {
                    Some("header") => KeyLocation::Header,
                    Some("query") => KeyLocation::Query,
                    Some("cookie") => KeyLocation::Cookie,
                    _ => return Err("an api_key credential needs `in` (header, query or cookie)".to_string()),
                },
            };
            let name = settings
                .name
                .clone()
                .or_else(|| from_scheme("name"))
                .filter(|n| !n.is_empty())
                .ok_or("an api_key credential needs `name` (the header, parameter or cookie name)")?;
            if location == KeyLocation::Header && name.eq_ignore_ascii_case("host") {
                return Err("an api_key cannot be sent in the Host header".to_string());
            }
            Ok(Credential::ApiKey { location, name, value: required(&settings.value, "value")? })
        }
        CredentialKind::Bearer => Ok(Credential::Bearer { token: required(&settings.value, "value")? }),
        CredentialKind::Basic => Ok(Credential::Basic {
            username: required(&settings.username, "username")?,
            password: settings.password.clone().unwrap_or_default(),
        }),
        CredentialKind::Oauth2ClientCredentials | CredentialKind::TokenExchange => {
            let spec_token_url = scheme
                .as_ref()
                .and_then(|s| s.pointer("/flows/clientCredentials/tokenUrl"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let token_url = settings
                .token_url
                .clone()
                .or(spec_token_url)
                .ok_or("this credential needs `token_url` (the spec's scheme has no clientCredentials flow)")?;
            let parsed =
                url::Url::parse(&token_url).map_err(|e| format!("token_url '{token_url}' is not a URL: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("token_url '{token_url}' must be http(s)"));
            }
            let (client_id, client_secret) =
                (required(&settings.client_id, "client_id")?, required(&settings.client_secret, "client_secret")?);
            let (scopes, extra_params) =
                (settings.scopes.clone(), settings.extra_params.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            Ok(match kind {
                CredentialKind::TokenExchange => Credential::TokenExchange {
                    token_url,
                    client_id,
                    client_secret,
                    audience: settings.audience.clone(),
                    scopes,
                    extra_params,
                },
                _ => Credential::ClientCredentials { token_url, client_id, client_secret, scopes, extra_params },
            })
        }
    }
}

fn kind_name(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::ApiKey => "api_key",
        CredentialKind::Bearer => "bearer",
        CredentialKind::Basic => "basic",
        CredentialKind::Oauth2ClientCredentials => "oauth2_client_credentials",
        CredentialKind::TokenExchange => "token_exchange",
    }
}

fn scheme_names(spec: &Spec) -> String {
    let names: Vec<String> = spec
        .root()
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .map(|schemes| schemes.keys().map(|k| format!("'{k}'")).collect())
        .unwrap_or_default();
    if names.is_empty() { " (it declares none)".to_string() } else { format!(" ({})", names.join(", ")) }
}
