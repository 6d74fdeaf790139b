//! The cache itself: the memory tier, the optional disk tier, put and get.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::builder::{CacheBuilder, Config, DiskPolicy};
use crate::cleanup::Cleaner;
use crate::dict::Dicts;
use crate::disk::format::MAX_KEY_LEN;
use crate::disk::{DiskStore, ReadOutcome};
use crate::entry::{Stored, encode, now_ms};
use crate::error::CacheError;
use crate::memory::{MemoryTier, Removal};
use crate::options::{EntryInfo, PutOptions, PutReport};
use crate::recompress::Recompressor;
use crate::shared::{SharedTier, SharedTierStats};
use crate::stats::Counters;
use crate::value::{CacheValue, ValueKind};

/// Shared state: the tiers, the counters, the pressure mode.
pub(crate) struct Inner {
    pub config: Config,
    pub memory: MemoryTier,
    pub disk: Option<Arc<DiskStore>>,
    /// The shared tier (Redis), after memory and disk.
    pub shared: Option<SharedTier>,
    pub counters: Arc<Counters>,
    /// Medium pressure or above: `Auto` compresses harder.
    pub harder: AtomicBool,
    /// High pressure with a disk tier: the memory tier is empty and bypassed.
    pub disk_only: AtomicBool,
    pub cleanup_every_ms: AtomicU64,
    /// The trained dictionaries (memory, and the disk tier's `dicts/`).
    pub dicts: Dicts,
    /// Locks taken by puts, removes and the background recompression per key stripe, so that
    /// a recompressed copy never replaces a newer value or revives a removed one.
    pub stripes: Box<[parking_lot::Mutex<()>]>,
}

/// Stripes of [`Inner::stripes`].
const STRIPES: usize = 64;

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .field("disk", &self.disk)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Inner {
    pub(crate) fn cleanup_every(&self) -> Duration {
        Duration::from_millis(self.cleanup_every_ms.load(Ordering::Relaxed))
    }

    /// The lock of `key`'s stripe.
    pub(crate) fn stripe(&self, key: &str) -> &parking_lot::Mutex<()> {
        let i = xxhash_rust::xxh3::xxh3_64(key.as_bytes()) as usize % self.stripes.len().max(1);
        &self.stripes[i]
    }

    /// Stores an entry in the memory tier; false when the tier did not admit it (the removal
    /// listener then counted it as an eviction and spilled it as one).
    pub(crate) fn insert_memory(&self, key: &str, stored: Arc<Stored>) -> bool {
        let _guard = self.stripe(key).lock();
        Counters::add(&self.counters.memory_raw, stored.raw_len);
        Counters::add(&self.counters.memory_stored, stored.payload.len() as u64);
        self.memory.insert(key, stored)
    }

    /// Whether an entry read from disk or the shared tier can be decoded here: its
    /// dictionary, if it names one, is found (else it is a miss, counted).
    pub(crate) fn decodable(&self, s: &Stored) -> bool {
        if s.dict == 0 || self.dicts.get(s.dict).is_some() {
            return true;
        }
        Counters::add(&self.counters.dict_missing, 1);
        false
    }

    /// Writes one entry to disk, counting the outcome.
    pub(crate) fn write_disk(&self, key: &str, stored: &Stored) -> Result<(), CacheError> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        match disk.write(key, stored) {
            Ok(evicted) => {
                Counters::add(&self.counters.disk_evictions, evicted);
                Ok(())
            }
            Err(e) => {
                Counters::add(&self.counters.disk_errors, 1);
                tracing::warn!(key, error = %e, "zcache disk write failed");
                // A stale older copy must not outlive the failed update.
                let _ = disk.remove(key);
                Err(e)
            }
        }
    }
}

fn on_removal(
    counters: &Counters,
    disk: Option<&DiskStore>,
    policy: DiskPolicy,
    key: &str,
    value: &Stored,
    cause: Removal,
) {
    Counters::sub(&counters.memory_raw, value.raw_len);
    Counters::sub(&counters.memory_stored, value.payload.len() as u64);
    match cause {
        Removal::Size => {
            Counters::add(&counters.evictions, 1);
            let Some(disk) = disk else { return };
            if policy == DiskPolicy::WriteOnEviction
                && !value.is_on_disk()
                && !value.is_expired(now_ms())
            {
                match disk.write(key, value) {
                    Ok(evicted) => {
                        Counters::add(&counters.spills, 1);
                        Counters::add(&counters.disk_evictions, evicted);
                    }
                    Err(e) => {
                        Counters::add(&counters.disk_errors, 1);
                        tracing::warn!(key, error = %e, "zcache could not spill an evicted entry to disk");
                    }
                }
            }
        }
        Removal::Explicit | Removal::Replaced => {}
    }
}

