//! `optimize`, `optimize_array`, `release_memory`: mem-optimize for Arrow tables and NumPy arrays.

use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use mem_optimize::{
    ArrayTarget, NumericType, NumericVec, OptimizeOptions, OptimizeReport, StreamOptimizer,
    array_memory_size,
};
use numpy::{PyArray, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::arrow_ffi::{export_table, import_batches};
use crate::convert::mb;
use crate::errors;

/// The report dict of `optimize`.
fn report_dict<'py>(py: Python<'py>, r: &OptimizeReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_before", r.bytes_before)?;
    d.set_item("bytes_after", r.bytes_after)?;
    d.set_item("bytes_saved", r.bytes_saved())?;
    d.set_item("memory_before_mb", mb(r.bytes_before as u64))?;
    d.set_item("memory_after_mb", mb(r.bytes_after as u64))?;
    d.set_item("reduction_fraction", r.reduction_fraction())?;
    d.set_item("reduction_percent", 100.0 * r.reduction_fraction())?;
    let columns = PyList::empty(py);
    for c in &r.columns {
        let cd = PyDict::new(py);
        cd.set_item("name", &c.name)?;
        cd.set_item("type_before", c.type_before.to_string())?;
        cd.set_item("type_after", c.type_after.to_string())?;
        cd.set_item("bytes_before", c.bytes_before)?;
        cd.set_item("bytes_after", c.bytes_after)?;
        cd.set_item("changed", c.changed())?;
        columns.append(cd)?;
    }
    d.set_item("columns", columns)?;
    Ok(d)
}

/// Optimises every batch of a table to one output schema; the report sums the batches.
fn optimize_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    opts: &OptimizeOptions,
) -> Result<(SchemaRef, Vec<RecordBatch>, OptimizeReport), mem_optimize::OptimizeError> {
    if let [batch] = batches {
        // One batch (the usual pyarrow table): columns left alone keep their buffers.
        let (out, report) = mem_optimize::optimize_batch(batch, opts)?;
        return Ok((out.schema(), vec![out], report));
    }
    if batches.is_empty() {
        let empty = RecordBatch::new_empty(schema.clone());
        let (out, report) = mem_optimize::optimize_batch(&empty, opts)?;
        return Ok((out.schema(), Vec::new(), report));
    }
    // Several batches: settle the final types over all of them, then bring each to those types.
    let mut optimizer = StreamOptimizer::new(opts.clone());
    for b in batches {
        optimizer.push(b)?;
    }
    let out: Vec<RecordBatch> = batches
        .iter()
        .map(|b| optimizer.conform(b))
        .collect::<Result<_, _>>()?;
    let out_schema = optimizer.schema().unwrap_or_else(|| schema.clone());
    let mut report = OptimizeReport::default();
    for (i, (field, out_field)) in schema
        .fields()
        .iter()
        .zip(out_schema.fields().iter())
        .enumerate()
    {
        let before: usize = batches
            .iter()
            .map(|b| array_memory_size(b.column(i).as_ref()))
            .sum();
        let after: usize = out
            .iter()
            .map(|b| array_memory_size(b.column(i).as_ref()))
            .sum();
        report.columns.push(mem_optimize::ColumnReport {
            name: field.name().clone(),
            type_before: field.data_type().clone(),
            type_after: out_field.data_type().clone(),
            bytes_before: before,
            bytes_after: after,
        });
    }
    report.bytes_before = batches.iter().map(mem_optimize::batch_memory_size).sum();
    report.bytes_after = out.iter().map(mem_optimize::batch_memory_size).sum();
    Ok((out_schema, out, report))
}

/// Shrinks a table's column types losslessly.
///
/// Integers become the narrowest type holding their range, float64 becomes float32 where every
/// value round-trips exactly, repetitive strings become dictionaries. Casting a column back to
/// its input type gives the input, values and nulls.
///
/// Args:
///     table: any Arrow table-like (pyarrow Table / RecordBatch / RecordBatchReader, polars or
///         pandas DataFrame, anything with `__arrow_c_stream__`), read without a copy.
///     tighter: the memory-pressure preset (more dictionaries, unsigned targets).
///     strings_to_dictionary, floats_to_f32: turn those conversions off.
///
/// Returns:
///     `(pyarrow.Table, report)`: untouched columns share the input's buffers; the report has
///     bytes_before, bytes_after, bytes_saved, memory_before_mb, memory_after_mb,
///     reduction_fraction, reduction_percent and `columns` (name, types and bytes before/after).
///
/// Raises:
///     TypeError: not a table-like object.
#[pyfunction]
#[pyo3(signature = (table, *, tighter = false, strings_to_dictionary = true, floats_to_f32 = true))]
fn optimize<'py>(
    table: &Bound<'py, PyAny>,
    tighter: bool,
    strings_to_dictionary: bool,
    floats_to_f32: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let py = table.py();
    let (schema, batches) = import_batches(table)?;
    let mut opts = OptimizeOptions::default()
        .strings_to_dictionary(strings_to_dictionary)
        .floats_to_f32(floats_to_f32);
    if tighter {
        opts = opts.tighter();
    }
    let (out_schema, out, report) = py
        .detach(|| optimize_batches(&schema, &batches, &opts))
        .map_err(errors::optimize)?;
    drop(batches);
    let table = export_table(py, out_schema, out)?;
    let report = report_dict(py, &report)?;
    PyTuple::new(py, [table.into_any(), report.into_any()])
}

