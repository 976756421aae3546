//! Token cost of two realistic upstream responses, raw vs shaped by the example mappings in `examples/`.
//! Run: `cargo run --release --example token_savings` (numbers recorded in BENCHMARKS.md).

#[path = "../bench/token_data.rs"]
mod token_data;

#[tokio::main]
async fn main() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    println!("| response | mapping | raw tokens | shaped tokens | saved |");
    println!("|---|---|---:|---:|---:|");
    let measured = token_data::measure(&examples).await;
    for m in &measured {
        println!(
            "| {} | `examples/{}` | {} | {} | {:.1}% |",
            m.name,
            m.mapping,
            m.raw_tokens(),
            m.shaped_tokens(),
            m.saving() * 100.0
        );
    }
    println!(
        "\ntokens ≈ bytes / 4; raw = the upstream body as compact JSON; shaped = the result text the agent reads."
    );
    for m in &measured {
        let start: String = m.shaped_text.chars().take(400).collect();
        println!("\n{} (start of the shaped text):\n{start}…", m.name);
    }
}
