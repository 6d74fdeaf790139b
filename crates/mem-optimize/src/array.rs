//! `optimize_array`: the seed's `optimize_numpy_array(array, target_dtype=...)` for numeric
//! slices and Arrow primitive arrays.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::compute::kernels::cmp::distinct;
use arrow::compute::{CastOptions, cast, cast_with_options};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::array_value_to_string;

use crate::error::OptimizeError;
use crate::options::OptimizeOptions;
use crate::plan::{analyze, target_type};

/// A numeric element type (`i8`..`i64`, `u8`..`u64`, `f32`, `f64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum NumericType {
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl NumericType {
    /// The Arrow type with the same values.
    #[must_use]
    pub fn data_type(self) -> DataType {
        match self {
            Self::I8 => DataType::Int8,
            Self::I16 => DataType::Int16,
            Self::I32 => DataType::Int32,
            Self::I64 => DataType::Int64,
            Self::U8 => DataType::UInt8,
            Self::U16 => DataType::UInt16,
            Self::U32 => DataType::UInt32,
            Self::U64 => DataType::UInt64,
            Self::F32 => DataType::Float32,
            Self::F64 => DataType::Float64,
        }
    }

    /// The numeric type of an Arrow type, if it is one of ours.
    #[must_use]
    pub fn from_data_type(t: &DataType) -> Option<Self> {
        Some(match t {
            DataType::Int8 => Self::I8,
            DataType::Int16 => Self::I16,
            DataType::Int32 => Self::I32,
            DataType::Int64 => Self::I64,
            DataType::UInt8 => Self::U8,
            DataType::UInt16 => Self::U16,
            DataType::UInt32 => Self::U32,
            DataType::UInt64 => Self::U64,
            DataType::Float32 => Self::F32,
            DataType::Float64 => Self::F64,
            _ => return None,
        })
    }

    /// Bytes per element.
    #[must_use]
    pub fn width(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::I64 | Self::U64 | Self::F64 => 8,
        }
    }
}

/// What [`optimize_array`] should produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrayTarget {
    /// The narrowest lossless type: integers by their min/max (non-negative values may become
    /// unsigned), `f64` to `f32` where every value round-trips exactly, `f32` kept.
    #[default]
    Narrowest,
    /// Exactly this type; an error names the first value that would change.
    Exact(NumericType),
    /// This type, rounding where needed (float precision, float to int truncation), like
    /// numpy's `astype`. Values out of the target's range (overflow to inf, integers that do
    /// not fit, NaN to integer) are still an error rather than garbage.
    Lossy(NumericType),
}

/// A numeric vector of any supported element type: what [`optimize_array`] returns.
///
/// With serde: `{"u8": [1, 2, 3]}` (the element type, lowercase, and the values).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[expect(
    missing_docs,
    reason = "each variant holds the element type it is named after"
)]
pub enum NumericVec {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

macro_rules! each_vec {
    ($self:expr, $v:ident => $e:expr) => {
        match $self {
            NumericVec::I8($v) => $e,
            NumericVec::I16($v) => $e,
            NumericVec::I32($v) => $e,
            NumericVec::I64($v) => $e,
            NumericVec::U8($v) => $e,
            NumericVec::U16($v) => $e,
            NumericVec::U32($v) => $e,
            NumericVec::U64($v) => $e,
            NumericVec::F32($v) => $e,
            NumericVec::F64($v) => $e,
        }
    };
}

impl NumericVec {
    /// The element type.
    #[must_use]
    pub fn numeric_type(&self) -> NumericType {
        match self {
            Self::I8(_) => NumericType::I8,
            Self::I16(_) => NumericType::I16,
            Self::I32(_) => NumericType::I32,
            Self::I64(_) => NumericType::I64,
            Self::U8(_) => NumericType::U8,
            Self::U16(_) => NumericType::U16,
            Self::U32(_) => NumericType::U32,
            Self::U64(_) => NumericType::U64,
            Self::F32(_) => NumericType::F32,
            Self::F64(_) => NumericType::F64,
        }
    }

    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        each_vec!(self, v => v.len())
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of element data (`len * width`).
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.len() * self.numeric_type().width()
    }

