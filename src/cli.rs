//! The command line: `check`, `tools`, `schema`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "api2mcp", version, about = "Serve REST APIs described by OpenAPI as MCP tools")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and check the configuration: every diagnostic at once, then the catalogue's size.
    Check {
        #[command(flatten)]
        source: SourceArgs,
        /// Fail (exit 78) on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Print the tool catalogue.
    Tools {
        #[command(flatten)]
        source: SourceArgs,
        /// Print exactly the `tools/list` result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the mapping file.
    Schema,
}

/// Where the configuration comes from: a mapping file, or a single spec (zero-config mode).
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Mapping file (default: ./api2mcp.yaml when it exists).
    #[arg(long, short = 'c', conflicts_with = "spec", env = "API2MCP_CONFIG")]
    pub config: Option<PathBuf>,
    /// OpenAPI document (file or http(s) URL) to expose whole, without a mapping file.
    #[arg(long, env = "API2MCP_SPEC")]
    pub spec: Option<String>,
    /// Base URL of the API, overriding the spec's servers (with --spec).
    #[arg(long, requires = "spec", env = "API2MCP_BASE_URL")]
    pub base_url: Option<String>,
}
