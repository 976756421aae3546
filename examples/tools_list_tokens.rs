//! Token cost of `tools/list` results, for `bench/run`: reads files holding `api2mcp tools --json`
//! output, and prints per file the tools, the bytes of the compact `{"tools": [...]}` object, bytes / 4
//! (api2mcp's own estimate) and the real token counts of the cl100k and o200k encodings.
//!
//! With `--largest N`, prints instead each file's N largest tools (by compact bytes), each counted
//! as `{"tools": [tool]}`, as `tools/list` carries it.
//!
//! Usage: `cargo run --release --example tools_list_tokens -- [--largest N] FILE...`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cl100k = tiktoken_rs::cl100k_base()?;
    let o200k = tiktoken_rs::o200k_base()?;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|arg| arg == "--largest") {
        let count: usize = args.get(1).ok_or("--largest needs a count")?.parse()?;
        println!("{:<48} {:<48} {:>9} {:>9}", "file", "tool", "cl100k", "o200k");
        for path in args.split_off(2) {
            let output: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
            let file =
                std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
            let mut lists: Vec<(String, String)> = (output["tools"].as_array().into_iter().flatten())
                .map(|tool| {
                    let name = tool["name"].as_str().unwrap_or_default().to_string();
                    (name, serde_json::json!({ "tools": [tool] }).to_string())
                })
                .collect();
            lists.sort_by_key(|(_, list)| std::cmp::Reverse(list.len()));
            for (name, list) in lists.iter().take(count) {
                let (cl100k, o200k) = (cl100k.encode_ordinary(list).len(), o200k.encode_ordinary(list).len());
                println!("{file:<48} {name:<48} {cl100k:>9} {o200k:>9}");
            }
        }
        return Ok(());
    }
    println!("{:<48} {:>6} {:>10} {:>9} {:>9} {:>9}", "file", "tools", "bytes", "bytes/4", "cl100k", "o200k");
    for path in args {
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
