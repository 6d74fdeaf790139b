//! CSV as people have it.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use arrow::record_batch::RecordBatch;
use mem_stream::{CsvOptions, MIB, StreamError, StreamingLoader};

use crate::{plain, rows, stream_all, write};

fn read_one(name: &str, text: &[u8]) -> RecordBatch {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), name, text);
    let loader = plain().build().unwrap();
    let batches = stream_all(&loader, &p).unwrap();
    let schema = loader.stream(&p).unwrap().schema();
    concat_batches(&schema, &batches).unwrap()
}

fn strings(b: &RecordBatch, col: usize) -> Vec<Option<String>> {
    b.column(col)
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect()
}

#[test]
fn bom_crlf_quotes_and_no_trailing_newline() {
    let b = read_one(
        "q.csv",
        b"\xEF\xBB\xBFid,text,n\r\n1,\"a, b\",3\r\n2,\"line\r\nbreak \"\"quoted\"\"\",\r\n3,plain,5",
    );
    assert_eq!(b.schema().field(0).name(), "id");
    assert_eq!(b.num_rows(), 3);
    assert_eq!(
        strings(&b, 1),
        vec![
            Some("a, b".into()),
            Some("line\r\nbreak \"quoted\"".into()),
            Some("plain".into())
        ]
    );
    let n = b.column(2).as_primitive::<Int64Type>();
    assert_eq!(n.iter().collect::<Vec<_>>(), vec![Some(3), None, Some(5)]);
}

#[test]
fn types_nulls_and_specials() {
    let b = read_one(
        "t.csv",
        b"big,f,flag,day,ts,s\n\
          9000000000,NaN,true,2024-02-29,2024-02-29T10:11:12,x\n\
          -9000000000,inf,FALSE,2024-03-01,2024-03-01 00:00:00.5,\n\
          ,-inf,,,,z\n",
    );
    let types: Vec<DataType> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            DataType::Int64,
            DataType::Float64,
            DataType::Boolean,
            DataType::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None),
            DataType::Utf8
        ]
    );
    let big = b.column(0).as_primitive::<Int64Type>();
    assert_eq!(big.value(0), 9_000_000_000);
    assert!(big.is_null(2));
    let f = b.column(1).as_primitive::<Float64Type>();
    assert!(f.value(0).is_nan() && f.value(1) == f64::INFINITY && f.value(2) == f64::NEG_INFINITY);
    assert_eq!(
        strings(&b, 5),
        vec![Some("x".into()), None, Some("z".into())]
    );
    assert_eq!(b.column(2).null_count(), 1);
}

#[test]
fn header_only_and_wide_and_long() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "h.csv", "a,b,c\n");
    let loader = plain().build().unwrap();
    let s = loader.stream(&p).unwrap();
    assert_eq!(s.schema().fields().len(), 3);
    assert_eq!(rows(&stream_all(&loader, &p).unwrap()), 0);

    let mut wide = (0..300)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    wide.push('\n');
    for r in 0..50 {
        wide.push_str(
            &(0..300)
                .map(|i| (i * r).to_string())
                .collect::<Vec<_>>()
                .join(","),
        );
        wide.push('\n');
    }
    let b = read_one("w.csv", wide.as_bytes());
    assert_eq!((b.num_columns(), b.num_rows()), (300, 50));
    assert_eq!(
        b.column(299).as_primitive::<Int64Type>().value(49),
        299 * 49
    );

    let long = "x".repeat(3 << 20);
    let b = read_one("l.csv", format!("id,t\n1,\"{long}\"\n2,short\n").as_bytes());
    assert_eq!(strings(&b, 1)[0].as_deref().map(str::len), Some(3 << 20));
}

#[test]
fn tsv_and_gzip() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "t.tsv", "a\tb\n1\tx,y\n2\tz\n");
    let b = stream_all(&plain().build().unwrap(), &p).unwrap();
    assert_eq!(rows(&b), 2);
    assert_eq!(b[0].column(1).as_string::<i32>().value(0), "x,y");

    let gz = d.path().join("g.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(b"a,b\n").unwrap();
    for i in 0..5000 {
        writeln!(enc, "{i},v{}", i % 7).unwrap();
    }
    enc.finish().unwrap();
    let loader = plain().chunk_size(1000).build().unwrap();
    let mut last_progress = 0.0;
    let mut total = 0;
    for item in loader.stream(&gz).unwrap() {
        let (b, m) = item.unwrap();
        assert!(m.progress >= last_progress);
        last_progress = m.progress;
        total += b.num_rows();
    }
    assert_eq!(total, 5000);
    assert!((last_progress - 1.0).abs() < 1e-9);
}

