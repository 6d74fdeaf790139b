use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use arrow::datatypes::DataType;
use proptest::prelude::*;

use super::*;
use crate::{KIB, OptimizeOptions};

/// Options that compress every text column, whatever the ratio.
fn always() -> CompactOptions {
    CompactOptions::default().max_ratio(1e9)
}

fn batch_of(values: &[Option<String>]) -> RecordBatch {
    let utf8 = StringArray::from_iter(values.iter().map(Option::as_deref));
    let large = LargeStringArray::from_iter(values.iter().map(Option::as_deref));
    let view = StringViewArray::from_iter(values.iter().map(Option::as_deref));
    let n = i64::try_from(values.len()).unwrap();
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        ("utf8", Arc::new(utf8) as _),
        ("large", Arc::new(large) as _),
        ("view", Arc::new(view) as _),
    ])
    .unwrap()
}

/// Every value readable alone, the whole batch decoded equal to `batch`.
fn check_round_trip(batch: &RecordBatch, compact: &CompactBatch) {
    assert_eq!(&compact.to_record_batch().unwrap(), batch);
    let mut buf = String::from("stale");
    for col in 1..batch.num_columns() {
        let text = Text::of(batch.column(col).as_ref()).unwrap();
        for row in 0..batch.num_rows() {
            let want = text.get(row);
            assert_eq!(compact.value(col, row).unwrap().as_deref(), want);
            let some = compact.value_into(col, row, &mut buf).unwrap();
            assert_eq!(some, want.is_some());
            assert_eq!(buf, want.unwrap_or(""));
        }
    }
}

