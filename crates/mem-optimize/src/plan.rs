//! Per-column analysis: what a column needs (its integer range, whether its floats fit `f32`,
//! its string cardinality) and the narrowest output type for that need.
//!
//! A [`Need`] can be merged with the need of a later chunk; the merged need's target type
//! holds every value seen so far, which is what lets the stream optimizer only ever widen.

use arrow::array::{Array, AsArray, GenericStringArray, OffsetSizeTrait, PrimitiveArray};
use arrow::datatypes::{
    ArrowNumericType, DataType, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};

use crate::dict::{Encoded, encode};
use crate::options::OptimizeOptions;

/// What one column (or the columns of a stream so far) needs from its output type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Need {
    /// An integer column; `None` when it holds no non-null value.
    Int(Option<(i128, i128)>),
    /// A `Float64` column and whether all its values fit `f32` (exactly or within tolerance).
    Float { fits_f32: bool },
    /// A string column and its distinct count, `None` once past the dictionary threshold.
    Str(Option<usize>),
    /// Left as it is.
    Keep,
}

impl Need {
    /// The need of a stream that has seen both `self` and `other` (same input type).
    pub(crate) fn merge(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => Self::Int(match (a, b) {
                (Some((alo, ahi)), Some((blo, bhi))) => Some((*alo.min(blo), *ahi.max(bhi))),
                (Some(r), None) | (None, Some(r)) => Some(*r),
                (None, None) => None,
            }),
            (Self::Float { fits_f32: a }, Self::Float { fits_f32: b }) => {
                Self::Float { fits_f32: *a && *b }
            }
            (Self::Str(a), Self::Str(b)) => Self::Str(match (a, b) {
                (Some(a), Some(b)) => Some(*a.max(b)),
                _ => None,
            }),
            _ => Self::Keep,
        }
    }
}

/// Looks at one column. Cheap: one fused min/max pass for integers, one pass with early exit for
/// floats, and one hashing pass for strings that stops at the threshold.
pub(crate) fn analyze(array: &dyn Array, opts: &OptimizeOptions) -> Need {
    analyze_with_base(array, opts, 0).0
}

/// [`analyze`], also returning a string column's dictionary encoding when it qualifies, and
/// with a ratio dictionary threshold applied to at least `ratio_base` rows. The stream
/// optimizer passes the largest chunk seen so far, so a short last chunk (3 rows, 3 distinct
/// values) does not turn a dictionary column back into plain strings.
pub(crate) fn analyze_with_base(
    array: &dyn Array,
    opts: &OptimizeOptions,
    ratio_base: usize,
) -> (Need, Option<Encoded>) {
    let need = match array.data_type() {
        DataType::Int8 if opts.shrink_integers => int_need::<Int8Type>(array),
        DataType::Int16 if opts.shrink_integers => int_need::<Int16Type>(array),
        DataType::Int32 if opts.shrink_integers => int_need::<Int32Type>(array),
        DataType::Int64 if opts.shrink_integers => int_need::<Int64Type>(array),
        DataType::UInt8 if opts.shrink_integers => int_need::<UInt8Type>(array),
        DataType::UInt16 if opts.shrink_integers => int_need::<UInt16Type>(array),
        DataType::UInt32 if opts.shrink_integers => int_need::<UInt32Type>(array),
        DataType::UInt64 if opts.shrink_integers => int_need::<UInt64Type>(array),
        DataType::Float64 if opts.floats_to_f32 || opts.allow_lossy_float.is_some() => {
            match array.as_primitive_opt::<Float64Type>() {
                Some(a) => Need::Float {
                    fits_f32: f32_fits(a, opts.allow_lossy_float),
                },
                None => Need::Keep,
            }
        }
        DataType::Utf8 if opts.strings_to_dictionary => {
            return match array.as_string_opt::<i32>() {
                Some(a) => string_need(a, opts, ratio_base),
                None => (Need::Keep, None),
            };
        }
        DataType::LargeUtf8 if opts.strings_to_dictionary => {
            return match array.as_string_opt::<i64>() {
                Some(a) => string_need(a, opts, ratio_base),
                None => (Need::Keep, None),
            };
        }
        _ => Need::Keep,
    };
    (need, None)
}

fn int_need<T>(array: &dyn Array) -> Need
where
    T: ArrowNumericType,
    T::Native: Into<i128> + Ord,
{
    match array.as_primitive_opt::<T>() {
        Some(a) => Need::Int(int_range(a)),
        None => Need::Keep,
    }
}

fn int_range<T>(a: &PrimitiveArray<T>) -> Option<(i128, i128)>
where
    T: ArrowNumericType,
    T::Native: Into<i128> + Ord,
{
    let values = a.values();
    let range = match a.nulls() {
        None => min_max(values),
        // Runs of valid values, so null slots (whatever they hold) are never looked at.
        Some(nulls) => nulls
            .inner()
            .set_slices()
            .filter_map(|(start, end)| min_max(values.get(start..end)?))
            .reduce(|(lo, hi), (l, h)| (lo.min(l), hi.max(h))),
    }?;
    Some((range.0.into(), range.1.into()))
}

