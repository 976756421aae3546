//! The capability summary and the documents derived from it: the JSON summary (`GET /`,
//! `/.well-known/api2mcp.json`, `api2mcp summary`), its HTML page, the draft MCP Server Card and
//! Catalog, and the MCP registry's `server.json`. Every one is built from a [`Served`] snapshot, the
//! same data `tools/list` and `server/discover` answer with, so they cannot disagree.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::Served;
use crate::catalogue::Catalogue;

/// The path of the summary's well-known URL.
pub const WELL_KNOWN_PATH: &str = "/.well-known/api2mcp.json";
/// `$schema` of the draft Server Card (SEP-2127, experimental server-card extension, v1 family).
pub const SERVER_CARD_SCHEMA: &str = "https://static.modelcontextprotocol.io/schemas/v1/server-card.schema.json";
/// `$schema` of the MCP registry's `server.json`.
pub const SERVER_JSON_SCHEMA: &str = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";
/// The MCP endpoint offline, when `server.discovery.public_url` is not set.
pub const DEFAULT_MCP_URL: &str = "http://127.0.0.1:8080/mcp";
/// Card and registry descriptions and titles are at most this many characters.
const REGISTRY_TEXT_CHARS: usize = 100;

/// The capability summary: who the server is, how to reach it, what it requires and which tools it
/// offers on which upstreams. `mcp_url` is the absolute URL of the MCP endpoint.
pub fn document(served: &Served, mcp_url: &str) -> Value {
    let catalogue = &served.catalogue;
    let server = &catalogue.server;
    let base = base_of(mcp_url);
    let mut endpoints = Map::new();
    endpoints.insert("mcp".into(), json!(mcp_url));
    endpoints.insert("summary".into(), json!(format!("{base}{WELL_KNOWN_PATH}")));
    endpoints.insert("health".into(), json!(format!("{base}/health")));
    endpoints.insert("ready".into(), json!(format!("{base}/ready")));
    if server.discovery.server_card {
        endpoints.insert("serverCard".into(), json!(format!("{mcp_url}/server-card")));
        endpoints.insert("catalog".into(), json!(format!("{base}/.well-known/mcp/catalog.json")));
    }
    let tools: Vec<Value> = served.tools.iter().map(|tool| tool_entry(catalogue, tool)).collect();
    let mut document = Map::new();
    document.insert("name".into(), json!(server.name));
    insert_some(&mut document, "title", server.title.as_deref());
    document.insert("version".into(), json!(served.version));
    insert_some(&mut document, "description", server.description.as_deref());
    document.insert("transports".into(), json!([{"type": "streamable-http", "url": mcp_url}]));
    document.insert("protocolVersions".into(), json!(served.protocol_versions));
    document.insert("auth".into(), auth(catalogue, mcp_url));
    document.insert("endpoints".into(), Value::Object(endpoints));
    document.insert("upstreams".into(), upstreams(catalogue));
    document.insert("toolCount".into(), json!(tools.len()));
    document.insert("tools".into(), Value::Array(tools));
    document.insert("endpointsByToolset".into(), toolsets(catalogue, mcp_url));
    Value::Object(document)
}

/// Every MCP endpoint: `/mcp` and one per toolset, with how its tools are offered (discovery or
/// direct) and its schema profile.
fn toolsets(catalogue: &Catalogue, mcp_url: &str) -> Value {
    let views: Vec<Value> = catalogue
        .views
        .iter()
        .map(|view| {
            let url = match &view.toolset {
                None => mcp_url.to_string(),
                Some(name) => format!("{}/{name}", mcp_url.trim_end_matches('/')),
            };
            let mut entry = Map::new();
            insert_some(&mut entry, "toolset", view.toolset.as_deref());
            entry.insert("url".into(), json!(url));
            insert_some(&mut entry, "description", view.description.as_deref());
            entry.insert("tools".into(), json!(view.direct.len() + view.discovered.len()));
            entry.insert("discovery".into(), json!(view.uses_discovery()));
            entry.insert("profile".into(), json!(view.profile.label()));
            Value::Object(entry)
        })
        .collect();
    Value::Array(views)
}