fn text_strategy() -> impl Strategy<Value = Vec<Option<String>>> {
    let value = prop_oneof![
        3 => "[a-z ]{0,40}",
        2 => "\\PC{0,20}",
        1 => "(the quick brown fox |jumps over |é ü 日本 🦀 ){0,60}",
        1 => Just(String::new()),
    ];
    proptest::collection::vec(proptest::option::weighted(0.85, value), 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_text_round_trips_through_fsst(values in text_strategy()) {
        let batch = batch_of(&values);
        // No dictionaries first, so that every text column is FSST.
        let compact = CompactBatch::try_new(&batch, &always().optimize(None)).unwrap();
        let any_text = values.iter().flatten().any(|v| !v.is_empty());
        for col in 1..4 {
            prop_assert_eq!(compact.is_compressed(col), any_text);
        }
        check_round_trip(&batch, &compact);
    }

    #[test]
    fn slices_and_default_options_round_trip(values in text_strategy(), a in 0usize..300, b in 0usize..300) {
        let batch = batch_of(&values);
        let (start, end) = (a.min(b).min(values.len()), a.max(b).min(values.len()));
        let slice = batch.slice(start, end - start);
        for opts in [always(), CompactOptions::default(), CompactOptions::default().optimize(None)] {
            let compact = CompactBatch::try_new(&slice, &opts).unwrap();
            check_round_trip(&slice, &compact);
        }
    }

    #[test]
    fn a_table_round_trips_chunk_by_chunk(values in text_strategy(), cut in 0usize..300) {
        let batch = batch_of(&values);
        let cut = cut.min(values.len());
        let mut table = CompactTable::new(batch.schema(), always()).unwrap();
        table.push(&batch.slice(0, cut)).unwrap();
        table.push(&batch.slice(cut, values.len() - cut)).unwrap();
        let decoded: Vec<RecordBatch> = table.record_batches().collect::<Result<_, _>>().unwrap();
        let joined = arrow::compute::concat_batches(&batch.schema(), &decoded).unwrap();
        prop_assert_eq!(&joined, &batch);
        for (row, v) in values.iter().enumerate() {
            let got = table.value(2, row).unwrap();
            prop_assert_eq!(got.as_deref(), v.as_deref());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Decoding skips Arrow's UTF-8 and offset checks (FSST gives back exactly what it was
    /// given): the arrays it builds must pass them all the same.
    #[test]
    fn decoded_text_passes_arrows_full_validation(values in text_strategy()) {
        let batch = batch_of(&values);
        let compact = CompactBatch::try_new(&batch, &always().optimize(None)).unwrap();
        for col in 1..4 {
            let array = compact.column(col).unwrap();
            prop_assert!(array.to_data().validate_full().is_ok());
            prop_assert_eq!(&array, batch.column(col));
        }
        // Rows read backwards into one String (long after short and short after long): each
        // read replaces what the last one left.
        let mut buf = String::from("left over from before");
        for (row, want) in values.iter().enumerate().rev() {
            let some = compact.value_into(1, row, &mut buf).unwrap();
            prop_assert_eq!(some, want.is_some());
            prop_assert_eq!(buf.as_str(), want.as_deref().unwrap_or(""));
        }
    }
}

/// A well-mixed hash of `x` (splitmix64's finaliser).
fn mix(x: usize) -> usize {
    let mut z = (x as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    usize::try_from((z ^ (z >> 31)) >> 8).unwrap()
}

/// Rows `first..first + rows` of sentences from a small vocabulary, like the benchmark's text.
fn sentences(rows: usize, first: usize) -> Vec<Option<String>> {
    let words = [
        "memory", "budget", "stream", "arrow", "column", "symbol", "table", "chunk", "pressure",
        "cache", "text", "compress",
    ];
    (first..first + rows)
        .map(|i| {
            (i % 50 != 7).then(|| {
                let words: Vec<&str> = (0..mix(i) % 30 + 3)
                    .map(|j| words[mix(i * 64 + j) % words.len()])
                    .collect();
                format!("{} #{i}", words.join(" "))
            })
        })
        .collect()
}

#[test]
fn repetitive_text_shrinks_and_memory_counts_every_buffer() {
    let batch = batch_of(&sentences(20_000, 0));
    let compact = CompactBatch::try_new(&batch, &CompactOptions::default()).unwrap();
    let report = compact.report();
    for col in &report.columns[1..] {
        assert_eq!(col.encoding, CompactEncoding::Fsst, "{col:?}");
        assert!(col.ratio() < 0.5, "{col:?}");
        // Codes + offsets (4 bytes a row) + the table, at least.
        assert!(col.compact_bytes >= col.code_bytes + 4 * 20_000 + col.symbol_table_bytes);
        assert_eq!(col.symbol_table_bytes, SYMBOL_TABLE_BYTES as u64);
        assert_eq!(col.trainings, 1);
    }
    let columns: u64 = report.columns.iter().map(|c| c.compact_bytes).sum();
    assert_eq!(report.compact_bytes, compact.memory_size());
    assert_eq!(columns, compact.memory_size());
    assert!(report.ratio() < 0.5);
    check_round_trip(&batch, &compact);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["columns"][1]["encoding"], "fsst");
    assert_eq!(json["columns"][0]["encoding"], "arrow");
    assert_eq!(json["columns"][0]["stored_type"], "UInt16");
    let back: CompactReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
    assert!(report.to_string().contains("fsst"));
}

#[test]
fn text_that_does_not_compress_stays_plain() {
    // Random letters and digits, like hashes or tokens: FSST finds nothing to share.
    let alphabet: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    let values: Vec<Option<String>> = (0..2_000)
        .map(|_| {
            Some(
                (0..32)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[usize::try_from(x % 62).unwrap()]
                    })
                    .collect(),
            )
        })
        .collect();
    let batch = batch_of(&values);
    let compact = CompactBatch::try_new(&batch, &CompactOptions::default()).unwrap();
    for col in 1..4 {
        assert!(!compact.is_compressed(col));
    }
    assert_eq!(compact.report().columns[1].encoding, CompactEncoding::Arrow);
    check_round_trip(&batch, &compact);
}

#[test]
fn edge_batches_round_trip() {
    for values in [
        vec![],
        vec![None; 10],
        vec![Some(String::new()); 10],
        vec![Some("x".repeat(100_000)), None, Some(String::new())],
    ] {
        let batch = batch_of(&values);
        for opts in [always(), CompactOptions::default()] {
            let compact = CompactBatch::try_new(&batch, &opts).unwrap();
            check_round_trip(&batch, &compact);
        }
    }
}

#[test]
fn dictionary_and_non_text_columns() {
    let kinds = StringArray::from_iter((0..1000).map(|i| (i % 9 != 0).then(|| ["a", "b"][i % 2])));
    let batch = RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(Int64Array::from_iter_values(0..1000)) as ArrayRef,
        ),
        ("kind", Arc::new(kinds) as _),
    ])
    .unwrap();
    let compact = CompactBatch::try_new(&batch, &CompactOptions::default()).unwrap();
    assert!(matches!(
        compact.report().columns[1].stored_type,
        DataType::Dictionary(_, _)
    ));
    assert_eq!(compact.value(1, 1).unwrap().as_deref(), Some("b"));
    assert_eq!(compact.value(1, 9).unwrap(), None);
    assert!(matches!(
        compact.value(0, 1),
        Err(OptimizeError::Unsupported { .. })
    ));
    assert!(matches!(
        compact.value(2, 0),
        Err(OptimizeError::OutOfRange { what: "column", .. })
    ));
    assert!(matches!(
        compact.value(1, 1000),
        Err(OptimizeError::OutOfRange { what: "row", .. })
    ));
    assert!(compact.column(5).is_err());
    assert_eq!(compact.to_record_batch().unwrap(), batch);
}

