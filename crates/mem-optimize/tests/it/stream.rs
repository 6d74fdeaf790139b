//! StreamOptimizer over random chunk sequences: one schema, only widening, exact conform.

use arrow::array::RecordBatch;
use mem_optimize::{OptimizeOptions, StreamOptimizer};
use proptest::prelude::*;

use crate::batch::assert_round_trips;
use crate::strategies;

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
