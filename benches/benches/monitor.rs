//! The cost of one memory sample (target: at most 20 µs) and of the portable sysinfo path.
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use criterion::{Criterion, criterion_group, criterion_main};

fn sample_cost(c: &mut Criterion) {
    c.bench_function("memory_stats (procfs)", |b| {
        b.iter(|| mem_monitor::memory_stats().expect("sample"))
    });
    c.bench_function("memory_stats (sysinfo)", |b| {
        b.iter(|| mem_monitor::sample_via_sysinfo().expect("sample"))
    });
}

criterion_group!(benches, sample_cost);
criterion_main!(benches);
