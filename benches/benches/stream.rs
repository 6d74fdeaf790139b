//! mem-stream: CSV parse throughput on the benchmark schema, Parquet and Feather streaming, and a
//! 1,000-row sample. Files are generated once per run (deterministic, seeded) in a temp dir.
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mem_stream::StreamingLoader;

const ROWS: u64 = 100_000; // about 32 MB of CSV

struct Files {
    _dir: tempfile::TempDir,
    csv: PathBuf,
    parquet: PathBuf,
    feather: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("bench.csv");
    mem_stream::testdata::write_bench_csv(&csv, ROWS, 42).expect("write csv");
    let loader = StreamingLoader::builder()
        .optimize(false)
        .build()
        .expect("loader");
    let parquet = dir.path().join("bench.parquet");
    let feather = dir.path().join("bench.feather");
    let mut stream = loader.stream(&csv).expect("stream");
    let schema = stream.schema();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            parquet::basic::ZstdLevel::default(),
        ))
        .build();
    let mut pw = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).expect("create"),
        schema.clone(),
        Some(props),
    )
    .expect("parquet writer");
    let opts = arrow::ipc::writer::IpcWriteOptions::default()
        .try_with_compression(Some(arrow::ipc::CompressionType::LZ4_FRAME))
        .expect("lz4");
    let mut fw = arrow::ipc::writer::FileWriter::try_new_with_options(
        std::fs::File::create(&feather).expect("create"),
        &schema,
        opts,
    )
    .expect("feather writer");
    for item in stream.by_ref() {
        let (b, _) = item.expect("chunk");
        pw.write(&b).expect("write parquet");
        fw.write(&b).expect("write feather");
    }
    pw.close().expect("close parquet");
    fw.finish().expect("close feather");
    Files {
        _dir: dir,
        csv,
        parquet,
        feather,
    }
}

fn drain(loader: &StreamingLoader, path: &Path) -> usize {
    loader
        .stream(path)
        .expect("stream")
        .map(|i| i.expect("chunk").0.num_rows())
        .sum()
}

fn streaming(c: &mut Criterion) {
    let f = files();
    let raw = StreamingLoader::builder()
        .optimize(false)
        .build()
        .expect("loader");
    let optimized = StreamingLoader::builder().build().expect("loader");
    let mut g = c.benchmark_group("stream");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(
        std::fs::metadata(&f.csv).map(|m| m.len()).unwrap_or(0),
    ));
    g.bench_function("csv parse (no optimize)", |b| {
        b.iter(|| drain(&raw, &f.csv))
    });
    g.bench_function("csv parse + optimize", |b| {
        b.iter(|| drain(&optimized, &f.csv))
    });
    g.throughput(Throughput::Elements(ROWS));
    g.bench_function("parquet zstd", |b| b.iter(|| drain(&raw, &f.parquet)));
    g.bench_function("feather lz4", |b| b.iter(|| drain(&raw, &f.feather)));
    g.finish();
    let mut g = c.benchmark_group("sample");
    g.bench_function("csv 1000 rows", |b| {
        b.iter(|| optimized.sample(&f.csv, 1000).expect("sample").0.num_rows())
    });
    g.bench_function("parquet 1000 rows", |b| {
        b.iter(|| {
            optimized
                .sample(&f.parquet, 1000)
                .expect("sample")
                .0
                .num_rows()
        })
    });
    g.bench_function("feather 1000 rows", |b| {
        b.iter(|| {
            optimized
                .sample(&f.feather, 1000)
                .expect("sample")
                .0
                .num_rows()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = streaming
}
criterion_main!(benches);
