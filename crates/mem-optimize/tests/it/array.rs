//! optimize_array: lossless by default, explicit targets exact unless asked to be lossy.

use arrow::array::Array;
use arrow::array::Int64Array;
use arrow::datatypes::DataType;
use mem_optimize::optimize_arrow_array;
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

#[test]
fn narrowest() {
    assert_eq!(
        optimize_array(&[-1i64, 100], ArrayTarget::Narrowest).unwrap(),
        NumericVec::I8(vec![-1, 100])
    );
    assert_eq!(
        optimize_array(&[70_000u64], ArrayTarget::Narrowest).unwrap(),
        NumericVec::U32(vec![70_000])
    );
    assert_eq!(
        optimize_array(&[0.1f64], ArrayTarget::Narrowest).unwrap(),
        NumericVec::F64(vec![0.1])
    );
    let v = optimize_array(&[f64::NAN, f64::INFINITY, -0.0], ArrayTarget::Narrowest).unwrap();
    let NumericVec::F32(v) = v else {
        panic!("expected f32, got {v:?}")
    };
    assert!(v[0].is_nan() && v[1] == f32::INFINITY && v[2].is_sign_negative());
    assert_eq!(
        optimize_array::<i32>(&[], ArrayTarget::Narrowest).unwrap(),
        NumericVec::I8(vec![])
    );
}

#[test]
fn exact_and_lossy_targets() {
    let err = optimize_array(&[1i64, 300], ArrayTarget::Exact(NumericType::I8)).unwrap_err();
    assert!(
        matches!(err, OptimizeError::DoesNotFit { index: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("300"));
    // Lossy does not make overflow acceptable.
    assert!(optimize_array(&[1i64, 300], ArrayTarget::Lossy(NumericType::I8)).is_err());
    assert!(optimize_array(&[1e300f64], ArrayTarget::Lossy(NumericType::F32)).is_err());
    assert!(optimize_array(&[f64::NAN], ArrayTarget::Lossy(NumericType::I32)).is_err());
    assert_eq!(
        optimize_array(&[1.5f64], ArrayTarget::Lossy(NumericType::I32)).unwrap(),
        NumericVec::I32(vec![1])
    );
    assert!(optimize_array(&[1.5f64], ArrayTarget::Exact(NumericType::I32)).is_err());
    assert_eq!(
        optimize_array(&[3u8], ArrayTarget::Exact(NumericType::F64)).unwrap(),
        NumericVec::F64(vec![3.0])
    );
    assert!(optimize_array(&[(1i64 << 53) + 1], ArrayTarget::Exact(NumericType::F64)).is_err());
    assert!(optimize_array(&[-1i32], ArrayTarget::Exact(NumericType::U64)).is_err());
}

#[test]
fn arrow_arrays_keep_nulls() {
    let a = Int64Array::from(vec![Some(5), None, Some(-7)]);
    let out = optimize_arrow_array(&a, ArrayTarget::Narrowest).unwrap();
    assert_eq!(out.data_type(), &DataType::Int8);
    assert!(out.is_null(1));
    let s = arrow::array::StringArray::from(vec!["x"]);
    assert!(matches!(
        optimize_arrow_array(&s, ArrayTarget::Narrowest),
        Err(OptimizeError::Unsupported { .. })
    ));
}

#[test]
fn vec_helpers() {
    let v = NumericVec::from(vec![1u16, 2]);
    assert_eq!(v.numeric_type(), NumericType::U16);
    assert_eq!(v.byte_len(), 4);
    assert_eq!(v.to_f64_lossy(), vec![1.0, 2.0]);
    assert_eq!(v.to_arrow().data_type(), &DataType::UInt16);
}
