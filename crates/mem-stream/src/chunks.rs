//! The chunk iterator: slices source batches to the target size, optimises them with one stable
//! schema, measures them, and adapts the chunk size to the memory limit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use mem_monitor::{PressureLevel, PressureSource};
use mem_optimize::{SchemaWidening, StreamOptimizer};

use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::source::BatchSource;

/// Consecutive comfortable chunks before the chunk size doubles back towards the configured one.
const GROW_AFTER: usize = 4;

/// What the loader knows about one chunk.
///
/// Serializable (serde): `elapsed` is seconds as a float (`"elapsed_secs"`), widenings are
/// [`SchemaWidening`]s with their types as strings.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ChunkMetadata {
    /// 0-based chunk index.
    pub index: usize,
    /// 0-based index of the chunk's first row in the file.
    pub start_row: u64,
    /// Rows in the chunk.
    pub rows: usize,
    /// Arrow memory held by the chunk, each distinct buffer counted once.
    pub bytes: usize,
    /// Source bytes consumed so far (compressed bytes for compressed files; estimated from rows
    /// for Parquet and from batches for Arrow IPC files).
    pub source_bytes_read: u64,
    /// Size of the source file; 0 when unknown (a stream read from a pipe).
    pub source_bytes_total: u64,
    /// `source_bytes_read / source_bytes_total`, 0.0 to 1.0; 0.0 when the size is unknown.
    pub progress: f64,
    /// Resident memory of the process after the chunk was produced.
    pub rss_bytes: u64,
    /// Time since `stream` was called.
    #[serde(rename = "elapsed_secs", serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The target chunk size (rows) this chunk was cut with.
    pub chunk_size: usize,
    /// Columns whose type widened with this chunk (the schema changed); empty otherwise.
    pub widenings: Vec<SchemaWidening>,
}

/// A duration as seconds (a float), for readers of JSON.
fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ChunkMetadata {
    /// Whether the output schema widened with this chunk.
    #[must_use]
    pub fn schema_widened(&self) -> bool {
        !self.widenings.is_empty()
    }
}

/// Settings the chunker needs from the loader.
pub(crate) struct ChunkerConfig {
    pub chunk_size: usize,
    pub min_chunk_size: usize,
    /// The memory limit; chunks are also cut at its [`Budget::chunk_target`] bytes.
    pub budget: Budget,
    /// Whether the chunk size follows memory pressure (streams) or stays put (samples).
    pub adapt: bool,
    /// Where the pressure level comes from.
    pub pressure: Arc<dyn PressureSource>,
    pub optimizer: Option<StreamOptimizer>,
    pub limit: Option<usize>,
}

/// An iterator of `(RecordBatch, ChunkMetadata)` over one file; see
/// [`StreamingLoader::stream`](crate::StreamingLoader::stream).
///
/// Only the chunk being returned and a bounded read-ahead are alive at once. After an error the
/// iterator ends.
///
/// For code that takes an arrow [`RecordBatchReader`](arrow::array::RecordBatchReader) (writers,
/// query engines, the C stream interface), [`into_reader`](Self::into_reader) turns the stream
/// into a [`ChunkReader`](crate::ChunkReader): one fixed schema (the file's types), batches
/// conformed to it, errors as `ArrowError::ExternalError`.
///
/// ```
/// use arrow::array::RecordBatchReader;
/// use mem_stream::StreamingLoader;
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("t.csv");
/// # std::fs::write(&path, "a,b\n1,x\n2,y\n3,z\n")?;
/// let reader = StreamingLoader::builder().chunk_size(2).build()?.stream(&path)?.into_reader();
/// assert_eq!(reader.schema().field(0).name(), "a");
/// let batches = reader.collect::<Result<Vec<_>, _>>()?;
/// assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChunkStream {
    path: PathBuf,
    source: Box<dyn BatchSource>,
    /// The rest of the last source batch, and its bytes per row (measured before slicing: a
    /// slice reports the whole allocation it keeps alive).
    pending: Option<(RecordBatch, f64)>,
    target: Arc<AtomicUsize>,
    cfg: ChunkerConfig,
    index: usize,
    next_row: u64,
    started: Instant,
    healthy: usize,
    peak_rss: u64,
    done: bool,
}

