//! Arrow across the boundary without copies: the Arrow C stream interface through the PyCapsule
//! protocol (`__arrow_c_stream__` / `__arrow_c_array__`), with arrow-rs's own `ffi_stream`.
//!
//! Export: a Rust `RecordBatchReader` is wrapped in [`ArrowStreamExport`], an object with
//! `__arrow_c_stream__`, and handed to `pyarrow.RecordBatchReader.from_stream`. pyarrow then
//! holds the Rust buffers themselves (each array's release callback drops its `Arc`s), so a
//! batch's memory is never copied. Import: any object with `__arrow_c_stream__` (pyarrow tables
//! and readers, polars, DuckDB, pandas >= 2.2 ...) or `__arrow_c_array__` (a record batch) is
//! read through the same interface; anything else goes through `pyarrow.table(obj)` first.

use std::ffi::CStr;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::array::{RecordBatch, RecordBatchIterator, RecordBatchReader, StructArray};
use arrow::datatypes::SchemaRef;
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi};
use arrow::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::errors;

const STREAM_CAPSULE: &CStr = c"arrow_array_stream";
const SCHEMA_CAPSULE: &CStr = c"arrow_schema";
const ARRAY_CAPSULE: &CStr = c"arrow_array";

/// A reader that can be sent to another thread and handed to pyarrow.
pub(crate) type BoxedReader = Box<dyn RecordBatchReader + Send>;

/// An Arrow C stream of record batches produced by membound, exported once through the PyCapsule
/// protocol (`__arrow_c_stream__`). `pyarrow.RecordBatchReader.from_stream(obj)`,
/// `pyarrow.table(obj)` and `polars.from_arrow(obj)` read it without copying.
#[pyclass(module = "membound._native", name = "ArrowStream")]
pub(crate) struct ArrowStreamExport {
    reader: Mutex<Option<BoxedReader>>,
}

#[pymethods]
impl ArrowStreamExport {
    /// Exports the stream as a PyCapsule named "arrow_array_stream" (consumable once).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // Casting to a requested schema is optional in the protocol; membound does not.
        let _ = requested_schema;
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("this Arrow stream was already consumed"))?;
        // Boxed by the capsule: a stable address the consumer moves the struct out of (setting
        // its release callback to null); if nobody does, the capsule's destructor drops it,
        // which releases the stream.
        PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(reader), STREAM_CAPSULE)
    }
}

/// Imports `table` through the C stream interface and exports the same batches back: the
/// zero-copy check of the tests (each buffer of the result has the address it had on the way
/// in). Not part of the public API.
#[pyfunction]
fn _echo<'py>(table: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let (schema, batches) = import_batches(table)?;
    export_table(table.py(), schema, batches)
}

/// Registers the export class and the test helper.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowStreamExport>()?;
    m.add_function(wrap_pyfunction!(_echo, m)?)
}

/// `pyarrow.RecordBatchReader` over `reader`, sharing its buffers.
pub(crate) fn export_reader<'py>(
    py: Python<'py>,
    reader: BoxedReader,
) -> PyResult<Bound<'py, PyAny>> {
    let export = Bound::new(
        py,
        ArrowStreamExport {
            reader: Mutex::new(Some(reader)),
        },
    )?;
    py.import("pyarrow")?
        .getattr("RecordBatchReader")?
        .call_method1("from_stream", (export,))
}

/// One `pyarrow.RecordBatch` sharing the batch's buffers.
pub(crate) fn export_batch<'py>(
    py: Python<'py>,
    batch: RecordBatch,
) -> PyResult<Bound<'py, PyAny>> {
    let schema = batch.schema();
    let reader = RecordBatchIterator::new([Ok(batch)], schema);
    export_reader(py, Box::new(reader))?.call_method0("read_next_batch")
}

/// A `pyarrow.Table` of `batches` (schema `schema`), sharing their buffers.
pub(crate) fn export_table<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    export_reader(py, Box::new(reader))?.call_method0("read_all")
}

