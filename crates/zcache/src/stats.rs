//! Counters and the reports built from them.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::shared::SharedTierStats;

/// Live counters, shared with the eviction listener and the cleanup thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub memory_hits: AtomicU64,
    pub memory_misses: AtomicU64,
    pub disk_hits: AtomicU64,
    pub disk_misses: AtomicU64,
    pub puts: AtomicU64,
    pub evictions: AtomicU64,
    pub disk_evictions: AtomicU64,
    pub spills: AtomicU64,
    pub expirations: AtomicU64,
    pub corrupt: AtomicU64,
    /// Entries met and left in place: too large for this cache (or unreadable).
    pub skipped: AtomicU64,
    /// Non-regular files met under an entry's name.
    pub foreign: AtomicU64,
    pub disk_errors: AtomicU64,
    /// Raw and stored payload bytes currently in the memory tier.
    pub memory_raw: AtomicU64,
    pub memory_stored: AtomicU64,
    /// Entries the background pass recompressed (cold) or restored (hot again).
    pub recompressed: AtomicU64,
    /// Disk or shared entries whose dictionary was missing (misses).
    pub dict_missing: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(counter: &AtomicU64, n: u64) {
        // Never wrap below zero even if a listener runs late.
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(n))
        });
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A snapshot of the cache's counters and sizes (serde: the JSON of `membound cache stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Gets answered by the memory tier.
    pub memory_hits: u64,
    /// Gets the memory tier could not answer.
    pub memory_misses: u64,
    /// Gets answered by the disk tier.
    pub disk_hits: u64,
    /// Gets that reached the disk tier and missed there too.
    pub disk_misses: u64,
    /// Gets answered by any tier (memory, disk, shared).
    pub hits: u64,
    /// Gets answered by no tier.
    pub misses: u64,
    /// `hits / (hits + misses)`, 0 when there were no gets.
    pub hit_rate: f64,
    /// Puts accepted.
    pub puts: u64,
    /// Entries in the memory tier.
    pub memory_entries: u64,
    /// Bytes the memory tier accounts for (stored payloads + keys + per-entry overhead).
    pub memory_bytes: u64,
    /// The memory tier's budget in bytes.
    pub memory_limit_bytes: u64,
    /// Raw (uncompressed) bytes of the values in the memory tier.
    pub memory_raw_bytes: u64,
    /// Stored (compressed) payload bytes in the memory tier.
    pub memory_stored_bytes: u64,
    /// Entries in the disk tier (as indexed by this process).
    pub disk_entries: u64,
    /// Bytes of the disk tier's entry files.
    pub disk_bytes: u64,
    /// The disk tier's budget in bytes: `None` (JSON `null`) without a disk tier or when the
    /// disk tier has no limit (`max_disk(u64::MAX)`).
    pub disk_limit_bytes: Option<u64>,
    /// Raw bytes of the values in the disk tier.
    pub disk_raw_bytes: u64,
    /// Raw bytes of every value held (memory tier, plus disk-only entries' raw bytes when
    /// spilled on eviction; with write-through the memory tier's view).
    pub raw_bytes: u64,
    /// Stored bytes matching `raw_bytes`.
    pub stored_bytes: u64,
    /// `stored_bytes / raw_bytes` (1.0 when empty): lower is better.
    pub compression_ratio: f64,
    /// `(raw_bytes - stored_bytes)` in MiB: memory saved by compression.
    pub compression_savings_mb: f64,
    /// Memory-tier entries evicted for space.
    pub evictions: u64,
    /// Of those, how many were written to the disk tier (write-on-eviction).
    pub spilled_to_disk: u64,
    /// Disk-tier entries evicted for space.
    pub disk_evictions: u64,
    /// Entries dropped because their TTL passed.
    pub expirations: u64,
    /// Damaged entries found (counted as misses; removed unless the cache is read-only).
    pub corrupt_entries: u64,
    /// Entries left in place unread because they declare more than the maximum entry size (a
    /// cache with a larger limit reads them), or could not be read; each time one is met.
    #[serde(default)]
    pub skipped_entries: u64,
    /// Files under an entry's name that are not regular files (FIFOs, devices, directories,
    /// symbolic links): never read, never removed; each time one is met.
    #[serde(default)]
    pub foreign_files: u64,
    /// Entry files this cache removed from its directory since it was opened (damaged,
    /// expired, evicted, removed, cleared): what really went.
    #[serde(default)]
    pub removed_files: u64,
    /// Files the cache meant to remove (damaged, expired, evicted, cleared) and could not.
    #[serde(default)]
    pub remove_failures: u64,
    /// The first of those failures: the path and the OS error.
    #[serde(default)]
    pub first_remove_error: Option<String>,
    /// True when the disk tier was opened read-only (see `CacheBuilder::read_only`).
    #[serde(default)]
    pub read_only: bool,
    /// Disk operations that failed (full disk, I/O errors).
    pub disk_errors: u64,
    /// The codec used when a put does not name one.
    pub default_compression: Codec,
    /// True while high memory pressure keeps the memory tier empty.
    pub disk_only: bool,
    /// True while medium or high pressure makes `Auto` compress harder.
    pub compress_harder: bool,
    /// Memory entries the background pass re-encoded: recompressed because they stayed cold,
    /// or given their fast codec back because they turned hot.
    #[serde(default)]
    pub recompressed: u64,
    /// Trained dictionaries held, and their bytes (counted in `memory_bytes` too).
    #[serde(default)]
    pub dictionaries: u64,
    /// Bytes of the trained dictionaries.
    #[serde(default)]
    pub dictionary_bytes: u64,
    /// Disk or shared entries that named a dictionary this cache does not have (misses).
    #[serde(default)]
    pub missing_dictionary: u64,
    /// The shared tier's figures, when the cache has one (absent from the JSON otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedTierStats>,
}

/// What [`CompressedCache::optimize`](crate::CompressedCache::optimize) did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizeReport {
    /// Expired entries removed from both tiers.
    pub expired_removed: u64,
    /// Memory entries recompressed with a better codec.
    pub recompressed: u64,
    /// Stored bytes saved by recompression.
    pub bytes_saved: u64,
    /// Memory-tier entries evicted to enforce the budget.
    pub memory_evicted: u64,
    /// Disk-tier entries evicted to enforce the budget (files really removed).
    pub disk_evicted: u64,
    /// Files this pass meant to remove (expired, evicted) and could not: they are still there
    /// and still counted (see `CacheStats::first_remove_error`).
    #[serde(default)]
    pub remove_failed: u64,
    /// Memory-tier entries afterwards.
    pub memory_entries: u64,
    /// Disk-tier entries afterwards.
    pub disk_entries: u64,
    /// Wall time of the pass in milliseconds.
    pub elapsed_ms: f64,
}

/// What [`CompressedCache::verify`](crate::CompressedCache::verify) found on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Entries that read back and decoded correctly.
    pub good: u64,
    /// Damaged entries (removed unless the cache is read-only).
    pub corrupt: u64,
    /// Expired entries (removed unless the cache is read-only).
    pub expired: u64,
    /// Entries left in place: larger than the maximum entry size, or of a codec this build
    /// lacks. Not damage.
    #[serde(default)]
    pub skipped: u64,
    /// Non-regular files under an entry's name (FIFOs, devices, directories, symbolic links):
    /// not entries, never read or removed.
    #[serde(default)]
    pub foreign: u64,
    /// Files this pass removed (damaged or expired).
    #[serde(default)]
    pub removed: u64,
    /// Removals this pass could not do (the files are still there).
    #[serde(default)]
    pub remove_failed: u64,
}
