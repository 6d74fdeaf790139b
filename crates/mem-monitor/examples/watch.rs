//! Watches memory for a moment while allocating, and prints every level change.
//!
//! Run with `cargo run -p mem-monitor --example watch`.
#![expect(clippy::print_stdout, reason = "an example shows its results")]

use std::time::Duration;

use mem_monitor::{MIB, MemoryMonitor, Thresholds};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let baseline = mem_monitor::memory_stats()?;
    println!(
        "start: {:.1} MB resident, system {:.1} % used, cgroup limit {:?} MB, PSI some {:?}",
        baseline.process_mb(),
        baseline.system_used_percent,
        baseline.cgroup_limit_mb(),
        baseline.psi_some_avg10
    );

    // Thresholds just above the current usage, so the allocation below crosses them.
    let thresholds = Thresholds {
        process_medium_bytes: baseline.process_rss_bytes + 32 * MIB,
        process_high_bytes: baseline.process_rss_bytes + 96 * MIB,
        ..Thresholds::default()
    };
    let monitor = MemoryMonitor::builder()
        .interval(Duration::from_millis(10))
        .thresholds(thresholds)
        .build()?;
    let events = monitor.subscribe();
    monitor.start()?;

    let mut blocks = Vec::new();
    for _ in 0..8 {
        let mut block = vec![0u8; 16 * MIB as usize];
        block.iter_mut().step_by(4096).for_each(|b| *b = 1);
        blocks.push(block);
        std::thread::sleep(Duration::from_millis(30));
    }
    drop(blocks);
    std::thread::sleep(Duration::from_millis(50));
    monitor.stop();

    for event in events.try_iter() {
        println!(
            "{} -> {} at {:.1} MB",
            event.from,
            event.to,
            event.stats.process_mb()
        );
    }
    if let Some(peak) = monitor.peak() {
        println!(
            "peak: {:.1} MB over {} samples",
            peak.process_mb(),
            monitor.history().len()
        );
    }
    Ok(())
}