impl std::fmt::Debug for ChunkStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkStream")
            .field("path", &self.path)
            .field("index", &self.index)
            .field("next_row", &self.next_row)
            .field("chunk_size", &self.chunk_size())
            .finish_non_exhaustive()
    }
}

impl ChunkStream {
    pub(crate) fn new(
        path: &Path,
        source: Box<dyn BatchSource>,
        target: Arc<AtomicUsize>,
        cfg: ChunkerConfig,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
            pending: None,
            target,
            cfg,
            index: 0,
            next_row: 0,
            started: Instant::now(),
            healthy: 0,
            peak_rss: 0,
            done: false,
        }
    }

    /// This stream as an arrow `RecordBatchReader` (see [`ChunkReader`](crate::ChunkReader)):
    /// the schema is the file's ([`source_schema`](Self::source_schema)), fixed up front, so the
    /// reader's chunks are not type-shrunk.
    #[must_use]
    pub fn into_reader(self) -> crate::ChunkReader {
        crate::ChunkReader::new(self)
    }

    /// Turns type shrinking off for the chunks still to come.
    pub(crate) fn stop_optimizing(&mut self) {
        self.cfg.optimizer = None;
    }

    /// The file being streamed.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema of the chunks: the optimised schema once a chunk was produced (it may still
    /// widen later, which each chunk's metadata reports), the file's before.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        self.cfg
            .optimizer
            .as_ref()
            .and_then(StreamOptimizer::schema)
            .unwrap_or_else(|| self.source.schema())
    }

    /// The schema of the file as read, before optimisation.
    #[must_use]
    pub fn source_schema(&self) -> SchemaRef {
        self.source.schema()
    }

    /// The current target chunk size in rows (it shrinks under memory pressure).
    #[must_use]
    pub fn chunk_size(&self) -> usize {
        self.target.load(Ordering::Relaxed)
    }

    /// Highest process RSS seen after a chunk, in bytes.
    #[must_use]
    pub fn peak_rss_bytes(&self) -> u64 {
        self.peak_rss
    }

    /// Every widening of the output schema so far.
    #[must_use]
    pub fn widenings(&self) -> Vec<SchemaWidening> {
        self.cfg
            .optimizer
            .as_ref()
            .map(|o| o.widenings().to_vec())
            .unwrap_or_default()
    }

    /// Brings a batch produced earlier in this stream to the final output schema.
    ///
    /// # Errors
    /// When the batch cannot be cast (it does not come from this stream).
    pub fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        match &self.cfg.optimizer {
            Some(o) => o.conform(batch).map_err(|source| StreamError::Optimize {
                path: self.path.clone(),
                chunk: self.index,
                error: source,
            }),
            None => Ok(batch.clone()),
        }
    }

    /// The next raw batch of at most the target rows and the budget's chunk bytes, or `None` at
    /// the end.
    fn next_raw(&mut self, target: usize) -> Option<Result<RecordBatch>> {
        loop {
            let (batch, row_bytes) = match self.pending.take() {
                Some(p) => p,
                None => match self.source.next_batch()? {
                    Ok(b) => {
                        let rows = b.num_rows().max(1);
                        let bytes = mem_optimize::batch_memory_size(&b);
                        (b, bytes as f64 / rows as f64)
                    }
                    Err(e) => return Some(Err(e)),
                },
            };
            let rows = batch.num_rows();
            if rows == 0 {
                continue;
            }
            let by_bytes = (self.cfg.budget.chunk_target() as f64 / row_bytes.max(1.0)) as usize;
            let mut take = rows.min(target.max(1)).min(by_bytes.max(1));
            if let Some(remaining) = self.cfg.limit {
                take = take.min(remaining);
                if take == 0 {
                    return None;
                }
            }
            if take < rows {
                self.pending = Some((batch.slice(take, rows - take), row_bytes));
                return Some(Ok(batch.slice(0, take)));
            }
            return Some(Ok(batch));
        }
    }

    /// Halves the target at High (or when RSS plus a chunk would pass the limit), holds it at
    /// Medium, and doubles it back after a run of comfortable chunks at Low.
    fn adapt(&mut self, bytes: usize, rss: u64, level: PressureLevel) {
        if !self.cfg.adapt {
            return;
        }
        let current = self.target.load(Ordering::Relaxed);
        let limit = self.cfg.budget.limit();
        let next_need = rss.saturating_add(bytes as u64);
        if next_need > limit || level == PressureLevel::High {
            let halved = (current / 2).max(self.cfg.min_chunk_size);
            if halved < current {
                tracing::info!(path = %self.path.display(), from = current, to = halved, rss, limit, ?level, "memory pressure: chunk size halved");
                self.target.store(halved, Ordering::Relaxed);
            }
            self.healthy = 0;
        } else if level == PressureLevel::Low
            && current < self.cfg.chunk_size
            && rss.saturating_add(4 * bytes as u64) < limit
        {
            self.healthy += 1;
            if self.healthy >= GROW_AFTER {
                let grown = current.saturating_mul(2).min(self.cfg.chunk_size);
                tracing::info!(path = %self.path.display(), from = current, to = grown, "memory comfortable: chunk size grown");
                self.target.store(grown, Ordering::Relaxed);
                self.healthy = 0;
            }
        } else {
            self.healthy = 0;
        }
    }

    fn produce(&mut self) -> Option<Result<(RecordBatch, ChunkMetadata)>> {
        let target = self.target.load(Ordering::Relaxed);
        let raw = match self.next_raw(target)? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let (batch, widenings) = match &mut self.cfg.optimizer {
            Some(opt) => match opt.push(&raw) {
                Ok((b, _)) => (b, opt.last_widenings().to_vec()),
                Err(source) => {
                    return Some(Err(StreamError::Optimize {
                        path: self.path.clone(),
                        chunk: self.index,
                        error: source,
                    }));
                }
            },
            None => (raw, Vec::new()),
        };
        let rows = batch.num_rows();
        if let Some(r) = &mut self.cfg.limit {
            *r = r.saturating_sub(rows);
        }
        let bytes = mem_optimize::batch_memory_size(&batch);
        // The RSS for the metadata and the limit check; the level from the one pressure policy.
        let rss = mem_monitor::memory_stats().map_or(0, |s| s.process_rss_bytes);
        let level = if self.cfg.adapt {
            self.cfg.pressure.level()
        } else {
            PressureLevel::Low
        };
        self.peak_rss = self.peak_rss.max(rss);
        let read = self.source.bytes_read();
        let total = self.source.total_bytes();
        let meta = ChunkMetadata {
            index: self.index,
            start_row: self.next_row,
            rows,
            bytes,
            source_bytes_read: read,
            source_bytes_total: total,
            progress: if total == 0 {
                0.0
            } else {
                (read as f64 / total as f64).clamp(0.0, 1.0)
            },
            rss_bytes: rss,
            elapsed: self.started.elapsed(),
            chunk_size: target,
            widenings,
        };
        self.index += 1;
        self.next_row += rows as u64;
        self.adapt(bytes, rss, level);
        Some(Ok((batch, meta)))
    }
}

impl Iterator for ChunkStream {
    type Item = Result<(RecordBatch, ChunkMetadata)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.produce();
        match &item {
            None | Some(Err(_)) => self.done = true,
            Some(Ok(_)) => {}
        }
        item
    }
}

impl std::iter::FusedIterator for ChunkStream {}

#[cfg(test)]
#[path = "chunks_tests.rs"]
mod tests;
