//! Leak detection on real workloads, with exact heap figures. Its own test binary: a process has
//! one global allocator.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mem_profile::{LeakBasis, MemoryProfiler, ProfileResult};

mod common;

use common::{MIB, serial};

fn profile(name: &str, work: impl FnOnce()) -> ProfileResult {
    let p = MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(40))
        .build()
        .unwrap();
    p.start_profiling(name).unwrap();
    work();
    p.stop_profiling(name).unwrap()
}

#[test]
fn steady_leak_is_detected_with_its_rate() {
    let _s = serial();
    let mut kept: Vec<Vec<u8>> = Vec::with_capacity(512);
    let mut truth = 0.0;
    let r = profile("steady", || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            kept.push(black_box(vec![1u8; MIB]));
            std::thread::sleep(Duration::from_millis(10));
        }
        // The real rate: sleeps overshoot, so count what was leaked over the time it took.
        truth = kept.len() as f64 / start.elapsed().as_secs_f64() * 3600.0;
    });
    assert_eq!(r.leak_basis, LeakBasis::Heap);
    assert!(r.memory_leak_detected, "{}", r.summary());
    let err = (r.leak_rate_mb_per_hour - truth).abs() / truth;
    assert!(
        err < 0.25,
        "rate {:.0} MB/h vs truth {truth:.0} MB/h",
        r.leak_rate_mb_per_hour
    );
    assert!(
        r.recommendations
            .iter()
            .any(|s| s.contains("Leak in `steady`")),
        "{:?}",
        r.recommendations
    );
    drop(kept);
}

#[test]
fn churn_back_to_the_same_level_is_not_a_leak() {
    let _s = serial();
    let r = profile("churn", || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            let mut batch: Vec<Vec<u8>> = (0..20).map(|i| black_box(vec![i as u8; MIB])).collect();
            batch.truncate(0);
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert!(!r.memory_leak_detected, "{}", r.summary());
    let h = r.heap.unwrap();
    assert!(h.allocated_mb > 100.0);
    assert!(
        r.recommendations
            .iter()
            .any(|s| s.contains("reuse buffers")),
        "{}",
        r.summary()
    );
}

#[test]
fn one_large_kept_allocation_is_not_a_leak() {
    let _s = serial();
    let mut big = Vec::new();
    let r = profile("step", || {
        std::thread::sleep(Duration::from_millis(400));
        big = black_box(vec![5u8; 200 * MIB]);
        std::thread::sleep(Duration::from_millis(1600));
    });
    assert!(!r.memory_leak_detected, "{}", r.summary());
    assert!(r.heap.unwrap().end_heap_mb >= 200.0);
    drop(big);
}
