//! `optimize_batch`: shrink every column of one batch to its narrowest lossless type.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, Int8Type, Int16Type, Int32Type, Int64Type, Schema,
    SchemaRef, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};

use crate::dict::Encoded;
use crate::error::OptimizeError;
use crate::options::OptimizeOptions;
use crate::plan::{analyze_with_base, target_type};
use crate::report::{ColumnReport, OptimizeReport};
use crate::size::{array_memory_size, batch_memory_size};

/// Shrinks `batch` column by column and reports what changed.
///
/// - Integers (signed and unsigned) go to the narrowest type holding their min and max
///   (signedness rule in [`OptimizeOptions::allow_unsigned`]).
/// - `Float64` goes to `Float32` only when every value round-trips exactly (NaN, ±inf, -0.0
///   included), or within [`OptimizeOptions::allow_lossy_float`] when set.
/// - `Utf8`/`LargeUtf8` within the dictionary threshold become `Dictionary(Int8|Int16|Int32,
///   <same string type>)`.
/// - Nulls are kept; every other type (bool, dates, decimals, nested, ...) is left alone.
///
/// With lossless options, casting each output column back to its input type gives the input.
/// A column left as it is is shared with the input (an `Arc` clone, no copy), so it keeps
/// holding whatever buffers the input held (all of them, for a slice).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
/// use arrow::datatypes::DataType;
/// use mem_optimize::{optimize_batch, OptimizeOptions};
///
/// let batch = RecordBatch::try_from_iter([
///     ("id", Arc::new(Int64Array::from_iter_values(0..1000)) as _),
///     ("score", Arc::new(Float64Array::from_iter_values((0..1000).map(|i| i as f64 / 4.0))) as _),
///     ("city", Arc::new(StringArray::from_iter_values((0..1000).map(|i| ["Oslo", "Lima"][i % 2]))) as _),
/// ])?;
/// let (small, report) = optimize_batch(&batch, &OptimizeOptions::default())?;
/// assert_eq!(small.schema().field(0).data_type(), &DataType::UInt16);
/// assert_eq!(small.schema().field(1).data_type(), &DataType::Float32);
/// assert!(matches!(small.schema().field(2).data_type(), DataType::Dictionary(k, _) if **k == DataType::Int8));
/// assert!(report.bytes_after < report.bytes_before);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`OptimizeError::InvalidConfig`] for invalid options, [`OptimizeError::Arrow`] if a cast
/// fails (naming the column).
pub fn optimize_batch(
    batch: &RecordBatch,
    opts: &OptimizeOptions,
) -> Result<(RecordBatch, OptimizeReport), OptimizeError> {
    opts.validate()?;
    let schema = batch.schema();
    let mut targets = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (col, field) in batch.columns().iter().zip(schema.fields()) {
        let (need, encoded) = analyze_with_base(col.as_ref(), opts, 0);
        let target = target_type(field.data_type(), &need, opts);
        columns.push(apply(col, &target, field.name(), encoded)?);
        targets.push(target);
    }
    let out = assemble(&output_schema(&schema, &targets), columns, batch.num_rows())?;
    let columns = schema
        .fields()
        .iter()
        .zip(batch.columns().iter().zip(out.columns()))
        .map(|(field, (before, after))| ColumnReport {
            name: field.name().clone(),
            type_before: field.data_type().clone(),
            type_after: after.data_type().clone(),
            bytes_before: array_memory_size(before.as_ref()),
            bytes_after: array_memory_size(after.as_ref()),
        })
        .collect();
    let report = OptimizeReport {
        columns,
        bytes_before: batch_memory_size(batch),
        bytes_after: batch_memory_size(&out),
    };
    Ok((out, report))
}

/// Converts one column to `to`, a type chosen from the column's own analysis (or a wider one):
/// integers by a plain narrowing conversion (the range is known to fit), strings from their
/// dictionary encoding when there is one, anything else by a strict cast.
pub(crate) fn apply(
    col: &ArrayRef,
    to: &DataType,
    name: &str,
    encoded: Option<Encoded>,
) -> Result<ArrayRef, OptimizeError> {
    if col.data_type() == to {
        return Ok(Arc::clone(col));
    }
    if let (DataType::Dictionary(key, value), Some(enc)) = (to, encoded)
        && value.as_ref() == col.data_type()
    {
        return enc
            .into_array(key, col.nulls().cloned())
            .map_err(|e| OptimizeError::arrow(format!("column {name:?}: building {to}"), e));
    }
    if let Some(out) = narrow_int(col.as_ref(), to) {
        return Ok(out);
    }
    cast_column(col, to, name)
}

