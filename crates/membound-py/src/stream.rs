//! `stream`, `open`, `preview`: mem-stream's `StreamingLoader` as pyarrow batches.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use mem_stream::{ChunkMetadata, ChunkStream, CsvOptions, StreamingLoader};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrow_ffi::{export_batch, export_reader, export_table, same_fields};
use crate::convert::{mb, mb_to_bytes};
use crate::errors;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The loader settings shared by `stream`, `open` and `preview` (MB at this edge).
struct LoaderArgs {
    chunk_size: usize,
    memory_limit_mb: Option<f64>,
    columns: Option<Vec<String>>,
    optimize: bool,
    sheet: Option<String>,
    limit: Option<usize>,
    delimiter: Option<String>,
    header: bool,
}

impl LoaderArgs {
    fn build(self) -> PyResult<StreamingLoader> {
        let mut b = StreamingLoader::builder()
            .chunk_size(self.chunk_size)
            .optimize(self.optimize);
        if let Some(limit_mb) = self.memory_limit_mb {
            b = b.memory_limit(mb_to_bytes("memory_limit_mb", limit_mb)?);
        }
        if let Some(columns) = self.columns {
            b = b.projection(columns);
        }
        if let Some(sheet) = self.sheet {
            b = b.sheet(sheet);
        }
        if let Some(limit) = self.limit {
            b = b.limit(limit);
        }
        let mut csv = CsvOptions::new().header(self.header);
        if let Some(d) = self.delimiter {
            let [byte] = d.as_bytes() else {
                return Err(errors::value_error(format!(
                    "delimiter must be one ASCII character, got {d:?}"
                )));
            };
            csv = csv.delimiter(*byte);
        }
        b.csv(csv).build().map_err(errors::stream)
    }
}

/// A path argument: `str` or `os.PathLike`.
fn path_of(path: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    // The signatures spell mem-stream's default chunk size out, for Python's help().
    const _: () = assert!(mem_stream::DEFAULT_CHUNK_SIZE == 10_000);
    path.extract::<PathBuf>()
}

fn meta_dict<'py>(py: Python<'py>, m: &ChunkMetadata) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("index", m.index)?;
    d.set_item("start_row", m.start_row)?;
    d.set_item("rows", m.rows)?;
    d.set_item("bytes", m.bytes)?;
    d.set_item("source_bytes_read", m.source_bytes_read)?;
    d.set_item("source_bytes_total", m.source_bytes_total)?;
    d.set_item("progress", m.progress)?;
    d.set_item("rss_mb", mb(m.rss_bytes))?;
    d.set_item("elapsed_s", m.elapsed.as_secs_f64())?;
    d.set_item("chunk_size", m.chunk_size)?;
    d.set_item("widenings", widenings_list(py, &m.widenings)?)?;
    Ok(d)
}

fn widenings_list<'py>(
    py: Python<'py>,
    ws: &[mem_optimize::SchemaWidening],
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for w in ws {
        let d = PyDict::new(py);
        d.set_item("chunk", w.chunk_index)?;
        d.set_item("column", &w.column)?;
        d.set_item("from", w.from.to_string())?;
        d.set_item("to", w.to.to_string())?;
        list.append(d)?;
    }
    Ok(list)
}

/// Chunks of a file as `pyarrow.RecordBatch` objects; see `membound.stream`.
#[pyclass(module = "membound._native", name = "BatchStream")]
pub(crate) struct BatchStream {
    path: PathBuf,
    inner: Mutex<Option<ChunkStream>>,
    last: Mutex<Option<ChunkMetadata>>,
    peak_rss: Mutex<u64>,
}

