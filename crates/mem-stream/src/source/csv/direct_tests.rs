//! The direct decoder against arrow-csv: whenever it decodes a block, arrow-csv decodes the same
//! block to the same batch.

use std::sync::Arc;

use arrow::csv::ReaderBuilder;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;

use super::{Plan, decode, decode_in_slices};
use crate::options::CsvOptions;

/// What `DecodeConfig::decode_inner` does with the block: arrow-csv over all of it.
fn arrow_decode(
    schema: &SchemaRef,
    projection: Option<&[usize]>,
    regex: Option<&regex::Regex>,
    data: &[u8],
) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
    let mut builder = ReaderBuilder::new(schema.clone())
        .with_header(false)
        .with_batch_size(1 << 20);
    if let Some(p) = projection {
        builder = builder.with_projection(p.to_vec());
    }
    if let Some(r) = regex {
        builder = builder.with_null_regex(r.clone());
    }
    let mut decoder = builder.build_decoder();
    let mut pos = 0;
    loop {
        let rest = data.get(pos..).unwrap_or_default();
        let n = decoder.decode(rest)?;
        pos += n;
        if rest.is_empty() || n == 0 {
            break;
        }
    }
    decoder.flush()
}

fn check(schema: &SchemaRef, projection: Option<&[usize]>, nulls: &[&str], data: &[u8]) -> bool {
    let values: Vec<String> = nulls.iter().map(|s| (*s).to_owned()).collect();
    let regex = super::super::decode::null_regex(std::path::Path::new("t.csv"), &values).unwrap();
    let plan = Plan::new(schema, projection, b',', &CsvOptions::default()).unwrap();
    let ours = decode(&plan, regex.as_ref(), data);
    // Slices of a few bytes: records end slices everywhere, the result is the same.
    for slice in [1, 7, 33] {
        let sliced = decode_in_slices(&plan, regex.as_ref(), data, slice);
        assert_eq!(
            sliced,
            ours,
            "slices of {slice}: {:?}",
            String::from_utf8_lossy(data)
        );
    }
    let theirs = arrow_decode(schema, projection, regex.as_ref(), data);
    if let Some(ours) = ours {
        let theirs = theirs.unwrap_or_else(|e| {
            panic!(
                "direct decoded what arrow-csv refuses ({e}): {:?}",
                String::from_utf8_lossy(data)
            )
        });
        assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(data));
        true
    } else {
        false
    }
}

