//! Streams from any `Read`, a forced format, the `RecordBatchReader` view and serializable
//! metadata.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatchReader, StringArray};
use arrow::error::ArrowError;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use mem_stream::{FileFormat, StreamError, StreamingLoader};

use crate::{plain, rows, write};

fn csv_text(n: usize) -> String {
    let mut t = String::from("id,name\n");
    for i in 0..n {
        t.push_str(&format!("{i},n{}\n", i % 13));
    }
    t
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

fn ipc_stream_bytes(n: i64) -> Vec<u8> {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(
        (0..n).map(|i| format!("v{i}")),
    ));
    let b = RecordBatch::try_from_iter([("id", ids), ("name", names)]).unwrap();
    let mut out = Vec::new();
    let mut w = StreamWriter::try_new(&mut out, &b.schema()).unwrap();
    w.write(&b.slice(0, (n / 2) as usize)).unwrap();
    w.write(&b.slice((n / 2) as usize, (n - n / 2) as usize))
        .unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

fn count(stream: mem_stream::ChunkStream) -> mem_stream::Result<usize> {
    let mut n = 0;
    for c in stream {
        let (b, meta) = c?;
        assert_eq!(meta.source_bytes_total, 0, "a pipe's size is unknown");
        n += b.num_rows();
    }
    Ok(n)
}

#[test]
fn csv_plain_and_gzip_from_a_reader() {
    let loader = StreamingLoader::builder().chunk_size(1000).build().unwrap();
    let text = csv_text(25_000);
    let s = loader
        .stream_reader(
            std::io::Cursor::new(text.clone().into_bytes()),
            FileFormat::CSV,
            "<stdin>",
        )
        .unwrap();
    assert_eq!(s.path(), std::path::Path::new("<stdin>"));
    assert_eq!(count(s).unwrap(), 25_000);
    // gzip by its magic bytes, though the format says plain CSV.
    let s = loader
        .stream_reader(
            std::io::Cursor::new(gzip(text.as_bytes())),
            FileFormat::CSV,
            "<stdin>",
        )
        .unwrap();
    assert_eq!(count(s).unwrap(), 25_000);
    // A TSV.
    let s = loader
        .stream_reader(&b"a\tb\n1\t2\n"[..], FileFormat::TSV, "<stdin>")
        .unwrap();
    assert_eq!(s.source_schema().fields().len(), 2);
}

#[test]
fn reader_errors_name_the_input() {
    let infer_5 = mem_stream::CsvOptions::new().inference_rows(5);
    let loader = plain().csv(infer_5).build().unwrap();
    let mut text = csv_text(10);
    text.push_str("oops,x\n");
    let e = count(
        loader
            .stream_reader(
                std::io::Cursor::new(text.into_bytes()),
                FileFormat::CSV,
                "<stdin>",
            )
            .unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(&e, StreamError::CsvValue { line: 12, .. }),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("<stdin>: line 12"), "{e}");
    for f in [
        FileFormat::Parquet,
        FileFormat::ArrowFile,
        FileFormat::Workbook,
    ] {
        let e = loader
            .stream_reader(&b"PAR1"[..], f, "<stdin>")
            .unwrap_err();
        assert!(matches!(e, StreamError::NeedsSeek { .. }), "{e:?}");
        assert!(
            e.to_string().contains("<stdin>") && e.to_string().contains("pipe"),
            "{e}"
        );
    }
}

#[test]
fn ipc_stream_from_a_reader() {
    let loader = StreamingLoader::builder().chunk_size(300).build().unwrap();
    let s = loader
        .stream_reader(
            std::io::Cursor::new(ipc_stream_bytes(1000)),
            FileFormat::ArrowStream,
            "pipe",
        )
        .unwrap();
    assert_eq!(count(s).unwrap(), 1000);
    // Truncated: a clean error, never a panic.
    let bytes = ipc_stream_bytes(1000);
    let cut = bytes[..bytes.len() - 100].to_vec();
    let r = loader.stream_reader(std::io::Cursor::new(cut), FileFormat::ArrowStream, "pipe");
    let result = r.and_then(count);
    assert!(result.is_err());
    // A hostile body length is checked against the memory limit before anything is allocated.
    let small = StreamingLoader::builder()
        .memory_limit(mem_stream::MIB)
        .build()
        .unwrap();
    let e = small
        .stream_reader(
            std::io::Cursor::new(ipc_stream_bytes(200_000)),
            FileFormat::ArrowStream,
            "pipe",
        )
        .and_then(count)
        .unwrap_err();
    assert!(matches!(e, StreamError::OverBudget { .. }), "{e:?}");
}

#[test]
fn forced_format_reads_files_without_or_with_a_wrong_extension() {
    let d = tempfile::tempdir().unwrap();
    let text = csv_text(500);
    let bare = write(d.path(), "export", &text);
    assert!(
        StreamingLoader::builder()
            .build()
            .unwrap()
            .stream(&bare)
            .is_err()
    );
    let csv = plain().format(FileFormat::CSV).build().unwrap();
    assert_eq!(rows(&crate::stream_all(&csv, &bare).unwrap()), 500);
    let gz = write(d.path(), "export.dat", gzip(text.as_bytes()));
    assert_eq!(rows(&crate::stream_all(&csv, &gz).unwrap()), 500);
    // An IPC stream named as a file: the magic decides which IPC reader.
    let ipc = write(d.path(), "data.bin", ipc_stream_bytes(100));
    let arrow = plain().format("arrow".parse().unwrap()).build().unwrap();
    assert_eq!(rows(&crate::stream_all(&arrow, &ipc).unwrap()), 100);
    // A forced format the content contradicts is still refused.
    let pq = plain().format(FileFormat::Parquet).build().unwrap();
    let e = pq.stream(&bare).unwrap_err();
    assert!(matches!(e, StreamError::BadMagic { .. }), "{e:?}");
}

#[test]
fn chunk_reader_has_one_schema_and_maps_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "r.csv", csv_text(5000));
    let loader = StreamingLoader::builder().chunk_size(700).build().unwrap();
    let reader = loader.stream(&p).unwrap().into_reader();
    let schema = reader.schema();
    assert_eq!(
        schema.field(0).data_type(),
        &arrow::datatypes::DataType::Int64
    );
    let mut n = 0;
    for b in reader {
        let b = b.unwrap();
        assert_eq!(b.schema(), schema);
        n += b.num_rows();
    }
    assert_eq!(n, 5000);
    // A consumer of the trait object.
    let boxed: Box<dyn RecordBatchReader + Send> =
        Box::new(loader.stream(&p).unwrap().into_reader());
    assert_eq!(boxed.map(|b| b.unwrap().num_rows()).sum::<usize>(), 5000);

    let mut bad = csv_text(10);
    bad.push_str("x,y\n");
    let p = write(d.path(), "bad.csv", bad);
    let infer_5 = mem_stream::CsvOptions::new().inference_rows(5);
    let loader = StreamingLoader::builder().csv(infer_5).build().unwrap();
    let mut reader = loader.stream(&p).unwrap().into_reader();
    let e = reader.find_map(Result::err).unwrap();
    let ArrowError::ExternalError(inner) = &e else {
        panic!("{e:?}")
    };
    let inner = inner.downcast_ref::<StreamError>().unwrap();
    assert!(
        matches!(inner, StreamError::CsvValue { line: 12, .. }),
        "{inner:?}"
    );
    assert!(reader.next().is_none());
}