/// What a caller needs to authenticate. The auth issue fills this in (issuer, resource metadata URL,
/// scopes supported) from the catalogue's auth settings; until then the server takes anonymous calls.
pub fn auth(catalogue: &Catalogue, mcp_url: &str) -> Value {
    let Some(settings) = &catalogue.server.auth else {
        return json!({"type": "none"});
    };
    let resource = settings.resource.clone().unwrap_or_else(|| mcp_url.to_string());
    let metadata = url::Url::parse(&resource)
        .map(|url| format!("{}/.well-known/oauth-protected-resource{}", url.origin().ascii_serialization(), url.path()))
        .unwrap_or_default();
    json!({
        "type": if !settings.issuers.is_empty() || settings.introspection.is_some() {
            "oauth2"
        } else if !settings.api_keys.is_empty() {
            "api_key"
        } else {
            "anonymous"
        },
        "resource": resource,
        "resource_metadata": metadata,
        "issuers": settings.issuers.iter().map(|i| i.issuer.clone()).collect::<Vec<_>>(),
        "scopes_supported": catalogue.all_scopes(),
        "introspection": settings.introspection.is_some(),
        "api_keys": !settings.api_keys.is_empty(),
        "anonymous": settings.anonymous,
    })
}

/// One `tools/list` entry as served, with the scopes and upstream the catalogue knows for it.
fn tool_entry(catalogue: &Catalogue, served_tool: &Value) -> Value {
    let name = served_tool["name"].as_str().unwrap_or_default();
    let mut entry = Map::new();
    entry.insert("name".into(), json!(name));
    for key in ["title", "description", "annotations"] {
        if let Some(value) = served_tool.get(key) {
            entry.insert(key.into(), value.clone());
        }
    }
    if let Some(tool) = catalogue.tool(name) {
        entry.insert("scopes".into(), json!(tool.scopes));
        if let Some(upstream) = catalogue.upstreams.get(tool.upstream) {
            entry.insert("upstream".into(), json!(upstream.name));
            // Every limit a call of this tool must fit, by level, and what one call costs.
            entry.insert("cost".into(), json!(tool.resilience.cost));
            let mut limits = Map::new();
            for (level, set) in [
                ("tool", &tool.resilience.limits),
                ("upstream", &upstream.resilience.limits),
                ("server", &catalogue.server.limits.global),
            ] {
                if !set.is_empty() {
                    limits.insert(level.into(), set.to_json());
                }
            }
            if !limits.is_empty() {
                entry.insert("limits".into(), Value::Object(limits));
            }
        }
    }
    Value::Object(entry)
}

/// Upstream names and base URLs, without credentials or query strings.
fn upstreams(catalogue: &Catalogue) -> Value {
    let list = catalogue
        .upstreams
        .iter()
        .map(|upstream| json!({"name": upstream.name, "baseUrl": upstream.base_url.as_deref().map(public_url)}));
    Value::Array(list.collect())
}

/// A URL safe to show anyone: no user name, password, query or fragment.
pub fn public_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        // Not a URL: show nothing of it rather than something that may hold a secret.
        Err(_) => String::from("(not a URL)"),
    }
}

/// The server's base URL: the MCP URL without its final `/mcp` segment.
pub fn base_of(mcp_url: &str) -> &str {
    let trimmed = mcp_url.trim_end_matches('/');
    trimmed.strip_suffix("/mcp").unwrap_or(trimmed)
}

/// The reverse-DNS name of the Server Card and `server.json`: configured, or `local.api2mcp/<name>`.
pub fn registry_name(catalogue: &Catalogue) -> String {
    if let Some(name) = &catalogue.server.discovery.registry_name {
        return name.clone();
    }
    let slug: String = catalogue
        .server
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let slug = slug.trim_matches('-');
    format!("local.api2mcp/{}", if slug.is_empty() { "api2mcp" } else { slug })
}

