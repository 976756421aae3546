//! A tool's result settings, compiled: output shaping ([`Output`]) and pagination ([`Pagination`]).
//! `compile/output.rs` builds them from the mapping's `output` and `pagination` (JSONPaths parsed,
//! templates compiled, defaults applied, every problem a diagnostic of `check`); `shape/` and
//! `call/pages.rs` only read them, so nothing is parsed, and nothing can fail to parse, at serve time.

use std::sync::Arc;

use serde_json_path::JsonPath;

/// A JSONPath (RFC 9535), parsed, with the text it was written as (for `check` and `tools`).
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    pub path: JsonPath,
}

/// How one tool's upstream response is shaped (the mapping's `output`; `specs/output-and-pagination.md`).
#[derive(Debug, Clone)]
pub struct Output {
    /// `select`: the part of the response returned.
    pub select: Option<Select>,
    /// Dotted paths kept, in order; empty: every field.
    pub fields: Vec<String>,
    /// Dotted paths dropped.
    pub exclude: Vec<String>,
    /// Dotted path → new name, in the order listed.
    pub rename: Vec<(String, String)>,
    /// Drop null values, empty strings, arrays and objects.
    pub drop_empty: bool,
    pub format: OutputFormat,
    /// Most items returned; `None`: no limit.
    pub max_items: Option<u64>,
    /// Token budget of one result; `None`: the built-in default.
    pub max_tokens: Option<u64>,
}

/// The `select` JSONPath, and whether it is singular (yields its node rather than an array of nodes).
#[derive(Debug, Clone)]
pub struct Select {
    pub query: Query,
    pub singular: bool,
}

/// Encoding of the result text.
#[derive(Debug, Clone)]
pub enum OutputFormat {
    Json,
    Table,
    Template(Template),
}

/// A minijinja template, compiled: the one template of its own environment.
#[derive(Debug, Clone)]
pub struct Template {
    environment: Arc<minijinja::Environment<'static>>,
}

impl Template {
    /// A name without an extension, so that minijinja applies no HTML auto-escaping to the agent's text.
    pub const NAME: &'static str = "output";

    pub fn compile(source: &str) -> Result<Template, minijinja::Error> {
        let mut environment = minijinja::Environment::new();
        environment.add_template_owned(Self::NAME, source.to_string())?;
        Ok(Template { environment: Arc::new(environment) })
    }

    /// The environment holding the template, named [`Self::NAME`].
    pub fn environment(&self) -> &minijinja::Environment<'static> {
        &self.environment
    }
}
