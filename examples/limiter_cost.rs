//! Cost of one rate-limit decision (`resilience::limits::Limiter::admit`), for `bench/load`: in
//! process (governor) and shared through Redis (one Lua script per decision), compared with one
//! Redis PING on the same kind of connection. The catalogue is `bench/load.openapi.yaml` with three
//! limits that apply to every call (global `total`, global `per_caller`, the tool's `per_caller`),
//! so each decision checks three buckets; callers cycle over 1,000 identities. The rates are high
//! enough that every call is admitted (the work of a refusal is the same).
//!
//! `cargo run --release --example limiter_cost [redis://127.0.0.1:PORT/0]`

#[path = "support/proc_stat.rs"]
mod proc_stat;
use proc_stat::cpu_seconds;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use api2mcp::resilience::limits::{Identity, Limiter};

const LOCAL_DECISIONS: u32 = 1_000_000;
const REDIS_DECISIONS: u32 = 20_000;
const CALLERS: usize = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(run(std::env::args().nth(1)));
}

async fn run(redis_url: Option<String>) {
    let identities: Vec<Identity> = (0..CALLERS)
        .map(|n| Identity { caller: Some(format!("agent-{n}")), client: Some("127.0.0.1".into()) })
        .collect();

    let unlimited = limiter(None, false).await;
    let (wall, cpu) = decide(&unlimited, &identities, LOCAL_DECISIONS).await;
    println!("no limits configured:  {:>8.3} µs wall, {:>8.3} µs CPU per decision", wall, cpu);
    let local = limiter(None, true).await;
    let (wall, cpu) = decide(&local, &identities, LOCAL_DECISIONS).await;
    println!("in process (governor): {:>8.3} µs wall, {:>8.3} µs CPU per decision (3 buckets)", wall, cpu);

    let Some(url) = redis_url else { return };
    let shared = limiter(Some(&url), true).await;
    let client = deadpool_redis::redis::Client::open(url.as_str()).expect("a redis URL");
    let mut connection = client.get_multiplexed_async_connection().await.expect("redis answers");
    // The warm-up inside `decide` runs scripts too: count from after it.
    let (wall, cpu, (calls, usec)) = {
        let before = script_calls(&mut connection).await;
        let (wall, cpu) = decide(&shared, &identities, REDIS_DECISIONS).await;
        let after = script_calls(&mut connection).await;
        (wall, cpu, (after.0 - before.0 - CALLERS as u64, after.1 - before.1))
    };
    let ping_wall = ping(&mut connection, REDIS_DECISIONS).await;
    println!(
        "shared in Redis:       {:>8.3} µs wall, {:>8.3} µs CPU per decision (3 buckets); \
         {:.2} scripts per decision, {:.1} µs each inside Redis",
        wall,
        cpu,
        calls as f64 / f64::from(REDIS_DECISIONS),
        usec / calls.max(1) as f64
    );
    println!("one Redis PING:        {:>8.3} µs wall (round trip on the same host)", ping_wall);
}

/// A limiter for the bench catalogue, with limits that never refuse (or none at all).
async fn limiter(redis_url: Option<&str>, limits: bool) -> Limiter {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::Builder::new().prefix("api2mcp-limiter-cost-").tempdir().expect("a temporary directory");
    let mut server_limits = Vec::new();
    let mut mapping = String::from("server:\n");
    if let Some(url) = redis_url {
        mapping.push_str(&format!("  redis_url: {url}\n"));
        server_limits.push("redis_timeout: 1s");
    }
    if limits {
        server_limits.extend(["total: 4000000000/s", "per_caller: 1000000/s"]);
    }
    mapping.push_str(&format!("  limits: {{{}}}\n", server_limits.join(", ")));
    mapping.push_str(&format!(
        "upstreams:\n  load:\n    spec: {}\n    base_url: http://127.0.0.1:9\n",
        root.join("bench/load.openapi.yaml").display()
    ));
    if limits {
        mapping.push_str("    tools:\n      echo:\n        settings: {limits: {per_caller: 1000000/s}}\n");
    }
    let path = dir.path().join("api2mcp.yaml");
    std::fs::write(&path, mapping).expect("write the mapping");
    let prepared = api2mcp::pipeline::prepare(&api2mcp::load::ConfigSource::Mapping(path), &HashMap::new()).await;
    dir.close().expect("the temporary directory removed");
    assert!(!prepared.diagnostics.has_errors(), "{}", api2mcp::pipeline::render_all(&prepared));
    let catalogue = Arc::new(prepared.compiled.expect("the bench catalogue compiles").catalogue);
    Limiter::new(&catalogue).expect("a limiter")
}

/// Wall and CPU microseconds per decision, after a warm-up.
async fn decide(limiter: &Limiter, identities: &[Identity], decisions: u32) -> (f64, f64) {
    for identity in identities {
        limiter.admit(0, 0, 1, identity).await.expect("admitted");
    }
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    for n in 0..decisions {
        let identity = &identities[n as usize % identities.len()];
        limiter.admit(0, 0, 1, identity).await.expect("admitted");
    }
    let per = |seconds: f64| seconds * 1e6 / f64::from(decisions);
    (per(wall.elapsed().as_secs_f64()), per(cpu_seconds() - cpu))
}

async fn ping(connection: &mut deadpool_redis::redis::aio::MultiplexedConnection, count: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..count {
        let _: String = deadpool_redis::redis::cmd("PING").query_async(connection).await.expect("PONG");
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(count)
}

/// Lua script runs in Redis so far (`EVAL` and `EVALSHA` in `INFO commandstats`) and the
/// microseconds Redis spent in them.
async fn script_calls(connection: &mut deadpool_redis::redis::aio::MultiplexedConnection) -> (u64, f64) {
    let info: String =
        deadpool_redis::redis::cmd("INFO").arg("commandstats").query_async(connection).await.expect("INFO");
    let (mut calls, mut usec) = (0, 0.0);
    for line in info.lines() {
        let Some(stats) = line.strip_prefix("cmdstat_eval:").or_else(|| line.strip_prefix("cmdstat_evalsha:")) else {
            continue;
        };
        for pair in stats.split(',') {
            match pair.split_once('=') {
                Some(("calls", value)) => calls += value.parse::<u64>().unwrap_or(0),
                Some(("usec", value)) => usec += value.parse::<f64>().unwrap_or(0.0),
                _ => {}
            }
        }
    }
    (calls, usec)
}
