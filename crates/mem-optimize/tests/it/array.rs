//! optimize_array: lossless by default, explicit targets exact unless asked to be lossy.

use mem_optimize::{ArrayTarget, NumericType, NumericVec, OptimizeError, optimize_array};
use proptest::prelude::*;

fn values_equal(a: &NumericVec, original: &[f64]) -> bool {
    a.to_f64_lossy()
        .iter()
        .zip(original)
        .all(|(x, y)| x.to_bits() == y.to_bits())
}

proptest! {
    #[test]
    fn narrowest_i64_round_trips(v in proptest::collection::vec(prop_oneof![any::<i64>(), -300i64..300, 0i64..70_000], 0..100)) {
        let out = optimize_array(&v, ArrayTarget::Narrowest).unwrap();
        prop_assert!(out.numeric_type().width() <= 8);
        let back = optimize_array(&v, ArrayTarget::Exact(out.numeric_type())).unwrap();
        prop_assert_eq!(&back, &out);
        // Widening back to i64 gives the input.
        let NumericVec::I64(again) = (match out {
            NumericVec::I8(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            NumericVec::I16(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            NumericVec::I32(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            NumericVec::I64(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            NumericVec::U8(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            NumericVec::U16(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            NumericVec::U32(x) => optimize_array(&x, ArrayTarget::Exact(NumericType::I64)),
            other => panic!("unexpected {other:?}"),
        }).unwrap() else { panic!("expected i64") };
        prop_assert_eq!(again, v);
    }

    #[test]
    fn f64_to_f32_only_when_exact(v in proptest::collection::vec(prop_oneof![any::<f64>(), any::<f32>().prop_map(f64::from)], 1..50)) {
        let out = optimize_array(&v, ArrayTarget::Narrowest).unwrap();
        prop_assert!(values_equal(&out, &v));
        match optimize_array(&v, ArrayTarget::Exact(NumericType::F32)) {
            Ok(exact) => prop_assert!(values_equal(&exact, &v)),
            Err(OptimizeError::DoesNotFit { index, .. }) => {
                prop_assert!(index < v.len());
                prop_assert_eq!(out.numeric_type(), NumericType::F64);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

#[test]
fn seed_float32_target() {
    // optimize_numpy_array(array, target_dtype='float32'): lossy only when asked.
    let v: Vec<f64> = (0..1000).map(|i| f64::from(i) / 10.0).collect();
    assert!(matches!(
        optimize_array(&v, ArrayTarget::Exact(NumericType::F32)),
        Err(OptimizeError::DoesNotFit { index: 1, .. })
    ));
    let NumericVec::F32(f) = optimize_array(&v, ArrayTarget::Lossy(NumericType::F32)).unwrap()
    else {
        panic!("expected f32")
    };
    assert_eq!(f.len(), 1000);
    assert!((f64::from(f[999]) - 99.9).abs() < 1e-5);
}