/// A compressed two-tier cache. `Send + Sync`; share it with an `Arc`. Dropping it stops its
/// cleanup thread. See the [crate docs](crate) for an example.
#[derive(Debug)]
pub struct CompressedCache {
    /// First, so that it is stopped and joined before the rest goes.
    pub(crate) _recompressor: Option<Recompressor>,
    pub(crate) inner: Arc<Inner>,
    pub(crate) cleaner: Option<Cleaner>,
}

impl CompressedCache {
    /// A builder with the defaults (see [`CacheBuilder`]).
    pub fn builder() -> CacheBuilder {
        CacheBuilder::default()
    }

    pub(crate) fn from_config(config: Config) -> Result<Self, CacheError> {
        let counters = Arc::new(Counters::default());
        let disk = match &config.disk_dir {
            Some(dir) => {
                let (store, report) = DiskStore::open(
                    dir,
                    config.max_disk_bytes,
                    config.max_entry_bytes,
                    config.sync_writes,
                    config.read_only,
                )?;
                Counters::add(&counters.corrupt, report.corrupt);
                Counters::add(&counters.expirations, report.expired);
                Counters::add(&counters.skipped, report.skipped);
                Counters::add(&counters.foreign, report.foreign);
                tracing::debug!(dir = %dir.display(), entries = report.entries, temp_removed = report.temp_removed,
                    corrupt = report.corrupt, skipped = report.skipped, foreign = report.foreign,
                    read_only = config.read_only, "zcache disk tier opened");
                Some(Arc::new(store))
            }
            None => None,
        };
        let listener_counters = Arc::clone(&counters);
        let listener_disk = disk.clone();
        let policy = config.disk_policy;
        // Expiry is ours: every read checks it, and the cleanup thread's scan removes expired
        // entries and counts them.
        let memory = MemoryTier::new(
            config.max_memory_bytes,
            Box::new(move |k, v, cause| {
                on_removal(
                    &listener_counters,
                    listener_disk.as_deref(),
                    policy,
                    k,
                    v,
                    cause,
                );
            }),
        );
        let shared = match &config.shared {
            Some(tier) => Some(SharedTier::open(tier.clone(), config.max_entry_bytes)?),
            None => None,
        };
        let every = u64::try_from(config.cleanup_interval.as_millis()).unwrap_or(u64::MAX);
        let dicts = Dicts::new(config.disk_dir.as_deref(), config.read_only);
        let inner = Arc::new(Inner {
            dicts,
            stripes: (0..STRIPES).map(|_| parking_lot::Mutex::new(())).collect(),
            config,
            memory,
            disk,
            shared,
            counters,
            harder: AtomicBool::new(false),
            disk_only: AtomicBool::new(false),
            cleanup_every_ms: AtomicU64::new(every),
        });
        let cleaner = Cleaner::spawn(&inner)?;
        let recompressor = Recompressor::spawn(&inner)?;
        Ok(Self {
            _recompressor: recompressor,
            inner,
            cleaner,
        })
    }

    /// Stores `value` under `key` with the default codec and TTL.
    ///
    /// # Errors
    /// [`CacheError::EntryTooLarge`], [`CacheError::InvalidKey`], codec or serde failures, and
    /// disk errors with write-through (the value then stays in the memory tier, and no older
    /// copy stays on disk).
    pub fn put<V: CacheValue + ?Sized>(
        &self,
        key: &str,
        value: &V,
    ) -> Result<PutReport, CacheError> {
        self.put_with(key, value, PutOptions::default())
    }

