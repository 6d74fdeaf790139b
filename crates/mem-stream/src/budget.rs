//! How the loader's memory limit is shared out, so that no input decides how much is allocated.
//!
//! A stream keeps a bounded number of chunks alive: CSV has up to `ORDER_CAP` parsed blocks in
//! flight plus the one being cut and the one being consumed; other formats one batch being
//! decoded, one waiting (read-ahead) and one being consumed; each may briefly exist twice (the
//! decoder's scratch, the optimiser's copy). Sixteen chunks' worth fits all of that, so a chunk is
//! cut at a sixteenth of the limit (at most [`MAX_CHUNK_BYTES`], which is plenty to amortise
//! per-chunk work), and a unit that cannot be cut (one CSV record) may take that much. One Arrow
//! IPC batch or Parquet column chunk, decoded whole with at most three alive, may take a quarter.
//!
//! What stays outside the limit is the process's fixed cost: code, thread stacks, allocator
//! arenas and the like, [`BASELINE_MB`].

use std::path::Path;

use crate::error::StreamError;

/// The fixed memory of a streaming process outside the limit (code, thread stacks, allocator
/// arenas), in MB: a stream stays under `memory_limit_mb + BASELINE_MB` or ends with
/// [`StreamError::OverBudget`].
pub const BASELINE_MB: f64 = 40.0;

/// Decoded bytes at which a chunk is cut even when it has fewer rows than the chunk size.
pub const MAX_CHUNK_BYTES: u64 = 8 << 20;

/// The smallest cut, whatever the limit: below it per-chunk costs dominate.
const MIN_CHUNK_BYTES: u64 = 64 << 10;

/// A chunk gets this fraction of the limit (see the module docs).
const CHUNK_SHARE: u64 = 16;

/// An indivisible batch (IPC batch, Parquet column chunk) gets this fraction of the limit.
const BATCH_SHARE: u64 = 4;

/// Bytes each column costs per chunk whatever its rows: the Arrow array and its buffers, the
/// schema field, the optimiser's and the consumer's per-column state.
pub(crate) const COLUMN_BYTES: u64 = 2048;

/// The usual advice of an [`StreamError::OverBudget`].
pub(crate) const RAISE_LIMIT: &str = "raise the memory limit (--memory-limit-mb)";

/// The memory limit of one stream and its shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Budget {
    limit: u64,
}

impl Budget {
    /// The budget of a `limit_bytes` memory limit.
    pub(crate) fn new(limit_bytes: u64) -> Self {
        Self { limit: limit_bytes }
    }

    /// The memory limit, bytes.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }

    fn limit_mb(&self) -> f64 {
        mem_monitor::bytes_to_mb(self.limit)
    }

    /// Decoded bytes at which chunks (and CSV blocks, and Parquet batches) are cut.
    pub(crate) fn chunk_target(&self) -> u64 {
        (self.limit / CHUNK_SHARE).clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)
    }

    /// The most one indivisible piece of a chunk (a CSV record with its decoding) may take.
    pub(crate) fn record_max(&self) -> u64 {
        (self.limit / CHUNK_SHARE).max(MIN_CHUNK_BYTES)
    }

    /// The most one batch decoded whole (an Arrow IPC batch, a Parquet column chunk) may take.
    pub(crate) fn batch_max(&self) -> u64 {
        (self.limit / BATCH_SHARE).max(MIN_CHUNK_BYTES)
    }

    /// The most columns a chunk may have: their fixed cost must fit a chunk's share.
    pub(crate) fn max_columns(&self) -> usize {
        usize::try_from(self.record_max() / COLUMN_BYTES).unwrap_or(usize::MAX)
    }

    /// The error for `what`, which needs `needed` bytes where `allowed` are granted.
    pub(crate) fn over(
        &self,
        path: &Path,
        line: Option<u64>,
        what: impl Into<String>,
        needed: u64,
        allowed: u64,
        advice: &'static str,
    ) -> StreamError {
        StreamError::OverBudget {
            path: path.to_path_buf(),
            line,
            what: what.into(),
            needed_bytes: needed,
            allowed_bytes: allowed,
            limit_mb: self.limit_mb(),
            advice,
        }
    }

    /// Refuses a schema with more columns than [`max_columns`](Self::max_columns).
    pub(crate) fn check_columns(&self, path: &Path, columns: usize) -> Result<(), StreamError> {
        if columns <= self.max_columns() {
            return Ok(());
        }
        Err(self.over(
            path,
            None,
            format!("reading {columns} columns"),
            (columns as u64).saturating_mul(COLUMN_BYTES),
            self.record_max(),
            "read fewer columns (--columns) or raise the memory limit (--memory-limit-mb)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_of_common_limits() {
        let mb = |m: u64| Budget::new(m << 20);
        assert_eq!(mb(2000).chunk_target(), MAX_CHUNK_BYTES);
        assert_eq!(mb(2000).record_max(), 125 << 20);
        assert_eq!(mb(100).chunk_target(), 100 << 16);
        assert_eq!(mb(1).chunk_target(), MIN_CHUNK_BYTES);
        assert_eq!(mb(2000).batch_max(), 500 << 20);
        assert!(mb(2000).max_columns() >= 60_000);
        assert!(
            mb(100)
                .check_columns(Path::new("w.csv"), 1_000_000)
                .is_err()
        );
        let e = mb(100)
            .check_columns(Path::new("w.csv"), 1_000_000)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("w.csv: reading 1000000 columns needs about")
                && e.contains("100 MB memory limit"),
            "{e}"
        );
    }
}
