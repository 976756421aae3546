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

#[cfg(test)]
mod tests {
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
