//! [`CacheService`]: save and fetch embeddings with their texts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use zcache::{Codec, CompressedCache, DiskPolicy, PutOptions};

use crate::builder::{CacheServiceBuilder, Config};
use crate::embeddings::EmbeddingsRef;
use crate::entry::{self, EntryInput, EntryMeta};
use crate::error::{Result, ServiceError};
use crate::fidelity::Fidelity;
use crate::index::{Index, MetaRecord};
use crate::key::ModelInfo;
use crate::precision::Precision;

/// zcache keys of the blob and of the metadata record of a service key. Other keys in a shared
/// directory are left alone.
pub(crate) const DATA_PREFIX: &str = "zcs/data/";
pub(crate) const META_PREFIX: &str = "zcs/meta/";

pub(crate) fn data_key(key: &str) -> String {
    format!("{DATA_PREFIX}{key}")
}

pub(crate) fn meta_key(key: &str) -> String {
    format!("{META_PREFIX}{key}")
}

/// Counters of the service's own operations (zcache keeps its own per tier).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) corrupt: AtomicU64,
    pub(crate) saves: AtomicU64,
    pub(crate) not_stored: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

/// Bytes of a metadata record as stored (its JSON): part of what an entry costs.
pub(crate) fn record_json_len(record: &MetaRecord) -> u64 {
    serde_json::to_vec(record).map_or(0, |v| v.len() as u64)
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What one save did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveReport {
    /// The cache key.
    pub key: String,
    /// False when the entry was not stored because it alone exceeds `max_cache_size`.
    pub stored: bool,
    /// Precision the matrix was stored at.
    pub precision: Precision,
    /// Number of vectors (and texts).
    pub rows: u64,
    /// Length of each vector.
    pub dim: u64,
    /// The matrix as float32, in bytes (`rows * dim * 4`).
    pub raw_bytes: u64,
    /// Stored size of the matrix section.
    pub matrix_stored_bytes: u64,
    /// Raw size of the texts section.
    pub texts_raw_bytes: u64,
    /// Stored size of the texts section.
    pub texts_stored_bytes: u64,
    /// Everything the entry occupies (matrix, texts, metadata).
    pub stored_bytes: u64,
    /// `matrix_stored_bytes / raw_bytes`.
    pub matrix_ratio: f64,
    /// Cosine similarity kept (exact for f32).
    pub fidelity: Fidelity,
    /// Entries evicted (least recently used) to make room.
    pub evicted: u64,
}

/// The embeddings cache: one entry per key holds a matrix, its texts and what produced them.
///
/// Built on a [`zcache::CompressedCache`]: a memory hot tier (compressed) over a checksummed disk
/// tier. `Send + Sync`; every method takes `&self`. See the crate docs for an example.
#[derive(Debug)]
pub struct CacheService {
    pub(crate) cache: CompressedCache,
    pub(crate) config: Config,
    pub(crate) index: Mutex<Index>,
    /// Serialises saves, evictions and repairs (not reads), so the size accounting and the
    /// blob/metadata pairs stay consistent.
    pub(crate) write_lock: Mutex<()>,
    pub(crate) counters: Counters,
}

impl CacheService {
    /// A builder with the defaults (see [`CacheServiceBuilder`]).
    pub fn builder() -> CacheServiceBuilder {
        CacheServiceBuilder::default()
    }

    pub(crate) fn open(config: Config) -> Result<Self> {
        let mut b = CompressedCache::builder()
            .max_memory(config.hot_tier_bytes)
            .default_compression(Codec::Auto)
            .cleanup_interval(Duration::ZERO)
            .max_entry_bytes(config.max_cache_bytes)
            .sync_writes(config.sync_writes)
            .read_only(config.read_only);
        if let Some(tier) = &config.shared {
            b = b.shared(tier.clone());
        }
        if let Some(dir) = &config.cache_dir {
            // The service enforces the real limit per entry pair; zcache's own disk LRU is a
            // backstop with slack so that it never evicts half of a pair first.
            let slack = config.max_cache_bytes / 16 + 16 * mem_monitor::MIB;
            b = b
                .enable_disk_cache(dir)
                .disk_policy(DiskPolicy::WriteThrough)
                .max_disk(config.max_cache_bytes.saturating_add(slack));
        }
        let cache = b.build().map_err(ServiceError::Open)?;
        let service = Self {
            cache,
            config,
            index: Mutex::new(Index::default()),
            write_lock: Mutex::new(()),
            counters: Counters::default(),
        };
        service.rescan();
        Ok(service)
    }

    /// The settings' precision (used by [`save_embeddings_compressed`](Self::save_embeddings_compressed)).
    #[must_use]
    pub fn precision(&self) -> Precision {
        self.config.precision
    }

    /// The underlying compressed cache (for its stats, or to register it as a pressure hook).
    #[must_use]
    pub fn compressed_cache(&self) -> &CompressedCache {
        &self.cache
    }

    /// Saves `embeddings` and their `texts` (one per row) under `cache_key` at the configured
    /// precision, replacing any previous entry. Returns `Ok(false)` when the entry alone is
    /// larger than `max_cache_size` and was not stored. The fidelity kept is logged (debug)
    /// and kept in the stats; use [`save_embeddings`](Self::save_embeddings) to get it back.
    ///
    /// # Errors
    /// As [`save_embeddings`](Self::save_embeddings).
    pub fn save_embeddings_compressed<'a, S: AsRef<str>>(
        &self,
        cache_key: &str,
        embeddings: impl Into<EmbeddingsRef<'a>>,
        texts: &[S],
        model_info: &ModelInfo,
        data_hash: &str,
    ) -> Result<bool> {
        let report = self.save_embeddings(
            cache_key,
            embeddings,
            texts,
            model_info,
            data_hash,
            self.config.precision,
        )?;
        Ok(report.stored)
    }

    /// Saves at an explicit precision and reports sizes and fidelity.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty key, texts that do not match the rows one to
    /// one, values a lossy precision cannot hold, or a matrix beyond 8x the cache size;
    /// [`ServiceError::Cache`] when zcache cannot store it (disk full, I/O error).
    pub fn save_embeddings<'a, S: AsRef<str>>(
        &self,
        cache_key: &str,
        embeddings: impl Into<EmbeddingsRef<'a>>,
        texts: &[S],
        model_info: &ModelInfo,
        data_hash: &str,
        precision: Precision,
    ) -> Result<SaveReport> {
        let embeddings = embeddings.into();
        if cache_key.is_empty() {
            return Err(ServiceError::InvalidInput("the cache key is empty".into()));
        }
        let raw_bytes = embeddings.raw_bytes() as u64;
        if raw_bytes > self.config.max_raw_bytes() {
            return Err(ServiceError::InvalidInput(format!(
                "key {cache_key:?}: a {raw_bytes}-byte matrix is beyond what this cache reads back ({} bytes)",
                self.config.max_raw_bytes()
            )));
        }
        let input = EntryInput {
            key: cache_key,
            embeddings,
            model: model_info,
            data_hash,
            precision,
            texts_codec: self.config.texts_codec(),
            matrix_codec: self.config.matrix_codec(precision),
        };
        let (blob, meta) = entry::build(&input, texts)?;
        let mut record = MetaRecord {
            meta,
            blob_bytes: blob.len() as u64,
            // Filled in from the blob's put; a placeholder of the same JSON size meanwhile.
            blob_checksum: Some(u64::MAX),
        };
        // An upper bound until the real checksum is known (u64::MAX has the most digits).
        let size = record.blob_bytes + record_json_len(&record);
        let mut report = SaveReport {
            key: cache_key.to_owned(),
            stored: false,
            precision,
            rows: record.meta.rows,
            dim: record.meta.dim,
            raw_bytes,
            matrix_stored_bytes: record.meta.matrix_stored_len,
            texts_raw_bytes: record.meta.texts_raw_len,
            texts_stored_bytes: record.meta.texts_stored_len,
            stored_bytes: size,
            matrix_ratio: record.meta.matrix_ratio(),
            fidelity: record.meta.fidelity,
            evicted: 0,
        };
        if size > self.config.max_cache_bytes {
            bump(&self.counters.not_stored);
            tracing::warn!(
                key = cache_key,
                size,
                limit = self.config.max_cache_bytes,
                "entry larger than the cache; not stored"
            );
            return Ok(report);
        }
        let _w = self.write_lock.lock();
        let victims = self
            .index
            .lock()
            .victims(size, self.config.max_cache_bytes, cache_key);
        for v in &victims {
            self.remove_pair(v)?;
            bump(&self.counters.evictions);
            tracing::debug!(key = %v, "evicted (least recently used) to stay under max_cache_size");
        }
        report.evicted = victims.len() as u64;
        // The blob first, then the record naming it: a kill in between leaves a record that
        // does not match its blob, which every reader of records detects (see MetaRecord).
        let stored = self
            .cache
            .put_with(
                &data_key(cache_key),
                blob.as_slice(),
                PutOptions::new().compression(Codec::None),
            )
            .and_then(|put| {
                record.blob_checksum = Some(put.checksum);
                self.cache.put_json(&meta_key(cache_key), &record)
            });
        if let Err(source) = stored {
            // Nothing half-written may survive: drop both parts (best effort) and forget the key.
            let _ = self.remove_pair(cache_key);
            return Err(ServiceError::Cache {
                key: cache_key.to_owned(),
                source,
            });
        }
        let fidelity = record.meta.fidelity;
        let size = record.blob_bytes + record_json_len(&record);
        report.stored_bytes = size;
        self.index.lock().insert(record.meta, size);
        bump(&self.counters.saves);
        report.stored = true;
        tracing::debug!(key = cache_key, %precision, size, min_cosine = fidelity.min_cosine,
            mean_cosine = fidelity.mean_cosine, "embeddings saved");
        Ok(report)
    }

    /// Removes both parts of an entry and its index slot from the local tiers (evictions,
    /// repairs, `clear`): a shared tier keeps its copy for the other machines. Callers hold
    /// `write_lock`.
    pub(crate) fn remove_pair(&self, key: &str) -> Result<bool> {
        self.remove_pair_from(key, false)
    }

    /// [`remove_pair`](Self::remove_pair), from the shared tier too when `everywhere`.
    fn remove_pair_from(&self, key: &str, everywhere: bool) -> Result<bool> {
        let wrap = |source| ServiceError::Cache {
            key: key.to_owned(),
            source,
        };
        let remove = |k: &str| {
            if everywhere {
                self.cache.remove(k)
            } else {
                self.cache.remove_local(k)
            }
        };
        self.index.lock().remove(key);
        let data = remove(&data_key(key)).map_err(wrap)?;
        let meta = remove(&meta_key(key)).map_err(wrap)?;
        Ok(data || meta)
    }

    /// Removes the entry under `cache_key` (from a shared tier too); true if there was one
    /// locally.
    ///
    /// # Errors
    /// [`ServiceError::Cache`] when a disk file cannot be removed.
    pub fn remove(&self, cache_key: &str) -> Result<bool> {
        let _w = self.write_lock.lock();
        self.remove_pair_from(cache_key, true)
    }

    /// Whether an entry is stored under `cache_key` (not checked for damage or staleness).
    #[must_use]
    pub fn contains(&self, cache_key: &str) -> bool {
        self.cache.contains(&data_key(cache_key))
    }

    /// The keys of all entries, sorted.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        self.index.lock().keys()
    }

    /// What is known about the entry under `cache_key` without reading it.
    #[must_use]
    pub fn entry_meta(&self, cache_key: &str) -> Option<EntryMeta> {
        self.index.lock().get(cache_key).map(|s| s.meta.clone())
    }

    /// Removes every entry of the service from the local tiers (other keys in a shared
    /// directory stay, and so does a shared tier's copy).
    ///
    /// # Errors
    /// [`ServiceError::Cache`] when a disk file cannot be removed.
    pub fn clear(&self) -> Result<()> {
        let _w = self.write_lock.lock();
        let keys = self.index.lock().keys();
        for key in keys {
            self.remove_pair(&key)?;
        }
        Ok(())
    }
}
