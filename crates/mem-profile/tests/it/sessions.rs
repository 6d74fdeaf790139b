use std::hint::black_box;
use std::time::{Duration, Instant};

use mem_profile::{
    LeakBasis, MemoryProfiler, QuickMemoryProfiler, get_memory_profiler, measure, profile_context,
    profile_function,
};

const MIB: usize = 1 << 20;

#[test]
fn rss_leak_is_detected_without_the_tracking_allocator() {
    let _s = crate::serial();
    let p = MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(40))
        .build()
        .unwrap();
    let mut kept = Vec::new();
    p.start_profiling("rss-leak").unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        kept.push(black_box(vec![1u8; MIB]));
        std::thread::sleep(Duration::from_millis(10));
    }
    let truth = kept.len() as f64 / start.elapsed().as_secs_f64() * 3600.0;
    let r = p.stop_profiling("rss-leak").unwrap();
    assert_eq!(r.leak_basis, LeakBasis::Rss);
    assert!(r.heap.is_none());
    assert!(r.memory_leak_detected, "{}", r.summary());
    let err = (r.leak_rate_mb_per_hour - truth).abs() / truth;
    assert!(err < 0.25, "{} vs {truth}", r.leak_rate_mb_per_hour);
    drop(kept);
}

#[test]
fn rss_churn_is_not_a_leak() {
    let _s = crate::serial();
    let p = MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(30))
        .build()
        .unwrap();
    p.start_profiling("rss-churn").unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) {
        let big = black_box(vec![2u8; 40 * MIB]);
        drop(big);
        std::thread::sleep(Duration::from_millis(7));
    }
    let r = p.stop_profiling("rss-churn").unwrap();
    assert!(!r.memory_leak_detected, "{}", r.summary());
}

#[test]
fn measure_without_tracking_says_so() {
    let (v, m) = measure(|| vec![0u8; 1024]);
    assert_eq!(v.len(), 1024);
    assert!(!m.tracked);
    assert_eq!(m.allocated_bytes, 0);
    assert!(mem_profile::heap_stats().is_none());
}

#[profile_function(name = "it::sessions::work")]
fn work(n: usize) -> usize {
    black_box(vec![1u8; n]).len()
}

#[test]
fn context_guard_and_function_calls_land_in_the_session() {
    let _s = crate::serial();
    get_memory_profiler()
        .set_snapshot_interval(Duration::from_millis(5))
        .unwrap();
    let guard = profile_context("ctx").unwrap();
    // A second context of the same name runs side by side under another id.
    let inner = profile_context("ctx").unwrap();
    assert_ne!(inner.session_id(), guard.session_id());
    for _ in 0..4 {
        work(MIB);
    }
    drop(inner);
    let r = guard.finish().unwrap();
    let f = r
        .functions
        .iter()
        .find(|f| f.name == "it::sessions::work")
        .expect("function in the session");
    assert_eq!(f.calls, 4);
    assert!(r.snapshots.len() >= 2);
    assert!(get_memory_profiler().last_result("ctx").is_some());
}

#[test]
fn quick_context_without_tracking_uses_rss() {
    // It allocates 8 MiB: not while another test reads this process's RSS series.
    let _s = crate::serial();
    let ctx = QuickMemoryProfiler::quick_context("rss");
    let v = black_box(vec![9u8; 8 * MIB]);
    let r = ctx.finish();
    assert!(!r.heap.tracked);
    assert!(r.peak_mb >= r.memory_change_mb);
    assert_eq!(r.name, "rss");
    drop(v);
}

#[test]
fn rss_step_that_stays_flat_is_not_a_leak() {
    let _s = crate::serial();
    let p = MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(30))
        .build()
        .unwrap();
    p.start_profiling("rss-step").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let big = black_box(vec![5u8; 150 * MIB]);
    std::thread::sleep(Duration::from_millis(1200));
    let r = p.stop_profiling("rss-step").unwrap();
    // Only the peak is certain: memory freed by earlier tests may be trimmed meanwhile.
    assert!(r.peak_memory_mb > 150.0, "{}", r.summary());
    assert!(!r.memory_leak_detected, "{}", r.summary());
    drop(big);
}
