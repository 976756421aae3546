//! The load generator of `bench/load`: an echo upstream, a closed-loop capacity probe and an
//! open-loop driver that checks every answer is the answer to its own request.
//!
//! - `load upstream [ITEMS]`: serves `GET /echo?id=X` → `{"id": "X"}` on 127.0.0.1:0 and prints its
//!   port; with ITEMS, the answer also carries that many filler objects (`"items": [...]`), which a
//!   tool's `output.fields` drops: work for api2mcp (parse and shape) that costs the upstream and
//!   the client nothing (`bench/overload`).
//! - `load capacity URL SECONDS CONCURRENCY`: calls/s with CONCURRENCY calls always in flight.
//! - `load drive URL RATE SECONDS PID`: sends RATE × SECONDS `tools/call`s of `echo`, each on its
//!   schedule whatever the answers (open loop), each with its own JSON-RPC id and its own `id`
//!   argument, and prints one JSON line: how each call ended, latencies from its scheduled time,
//!   and the peak resident memory and CPU per call of process PID (the api2mcp server).
//!
//! Refusals are counted apart: `rate_limited` and `upstream_busy` tool errors, HTTP 429/503.
//! A call is `ok` only when the JSON-RPC id and the upstream's echo are both its own; an answer
//! carrying another call's id or echo is `misrouted`. A call without an answer within 10 s is
//! `lost`.

#[path = "support/proc_stat.rs"]
mod proc_stat;
use proc_stat::cpu_seconds_of;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};

const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match args.first().map(String::as_str) {
        Some("upstream") if args.len() <= 2 => {
            runtime.block_on(upstream(args.get(1).map_or(0, |items| number(items) as usize)))
        }
        Some("capacity") if args.len() == 4 => {
            let rate = runtime.block_on(capacity(&args[1], number(&args[2]), number(&args[3]) as usize));
            println!("{rate:.0}");
        }
        Some("drive") if args.len() == 5 => {
            let report = runtime.block_on(drive(&args[1], number(&args[2]), number(&args[3]), &args[4]));
            println!("{report}");
        }
        _ => {
            eprintln!(
                "usage: load upstream [ITEMS] | load capacity URL SECONDS CONCURRENCY | load drive URL RATE SECONDS PID"
            );
            std::process::exit(2);
        }
    }
}

fn number(text: &str) -> f64 {
    text.parse().unwrap_or_else(|_| panic!("not a number: {text}"))
}

async fn upstream(items: usize) {
    // The filler is serialised once; each answer only splices its id in front of it.
    let filler: Vec<Value> =
        (0..items).map(|n| json!({"n": n, "name": format!("item {n}"), "tags": ["a", "b"], "ok": true})).collect();
    let filler = if items == 0 { String::new() } else { format!(",\"items\":{}", Value::from(filler)) };
    let filler: Arc<str> = filler.into();
    let app = Router::new().route(
        "/echo",
        get(move |Query(query): Query<std::collections::HashMap<String, String>>| {
            let filler = filler.clone();
            async move {
                let id = Value::from(query.get("id").cloned());
                ([("content-type", "application/json")], format!("{{\"id\":{id}{filler}}}"))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().expect("the bound address").port());
    axum::serve(listener, app).await.expect("serve");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(ANSWER_TIMEOUT)
        .pool_max_idle_per_host(4096)
        .build()
        .expect("an HTTP client")
}

/// How one call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    Ok,
    /// A `rate_limited` tool error (its own id).
    RateLimited,
    /// An `upstream_busy` tool error: the upstream's bulkhead was full (nothing was sent).
    Busy,
    /// HTTP 429 or 503 (shed before any tool ran).
    Shed,
    /// Another tool error, or another HTTP status (what it was).
    Other(String),
    /// No answer within the timeout, or the connection failed.
    Lost,
    /// An answer that belongs to another call.
    Misrouted,
}

async fn one_call(http: &reqwest::Client, url: &str, call: u64) -> Ended {
    let id = format!("r-{call}");
    let request = json!({"jsonrpc": "2.0", "id": call, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"id": id}}});
    let sent = http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(request.to_string())
        .send()
        .await;
    let Ok(answer) = sent else { return Ended::Lost };
    let status = answer.status().as_u16();
    let Ok(body) = answer.text().await else { return Ended::Lost };
    match status {
        200 => {}
        429 | 503 => return Ended::Shed,
        _ => return Ended::Other(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>())),
    }
    let Ok(answer) = serde_json::from_str::<Value>(&body) else { return Ended::Other(format!("not JSON: {body}")) };
    if answer["id"] != call {
        return Ended::Misrouted;
    }
    let result = &answer["result"];
    match result["isError"].as_bool() {
        Some(false) if result["structuredContent"]["id"] == id.as_str() => Ended::Ok,
        Some(false) => Ended::Misrouted,
        Some(true) if result["structuredContent"]["code"] == "rate_limited" => Ended::RateLimited,
        Some(true) if result["structuredContent"]["code"] == "upstream_busy" => Ended::Busy,
        _ => Ended::Other(format!("tool error: {}", result["structuredContent"])),
    }
}

