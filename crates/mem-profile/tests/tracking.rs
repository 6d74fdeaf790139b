//! Exactness of the counting allocator. Its own test binary: a process has one global allocator.

use std::hint::black_box;
use std::time::Duration;

use mem_profile::{QuickMemoryProfiler, heap_stats, measure, profile_function};

mod common;

use common::{MIB, serial};

#[test]
fn live_bytes_follow_allocations_and_frees() {
    let _s = serial();
    assert!(mem_profile::is_tracking());
    let before = heap_stats().unwrap();
    let v = black_box(vec![1u8; 8 * MIB]);
    let during = heap_stats().unwrap();
    assert!(during.live_bytes >= before.live_bytes + 8 * MIB as u64 - 64 * 1024);
    assert!(during.allocations > before.allocations);
    assert!(during.peak_bytes >= during.live_bytes);
    drop(v);
    let after = heap_stats().unwrap();
    assert!(after.live_bytes + 7 * MIB as u64 <= during.live_bytes);
    // The peak lags the exact figure by at most PEAK_GRANULARITY per thread that allocates.
    let slack = 4 * mem_profile::PEAK_GRANULARITY;
    assert!(
        after.peak_bytes + slack >= before.live_bytes + 8 * MIB as u64,
        "{before:?} {during:?} {after:?}"
    );
    assert!(after.total_freed_bytes >= before.total_freed_bytes + 8 * MIB as u64);
}

#[test]
fn measure_is_exact_on_this_thread() {
    let _s = serial();
    let (kept, m) = measure(|| {
        let tmp = black_box(vec![0u8; 4 * MIB]);
        drop(tmp);
        black_box(vec![0u8; MIB])
    });
    assert!(m.tracked);
    assert_eq!(m.allocated_bytes, 5 * MIB as u64);
    assert_eq!(m.freed_bytes, 4 * MIB as u64);
    assert_eq!(m.net_bytes(), MIB as i64);
    assert_eq!(m.peak_bytes, 4 * MIB as u64);
    assert_eq!((m.allocations, m.deallocations), (2, 1));
    drop(kept);
}

#[test]
fn nested_scopes_keep_their_own_peaks() {
    let _s = serial();
    let (_, outer) = measure(|| {
        let big = black_box(vec![0u8; 3 * MIB]);
        drop(big);
        let (_, inner) = measure(|| black_box(vec![0u8; MIB]).len());
        assert_eq!(inner.peak_bytes, MIB as u64);
        assert_eq!(inner.net_bytes(), 0);
    });
    assert_eq!(outer.peak_bytes, 3 * MIB as u64);
}

#[test]
fn realloc_counts_as_traffic_not_as_new_blocks() {
    let _s = serial();
    let (v, m) = measure(|| {
        let mut v: Vec<u8> = Vec::with_capacity(1024);
        v.reserve_exact(4096);
        v
    });
    assert_eq!(m.allocations, 1);
    assert_eq!(m.allocated_bytes, 1024 + 4096);
    assert_eq!(m.freed_bytes, 1024);
    assert_eq!(m.net_bytes(), v.capacity() as i64);
}

#[test]
fn profile_function_records_exact_bytes_and_a_span() {
    let _s = serial();
    #[profile_function]
    fn keep_two_mib(out: &mut Vec<Vec<u8>>) {
        let scratch = black_box(vec![0u8; 3 * MIB]);
        drop(scratch);
        out.push(vec![1u8; 2 * MIB]);
    }
    let spans = capture::Spans::default();
    let mut out = Vec::with_capacity(4);
    tracing::subscriber::with_default(spans.clone(), || {
        for _ in 0..3 {
            keep_two_mib(&mut out);
        }
    });
    let name = concat!(module_path!(), "::keep_two_mib");
    let f = mem_profile::get_memory_profiler()
        .function(name)
        .expect("recorded");
    assert_eq!(f.calls, 3);
    assert_eq!(f.retained_bytes, 6 * MIB as i64);
    assert_eq!(f.allocated_bytes, 15 * MIB as u64);
    assert_eq!(f.max_peak_bytes, 3 * MIB as u64);
    let seen = spans.seen();
    assert_eq!(
        seen.iter().filter(|s| s.as_str() == name).count(),
        3,
        "{seen:?}"
    );
}

#[test]
fn quick_context_reports_the_heap_peak() {
    let _s = serial();
    let ctx = QuickMemoryProfiler::quick_context("peak");
    let big = black_box(vec![7u8; 16 * MIB]);
    drop(big);
    let r = ctx.finish();
    assert!(r.heap.tracked);
    assert_eq!(r.heap.peak_bytes, 16 * MIB as u64);
    assert!(r.peak_mb >= 16.0);
    assert!(r.elapsed() > Duration::ZERO);
}

#[test]
fn sessions_carry_heap_figures_when_tracked() {
    let _s = serial();
    let p = mem_profile::MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    p.start_profiling("heap").unwrap();
    let data = black_box(vec![3u8; 32 * MIB]);
    std::thread::sleep(Duration::from_millis(40));
    let r = p.stop_profiling("heap").unwrap();
    assert!(r.snapshots.iter().all(|s| s.heap_mb.is_some()));
    let h = r.heap.expect("heap summary");
    assert!(h.end_heap_mb >= h.start_heap_mb + 31.0);
    assert!(h.peak_heap_mb >= h.end_heap_mb);
    assert!(h.allocated_mb >= 32.0);
    assert!(h.retained_by_allocator_mb >= 0.0);
    assert_eq!(r.leak_basis, mem_profile::LeakBasis::Heap);
    drop(data);
}

/// A minimal subscriber that records the `function` field of `profile_function` spans.
mod capture {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Clone, Default)]
    pub struct Spans(Arc<Mutex<Vec<String>>>);

    impl Spans {
        pub fn seen(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    struct FnField(Option<String>);
    impl Visit for FnField {
        fn record_str(&mut self, f: &Field, v: &str) {
            if f.name() == "function" {
                self.0 = Some(v.to_owned());
            }
        }
        fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
            if f.name() == "function" {
                self.0 = Some(format!("{v:?}"));
            }
        }
    }

    impl Subscriber for Spans {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, a: &Attributes<'_>) -> Id {
            if a.metadata().name() == "profile_function" {
                let mut v = FnField(None);
                a.record(&mut v);
                if let Some(n) = v.0 {
                    self.0.lock().unwrap().push(n);
                }
            }
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}