/// The description for registries: at most 100 characters, never empty.
fn registry_description(catalogue: &Catalogue) -> String {
    let server = &catalogue.server;
    let text = server
        .description
        .clone()
        .unwrap_or_else(|| format!("MCP tools for {}", server.title.as_deref().unwrap_or(&server.name)));
    truncate(&text, REGISTRY_TEXT_CHARS)
}

fn truncate(text: &str, limit: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

/// Title, description, website and remote: what the Server Card and `server.json` share.
fn registry_common(served: &Served, schema: &str) -> Map<String, Value> {
    let catalogue = &served.catalogue;
    let server = &catalogue.server;
    let mut card = Map::new();
    card.insert("$schema".into(), json!(schema));
    card.insert("name".into(), json!(registry_name(catalogue)));
    card.insert("version".into(), json!(served.version));
    card.insert("description".into(), json!(registry_description(catalogue)));
    if let Some(title) = server.title.as_deref().filter(|t| !t.trim().is_empty()) {
        card.insert("title".into(), json!(truncate(title, REGISTRY_TEXT_CHARS)));
    }
    insert_some(&mut card, "websiteUrl", server.discovery.website_url.as_deref());
    card
}

/// The draft MCP Server Card (SEP-2127): identity, the remote and its protocol versions.
pub fn server_card(served: &Served, mcp_url: &str) -> Value {
    let mut card = registry_common(served, SERVER_CARD_SCHEMA);
    let mut remote = remote(&served.catalogue, mcp_url);
    remote.insert("supportedProtocolVersions".into(), json!(served.protocol_versions));
    card.insert("remotes".into(), json!([remote]));
    Value::Object(card)
}

/// The draft MCP Catalog (`/.well-known/mcp/catalog.json`) with this server's card as its one entry.
pub fn catalog(served: &Served, mcp_url: &str) -> Value {
    let catalogue = &served.catalogue;
    let name = registry_name(catalogue);
    let (namespace, short_name) = name.split_once('/').unwrap_or(("local.api2mcp", &name));
    let publisher: Vec<&str> = namespace.split('.').rev().collect();
    let display_name = catalogue.server.title.clone().unwrap_or_else(|| catalogue.server.name.clone());
    json!({
        "specVersion": "draft",
        "entries": [{
            "identifier": format!("urn:air:{}:{short_name}", publisher.join(".")),
            "displayName": display_name,
            "type": "application/mcp-server-card+json",
            "url": format!("{mcp_url}/server-card"),
        }]
    })
}

/// The MCP registry's `server.json` for this deployment (a remote server, no packages).
pub fn server_json(served: &Served, mcp_url: &str) -> Value {
    let mut document = registry_common(served, SERVER_JSON_SCHEMA);
    document.insert("remotes".into(), json!([remote(&served.catalogue, mcp_url)]));
    Value::Object(document)
}

/// The streamable HTTP remote. When the auth issue lands, a required secret `Authorization` header
/// is declared here for servers that require a token.
fn remote(catalogue: &Catalogue, mcp_url: &str) -> Map<String, Value> {
    let mut remote = Map::new();
    remote.insert("type".into(), json!("streamable-http"));
    remote.insert("url".into(), json!(mcp_url));
    if let Some(settings) = &catalogue.server.auth
        && !settings.anonymous
    {
        remote.insert(
            "headers".into(),
            json!([{"name": "Authorization", "description": "Bearer token (OAuth 2.1 access token or API key)",
                    "isRequired": true, "isSecret": true}]),
        );
    }
    remote
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        map.insert(key.into(), json!(value));
    }
}

/// The page template; every value in it is escaped (descriptions come from third-party specs).
const PAGE_TEMPLATE: &str = include_str!("summary.html");

/// One environment for every page: the template is parsed once.
static PAGES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut environment = minijinja::Environment::new();
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder().trim_blocks(true).keep_trailing_newline(true).build()
    {
        environment.set_syntax(syntax);
    }
    // HTML escaping of `&`, `<`, `>`, `"` and `'` through html-escape: minijinja's own escaper also
    // writes `/` as `&#x2f;`, which is safe but leaves every URL on the page unreadable in its source.
    environment.set_formatter(|out, state, value| {
        if value.is_safe() || *state.auto_escape() != minijinja::AutoEscape::Html {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = if value.is_undefined() || value.is_none() { String::new() } else { value.to_string() };
        out.write_str(&html_escape::encode_quoted_attribute(&text)).map_err(minijinja::Error::from)
    });
    // A template that does not parse fails the unit test `the_page_shows_the_summary_escaped`.
    let _ = environment.add_template("summary.html", PAGE_TEMPLATE);
    environment
});

