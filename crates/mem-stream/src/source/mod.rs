//! Format readers behind one small trait, so the chunking loop does not care where batches come from.

pub(crate) mod batches;
#[cfg(feature = "csv")]
pub(crate) mod csv;
#[cfg(feature = "excel")]
pub(crate) mod excel;
#[cfg(feature = "ipc")]
pub(crate) mod ipc;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;
#[cfg(feature = "parquet")]
mod parquet_checks;
#[cfg(feature = "parquet")]
mod parquet_footer;
#[cfg(feature = "parquet")]
mod parquet_pages;
#[cfg(feature = "parquet")]
mod parquet_repair;
#[cfg(feature = "parquet")]
mod parquet_split;
pub(crate) mod readahead;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::budget::Budget;
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
    /// The loader's memory limit and its shares: what one record, batch or column chunk may
    /// take, and where chunks are cut.
    pub budget: Budget,
}

/// Opens the right reader for `req.format`, or says which Cargo feature would provide it;
/// refuses a schema with more columns than the budget holds.
pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Box<dyn BatchSource>> {
    let source = open_format(req)?;
    req.budget
        .check_columns(req.path, source.schema().fields().len())?;
    Ok(source)
}

fn open_format(req: &OpenRequest<'_>) -> Result<Box<dyn BatchSource>> {
    Ok(match req.format {
        #[cfg(feature = "csv")]
        FileFormat::Csv { delimiter, .. } => Box::new(csv::CsvSource::open(req, delimiter)?),
        #[cfg(feature = "parquet")]
        FileFormat::Parquet => Box::new(parquet::ParquetSource::open(req)?),
        #[cfg(feature = "ipc")]
        FileFormat::ArrowFile => ipc::open_file(req)?,
        #[cfg(feature = "ipc")]
        FileFormat::ArrowStream => Box::new(ipc::IpcStreamSource::open(req)?),
        #[cfg(feature = "excel")]
        FileFormat::Workbook => Box::new(excel::WorkbookSource::open(req)?),
        #[cfg(not(all(
            feature = "csv",
            feature = "parquet",
            feature = "ipc",
            feature = "excel"
        )))]
        other => return Err(crate::StreamError::disabled(req.path, other)),
    })
}

/// Opens a reader of `input`, a pipe or any `Read` (of unknown size), for the formats that
/// read front to back; the others need to seek and are refused.
pub(crate) fn open_reader(
    req: &OpenRequest<'_>,
    input: Box<dyn std::io::Read + Send>,
) -> Result<Box<dyn BatchSource>> {
    let source: Box<dyn BatchSource> = match req.format {
        #[cfg(feature = "csv")]
        FileFormat::Csv { delimiter, .. } => {
            Box::new(csv::CsvSource::from_reader(req, input, 0, delimiter)?)
        }
        #[cfg(feature = "ipc")]
        FileFormat::ArrowStream => Box::new(ipc::IpcStreamSource::from_reader(req, input, None)?),
        other if other.is_streamable() => {
            return Err(crate::StreamError::FormatDisabled {
                path: req.path.to_path_buf(),
                format: other,
                feature: other.feature(),
            });
        }
        other => {
            return Err(crate::StreamError::NeedsSeek {
                path: req.path.to_path_buf(),
                format: other,
            });
        }
    };
    req.budget
        .check_columns(req.path, source.schema().fields().len())?;
    Ok(source)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
#[cfg(any(feature = "csv", feature = "excel"))]
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
