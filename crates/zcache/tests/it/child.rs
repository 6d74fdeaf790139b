//! Child-process bodies, selected by `ZCACHE_IT_CHILD=<mode>:<args>`.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zcache::CompressedCache;

use crate::{disk_cache, value_of};

/// Spawns this test binary as a child running `mode`.
pub fn spawn(mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZCACHE_IT_CHILD", mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// What follows `prefix` on each line that has it (the test harness may print its own
/// "test ... " text before the child's first line).
pub fn lines_with(output: &str, prefix: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| after(l, prefix).map(str::to_owned))
        .collect()
}

/// The text after `prefix` in `line`, if present.
pub fn after<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.find(prefix)
        .and_then(|at| line.get(at + prefix.len()..))
}

pub fn run(mode: &str) {
    let (name, arg) = mode.split_once(':').unwrap_or((mode, ""));
    match name {
        "writer" => writer(Path::new(arg), 0, u64::MAX),
        "range" => {
            let mut parts = arg.splitn(3, ':');
            let from: u64 = parts.next().unwrap().parse().unwrap();
            let to: u64 = parts.next().unwrap().parse().unwrap();
            writer(Path::new(parts.next().unwrap()), from, to);
        }
        "rss" => {
            let (mb, max_len) = arg.split_once(':').unwrap();
            rss(mb.parse().unwrap(), max_len.parse().unwrap());
        }
        "threads" => threads(),
        other => panic!("unknown child mode {other}"),
    }
}

/// Writes keys `from..to` (forever when unbounded), printing `committed <i>` after each put
/// returns; also rewrites a few shared keys, always with their one true value.
fn writer(dir: &Path, from: u64, to: u64) {
    let cache = disk_cache(dir, 1.0);
    let mut out = std::io::stdout().lock();
    let mut i = from;
    while i < to {
        cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
        writeln!(out, "committed {i}").unwrap();
        out.flush().unwrap();
        let shared = i % 10;
        cache
            .put_bytes(&format!("shared{shared}"), &value_of(1_000_000 + shared))
            .unwrap();
        i += 1;
    }
}

/// Fills a cache of `budget_mb` with incompressible values of 64 B to `max_len` worth four
/// budgets and prints the RSS growth and the cache's accounting.
fn rss(budget_mb: f64, max_len: u64) {
    let before = mem_monitor::memory_stats().unwrap().process_rss_bytes;
    let cache = CompressedCache::builder()
        .max_memory(mem_monitor::mb_to_bytes(budget_mb))
        .cleanup_interval(Duration::ZERO)
        .build()
        .unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    let mut inserted = 0u64;
    let mut i = 0u64;
    while inserted < mem_monitor::mb_to_bytes(budget_mb * 4.0) {
        // Sizes from 64 B to max_len, random (incompressible) bytes.
        let len = 64 + (i * 7919 % (max_len - 63)) as usize;
        let v: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        cache.put_bytes(&format!("key-{i}"), &v).unwrap();
        inserted += len as u64;
        i += 1;
    }
    cache.run_pending_tasks();
    let after = mem_monitor::memory_stats().unwrap().process_rss_bytes;
    let s = cache.get_stats();
    println!("rss_growth {}", after.saturating_sub(before));
    println!("accounted {}", s.memory_bytes);
    println!("entries {}", s.memory_entries);
    println!("stored {}", s.memory_stored_bytes);
    drop(cache);
}

fn cleanup_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim() == "zcache-cleanup")
        })
        .count()
}

/// Prints the number of cleanup threads with three caches alive, then after dropping them.
fn threads() {
    let caches: Vec<CompressedCache> = (0..3)
        .map(|_| {
            CompressedCache::builder()
                .cleanup_interval(Duration::from_millis(5))
                .build()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    println!("alive {}", cleanup_threads());
    drop(caches);
    // Dropping joins each thread, but the kernel may list a joined thread in /proc/self/task
    // for a moment longer (join returns when the thread clears its tid, before it is reaped):
    // wait up to 2 s for the count to reach 0. A thread still running would stay counted.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut left = cleanup_threads();
    while left > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        left = cleanup_threads();
    }
    println!("after_drop {left}");
}
