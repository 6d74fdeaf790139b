//! A real, touched allocation shows up in the sampled RSS.

use mem_monitor::{MIB, memory_stats};

#[test]
fn touched_allocation_raises_rss() {
    let _serial = crate::serial();
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
    assert!(
        grown <= 340 * MIB,
        "RSS grew by {} MiB for a 300 MiB block",
        grown / MIB
    );
    drop(block);
}

#[test]
fn procfs_and_sysinfo_agree() {
    let _serial = crate::serial();
    let ours = memory_stats().unwrap();
    let (rss, total) = mem_monitor::sample_via_sysinfo().unwrap();
    assert_eq!(ours.system_total_bytes, total);
    // RSS moves between the two reads; they must still be close.
    let diff = ours.process_rss_bytes.abs_diff(rss);
    assert!(
        diff < 64 * MIB,
        "procfs {} vs sysinfo {}",
        ours.process_rss_bytes,
        rss
    );
}