    /// Stores `value` under `key` with per-put options.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub fn put_with<V: CacheValue + ?Sized>(
        &self,
        key: &str,
        value: &V,
        options: PutOptions,
    ) -> Result<PutReport, CacheError> {
        let raw = value.to_raw(key)?;
        self.put_raw(key, &raw, V::kind(), options)
    }

    /// Reads `key` as a `V`: `get::<str>` gives a `String`, `get::<[f32]>` a `Vec<f32>`,
    /// `get::<Json<T>>` a `T`. `Ok(None)` when absent, expired or found damaged (counted).
    ///
    /// # Errors
    /// [`CacheError::KindMismatch`] when the entry holds another kind; serde errors.
    pub fn get<V: CacheValue + ?Sized>(&self, key: &str) -> Result<Option<V::Output>, CacheError> {
        let Some(stored) = self.inner.lookup(key) else {
            return Ok(None);
        };
        match stored.decode::<V>(key, &self.inner.dicts) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_corruption() => {
                Counters::add(&self.inner.counters.corrupt, 1);
                tracing::warn!(key, error = %e, "zcache entry failed to decode; removed");
                let _ = self.remove(key);
                Ok(None)
            }
            Err(CacheError::CodecUnavailable { codec, feature }) => {
                // Another build (with the feature) can read it: a miss here, left in place.
                tracing::debug!(
                    key,
                    codec,
                    feature,
                    "zcache entry needs a codec not compiled in"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn put_raw(
        &self,
        key: &str,
        raw: &[u8],
        kind: ValueKind,
        options: PutOptions,
    ) -> Result<PutReport, CacheError> {
        let inner = &*self.inner;
        if let Some(disk) = inner.disk.as_ref().filter(|d| d.read_only()) {
            return Err(CacheError::ReadOnly {
                path: disk.dir().to_owned(),
            });
        }
        if key.len() > MAX_KEY_LEN {
            return Err(CacheError::InvalidKey {
                key: key.chars().take(64).collect(),
                reason: format!("{} bytes, above the maximum of {MAX_KEY_LEN}", key.len()),
            });
        }
        if raw.len() as u64 > inner.config.max_entry_bytes {
            return Err(CacheError::EntryTooLarge {
                key: key.to_owned(),
                size: raw.len() as u64,
                max: inner.config.max_entry_bytes,
            });
        }
        let codec = options
            .compression
            .unwrap_or(inner.config.default_compression);
        codec.validate()?;
        let auto = codec == crate::Codec::Auto;
        let fast = encode(raw, kind, codec, inner.harder.load(Ordering::Relaxed))?;
        let (codec, payload, dict, flags) = if auto {
            inner.put_with_dict(key, kind, raw, fast)
        } else {
            (fast.0, fast.1, 0, 0)
        };
        let now = now_ms();
        let ttl = options.ttl.or(inner.config.default_ttl);
        let expires_ms = ttl.map_or(0, |t| {
            now.saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
                .max(1)
        });
        let stored = Arc::new(Stored::new(
            kind,
            codec,
            raw.len() as u64,
            now,
            expires_ms,
            payload.into_boxed_slice(),
            dict,
            flags,
        ));
        let mut report = PutReport {
            kind,
            codec,
            raw_bytes: stored.raw_len,
            stored_bytes: stored.payload.len() as u64,
            checksum: xxhash_rust::xxh3::xxh3_64(&stored.payload),
            in_memory: false,
            on_disk: false,
            on_shared: false,
        };
        Counters::add(&inner.counters.puts, 1);
        if inner.disk.is_some() && inner.disk_only.load(Ordering::Relaxed) {
            {
                let _guard = inner.stripe(key).lock();
                inner.memory.remove(key);
            }
            inner.write_disk(key, &stored)?;
            report.on_disk = true;
            report.on_shared = inner.shared.as_ref().is_some_and(|s| s.put(key, &stored));
            return Ok(report);
        }
        report.in_memory = inner.insert_memory(key, Arc::clone(&stored));
        if let Some(disk) = &inner.disk {
            match inner.config.disk_policy {
                DiskPolicy::WriteThrough => {
                    inner.write_disk(key, &stored)?;
                    report.on_disk = true;
                }
                DiskPolicy::WriteOnEviction => {
                    // The disk copy of an older value must not resurface after this one is evicted.
                    if disk.is_indexed(key) {
                        disk.remove(key)?;
                    }
                }
            }
        }
        report.on_shared = inner.shared.as_ref().is_some_and(|s| s.put(key, &stored));
        Ok(report)
    }

    /// Removes `key` from every tier; true if it was present in the memory or disk tier. The
    /// shared tier's copy is removed too (in the background unless write-through; until then
    /// gets do not ask Redis for the key), so that it does not come back.
    ///
    /// # Errors
    /// An I/O error removing the disk file.
    pub fn remove(&self, key: &str) -> Result<bool, CacheError> {
        let local = self.remove_local(key)?;
        if let Some(shared) = &self.inner.shared {
            shared.remove(key);
        }
        Ok(local)
    }

    /// Removes `key` from the memory and disk tiers only; the shared tier keeps its copy for
    /// the other caches (a later get here fetches it again). What a local budget eviction
    /// does. True if it was present locally.
    ///
    /// # Errors
    /// An I/O error removing the disk file.
    pub fn remove_local(&self, key: &str) -> Result<bool, CacheError> {
        let in_memory = {
            let _guard = self.inner.stripe(key).lock();
            self.inner.memory.remove(key).is_some()
        };
        let on_disk = match &self.inner.disk {
            Some(d) => d.remove(key)?,
            None => false,
        };
        Ok(in_memory || on_disk)
    }

    /// True if `key` is held (unexpired) in the memory or disk tier (the shared tier is not
    /// asked). Does not count as a hit or miss.
    pub fn contains(&self, key: &str) -> bool {
        let now = now_ms();
        let in_memory = !self.inner.disk_only.load(Ordering::Relaxed)
            && self
                .inner
                .memory
                .peek(key)
                .is_some_and(|s| !s.is_expired(now));
        in_memory || self.inner.disk.as_ref().is_some_and(|d| d.contains(key))
    }

    /// The kind of value held under `key`, if any. Does not count as a hit or miss.
    pub fn kind_of(&self, key: &str) -> Option<ValueKind> {
        if let Some(s) = self
            .inner
            .memory
            .peek(key)
            .filter(|s| !s.is_expired(now_ms()))
        {
            return Some(s.kind);
        }
        match self.inner.disk.as_ref()?.read(key) {
            Ok(ReadOutcome::Hit(s)) => Some(s.kind),
            _ => None,
        }
    }

    /// Empties the memory and disk tiers: every entry file in the directory (regular files named
    /// like entries; anything else there is left alone). Returns how many disk files were
    /// removed. A shared tier is left alone: other caches use it, and its entries expire by
    /// their TTL or Redis' `maxmemory-policy`.
    ///
    /// # Errors
    /// An I/O error listing the directory; [`CacheError::ReadOnly`];
    /// [`CacheError::RemoveFailed`] with the counts when some files could not be removed.
    pub fn clear(&self) -> Result<u64, CacheError> {
        if let Some(d) = self.inner.disk.as_ref().filter(|d| d.read_only()) {
            return Err(CacheError::ReadOnly {
                path: d.dir().to_owned(),
            });
        }
        {
            // Every stripe: no background recompression lands between these two lines.
            let _guards: Vec<_> = self.inner.stripes.iter().map(|m| m.lock()).collect();
            self.inner.memory.clear();
        }
        match &self.inner.disk {
            Some(d) => d.clear(),
            None => Ok(0),
        }
    }

    /// What is stored under `key`, from the memory tier or the disk entry's header alone: the
    /// payload is neither read nor verified (a get still checks it). `None` when absent,
    /// expired, damaged in its header, too large or not a regular file. Does not count as a hit
    /// or miss, and never writes or removes a file.
    ///
    /// # Errors
    /// An I/O error reading the disk entry's header.
    pub fn peek(&self, key: &str) -> Result<Option<EntryInfo>, CacheError> {
        let now = now_ms();
        if !self.inner.disk_only.load(Ordering::Relaxed)
            && let Some(s) = self.inner.memory.peek(key).filter(|s| !s.is_expired(now))
        {
            return Ok(Some(EntryInfo {
                kind: s.kind,
                codec: s.codec,
                raw_bytes: s.raw_len,
                stored_bytes: s.payload.len() as u64,
                checksum: xxhash_rust::xxh3::xxh3_64(&s.payload),
            }));
        }
        let Some(disk) = &self.inner.disk else {
            return Ok(None);
        };
        Ok(disk
            .peek(key)?
            .filter(|h| h.expires_ms == 0 || h.expires_ms > now)
            .map(|h| EntryInfo {
                kind: h.kind,
                codec: h.codec,
                raw_bytes: h.raw_len,
                stored_bytes: h.stored_len,
                checksum: h.payload_hash,
            }))
    }

    /// Every unexpired key of both tiers (the disk tier as indexed by this process), sorted.
    pub fn keys(&self) -> Vec<String> {
        let now = now_ms();
        let mut keys: Vec<String> = self
            .inner
            .memory
            .iter()
            .filter(|(_, v)| !v.is_expired(now))
            .map(|(k, _)| k.to_string())
            .collect();
        if let Some(d) = &self.inner.disk {
            keys.extend(d.keys());
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Brings the memory tier within its budget now. Every call already does so before it
    /// returns (evictions, their disk spills and counts included); this only matters while
    /// other threads are putting, whose inserts may overshoot the budget for a moment.
    pub fn run_pending_tasks(&self) {
        self.inner.memory.trim();
    }

    /// The shared tier's figures, if the cache has one (also in [`get_stats`](Self::get_stats)).
    pub fn shared_stats(&self) -> Option<SharedTierStats> {
        self.inner.shared.as_ref().map(SharedTier::stats)
    }

    /// Waits until the shared tier's background queue is empty (true; also without a shared
    /// tier) or `timeout` passed (false). Dropping the cache also finishes the queue (each
    /// write bounded by its deadline), so a short-lived process need not call this.
    pub fn sync_shared(&self, timeout: Duration) -> bool {
        self.inner.shared.as_ref().is_none_or(|s| s.sync(timeout))
    }

    /// The disk tier's directory, if enabled.
    pub fn disk_dir(&self) -> Option<&std::path::Path> {
        self.inner.disk.as_ref().map(|d| d.dir())
    }
}

impl Inner {
    /// Finds an entry, counting hits and misses per tier and promoting disk and shared hits.
    pub(crate) fn lookup(&self, key: &str) -> Option<Arc<Stored>> {
        let disk_only = self.disk.is_some() && self.disk_only.load(Ordering::Relaxed);
        if let Some(s) = self.lookup_local(key, disk_only) {
            return Some(s);
        }
        let s = Arc::new(self.shared.as_ref()?.get(key)?);
        if !self.decodable(&s) {
            return None;
        }
        if !disk_only && self.config.max_memory_bytes > 0 {
            self.insert_memory(key, Arc::clone(&s));
        }
        if let Some(disk) = &self.disk
            && !disk.read_only()
            && (disk_only || self.config.disk_policy == DiskPolicy::WriteThrough)
        {
            // A failure is counted and logged there; the value is still returned.
            let _ = self.write_disk(key, &s);
        }
        Some(s)
    }

    /// The memory and disk stages of [`lookup`](Self::lookup).
    fn lookup_local(&self, key: &str, disk_only: bool) -> Option<Arc<Stored>> {
        if !disk_only {
            if let Some(s) = self.memory.get(key) {
                // The clock is read only for entries that can expire (it is most of a small get).
                if s.expires_ms == 0 || !s.is_expired(now_ms()) {
                    s.touch();
                    Counters::add(&self.counters.memory_hits, 1);
                    return Some(s);
                }
                self.memory.remove(key);
                Counters::add(&self.counters.expirations, 1);
            }
            Counters::add(&self.counters.memory_misses, 1);
        }
        let disk = self.disk.as_ref()?;
        match disk.read(key) {
            Ok(ReadOutcome::Hit(s)) if self.decodable(&s) => {
                Counters::add(&self.counters.disk_hits, 1);
                let s = Arc::new(s);
                if !disk_only && self.config.max_memory_bytes > 0 {
                    self.insert_memory(key, Arc::clone(&s));
                }
                return Some(s);
            }
            Ok(ReadOutcome::Miss | ReadOutcome::Hit(_)) => {}
            Ok(ReadOutcome::Expired) => Counters::add(&self.counters.expirations, 1),
            Ok(ReadOutcome::Corrupt) => Counters::add(&self.counters.corrupt, 1),
            Ok(ReadOutcome::TooLarge) => Counters::add(&self.counters.skipped, 1),
            Ok(ReadOutcome::Foreign) => Counters::add(&self.counters.foreign, 1),
            Err(e) => {
                Counters::add(&self.counters.disk_errors, 1);
                tracing::warn!(key, error = %e, "zcache disk read failed");
            }
        }
        Counters::add(&self.counters.disk_misses, 1);
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cache_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::CompressedCache>();
    }
}