#[pymethods]
impl BatchStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Reading and decoding run without the GIL.
        let item = py.detach(|| {
            let mut inner = lock(&self.inner);
            let stream = inner.as_mut()?;
            let item = stream.next();
            *lock(&self.peak_rss) = stream.peak_rss_bytes();
            if item.is_none() {
                // Ends the read-ahead thread and closes the file now, not at garbage collection.
                *inner = None;
            }
            item
        });
        match item {
            None => Ok(None),
            Some(Err(e)) => {
                *lock(&self.inner) = None;
                Err(errors::stream(e))
            }
            Some(Ok((batch, meta))) => {
                *lock(&self.last) = Some(meta);
                export_batch(py, batch).map(Some)
            }
        }
    }

    /// The file being streamed.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// What the loader knows about the last chunk (rows, bytes, progress, rss_mb, widenings,
    /// ...), or None before the first.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        lock(&self.last)
            .as_ref()
            .map(|m| meta_dict(py, m))
            .transpose()
    }

    /// Highest process RSS seen after a chunk, in MB.
    #[getter]
    fn peak_rss_mb(&self) -> f64 {
        mb(*lock(&self.peak_rss))
    }

    /// Stops the stream: its file is closed and its read-ahead thread ends.
    fn close(&self, py: Python<'_>) {
        let stream = lock(&self.inner).take();
        py.detach(move || drop(stream));
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }
}

/// Streams a table file in chunks of rows with bounded memory.
///
/// Returns a `BatchStream` of `pyarrow.RecordBatch` (no copy of the data), one per chunk; with
/// `optimize=True` their types are shrunk losslessly under one schema that only widens (see
/// `metadata["widenings"]`). Formats: .csv, .tsv (and .gz), .parquet, .arrow/.feather/.ipc,
/// .arrows, .xlsx/.xlsm/.xlsb/.xls/.ods, checked against the content.
///
/// Args:
///     path: the file (str or os.PathLike).
///     chunk_size: rows per chunk (it shrinks under memory pressure).
///     memory_limit_mb: the stream stays under this plus ~40 MB or raises MemoryLimitError
///         (default 2000).
///     columns: read only these columns, in this order.
///     optimize: shrink each chunk's types losslessly.
///     sheet: workbook sheet (default the first); limit: stop after this many rows;
///     delimiter / header: CSV options (delimiter from the extension by default).
///
/// Raises:
///     FileAccessError, FileFormatError, MemoryLimitError, membound.Error (unknown column),
///     ValueError for a setting out of range. Reading errors come out of the iteration.
#[pyfunction]
#[pyo3(signature = (path, chunk_size = 10_000, memory_limit_mb = None,
    columns = None, optimize = true, *, sheet = None, limit = None, delimiter = None, header = true))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
fn stream(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    chunk_size: usize,
    memory_limit_mb: Option<f64>,
    columns: Option<Vec<String>>,
    optimize: bool,
    sheet: Option<String>,
    limit: Option<usize>,
    delimiter: Option<String>,
    header: bool,
) -> PyResult<BatchStream> {
    let path = path_of(path)?;
    let loader = LoaderArgs {
        chunk_size,
        memory_limit_mb,
        columns,
        optimize,
        sheet,
        limit,
        delimiter,
        header,
    }
    .build()?;
    let stream = py.detach(|| loader.stream(&path)).map_err(errors::stream)?;
    Ok(BatchStream {
        path,
        inner: Mutex::new(Some(stream)),
        last: Mutex::new(None),
        peak_rss: Mutex::new(0),
    })
}

/// The chunks of one file with one declared schema, for pyarrow's `RecordBatchReader`.
struct FileReader {
    path: PathBuf,
    stream: ChunkStream,
    schema: SchemaRef,
    first: Option<RecordBatch>,
}

