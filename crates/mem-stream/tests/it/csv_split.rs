//! Record splitting agrees with a one-pass parse: mid-field quotes, quotes after a closing quote,
//! embedded line breaks and CR/LF, streamed with tiny blocks.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use mem_stream::CsvOptions;
use proptest::prelude::*;

use crate::{plain, stream_all, write};

/// One field as written in the file: unquoted text (quotes in it are data unless first), or a
/// quoted section with delimiters, line breaks and doubled quotes, possibly followed by more
/// unquoted bytes (which csv-core keeps as data).
fn field() -> impl Strategy<Value = String> {
    let unquoted = proptest::collection::vec(
        prop_oneof![Just("a"), Just("1"), Just(" "), Just("\""), Just("x\"y")],
        0..4,
    )
    .prop_map(|parts| {
        let s = parts.concat();
        // A leading quote would start a quoted field: keep this one unquoted.
        if s.starts_with('"') {
            format!("u{s}")
        } else {
            s
        }
    });
    let quoted = (
        proptest::collection::vec(
            prop_oneof![
                Just("b"),
                Just(","),
                Just("\n"),
                Just("\r\n"),
                Just("\r"),
                Just("\"\""),
                Just("\t")
            ],
            0..5,
        ),
        proptest::collection::vec(prop_oneof![Just("z"), Just("\""), Just(" ")], 0..3),
    )
        .prop_map(|(inner, tail)| {
            let tail = tail.concat();
            // A quote right after the closing quote would be read as a doubled quote.
            let tail = if tail.starts_with('"') {
                format!("t{tail}")
            } else {
                tail
            };
            format!("\"{}\"{tail}", inner.concat())
        });
    prop_oneof![unquoted, quoted]
}

/// Records of `cols` fields, each ended by LF, CRLF or a lone CR (csv-core ends records on
/// either byte); the last one possibly without a terminator.
fn csv_text() -> impl Strategy<Value = (usize, String)> {
    (2usize..4).prop_flat_map(|cols| {
        let record = (
            proptest::collection::vec(field(), cols),
            prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        );
        (
            Just(cols),
            proptest::collection::vec(record, 1..12),
            any::<bool>(),
        )
            .prop_map(|(cols, records, last_eol)| {
                let n = records.len();
                let mut text = String::new();
                for (i, (fields, eol)) in records.into_iter().enumerate() {
                    text.push_str(&fields.join(","));
                    if i + 1 < n || last_eol {
                        text.push_str(eol);
                    }
                }
                (cols, text)
            })
    })
}

fn utf8_schema(cols: usize) -> SchemaRef {
    Arc::new(Schema::new(
        (0..cols)
            .map(|i| Field::new(format!("c{i}"), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// Every cell, empty strings as nulls (as Arrow's CSV reader gives them).
fn cells(batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
    (0..batch.num_rows())
        .map(|r| {
            batch
                .columns()
                .iter()
                .map(|c| {
                    let s = c.as_string::<i32>();
                    (!arrow::array::Array::is_null(s, r)).then(|| s.value(r).to_owned())
                })
                .collect()
        })
        .collect()
}

/// The `csv` crate's reading of the whole text.
fn csv_crate_cells(text: &str) -> Vec<Vec<Option<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|s| (!s.is_empty()).then(|| s.to_owned()))
                .collect()
        })
        .collect()
}

/// Arrow's CSV reader over the whole text in one go.
fn arrow_cells(text: &str, schema: &SchemaRef) -> Vec<Vec<Option<String>>> {
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(false)
        .build(text.as_bytes())
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    cells(&concat_batches(schema, &batches).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn tiny_blocks_read_like_one_pass((cols, text) in csv_text(), chunk in 1usize..4) {
        let schema = utf8_schema(cols);
        let expected = csv_crate_cells(&text);
        prop_assert_eq!(&arrow_cells(&text, &schema), &expected);

        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "t.csv", &text);
        let loader = plain()
            .chunk_size(chunk)
            .csv(CsvOptions::new().header(false).schema(schema.clone()))
            .build()
            .unwrap();
        let batches = stream_all(&loader, &p).unwrap();
        let streamed = concat_batches(&schema, &batches).unwrap();
        prop_assert_eq!(cells(&streamed), expected);
    }
}

#[test]
fn quotes_inside_unquoted_fields_are_data() {
    let text = "id,size,note\n1,12\" pipe,\"a\nb\"\n2,a\"b,\"c,d\"\n3,x,y\n";
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "q.csv", text);
    let loader = plain().chunk_size(1).build().unwrap();
    let batches = stream_all(&loader, &p).unwrap();
    let schema = loader.stream(&p).unwrap().schema();
    let b = concat_batches(&schema, &batches).unwrap();
    assert_eq!(b.num_rows(), 3);
    let sizes: Vec<&str> = b.column(1).as_string::<i32>().iter().flatten().collect();
    assert_eq!(sizes, ["12\" pipe", "a\"b", "x"]);
    let notes: Vec<&str> = b.column(2).as_string::<i32>().iter().flatten().collect();
    assert_eq!(notes, ["a\nb", "c,d", "y"]);
}

/// The benchmark file (typed columns, quoted text with doubled quotes and line breaks, several
/// read buffers and many blocks) decodes to exactly what arrow-csv makes of it in one pass.
#[cfg(feature = "testdata")]
#[test]
fn benchmark_file_matches_arrow_csv() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bench.csv");
    mem_stream::testdata::write_bench_csv(&p, 40_000, 11).unwrap();
    let loader = plain().build().unwrap();
    let stream = loader.stream(&p).unwrap();
    let schema = stream.source_schema();
    let batches: Vec<RecordBatch> = stream.map(|c| c.unwrap().0).collect();
    assert!(
        batches.len() > 1,
        "one block only: the test would prove little"
    );
    let ours = concat_batches(&schema, &batches).unwrap();
    let reader = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .build(std::fs::File::open(&p).unwrap())
        .unwrap();
    let theirs: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let theirs = concat_batches(&schema, &theirs).unwrap();
    assert_eq!(ours.num_rows(), 40_000);
    assert_eq!(ours, theirs);
}
