//! The monitor against real allocations.

use mem_monitor::{memory_stats, MIB};

#[test]
fn touched_allocation_raises_rss() {
    let before = memory_stats().unwrap().process_rss_bytes;
    let size = 300 * MIB as usize;
    let mut block = vec![0u8; size];
    // Touch every page so it becomes resident.
    for i in (0..size).step_by(4096) {
        block[i] = (i % 251) as u8 + 1;
    }
    let during = memory_stats().unwrap().process_rss_bytes;
    std::hint::black_box(&block);
    let grown = during.saturating_sub(before);
    assert!(grown >= 280 * MIB, "RSS grew by only {} MiB", grown / MIB);
    assert!(grown <= 340 * MIB, "RSS grew by {} MiB for a 300 MiB block", grown / MIB);
    drop(block);
}

#[test]
fn facade_reexports_monitor() {
    let stats = memkit::monitor::get_memory_stats().unwrap();
    assert!(stats.system_total_bytes > 0);
}
