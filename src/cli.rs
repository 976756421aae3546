//! The command line: `serve`, `stdio`, `call`, `check`, `tools`, `schema`, `summary`, `healthcheck`.

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
    /// Serve the tools over MCP Streamable HTTP at /mcp.
    Serve {
        #[command(flatten)]
        source: SourceArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "API2MCP_LISTEN")]
        listen: String,
        /// Extra hostnames accepted in the Host header (DNS-rebinding protection; loopback is always accepted).
        #[arg(long = "allowed-host", env = "API2MCP_ALLOWED_HOSTS", value_delimiter = ',')]
        allowed_hosts: Vec<String>,
        /// Extra browser origins accepted in the Origin header (e.g. https://app.example.com:443).
        #[arg(long = "allowed-origin", env = "API2MCP_ALLOWED_ORIGINS", value_delimiter = ',')]
        allowed_origins: Vec<String>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Serve the tools over MCP on stdin/stdout (logs go to stderr).
    Stdio {
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Call one tool from the command line: prints the tool result as a client receives it, and its size.
    Call {
        #[command(flatten)]
        source: SourceArgs,
        /// The tool's name (see `api2mcp tools`).
        tool: String,
        /// The arguments, as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
    },
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
    /// Print the capability summary (what GET / serves), or the MCP registry's server.json, offline.
    Summary {
        #[command(flatten)]
        source: SourceArgs,
        /// What to print.
        #[arg(long, value_enum, default_value = "json")]
        format: SummaryFormat,
        /// The MCP endpoint URL clients use (default: server.discovery.public_url, else http://127.0.0.1:8080/mcp).
        #[arg(long)]
        url: Option<String>,
    },
    /// Ask a running server whether it is ready: exit 0 when it answers 2xx, 1 otherwise (for container health checks).
    Healthcheck {
        /// URL to ask (default: /ready on the --listen address, loopback for 0.0.0.0 and [::]).
        #[arg(long)]
        url: Option<String>,
        /// The address `serve` listens on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "API2MCP_LISTEN")]
        listen: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

/// The documents `api2mcp summary` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    /// The capability summary (as `GET /` serves it with `Accept: application/json`).
    Json,
    /// The MCP registry's `server.json` (a remote server).
    ServerJson,
    /// The draft MCP Server Card (SEP-2127).
    ServerCard,
}

/// How a serving process runs: metrics listener and shutdown grace period.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Serve /metrics on this address only (e.g. 0.0.0.0:9090) instead of beside /mcp.
    #[arg(long, env = "API2MCP_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// How long in-flight calls may run after SIGTERM/SIGINT before they are dropped (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", env = "API2MCP_SHUTDOWN_GRACE", value_parser = parse_duration)]
    pub shutdown_grace: std::time::Duration,
    /// Serve on a non-loopback address without inbound auth (anyone who can reach it may call every tool).
    #[arg(long, env = "API2MCP_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,
    /// Connections open at once; more are answered 503 and closed (see specs/limits.md).
    #[arg(long, default_value_t = crate::mcp::http::DEFAULT_MAX_CONNECTIONS, env = "API2MCP_MAX_CONNECTIONS",
          value_parser = parse_count)]
    pub max_connections: usize,
    /// Time a client has to send a request head, counted from connecting or from the end of its
    /// previous response; idle connections are closed after it (e.g. 10s).
    #[arg(long, default_value = "10s", env = "API2MCP_HEADER_TIMEOUT", value_parser = parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Queueing delay of the runtime above which /mcp admits fewer requests at once and, standing for
    /// 100 ms, refuses new connections, with 503 (e.g. 5ms; 0 turns it off). It bounds the wait of
    /// each turn of a call, and a call takes a few dozen turns.
    #[arg(long, default_value = "5ms", env = "API2MCP_QUEUE_TARGET", value_parser = parse_duration)]
    pub queue_target: std::time::Duration,
    /// Bytes all buffered upstream responses may hold together, e.g. 24MiB (see specs/limits.md).
    #[arg(long, default_value = "24MiB", env = "API2MCP_RESPONSE_BUDGET", value_parser = parse_size)]
    pub response_budget: usize,
}

fn parse_count(text: &str) -> Result<usize, String> {
    text.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| format!("'{text}' is not a positive integer"))
}

/// `123`, `64KiB`, `32MiB`, `1GiB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| format!("'{text}' is not a size such as 32MiB"))?;
    let factor: usize = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("unknown unit '{other}' (use B, KiB, MiB or GiB)")),
    };
    number.checked_mul(factor).filter(|n| *n > 0).ok_or_else(|| format!("'{text}' is not a usable size"))
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::mapping::duration::DurationSpec::parse(text).map(|d| d.0)
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn serve_sheds_at_the_documented_default_queue_target() {
        let cli = Cli::try_parse_from(["api2mcp", "serve", "--spec", "openapi.yaml"]).unwrap();
        let Command::Serve { run, .. } = cli.command else { panic!("not serve") };
        assert_eq!(run.queue_target, crate::mcp::http::DEFAULT_QUEUE_TARGET);
    }
}