#[test]
fn chunk_metadata_serializes() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "m.csv", csv_text(100));
    let loader = StreamingLoader::builder().build().unwrap();
    let (_, meta) = loader.stream(&p).unwrap().next().unwrap().unwrap();
    let v = serde_json::to_value(&meta).unwrap();
    assert_eq!(v["rows"], 100);
    assert!(v["elapsed_secs"].is_f64(), "{v}");
    assert!(v["widenings"].is_array(), "{v}");
    assert!((v["progress"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{v}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Mutated IPC streams and CSV text (with every dialect option on) through a reader: an
    /// error naming the input or a clean end, never a panic.
    #[test]
    fn mutated_input_through_a_reader_never_panics(
        flips in proptest::collection::vec((0usize..4096, proptest::prelude::any::<u8>()), 1..8),
        cut in 0usize..4096,
        csv in proptest::prelude::any::<bool>(),
    ) {
        let (mut bytes, format) = if csv {
            let mut t = String::from("# c\nid,name\n");
            for i in 0..200 {
                t.push_str(&format!("{i},\"a\\\"{i}\"\nN/A,x\n"));
            }
            (t.into_bytes(), FileFormat::CSV)
        } else {
            (ipc_stream_bytes(300), FileFormat::ArrowStream)
        };
        for (at, b) in flips {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        bytes.truncate(cut.max(1).min(bytes.len()));
        let opts = mem_stream::CsvOptions::new()
            .comment(b'#')
            .escape(b'\\')
            .null_values(["N/A"])
            .encoding(mem_stream::Encoding::Latin1);
        let loader = StreamingLoader::builder()
            .memory_limit(64 * mem_stream::MIB)
            .chunk_size(50)
            .csv(opts)
            .build()
            .unwrap();
        match loader.stream_reader(std::io::Cursor::new(bytes), format, "<stdin>").and_then(count) {
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                proptest::prop_assert!(msg.starts_with("<stdin>") && !msg.contains('\n'), "{}", msg);
            }
        }
    }
}
