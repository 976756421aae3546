//! CPU time of a process from `/proc/PID/stat`, shared by the benchmark examples (`audit_line_cost`,
//! `limiter_cost`, `load`) through `#[path]`: not an example of its own.

/// User + system CPU seconds of `pid` (`"self"` for this process, all threads): `/proc/PID/stat`
/// fields 14 and 15; 0 when the process is gone.
pub fn cpu_seconds_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (which may hold spaces): field 3 is index 0, so 14 and 15 are 11 and 12.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    let field = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (field(11) + field(12)) / clock_ticks_per_second()
}

/// User + system CPU seconds of this process.
#[allow(dead_code)] // `load` measures the server, not itself
pub fn cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}