/// A batch of `columns` in `schema`.
pub(crate) fn assemble(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch, OptimizeError> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema.clone(), columns, &options)
        .map_err(|e| OptimizeError::arrow("building the optimized batch", e))
}

/// Integer types converted with `as` through `i128`, which is exact for values in range.
trait IntNative: Copy {
    fn to_i128(self) -> i128;
    fn from_i128(v: i128) -> Self;
}

macro_rules! int_native {
    ($($t:ty),*) => {$(
        impl IntNative for $t {
            #[inline]
            fn to_i128(self) -> i128 {
                self as i128
            }
            #[inline]
            fn from_i128(v: i128) -> Self {
                v as $t
            }
        }
    )*};
}
int_native!(i8, i16, i32, i64, u8, u16, u32, u64);

fn convert_int<F, T>(a: &dyn Array) -> Option<ArrayRef>
where
    F: ArrowPrimitiveType,
    T: ArrowPrimitiveType,
    F::Native: IntNative,
    T::Native: IntNative,
{
    let a = a.as_primitive_opt::<F>()?;
    Some(Arc::new(
        a.unary::<_, T>(|v| T::Native::from_i128(v.to_i128())),
    ))
}

/// Integer to integer without per-value overflow checks, for callers that know every value
/// fits `to` (its range was measured). `None` when either type is not an integer.
fn narrow_int(a: &dyn Array, to: &DataType) -> Option<ArrayRef> {
    macro_rules! to {
        ($from:ty) => {
            match to {
                DataType::Int8 => convert_int::<$from, Int8Type>(a),
                DataType::Int16 => convert_int::<$from, Int16Type>(a),
                DataType::Int32 => convert_int::<$from, Int32Type>(a),
                DataType::Int64 => convert_int::<$from, Int64Type>(a),
                DataType::UInt8 => convert_int::<$from, UInt8Type>(a),
                DataType::UInt16 => convert_int::<$from, UInt16Type>(a),
                DataType::UInt32 => convert_int::<$from, UInt32Type>(a),
                DataType::UInt64 => convert_int::<$from, UInt64Type>(a),
                _ => None,
            }
        };
    }
    match a.data_type() {
        DataType::Int8 => to!(Int8Type),
        DataType::Int16 => to!(Int16Type),
        DataType::Int32 => to!(Int32Type),
        DataType::Int64 => to!(Int64Type),
        DataType::UInt8 => to!(UInt8Type),
        DataType::UInt16 => to!(UInt16Type),
        DataType::UInt32 => to!(UInt32Type),
        DataType::UInt64 => to!(UInt64Type),
        _ => None,
    }
}

/// `schema` with each field's type replaced by `targets` (names, nullability and metadata kept).
pub(crate) fn output_schema(schema: &Schema, targets: &[DataType]) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(targets)
        .map(|(f, t)| f.as_ref().clone().with_data_type(t.clone()))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Casts every column of `batch` to the type of the same column in `schema`.
///
/// Casts are strict (`safe: false`): a value that does not fit is an error, never a silent null.
pub(crate) fn cast_batch(
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, OptimizeError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(col, field)| cast_column(col, field.data_type(), field.name()))
        .collect::<Result<Vec<_>, _>>()?;
    assemble(schema, columns, batch.num_rows())
}

pub(crate) fn cast_column(
    col: &ArrayRef,
    to: &DataType,
    name: &str,
) -> Result<ArrayRef, OptimizeError> {
    if col.data_type() == to {
        return Ok(Arc::clone(col));
    }
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    cast_with_options(col, to, &options).map_err(|e| {
        OptimizeError::arrow(
            format!("column {name:?}: casting {} to {to}", col.data_type()),
            e,
        )
    })
}
