//! CSV memory bounds: chunks cut by bytes as well as rows, inference bounded by bytes, records
//! and column counts over the budget refused with an error naming them.

use mem_stream::{CsvOptions, MIB, StreamError, StreamingLoader};

use crate::{plain, rows, stream_all, write};

/// `n` rows of about `width` bytes each, after an `id,text` header.
fn wide_rows(n: usize, width: usize) -> String {
    let mut text = String::from("id,text\n");
    for i in 0..n {
        text.push_str(&format!("{i},{}\n", "x".repeat(width)));
    }
    text
}

#[test]
fn chunks_are_cut_by_bytes_as_well_as_rows() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "wide.csv", wide_rows(60, 100_000));
    // A 16 MB limit cuts chunks at 1 MiB: a block is cut once its decoding could cost that,
    // about three times its text.
    let loader = plain()
        .chunk_size(10_000)
        .memory_limit(16 * MIB)
        .build()
        .unwrap();
    assert_eq!(loader.chunk_bytes(), 1 << 20);
    let mut stream = loader.stream(&p).unwrap();
    let mut total = 0;
    let mut chunks = 0;
    for item in stream.by_ref() {
        let (b, m) = item.unwrap();
        assert!(b.num_rows() <= 4, "{} rows in one chunk", b.num_rows());
        assert!(m.bytes <= 1 << 20, "{} bytes", m.bytes);
        total += b.num_rows();
        chunks += 1;
    }
    assert_eq!(total, 60);
    assert!(chunks >= 15, "{chunks} chunks");
    // Rows still bound small rows: the byte cut only ever makes chunks smaller.
    let p = write(d.path(), "narrow.csv", wide_rows(1000, 10));
    let b = stream_all(&plain().chunk_size(300).build().unwrap(), &p).unwrap();
    assert_eq!(
        b.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        [300, 300, 300, 100]
    );
}

#[test]
fn a_record_over_the_budget_is_an_error_naming_its_line() {
    let d = tempfile::tempdir().unwrap();
    let mut text = wide_rows(3, 10);
    text.push_str(&format!("3,{}\n", "y".repeat(300_000)));
    text.push_str("4,z\n");
    let p = write(d.path(), "long.csv", &text);
    // A 1 MB limit grants one record 64 KiB, its decoding included.
    let small = plain().memory_limit(MIB).build().unwrap();
    for e in [
        stream_all(&small, &p).unwrap_err(),
        small.sample(&p, 100).unwrap_err(),
    ] {
        assert!(matches!(e, StreamError::OverBudget { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("long.csv: line 5: a record of more than")
                && msg.contains("1 MB memory limit"),
            "{msg}"
        );
    }
    // The same file under the default limit reads whole.
    let b = stream_all(&plain().build().unwrap(), &p).unwrap();
    assert_eq!(rows(&b), 5);
    // The options' own maximum still applies, with its own message.
    let capped = plain()
        .csv(CsvOptions::new().max_record_bytes(100_000))
        .build()
        .unwrap();
    let e = stream_all(&capped, &p).unwrap_err().to_string();
    assert!(
        e.contains("line 5") && e.contains("longer than 100000 bytes"),
        "{e}"
    );
}

#[test]
fn too_many_columns_are_refused_before_any_row_is_read() {
    let d = tempfile::tempdir().unwrap();
    let n = 5000;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let row: Vec<&str> = vec!["1"; n];
    let p = write(
        d.path(),
        "many.csv",
        format!("{}\n{}\n", header.join(","), row.join(",")),
    );
    // 4 MB: a chunk's share of 256 KiB holds 128 columns at 2 KiB each.
    let small = plain().memory_limit(4 * MIB).build().unwrap();
    let e = small.stream(&p).unwrap_err();
    assert!(matches!(e, StreamError::OverBudget { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("reading 5000 columns") && msg.contains("--columns"),
        "{msg}"
    );
    let b = stream_all(&plain().build().unwrap(), &p).unwrap();
    assert_eq!((rows(&b), b[0].num_columns()), (1, n));
}

#[test]
fn inference_stops_at_its_bytes() {
    let d = tempfile::tempdir().unwrap();
    let mut text = String::from("n\n");
    for i in 0..2000 {
        text.push_str(&format!("{i}\n"));
    }
    text.push_str("not a number\n");
    let p = write(d.path(), "late.csv", &text);
    // The whole file is within the default 10,000 rows and 16 MiB: the text column is seen.
    let b = stream_all(&plain().build().unwrap(), &p).unwrap();
    assert_eq!(rows(&b), 2001);
    // 1 KiB of inference sees a few hundred numbers only.
    let opts = CsvOptions::new().inference_bytes(1024);
    let loader = plain().csv(opts).build().unwrap();
    let e = stream_all(&loader, &p).unwrap_err();
    let StreamError::CsvValue {
        line,
        inference_rows,
        ..
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(*line, 2002);
    assert!((100..1000).contains(inference_rows), "{e}");
}

#[test]
fn a_sample_holds_at_most_a_chunk_of_bytes() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "many_rows.csv", wide_rows(50_000, 40));
    let loader = plain().memory_limit(16 * MIB).build().unwrap();
    let (b, meta) = loader.sample(&p, 10_000_000).unwrap();
    assert!(
        b.num_rows() > 1000 && b.num_rows() < 50_000,
        "{}",
        b.num_rows()
    );
    assert!(meta.progress < 1.0);
    assert!(
        mem_optimize::batch_memory_size(&b) as u64 <= 2 * loader.chunk_bytes(),
        "{}",
        mem_optimize::batch_memory_size(&b)
    );
    // A small sample is exact.
    let (b, _) = loader.sample(&p, 10).unwrap();
    assert_eq!(b.num_rows(), 10);
}

#[test]
fn streams_stay_exact_when_cut_by_bytes() {
    let d = tempfile::tempdir().unwrap();
    let mut text = String::from("id,text,v\n");
    for i in 0..3000 {
        let w = if i % 97 == 0 { 20_000 } else { 5 };
        text.push_str(&format!("{i},\"{}\n{}\",{}\n", "a".repeat(w), i, i * 2));
    }
    let p = write(d.path(), "mixed.csv", &text);
    let loader = StreamingLoader::builder()
        .memory_limit(4 * MIB)
        .build()
        .unwrap();
    let b = stream_all(&loader, &p).unwrap();
    assert_eq!(rows(&b), 3000);
    let all = arrow::compute::concat_batches(&b[0].schema(), &b).unwrap();
    let ids = arrow::compute::cast(all.column(0), &arrow::datatypes::DataType::Int64).unwrap();
    let ids = ids
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap();
    assert!(ids.values().iter().copied().eq(0..3000));
}
