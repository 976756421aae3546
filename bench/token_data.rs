#![allow(dead_code)] // Shared by an example and a test; each uses part of it.
//! Realistic upstream responses for the token benchmark (`examples/token_savings.rs`) and the test that
//! holds the savings (`tests/integration/shaping.rs`): a 30-issue GitHub-style issue list with the field set
//! GitHub's REST API returns, and a Stripe-style list of 30 customers with Stripe's field set. Generated
//! deterministically (no randomness), so the figures in BENCHMARKS.md can be reproduced exactly.

use serde_json::{Value, json};

const LOGINS: [&str; 6] = ["octocat", "hubot", "monalisa", "defunkt", "mojombo", "pjhyett"];
const LABELS: [(&str, &str, &str); 5] = [
    ("bug", "d73a4a", "Something isn't working"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("performance", "fbca04", "Slow paths and memory use"),
];
const TITLES: [&str; 6] = [
    "Crash when the config file has a trailing tab",
    "Support pagination with Link headers",
    "Docs: explain how output shaping works",
    "Memory grows with every reload",
    "Add a --json flag to the tools command",
    "Timeout is not applied to the connect phase",
];

fn user(index: usize) -> Value {
    let login = LOGINS[index % LOGINS.len()];
    let id = 583_231 + index as u64 * 7919;
    let base = format!("https://api.github.com/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": format!("MDQ6VXNlcj{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": base,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{base}/followers"),
        "following_url": format!("{base}/following{{/other_user}}"),
        "gists_url": format!("{base}/gists{{/gist_id}}"),
        "starred_url": format!("{base}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{base}/subscriptions"),
        "organizations_url": format!("{base}/orgs"),
        "repos_url": format!("{base}/repos"),
        "events_url": format!("{base}/events{{/privacy}}"),
        "received_events_url": format!("{base}/received_events"),
        "type": "User",
        "user_view_type": "public",
        "site_admin": false
    })
}

fn label(index: usize) -> Value {
    let (name, color, description) = LABELS[index % LABELS.len()];
    json!({
        "id": 208_045_946 + index as u64,
        "node_id": format!("MDU6TGFiZWwyMDgwNDU5N{index}"),
        "url": format!("https://api.github.com/repos/acme/widgets/labels/{}", name.replace(' ', "%20")),
        "name": name,
        "color": color,
        "default": index % LABELS.len() < 3,
        "description": description
    })
}

/// `GET /repos/acme/widgets/issues?per_page=30`: 30 issues as GitHub returns them.
pub fn github_issues() -> Value {
    let issues: Vec<Value> = (0..30)
        .map(|i| {
            let number = 1347 - i as u64;
            let url = format!("https://api.github.com/repos/acme/widgets/issues/{number}");
            let labels: Vec<Value> = (0..(i % 3)).map(|l| label(i + l)).collect();
            let assignee = if i % 4 == 0 { user(i + 1) } else { Value::Null };
            let closed = i % 5 == 4;
            json!({
                "url": url,
                "repository_url": "https://api.github.com/repos/acme/widgets",
                "labels_url": format!("{url}/labels{{/name}}"),
                "comments_url": format!("{url}/comments"),
                "events_url": format!("{url}/events"),
                "html_url": format!("https://github.com/acme/widgets/issues/{number}"),
                "id": 1_000_000_000u64 + number * 31,
                "node_id": format!("I_kwDOABCD5M5{number}xYz"),
                "number": number,
                "title": TITLES[i % TITLES.len()],
                "user": user(i),
                "labels": labels,
                "state": if closed { "closed" } else { "open" },
                "locked": false,
                "assignee": assignee.clone(),
                "assignees": if assignee.is_null() { json!([]) } else { json!([assignee]) },
                "milestone": Value::Null,
                "comments": (i * 7) % 13,
                "created_at": format!("2026-10-{:02}T09:{:02}:11Z", 1 + i % 28, i % 60),
                "updated_at": format!("2026-11-{:02}T16:{:02}:42Z", 1 + i % 20, (i * 3) % 60),
                "closed_at": if closed { json!(format!("2026-11-{:02}T17:00:00Z", 2 + i % 20)) } else { Value::Null },
                "author_association": if i % 2 == 0 { "CONTRIBUTOR" } else { "NONE" },
                "type": Value::Null,
                "active_lock_reason": Value::Null,
                "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
                "body": format!(
                    "### Describe the bug\n\n{} when running `widgets serve` with the attached config.\n\n### Steps to reproduce\n\n1. Create `widgets.yaml`\n2. Run `widgets serve --config widgets.yaml`\n3. See the error\n\n### Expected behaviour\n\nThe server starts.\n\n### Version\n\nwidgets 2.{}.0 on Debian 12",
                    TITLES[i % TITLES.len()],
                    i % 9
                ),
                "closed_by": Value::Null,
                "reactions": {
                    "url": format!("{url}/reactions"),
                    "total_count": i % 4, "+1": i % 3, "-1": 0, "laugh": 0, "hooray": 0,
                    "confused": 0, "heart": i % 2, "rocket": 0, "eyes": 0
                },
                "timeline_url": format!("{url}/timeline"),
                "performed_via_github_app": Value::Null,
                "state_reason": if closed { json!("completed") } else { Value::Null }
            })
        })
        .collect();
    Value::Array(issues)
}

/// `GET /v1/customers?limit=30`: a Stripe list object of 30 customers.
pub fn stripe_customers() -> Value {
    const NAMES: [&str; 6] =
        ["Jenny Rosen", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Pauling"];
    const CITIES: [(&str, &str, &str); 3] = [("San Francisco", "CA", "US"), ("Berlin", "", "DE"), ("London", "", "GB")];
    let customers: Vec<Value> = (0..30)
        .map(|i| {
            let name = NAMES[i % NAMES.len()];
            let (city, state, country) = CITIES[i % CITIES.len()];
            let email = format!("{}.{}@example.com", name.to_lowercase().replace(' ', "."), i);
            let address = json!({
                "city": city, "country": country, "line1": format!("{} Market Street", 100 + i),
                "line2": Value::Null, "postal_code": format!("{:05}", 94_100 + i), "state": state
            });
            json!({
                "id": format!("cus_R{:012}Qx", 4_412_000 + i * 97),
                "object": "customer",
                "address": address.clone(),
                "balance": if i % 7 == 0 { -2500 } else { 0 },
                "created": 1_730_000_000u64 + i as u64 * 86_400,
                "currency": if country == "US" { "usd" } else { "eur" },
                "default_source": Value::Null,
                "delinquent": i % 11 == 0,
                "description": if i % 3 == 0 { json!(format!("Customer since batch {}", i / 3)) } else { Value::Null },
                "discount": Value::Null,
                "email": email,
                "invoice_prefix": format!("{:X}{:04}", 0xA1B2C3u32 + i as u32, i),
                "invoice_settings": {
                    "custom_fields": Value::Null, "default_payment_method": format!("pm_1Q{:010}Zz", 77_000 + i),
                    "footer": Value::Null, "rendering_options": Value::Null
                },
                "livemode": false,
                "metadata": if i % 2 == 0 { json!({"crm_id": format!("CRM-{}", 5000 + i), "plan": "growth"}) } else { json!({}) },
                "name": name,
                "next_invoice_sequence": 1 + i % 5,
                "phone": format!("+1415555{:04}", 1000 + i),
                "preferred_locales": ["en"],
                "shipping": {"address": address, "name": name, "phone": Value::Null},
                "tax_exempt": "none",
                "test_clock": Value::Null
            })
        })
        .collect();
    json!({"object": "list", "url": "/v1/customers", "has_more": true, "data": customers})
}

/// One measured response: raw upstream tokens and the shaped result's.
pub struct Measured {
    pub name: &'static str,
    pub mapping: &'static str,
    pub raw_bytes: usize,
    pub shaped_text: String,
    pub result: Value,
}

impl Measured {
    pub fn raw_tokens(&self) -> usize {
        self.raw_bytes.div_ceil(4)
    }
    pub fn shaped_tokens(&self) -> usize {
        self.shaped_text.len().div_ceil(4)
    }
    pub fn saving(&self) -> f64 {
        1.0 - self.shaped_tokens() as f64 / self.raw_tokens() as f64
    }
}

/// Serves both responses from an in-process upstream on 127.0.0.1:0 and calls the example tools through
/// api2mcp's call path, exactly as an MCP client would receive the result.
pub async fn measure(examples: &std::path::Path) -> Vec<Measured> {
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let link = format!(r#"<{base}/repos/acme/widgets/issues?per_page=30&page=2>; rel="next""#);
    let app = axum::Router::new()
        .route(
            "/repos/acme/widgets/issues",
            axum::routing::get(move || {
                let link = link.clone();
                async move { ([("link", link)], axum::Json(github_issues())).into_response() }
            }),
        )
        .route("/v1/customers", axum::routing::get(|| async { axum::Json(stripe_customers()) }));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the upstream serves") });
    let env: std::collections::HashMap<String, String> = [
        ("GITHUB_API_URL".to_string(), base.clone()),
        ("STRIPE_API_URL".to_string(), base.clone()),
        ("API2MCP_CURSOR_SECRET".to_string(), "benchmark".to_string()),
    ]
    .into();
    let cases = [
        (
            "GitHub issues, 30 per page",
            "github-issues/api2mcp.yaml",
            "list_issues",
            json!({"owner": "acme", "repo": "widgets"}),
            github_issues(),
        ),
        (
            "Stripe customers, 30 per page",
            "stripe-customers/api2mcp.yaml",
            "list_customers",
            json!({}),
            stripe_customers(),
        ),
    ];
    let mut measured = Vec::new();
    for (name, mapping, tool, arguments, raw) in cases {
        let source = api2mcp::load::ConfigSource::Mapping(examples.join(mapping));
        let prepared = api2mcp::pipeline::prepare(&source, &env).await;
        assert!(!prepared.diagnostics.has_errors(), "{mapping} has errors");
        let catalogue = std::sync::Arc::new(prepared.compiled.expect("compiled").catalogue);
        let caller = std::sync::Arc::new(api2mcp::call::Caller::new(catalogue).expect("caller"));
        let server = api2mcp::mcp::McpServer::new(caller).expect("server");
        let Value::Object(arguments) = arguments else { unreachable!() };
        let result = server.call_once(tool, arguments).await.expect("the call runs");
        assert_ne!(result["isError"], json!(true), "{result}");
        let shaped_text = result["content"][0]["text"].as_str().unwrap_or_default().to_string();
        measured.push(Measured { name, mapping, raw_bytes: raw.to_string().len(), shaped_text, result });
    }
    measured
}
