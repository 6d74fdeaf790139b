//! Rebuilding the index from the cache, optimisation, and the service as a pressure hook.

use std::collections::HashSet;

use mem_monitor::{PressureHook, PressureLevel};
use serde::{Deserialize, Serialize};

use crate::entry;
use crate::error::{Result, ServiceError};
use crate::index::{Index, MetaRecord};
use crate::service::{CacheService, DATA_PREFIX, META_PREFIX, data_key, meta_key, record_json_len};

/// What [`CacheService::optimize_cache`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceOptimizeReport {
    /// Entries afterwards.
    pub entries: u64,
    /// Stored bytes afterwards (matrices, texts, metadata).
    pub stored_bytes: u64,
    /// Metadata records whose blob was gone, removed.
    pub orphans_removed: u64,
    /// Blobs without a metadata record naming them (e.g. a kill between a save's two writes),
    /// re-indexed from the blob itself.
    pub adopted: u64,
    /// Damaged blobs found and removed.
    pub damaged_removed: u64,
    /// Entries evicted (least recently used) to get under `max_cache_size`.
    pub evicted: u64,
    /// What the underlying compressed cache's own pass did (expired entries, budgets).
    pub compressed_cache: zcache::OptimizeReport,
}

#[derive(Debug, Default)]
pub(crate) struct RescanCounts {
    orphans_removed: u64,
    adopted: u64,
    damaged_removed: u64,
}

/// What reading a blob to re-derive its record found.
enum FromBlob {
    Record(Box<MetaRecord>),
    /// No blob any more.
    Gone,
    /// The blob is damaged or not one of ours.
    Damaged,
    /// It could not be read (I/O): left alone this time.
    Unreadable,
}

impl CacheService {
    /// The metadata record of `k` if it names the blob now stored (see [`MetaRecord`]): a
    /// record left behind by a kill between a save's two writes is never believed.
    fn matching_record(&self, k: &str) -> Option<MetaRecord> {
        let rec = self
            .cache
            .get_json::<MetaRecord>(&meta_key(k))
            .ok()
            .flatten()?;
        let blob = self.cache.peek(&data_key(k)).ok().flatten()?;
        (rec.meta.key == k && rec.blob_checksum == Some(blob.checksum)).then_some(rec)
    }

    /// The record a blob implies: the blob describes itself.
    fn record_from_blob(&self, k: &str) -> FromBlob {
        let blob = match self.cache.get_bytes(&data_key(k)) {
            Ok(Some(b)) => b,
            Ok(None) => return FromBlob::Gone,
            Err(e) if e.is_corruption() || matches!(e, zcache::CacheError::KindMismatch { .. }) => {
                return FromBlob::Damaged;
            }
            Err(e) => {
                tracing::warn!(key = k, error = %e, "embeddings blob unreadable; left alone");
                return FromBlob::Unreadable;
            }
        };
        let Some(parsed) =
            entry::parse(&blob, self.config.max_raw_bytes()).filter(|p| p.meta.key == k)
        else {
            return FromBlob::Damaged;
        };
        FromBlob::Record(Box::new(MetaRecord {
            meta: parsed.meta,
            blob_bytes: blob.len() as u64,
            blob_checksum: self
                .cache
                .peek(&data_key(k))
                .ok()
                .flatten()
                .map(|i| i.checksum),
        }))
    }

    /// Removes zcache entries of the service (never in read-only mode); true if all went.
    fn drop_keys(&self, keys: &[String]) -> bool {
        if self.config.read_only {
            return false;
        }
        let mut all = true;
        for k in keys {
            all &= self.cache.remove(k).is_ok();
        }
        all
    }