/// The record batches of any Arrow table-like object, without copying its buffers.
///
/// Accepts `__arrow_c_stream__` producers (pyarrow `Table` and `RecordBatchReader`, polars
/// `DataFrame`, ...), `__arrow_c_array__` producers of a struct array (pyarrow `RecordBatch`),
/// and whatever `pyarrow.table()` accepts (a pandas `DataFrame`, a dict of columns).
pub(crate) fn import_batches(obj: &Bound<'_, PyAny>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let py = obj.py();
    if obj.hasattr("__arrow_c_stream__")? {
        let capsule = obj.call_method0("__arrow_c_stream__")?;
        let capsule = capsule
            .cast::<PyCapsule>()
            .map_err(|_| PyTypeError::new_err("__arrow_c_stream__ did not return a PyCapsule"))?;
        let ptr = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
        // SAFETY: the capsule is named "arrow_array_stream", so by the protocol it points to an
        // FFI_ArrowArrayStream; `from_raw` moves it out and marks the capsule's copy released.
        let reader = unsafe { RecordBatchStreamReader::from_raw(ptr.cast().as_ptr()) }
            .map_err(|e| errors::arrow("importing an Arrow stream", e))?;
        let schema = reader.schema();
        // The producer's get_next runs without the GIL (pyarrow re-acquires it if it needs it).
        let batches = py
            .detach(|| reader.collect::<Result<Vec<_>, _>>())
            .map_err(|e| errors::arrow("reading an Arrow stream", e))?;
        return Ok((schema, batches));
    }
    if obj.hasattr("__arrow_c_array__")? {
        let pair = obj.call_method0("__arrow_c_array__")?;
        let pair = pair.cast::<PyTuple>().map_err(|_| {
            PyTypeError::new_err("__arrow_c_array__ did not return a (schema, array) tuple")
        })?;
        let schema_capsule = pair.get_item(0)?;
        let array_capsule = pair.get_item(1)?;
        let schema_capsule = schema_capsule
            .cast::<PyCapsule>()
            .map_err(|_| PyTypeError::new_err("__arrow_c_array__ schema is not a PyCapsule"))?;
        let array_capsule = array_capsule
            .cast::<PyCapsule>()
            .map_err(|_| PyTypeError::new_err("__arrow_c_array__ array is not a PyCapsule"))?;
        let schema_ptr = schema_capsule.pointer_checked(Some(SCHEMA_CAPSULE))?;
        let array_ptr = array_capsule.pointer_checked(Some(ARRAY_CAPSULE))?;
        // SAFETY: named capsules of the protocol: the schema is borrowed (its capsule keeps
        // it alive meanwhile), the array is moved out (its release set to null in the capsule).
        let data = unsafe {
            let schema: &FFI_ArrowSchema = schema_ptr.cast().as_ref();
            let array = FFI_ArrowArray::from_raw(array_ptr.cast().as_ptr());
            from_ffi(array, schema)
        }
        .map_err(|e| errors::arrow("importing an Arrow array", e))?;
        if !matches!(data.data_type(), arrow::datatypes::DataType::Struct(_)) {
            return Err(PyTypeError::new_err(format!(
                "expected a table or record batch, got an Arrow array of type {}",
                data.data_type()
            )));
        }
        let batch = RecordBatch::from(StructArray::from(data));
        return Ok((batch.schema(), vec![batch]));
    }
    let pyarrow = py.import("pyarrow")?;
    let table = pyarrow.call_method1("table", (obj,)).map_err(|e| {
        PyTypeError::new_err(format!(
            "expected an Arrow table-like object (pyarrow.Table or RecordBatch, polars or pandas \
             DataFrame, anything with __arrow_c_stream__), got {}: {e}",
            obj.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    if table.hasattr("__arrow_c_stream__")? {
        import_batches(&table)
    } else {
        Err(PyTypeError::new_err(
            "pyarrow is too old: membound needs pyarrow >= 15 (the Arrow PyCapsule interface)",
        ))
    }
}

/// Whether two schemas have the same fields and types (names, types, nullability).
pub(crate) fn same_fields(a: &SchemaRef, b: &SchemaRef) -> bool {
    Arc::ptr_eq(a, b) || a.fields() == b.fields()
}
