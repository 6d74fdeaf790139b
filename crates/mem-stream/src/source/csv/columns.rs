//! The direct CSV decoder's column builders: values parsed from field positions are appended
//! piece by piece (a block is decoded in slices that stay in the processor's cache), and each
//! builder becomes one Arrow array at the end of the block.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, NullArray, NullBufferBuilder, PrimitiveArray, StringBuilder,
};
use arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, Date32Type, Float64Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt64Type,
};

use super::direct::Kind;
use super::fast_parse as parse;

/// A field's text: in the block, or in the unescaped copies of quoted fields after it.
#[derive(Clone, Copy)]
pub(super) struct Fields<'a> {
    pub text: &'a str,
    pub unescaped: &'a str,
}

impl<'a> Fields<'a> {
    /// The text at `(start, end)`; positions at or past the block's length are in `unescaped`.
    #[inline]
    pub(super) fn get(&self, (start, end): (u32, u32)) -> Option<&'a str> {
        let (start, end) = (start as usize, end as usize);
        let n = self.text.len();
        if start >= n {
            self.unescaped.get(start - n..end - n)
        } else {
            self.text.get(start..end)
        }
    }
}

/// Fixed-width values and their validity.
pub(super) struct Values<N> {
    values: Vec<N>,
    nulls: NullBufferBuilder,
}

impl<N: ArrowNativeType> Values<N> {
    fn with_capacity(rows: usize) -> Self {
        Self {
            values: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
        }
    }

    /// Appends every field, each null or parsed; `None` when one does not parse.
    fn append<'a>(
        &mut self,
        fields: impl Iterator<Item = Option<&'a str>>,
        is_null: &dyn Fn(&str) -> bool,
        parse: impl Fn(&str) -> Option<N>,
    ) -> Option<()> {
        for v in fields {
            let v = v?;
            if is_null(v) {
                self.values.push(N::default());
                self.nulls.append_null();
            } else {
                self.values.push(parse(v)?);
                self.nulls.append_non_null();
            }
        }
        Some(())
    }

    fn finish<T: ArrowPrimitiveType<Native = N>>(mut self) -> Option<ArrayRef> {
        let array = PrimitiveArray::<T>::try_new(self.values.into(), self.nulls.finish()).ok()?;
        Some(Arc::new(array))
    }
}

/// One projected column being built.
pub(super) enum ColumnBuilder {
    Utf8(StringBuilder),
    Boolean(BooleanBuilder),
    Int64(Values<i64>),
    UInt64(Values<u64>),
    Float64(Values<f64>),
    Date32(Values<i32>),
    Timestamp(TimeUnit, Values<i64>),
    Null(usize),
}

impl ColumnBuilder {
    /// A builder for about `rows` values (and `bytes` of text, for strings).
    pub(super) fn new(kind: Kind, rows: usize, bytes: usize) -> Self {
        match kind {
            Kind::Utf8 => Self::Utf8(StringBuilder::with_capacity(rows, bytes)),
            Kind::Boolean => Self::Boolean(BooleanBuilder::with_capacity(rows)),
            Kind::Int64 => Self::Int64(Values::with_capacity(rows)),
            Kind::UInt64 => Self::UInt64(Values::with_capacity(rows)),
            Kind::Float64 => Self::Float64(Values::with_capacity(rows)),
            Kind::Date32 => Self::Date32(Values::with_capacity(rows)),
            Kind::Timestamp(unit) => Self::Timestamp(unit, Values::with_capacity(rows)),
            Kind::Null => Self::Null(0),
        }
    }

    /// Appends the fields at `positions`; `None` when a value does not parse (or a string
    /// column would pass Arrow's 2 GiB of offsets).
    pub(super) fn append(
        &mut self,
        positions: &[(u32, u32)],
        fields: Fields<'_>,
        is_null: &dyn Fn(&str) -> bool,
    ) -> Option<()> {
        let values = positions.iter().map(|&p| fields.get(p));
        match self {
            Self::Utf8(b) => {
                let bytes: usize = positions.iter().map(|&(s, e)| (e - s) as usize).sum();
                if b.values_slice().len().saturating_add(bytes) > i32::MAX as usize {
                    return None;
                }
                for v in values {
                    let v = v?;
                    if is_null(v) {
                        b.append_null();
                    } else {
                        b.append_value(v);
                    }
                }
            }
            Self::Boolean(b) => {
                for v in values {
                    let v = v?;
                    if is_null(v) {
                        b.append_null();
                    } else {
                        b.append_value(parse::boolean(v)?);
                    }
                }
            }
            Self::Int64(b) => b.append(values, is_null, parse::int64)?,
            Self::UInt64(b) => b.append(values, is_null, parse::uint64)?,
            Self::Float64(b) => b.append(values, is_null, parse::float64)?,
            Self::Date32(b) => b.append(values, is_null, parse::date32)?,
            Self::Timestamp(unit, b) => {
                let unit = *unit;
                b.append(values, is_null, |s| parse::timestamp(s, unit))?;
            }
            Self::Null(rows) => *rows += positions.len(),
        }
        Some(())
    }

    /// The column's array.
    pub(super) fn finish(self) -> Option<ArrayRef> {
        Some(match self {
            Self::Utf8(mut b) => Arc::new(b.finish()),
            Self::Boolean(mut b) => Arc::new(b.finish()),
            Self::Int64(v) => v.finish::<Int64Type>()?,
            Self::UInt64(v) => v.finish::<UInt64Type>()?,
            Self::Float64(v) => v.finish::<Float64Type>()?,
            Self::Date32(v) => v.finish::<Date32Type>()?,
            Self::Timestamp(unit, v) => match unit {
                TimeUnit::Second => v.finish::<TimestampSecondType>()?,
                TimeUnit::Millisecond => v.finish::<TimestampMillisecondType>()?,
                TimeUnit::Microsecond => v.finish::<TimestampMicrosecondType>()?,
                TimeUnit::Nanosecond => v.finish::<TimestampNanosecondType>()?,
            },
            Self::Null(rows) => Arc::new(NullArray::new(rows)),
        })
    }
}
