//! Stats, cleanup, optimize and verify.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::cache::{CompressedCache, Inner};
use crate::codec::Codec;
use crate::entry::{Stored, auto_codec, encode, now_ms};
use crate::error::CacheError;
use crate::stats::{CacheStats, Counters, OptimizeReport, VerifyReport};

/// Recompression must save at least this fraction (1/16) to be kept.
const RECOMPRESS_GAIN_SHIFT: u32 = 4;

impl Inner {
    /// Removes expired entries from both tiers; returns how many.
    pub(crate) fn cleanup_expired(&self) -> u64 {
        let now = now_ms();
        let expired: Vec<Arc<str>> = self
            .memory
            .iter()
            .filter(|(_, v)| v.is_expired(now))
            .map(|(k, _)| k)
            .collect();
        for k in &expired {
            self.memory.remove(k);
        }
        // Each tier counts its removals as it makes them, before the disk files go.
        let mut n = expired.len() as u64;
        Counters::add(&self.counters.expirations, n);
        if let Some(d) = &self.disk {
            n += d.purge_expired(&self.counters.expirations);
        }
        n
    }

    /// Writes every memory entry not yet on disk to the disk tier.
    pub(crate) fn spill_all(&self) -> u64 {
        if self.disk.is_none() {
            return 0;
        }
        let now = now_ms();
        let mut spilled = 0;
        for (k, v) in &self.memory {
            if !v.is_on_disk() && !v.is_expired(now) && self.write_disk(&k, &v).is_ok() {
                spilled += 1;
            }
        }
        Counters::add(&self.counters.spills, spilled);
        spilled
    }
}

impl CompressedCache {
    /// A snapshot of counters and sizes (runs pending memory-tier maintenance first).
    pub fn get_stats(&self) -> CacheStats {
        let inner = &*self.inner;
        let c = &inner.counters;
        let memory_hits = Counters::get(&c.memory_hits);
        let disk_hits = Counters::get(&c.disk_hits);
        let shared = inner.shared.as_ref().map(crate::shared::SharedTier::stats);
        let hits = memory_hits + disk_hits + shared.as_ref().map_or(0, |s| s.hits);
        let misses = if let Some(s) = &shared {
            s.misses
        } else if inner.disk.is_some() {
            Counters::get(&c.disk_misses)
        } else {
            Counters::get(&c.memory_misses)
        };
        let (disk_entries, disk_bytes, disk_raw) =
            inner.disk.as_ref().map_or((0, 0, 0), |d| d.usage());
        let failures = inner
            .disk
            .as_ref()
            .map(|d| d.remove_failures())
            .unwrap_or_default();
        let (dictionaries, dictionary_bytes) = inner.dicts.usage();
        let memory_raw = Counters::get(&c.memory_raw);
        let memory_stored = Counters::get(&c.memory_stored);
        let (raw, stored) = if memory_raw == 0 && disk_raw > 0 {
            // Serving from disk only (or memory disabled): report the disk tier's compression.
            (disk_raw, disk_bytes)
        } else {
            (memory_raw, memory_stored)
        };
        CacheStats {
            memory_hits,
            memory_misses: Counters::get(&c.memory_misses),
            disk_hits,
            disk_misses: Counters::get(&c.disk_misses),
            hits,
            misses,
            hit_rate: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            puts: Counters::get(&c.puts),
            memory_entries: inner.memory.entry_count(),
            memory_bytes: inner.memory.weighted_size(),
            memory_limit_bytes: inner.config.max_memory_bytes,
            memory_raw_bytes: memory_raw,
            memory_stored_bytes: memory_stored,
            disk_entries,
            disk_bytes,
            disk_limit_bytes: inner
                .disk
                .as_ref()
                .map(|d| d.max_bytes())
                .filter(|&b| b != u64::MAX),
            disk_raw_bytes: disk_raw,
            raw_bytes: raw,
            stored_bytes: stored,
            compression_ratio: if raw == 0 {
                1.0
            } else {
                stored as f64 / raw as f64
            },
            compression_savings_mb: mem_monitor::bytes_to_mb(raw.saturating_sub(stored)),
            evictions: Counters::get(&c.evictions),
            spilled_to_disk: Counters::get(&c.spills),
            disk_evictions: Counters::get(&c.disk_evictions),
            expirations: Counters::get(&c.expirations),
            corrupt_entries: Counters::get(&c.corrupt),
            skipped_entries: Counters::get(&c.skipped),
            foreign_files: Counters::get(&c.foreign),
            removed_files: inner.disk.as_ref().map_or(0, |d| d.removed_files()),
            remove_failures: failures.count,
            first_remove_error: failures.first,
            read_only: inner.disk.as_ref().is_some_and(|d| d.read_only()),
            disk_errors: Counters::get(&c.disk_errors),
            default_compression: inner.config.default_compression,
            disk_only: inner.disk_only.load(Ordering::Relaxed),
            compress_harder: inner.harder.load(Ordering::Relaxed),
            recompressed: Counters::get(&c.recompressed),
            dictionaries,
            dictionary_bytes,
            missing_dictionary: Counters::get(&c.dict_missing),
            shared,
        }
    }

