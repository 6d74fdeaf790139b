//! optimize_batch: value-preserving on random batches; the expected types on known data.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use mem_optimize::{DictionaryThreshold, OptimizeError, OptimizeOptions, optimize_batch};
use proptest::prelude::*;

use crate::strategies;

/// Casting every output column back to the input type gives the input, values and nulls.
pub fn assert_round_trips(input: &RecordBatch, output: &RecordBatch) {
    assert_eq!(input.num_rows(), output.num_rows());
    assert_eq!(input.num_columns(), output.num_columns());
    for (i, (a, b)) in input.columns().iter().zip(output.columns()).enumerate() {
        let back = cast(b, a.data_type()).expect("cast back");
        assert_eq!(
            back.to_data(),
            a.to_data(),
            "column {i}: {} -> {}",
            a.data_type(),
            b.data_type()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn optimized_batches_round_trip(batch in strategies::batch()) {
        let (out, report) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
        assert_round_trips(&batch, &out);
        prop_assert_eq!(report.columns.len(), batch.num_columns());
        for (c, f) in report.columns.iter().zip(out.schema().fields()) {
            prop_assert_eq!(&c.type_after, f.data_type());
        }
        // Lossless options never widen a column.
        for (a, b) in batch.columns().iter().zip(out.columns()) {
            if a.data_type().is_primitive() {
                prop_assert!(b.data_type().primitive_width() <= a.data_type().primitive_width());
            }
        }
    }

    #[test]
    fn tighter_and_signed_options_round_trip(batch in strategies::batch()) {
        for opts in [OptimizeOptions::default().tighter(), OptimizeOptions::default().allow_unsigned(false)] {
            let (out, _) = optimize_batch(&batch, &opts).unwrap();
            assert_round_trips(&batch, &out);
        }
    }

    #[test]
    fn lossy_floats_stay_within_tolerance(v in proptest::collection::vec(-1e30f64..1e30, 1..100)) {
        let batch = RecordBatch::try_from_iter([("f", Arc::new(Float64Array::from(v.clone())) as ArrayRef)]).unwrap();
        let (out, _) = optimize_batch(&batch, &OptimizeOptions::default().lossy_float(Some(1e-6))).unwrap();
        prop_assert_eq!(out.column(0).data_type(), &DataType::Float32);
        let back = cast(out.column(0), &DataType::Float64).unwrap();
        let back = back.as_any().downcast_ref::<Float64Array>().unwrap();
        for (a, b) in v.iter().zip(back.values()) {
            prop_assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0));
        }
    }
}

fn bench_like(rows: usize) -> RecordBatch {
    let ids = Int64Array::from_iter_values(0..rows as i64);
    let small = Int64Array::from_iter((0..rows).map(|i| (i % 7 != 0).then_some((i % 120) as i64)));
    let price = Float64Array::from_iter_values((0..rows).map(|i| (i % 1000) as f64 * 0.25));
    let ratio = Float64Array::from_iter_values((0..rows).map(|i| i as f64 / 3.0));
    let cat =
        StringArray::from_iter_values((0..rows).map(|i| ["north", "south", "east", "west"][i % 4]));
    let city = LargeStringArray::from_iter_values((0..rows).map(|i| format!("city-{}", i % 300)));
    let text =
        StringArray::from_iter_values((0..rows).map(|i| format!("free text number {i}, quoted")));
    let flag = BooleanArray::from_iter((0..rows).map(|i| Some(i % 2 == 0)));
    let day = Date32Array::from_iter_values((0..rows).map(|i| (i % 365) as i32));
    RecordBatch::try_from_iter([
        ("id", Arc::new(ids) as ArrayRef),
        ("small", Arc::new(small) as _),
        ("price", Arc::new(price) as _),
        ("ratio", Arc::new(ratio) as _),
        ("category", Arc::new(cat) as _),
        ("city", Arc::new(city) as _),
        ("text", Arc::new(text) as _),
        ("flag", Arc::new(flag) as _),
        ("day", Arc::new(day) as _),
    ])
    .unwrap()
}

#[test]
fn bench_like_schema_gets_expected_types() {
    let batch = bench_like(20_000);
    let (out, report) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
    let types: Vec<String> = out
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "UInt16",
            "UInt8",
            "Float32",
            "Float64",
            "Dictionary(Int8, Utf8)",
            "Dictionary(Int16, LargeUtf8)",
            "Utf8",
            "Boolean",
            "Date32",
        ]
    );
    assert_round_trips(&batch, &out);
    assert!(out.column(1).null_count() > 0);
    // Non-text columns shrink a lot; the text column does not shrink by type.
    let text = report.columns.iter().find(|c| c.name == "text").unwrap();
    assert_eq!(text.bytes_before, text.bytes_after);
    let id = &report.columns[0];
    assert!(id.bytes_after * 3 < id.bytes_before, "{id:?}");
    assert!(report.bytes_after < report.bytes_before);
    assert!(report.reduction_fraction() > 0.2 && report.reduction_fraction() < 1.0);
    let table = report.to_string();
    assert!(
        table.contains("Dictionary(Int8, Utf8)") && table.contains("total"),
        "{table}"
    );
}

#[test]
fn options_turn_steps_off() {
    let batch = bench_like(1_000);
    let (out, report) = optimize_batch(&batch, &OptimizeOptions::none()).unwrap();
    assert_eq!(out.schema(), batch.schema());
    assert!(report.columns.iter().all(|c| !c.changed()));
    let opts = OptimizeOptions::default().dictionary_threshold(DictionaryThreshold::Distinct(3));
    let (out, _) = optimize_batch(&batch, &opts).unwrap();
    assert_eq!(
        out.schema().field(4).data_type(),
        &DataType::Utf8,
        "4 categories > 3"
    );
}

#[test]
fn invalid_options_and_empty_batches() {
    let batch = bench_like(10);
    let bad = OptimizeOptions::default().lossy_float(Some(-1.0));
    assert!(matches!(
        optimize_batch(&batch, &bad),
        Err(OptimizeError::InvalidConfig(_))
    ));
    let empty = batch.slice(0, 0);
    let (out, report) = optimize_batch(&empty, &OptimizeOptions::default()).unwrap();
    assert_eq!(out.num_rows(), 0);
    assert_eq!(report.columns.len(), 9);
    let no_columns = RecordBatch::new_empty(Arc::new(arrow::datatypes::Schema::empty()));
    assert_eq!(
        optimize_batch(&no_columns, &OptimizeOptions::default())
            .unwrap()
            .0
            .num_columns(),
        0
    );
}

#[test]
fn sliced_input_is_optimized_by_its_own_values() {
    let batch = bench_like(10_000).slice(100, 50);
    let (out, report) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
    assert_eq!(
        out.schema().field(0).data_type(),
        &DataType::UInt8,
        "ids 100..150"
    );
    assert_round_trips(&batch, &out);
    // The slice holds the whole parent's buffers; a cast column only its own rows, while an
    // unchanged column is shared with the input, not copied.
    let id = &report.columns[0];
    assert!(id.bytes_after * 10 < id.bytes_before, "{id:?}");
    let text = report.columns.iter().find(|c| c.name == "text").unwrap();
    assert_eq!(text.bytes_after, text.bytes_before);
}
