//! [`StreamingLoaderBuilder`]: every setting of a [`StreamingLoader`], checked in `build()`.

use std::sync::Arc;

use mem_monitor::PressureSource;
use mem_optimize::OptimizeOptions;

use super::{Pressure, StreamingLoader};
use crate::error::{Result, StreamError};
use crate::format::FileFormat;
use crate::options::CsvOptions;

/// Builder of a [`StreamingLoader`]; settings are checked in [`build`](Self::build).
#[derive(Debug, Clone, Default)]
pub struct StreamingLoaderBuilder {
    inner: StreamingLoader,
    min_set: bool,
}

impl StreamingLoaderBuilder {
    /// Rows per chunk (default 10,000). Bigger chunks amortise per-chunk work; smaller ones
    /// hold less memory at once.
    #[must_use]
    pub fn chunk_size(mut self, rows: usize) -> Self {
        self.inner.chunk_size = rows;
        self
    }

    /// The smallest chunk the loader shrinks to under memory pressure (default 256 rows, or the
    /// chunk size if smaller).
    #[must_use]
    pub fn min_chunk_size(mut self, rows: usize) -> Self {
        self.inner.min_chunk_size = rows;
        self.min_set = true;
        self
    }

    /// Memory limit in bytes (default 2000 MiB, [`DEFAULT_MEMORY_LIMIT`](crate::DEFAULT_MEMORY_LIMIT); `mem_monitor::MIB`
    /// and [`mb_to_bytes`](mem_monitor::mb_to_bytes) convert from MB). A stream stays under it plus
    /// [`BASELINE_MB`](crate::BASELINE_MB), or ends with [`StreamError::OverBudget`]: chunks are
    /// also cut at a sixteenth of it in decoded bytes (at most
    /// [`MAX_CHUNK_BYTES`](crate::MAX_CHUNK_BYTES)), one CSV record may take a sixteenth, one
    /// Arrow IPC batch or Parquet column chunk a quarter. While streaming, the chunk size halves
    /// when the process RSS plus a chunk would exceed it; [`StreamingLoader::load`] refuses files
    /// whose estimated in-memory size exceeds it. A smaller limit means smaller chunks (more
    /// per-chunk work) and refuses wider rows and files.
    #[must_use]
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.inner.memory_limit = bytes;
        self
    }

    /// Read only these columns (by name, in this order). For CSV the other columns are still
    /// tokenised but not converted; Parquet and Arrow IPC skip them entirely.
    #[must_use]
    pub fn projection<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.projection = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// Whether to shrink chunks' types (default on, lossless).
    #[must_use]
    pub fn optimize(mut self, on: bool) -> Self {
        self.inner.optimize = on.then(|| self.inner.optimize.take().unwrap_or_default());
        self
    }

    /// Shrink chunks with these options (turns optimisation on).
    #[must_use]
    pub fn optimize_options(mut self, options: OptimizeOptions) -> Self {
        self.inner.optimize = Some(options);
        self
    }

    /// How to read CSV / TSV files.
    #[must_use]
    pub fn csv(mut self, options: CsvOptions) -> Self {
        self.inner.csv = options;
        self
    }

    /// The sheet to read from a workbook (default: the first).
    #[must_use]
    pub fn sheet(mut self, sheet: impl Into<String>) -> Self {
        self.inner.sheet = Some(sheet.into());
        self
    }

    /// Decode the next batch on a background thread while the caller works on the current one
    /// (default on). Off: everything on the caller's thread (CSV still parses on workers).
    #[must_use]
    pub fn read_ahead(mut self, on: bool) -> Self {
        self.inner.read_ahead = on;
        self
    }

    /// Where the memory pressure level comes from (default: the default
    /// [`Thresholds`](mem_monitor::Thresholds), sampled at every chunk). Pass the application's
    /// [`MemoryMonitor`](mem_monitor::MemoryMonitor) so its thresholds decide, or a
    /// [`FixedPressure`](mem_monitor::FixedPressure) to set the level by hand. At `High` the chunk
    /// size halves after every chunk (down to [`min_chunk_size`](Self::min_chunk_size)); it
    /// doubles back after a run of chunks at a lower level. Every reader follows: CSV blocks,
    /// Parquet batches (decoded smaller), workbook rows; Arrow IPC batches, whose size the file
    /// fixes, are sliced.
    #[must_use]
    pub fn pressure(mut self, source: Arc<dyn PressureSource>) -> Self {
        self.inner.pressure = Pressure(source);
        self
    }

    /// Read every file as `format`, whatever its extension says (default: from the extension,
    /// checked against the content). For files without an extension, or with a misleading one.
    /// A CSV/TSV file is still recognised as gzip by its magic bytes, and an Arrow IPC file or
    /// stream by its own.
    #[must_use]
    pub fn format(mut self, format: FileFormat) -> Self {
        self.inner.format = Some(format);
        self
    }

    /// Stop streaming after this many rows (default: the whole file).
    #[must_use]
    pub fn limit(mut self, rows: usize) -> Self {
        self.inner.limit = Some(rows);
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`StreamError::InvalidConfig`] for a zero chunk size, a non-positive or non-finite memory
    /// limit, an empty projection, or invalid CSV options.
    pub fn build(self) -> Result<StreamingLoader> {
        let mut l = self.inner;
        if l.chunk_size == 0 {
            return Err(StreamError::InvalidConfig(
                "chunk size must be at least 1 row".to_owned(),
            ));
        }
        if !self.min_set {
            l.min_chunk_size = l.min_chunk_size.min(l.chunk_size);
        }
        if l.min_chunk_size == 0 || l.min_chunk_size > l.chunk_size {
            return Err(StreamError::InvalidConfig(format!(
                "minimum chunk size must be between 1 and the chunk size ({}), got {}",
                l.chunk_size, l.min_chunk_size
            )));
        }
        if l.memory_limit == 0 {
            return Err(StreamError::InvalidConfig(
                "memory limit must be at least 1 byte".to_owned(),
            ));
        }
        if l.projection.as_ref().is_some_and(Vec::is_empty) {
            return Err(StreamError::InvalidConfig(
                "the projection names no column".to_owned(),
            ));
        }
        l.csv.validate().map_err(StreamError::InvalidConfig)?;
        Ok(l)
    }
}