/// Minimum and maximum in one pass, in independent lanes so the comparisons pipeline (two
/// separate kernel passes cost about three times as much on 64-bit integers).
fn min_max<N: Ord + Copy>(values: &[N]) -> Option<(N, N)> {
    let first = *values.first()?;
    let (mut lo, mut hi) = ([first; 8], [first; 8]);
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(chunk) {
            *l = (*l).min(v);
            *h = (*h).max(v);
        }
    }
    let lo = lo
        .into_iter()
        .chain(rest.iter().copied())
        .min()
        .unwrap_or(first);
    let hi = hi
        .into_iter()
        .chain(rest.iter().copied())
        .max()
        .unwrap_or(first);
    Some((lo, hi))
}

/// Whether every non-null value survives `f64 -> f32 -> f64` (bit for bit, or within `tol`).
pub(crate) fn f32_fits(a: &PrimitiveArray<Float64Type>, tol: Option<f64>) -> bool {
    let fits = |v: f64| {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "the narrowing is what is being tested"
        )]
        let back = f64::from(v as f32);
        // Bitwise for NaN: a canonical NaN survives, an unusual payload does not (casting
        // back must give identical bits).
        if back == v || back.to_bits() == v.to_bits() {
            return true;
        }
        // Lossy: a finite value must stay finite (no overflow to inf) and be close enough.
        tol.is_some_and(|t| {
            v.is_nan() || (back.is_finite() && (v - back).abs() <= t * v.abs().max(1.0))
        })
    };
    if a.null_count() == 0 {
        a.values().iter().all(|&v| fits(v))
    } else {
        a.iter().all(|o| o.is_none_or(fits))
    }
}

/// The encoding of a string column, or `Need::Str(None)` as soon as its distinct count passes
/// the threshold.
fn string_need<O: OffsetSizeTrait>(
    a: &GenericStringArray<O>,
    opts: &OptimizeOptions,
    ratio_base: usize,
) -> (Need, Option<Encoded>) {
    let non_null = (a.len() - a.null_count()).max(ratio_base);
    // Int32 keys are the widest we produce.
    let limit = opts
        .dictionary_threshold
        .max_distinct(non_null)
        .min(i32::MAX as usize);
    match encode(a, limit) {
        Some(enc) => (Need::Str(Some(enc.distinct())), Some(enc)),
        None => (Need::Str(None), None),
    }
}

/// The narrowest output type for `input` given `need`.
pub(crate) fn target_type(input: &DataType, need: &Need, opts: &OptimizeOptions) -> DataType {
    match need {
        Need::Int(Some(range)) => int_target(input, *range, opts),
        // No value to go by: the narrowest type of the input's own signedness.
        Need::Int(None) => int_target(input, (0, 0), &opts.clone().allow_unsigned(false)),
        Need::Float { fits_f32: true } => DataType::Float32,
        Need::Str(Some(distinct)) => {
            DataType::Dictionary(Box::new(dictionary_key(*distinct)), Box::new(input.clone()))
        }
        Need::Float { fits_f32: false } | Need::Str(None) | Need::Keep => input.clone(),
    }
}

/// The narrowest dictionary key type indexing `distinct` values.
pub(crate) fn dictionary_key(distinct: usize) -> DataType {
    if distinct <= 1 << 7 {
        DataType::Int8
    } else if distinct <= 1 << 15 {
        DataType::Int16
    } else {
        DataType::Int32
    }
}

/// Signedness rule: unsigned inputs stay unsigned; a signed input may become unsigned only
/// when its minimum is `>= 0` and `allow_unsigned` is set. The result is never wider than the
/// input (when the narrowest candidate is as wide, the input type is kept).
pub(crate) fn int_target(
    input: &DataType,
    (lo, hi): (i128, i128),
    opts: &OptimizeOptions,
) -> DataType {
    let candidate = if lo >= 0 && (input.is_unsigned_integer() || opts.allow_unsigned) {
        [
            DataType::UInt8,
            DataType::UInt16,
            DataType::UInt32,
            DataType::UInt64,
        ]
        .into_iter()
        .find(|t| int_type_range(t).is_some_and(|(_, thi)| hi <= thi))
    } else {
        [
            DataType::Int8,
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
        ]
        .into_iter()
        .find(|t| int_type_range(t).is_some_and(|(tlo, thi)| lo >= tlo && hi <= thi))
    };
    match candidate {
        Some(c) if c.primitive_width() < input.primitive_width() => c,
        _ => input.clone(),
    }
}

