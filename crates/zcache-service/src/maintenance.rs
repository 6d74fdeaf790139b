//! Rebuilding the index from the cache, optimisation, and the service as a pressure hook.

use std::collections::HashSet;

use mem_monitor::{PressureHook, PressureLevel};
use serde::{Deserialize, Serialize};

use crate::entry;
use crate::error::{Result, ServiceError};
use crate::index::{Index, MetaRecord};
use crate::service::{CacheService, DATA_PREFIX, META_PREFIX, data_key, meta_key};

/// What [`CacheService::optimize_cache`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceOptimizeReport {
    /// Entries afterwards.
    pub entries: u64,
    /// Stored bytes afterwards (matrices, texts, metadata).
    pub stored_bytes: u64,
    /// Metadata records whose blob was gone, removed.
    pub orphans_removed: u64,
    /// Blobs without a metadata record (e.g. a crash between the two writes), re-indexed.
    pub adopted: u64,
    /// Damaged blobs found and removed.
    pub damaged_removed: u64,
    /// Entries evicted (least recently used) to get under `max_cache_size_gb`.
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

fn record_len(rec: &MetaRecord) -> u64 {
    serde_json::to_vec(rec).map_or(0, |v| v.len() as u64)
}

impl CacheService {
    /// Rebuilds the index from the keys zcache holds: pairs blobs with their metadata records,
    /// drops orphaned records, re-creates missing records from the (self-describing) blobs and
    /// removes damaged ones. Recency restarts in save order.
    pub(crate) fn rescan(&self) -> RescanCounts {
        let _w = self.write_lock.lock();
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
            if !data.contains(k) {
                let _ = self.cache.remove(&meta_key(k));
                counts.orphans_removed += 1;
            }
        }
        for &k in &data {
            if metas.contains(k)
                && let Ok(Some(rec)) = self.cache.get_json::<MetaRecord>(&meta_key(k))
                && rec.meta.key == k
            {
                let size = rec.blob_bytes + record_len(&rec);
                found.push((rec.meta, size));
                continue;
            }
            // No usable record: the blob describes itself.
            let parsed = match self.cache.get_bytes(&data_key(k)) {
                Ok(Some(blob)) => entry::parse(&blob, self.config.max_raw_bytes())
                    .filter(|p| p.meta.key == k)
                    .map(|p| MetaRecord {
                        meta: p.meta,
                        blob_bytes: blob.len() as u64,
                    }),
                Ok(None) => continue,
                Err(_) => None,
            };
            match parsed {
                Some(rec) if self.cache.put_json(&meta_key(k), &rec).is_ok() => {
                    let size = rec.blob_bytes + record_len(&rec);
                    found.push((rec.meta, size));
                    counts.adopted += 1;
                }
                _ => {
                    let _ = self.cache.remove(&data_key(k));
                    let _ = self.cache.remove(&meta_key(k));
                    counts.damaged_removed += 1;
                }
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
    /// evicts least recently used entries until under `max_cache_size_gb`, then runs zcache's
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