/// Many chunks parsed in parallel come back complete and in order, with quoted newlines cutting
/// across every block boundary candidate.
#[test]
fn parallel_order_and_chunk_metadata() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    writeln!(f, "id,text").unwrap();
    for i in 0..50_000u64 {
        if i % 3 == 0 {
            writeln!(f, "{i},\"multi\nline, \"\"{i}\"\"\"").unwrap();
        } else {
            writeln!(f, "{i},t{i}").unwrap();
        }
    }
    drop(f);
    let loader = plain().chunk_size(777).build().unwrap();
    let mut expect = 0i64;
    let mut next_start = 0u64;
    for (i, item) in loader.stream(&p).unwrap().enumerate() {
        let (b, m) = item.unwrap();
        assert_eq!(m.index, i);
        assert_eq!(m.start_row, next_start);
        assert!(b.num_rows() <= 777);
        assert!(m.bytes > 0 && m.rss_bytes > 0);
        next_start += b.num_rows() as u64;
        for v in b.column(0).as_primitive::<Int64Type>().values() {
            assert_eq!(*v, expect);
            expect += 1;
        }
        let t = b.column(1).as_string::<i32>();
        let first = b.column(0).as_primitive::<Int64Type>().value(0);
        if first % 3 == 0 {
            assert_eq!(t.value(0), format!("multi\nline, \"{first}\""));
        }
    }
    assert_eq!(expect, 50_000);
}

#[test]
fn late_type_mismatch_names_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let mut text = String::from("id,amount\n");
    for i in 0..100 {
        text.push_str(&format!("{i},{i}\n"));
    }
    text.push_str("100,\"twelve\nhundred\"\n");
    let p = write(d.path(), "late.csv", &text);
    let loader = plain()
        .csv(CsvOptions::new().inference_rows(10))
        .build()
        .unwrap();
    let err = stream_all(&loader, &p).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, StreamError::CsvValue { line: 102, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("late.csv") && msg.contains("\"amount\"") && msg.contains("inference"),
        "{msg}"
    );

    // The two suggested fixes work.
    let more = plain()
        .csv(CsvOptions::new().inference_rows(1000))
        .build()
        .unwrap();
    assert_eq!(rows(&stream_all(&more, &p).unwrap()), 101);
    let typed = plain()
        .csv(
            CsvOptions::new()
                .inference_rows(10)
                .column_type("amount", DataType::Utf8),
        )
        .build()
        .unwrap();
    assert_eq!(rows(&stream_all(&typed, &p).unwrap()), 101);
}

#[test]
fn ragged_row_is_an_error_with_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "r.csv", "a,b\n1,2\n3\n");
    let msg = stream_all(&plain().build().unwrap(), &p)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 3"), "{msg}");
}

#[test]
fn projection_sample_and_optimised_types() {
    let d = tempfile::tempdir().unwrap();
    let mut text = String::from("id,cat,value\n");
    for i in 0..3000 {
        text.push_str(&format!("{i},c{},{}.5\n", i % 4, i));
    }
    let p = write(d.path(), "p.csv", &text);
    let loader = StreamingLoader::builder()
        .projection(["value", "id"])
        .build()
        .unwrap();
    let batches = stream_all(&loader, &p).unwrap();
    let schema = batches[0].schema();
    assert_eq!(schema.field(0).name(), "value");
    assert_eq!(schema.field(1).name(), "id");
    // Optimised by default: ids fit in 16 bits.
    assert_eq!(schema.field(1).data_type(), &DataType::UInt16);
    let (head, meta) = StreamingLoader::builder()
        .build()
        .unwrap()
        .sample(&p, 5)
        .unwrap();
    assert_eq!(head.num_rows(), 5);
    assert_eq!(meta.rows, 5);
    let unknown = StreamingLoader::builder()
        .projection(["nope"])
        .build()
        .unwrap();
    let msg = unknown.stream(&p).unwrap_err().to_string();
    assert!(msg.contains("nope") && msg.contains("cat"), "{msg}");
}

#[test]
fn schema_override() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "s.csv", "a,b\n1,2\n3,4\n");
    let schema = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("a", DataType::Utf8, true),
        arrow::datatypes::Field::new("b", DataType::Float64, true),
    ]));
    let loader = plain()
        .csv(CsvOptions::new().schema(schema.clone()))
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(b[0].schema(), schema);
}

#[test]
fn load_refuses_over_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let text = "a,b\n".to_owned() + &"12345,67890\n".repeat(200_000);
    let p = write(d.path(), "big.csv", &text);
    let small = StreamingLoader::builder()
        .memory_limit(MIB)
        .build()
        .unwrap();
    let err = small.load(&p).unwrap_err();
    assert!(matches!(err, StreamError::TooLarge { .. }));
    assert!(err.to_string().contains("stream"), "{err}");
    let ok = StreamingLoader::builder()
        .build()
        .unwrap()
        .load(&p)
        .unwrap();
    assert_eq!(ok.num_rows(), 200_000);
}

/// Under a memory limit below the process RSS, every chunk asks for a smaller one, down to the floor.
#[test]
fn chunk_size_halves_under_the_limit() {
    let d = tempfile::tempdir().unwrap();
    let text = "a\n".to_owned() + &"1\n".repeat(20_000);
    let p = write(d.path(), "c.csv", &text);
    let loader = plain()
        .chunk_size(4096)
        .min_chunk_size(512)
        .memory_limit(MIB)
        .build()
        .unwrap();
    let sizes: Vec<usize> = loader
        .stream(&p)
        .unwrap()
        .map(|i| i.unwrap().1.chunk_size)
        .collect();
    assert_eq!(sizes.first(), Some(&4096));
    assert!(sizes.windows(2).all(|w| w[1] <= w[0]), "{sizes:?}");
    assert_eq!(sizes.last(), Some(&512), "{sizes:?}");
}