/// The summary as a small HTML page for people who open the server's URL in a browser, rendered
/// from `summary.html` with every value escaped.
pub fn html(document: &Value) -> String {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    let tools: Vec<Value> = document["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|tool| {
            json!({
                "name": text(&tool["name"]),
                "title": tool.get("title").map(text),
                "description": tool.get("description").map(text).unwrap_or_default(),
                "scopes": tool["scopes"].as_array().into_iter().flatten().map(text).collect::<Vec<_>>(),
                "hints": hints(&tool["annotations"]),
                "limits": limits_text(tool),
            })
        })
        .collect();
    let upstreams: Vec<Value> = document["upstreams"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|upstream| json!({"name": text(&upstream["name"]), "base_url": text(&upstream["baseUrl"])}))
        .collect();
    let protocol_versions: Vec<String> =
        document["protocolVersions"].as_array().into_iter().flatten().map(text).collect();
    let endpoints = &document["endpoints"];
    let links: Vec<String> =
        ["summary", "health", "ready", "serverCard"].iter().filter_map(|key| endpoints.get(*key).map(text)).collect();
    let context = json!({
        "name": text(document.get("title").unwrap_or(&document["name"])),
        "description": document.get("description").map(text),
        "version": text(&document["version"]),
        "mcp_url": text(&endpoints["mcp"]),
        "protocol_versions": protocol_versions,
        "auth": auth_text(document),
        "upstreams": upstreams,
        "tool_count": document["toolCount"],
        "tools": tools,
        "links": links,
    });
    PAGES
        .get_template("summary.html")
        .and_then(|template| template.render(minijinja::Value::from(minijinja::value::Serde(&context))))
        .unwrap_or_else(|error| {
            tracing::error!(%error, "the summary page could not be rendered");
            "<!doctype html>\n<p>The summary page could not be rendered; see the server log.</p>\n".to_string()
        })
}

/// `cost 5; tool: total 10/minute; server: per_caller 100/minute`.
fn limits_text(tool: &Value) -> String {
    let mut parts = vec![format!("cost {}", tool["cost"].as_u64().unwrap_or(1))];
    for (level, set) in tool["limits"].as_object().into_iter().flatten() {
        let rates: Vec<String> = set
            .as_object()
            .into_iter()
            .flatten()
            .map(|(scope, rate)| format!("{scope} {}", rate.as_str().unwrap_or_default()))
            .collect();
        parts.push(format!("{level}: {}", rates.join(", ")));
    }
    parts.join("; ")
}