    /// The values as an Arrow array (no nulls).
    #[must_use]
    pub fn to_arrow(&self) -> ArrayRef {
        each_vec!(self, v => NumericElement::to_arrow(v.as_slice()))
    }

    /// Every value as `f64` (exact for all types except 64-bit integers beyond 2^53).
    #[must_use]
    #[expect(
        clippy::unnecessary_cast,
        reason = "one macro arm per element type, f64 included"
    )]
    pub fn to_f64_lossy(&self) -> Vec<f64> {
        each_vec!(self, v => v.iter().map(|&x| x as f64).collect())
    }

    fn from_arrow(array: &dyn Array) -> Option<Self> {
        fn vals<T: ArrowPrimitiveType>(a: &dyn Array) -> Option<Vec<T::Native>> {
            Some(a.as_primitive_opt::<T>()?.values().to_vec())
        }
        Some(match array.data_type() {
            DataType::Int8 => Self::I8(vals::<Int8Type>(array)?),
            DataType::Int16 => Self::I16(vals::<Int16Type>(array)?),
            DataType::Int32 => Self::I32(vals::<Int32Type>(array)?),
            DataType::Int64 => Self::I64(vals::<Int64Type>(array)?),
            DataType::UInt8 => Self::U8(vals::<UInt8Type>(array)?),
            DataType::UInt16 => Self::U16(vals::<UInt16Type>(array)?),
            DataType::UInt32 => Self::U32(vals::<UInt32Type>(array)?),
            DataType::UInt64 => Self::U64(vals::<UInt64Type>(array)?),
            DataType::Float32 => Self::F32(vals::<Float32Type>(array)?),
            DataType::Float64 => Self::F64(vals::<Float64Type>(array)?),
            _ => return None,
        })
    }
}

mod sealed {
    pub trait Sealed {}
}

/// Element types accepted by [`optimize_array`].
pub trait NumericElement: Copy + sealed::Sealed {
    /// Wraps a slice of this type in an Arrow array.
    #[doc(hidden)]
    fn to_arrow(values: &[Self]) -> ArrayRef;
}

macro_rules! element {
    ($($t:ty => $arrow:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl NumericElement for $t {
            fn to_arrow(values: &[Self]) -> ArrayRef {
                Arc::new(PrimitiveArray::<$arrow>::from_iter_values(values.iter().copied()))
            }
        }
        impl From<Vec<$t>> for NumericVec {
            fn from(v: Vec<$t>) -> Self {
                // The variant is chosen by the element type.
                NumericVec::from_arrow(&PrimitiveArray::<$arrow>::from(v)).unwrap_or(NumericVec::I8(Vec::new()))
            }
        }
    )*};
}
element!(i8 => Int8Type, i16 => Int16Type, i32 => Int32Type, i64 => Int64Type,
    u8 => UInt8Type, u16 => UInt16Type, u32 => UInt32Type, u64 => UInt64Type,
    f32 => Float32Type, f64 => Float64Type);

/// Converts a numeric slice to the narrowest lossless type or to an explicit target.
///
/// ```
/// use mem_optimize::{optimize_array, ArrayTarget, NumericType, NumericVec};
///
/// assert_eq!(optimize_array(&[1i64, 2, 300], ArrayTarget::Narrowest)?, NumericVec::U16(vec![1, 2, 300]));
/// assert_eq!(optimize_array(&[0.5f64, -2.0], ArrayTarget::Narrowest)?, NumericVec::F32(vec![0.5, -2.0]));
/// // 0.1 has no exact f32: Exact refuses, Lossy rounds (the seed's target_dtype='float32').
/// assert!(optimize_array(&[0.1f64], ArrayTarget::Exact(NumericType::F32)).is_err());
/// assert_eq!(optimize_array(&[0.1f64], ArrayTarget::Lossy(NumericType::F32))?, NumericVec::F32(vec![0.1]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`OptimizeError::DoesNotFit`] naming the first value that would change (for `Exact`) or that
/// is out of range (for `Lossy`).
pub fn optimize_array<T: NumericElement>(
    values: &[T],
    target: ArrayTarget,
) -> Result<NumericVec, OptimizeError> {
    let out = optimize_arrow_array(T::to_arrow(values).as_ref(), target)?;
    NumericVec::from_arrow(out.as_ref()).ok_or_else(|| OptimizeError::Unsupported {
        from: out.data_type().clone(),
        to: out.data_type().clone(),
        reason: "not a numeric type",
    })
}

