//! The `api2mcp` binary: parses the command line and hands over to [`api2mcp::app`].
//! Exit codes: 0 success, 78 configuration error (EX_CONFIG), 1 runtime failure.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = api2mcp::cli::Cli::parse();
    api2mcp::body::return_large_buffers_to_the_os();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::from(1);
        }
    };
    // Outside the runtime: the trace exporter runs on its own thread with a blocking client.
    let telemetry = api2mcp::telemetry::init();
    let code = runtime.block_on(api2mcp::app::run(cli));
    telemetry.shutdown();
    code
}