#[test]
fn a_table_reuses_its_symbol_table_and_retrains_on_drift() {
    let schema = batch_of(&[]).schema();
    let mut table = CompactTable::new(schema, CompactOptions::default()).unwrap();
    table.push(&batch_of(&sentences(5_000, 0))).unwrap();
    table.push(&batch_of(&sentences(5_000, 5_000))).unwrap();
    let report = table.report();
    assert_eq!(report.columns[1].trainings, 1);
    assert_eq!(
        report.columns[1].symbol_table_bytes,
        SYMBOL_TABLE_BYTES as u64
    );
    // Different text: the old table compresses it badly, so the column is retrained.
    let other: Vec<Option<String>> = (0..5_000)
        .map(|i| Some(format!("{i:08x}-zq{}-{:x}", i * 7919, i * 104_729)))
        .collect();
    table.push(&batch_of(&other)).unwrap();
    let report = table.report();
    assert_eq!(report.columns[1].trainings, 2);
    assert_eq!(report.rows, 15_000);
    assert_eq!(report.compact_bytes, table.memory_size());
    assert_eq!(
        table.value(1, 10_001).unwrap().as_deref(),
        other[1].as_deref()
    );
    assert!(table.value(1, 15_000).is_err());
    let wrong = RecordBatch::try_from_iter([(
        "id",
        Arc::new(Int64Array::from_iter_values(0..3)) as ArrayRef,
    )])
    .unwrap();
    assert!(matches!(
        table.push(&wrong),
        Err(OptimizeError::SchemaMismatch { chunk_index: 3, .. })
    ));
}

#[test]
fn options_are_checked_at_once() {
    let bad = CompactOptions::default()
        .sample_bytes(10)
        .max_ratio(f64::NAN)
        .retrain_drift(-1.0);
    let err = CompactTable::new(batch_of(&[]).schema(), bad)
        .unwrap_err()
        .to_string();
    for setting in ["sample_bytes", "max_ratio", "retrain_drift"] {
        assert!(err.contains(setting), "{err}");
    }
    let ok = CompactOptions::new()
        .sample_bytes(KIB)
        .optimize(Some(OptimizeOptions::none()));
    assert!(ok.validate().is_ok());
}

#[test]
fn the_sample_is_bounded_by_bytes() {
    let values: Vec<Option<String>> = (0..50_000)
        .map(|i| Some(format!("{i} ").repeat(200)))
        .collect();
    let array = StringArray::from_iter(values.iter().map(Option::as_deref));
    let text = Text::of(&array).unwrap();
    let plain = (0..array.len()).map(|i| array.value(i).len()).sum();
    let sample = text::sample(text, plain, 4 * KIB as usize);
    let bytes: usize = sample.iter().map(|v| v.len()).sum();
    assert!(bytes <= 4 * KIB as usize);
    assert!(sample.capacity() <= 4096);
    assert!(sample.iter().all(|v| v.len() <= 512));
}
