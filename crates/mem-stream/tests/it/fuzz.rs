//! Random and truncated bytes through every reader, through the public API: errors, never panics,
//! each error one line naming the file. Mutations favour the bytes that make lengths and offsets
//! lie (0x00, 0x7F, 0x80, 0xFF), and also run over the Apache conformance files.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use mem_stream::{MIB, StreamingLoader};
use proptest::prelude::*;

fn valid_files() -> Vec<(&'static str, Vec<u8>)> {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..200));
    let s: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..200).map(|i| format!("v{i}")),
    ));
    let batch = RecordBatch::try_from_iter([("id", ids), ("s", s)]).unwrap();
    let mut pq = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut pq, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let mut ipc = Vec::new();
    let mut w = arrow::ipc::writer::FileWriter::try_new(&mut ipc, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    let mut lz4 = Vec::new();
    let opts = arrow::ipc::writer::IpcWriteOptions::default()
        .try_with_compression(Some(arrow::ipc::CompressionType::LZ4_FRAME))
        .unwrap();
    let mut w =
        arrow::ipc::writer::FileWriter::try_new_with_options(&mut lz4, &batch.schema(), opts)
            .unwrap();
    w.write(&batch.slice(0, 120)).unwrap();
    w.write(&batch.slice(120, 80)).unwrap();
    w.finish().unwrap();
    drop(w);
    let mut st = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut st, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    let csv = b"id,s,f\n1,\"a,b\",2.5\n2,\"x\ny\",\n3,z,1e3\n".to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &csv).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let xlsx = std::fs::read(crate::formats::write_xlsx(dir.path())).unwrap();
    vec![
        ("f.parquet", pq),
        ("f.arrow", ipc),
        ("f.arrows", st),
        ("f.csv", csv),
        ("f.csv.gz", gz),
        ("f.xlsx", xlsx),
        ("lz4.feather", lz4),
    ]
}

/// An error must be one line naming the file; a panic outside the decoders (which the read-ahead
/// thread would report as a crash) must not happen.
fn check(name: &str, e: &mem_stream::StreamError) {
    let msg = e.to_string();
    assert!(!msg.contains("crashed"), "{name}: {msg}");
    assert!(!msg.contains('\n') && msg.contains(name), "{name}: {msg}");
}

fn exercise(name: &str, bytes: &[u8]) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let loader = StreamingLoader::builder()
        .chunk_size(7)
        .memory_limit(64 * MIB)
        .build()
        .unwrap();
    match loader.stream(&p) {
        Ok(s) => {
            for item in s {
                if let Err(e) = item {
                    check(name, &e);
                    break;
                }
            }
        }
        Err(e) => check(name, &e),
    }
    if let Err(e) = loader.sample(&p, 3) {
        check(name, &e);
    }
}

/// The Apache files of `tests/fixtures` (shipped with the crate) a mutation may start from.
fn conformance_files() -> Vec<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .extension()
                .is_some_and(|e| e == "arrow" || e == "parquet")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A byte that makes a length or offset lie, or any byte.
fn hostile_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0x00u8),
        Just(0x7F),
        Just(0x80),
        Just(0xFF),
        any::<u8>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn conformance_files_flipped(which in any::<proptest::sample::Index>(), flips in proptest::collection::vec((0.0f64..1.0, hostile_byte()), 1..5)) {
        let files = conformance_files();
        let path = which.get(&files);
        let mut bytes = std::fs::read(path).unwrap();
        for (at, v) in flips {
            let i = ((bytes.len() as f64) * at) as usize;
            if let Some(b) = bytes.get_mut(i) { *b = v; }
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        exercise(&name, &bytes);
    }

    #[test]
    fn truncated_and_flipped(which in 0usize..7, cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, hostile_byte()), 0..4)) {
        let files = valid_files();
        let (name, mut bytes) = files[which].clone();
        let len = ((bytes.len() as f64) * cut) as usize;
        bytes.truncate(len.max(1));
        for (at, v) in flips {
            let i = ((bytes.len() as f64) * at) as usize;
            if let Some(b) = bytes.get_mut(i) { *b = v; }
        }
        exercise(name, &bytes);
    }

    #[test]
    fn random_bytes(which in 0usize..7, bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let files = valid_files();
        let (name, valid) = &files[which];
        // Keep the right magic half of the time so the decoders themselves are exercised.
        let mut data = if bytes.first().is_some_and(|b| b % 2 == 0) { valid[..valid.len().min(8)].to_vec() } else { Vec::new() };
        data.extend_from_slice(&bytes);
        exercise(name, &data);
    }
}