fn schema(types: &[DataType]) -> SchemaRef {
    Arc::new(Schema::new(
        types
            .iter()
            .enumerate()
            .map(|(i, t)| Field::new(format!("c{i}"), t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn bench_types() -> Vec<DataType> {
    vec![
        DataType::Int64,
        DataType::Int64,
        DataType::Int64,
        DataType::Int64,
        DataType::Float64,
        DataType::Float64,
        DataType::Boolean,
        DataType::Utf8,
        DataType::Utf8,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Int64,
        DataType::Utf8,
    ]
}

#[test]
fn bench_shaped_rows_agree() {
    let data = "0,5,123,-999999999999999,12.5,-0.4432118530125361,true,cat_a,Kaloa,2021-03-04T05:06:07,,plain text\r\n\
                1,100,0,1000000000000000,9999.99,1.7976931348623157e308,false,cat_b,\"Mi, ne\",2024-12-31 23:59:59,50000,\"with \"\"quotes\"\", and\nnewline\"\n\
                \n\
                2,0,1,2,0.01,-0,TRUE,,x,2020-01-01T00:00:00.123,7,\"\"\n";
    let s = schema(&bench_types());
    assert!(check(&s, None, &[], data.as_bytes()));
    assert!(check(&s, Some(&[11, 0, 9]), &[], data.as_bytes()));
    assert!(check(&s, None, &["N/A", "x"], data.as_bytes()));
    // Ragged rows, a byte after a closing quote, an open quote: left to arrow-csv.
    assert!(!check(&s, None, &[], b"1,2\n"));
    assert!(!check(&schema(&[DataType::Utf8]), None, &[], b"\"a\"b\n"));
    assert!(!check(&schema(&[DataType::Utf8]), None, &[], b"\"ab\n"));
    // A value that does not parse.
    assert!(!check(&schema(&[DataType::Int64]), None, &[], b"1\nx\n"));
    // Invalid UTF-8.
    assert!(!check(&schema(&[DataType::Utf8]), None, &[], b"\xff\n"));
    // No records.
    assert!(check(&schema(&[DataType::Utf8]), None, &[], b"\n\r\n"));
    // No line break at the end, a delimiter at the end.
    assert!(check(
        &schema(&[DataType::Utf8, DataType::Utf8]),
        None,
        &[],
        b"a,"
    ));
}

fn any_type() -> impl Strategy<Value = DataType> {
    prop::sample::select(vec![
        DataType::Utf8,
        DataType::Int64,
        DataType::UInt64,
        DataType::Float64,
        DataType::Boolean,
        DataType::Date32,
        DataType::Timestamp(TimeUnit::Second, None),
        DataType::Timestamp(TimeUnit::Nanosecond, None),
        DataType::Null,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Blocks of dialect bytes (quotes, delimiters, CR, LF) and values of every kind.
    #[test]
    fn agrees_with_arrow_csv(
        types in prop::collection::vec(any_type(), 1..4),
        pieces in prop::collection::vec(prop::sample::select(vec![
            "", "1", "-7", "2.5", "true", "False", "a", "é", "2020-01-01", "2020-02-30",
            "2021-03-04T05:06:07", "\"", "\"\"", ",", "\n", "\r\n", "\r", " ", "N/A", "1e3",
        ]), 0..40),
        nulls in prop::sample::select(vec![vec![], vec!["N/A"], vec!["a", "1"]]),
    ) {
        let data: String = pieces.concat();
        check(&schema(&types), None, &nulls, data.as_bytes());
    }

    /// Well-formed records of quoted and unquoted text always decode directly.
    #[test]
    fn decodes_well_formed_text(
        rows in prop::collection::vec(prop::collection::vec("[a-c,\" \n\r]{0,6}", 2), 1..20),
        crlf in any::<bool>(),
    ) {
        let mut data = String::new();
        for row in &rows {
            let fields: Vec<String> = row
                .iter()
                .map(|f| if f.contains([',', '"', '\n', '\r']) || f.is_empty() {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                })
                .collect();
            data.push_str(&fields.join(","));
            data.push_str(if crlf { "\r\n" } else { "\n" });
        }
        prop_assert!(check(&schema(&[DataType::Utf8, DataType::Utf8]), None, &[], data.as_bytes()));
    }
}

/// The benchmark CSV (`MEMBOUND_BENCH_CSV=path cargo test -p mem-stream --release --lib
/// bench_file_agrees -- --ignored`), block by block as the splitter cuts it.
#[test]
#[ignore = "needs a generated benchmark CSV"]
fn bench_file_agrees() {
    let Ok(path) = std::env::var("MEMBOUND_BENCH_CSV") else {
        return;
    };
    let file = std::fs::File::open(&path).unwrap();
    let mut splitter = super::super::split::Splitter::new(Box::new(file), b'"', b',', 1 << 24);
    let header = splitter.next_block(1).unwrap().unwrap();
    assert!(header.data().starts_with(b"id,"));
    let s = schema(&bench_types());
    let (mut blocks, mut rows) = (0, 0);
    while let Some(block) = splitter.next_block(10_000).unwrap() {
        assert!(
            check(&s, None, &[], block.data()),
            "block at line {}",
            block.first_line
        );
        blocks += 1;
        rows += block.records;
    }
    assert!(blocks > 0 && rows > 0, "{blocks} blocks, {rows} records");
}
