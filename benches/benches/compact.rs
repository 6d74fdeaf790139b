//! mem-optimize's compact form on the benchmark table (`mem_stream::testdata`, the generator of
//! the 1 GB benchmark CSV; 200,000 rows by default, `MEMBOUND_COMPACT_BENCH_ROWS` to change):
//! memory against plain Arrow and against `optimize_batch` alone (printed), one row's text read
//! (target under 1 µs), a chunk's text column and a whole chunk decoded back to Arrow (target
//! 1 GB/s per core or more), and compaction itself.
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![expect(
    clippy::print_stderr,
    reason = "the benchmark reports the sizes it measured"
)]

use std::hint::black_box;
use std::time::Duration;

use arrow::array::RecordBatch;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mem_optimize::{
    CompactBatch, CompactOptions, CompactTable, OptimizeOptions, batch_memory_size, optimize_batch,
};
use mem_stream::StreamingLoader;

const CHUNK_ROWS: usize = 65_536;

/// The benchmark CSV's rows, read in chunks as the CSV reader infers their types.
fn bench_chunks() -> Vec<RecordBatch> {
    let rows: u64 = std::env::var("MEMBOUND_COMPACT_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let csv = dir.path().join("bench.csv");
    mem_stream::testdata::write_bench_csv(&csv, rows, 20_261_126).expect("writing the CSV");
    let loader = StreamingLoader::builder()
        .optimize(false)
        .chunk_size(CHUNK_ROWS)
        .build()
        .expect("a loader");
    loader
        .stream(&csv)
        .expect("streaming the CSV")
        .map(|c| c.expect("a chunk").0)
        .collect()
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn compact(c: &mut Criterion) {
    let chunks = bench_chunks();
    let schema = chunks[0].schema();
    let text = schema.index_of("text").expect("a text column");
    let plain: u64 = chunks.iter().map(|b| batch_memory_size(b) as u64).sum();
    let optimized: u64 = chunks
        .iter()
        .map(|b| {
            let (o, _) = optimize_batch(b, &OptimizeOptions::default()).expect("optimize");
            batch_memory_size(&o) as u64
        })
        .sum();
    let mut table = CompactTable::new(schema.clone(), CompactOptions::default()).expect("table");
    for b in &chunks {
        table.push(b).expect("compacting a chunk");
    }
    let report = table.report();
    let t = &report.columns[text];
    let rows = table.num_rows();
    eprintln!(
        "compact: {rows} rows; plain Arrow {:.1} MB, optimize_batch {:.1} MB ({:.1} %), \
         compact {:.1} MB ({:.1} % of plain Arrow, {:.1} % smaller)",
        mb(plain),
        mb(optimized),
        100.0 * optimized as f64 / plain as f64,
        mb(table.memory_size()),
        100.0 * table.memory_size() as f64 / plain as f64,
        100.0 * (1.0 - table.memory_size() as f64 / plain as f64),
    );
    eprintln!(
        "compact: text column {:.1} MB -> {:.1} MB ({:.3}); codes/text {:.3}; {} symbol \
         table(s) trained over {} chunks",
        mb(t.arrow_bytes),
        mb(t.compact_bytes),
        t.ratio(),
        t.code_bytes as f64 / t.text_bytes.max(1) as f64,
        t.trainings,
        table.batches().len(),
    );
    eprintln!("{report}");

    let mut g = c.benchmark_group("compact");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));

    // One row's text, rows spread over the whole table (a multiplicative hash of a counter).
    let mut i = 0u64;
    let mut buf = String::new();
    g.bench_function("value_into_one_row", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let row = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as usize % rows;
            black_box(table.value_into(text, row, &mut buf).expect("a row"))
        });
    });
    g.bench_function("value_one_row", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let row = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as usize % rows;
            black_box(table.value(text, row).expect("a row").map(|s| s.len()))
        });
    });

    let first = &table.batches()[0];
    let first_report = first.report();
    g.throughput(Throughput::Bytes(first_report.columns[text].text_bytes));
    g.bench_function("decode_text_column_of_a_chunk", |b| {
        b.iter(|| black_box(first.column(text).expect("decoding")));
    });
    g.throughput(Throughput::Bytes(first_report.arrow_bytes));
    g.bench_function("decode_chunk_to_record_batch", |b| {
        b.iter(|| black_box(first.to_record_batch().expect("decoding")));
    });
    g.bench_function("compact_a_chunk", |b| {
        b.iter(|| {
            black_box(CompactBatch::try_new(
                &chunks[0],
                &CompactOptions::default(),
            ))
        });
    });
    g.finish();
}

criterion_group!(benches, compact);
criterion_main!(benches);
