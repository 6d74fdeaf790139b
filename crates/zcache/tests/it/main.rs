//! zcache integration tests: one binary, modules inside. Tests that need a separate process
//! (crash, two writers, RSS, threads) re-execute this binary with `ZCACHE_IT_CHILD` set, which
//! runs the ignored `child_process_entry` test as the child's main.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    missing_docs,
    reason = "tests"
)]

mod budget;
mod child;
mod disk;
mod failures;
mod hostile;
mod kinds;
mod processes;
mod runtime;
#[cfg(feature = "redis")]
mod shared;

use std::path::Path;

use zcache::{CompressedCache, DiskPolicy};

/// A disk-backed cache on `dir` with small budgets and no cleanup thread.
pub fn disk_cache(dir: &Path, memory_mb: f64) -> CompressedCache {
    CompressedCache::builder()
        .max_memory(mem_monitor::mb_to_bytes(memory_mb))
        .enable_disk_cache(dir)
        .max_disk(64 << 20)
        .cleanup_interval(std::time::Duration::ZERO)
        .disk_policy(DiskPolicy::WriteThrough)
        .max_entry_bytes(4 << 20)
        .build()
        .unwrap()
}

/// The deterministic value of key number `i` (so any reader can check what it got).
pub fn value_of(i: u64) -> Vec<u8> {
    let mut v = format!("value {i}: ").into_bytes();
    let n = 200 + (i % 7) * 300;
    v.extend((0..n).map(|j| b"abcdefghij"[((i + j * j) % 10) as usize]));
    v
}

/// Entry files (`*.zc`) in a directory.
pub fn entry_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "zc"))
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "the body of child processes spawned by other tests"]
fn child_process_entry() {
    if let Ok(mode) = std::env::var("ZCACHE_IT_CHILD") {
        child::run(&mode);
    }
}
