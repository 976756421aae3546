//! Search quality and latency of discovery mode's `search_tools` on real specs, from the committed
//! query sets in `bench/queries/*.tsv` (user-phrased queries and the operations they mean): for each
//! spec the main set (`<spec>.tsv`) and a held-out set (`<spec>-holdout.tsv`) written before the
//! ranking was tuned on the main set, and a second one (`<spec>-fresh.tsv`) written later, before
//! another round of ranking work; neither is tuned against. Also prints how long the first search
//! waits for the index to be built (documents and index, once per catalogue).
//! Run: `bench/search` (a release build); prints the table BENCHMARKS.md records.
//! `--verbose` lists every miss with the hits returned.

use std::time::Instant;

use api2mcp::load::{ConfigSource, ProcessEnvironment};

const SETS: [(&str, &str); 5] = [
    ("github", "github-api.github.com.v3.json"),
    ("stripe", "stripe.v3.yaml"),
    ("digitalocean", "digitalocean.v3/DigitalOcean-public.v2.yaml"),
    ("discord", "discord.v31.json"),
    ("slack", "slack-web.v2.json"),
];

#[tokio::main]
async fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let verbose = arguments.iter().any(|a| a == "--verbose");
    // `--query TEXT`: the ten best hits for one query on each spec, with their scores.
    let probe = arguments.iter().position(|a| a == "--query").and_then(|i| arguments.get(i + 1)).cloned();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("| spec | query set | tools | queries | hit@1 | hit@3 | median latency | p99 latency |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (set, spec) in SETS {
        let spec_path = root.join("../shared/specs").join(spec);
        let source = ConfigSource::Spec { spec: spec_path.display().to_string(), base_url: None };
        let prepared = api2mcp::pipeline::prepare(&source, &ProcessEnvironment).await;
        let catalogue = prepared.catalogue().expect("the spec compiles");
        let view = catalogue.view(None).expect("a main view");
        let started = Instant::now();
        let index = view.search_index(&catalogue.tools).expect("zero-config uses discovery on a large spec");
        let build = started.elapsed();
        if let Some(probe) = &probe {
            for hit in index.search(probe, 10, |_| true) {
                let tool = &catalogue.tools[view.discovered[hit.document]];
                println!(
                    "{set} {:8.3} {} ({})",
                    hit.score,
                    tool.source.operation_id.as_deref().unwrap_or(""),
                    tool.description.lines().next().unwrap_or("")
                );
            }
            continue;
        }
        for query_set in [set.to_string(), format!("{set}-holdout"), format!("{set}-fresh")] {
            // DigitalOcean, Discord and Slack have a held-out set only (`*-fresh.tsv`): nothing was tuned on them.
            let Ok(queries) = std::fs::read_to_string(root.join(format!("bench/queries/{query_set}.tsv"))) else {
                continue;
            };
            let (mut hit1, mut hit3, mut total) = (0, 0, 0);
            let mut latencies = Vec::new();
            for line in queries.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
                let (query, expected) = line.split_once('\t').expect("query<TAB>operations");
                let expected: Vec<&str> = expected.split(',').map(str::trim).collect();
                let mut hits = Vec::new();
                for _ in 0..50 {
                    let started = Instant::now();
                    hits = index.search(query, 3, |_| true);
                    latencies.push(started.elapsed());
                }
                let ids: Vec<&str> = hits
                    .iter()
                    .map(|hit| {
                        catalogue.tools[view.discovered[hit.document]].source.operation_id.as_deref().unwrap_or("")
                    })
                    .collect();
                total += 1;
                if ids.first().is_some_and(|id| expected.contains(id)) {
                    hit1 += 1;
                }
                if ids.iter().any(|id| expected.contains(id)) {
                    hit3 += 1;
                } else if verbose {
                    println!("MISS {query_set}: {query:?} expected {expected:?} got {ids:?}");
                }
                if verbose
                    && !ids.first().is_some_and(|id| expected.contains(id))
                    && ids.iter().any(|id| expected.contains(id))
                {
                    println!("not first {query_set}: {query:?} expected {expected:?} got {ids:?}");
                }
            }
            latencies.sort();
            let median = latencies[latencies.len() / 2];
            let p99 = latencies[latencies.len() * 99 / 100];
            println!(
                "| {spec} | {query_set} | {} | {total} | {:.2} | {:.2} | {:.0} µs | {:.0} µs |",
                view.discovered.len(),
                hit1 as f64 / total as f64,
                hit3 as f64 / total as f64,
                median.as_secs_f64() * 1e6,
                p99.as_secs_f64() * 1e6
            );
        }
        println!("| {spec} | index build (first search) | {:.0} ms |", build.as_secs_f64() * 1e3);
    }
}
