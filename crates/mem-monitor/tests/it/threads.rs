//! Start/stop leaves no thread behind, and level changes reach subscribers from the thread.

use std::time::Duration;

use mem_monitor::{MemoryMonitor, PressureLevel, Thresholds};

/// Names of this process's threads, from procfs.
fn monitor_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim() == "mem-monitor")
                })
                .count()
        })
        .unwrap_or(0)
}

/// Whether the sampling thread's procfs entry goes away. After `join` returns, the kernel may
/// still list the exited task for a moment, so this polls (bounded) instead of reading once.
fn monitor_threads_gone() -> bool {
    (0..500).any(|_| {
        if monitor_threads() == 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
        false
    })
}

#[test]
fn start_stop_leaves_no_thread_and_publishes_from_thread() {
    let _serial = crate::serial();
    // System thresholds out of reach, so the level starts at Low whatever else runs on the
    // machine, and only the process thresholds set below can move it.
    let out_of_reach = Thresholds {
        system_medium_percent: f64::MAX,
        system_high_percent: f64::MAX,
        ..Thresholds::default()
    };
    let monitor = MemoryMonitor::builder()
        .interval(Duration::from_millis(5))
        .thresholds(out_of_reach)
        .build()
        .unwrap();
    let events = monitor.subscribe();
    monitor.start().unwrap();
    if cfg!(target_os = "linux") {
        // The thread names itself once it runs; give it a moment.
        let named = (0..2000).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            monitor_threads() >= 1
        });
        assert!(named, "the sampling thread runs after start()");
    }
    // Thresholds just below the current usage: the sampling thread must report High.
    let rss = monitor.current_stats().unwrap().process_rss_bytes;
    monitor
        .set_thresholds(Thresholds {
            process_medium_bytes: rss / 3,
            process_high_bytes: rss / 2,
            ..out_of_reach
        })
        .unwrap();
    let event = events
        .recv_timeout(Duration::from_secs(30))
        .expect("a level change from the thread");
    assert_eq!(event.from, PressureLevel::Low);
    assert_eq!(event.to, PressureLevel::High);
    assert!(event.stats.is_high_pressure());

    monitor.stop();
    assert!(!monitor.is_running());
    if cfg!(target_os = "linux") {
        assert!(
            monitor_threads_gone(),
            "the sampling thread is gone after stop()"
        );
    }
    // Restart and drop: dropping joins the thread too.
    monitor.start().unwrap();
    drop(monitor);
    if cfg!(target_os = "linux") {
        assert!(
            monitor_threads_gone(),
            "the sampling thread is gone after drop"
        );
    }
}