    /// Purges expired entries, recompresses memory entries whose codec is weaker than the best
    /// for their kind (keeping the result only if it saves at least 1/16), and enforces both
    /// budgets.
    pub fn optimize(&self) -> OptimizeReport {
        let started = Instant::now();
        let inner = &*self.inner;
        let failed_before = inner.disk.as_ref().map_or(0, |d| d.remove_failures().count);
        let expired_before = Counters::get(&inner.counters.expirations);
        inner.cleanup_expired();
        // Counted from the counter: gets may remove expired entries during the pass too.
        let mut report = OptimizeReport {
            expired_removed: Counters::get(&inner.counters.expirations)
                .saturating_sub(expired_before),
            ..OptimizeReport::default()
        };
        let harder = inner.harder.load(Ordering::Relaxed);
        let evictions_before = Counters::get(&inner.counters.evictions);
        let candidates: Vec<(Arc<str>, Arc<Stored>)> = inner
            .memory
            .iter()
            .filter(|(_, v)| {
                let best = auto_codec(
                    v.kind,
                    usize::try_from(v.raw_len).unwrap_or(usize::MAX),
                    harder,
                );
                best != Codec::None && v.codec.strength() < best.strength()
            })
            .collect();
        for (key, old) in candidates {
            let Ok(raw) = old.raw_bytes(&inner.dicts) else {
                continue;
            };
            let Ok((codec, payload)) = encode(&raw, old.kind, Codec::Auto, harder) else {
                continue;
            };
            let old_len = old.payload.len();
            if codec == Codec::None || payload.len() > old_len - (old_len >> RECOMPRESS_GAIN_SHIFT)
            {
                continue;
            }
            report.recompressed += 1;
            report.bytes_saved += (old_len - payload.len()) as u64;
            let fresh = Arc::new(old.recoded(
                codec,
                payload.into_boxed_slice(),
                0,
                old.flags.load(Ordering::Relaxed),
            ));
            inner.insert_memory(&key, fresh);
        }
        report.memory_evicted =
            Counters::get(&inner.counters.evictions).saturating_sub(evictions_before);
        if let Some(d) = &inner.disk {
            report.disk_evicted = d.evict_to_fit();
            Counters::add(&inner.counters.disk_evictions, report.disk_evicted);
            report.disk_entries = d.usage().0;
            report.remove_failed = d.remove_failures().count.saturating_sub(failed_before);
        }
        report.memory_entries = inner.memory.entry_count();
        report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        report
    }

    /// Writes every memory entry that is not on disk yet to the disk tier (with
    /// write-on-eviction, what a clean shutdown should call; dropping the cache does not).
    /// Returns how many entries were written; 0 without a disk tier.
    pub fn flush(&self) -> u64 {
        self.inner.spill_all()
    }

    /// Reads and fully decodes every entry of both tiers; damaged and expired entries are
    /// counted and removed (on disk only unless the cache is read-only). Entries too large for
    /// this cache and files that are not regular files are counted and never removed.
    ///
    /// # Errors
    /// An I/O error listing or reading the disk directory.
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let inner = &*self.inner;
        let mut report = VerifyReport::default();
        let now = now_ms();
        for (k, v) in &inner.memory {
            if v.is_expired(now) {
                inner.memory.remove(&k);
                report.expired += 1;
            } else if v.raw_bytes(&inner.dicts).is_ok() {
                report.good += 1;
            } else {
                inner.memory.remove(&k);
                report.corrupt += 1;
            }
        }
        if let Some(d) = &inner.disk {
            let counts = d.verify(&inner.dicts)?;
            report.good += counts.good;
            report.corrupt += counts.corrupt;
            report.expired += counts.expired;
            report.skipped = counts.skipped;
            report.foreign = counts.foreign;
            report.removed = counts.removed;
            report.remove_failed = counts.remove_failed;
        }
        Counters::add(&inner.counters.corrupt, report.corrupt);
        Counters::add(&inner.counters.expirations, report.expired);
        Ok(report)
    }
}
