//! The process-wide monitor under the seed's names.

use std::time::Duration;

#[test]
fn global_monitor_lifecycle() {
    let _serial = crate::serial();
    let monitor = mem_monitor::start_memory_monitoring().unwrap();
    assert!(monitor.is_running());
    assert!(std::ptr::eq(monitor, mem_monitor::get_memory_monitor()));
    std::thread::sleep(Duration::from_millis(20));
    let stats = mem_monitor::get_memory_stats().unwrap();
    assert!(stats.process_rss_bytes > 0);
    assert!(stats.system_used_percent > 0.0 && stats.system_used_percent <= 100.0);
    mem_monitor::stop_memory_monitoring();
    assert!(!monitor.is_running());
    // Still answers when stopped, with a fresh sample.
    assert!(mem_monitor::get_memory_stats().unwrap().process_rss_bytes > 0);
}
