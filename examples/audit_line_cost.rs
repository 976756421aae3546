//! CPU cost of one audit line, for `bench/call-overhead`: installs api2mcp's own log subscriber
//! (`telemetry::init`, JSON lines, the batched writer), writes audit lines inside a request span as a
//! tool call does, and prints the process's CPU time (user + system, every thread, the writer's
//! included) per line. Run with stderr sent to /dev/null:
//! `cargo run --release --example audit_line_cost 2>/dev/null`

#[path = "support/proc_stat.rs"]
mod proc_stat;
use proc_stat::cpu_seconds;

use std::time::Duration;

const LINES: u32 = 500_000;

fn main() {
    let telemetry = api2mcp::telemetry::init();
    let span = tracing::info_span!("mcp.request", request_id = "6f1c2a9e0b7d4e31", url.path = "/mcp");
    let write = |count: u32| {
        let _entered = span.enter();
        for _ in 0..count {
            api2mcp::auth::audit_allowed(None, "get_pet", "ok", Duration::from_micros(250), ("petId", ""));
        }
    };
    write(20_000);
    let before = cpu_seconds();
    write(LINES);
    // Shutting down drops the log guard, which writes what is still buffered: the writer's work counts.
    drop(span);
    telemetry.shutdown();
    let after = cpu_seconds();
    println!(
        "audit line: {:.2} µs CPU each ({LINES} lines, JSON, batched writer)",
        (after - before) * 1e6 / f64::from(LINES)
    );
}
