//! Which upstream credentials an operation is sent with, from its OpenAPI `security` (the
//! operation's, else the document's): a list of alternatives, each an AND of schemes. The first
//! alternative whose schemes are all configured wins; an empty alternative (`{}`) or an empty list
//! lets the call go without credentials. Credentials named after no scheme of the spec (an explicit
//! `type` under any name) are outside the spec's model and go on every request.

use serde_json::Value;

use crate::catalogue::CredentialChoice;
use crate::spec::{Operation, Spec};

/// The choice for one operation, and, when no alternative is configured, the alternatives the
/// operation would accept (scheme names joined by `+`), for `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub choice: CredentialChoice,
    pub unsatisfied: Option<Vec<String>>,
}

/// `configured` holds the mapping's credential names, in order (indexes of `Upstream::credentials`).
pub fn select(spec: &Spec, operation: &Operation<'_>, configured: &[String]) -> Selection {
    let security = security_of(operation.operation.get("security"), spec.root().get("security"));
    let schemes = spec.root().pointer("/components/securitySchemes").and_then(Value::as_object);
    let is_scheme = |name: &str| schemes.is_some_and(|schemes| schemes.contains_key(name));
    select_from(security, configured, is_scheme)
}

/// The requirements that apply: the operation's, else the spec's global ones. A `security` that is
/// not a list is read as not written (`check` warns).
pub fn security_of<'v>(operation: Option<&'v Value>, global: Option<&'v Value>) -> Option<&'v Value> {
    operation.filter(|security| security.is_array()).or(global.filter(|security| security.is_array()))
}

fn select_from(security: Option<&Value>, configured: &[String], is_scheme: impl Fn(&str) -> bool) -> Selection {
    let Some(Value::Array(alternatives)) = security else {
        // No `security` anywhere: the spec says nothing, so everything configured is sent.
        return Selection { choice: CredentialChoice::All, unsatisfied: None };
    };
    let always: Vec<usize> = (0..configured.len()).filter(|&index| !is_scheme(&configured[index])).collect();
    let index_of = |scheme: &str| configured.iter().position(|name| name == scheme);
    let requirements: Vec<Vec<&str>> = alternatives
        .iter()
        .filter_map(Value::as_object)
        .map(|requirement| requirement.keys().map(String::as_str).collect())
        .collect();
    let anonymous_allowed = alternatives.is_empty() || requirements.iter().any(Vec::is_empty);
    // A configured alternative is preferred to anonymous access even when `{}` comes first: optional
    // authentication usually gives more (private data, higher limits), and the user configured it.
    let chosen = requirements
        .iter()
        .filter(|schemes| !schemes.is_empty())
        .find_map(|schemes| schemes.iter().map(|scheme| index_of(scheme)).collect::<Option<Vec<usize>>>());
    match chosen {
        Some(mut indexes) => {
            indexes.extend(always.iter().filter(|index| !indexes.contains(index)).collect::<Vec<_>>());
            indexes.sort_unstable();
            Selection { choice: CredentialChoice::Only(indexes), unsatisfied: None }
        }
        None => {
            let unsatisfied = (!anonymous_allowed && always.is_empty())
                .then(|| requirements.iter().map(|schemes| schemes.join("+")).collect());
            Selection { choice: CredentialChoice::Only(always), unsatisfied }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(security: Option<Value>, configured: &[&str]) -> Selection {
        let configured: Vec<String> = configured.iter().map(|name| name.to_string()).collect();
        select_from(security.as_ref(), &configured, |name| name != "custom")
    }

    fn only(indexes: &[usize]) -> CredentialChoice {
        CredentialChoice::Only(indexes.to_vec())
    }

    #[test]
    fn a_security_that_is_not_a_list_is_read_as_not_written() {
        let global = json!([{"key": []}]);
        let empty = json!([]);
        assert_eq!(security_of(Some(&json!("nope")), Some(&global)), Some(&global));
        assert_eq!(security_of(Some(&empty), Some(&global)), Some(&empty), "[] is anonymous, not absent");
        assert_eq!(security_of(Some(&json!({"key": []})), Some(&json!(7))), None);
        assert_eq!(run(None, &["key", "custom"]).choice, CredentialChoice::All);
    }

    #[test]
    fn first_fully_configured_alternative_wins() {
        // Square: an OAuth2 bearer token and an apiKey scheme named `Authorization` share a header.
        let security = json!([{"oauth2": ["read"]}, {"api_key": []}]);
        assert_eq!(run(Some(security.clone()), &["api_key", "oauth2"]).choice, only(&[1]));
        assert_eq!(run(Some(security.clone()), &["api_key"]).choice, only(&[0]));
        // An AND needs every scheme.
        let both = json!([{"key": [], "secret": []}, {"bearer": []}]);
        assert_eq!(run(Some(both.clone()), &["key", "bearer"]).choice, only(&[1]));
        assert_eq!(run(Some(both), &["secret", "bearer", "key"]).choice, only(&[0, 2]));
    }

    #[test]
    fn anonymous_and_unsatisfied() {
        assert_eq!(run(Some(json!([])), &["api_key"]), Selection { choice: only(&[]), unsatisfied: None });
        // `{}` allows anonymous calls, but a configured alternative is still preferred.
        assert_eq!(run(Some(json!([{}, {"api_key": []}])), &["api_key"]).choice, only(&[0]));
        assert_eq!(run(Some(json!([{"api_key": []}, {}])), &[]), Selection { choice: only(&[]), unsatisfied: None });
        let none = run(Some(json!([{"a": []}, {"b": [], "c": []}])), &["c"]);
        assert_eq!(none, Selection { choice: only(&[]), unsatisfied: Some(vec!["a".into(), "b+c".into()]) });
        // No `security` at all: everything configured.
        assert_eq!(run(None, &["a", "b"]).choice, CredentialChoice::All);
    }

    #[test]
    fn credentials_outside_the_spec_go_everywhere() {
        assert_eq!(run(Some(json!([])), &["custom", "api_key"]).choice, only(&[0]));
        assert_eq!(run(Some(json!([{"api_key": []}])), &["api_key", "custom"]).choice, only(&[0, 1]));
        // A custom credential is the user's answer to an unconfigured requirement: not reported.
        assert_eq!(run(Some(json!([{"oauth": []}])), &["custom"]), Selection { choice: only(&[0]), unsatisfied: None });
    }
}
