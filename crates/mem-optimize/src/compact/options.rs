//! What [`CompactBatch`](super::CompactBatch) and [`CompactTable`](super::CompactTable) may do.

use mem_monitor::{KIB, MIB};

use super::text::Settings;
use crate::error::OptimizeError;
use crate::options::OptimizeOptions;

/// Default [`CompactOptions::sample_bytes`]: 32 KiB.
pub const DEFAULT_SAMPLE_BYTES: u64 = 32 * KIB;
/// Largest [`CompactOptions::sample_bytes`] accepted: 16 MiB.
pub const MAX_SAMPLE_BYTES: u64 = 16 * MIB;

/// Options of [`CompactBatch::try_new`](super::CompactBatch::try_new) and
/// [`CompactTable::new`](super::CompactTable::new).
///
/// ```
/// use mem_optimize::{CompactOptions, KIB};
/// let opts = CompactOptions::default().sample_bytes(64 * KIB).max_ratio(0.8).optimize(None);
/// assert_eq!(opts.sample_bytes, 64 * KIB);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CompactOptions {
    /// How the columns that stay Arrow arrays are shrunk first ([`optimize_batch`]); `None`
    /// keeps them as they are (for batches already optimised). Default
    /// `Some(OptimizeOptions::default())`, which is lossless.
    ///
    /// [`optimize_batch`]: crate::optimize_batch
    pub optimize: Option<OptimizeOptions>,
    /// Bytes of a column's values the symbol table is trained on and the ratio is estimated
    /// from, taken from rows spread over the column, at most 512 bytes of each. Bounds the
    /// training's memory whatever the input; 1 KiB..=16 MiB, default
    /// [`DEFAULT_SAMPLE_BYTES`].
    pub sample_bytes: u64,
    /// A text column is kept as FSST codes only when its sample compresses to at most this
    /// fraction of its bytes, and the whole compressed column (codes, offsets, nulls, symbol
    /// table) holds at most this fraction of the plain column's memory; otherwise it stays a
    /// plain Arrow array. Must be above 0; default 0.9.
    pub max_ratio: f64,
    /// In a [`CompactTable`](super::CompactTable), a chunk reuses the table trained on an
    /// earlier chunk while its sample compresses at most this much worse (ratio points) than
    /// the sample the table was trained on; past that the table is retrained. At least 0;
    /// default 0.05.
    pub retrain_drift: f64,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            optimize: Some(OptimizeOptions::default()),
            sample_bytes: DEFAULT_SAMPLE_BYTES,
            max_ratio: 0.9,
            retrain_drift: 0.05,
        }
    }
}

impl CompactOptions {
    /// The defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`optimize`](Self::optimize).
    #[must_use]
    pub fn optimize(mut self, options: Option<OptimizeOptions>) -> Self {
        self.optimize = options;
        self
    }

    /// Sets [`sample_bytes`](Self::sample_bytes).
    #[must_use]
    pub fn sample_bytes(mut self, bytes: u64) -> Self {
        self.sample_bytes = bytes;
        self
    }

    /// Sets [`max_ratio`](Self::max_ratio).
    #[must_use]
    pub fn max_ratio(mut self, ratio: f64) -> Self {
        self.max_ratio = ratio;
        self
    }

    /// Sets [`retrain_drift`](Self::retrain_drift).
    #[must_use]
    pub fn retrain_drift(mut self, drift: f64) -> Self {
        self.retrain_drift = drift;
        self
    }

    /// Checks every setting at once.
    ///
    /// # Errors
    /// [`OptimizeError::InvalidConfig`] naming each setting out of range.
    pub fn validate(&self) -> Result<(), OptimizeError> {
        let mut wrong = Vec::new();
        if !(KIB..=MAX_SAMPLE_BYTES).contains(&self.sample_bytes) {
            wrong.push(format!(
                "sample_bytes {} is outside {KIB}..={MAX_SAMPLE_BYTES}",
                self.sample_bytes
            ));
        }
        if self.max_ratio.is_nan() || self.max_ratio <= 0.0 {
            wrong.push(format!("max_ratio {} must be above 0", self.max_ratio));
        }
        if self.retrain_drift.is_nan() || self.retrain_drift < 0.0 {
            wrong.push(format!(
                "retrain_drift {} must be at least 0",
                self.retrain_drift
            ));
        }
        if let Some(o) = &self.optimize
            && let Err(e) = o.validate()
        {
            wrong.push(e.to_string());
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(OptimizeError::InvalidConfig(wrong.join("; ")))
        }
    }

    pub(crate) fn settings(&self) -> Settings {
        Settings {
            sample_bytes: usize::try_from(self.sample_bytes.min(MAX_SAMPLE_BYTES))
                .unwrap_or(usize::MAX),
            max_ratio: self.max_ratio,
            retrain_drift: self.retrain_drift,
        }
    }
}
