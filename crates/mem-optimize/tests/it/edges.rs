//! Edge cases of the value-preserving transforms: type extremes, float bit patterns, sliced
//! inputs with offsets and nulls, all-null and empty columns, types that must be left alone.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, DictionaryArray, Float64Array, Int8Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int8Type, Int32Type};
use mem_optimize::{
    ArrayTarget, NumericType, NumericVec, OptimizeOptions, StreamOptimizer, optimize_array,
    optimize_arrow_array, optimize_batch,
};
use proptest::prelude::*;

use crate::batch::assert_round_trips;
use crate::strategies;

fn one(name: &str, col: ArrayRef) -> RecordBatch {
    RecordBatch::try_from_iter([(name, col)]).unwrap()
}

fn optimized_type(col: ArrayRef) -> DataType {
    let batch = one("c", col);
    let (out, _) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
    assert_round_trips(&batch, &out);
    out.schema().field(0).data_type().clone()
}

#[test]
fn integer_extremes_keep_their_type_or_narrow_exactly() {
    let t = |v: Vec<Option<i64>>| optimized_type(Arc::new(Int64Array::from(v)));
    assert_eq!(t(vec![Some(i64::MIN), Some(i64::MAX)]), DataType::Int64);
    assert_eq!(t(vec![Some(i64::MIN), None]), DataType::Int64);
    assert_eq!(t(vec![Some(0), Some(i64::MAX)]), DataType::Int64);
    assert_eq!(
        t(vec![Some(i64::from(i32::MIN)), Some(i64::from(i32::MAX))]),
        DataType::Int32
    );
    assert_eq!(
        t(vec![Some(i64::from(i32::MIN) - 1), Some(0)]),
        DataType::Int64
    );
    assert_eq!(t(vec![Some(-128), Some(127)]), DataType::Int8);
    assert_eq!(t(vec![Some(-129), Some(127)]), DataType::Int16);
    assert_eq!(t(vec![Some(0), Some(255)]), DataType::UInt8);
    assert_eq!(t(vec![Some(0), Some(256)]), DataType::UInt16);
    assert_eq!(
        t(vec![Some(0), Some(i64::from(u32::MAX))]),
        DataType::UInt32
    );

    let u = |v: Vec<Option<u64>>| optimized_type(Arc::new(UInt64Array::from(v)));
    // Above i64::MAX: only UInt64 holds it, and it must never go through a signed type.
    assert_eq!(u(vec![Some(u64::MAX), Some(0)]), DataType::UInt64);
    assert_eq!(u(vec![Some(i64::MAX as u64 + 1), None]), DataType::UInt64);
    assert_eq!(u(vec![Some(u64::from(u32::MAX))]), DataType::UInt32);
    assert_eq!(u(vec![Some(255), None]), DataType::UInt8);
}

#[test]
fn float_bit_patterns_decide_f32() {
    let t = |v: Vec<Option<f64>>| optimized_type(Arc::new(Float64Array::from(v)));
    // -0.0, infinities, the canonical NaN and f32's extremes survive f64 -> f32 -> f64.
    assert_eq!(
        t(vec![
            Some(-0.0),
            Some(0.0),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(f64::NAN),
            Some(f64::from(f32::MAX)),
            Some(f64::from(f32::MIN_POSITIVE)),
            None,
        ]),
        DataType::Float32
    );
    // A NaN whose payload lives in the low mantissa bits is lost by f32: kept as Float64.
    let odd_nan = f64::from_bits(0x7ff8_0000_0000_0001);
    assert!(odd_nan.is_nan());
    assert_eq!(t(vec![Some(odd_nan)]), DataType::Float64);
    // Just beyond f32's range, the smallest f64 subnormal, and 0.1: not exact in f32.
    assert_eq!(t(vec![Some(f64::from(f32::MAX) * 2.0)]), DataType::Float64);
    assert_eq!(t(vec![Some(f64::from_bits(1))]), DataType::Float64);
    assert_eq!(t(vec![Some(0.1)]), DataType::Float64);
    // -0.0 keeps its sign bit through the round trip.
    let batch = one("f", Arc::new(Float64Array::from(vec![-0.0, 1.5])));
    let (out, _) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
    let back = arrow::compute::cast(out.column(0), &DataType::Float64).unwrap();
    let back = back.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(back.value(0).to_bits(), (-0.0f64).to_bits());
}

#[test]
fn all_null_and_empty_columns_round_trip() {
    let nulls = RecordBatch::try_from_iter([
        (
            "i",
            Arc::new(Int64Array::from(vec![None::<i64>; 5])) as ArrayRef,
        ),
        ("u", Arc::new(UInt64Array::from(vec![None::<u64>; 5])) as _),
        ("f", Arc::new(Float64Array::from(vec![None::<f64>; 5])) as _),
        ("s", Arc::new(StringArray::from(vec![None::<&str>; 5])) as _),
    ])
    .unwrap();
    let (out, _) = optimize_batch(&nulls, &OptimizeOptions::default()).unwrap();
    assert_round_trips(&nulls, &out);
    assert!(out.columns().iter().all(|c| c.null_count() == 5));
    let (empty, _) = optimize_batch(&nulls.slice(0, 0), &OptimizeOptions::default()).unwrap();
    assert_round_trips(&nulls.slice(0, 0), &empty);

    // A stream whose first chunk is all null must still take any later values.
    let mut s = StreamOptimizer::new(OptimizeOptions::default());
    let (first, _) = s.push(&nulls).unwrap();
    let values = RecordBatch::try_from_iter([
        (
            "i",
            Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(i64::MAX)])) as ArrayRef,
        ),
        (
            "u",
            Arc::new(UInt64Array::from(vec![Some(u64::MAX), None, Some(0)])) as _,
        ),
        (
            "f",
            Arc::new(Float64Array::from(vec![Some(0.1), None, None])) as _,
        ),
        (
            "s",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("b")])) as _,
        ),
    ])
    .unwrap();
    let (second, _) = s.push(&values).unwrap();
    assert_round_trips(&values, &s.conform(&second).unwrap());
    assert_round_trips(&nulls, &s.conform(&first).unwrap());
}

