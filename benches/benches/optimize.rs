//! mem-optimize: `optimize_batch` on a 100k-row batch of the benchmark schema (default Arrow
//! types, as a CSV reader infers them), the stream optimizer on 10k-row chunks of it, and
//! `release_memory` after freeing 1 GB of fragmented heap (seed KPI: under 1 s).
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![expect(
    clippy::print_stderr,
    reason = "the benchmark reports the sizes it measured"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mem_optimize::{OptimizeOptions, PurgeRegistry, StreamOptimizer, optimize_batch};

/// A deterministic generator (splitmix64) so runs compare.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const WORDS: [&str; 16] = [
    "memory", "stream", "arrow", "chunk", "topic", "model", "cache", "vector", "token", "batch",
    "column", "schema", "value", "index", "cluster", "embed",
];

/// The benchmark schema (see `mem_stream::testdata`): 12 columns, one free-text column.
fn bench_batch(rows: usize, seed: u64) -> RecordBatch {
    let mut r = Rng(seed);
    let n = rows as i64;
    let small = Int64Array::from_iter_values((0..n).map(|_| r.below(101) as i64));
    let medium = Int64Array::from_iter_values((0..n).map(|_| r.below(1_000_001) as i64));
    let big = Int64Array::from_iter_values(
        (0..n).map(|_| r.below(2_000_000_000_000_000) as i64 - 1_000_000_000_000_000),
    );
    let price =
        Float64Array::from_iter_values((0..n).map(|_| (1 + r.below(999_999)) as f64 / 100.0));
    let score = Float64Array::from_iter_values((0..n).map(|_| {
        // Box-Muller: normal(0, 1).
        let (u, v) = (r.unit().max(1e-12), r.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }));
    let flag = BooleanArray::from_iter((0..n).map(|_| Some(r.below(2) == 0)));
    let category = StringArray::from_iter_values((0..n).map(|_| {
        // Zipf-like: low indices far more often.
        let k = (r.unit() * r.unit() * 20.0) as u64;
        format!("category_{k:02}")
    }));
    let city = StringArray::from_iter_values((0..n).map(|_| format!("City{:04}", r.below(5_000))));
    let created = TimestampMicrosecondArray::from_iter_values(
        (0..n).map(|_| 1_577_836_800_000_000 + r.below(5 * 365 * 86_400) as i64 * 1_000_000),
    );
    let nullable =
        Int64Array::from_iter((0..n).map(|_| (r.below(20) != 0).then(|| r.below(50_001) as i64)));
    let text = StringArray::from_iter_values((0..n).map(|_| {
        let words = 3 + r.below(50);
        let mut s = String::with_capacity(words as usize * 7);
        for i in 0..words {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(WORDS[r.below(WORDS.len() as u64) as usize]);
        }
        s
    }));
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        ("small_int", Arc::new(small) as _),
        ("medium_int", Arc::new(medium) as _),
        ("big_int", Arc::new(big) as _),
        ("price", Arc::new(price) as _),
        ("score", Arc::new(score) as _),
        ("flag", Arc::new(flag) as _),
        ("category", Arc::new(category) as _),
        ("city", Arc::new(city) as _),
        ("created_at", Arc::new(created) as _),
        ("nullable_int", Arc::new(nullable) as _),
        ("text", Arc::new(text) as _),
    ])
    .expect("bench batch")
}

fn optimize(c: &mut Criterion) {
    let batch = bench_batch(100_000, 42);
    let opts = OptimizeOptions::default();
    let (_, report) = optimize_batch(&batch, &opts).expect("optimize");
    eprintln!("optimize_batch on 100k rows of the benchmark schema:\n{report}");
    let text = report
        .columns
        .iter()
        .find(|c| c.name == "text")
        .map_or(0, |c| c.bytes_before);
    let (non_text_before, non_text_after) = report
        .columns
        .iter()
        .filter(|c| c.name != "text")
        .fold((0, 0), |(b, a), c| (b + c.bytes_before, a + c.bytes_after));
    eprintln!(
        "non-text columns: {non_text_before} -> {non_text_after} bytes ({:.1} % smaller); text column {text} bytes, unchanged",
        100.0 * (1.0 - non_text_after as f64 / non_text_before as f64)
    );

    let mut g = c.benchmark_group("optimize");
    g.throughput(Throughput::Elements(batch.num_rows() as u64));
    g.bench_function("optimize_batch 100k rows", |b| {
        b.iter(|| optimize_batch(black_box(&batch), &opts))
    });
    // Per column, to see where the time goes.
    for (i, field) in batch.schema().fields().iter().enumerate() {
        let one = batch.project(&[i]).expect("project");
        g.bench_function(format!("column {}", field.name()), |b| {
            b.iter(|| optimize_batch(black_box(&one), &opts))
        });
    }
    let chunks: Vec<RecordBatch> = (0..10).map(|i| batch.slice(i * 10_000, 10_000)).collect();
    g.bench_function("StreamOptimizer 10 x 10k-row chunks", |b| {
        b.iter(|| {
            let mut s = StreamOptimizer::new(opts.clone());
            for chunk in &chunks {
                black_box(s.push(chunk).expect("push"));
            }
        });
    });
    let no_text: Vec<RecordBatch> = chunks
        .iter()
        .map(|c| c.project(&(0..11).collect::<Vec<_>>()).expect("project"))
        .collect();
    g.bench_function("StreamOptimizer 10 x 10k-row chunks, without text", |b| {
        b.iter(|| {
            let mut s = StreamOptimizer::new(opts.clone());
            for chunk in &no_text {
                black_box(s.push(chunk).expect("push"));
            }
        });
    });
    g.finish();
}

/// Allocates ~`total` bytes in 64 KiB blocks (below glibc's mmap threshold, so on the heap),
/// each followed by a small live allocation so `free` alone cannot shrink the heap, then frees
/// the blocks. Returns the pins, to be dropped after the measurement.
#[expect(
    clippy::vec_box,
    reason = "each pin must be its own small heap allocation between the freed blocks"
)]
fn fragment_and_free(total: usize) -> Vec<Box<u64>> {
    const BLOCK: usize = 64 * 1024;
    let mut blocks = Vec::with_capacity(total / BLOCK);
    let mut pins = Vec::with_capacity(total / BLOCK);
    for i in 0..total / BLOCK {
        blocks.push(vec![(i % 251) as u8 + 1; BLOCK]);
        pins.push(Box::new(i as u64));
    }
    black_box(&blocks);
    drop(blocks);
    pins
}

fn release(c: &mut Criterion) {
    let registry = PurgeRegistry::new();
    let pins = fragment_and_free(1 << 30);
    let report = registry.release_memory();
    drop(pins);
    eprintln!(
        "release_memory after freeing 1 GiB: rss {} -> {} MB in {:.1} ms (trimmed: {})",
        report.rss_before >> 20,
        report.rss_after >> 20,
        report.elapsed.as_secs_f64() * 1e3,
        report.trimmed
    );
    let mut g = c.benchmark_group("release");
    g.sample_size(10);
    g.bench_function("release_memory after freeing 1 GiB", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let pins = fragment_and_free(1 << 30);
                let start = Instant::now();
                black_box(registry.release_memory());
                spent += start.elapsed();
                drop(pins);
            }
            spent
        });
    });
    g.finish();
}

criterion_group!(benches, optimize, release);
criterion_main!(benches);
