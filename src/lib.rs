//! api2mcp: a declarative OpenAPI-to-MCP adapter.
//!
//! It is a compiler followed by a proxy. Modules in pipeline order:
//!
//! - [`load`]: the only module that reads files or fetches URLs: specs (Swagger 2.0 upgraded,
//!   OpenAPI 3.0/3.1, multi-file `$ref`s) and the mapping file (YAML with positions, `${VAR}`).
//! - [`spec`]: read-only navigation of a loaded description: `$ref` resolution, operations.
//! - [`mapping`]: the mapping file's types (and its JSON Schema).
//! - [`validate`]: cross-reference checks of the mapping against the specs; every diagnostic at once.
//! - [`compile`]: pure (specs, mapping) → [`catalogue::Catalogue`]: names, descriptions, schemas.
//! - [`catalogue`]: the runtime IR every later stage reads.
//! - [`mcp`]: the only module that knows MCP (rmcp): handler, Streamable HTTP and stdio transports.
//! - [`call`]: arguments → upstream HTTP request(s) → response, under limits; pagination.
//! - [`resilience`]: rate limits and costs (in process or shared through Redis), circuit breakers,
//!   retries with a budget, bulkheads.
//! - [`text`]: spec prose to plain text: markdown and HTML, hidden characters, sentences,
//!   instruction-like (prompt-injection) sentences; used by `compile` and by `mcp`'s result flags.
//! - [`shape`]: response → the compact result an agent reads (select, fields, budgets, formats).
//! - [`classify`]: the one ordered table from failure to CLIENT / SERVER / EXTERNAL tool error.
//! - [`ops`]: the capability summary, Server Card, `/health` and `/ready` beside `/mcp`.
//! - [`diag`]: diagnostics and their rendering.
//! - [`encoding`]: the strict percent-encoding set shared by requests and redaction.
//! - [`pipeline`]: load → validate → compile, every diagnostic of one run (used by every command).
//! - [`lifecycle`]: reload on SIGHUP.
//! - [`tls`]: the TLS crypto provider every HTTP client uses.
//! - [`app`], [`cli`]: commands and wiring.

pub mod app;
pub mod auth;
pub mod body;
pub mod call;
pub mod catalogue;
pub mod classify;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod discovery;
pub mod encoding;
pub mod lifecycle;
pub mod load;
pub mod mapping;
pub mod mcp;
pub mod memory;
pub mod ops;
pub mod pipeline;
pub mod resilience;
pub mod shape;
pub mod spec;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod validate;
