//! Giving the operating system back the memory a finished phase freed: the only `unsafe` code of
//! the crate (`unsafe_code = "deny"` in Cargo.toml, allowed here alone).
//!
//! Loading and compiling a spec needs several times the spec's size for a moment (its values, then
//! the catalogue built from them); once they are let go, glibc keeps their pages for reuse, so a
//! server stayed resident at that peak for as long as it ran, and what it built next (argument
//! checkers, search indexes, connections) came on top (issue 17 item 10). Other allocators return
//! freed memory themselves.

/// Returns the free pages of every glibc arena to the system (`malloc_trim(0)`); whether any
/// were. Walks every arena under its lock: call it at a quiet point (after startup or a reload),
/// not per request.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn return_freed_memory() -> bool {
    // SAFETY: `malloc_trim` takes no pointers and touches only glibc's own free lists, which glibc
    // locks while it runs, as it does for every allocation.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Elsewhere (musl, macOS, Windows) the allocator has no such call and nothing is done.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_freed_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    /// Freed memory goes back: after a large number of small allocations is freed, resident memory
    /// falls by most of it.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_small_allocations_are_returned() {
        let resident = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|line| line.starts_with("RssAnon:")).unwrap();
            line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
        };
        // Small boxes interleaved with a few kept ones, so the freed memory is not at the top of
        // the heap, where glibc returns it by itself.
        let mut kept = Vec::new();
        let mut freed: Vec<Box<[u8; 200]>> = Vec::new();
        for index in 0..200_000 {
            let boxed = Box::new([index as u8; 200]);
            if index % 1000 == 0 { kept.push(boxed) } else { freed.push(boxed) }
        }
        let before = resident();
        drop(freed);
        super::return_freed_memory();
        let after = resident();
        assert!(before - after > 20_000, "RssAnon {before} KiB -> {after} KiB");
        assert_eq!(kept.len(), 200);
    }
}
