//! Token cost of `tools/list` results, for `bench/run`: reads files holding `api2mcp tools --json`
//! output, and prints per file the tools, the bytes of the compact `{"tools": [...]}` object, bytes / 4
//! (api2mcp's own estimate) and the real token counts of the cl100k and o200k encodings.
//!
//! Usage: `cargo run --release --example tools_list_tokens -- FILE...`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cl100k = tiktoken_rs::cl100k_base()?;
    let o200k = tiktoken_rs::o200k_base()?;
    println!("{:<48} {:>6} {:>10} {:>9} {:>9} {:>9}", "file", "tools", "bytes", "bytes/4", "cl100k", "o200k");
    for path in std::env::args().skip(1) {
        let output: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let tools = output.get("tools").cloned().unwrap_or_default();
        let count = tools.as_array().map_or(0, Vec::len);
        let list = serde_json::json!({ "tools": tools }).to_string();
        let name = std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        println!(
            "{name:<48} {count:>6} {:>10} {:>9} {:>9} {:>9}",
            list.len(),
            list.len().div_ceil(4),
            cl100k.encode_ordinary(&list).len(),
            o200k.encode_ordinary(&list).len()
        );
    }
    Ok(())
}
