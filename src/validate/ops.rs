//! Checks of the operational settings: `server.redis_url`, `server.discovery` and each upstream's
//! `health` probe, so that a mistake shows in `check` rather than as a `/ready` that never turns true.

use super::locate;
use crate::diag::{Diagnostic, Diagnostics};
use crate::load::{LoadedConfig, MappingSource};
use crate::spec::pointer_segment;

pub fn check(loaded: &LoadedConfig, diagnostics: &mut Diagnostics) {
    let source = loaded.mapping_source.as_ref();
    let server = &loaded.mapping.server;
    if let Some(redis_url) = server.redis_url.as_ref().filter(|url| !url.trim().is_empty()) {
        // The value may hold a password: never shown. TLS (`rediss://`) is not built in (it would
        // bring a second TLS configuration into the binary): a TLS-terminating sidecar serves it.
        let scheme = url::Url::parse(redis_url).map(|url| url.scheme().to_string()).unwrap_or_default();
        let problem = match scheme.as_str() {
            "redis" | "redis+unix" | "unix" => None,
            "rediss" => Some("server.redis_url uses rediss://, but this build has no TLS to Redis"),
            _ => Some("server.redis_url is not a redis:// URL"),
        };
        if let Some(problem) = problem {
            diagnostics.push(
                Diagnostic::error("mapping/invalid-redis-url", problem)
                    .at(locate(source, "/server/redis_url"))
                    .with_help("e.g. redis://redis:6379/0 or redis://:${REDIS_PASSWORD}@redis:6379/0"),
            );
        }
    }
    let discovery = &server.discovery;
    for (field, value) in [("public_url", &discovery.public_url), ("website_url", &discovery.website_url)] {
        let Some(value) = value else { continue };
        let valid = url::Url::parse(value).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.username().is_empty()
                && url.password().is_none()
        });
        if !valid {
            diagnostics.push(
                Diagnostic::error(
                    "mapping/invalid-discovery",
                    format!("server.discovery.{field} '{value}' is not an absolute http(s) URL without credentials"),
                )
                .at(locate(source, &format!("/server/discovery/{field}"))),
            );
        }
    }
    if let Some(name) = &discovery.registry_name
        && !is_registry_name(name)
    {
        diagnostics.push(
            Diagnostic::error(
                "mapping/invalid-discovery",
                format!("server.discovery.registry_name '{name}' is not a reverse-DNS name with one '/'"),
            )
            .at(locate(source, "/server/discovery/registry_name"))
            .with_help("e.g. com.example/petstore (letters, digits, '.', '-' before the '/'; also '_' after it)"),
        );
    }
    for (name, upstream) in &loaded.mapping.upstreams {
        let Some(probe) = &upstream.health else { continue };
        if let Some(path) = &probe.path
            && (!path.starts_with('/') || path.contains(['#', ' ']) || path.starts_with("//"))
        {
            let pointer = format!("/upstreams/{}/health/path", pointer_segment(name));
            push_probe_error(
                source,
                &pointer,
                format!("upstream '{name}': health.path '{path}' must start with one '/'"),
                diagnostics,
            );
        }
        if probe.timeout.is_some_and(|timeout| timeout.0.is_zero()) {
            let pointer = format!("/upstreams/{}/health/timeout", pointer_segment(name));
            push_probe_error(
                source,
                &pointer,
                format!("upstream '{name}': health.timeout must be more than 0"),
                diagnostics,
            );
        }
    }
}

fn push_probe_error(source: Option<&MappingSource>, pointer: &str, message: String, diagnostics: &mut Diagnostics) {
    diagnostics.push(Diagnostic::error("mapping/invalid-health-probe", message).at(locate(source, pointer)));
}

/// The registry's name pattern: `^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$`, 3 to 200 characters.
pub fn is_registry_name(name: &str) -> bool {
    let Some((namespace, server)) = name.split_once('/') else { return false };
    (3..=200).contains(&name.len())
        && !namespace.is_empty()
        && !server.is_empty()
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && server.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn registry_names_follow_the_registry_pattern() {
        assert!(super::is_registry_name("com.example/petstore"));
        assert!(super::is_registry_name("io.github.user/my_server-2"));
        assert!(!super::is_registry_name("petstore"));
        assert!(!super::is_registry_name("com.example/pets/extra"));
        assert!(!super::is_registry_name("com example/pets"));
    }
}
