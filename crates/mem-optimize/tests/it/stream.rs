//! StreamOptimizer: one schema, only widening, exact conform; on known and random chunk sequences.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use mem_optimize::{OptimizeError, OptimizeOptions, StreamOptimizer};
use proptest::prelude::*;

use crate::batch::assert_round_trips;
use crate::strategies;

fn ints(v: Vec<i64>) -> RecordBatch {
    RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(v)) as _)]).unwrap()
}

#[test]
fn widens_integers_and_conforms() {
    let mut s = StreamOptimizer::new(OptimizeOptions::default().allow_unsigned(false));
    let (a, w) = s.push(&ints(vec![1, 2])).unwrap();
    assert!(w.is_none());
    assert_eq!(a.schema().field(0).data_type(), &DataType::Int8);
    let (b, w) = s.push(&ints(vec![1, 300])).unwrap();
    assert_eq!(w.unwrap().to, DataType::Int16);
    let (c, w) = s.push(&ints(vec![5])).unwrap();
    assert!(w.is_none(), "never narrows");
    assert_eq!(c.schema().field(0).data_type(), &DataType::Int16);
    assert_eq!(s.conform(&a).unwrap().schema(), s.schema().unwrap());
    assert_eq!(s.conform(&b).unwrap(), b);
    assert_eq!(s.widenings().len(), 1);
}

#[test]
fn unsigned_to_signed_widens_to_cover() {
    let mut s = StreamOptimizer::new(OptimizeOptions::default());
    let (a, _) = s.push(&ints(vec![0, 200])).unwrap();
    assert_eq!(a.schema().field(0).data_type(), &DataType::UInt8);
    let (_, w) = s.push(&ints(vec![-1])).unwrap();
    assert_eq!(w.unwrap().to, DataType::Int16);
    let back = s.conform(&a).unwrap();
    let col = back
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int16Array>()
        .unwrap();
    assert_eq!(col.values().as_ref(), &[0, 200]);
}

#[test]
fn strings_and_floats_widen() {
    let batch = |s: Vec<String>, f: Vec<f64>| {
        RecordBatch::try_from_iter([
            ("s", Arc::new(StringArray::from(s)) as _),
            ("f", Arc::new(Float64Array::from(f)) as _),
        ])
        .unwrap()
    };
    let mut s = StreamOptimizer::new(OptimizeOptions::default());
    let few: Vec<String> = (0..100).map(|i| format!("c{}", i % 3)).collect();
    let (a, _) = s.push(&batch(few, vec![0.5; 100])).unwrap();
    assert!(
        matches!(a.schema().field(0).data_type(), DataType::Dictionary(k, _) if **k == DataType::Int8)
    );
    assert_eq!(a.schema().field(1).data_type(), &DataType::Float32);
    let more: Vec<String> = (0..1000).map(|i| format!("c{}", i % 300)).collect();
    let (_, w) = s.push(&batch(more, vec![0.5; 1000])).unwrap();
    assert_eq!(
        w.unwrap().to,
        DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8))
    );
    let unique: Vec<String> = (0..1000).map(|i| format!("u{i}")).collect();
    let (c, w) = s.push(&batch(unique, vec![0.1; 1000])).unwrap();
    assert!(w.is_some());
    assert_eq!(s.last_widenings().len(), 2);
    assert_eq!(c.schema().field(0).data_type(), &DataType::Utf8);
    assert_eq!(c.schema().field(1).data_type(), &DataType::Float64);
    let a2 = s.conform(&a).unwrap();
    assert_eq!(a2.schema(), c.schema());
    assert_eq!(a2.column(0).len(), 100);
}

#[test]
fn short_last_chunk_keeps_dictionary() {
    let strings = |v: Vec<String>| {
        RecordBatch::try_from_iter([("s", Arc::new(StringArray::from(v)) as _)]).unwrap()
    };
    let mut s = StreamOptimizer::new(OptimizeOptions::default());
    s.push(&strings(
        (0..1000).map(|i| format!("c{}", i % 10)).collect(),
    ))
    .unwrap();
    let (_, w) = s
        .push(&strings(vec!["x".into(), "y".into(), "z".into()]))
        .unwrap();
    assert!(w.is_none(), "{w:?}");
    let (_, w) = s
        .push(&strings((0..1000).map(|i| format!("u{i}")).collect()))
        .unwrap();
    assert_eq!(w.unwrap().to, DataType::Utf8);
}

#[test]
fn rejects_other_schema() {
    let mut s = StreamOptimizer::new(OptimizeOptions::default());
    s.push(&ints(vec![1])).unwrap();
    let other =
        RecordBatch::try_from_iter([("m", Arc::new(Int64Array::from(vec![1])) as _)]).unwrap();
    let err = s.push(&other).unwrap_err();
    assert!(
        matches!(err, OptimizeError::SchemaMismatch { chunk_index: 1, .. }),
        "{err}"
    );
    assert!(s.conform(&other).is_err());
    assert!(
        StreamOptimizer::new(OptimizeOptions::default())
            .conform(&other)
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn all_outputs_conform_and_round_trip(chunks in strategies::chunks()) {
        let mut stream = StreamOptimizer::new(OptimizeOptions::default());
        let mut outputs: Vec<RecordBatch> = Vec::new();
        let mut reported = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            let before = stream.schema();
            let (out, widening) = stream.push(chunk).unwrap();
            prop_assert_eq!(out.schema(), stream.schema().unwrap());
            // A schema never changes silently.
            if let Some(before) = before {
                let changed = before != out.schema();
                prop_assert_eq!(changed, widening.is_some());
                prop_assert_eq!(changed, !stream.last_widenings().is_empty());
                for w in stream.last_widenings() {
                    prop_assert_eq!(w.chunk_index, i);
                    let field = before.field_with_name(&w.column).unwrap();
                    prop_assert_eq!(field.data_type(), &w.from);
                }
            } else {
                prop_assert!(widening.is_none());
            }
            reported += stream.last_widenings().len();
            outputs.push(out);
        }
        prop_assert_eq!(reported, stream.widenings().len());
        let final_schema = stream.schema().unwrap();
        for (chunk, out) in chunks.iter().zip(&outputs) {
            let conformed = stream.conform(out).unwrap();
            prop_assert_eq!(conformed.schema(), final_schema.clone());
            assert_round_trips(chunk, &conformed);
        }
    }
}