/// The numeric type named by a NumPy dtype-like (`"int16"`, `np.float32`, `np.dtype("u1")`).
fn numeric_type(py: Python<'_>, dtype: &Bound<'_, PyAny>) -> PyResult<NumericType> {
    let name: String = py
        .import("numpy")?
        .call_method1("dtype", (dtype,))?
        .getattr("name")?
        .extract()?;
    Ok(match name.as_str() {
        "int8" => NumericType::I8,
        "int16" => NumericType::I16,
        "int32" => NumericType::I32,
        "int64" => NumericType::I64,
        "uint8" => NumericType::U8,
        "uint16" => NumericType::U16,
        "uint32" => NumericType::U32,
        "uint64" => NumericType::U64,
        "float32" => NumericType::F32,
        "float64" => NumericType::F64,
        other => {
            return Err(PyTypeError::new_err(format!(
                "target dtype {other} is not supported: use an integer (int8..int64, \
                 uint8..uint64) or a float (float32, float64) dtype"
            )));
        }
    })
}

/// A NumPy array of `v` (moved, not copied) with `shape`.
fn vec_to_numpy<'py>(
    py: Python<'py>,
    v: NumericVec,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    macro_rules! arr {
        ($x:expr) => {
            PyArray::from_vec(py, $x)
                .reshape(shape.to_vec())?
                .into_any()
        };
    }
    Ok(match v {
        NumericVec::I8(x) => arr!(x),
        NumericVec::I16(x) => arr!(x),
        NumericVec::I32(x) => arr!(x),
        NumericVec::I64(x) => arr!(x),
        NumericVec::U8(x) => arr!(x),
        NumericVec::U16(x) => arr!(x),
        NumericVec::U32(x) => arr!(x),
        NumericVec::U64(x) => arr!(x),
        NumericVec::F32(x) => arr!(x),
        NumericVec::F64(x) => arr!(x),
    })
}

/// `array` as a C-contiguous NumPy array (the same object when it already is one).
pub(crate) fn contiguous<'py>(
    array: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<Bound<'py, PyUntypedArray>> {
    let py = array.py();
    let arr = array.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a numpy.ndarray, got {}",
            array
                .get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    if arr.is_c_contiguous() {
        return Ok(arr.clone());
    }
    Ok(py
        .import("numpy")?
        .call_method1("ascontiguousarray", (arr,))?
        .cast_into::<PyUntypedArray>()?)
}

/// Converts a NumPy integer or float array to the narrowest dtype that holds every value
/// exactly, or to `target` (a dtype-like).
///
/// With `lossy=True` the conversion to `target` rounds like `astype`, but values out of the
/// target's range still raise. The shape is kept; the result owns a new buffer (moved from
/// Rust, not copied). Raises TypeError for other dtypes or targets, ValueError naming the index
/// and value that does not fit.
#[pyfunction]
#[pyo3(signature = (array, target = None, *, lossy = false))]
fn optimize_array<'py>(
    array: &Bound<'py, PyAny>,
    target: Option<&Bound<'py, PyAny>>,
    lossy: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = array.py();
    let arr = contiguous(array, "array")?;
    let shape = arr.shape().to_vec();
    let target = match target {
        None if lossy => {
            return Err(errors::value_error(
                "lossy=True needs a target dtype (the narrowest type is always lossless)",
            ));
        }
        None => ArrayTarget::Narrowest,
        Some(t) if lossy => ArrayTarget::Lossy(numeric_type(py, t)?),
        Some(t) => ArrayTarget::Exact(numeric_type(py, t)?),
    };
    macro_rules! run {
        ($($t:ty),*) => {$(
            if let Ok(typed) = arr.cast::<PyArrayDyn<$t>>() {
                let ro = typed.try_readonly()?;
                let values = ro.as_slice().map_err(|e| errors::value_error(e.to_string()))?;
                let out = py
                    .detach(|| mem_optimize::optimize_array(values, target))
                    .map_err(errors::optimize)?;
                drop(ro);
                return vec_to_numpy(py, out, &shape);
            }
        )*};
    }
    run!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
    let dtype = arr.dtype().str()?.to_string();
    Err(PyTypeError::new_err(format!(
        "optimize_array handles integer and float arrays, got dtype {dtype}; use optimize() for tables"
    )))
}

/// Gives freed memory back to the OS (the guide's force_garbage_collection).
///
/// Runs Python's `gc.collect()` (unless `gc=False`), the purge hooks of membound's caches and
/// glibc's `malloc_trim`. Returns a dict: rss_before_mb, rss_after_mb, released_mb,
/// gc_collected, bytes_purged, hooks_run, trimmed, seconds.
#[pyfunction]
#[pyo3(signature = (*, gc = true))]
fn release_memory(py: Python<'_>, gc: bool) -> PyResult<Bound<'_, PyDict>> {
    let start = Instant::now();
    let before = mem_monitor::memory_stats()
        .map(|s| s.process_rss_bytes)
        .unwrap_or(0);
    let collected: usize = if gc {
        py.import("gc")?.call_method0("collect")?.extract()?
    } else {
        0
    };
    let report = py.detach(mem_optimize::release_memory);
    let d = PyDict::new(py);
    let before = if before == 0 {
        report.rss_before
    } else {
        before
    };
    d.set_item("rss_before_mb", mb(before))?;
    d.set_item("rss_after_mb", mb(report.rss_after))?;
    d.set_item("released_mb", mb(before.saturating_sub(report.rss_after)))?;
    d.set_item("gc_collected", collected)?;
    d.set_item("bytes_purged", report.bytes_purged)?;
    d.set_item("hooks_run", report.hooks_run)?;
    d.set_item("trimmed", report.trimmed)?;
    d.set_item("seconds", start.elapsed().as_secs_f64())?;
    Ok(d)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(optimize, m)?)?;
    m.add_function(wrap_pyfunction!(optimize_array, m)?)?;
    m.add_function(wrap_pyfunction!(release_memory, m)?)?;
    Ok(())
}
