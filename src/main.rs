//! The `api2mcp` binary: parses the command line and hands over to [`api2mcp::app`].
//! Exit codes: 0 success, 78 configuration error (EX_CONFIG), 1 runtime failure.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = api2mcp::cli::Cli::parse();
    // Logs go to stderr (stdout belongs to the protocol in stdio mode); RUST_LOG sets the levels.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    runtime.block_on(api2mcp::app::run(cli))
}