fn auth_text(document: &Value) -> String {
    match document["auth"]["type"].as_str() {
        Some("none") | None => "none (anonymous calls)".to_string(),
        Some(other) => {
            let issuers: Vec<&str> =
                document["auth"]["issuers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let mut text = other.to_string();
            if !issuers.is_empty() {
                text.push_str(&format!(" (issuers: {})", issuers.join(", ")));
            }
            if let Some(metadata) = document["auth"]["resource_metadata"].as_str() {
                text.push_str(&format!("; metadata: {metadata}"));
            }
            text
        }
    }
}

fn hints(annotations: &Value) -> String {
    let mut hints = Vec::new();
    let read_only = annotations["readOnlyHint"].as_bool() == Some(true);
    // `destructiveHint` is left out when it is MCP's default (true for a tool that is not
    // read-only, so every DELETE), and the page shows what the client assumes.
    let destructive = !read_only && annotations["destructiveHint"].as_bool() != Some(false);
    for (present, label) in [
        (read_only, "read-only"),
        (destructive, "destructive"),
        (annotations["idempotentHint"].as_bool() == Some(true), "idempotent"),
        (annotations["openWorldHint"].as_bool() == Some(true), "open world"),
    ] {
        if present {
            hints.push(label);
        }
    }
    hints.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_lose_credentials_query_and_fragment() {
        assert_eq!(public_url("https://user:pw@api.example.com/v1?key=s3cret#x"), "https://api.example.com/v1");
        assert_eq!(public_url("not a url"), "(not a URL)");
    }

    #[test]
    fn the_base_is_the_mcp_url_without_its_last_segment() {
        assert_eq!(base_of("https://h.example/mcp"), "https://h.example");
        assert_eq!(base_of("https://h.example/prefix/mcp/"), "https://h.example/prefix");
    }

    #[test]
    fn the_page_shows_the_summary_escaped() {
        let document = json!({
            "name": "shop", "title": "Shop <b>&</b> \"co\" 'x'", "description": "Sells <script>alert(1)</script>",
            "version": "1.2.3", "protocolVersions": ["2025-06-18", "2025-11-25"],
            "endpoints": {"mcp": "https://h.example/mcp", "summary": "https://h.example/.well-known/api2mcp.json", "health": "https://h.example/health"},
            "auth": {"type": "oauth", "issuers": ["https://issuer.example"]},
            "upstreams": [{"name": "store", "baseUrl": "https://api.example/v1"}],
            "toolCount": 2,
            "tools": [
                {"name": "get_pet", "title": "Get <pet>", "description": "Find a pet.", "scopes": ["pets.read", "pets.admin"],
                 "annotations": {"readOnlyHint": true}, "cost": 1},
                {"name": "delete_pet", "annotations": {}, "scopes": [], "cost": 5, "limits": {"tool": {"total": "10/minute"}}},
            ],
        });
        let page = html(&document);
        assert!(page.starts_with("<!doctype html>\n"), "{page}");
        assert!(
            page.contains("<title>Shop &lt;b&gt;&amp;&lt;/b&gt; &quot;co&quot; &#x27;x&#x27; · MCP server</title>"),
            "{page}"
        );
        assert!(page.contains("<h1>Shop &lt;b&gt;&amp;&lt;/b&gt; &quot;co&quot; &#x27;x&#x27;</h1>\n"), "{page}");
        assert!(page.contains("<p>Sells &lt;script&gt;alert(1)&lt;/script&gt;</p>\n"), "{page}");
        assert!(page.contains("Connect an MCP client to <code>https://h.example/mcp</code>"), "{page}");
        assert!(
            page.contains(
                "<p>Protocol versions: 2025-06-18, 2025-11-25.<br>Auth: oauth (issuers: https://issuer.example).</p>"
            ),
            "{page}"
        );
        assert!(page.contains("<tr><td>store</td><td><code>https://api.example/v1</code></td></tr>\n"), "{page}");
        assert!(page.contains("<h2>Tools (2)</h2>"), "{page}");
        assert!(page.contains(
            "<tr><td><code>get_pet</code><br><small>Get &lt;pet&gt;</small></td><td>Find a pet.</td><td>pets.read pets.admin</td><td>read-only</td><td>cost 1</td></tr>\n"
        ), "{page}");
        // MCP's default for a tool that is not read-only is destructive, and the page says so.
        assert!(page.contains(
            "<tr><td><code>delete_pet</code></td><td></td><td></td><td>destructive</td><td>cost 5; tool: total 10/minute</td></tr>\n"
        ), "{page}");
        assert!(page.contains(
            "<p><small><a href=\"https://h.example/.well-known/api2mcp.json\">https://h.example/.well-known/api2mcp.json</a> · <a href=\"https://h.example/health\">https://h.example/health</a></small></p>\n</body></html>\n"
        ), "{page}");
        assert!(!page.contains("<script>") && !page.contains("<b>"), "{page}");
    }

    #[test]
    fn registry_texts_are_cut_to_100_characters() {
        let cut = truncate(&"é".repeat(150), 100);
        assert_eq!(cut.chars().count(), 100);
        assert!(cut.ends_with('…'));
    }
}