/// The value range of an integer type.
pub(crate) fn int_type_range(t: &DataType) -> Option<(i128, i128)> {
    Some(match t {
        DataType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DataType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DataType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DataType::Int64 => (i64::MIN.into(), i64::MAX.into()),
        DataType::UInt8 => (0, u8::MAX.into()),
        DataType::UInt16 => (0, u16::MAX.into()),
        DataType::UInt32 => (0, u32::MAX.into()),
        DataType::UInt64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, StringArray};

    fn opts() -> OptimizeOptions {
        OptimizeOptions::default()
    }

    #[test]
    fn integer_targets() {
        let o = opts();
        let signed = opts().allow_unsigned(false);
        assert_eq!(int_target(&DataType::Int64, (0, 100), &o), DataType::UInt8);
        assert_eq!(int_target(&DataType::Int64, (0, 200), &o), DataType::UInt8);
        assert_eq!(
            int_target(&DataType::Int64, (0, 200), &signed),
            DataType::Int16
        );
        assert_eq!(int_target(&DataType::Int64, (-1, 127), &o), DataType::Int8);
        assert_eq!(int_target(&DataType::Int64, (-129, 0), &o), DataType::Int16);
        assert_eq!(
            int_target(&DataType::Int64, (i64::MIN.into(), 0), &o),
            DataType::Int64
        );
        assert_eq!(int_target(&DataType::Int8, (0, 100), &o), DataType::Int8);
        assert_eq!(
            int_target(&DataType::UInt64, (0, 70_000), &o),
            DataType::UInt32
        );
        assert_eq!(
            int_target(&DataType::UInt64, (0, u64::MAX.into()), &o),
            DataType::UInt64
        );
        assert_eq!(
            int_target(&DataType::Int32, (i32::MIN.into(), i32::MAX.into()), &o),
            DataType::Int32
        );
    }

    #[test]
    fn needs() {
        let a = Int64Array::from(vec![Some(-5), None, Some(300)]);
        assert_eq!(analyze(&a, &opts()), Need::Int(Some((-5, 300))));
        let sliced = Int64Array::from(vec![Some(1000), None, Some(-5), Some(7), None, Some(-900)])
            .slice(1, 4);
        assert_eq!(analyze(&sliced, &opts()), Need::Int(Some((-5, 7))));
        let long = Int64Array::from_iter((0..1000i64).map(|i| (i % 3 != 0).then_some(i - 500)));
        assert_eq!(analyze(&long, &opts()), Need::Int(Some((-499, 498))));
        let empty = Int64Array::from(vec![None::<i64>, None]);
        assert_eq!(analyze(&empty, &opts()), Need::Int(None));
        let f = Float64Array::from(vec![
            Some(0.5),
            None,
            Some(f64::NAN),
            Some(f64::NEG_INFINITY),
            Some(-0.0),
        ]);
        assert_eq!(analyze(&f, &opts()), Need::Float { fits_f32: true });
        let f = Float64Array::from(vec![0.1]);
        assert_eq!(analyze(&f, &opts()), Need::Float { fits_f32: false });
        let lossy = opts().lossy_float(Some(1e-6));
        assert_eq!(analyze(&f, &lossy), Need::Float { fits_f32: true });
        let huge = Float64Array::from(vec![1e300]);
        assert_eq!(analyze(&huge, &lossy), Need::Float { fits_f32: false });
        let s = StringArray::from(vec![Some("a"), Some("b"), Some("a"), None, Some("a")]);
        assert_eq!(analyze(&s, &opts()), Need::Str(Some(2)));
        let s = StringArray::from(vec!["a", "b", "c"]);
        assert_eq!(analyze(&s, &opts()), Need::Str(None));
        assert_eq!(analyze_with_base(&s, &opts(), 100).0, Need::Str(Some(3)));
    }

    #[test]
    fn merging_only_grows() {
        assert_eq!(
            Need::Int(Some((0, 5))).merge(&Need::Int(Some((-3, 2)))),
            Need::Int(Some((-3, 5)))
        );
        assert_eq!(
            Need::Int(None).merge(&Need::Int(Some((1, 2)))),
            Need::Int(Some((1, 2)))
        );
        assert_eq!(
            Need::Str(Some(3)).merge(&Need::Str(Some(200))),
            Need::Str(Some(200))
        );
        assert_eq!(Need::Str(Some(3)).merge(&Need::Str(None)), Need::Str(None));
        assert_eq!(
            Need::Float { fits_f32: true }.merge(&Need::Float { fits_f32: false }),
            Need::Float { fits_f32: false }
        );
    }

    #[test]
    fn dictionary_keys() {
        assert_eq!(dictionary_key(0), DataType::Int8);
        assert_eq!(dictionary_key(128), DataType::Int8);
        assert_eq!(dictionary_key(129), DataType::Int16);
        assert_eq!(dictionary_key(40_000), DataType::Int32);
    }
}