async fn capacity(url: &str, seconds: f64, concurrency: usize) -> f64 {
    let http = client();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (http, url) = (http.clone(), url.to_string());
        workers.push(tokio::spawn(async move {
            let mut done = 0u64;
            let mut call = worker as u64 * 1_000_000_000;
            while Instant::now() < end {
                call += 1;
                if one_call(&http, &url, call).await == Ended::Ok {
                    done += 1;
                }
            }
            done
        }));
    }
    let mut done = 0;
    for worker in workers {
        done += worker.await.expect("a capacity worker");
    }
    done as f64 / seconds
}

/// `VmRSS` of `pid` in KiB.
fn resident_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile_ms(values: &mut [Duration], fraction: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort();
    let index = ((values.len() as f64 * fraction) as usize).min(values.len() - 1);
    values[index].as_secs_f64() * 1000.0
}

async fn drive(url: &str, rate: f64, seconds: f64, pid: &str) -> Value {
    let http = client();
    let calls = (rate * seconds).round() as u64;
    // Memory is sampled every 100 ms while the load runs (bounded by the load's own end).
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (running, pid) = (running.clone(), pid.to_string());
        tokio::spawn(async move {
            let mut peak = resident_kib(&pid).unwrap_or(0);
            while running.load(Ordering::Relaxed) {
                peak = peak.max(resident_kib(&pid).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let cpu_before = cpu_seconds_of(pid);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(calls as usize);
    for call in 0..calls {
        let scheduled = start + Duration::from_secs_f64(call as f64 / rate);
        tokio::time::sleep_until(scheduled).await;
        let (http, url) = (http.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let ended = one_call(&http, &url, call).await;
            (ended, scheduled.elapsed())
        }));
    }
    let sending = start.elapsed();
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let (mut ok_latency, mut refused_latency) = (Vec::new(), Vec::new());
    let mut other_examples: Vec<String> = Vec::new();
    for task in tasks {
        let (ended, latency) = task.await.expect("a call task");
        let name = match &ended {
            Ended::Other(what) => {
                if other_examples.len() < 3 && !other_examples.contains(what) {
                    other_examples.push(what.clone());
                }
                "Other".to_string()
            }
            ended => format!("{ended:?}"),
        };
        *counts.entry(name).or_default() += 1;
        match ended {
            Ended::Ok => ok_latency.push(latency),
            Ended::RateLimited | Ended::Busy | Ended::Shed => refused_latency.push(latency),
            _ => {}
        }
    }
    let cpu = (cpu_seconds_of(pid) - cpu_before).max(0.0);
    running.store(false, Ordering::Relaxed);
    let peak_kib = sampler.await.unwrap_or(0);
    let count = |name: &str| counts.get(name).copied().unwrap_or(0);
    json!({
        "offered": calls,
        "rate": rate,
        "sent_in_s": (sending.as_secs_f64() * 100.0).round() / 100.0,
        "ok": count("Ok"),
        "rate_limited": count("RateLimited"),
        "busy": count("Busy"),
        "shed": count("Shed"),
        "other": count("Other"),
        "other_examples": other_examples,
        "lost": count("Lost"),
        "misrouted": count("Misrouted"),
        "ok_p50_ms": percentile_ms(&mut ok_latency, 0.5),
        "ok_p99_ms": percentile_ms(&mut ok_latency, 0.99),
        "refused_p50_ms": percentile_ms(&mut refused_latency, 0.5),
        "refused_p99_ms": percentile_ms(&mut refused_latency, 0.99),
        "server_peak_rss_mib": peak_kib / 1024,
        "server_cpu_ms_per_call": cpu * 1000.0 / calls.max(1) as f64,
    })
}
