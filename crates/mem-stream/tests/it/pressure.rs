//! One pressure policy: every format's chunks follow the loader's pressure source, and a level
//! change mid-stream changes the chunk size.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::ipc::writer::{FileWriter, StreamWriter};
use arrow::record_batch::RecordBatch;
use mem_monitor::{FixedPressure, PressureLevel};
use mem_stream::{ChunkMetadata, StreamingLoader};

const ROWS: i64 = 20_000;

fn table(n: i64) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("name {i}")),
    ));
    let vals: ArrayRef = Arc::new(Float64Array::from_iter_values((0..n).map(|i| i as f64)));
    RecordBatch::try_from_iter([("id", ids), ("name", names), ("value", vals)]).unwrap()
}

fn write_csv(dir: &Path) -> PathBuf {
    let p = dir.join("t.csv");
    let mut text = String::from("id,name,value\n");
    for i in 0..ROWS {
        text.push_str(&format!("{i},name {i},{i}.5\n"));
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// One row group: arrow-rs would decode batches of the chunk size fixed at open.
fn write_parquet(dir: &Path) -> PathBuf {
    let p = dir.join("t.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&p).unwrap(),
        table(1).schema(),
        None,
    )
    .unwrap();
    w.write(&table(ROWS)).unwrap();
    w.close().unwrap();
    p
}

fn write_ipc_file(dir: &Path) -> PathBuf {
    let p = dir.join("t.arrow");
    let mut w =
        FileWriter::try_new(std::fs::File::create(&p).unwrap(), &table(1).schema()).unwrap();
    w.write(&table(ROWS)).unwrap();
    w.finish().unwrap();
    p
}

fn write_ipc_stream(dir: &Path) -> PathBuf {
    let p = dir.join("t.arrows");
    let mut w =
        StreamWriter::try_new(std::fs::File::create(&p).unwrap(), &table(1).schema()).unwrap();
    w.write(&table(ROWS)).unwrap();
    w.finish().unwrap();
    p
}

/// Streams `path` under a fixed level; the chunks' metadata.
fn chunks(path: &Path, level: PressureLevel, chunk: usize, min: usize) -> Vec<ChunkMetadata> {
    let loader = StreamingLoader::builder()
        .optimize(false)
        .chunk_size(chunk)
        .min_chunk_size(min)
        .pressure(Arc::new(FixedPressure::new(level)))
        .build()
        .unwrap();
    loader.stream(path).unwrap().map(|c| c.unwrap().1).collect()
}

fn sizes(meta: &[ChunkMetadata]) -> Vec<usize> {
    meta.iter().map(|m| m.rows).collect()
}

/// Under High the chunks after the first are smaller than under Low, and all rows arrive.
fn high_is_smaller(path: &Path, total: usize, chunk: usize, min: usize) -> Vec<ChunkMetadata> {
    let low = chunks(path, PressureLevel::Low, chunk, min);
    let high = chunks(path, PressureLevel::High, chunk, min);
    let (low_sizes, high_sizes) = (sizes(&low), sizes(&high));
    assert_eq!(low_sizes.iter().sum::<usize>(), total, "{path:?}");
    assert_eq!(high_sizes.iter().sum::<usize>(), total, "{path:?}");
    assert_eq!(low_sizes[0], chunk.min(total), "{path:?} {low_sizes:?}");
    // Low keeps the chunk size (the last chunk holds the rest).
    assert!(
        low_sizes[..low_sizes.len() - 1].iter().all(|&n| n == chunk),
        "{path:?} {low_sizes:?}"
    );
    // High halves after every chunk down to the floor.
    assert!(
        high_sizes.len() > low_sizes.len(),
        "{path:?} {high_sizes:?}"
    );
    assert!(high_sizes[1] <= chunk / 2, "{path:?} {high_sizes:?}");
    assert!(
        high_sizes[1..].iter().all(|&n| n < chunk),
        "{path:?} {high_sizes:?}"
    );
    assert!(high.iter().skip(3).all(|m| m.chunk_size == min), "{path:?}");
    high
}

#[test]
fn every_format_chunks_smaller_under_high_pressure() {
    let d = tempfile::tempdir().unwrap();
    let n = ROWS as usize;
    high_is_smaller(&write_csv(d.path()), n, 4096, 512);
    high_is_smaller(&write_ipc_file(d.path()), n, 4096, 512);
    high_is_smaller(&write_ipc_stream(d.path()), n, 4096, 512);
    let xlsx = crate::formats::write_xlsx(d.path());
    high_is_smaller(&xlsx, 30, 8, 2);
    let ods = crate::ods::write_ods(d.path());
    high_is_smaller(&ods, 5, 2, 1);

    // Parquet decodes smaller batches, not only slices: a chunk's memory (a slice reports the
    // allocation it keeps alive) shrinks with its rows.
    let parquet = write_parquet(d.path());
    let high = high_is_smaller(&parquet, n, 4096, 512);
    let low = chunks(&parquet, PressureLevel::Low, 4096, 512);
    let per_row = |m: &ChunkMetadata| m.bytes as f64 / m.rows as f64;
    let low_per_row = per_row(&low[0]);
    let late = &high[high.len() - 2];
    assert_eq!(late.rows, 512);
    assert!(
        per_row(late) < low_per_row * 2.0,
        "a 512-row chunk holds {} bytes, a 4096-row one {}: decoded whole and sliced?",
        late.bytes,
        low[0].bytes
    );
}

#[test]
fn a_level_change_mid_stream_changes_the_chunk_size() {
    let d = tempfile::tempdir().unwrap();
    for path in [
        write_csv(d.path()),
        write_parquet(d.path()),
        write_ipc_stream(d.path()),
    ] {
        let level = Arc::new(FixedPressure::new(PressureLevel::Low));
        let loader = StreamingLoader::builder()
            .chunk_size(1000)
            .min_chunk_size(125)
            .pressure(level.clone())
            .build()
            .unwrap();
        let mut seen = Vec::new();
        for (i, chunk) in loader.stream(&path).unwrap().enumerate() {
            let (batch, meta) = chunk.unwrap();
            assert_eq!(batch.num_rows(), meta.rows);
            seen.push(meta.rows);
            match i {
                2 => level.set(PressureLevel::High),
                6 => level.set(PressureLevel::Low),
                _ => {}
            }
        }
        assert_eq!(seen.iter().sum::<usize>(), ROWS as usize, "{path:?}");
        // The level is read after each chunk is made: chunk 3 was cut at Low, then the target
        // halves to the floor, and grows back once the level is Low again.
        assert_eq!(
            &seen[..8],
            &[1000, 1000, 1000, 1000, 500, 250, 125, 125],
            "{path:?}"
        );
        assert!(
            seen[7..].contains(&250) && seen[7..].contains(&1000),
            "{path:?} {seen:?}"
        );
    }
}

#[test]
fn a_monitor_with_its_own_thresholds_drives_the_loader() {
    // Thresholds every process exceeds: the monitor (not running) samples at High.
    let monitor = mem_monitor::MemoryMonitor::builder()
        .thresholds(mem_monitor::Thresholds {
            process_medium_bytes: 0,
            process_high_bytes: 0,
            ..mem_monitor::Thresholds::default()
        })
        .build()
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    let loader = StreamingLoader::builder()
        .chunk_size(4000)
        .min_chunk_size(500)
        .pressure(Arc::new(monitor))
        .build()
        .unwrap();
    let sizes: Vec<usize> = loader
        .stream(write_csv(d.path()))
        .unwrap()
        .map(|c| c.unwrap().1.rows)
        .collect();
    assert_eq!(&sizes[..4], &[4000, 2000, 1000, 500]);
}
