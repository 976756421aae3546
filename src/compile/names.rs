//! Tool and argument names: snake_case from the operationId (or method and path), only
//! `[A-Za-z0-9_-]`, at most the configured length, unique and the same on every run.

/// `listPets` → `list_pets`; `repos/list-for-org` → `repos_list_for_org`; `GetV1Customers` →
/// `get_v1_customers`; `HTTPServer` → `http_server`.
pub fn snake_case(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (index, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && index > 0 {
            let previous = chars[index - 1];
            let next_is_lower = chars.get(index + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = previous.is_ascii_lowercase()
                || previous.is_ascii_digit()
                || (previous.is_ascii_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// The name an operation gets when the spec has no operationId: `GET /pets/{petId}/photos` →
/// `get_pets_by_pet_id_photos`.
pub fn from_method_and_path(method: &str, path: &str) -> String {
    let mut words = vec![method.to_ascii_lowercase()];
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(parameter) => words.push(format!("by_{}", snake_case(parameter))),
            None => words.push(snake_case(segment)),
        }
    }
    words.retain(|w| !w.is_empty());
    words.join("_")
}

/// Cuts a name to `max` characters, keeping it unique among long names by ending it with four hex
/// digits of a hash of the full name (FNV-1a: stable across runs and platforms).
pub fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = fnv1a(name.as_bytes());
    let keep = max.saturating_sub(5);
    let mut cut: String = name.chars().take(keep).collect();
    while cut.ends_with('_') || cut.ends_with('-') {
        cut.pop();
    }
    format!("{cut}_{:04x}", hash & 0xffff)
}

fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Whether a user-given tool name is acceptable to MCP clients.
pub fn is_valid_tool_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Argument (property) names: many model APIs accept only `[A-Za-z0-9_.-]{1,64}`, so `page[size]`
/// becomes `page_size` and `$filter` becomes `filter`. The wire name is kept in the binding.
pub fn argument_name(wire_name: &str) -> String {
    let mut out = String::with_capacity(wire_name.len());
    for c in wire_name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_');
    let name = if trimmed.is_empty() { "param" } else { trimmed };
    fit(name, 64)
}

/// The longest server name derived from a title: a client's tool prefix (`mcp__<server>__`) plus
/// the longest discovery tool name then stays within the 64 characters clients allow.
pub const MAX_DERIVED_SERVER_NAME: usize = 32;

/// Words of a title that say nothing about which API it is.
const FILLER_WORDS: &[&str] = &[
    "a",
    "an",
    "and",
    "api",
    "definition",
    "description",
    "document",
    "extension",
    "extensions",
    "for",
    "of",
    "official",
    "openapi",
    "rest",
    "spec",
    "specification",
    "swagger",
    "the",
    "v",
    "version",
];

/// The server name of zero-config: `Swagger Petstore - OpenAPI 3.0` → `petstore`, `GitHub's official
/// OpenAPI spec + Octokit extension` → `github-octokit`: lowercase ASCII words joined by hyphens,
/// without filler words, single letters and version numbers, at most [`MAX_DERIVED_SERVER_NAME`]
/// characters (whole words). A title of nothing but such words keeps them.
pub fn server_name_from_title(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let telling = |word: &&String| {
        let version = word.trim_start_matches('v').chars().all(|c| c.is_ascii_digit());
        word.len() > 1 && !version && !FILLER_WORDS.contains(&word.as_str())
    };
    let kept: Vec<&String> = words.iter().filter(telling).collect();
    let kept = if kept.is_empty() { words.iter().collect() } else { kept };
    let mut name = String::new();
    for word in kept {
        if name.len() + word.len() + usize::from(!name.is_empty()) > MAX_DERIVED_SERVER_NAME {
            break;
        }
        if !name.is_empty() {
            name.push('-');
        }
        name.push_str(word);
    }
    if name.is_empty() {
        // One word longer than the limit: its start.
        name = words.first().map(|w| w.chars().take(MAX_DERIVED_SERVER_NAME).collect()).unwrap_or_default();
    }
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_names_from_titles_are_short_and_telling() {
        let cases = [
            ("Swagger Petstore - OpenAPI 3.0", "petstore"),
            ("GitHub's official OpenAPI spec + Octokit extension", "github-octokit"),
            ("Stripe API", "stripe"),
            ("Kubernetes", "kubernetes"),
            ("DigitalOcean API v2", "digitalocean"),
            ("OpenAPI", "openapi"),
            ("The Official API", "the-official-api"),
            ("Very Long Words Everywhere Across This Title Here", "very-long-words-everywhere"),
            ("Supercalifragilisticexpialidocious-and-more-words", "supercalifragilisticexpialidocio"),
            ("", ""),
        ];
        for (title, expected) in cases {
            let name = super::server_name_from_title(title);
            assert_eq!(name, expected, "{title}");
            assert!(name.len() <= super::MAX_DERIVED_SERVER_NAME);
        }
    }

    use super::*;

    #[test]
    fn snake_cases_real_operation_ids() {
        assert_eq!(snake_case("listPets"), "list_pets");
        assert_eq!(snake_case("repos/list-for-org"), "repos_list_for_org");
        assert_eq!(snake_case("GetCustomersCustomerSources"), "get_customers_customer_sources");
        assert_eq!(snake_case("HTTPServerStatus"), "http_server_status");
        assert_eq!(snake_case("getV1Thing2Go"), "get_v1_thing2_go");
        assert_eq!(snake_case("readCoreV1NamespacedPod"), "read_core_v1_namespaced_pod");
        assert_eq!(snake_case("chat.postMessage"), "chat_post_message");
        assert_eq!(snake_case("__weird--id__"), "weird_id");
    }

    #[test]
    fn names_from_method_and_path() {
        assert_eq!(from_method_and_path("GET", "/pets/{petId}/photos"), "get_pets_by_pet_id_photos");
        assert_eq!(from_method_and_path("post", "/"), "post");
    }

    #[test]
    fn long_names_are_cut_deterministically_and_stay_distinct() {
        let a = "a_really_long_operation_name_that_goes_on_and_on_beyond_the_limit_one";
        let b = "a_really_long_operation_name_that_goes_on_and_on_beyond_the_limit_two";
        assert_eq!(fit(a, 64).len(), 64);
        assert_eq!(fit(a, 64), fit(a, 64));
        assert_ne!(fit(a, 64), fit(b, 64));
        assert_eq!(fit("short", 64), "short");
    }

    #[test]
    fn argument_names_are_sanitised() {
        assert_eq!(argument_name("page[size]"), "page_size");
        assert_eq!(argument_name("$filter"), "filter");
        assert_eq!(argument_name("X-Request-ID"), "X-Request-ID");
        assert_eq!(argument_name("[]"), "param");
    }
}
