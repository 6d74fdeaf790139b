//! proptest generators: random columns of every supported type, and chunk sequences that
//! share a schema.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, LargeStringArray, PrimitiveArray,
    RecordBatch, StringArray,
};
use arrow::datatypes::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use proptest::collection::vec;
use proptest::option::weighted;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64Exact,
    F64Any,
    Utf8Few,
    Utf8Many,
    LargeFew,
    LargeMany,
    Bool,
}

pub fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::I8),
        Just(Kind::I16),
        Just(Kind::I32),
        Just(Kind::I64),
        Just(Kind::U8),
        Just(Kind::U16),
        Just(Kind::U32),
        Just(Kind::U64),
        Just(Kind::F32),
        Just(Kind::F64Exact),
        Just(Kind::F64Any),
        Just(Kind::Utf8Few),
        Just(Kind::Utf8Many),
        Just(Kind::LargeFew),
        Just(Kind::LargeMany),
        Just(Kind::Bool),
    ]
}

/// Values at one of several scales per column, so narrowing to every width happens.
macro_rules! int_column {
    ($t:ty, $arrow:ty, $n:expr, [$($range:expr),*]) => {
        prop_oneof![
            vec(weighted(0.85, any::<$t>()), $n),
            $(vec(weighted(0.85, $range), $n),)*
        ]
        .prop_map(|v| Arc::new(PrimitiveArray::<$arrow>::from(v)) as ArrayRef)
        .boxed()
    };
}

fn special_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
    ]
}

pub fn column(kind: Kind, n: usize) -> BoxedStrategy<ArrayRef> {
    match kind {
        Kind::I8 => int_column!(i8, Int8Type, n, [-3i8..3, 0i8..100]),
        Kind::I16 => int_column!(i16, Int16Type, n, [-100i16..100, 0i16..250]),
        Kind::I32 => int_column!(
            i32,
            Int32Type,
            n,
            [-100i32..100, 0i32..60_000, -40_000i32..40_000]
        ),
        Kind::I64 => int_column!(
            i64,
            Int64Type,
            n,
            [
                -100i64..100,
                0i64..300,
                -40_000i64..40_000,
                0i64..5_000_000_000,
                -3_000_000_000i64..0
            ]
        ),
        Kind::U8 => int_column!(u8, UInt8Type, n, [0u8..10]),
        Kind::U16 => int_column!(u16, UInt16Type, n, [0u16..200]),
        Kind::U32 => int_column!(u32, UInt32Type, n, [0u32..200, 0u32..70_000]),
        Kind::U64 => int_column!(
            u64,
            UInt64Type,
            n,
            [0u64..200, 0u64..70_000, 0u64..5_000_000_000]
        ),
        Kind::F32 => vec(weighted(0.85, any::<f32>()), n)
            .prop_map(|v| Arc::new(Float32Array::from(v)) as ArrayRef)
            .boxed(),
        Kind::F64Exact => vec(
            weighted(
                0.85,
                prop_oneof![
                    any::<f32>().prop_map(f64::from),
                    special_f64()
                        .prop_filter("f32-exact", |v| v.is_nan() || f64::from(*v as f32) == *v)
                ],
            ),
            n,
        )
        .prop_map(|v| Arc::new(Float64Array::from(v)) as ArrayRef)
        .boxed(),
        Kind::F64Any => vec(
            weighted(
                0.85,
                prop_oneof![
                    any::<f64>(),
                    special_f64(),
                    any::<f32>().prop_map(f64::from)
                ],
            ),
            n,
        )
        .prop_map(|v| Arc::new(Float64Array::from(v)) as ArrayRef)
        .boxed(),
        Kind::Utf8Few => vec(weighted(0.85, "[a-c]{1,2}"), n)
            .prop_map(|v| Arc::new(StringArray::from(v)) as ArrayRef)
            .boxed(),
        Kind::Utf8Many => vec(weighted(0.85, ".{0,12}"), n)
            .prop_map(|v| Arc::new(StringArray::from(v)) as ArrayRef)
            .boxed(),
        Kind::LargeFew => vec(weighted(0.85, "[x-z]{1,2}"), n)
            .prop_map(|v| Arc::new(LargeStringArray::from(v)) as ArrayRef)
            .boxed(),
        Kind::LargeMany => vec(weighted(0.85, "[a-z0-9 ]{0,10}"), n)
            .prop_map(|v| Arc::new(LargeStringArray::from(v)) as ArrayRef)
            .boxed(),
        Kind::Bool => vec(weighted(0.85, any::<bool>()), n)
            .prop_map(|v| Arc::new(BooleanArray::from(v)) as ArrayRef)
            .boxed(),
    }
}

pub fn batch_of(kinds: &[Kind], columns: Vec<ArrayRef>) -> RecordBatch {
    let named = columns
        .into_iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (c, k))| (format!("c{i}_{k:?}"), c));
    RecordBatch::try_from_iter(named).expect("columns have equal lengths")
}

fn chunk(kinds: Vec<Kind>, max_rows: usize) -> impl Strategy<Value = RecordBatch> {
    (0..max_rows).prop_flat_map(move |n| {
        let kinds = kinds.clone();
        let cols: Vec<BoxedStrategy<ArrayRef>> = kinds.iter().map(|k| column(*k, n)).collect();
        cols.prop_map(move |c| batch_of(&kinds, c))
    })
}

/// One random batch of 1..8 columns of random kinds.
pub fn batch() -> impl Strategy<Value = RecordBatch> {
    vec(kind(), 1..8).prop_flat_map(|kinds| chunk(kinds, 120))
}

/// 1..6 chunks sharing one random schema.
pub fn chunks() -> impl Strategy<Value = Vec<RecordBatch>> {
    vec(kind(), 1..6).prop_flat_map(|kinds| vec(chunk(kinds, 80), 1..6))
}
