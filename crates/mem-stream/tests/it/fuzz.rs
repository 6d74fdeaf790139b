//! Random and truncated bytes through every reader, through the public API: errors, never panics.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::record_batch::RecordBatch;
use mem_stream::StreamingLoader;
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
    ]
}

fn exercise(name: &str, bytes: &[u8]) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    let loader = StreamingLoader::builder()
        .with_batch_size(7)
        .build()
        .unwrap();
    if let Ok(s) = loader.stream(&p) {
        for item in s {
            if let Err(e) = item {
                // Decoder panics are caught on the read-ahead thread; they must not happen.
                assert!(!e.to_string().contains("crashed"), "{name}: {e}");
                break;
            }
        }
    }
    let _ = loader.sample(&p, 3);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn truncated_and_flipped(which in 0usize..6, cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..4)) {
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
    fn random_bytes(which in 0usize..6, bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let files = valid_files();
        let (name, valid) = &files[which];
        // Keep the right magic half of the time so the decoders themselves are exercised.
        let mut data = if bytes.first().is_some_and(|b| b % 2 == 0) { valid[..valid.len().min(8)].to_vec() } else { Vec::new() };
        data.extend_from_slice(&bytes);
        exercise(name, &data);
    }
}