/// [`optimize_array`] for an Arrow primitive numeric array (nulls kept).
///
/// # Errors
/// As [`optimize_array`]; [`OptimizeError::Unsupported`] for a non-numeric array.
pub fn optimize_arrow_array(
    array: &dyn Array,
    target: ArrayTarget,
) -> Result<ArrayRef, OptimizeError> {
    let from = array.data_type().clone();
    if NumericType::from_data_type(&from).is_none() {
        return Err(OptimizeError::Unsupported {
            to: match target {
                ArrayTarget::Narrowest => from.clone(),
                ArrayTarget::Exact(t) | ArrayTarget::Lossy(t) => t.data_type(),
            },
            from,
            reason: "optimize_array handles primitive numeric arrays; use optimize_batch for other types",
        });
    }
    match target {
        ArrayTarget::Narrowest => {
            let opts = OptimizeOptions::default();
            let to = target_type(&from, &analyze(array, &opts), &opts);
            convert(array, &to, false)
        }
        ArrayTarget::Exact(t) => convert(array, &t.data_type(), false),
        ArrayTarget::Lossy(t) => convert(array, &t.data_type(), true),
    }
}

fn convert(array: &dyn Array, to: &DataType, lossy: bool) -> Result<ArrayRef, OptimizeError> {
    let from = array.data_type();
    let arrow_err = |e| OptimizeError::arrow(format!("casting {from} to {to}"), e);
    // safe = true: values that do not fit become null, which is detected below with their index.
    let out = cast_with_options(array, to, &CastOptions::default()).map_err(arrow_err)?;
    let does_not_fit = |index: usize| OptimizeError::DoesNotFit {
        index,
        value: array_value_to_string(array, index).unwrap_or_else(|_| "?".into()),
        target: to.clone(),
    };
    if out.null_count() != array.null_count()
        && let Some(i) = (0..array.len()).find(|&i| out.is_null(i) && array.is_valid(i))
    {
        return Err(does_not_fit(i));
    }
    if lossy {
        // Overflow to infinity (f64 1e300 -> f32) is out of range, not rounding.
        if to.is_floating()
            && let Some(i) =
                first_float_mismatch(array, &out, |a, b| a.is_finite() && !b.is_finite())?
        {
            return Err(does_not_fit(i));
        }
        return Ok(out);
    }
    let back = cast(&out, from).map_err(arrow_err)?;
    let mismatch = if from.is_floating() {
        // Bit for bit: -0.0 must stay -0.0 and a NaN keep its payload.
        first_float_mismatch(array, &back, |a, b| a.to_bits() != b.to_bits())?
    } else {
        let diff = distinct(&array, &back).map_err(arrow_err)?;
        diff.values().set_indices().find(|&i| diff.is_valid(i))
    };
    match mismatch {
        Some(i) => Err(does_not_fit(i)),
        None => Ok(out),
    }
}

/// The first non-null index where `bad(a[i], b[i])`, both read as `f64` (exact for f32/f64).
fn first_float_mismatch(
    a: &dyn Array,
    b: &dyn Array,
    bad: impl Fn(f64, f64) -> bool,
) -> Result<Option<usize>, OptimizeError> {
    let err = |e| OptimizeError::arrow("reading values as f64", e);
    let a = cast(a, &DataType::Float64).map_err(err)?;
    let b = cast(b, &DataType::Float64).map_err(err)?;
    let (Some(a), Some(b)) = (
        a.as_primitive_opt::<Float64Type>(),
        b.as_primitive_opt::<Float64Type>(),
    ) else {
        return Ok(None);
    };
    Ok((0..a.len()).find(|&i| a.is_valid(i) && b.is_valid(i) && bad(a.value(i), b.value(i))))
}