    /// Rebuilds the index from the keys zcache holds: pairs blobs with the metadata records
    /// that name them, drops orphaned records, re-derives missing or mismatched records from the
    /// (self-describing) blobs and removes damaged ones (in read-only mode it only indexes).
    /// Recency restarts in save order.
    pub(crate) fn rescan(&self) -> RescanCounts {
        let _w = self.write_lock.lock();
        let read_only = self.config.read_only;
        let mut counts = RescanCounts::default();
        let keys = self.cache.keys();
        let data: HashSet<&str> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(DATA_PREFIX))
            .collect();
        let metas: HashSet<&str> = keys
            .iter()
            .filter_map(|k| k.strip_prefix(META_PREFIX))
            .collect();
        let mut found = Vec::with_capacity(data.len());
        for &k in &metas {
            if !data.contains(k) && self.drop_keys(&[meta_key(k)]) {
                counts.orphans_removed += 1;
            }
        }
        for &k in &data {
            if metas.contains(k)
                && let Some(rec) = self.matching_record(k)
            {
                let size = rec.blob_bytes + record_json_len(&rec);
                found.push((rec.meta, size));
                continue;
            }
            match self.record_from_blob(k) {
                FromBlob::Record(rec) => {
                    if !read_only && let Err(e) = self.cache.put_json(&meta_key(k), &rec) {
                        // Still indexed: the blob is the truth; the record is only a summary.
                        tracing::warn!(key = k, error = %e, "could not rewrite an embeddings record");
                    }
                    let size = rec.blob_bytes + record_json_len(&rec);
                    found.push((rec.meta, size));
                    counts.adopted += 1;
                }
                FromBlob::Gone => {
                    self.drop_keys(&[meta_key(k)]);
                }
                FromBlob::Damaged => {
                    if self.drop_keys(&[data_key(k), meta_key(k)]) {
                        counts.damaged_removed += 1;
                    }
                }
                FromBlob::Unreadable => {}
            }
        }
        found.sort_by_key(|(m, _)| m.created_unix_ms);
        let mut index = Index::default();
        for (meta, size) in found {
            index.insert(meta, size);
        }
        if counts.orphans_removed + counts.adopted + counts.damaged_removed > 0 {
            tracing::info!(
                orphans = counts.orphans_removed,
                adopted = counts.adopted,
                damaged = counts.damaged_removed,
                "embeddings cache index repaired"
            );
        }
        *self.index.lock() = index;
        counts
    }

    /// Full maintenance pass: re-checks the index against what is stored (repairing orphans),
    /// evicts least recently used entries until under `max_cache_size`, then runs zcache's
    /// own `optimize` (expired entries, tier budgets).
    ///
    /// # Errors
    /// [`ServiceError::Cache`] when an evicted entry's file cannot be removed.
    pub fn optimize_cache(&self) -> Result<ServiceOptimizeReport> {
        let counts = self.rescan();
        let mut evicted = 0;
        {
            let _w = self.write_lock.lock();
            // No key is empty (saves refuse it), so nothing is exempt.
            let victims = self
                .index
                .lock()
                .victims(0, self.config.max_cache_bytes, "");
            for key in victims {
                self.index.lock().remove(&key);
                for k in [data_key(&key), meta_key(&key)] {
                    self.cache
                        .remove(&k)
                        .map_err(|source| ServiceError::Cache {
                            key: key.clone(),
                            source,
                        })?;
                }
                evicted += 1;
            }
        }
        self.counters
            .evictions
            .fetch_add(evicted, std::sync::atomic::Ordering::Relaxed);
        let compressed_cache = self.cache.optimize();
        let index = self.index.lock();
        Ok(ServiceOptimizeReport {
            entries: index.len() as u64,
            stored_bytes: index.total(),
            orphans_removed: counts.orphans_removed,
            adopted: counts.adopted,
            damaged_removed: counts.damaged_removed,
            evicted,
            compressed_cache,
        })
    }
}

/// The service reacts to memory pressure through its compressed cache: at `Medium` zcache
/// compresses harder, at `High` its memory (hot) tier moves to disk until pressure falls.
impl PressureHook for CacheService {
    fn name(&self) -> &str {
        "zcache-service"
    }

    fn on_pressure(&self, level: PressureLevel) {
        self.cache.on_pressure(level);
    }

    fn purge(&self) -> u64 {
        self.cache.purge()
    }
}
