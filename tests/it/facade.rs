//! The facade re-exports what each feature promises.

#[test]
fn facade_reexports_monitor() {
    let stats = membound::monitor::get_memory_stats().unwrap();
    assert!(stats.system_total_bytes > 0);
}
