//! Overhead of the counting allocator on an allocation-heavy workload, side by side in one run:
//! the system allocator, `TrackingAllocator` (per-thread counters), a naive counting allocator
//! on shared relaxed atomics (the design not taken), and dhat.
//!
//! A binary has one `#[global_allocator]`, so this one is a switch: every call loads a mode and
//! forwards to the chosen allocator. All four pay the same switch, so the differences are the
//! allocators' own costs. Blocks allocated under one mode and freed under another only skew the
//! counters, never memory safety: every mode allocates from the system allocator underneath.
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering::Relaxed};

use criterion::{Criterion, criterion_group};
use mem_profile::TrackingAllocator;

const SYSTEM: u8 = 0;
const TRACKING: u8 = 1;
const ATOMICS: u8 = 2;
const DHAT: u8 = 3;

static MODE: AtomicU8 = AtomicU8::new(SYSTEM);
static TRACK: TrackingAllocator = TrackingAllocator::new();
static NAIVE: SharedAtomics = SharedAtomics;
static DHAT_ALLOC: dhat::Alloc = dhat::Alloc;

/// Every figure on shared atomics: what per-thread counters avoid.
struct SharedAtomics;
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);
static TOTAL: AtomicU64 = AtomicU64::new(0);
static COUNT: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for SharedAtomics {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size() as i64, Relaxed) + l.size() as i64;
            PEAK.fetch_max(now, Relaxed);
            TOTAL.fetch_add(l.size() as u64, Relaxed);
            COUNT.fetch_add(1, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size() as i64, Relaxed);
        FREES.fetch_add(1, Relaxed);
    }
}

struct Switch;

unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        unsafe {
            match MODE.load(Relaxed) {
                TRACKING => TRACK.alloc(l),
                ATOMICS => NAIVE.alloc(l),
                DHAT => DHAT_ALLOC.alloc(l),
                _ => System.alloc(l),
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe {
            match MODE.load(Relaxed) {
                TRACKING => TRACK.dealloc(p, l),
                ATOMICS => NAIVE.dealloc(p, l),
                DHAT => DHAT_ALLOC.dealloc(p, l),
                _ => System.dealloc(p, l),
            }
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        unsafe {
            match MODE.load(Relaxed) {
                TRACKING => TRACK.realloc(p, l, n),
                ATOMICS => NAIVE.realloc(p, l, n),
                DHAT => DHAT_ALLOC.realloc(p, l, n),
                _ => System.realloc(p, l, n),
            }
        }
    }
}

#[global_allocator]
static ALLOC: Switch = Switch;

/// Allocation-heavy work: small strings, growing vectors, boxed slices and map churn.
fn workload(n: usize) -> usize {
    let mut total = 0;
    let mut map: HashMap<u64, Vec<u8>> = HashMap::new();
    for i in 0..n {
        let s = format!("row-{i}-{}", i * 7);
        let mut v = Vec::with_capacity(16 + (i % 64) * 8);
        v.extend_from_slice(s.as_bytes());
        map.insert(i as u64 % 256, v);
        let b: Box<[u64]> = vec![i as u64; 4 + i % 32].into_boxed_slice();
        total += b.len() + s.len();
    }
    total + map.len()
}

fn run_mode(c: &mut Criterion, group: &str, threads: usize) {
    let mut g = c.benchmark_group(group);
    for (mode, name) in [
        (SYSTEM, "system"),
        (TRACKING, "tracking"),
        (ATOMICS, "shared_atomics"),
        (DHAT, "dhat"),
    ] {
        let profiler = (mode == DHAT).then(|| {
            let file = std::env::temp_dir()
                .join(format!("membound-bench-dhat-{}.json", std::process::id()));
            dhat::Profiler::builder().file_name(file).build()
        });
        MODE.store(mode, Relaxed);
        g.bench_function(name, |b| {
            b.iter(|| {
                if threads == 1 {
                    black_box(workload(black_box(2000)))
                } else {
                    std::thread::scope(|s| {
                        let hs: Vec<_> = (0..threads)
                            .map(|_| s.spawn(|| workload(black_box(10_000))))
                            .collect();
                        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
                    })
                }
            });
        });
        MODE.store(SYSTEM, Relaxed);
        drop(profiler);
    }
    g.finish();
}

fn overhead(c: &mut Criterion) {
    run_mode(c, "alloc_workload_1_thread", 1);
    run_mode(c, "alloc_workload_2_threads", 2);
}

/// Paired measurement, robust to a busy machine: short rounds alternate the modes back to back.
/// Reported: the ratio of the fastest round of each mode (the run least disturbed by other
/// processes) and the median of per-round ratios (load that drifts cancels within a round).
#[expect(
    clippy::print_stdout,
    reason = "the paired summary is printed beside criterion's output"
)]
fn paired_summary() {
    const ROUNDS: usize = 301;
    let time = |mode: u8, reps: usize| {
        MODE.store(mode, Relaxed);
        let t = std::time::Instant::now();
        for _ in 0..reps {
            black_box(workload(black_box(2000)));
        }
        let e = t.elapsed().as_secs_f64() / reps as f64;
        MODE.store(SYSTEM, Relaxed);
        e
    };
    let file = std::env::temp_dir().join(format!(
        "membound-bench-dhat-paired-{}.json",
        std::process::id()
    ));
    let profiler = dhat::Profiler::builder().file_name(file).build();
    // Per mode: every round's time; order SYSTEM, TRACKING, ATOMICS, DHAT.
    let mut times: [Vec<f64>; 4] = Default::default();
    for round in 0..ROUNDS {
        let mut order = [SYSTEM, TRACKING, ATOMICS];
        order.rotate_left(round % 3); // no mode always runs first
        for m in order {
            times[m as usize].push(time(m, 5));
        }
        if round % 10 == 0 {
            times[DHAT as usize].push(time(DHAT, 1));
        }
    }
    drop(profiler);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let median_ratio = |m: u8| {
        let mut r: Vec<f64> = times[m as usize]
            .iter()
            .zip(&times[SYSTEM as usize])
            .map(|(a, b)| a / b)
            .collect();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
    };
    let sys = min(&times[SYSTEM as usize]);
    let pct = |x: f64| (x - 1.0) * 100.0;
    println!(
        "paired, fastest of {ROUNDS} rounds: system {:.1} us, tracking {:+.1} %, shared_atomics {:+.1} %, dhat {:.1}x",
        sys * 1e6,
        pct(min(&times[TRACKING as usize]) / sys),
        pct(min(&times[ATOMICS as usize]) / sys),
        min(&times[DHAT as usize]) / sys
    );
    println!(
        "paired, median of per-round ratios: tracking {:+.1} %, shared_atomics {:+.1} %",
        pct(median_ratio(TRACKING)),
        pct(median_ratio(ATOMICS))
    );
}

criterion_group!(benches, overhead);

fn main() {
    benches();
    paired_summary();
    Criterion::default().configure_from_args().final_summary();
}
