//! `StreamingLoader`: its three ways to read a file (stream, sample, load), and streams from any
//! reader.

mod builder;
mod compact;
mod reader;

pub use builder::StreamingLoaderBuilder;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use arrow::record_batch::RecordBatch;
use mem_monitor::{PressureSource, Thresholds};
use mem_optimize::{OptimizeOptions, StreamOptimizer};

use crate::budget::Budget;
use crate::chunks::{ChunkMetadata, ChunkStream, ChunkerConfig};
use crate::error::{Result, StreamError};
use crate::format::FileFormat;
use crate::options::CsvOptions;
use crate::source::{self, OpenRequest, readahead::ReadAhead};

/// Default rows per chunk (the seed's `BERTOPIC_STREAMING_CHUNK_SIZE`).
pub const DEFAULT_CHUNK_SIZE: usize = mem_monitor::defaults::CHUNK_SIZE;
/// Default memory limit in bytes (the seed's `BERTOPIC_MAX_MEMORY_MB`, 2000 MB).
pub const DEFAULT_MEMORY_LIMIT: u64 = mem_monitor::defaults::MEMORY_LIMIT;

/// Reads table files in chunks of rows with bounded memory (the seed's `FileIOService`).
///
/// Build one with [`StreamingLoader::builder`]; it is cheap to clone and can read many files.
#[derive(Debug, Clone)]
pub struct StreamingLoader {
    chunk_size: usize,
    min_chunk_size: usize,
    memory_limit: u64,
    projection: Option<Vec<String>>,
    optimize: Option<OptimizeOptions>,
    csv: CsvOptions,
    sheet: Option<String>,
    read_ahead: bool,
    limit: Option<usize>,
    pressure: Pressure,
    format: Option<FileFormat>,
}

/// The loader's pressure source, shown by name in `Debug`.
#[derive(Clone)]
pub(crate) struct Pressure(pub(crate) Arc<dyn PressureSource>);

impl std::fmt::Debug for Pressure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PressureSource")
    }
}

impl Default for Pressure {
    /// The default thresholds, sampled at every chunk.
    fn default() -> Self {
        Self(Arc::new(Thresholds::default()))
    }
}

impl Default for StreamingLoader {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            min_chunk_size: 256,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            projection: None,
            optimize: Some(OptimizeOptions::default()),
            csv: CsvOptions::default(),
            sheet: None,
            read_ahead: true,
            limit: None,
            pressure: Pressure::default(),
            format: None,
        }
    }
}

impl StreamingLoader {
    /// A builder with the defaults: 10,000-row chunks, 2000 MB limit, lossless optimisation.
    #[must_use]
    pub fn builder() -> StreamingLoaderBuilder {
        StreamingLoaderBuilder::default()
    }

    /// Rows per chunk.
    #[must_use]
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The memory limit in bytes.
    #[must_use]
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// Decoded bytes at which a chunk is cut even when it has fewer rows than the chunk size,
    /// and the most a [`sample`](Self::sample) holds: a sixteenth of the memory limit, at most
    /// [`MAX_CHUNK_BYTES`](crate::MAX_CHUNK_BYTES).
    #[must_use]
    pub fn chunk_bytes(&self) -> u64 {
        self.budget().chunk_target()
    }

    fn limit_bytes(&self) -> u64 {
        self.memory_limit
    }

    fn budget(&self) -> Budget {
        Budget::new(self.limit_bytes())
    }