impl FileReader {
    /// The batch under the declared schema, or an error if its types differ (a widening).
    fn fit(&self, batch: RecordBatch, index: usize) -> Result<RecordBatch, ArrowError> {
        let schema = batch.schema();
        if same_fields(&schema, &self.schema) {
            return Ok(batch);
        }
        let types_match = schema.fields().len() == self.schema.fields().len()
            && schema
                .fields()
                .iter()
                .zip(self.schema.fields())
                .all(|(a, b)| a.data_type() == b.data_type() && a.name() == b.name());
        if types_match {
            return RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec());
        }
        let changed = schema
            .fields()
            .iter()
            .zip(self.schema.fields())
            .find(|(a, b)| a.data_type() != b.data_type())
            .map_or_else(String::new, |(a, b)| {
                format!(
                    " (column {:?}: {} -> {})",
                    a.name(),
                    b.data_type(),
                    a.data_type()
                )
            });
        Err(ArrowError::SchemaError(format!(
            "{}: chunk {index}: the optimised schema widened{changed}; a RecordBatchReader has one \
             schema: open the file with optimize=False, or iterate membound.stream()",
            self.path.display()
        )))
    }
}

impl Iterator for FileReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        match self.stream.next()? {
            Err(e) => Some(Err(ArrowError::ExternalError(Box::new(e)))),
            Ok((batch, meta)) => Some(self.fit(batch, meta.index)),
        }
    }
}

impl RecordBatchReader for FileReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// Opens a table file as a `pyarrow.RecordBatchReader` (one schema for every batch).
///
/// Same arguments as `stream()`, but `optimize` defaults to False (the file's own types). With
/// `optimize=True` the schema is that of the first optimised chunk, and a later chunk that
/// would widen it ends the reader with an error. Opening errors are membound exceptions;
/// errors while reading come out of pyarrow with membound's message (the Arrow C stream
/// interface carries only a message).
#[pyfunction]
#[pyo3(signature = (path, chunk_size = 10_000, memory_limit_mb = None,
    columns = None, optimize = false, *, sheet = None, limit = None, delimiter = None, header = true))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
fn open<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    chunk_size: usize,
    memory_limit_mb: Option<f64>,
    columns: Option<Vec<String>>,
    optimize: bool,
    sheet: Option<String>,
    limit: Option<usize>,
    delimiter: Option<String>,
    header: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let path = path_of(path)?;
    let loader = LoaderArgs {
        chunk_size,
        memory_limit_mb,
        columns,
        optimize,
        sheet,
        limit,
        delimiter,
        header,
    }
    .build()?;
    let reader = py
        .detach(|| -> Result<FileReader, mem_stream::StreamError> {
            let mut stream = loader.stream(&path)?;
            // Optimised types are known once the first chunk is read; plain ones at open.
            let (schema, first) = if optimize {
                match stream.next().transpose()? {
                    Some((batch, _)) => (batch.schema(), Some(batch)),
                    None => (stream.schema(), None),
                }
            } else {
                (stream.schema(), None)
            };
            Ok(FileReader {
                path: path.clone(),
                stream,
                schema,
                first,
            })
        })
        .map_err(errors::stream)?;
    export_reader(py, Box::new(reader))
}

/// The first `rows` rows of a table file as a `pyarrow.Table`, reading only what they need.
///
/// At most a sixteenth of the memory limit of decoded data is read: a preview of very wide
/// rows has fewer rows. Arguments and errors as `stream()`.
#[pyfunction]
#[pyo3(signature = (path, rows = 1000, columns = None, optimize = true, memory_limit_mb = None,
    *, sheet = None, delimiter = None, header = true))]
#[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
fn preview<'py>(
    py: Python<'py>,
    path: &Bound<'py, PyAny>,
    rows: usize,
    columns: Option<Vec<String>>,
    optimize: bool,
    memory_limit_mb: Option<f64>,
    sheet: Option<String>,
    delimiter: Option<String>,
    header: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let path = path_of(path)?;
    let loader = LoaderArgs {
        chunk_size: rows.max(1),
        memory_limit_mb,
        columns,
        optimize,
        sheet,
        limit: None,
        delimiter,
        header,
    }
    .build()?;
    let (batch, _) = py
        .detach(|| loader.sample(&path, rows))
        .map_err(errors::stream)?;
    export_table(py, batch.schema(), vec![batch])
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<BatchStream>()?;
    m.add_function(wrap_pyfunction!(stream, m)?)?;
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(preview, m)?)?;
    Ok(())
}
