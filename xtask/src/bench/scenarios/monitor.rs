//! The monitor's own costs: one sample, and the sampling thread's overhead on a workload.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;

use super::arg;

pub fn sample_cost() -> anyhow::Result<serde_json::Value> {
    // Warm the file handles, then time many samples.
    mem_monitor::memory_stats()?;
    let n = 20_000u32;
    let start = Instant::now();
    for _ in 0..n {
        black_box(mem_monitor::memory_stats()?);
    }
    let per_sample_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    Ok(json!({ "per_sample_us": per_sample_us, "samples": n }))
}

/// A CPU- and allocation-bound workload, timed without and with a monitor sampling every 10 ms.
pub fn overhead(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let rounds: u32 = arg(args, "--rounds")?.parse()?;
    let work = || {
        let start = Instant::now();
        let mut acc = 0u64;
        for i in 0..rounds {
            let v: Vec<u64> = (0..4096u64)
                .map(|x| x.wrapping_mul(u64::from(i) | 1))
                .collect();
            acc = acc.wrapping_add(v.iter().sum::<u64>());
        }
        black_box(acc);
        start.elapsed()
    };
    // Interleave to share the machine's noise between both arms; keep the best of three.
    let mut plain = Duration::MAX;
    let mut monitored = Duration::MAX;
    let monitor = mem_monitor::MemoryMonitor::builder()
        .interval(Duration::from_millis(10))
        .build()?;
    for _ in 0..3 {
        plain = plain.min(work());
        monitor.start()?;
        monitored = monitored.min(work());
        monitor.stop();
    }
    Ok(json!({
        "plain_ms": plain.as_secs_f64() * 1e3,
        "monitored_ms": monitored.as_secs_f64() * 1e3,
        "overhead_percent": (monitored.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0,
    }))
}