    fn request<'a>(
        &'a self,
        path: &'a Path,
        format: FileFormat,
        target: &Arc<AtomicUsize>,
        limit: Option<usize>,
    ) -> OpenRequest<'a> {
        OpenRequest {
            path,
            format,
            projection: self.projection.as_deref(),
            csv: &self.csv,
            sheet: self.sheet.as_deref(),
            target_rows: target.clone(),
            limit,
            parallel: limit.is_none(),
            budget: self.budget(),
        }
    }

    fn open(
        &self,
        path: &Path,
        format: FileFormat,
        target: &Arc<AtomicUsize>,
        limit: Option<usize>,
    ) -> Result<Box<dyn source::BatchSource>> {
        source::open(&self.request(path, format, target, limit))
    }

    /// The chunker's settings for a stream.
    fn stream_config(&self) -> ChunkerConfig {
        ChunkerConfig {
            chunk_size: self.chunk_size,
            min_chunk_size: self.min_chunk_size,
            budget: self.budget(),
            adapt: true,
            pressure: self.pressure.0.clone(),
            optimizer: self.optimize.clone().map(StreamOptimizer::new),
            limit: self.limit,
        }
    }

    /// Streams `path` in chunks of rows.
    ///
    /// The format comes from the extension (or the builder's
    /// [`format`](StreamingLoaderBuilder::format)) and is checked against the file's first bytes.
    /// Errors while reading come out of the iterator, which then ends. To read from a pipe or
    /// any other reader, see [`stream_reader`](Self::stream_reader).
    ///
    /// # Errors
    /// The file cannot be opened, its format is unsupported or contradicted by its content, its
    /// header or schema cannot be read, or a projected column does not exist.
    pub fn stream(&self, path: impl AsRef<Path>) -> Result<ChunkStream> {
        let path = path.as_ref();
        let format = crate::format::detect(path, self.format)?;
        let target = Arc::new(AtomicUsize::new(self.chunk_size));
        let mut src = self.open(path, format, &target, None)?;
        if self.read_ahead && !matches!(format, FileFormat::Csv { .. }) {
            src = Box::new(ReadAhead::spawn(src, path)?);
        }
        Ok(ChunkStream::new(path, src, target, self.stream_config()))
    }

    /// The first `rows` rows of `path` as one batch, reading only what they need (a preview).
    ///
    /// The sample holds about [`chunk_bytes`](Self::chunk_bytes) of decoded data at most: when the
    /// rows asked for would take more, it has fewer rows, and its metadata's `progress` is
    /// below 1.
    ///
    /// # Errors
    /// As [`stream`](Self::stream), plus decoding errors within those rows.
    pub fn sample(
        &self,
        path: impl AsRef<Path>,
        rows: usize,
    ) -> Result<(RecordBatch, ChunkMetadata)> {
        let path = path.as_ref();
        let format = crate::format::detect(path, self.format)?;
        let target = Arc::new(AtomicUsize::new(rows.max(1)));
        let src = self.open(path, format, &target, Some(rows))?;
        let budget = self.budget();
        let cfg = ChunkerConfig {
            chunk_size: rows.max(1),
            min_chunk_size: 1,
            budget,
            adapt: false,
            pressure: self.pressure.0.clone(),
            optimizer: None,
            limit: Some(rows),
        };
        let mut stream = ChunkStream::new(path, src, target, cfg);
        let mut batches = Vec::new();
        let mut last = None;
        let mut held = 0u64;
        for item in stream.by_ref() {
            let (b, m) = item?;
            held = held.saturating_add(m.bytes as u64);
            let full = held >= budget.chunk_target();
            batches.push(b);
            last = Some(m);
            if full {
                tracing::debug!(path = %path.display(), held, "sample cut at its byte budget");
                break;
            }
        }
        let schema = stream.schema();
        let batch = arrow::compute::concat_batches(&schema, &batches)
            .map_err(|e| StreamError::arrow(path, "joining the sample's batches", e))?;
        drop(batches);
        let batch = match &self.optimize {
            Some(opts) => {
                mem_optimize::optimize_batch(&batch, opts)
                    .map_err(|source| StreamError::Optimize {
                        path: path.to_path_buf(),
                        chunk: 0,
                        error: source,
                    })?
                    .0
            }
            None => batch,
        };
        let bytes = mem_optimize::batch_memory_size(&batch);
        let meta = match last {
            Some(mut m) => {
                m.index = 0;
                m.start_row = 0;
                m.rows = batch.num_rows();
                m.bytes = bytes;
                m.chunk_size = rows;
                m
            }
            None => ChunkMetadata {
                index: 0,
                start_row: 0,
                rows: 0,
                bytes,
                source_bytes_read: 0,
                source_bytes_total: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
                progress: 1.0,
                rss_bytes: mem_monitor::memory_stats()
                    .map(|s| s.process_rss_bytes)
                    .unwrap_or(0),
                elapsed: std::time::Duration::ZERO,
                chunk_size: rows,
                widenings: Vec::new(),
            },
        };
        Ok((batch, meta))
    }

    /// Estimated Arrow memory, in bytes, to hold the whole file (before optimisation).
    ///
    /// CSV: the text size (x4 for gzip); Parquet: the uncompressed size in its metadata;
    /// Arrow IPC: the file size (x3 when buffers are compressed); workbooks: x8 the file size.
    ///
    /// # Errors
    /// As [`stream`](Self::stream) for opening the file.
    pub fn estimate_memory(&self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let format = crate::format::detect(path, self.format)?;
        let size = std::fs::metadata(path)
            .map_err(|e| StreamError::io(path, "cannot open", e))?
            .len();
        Ok(match format {
            FileFormat::Csv { gzip: true, .. } => size.saturating_mul(4),
            FileFormat::Csv { .. } | FileFormat::ArrowStream => size,
            FileFormat::ArrowFile => size.saturating_mul(3) / 2,
            FileFormat::Workbook => size.saturating_mul(8),
            #[cfg(not(feature = "parquet"))]
            FileFormat::Parquet => return Err(StreamError::disabled(path, format)),
            #[cfg(feature = "parquet")]
            FileFormat::Parquet => {
                let file = std::fs::File::open(path)
                    .map_err(|e| StreamError::io(path, "cannot open", e))?;
                let b = crate::guard::contain(path, "Parquet", || {
                    crate::source::parquet::open_builder(file)
                        .map_err(|e| StreamError::parquet(path, e))
                })?;
                let sum: i64 = b
                    .metadata()
                    .row_groups()
                    .iter()
                    .map(|rg| rg.total_byte_size())
                    .sum();
                u64::try_from(sum).unwrap_or(0).max(size)
            }
        })
    }

    /// Loads the whole file as one batch with one schema, refusing when the estimated size
    /// exceeds the memory limit (stream it instead).
    ///
    /// # Errors
    /// [`StreamError::TooLarge`] over the limit; otherwise as [`stream`](Self::stream).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<RecordBatch> {
        let path = path.as_ref();
        let estimated = self.estimate_memory(path)?;
        if estimated > self.limit_bytes() {
            return Err(StreamError::TooLarge {
                path: path.to_path_buf(),
                estimated_mb: mem_monitor::bytes_to_mb(estimated),
                limit_mb: mem_monitor::bytes_to_mb(self.memory_limit),
            });
        }
        let mut stream = self.stream(path)?;
        let mut batches = Vec::new();
        for item in stream.by_ref() {
            batches.push(item?.0);
        }
        let schema = stream.schema();
        let conformed = batches
            .iter()
            .map(|b| stream.conform(b))
            .collect::<Result<Vec<_>>>()?;
        drop(batches);
        arrow::compute::concat_batches(&schema, &conformed)
            .map_err(|e| StreamError::arrow(path, "joining chunks", e))
    }
}
