//! Calls the upstream for one tool call: arguments checked against the tool's `inputSchema` → request
//! built from the argument bindings → sent with the upstream's pooled client → response read under a
//! size limit. Every failure is a [`classify::Outcome`]; nothing here builds a tool result.

mod arguments;
mod client;
pub mod request;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::catalogue::{Catalogue, Tool};
use crate::classify::Outcome;

/// A 2xx upstream response, read whole (under the upstream's size limit).
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Everything needed to call any tool of one catalogue; built once at startup.
pub struct Caller {
    catalogue: Arc<Catalogue>,
    clients: Vec<reqwest::Client>,
    checkers: Vec<arguments::ArgumentChecker>,
}

impl Caller {
    pub fn new(catalogue: Arc<Catalogue>) -> Result<Self, String> {
        let clients =
            catalogue.upstreams.iter().map(|upstream| client::build(upstream)).collect::<Result<Vec<_>, _>>()?;
        let checkers =
            catalogue.tools.iter().map(|tool| arguments::ArgumentChecker::new(tool)).collect::<Result<Vec<_>, _>>()?;
        Ok(Caller { catalogue, clients, checkers })
    }

    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// Secrets of a tool's upstream that must never appear in anything shown to a caller.
    pub fn secrets(&self, tool: &Tool) -> Vec<String> {
        self.catalogue.upstreams[tool.upstream]
            .headers
            .iter()
            .map(|(_, value)| value.clone())
            .filter(|v| v.len() >= 4)
            .collect()
    }

    pub async fn call(&self, tool_index: usize, arguments: Map<String, Value>) -> Result<UpstreamResponse, Outcome> {
        let tool = &self.catalogue.tools[tool_index];
        let checker = &self.checkers[tool_index];
        checker.check(&arguments)?;
        let upstream = &self.catalogue.upstreams[tool.upstream];
        let Some(base_url) = upstream.base_url.as_deref() else {
            return Err(Outcome::Misconfigured { detail: format!("upstream '{}' has no base URL", upstream.name) });
        };
        let binary: Vec<&str> = checker.binary_arguments().iter().map(String::as_str).collect();
        let built = request::build(base_url, &tool.call, &arguments, &binary).map_err(|error| match error {
            request::BuildError::Invalid { argument, reason } => Outcome::UnbuildableRequest { argument, reason },
            request::BuildError::Missing { argument } => Outcome::InvalidArguments {
                fields: vec![crate::classify::FieldError { field: argument, message: "is required".to_string() }],
            },
        })?;
        client::send(&self.clients[tool.upstream], upstream, built).await
    }
}