#[test]
fn dictionary_nested_and_other_types_are_left_alone() {
    let dict: DictionaryArray<Int8Type> = vec!["a", "b", "a"].into_iter().collect();
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1), None]),
        None,
        Some(vec![]),
    ]);
    let inner: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
    let strukt = StructArray::from(vec![(
        Arc::new(Field::new("x", DataType::Int64, false)),
        inner,
    )]);
    let batch = RecordBatch::try_from_iter([
        ("d", Arc::new(dict) as ArrayRef),
        ("l", Arc::new(list) as _),
        ("s", Arc::new(strukt) as _),
    ])
    .unwrap();
    let (out, report) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
    assert_eq!(out.schema(), batch.schema());
    assert!(report.columns.iter().all(|c| !c.changed()));
    assert_round_trips(&batch, &out);
}

#[test]
fn optimize_array_extremes() {
    assert_eq!(
        optimize_array(&[i64::MIN, i64::MAX], ArrayTarget::Narrowest).unwrap(),
        NumericVec::I64(vec![i64::MIN, i64::MAX])
    );
    assert_eq!(
        optimize_array(&[u64::MAX, 0], ArrayTarget::Narrowest).unwrap(),
        NumericVec::U64(vec![u64::MAX, 0])
    );
    assert_eq!(
        optimize_array(&[-0.0f64], ArrayTarget::Narrowest).unwrap(),
        NumericVec::F32(vec![-0.0])
    );
    assert_eq!(
        optimize_array::<i64>(&[], ArrayTarget::Narrowest).unwrap(),
        NumericVec::I8(vec![])
    );
    // u64 above i64::MAX does not fit i64; i64::MIN does not fit any unsigned type.
    assert!(optimize_array(&[u64::MAX], ArrayTarget::Exact(NumericType::I64)).is_err());
    assert!(optimize_array(&[i64::MIN], ArrayTarget::Exact(NumericType::U64)).is_err());
    assert!(optimize_array(&[i64::MIN], ArrayTarget::Lossy(NumericType::U64)).is_err());
    // 2^53 + 1 has no exact f64; NaN and -0.0 have no exact integer.
    assert!(optimize_array(&[(1i64 << 53) + 1], ArrayTarget::Exact(NumericType::F64)).is_err());
    assert!(optimize_array(&[f64::NAN], ArrayTarget::Lossy(NumericType::I32)).is_err());
    assert!(optimize_array(&[-0.0f64], ArrayTarget::Exact(NumericType::I32)).is_err());
    // A NaN payload survives f32 -> f64 exactly.
    let nan = f32::from_bits(0x7fc0_1234);
    match optimize_array(&[nan], ArrayTarget::Exact(NumericType::F64)).unwrap() {
        NumericVec::F64(v) => assert_eq!(
            v.first().map(|x| (*x as f32).to_bits()),
            Some(nan.to_bits())
        ),
        other => panic!("{other:?}"),
    }
    // Sliced Arrow input with nulls: offsets respected, nulls kept.
    let a = Int64Array::from(vec![Some(1_000_000), None, Some(-3), Some(100), None]).slice(1, 3);
    let out = optimize_arrow_array(&a, ArrayTarget::Narrowest).unwrap();
    assert_eq!(out.data_type(), &DataType::Int8);
    let out = out.as_any().downcast_ref::<Int8Array>().unwrap();
    assert_eq!(
        out.iter().collect::<Vec<_>>(),
        vec![None, Some(-3), Some(100)]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Slices of random batches (non-zero offsets into shared buffers and null bitmaps) are
    /// optimized by their own values and round-trip exactly.
    #[test]
    fn sliced_batches_round_trip(batch in strategies::batch(), a in 0usize..200, b in 0usize..200) {
        let rows = batch.num_rows();
        let offset = a.min(rows);
        let len = b.min(rows - offset);
        let slice = batch.slice(offset, len);
        for opts in [OptimizeOptions::default(), OptimizeOptions::default().tighter()] {
            let (out, _) = optimize_batch(&slice, &opts).unwrap();
            assert_round_trips(&slice, &out);
        }
    }

    /// A stream of slices of one batch round-trips after conform.
    #[test]
    fn stream_of_slices_round_trips(batch in strategies::batch(), cuts in proptest::collection::vec(0usize..200, 0..4)) {
        let rows = batch.num_rows();
        let mut points: Vec<usize> = cuts.into_iter().map(|c| c.min(rows)).collect();
        points.push(0);
        points.push(rows);
        points.sort_unstable();
        let mut stream = StreamOptimizer::new(OptimizeOptions::default());
        let mut outs = Vec::new();
        for w in points.windows(2) {
            let chunk = batch.slice(w[0], w[1] - w[0]);
            let (out, _) = stream.push(&chunk).unwrap();
            outs.push((chunk, out));
        }
        for (chunk, out) in &outs {
            assert_round_trips(chunk, &stream.conform(out).unwrap());
        }
    }
}
