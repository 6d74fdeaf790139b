//! Format readers behind one small trait, so the chunking loop does not care where batches come from.

pub(crate) mod bigendian;
pub(crate) mod csv;
pub(crate) mod excel;
pub(crate) mod ipc;
pub(crate) mod parquet;
mod parquet_footer;
mod parquet_repair;
pub(crate) mod readahead;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::format::FileFormat;
use crate::options::CsvOptions;

/// A reader of one file that yields record batches in file order.
pub(crate) trait BatchSource: Send {
    /// Schema of the batches (after projection).
    fn schema(&self) -> SchemaRef;
    /// The next batch; its size is the source's natural one, the chunker slices it to the target.
    fn next_batch(&mut self) -> Option<Result<RecordBatch>>;
    /// Source bytes consumed so far (compressed bytes for compressed inputs), for progress.
    fn bytes_read(&self) -> u64;
    /// Total source bytes (the file size).
    fn total_bytes(&self) -> u64;
}

/// Everything a reader needs to open a file.
pub(crate) struct OpenRequest<'a> {
    pub path: &'a Path,
    pub format: FileFormat,
    pub projection: Option<&'a [String]>,
    pub csv: &'a CsvOptions,
    pub sheet: Option<&'a str>,
    /// Target rows per batch; readers that can follow a changing target read it on every batch.
    pub target_rows: Arc<AtomicUsize>,
    /// Stop after this many rows (a sample), reading no more than they need.
    pub limit: Option<usize>,
    /// Whether to parse on worker threads (streams) or on the caller's thread (samples).
    pub parallel: bool,
    /// The loader's memory limit: a Parquet column chunk that decompresses past it is refused
    /// before it is read.
    pub memory_limit_bytes: u64,
}

/// Opens the right reader for `req.format`.
pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Box<dyn BatchSource>> {
    Ok(match req.format {
        FileFormat::Csv { delimiter, gzip } => {
            Box::new(csv::CsvSource::open(req, delimiter, gzip)?)
        }
        FileFormat::Parquet => Box::new(parquet::ParquetSource::open(req)?),
        FileFormat::ArrowFile => ipc::open_file(req)?,
        FileFormat::ArrowStream => Box::new(ipc::IpcStreamSource::open(req)?),
        FileFormat::Workbook => Box::new(excel::WorkbookSource::open(req)?),
    })
}

/// Indices of the projected columns, or an error naming the unknown one.
pub(crate) fn projection_indices(
    path: &Path,
    names: &[String],
    wanted: &[String],
) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|w| {
            names
                .iter()
                .position(|n| n == w)
                .ok_or_else(|| crate::StreamError::UnknownColumn {
                    path: path.to_path_buf(),
                    column: w.clone(),
                    available: names.join(", "),
                })
        })
        .collect()
}
