//! Reading entries: [`CacheService::get_cached_embeddings_fast`] and its checked variant.

use crate::embeddings::Embeddings;
use crate::entry;
use crate::error::{Result, ServiceError};
use crate::key::ModelInfo;
use crate::service::{CacheService, bump, data_key};

/// Why a lookup missed.
enum Miss {
    Absent,
    Stale,
    Corrupt,
}

impl CacheService {
    /// The embeddings and texts stored under `cache_key`, whatever model or data they came
    /// from; `Ok(None)` when absent or damaged (a damaged entry is removed). The texts are
    /// exactly those saved; the values bit-identical for f32 entries.
    ///
    /// # Errors
    /// [`ServiceError::Cache`] when the disk cannot be read (not for damaged entries).
    pub fn get_cached_embeddings_fast(
        &self,
        cache_key: &str,
    ) -> Result<Option<(Embeddings, Vec<String>)>> {
        self.lookup(cache_key, None)
    }

    /// Like [`get_cached_embeddings_fast`](Self::get_cached_embeddings_fast), but an entry
    /// saved for another model identity or another `data_hash` is stale: a miss, never data.
    ///
    /// # Errors
    /// As [`get_cached_embeddings_fast`](Self::get_cached_embeddings_fast).
    pub fn get_cached_embeddings_checked(
        &self,
        cache_key: &str,
        model_info: &ModelInfo,
        data_hash: &str,
    ) -> Result<Option<(Embeddings, Vec<String>)>> {
        self.lookup(cache_key, Some((model_info, data_hash)))
    }

    fn lookup(
        &self,
        key: &str,
        expect: Option<(&ModelInfo, &str)>,
    ) -> Result<Option<(Embeddings, Vec<String>)>> {
        match self.try_lookup(key, expect)? {
            Ok(hit) => {
                bump(&self.counters.hits);
                Ok(Some(hit))
            }
            Err(miss) => {
                bump(&self.counters.misses);
                match miss {
                    Miss::Absent => {}
                    Miss::Stale => bump(&self.counters.stale),
                    Miss::Corrupt => {
                        bump(&self.counters.corrupt);
                        tracing::warn!(key, "damaged embeddings entry removed");
                        let _w = self.write_lock.lock();
                        let _ = self.remove_pair(key);
                    }
                }
                Ok(None)
            }
        }
    }

    fn try_lookup(
        &self,
        key: &str,
        expect: Option<(&ModelInfo, &str)>,
    ) -> Result<std::result::Result<(Embeddings, Vec<String>), Miss>> {
        let blob = match self.cache.get_bytes(&data_key(key)) {
            Ok(Some(b)) => b,
            Ok(None) => {
                self.forget_if_gone(key);
                return Ok(Err(Miss::Absent));
            }
            Err(e) if e.is_corruption() || matches!(e, zcache::CacheError::KindMismatch { .. }) => {
                return Ok(Err(Miss::Corrupt));
            }
            Err(source) => {
                return Err(ServiceError::Cache {
                    key: key.to_owned(),
                    source,
                });
            }
        };
        let Some(parsed) = entry::parse(&blob, self.config.max_raw_bytes()) else {
            return Ok(Err(Miss::Corrupt));
        };
        if parsed.meta.key != key {
            return Ok(Err(Miss::Corrupt));
        }
        if let Some((model, data_hash)) = expect
            && (parsed.meta.model != *model || parsed.meta.data_hash != data_hash)
        {
            tracing::debug!(key, "stale embeddings entry (other model or data hash)");
            return Ok(Err(Miss::Stale));
        }
        // The texts decode on another core while the matrix planes decode (itself parallel).
        let (matrix, texts) = rayon::join(|| parsed.matrix(), || parsed.texts());
        let (Some(matrix), Some(texts)) = (matrix, texts) else {
            return Ok(Err(Miss::Corrupt));
        };
        let mut index = self.index.lock();
        // Unknown here (saved by another process sharing the directory), or indexed from
        // another save (overwritten elsewhere, or its record lost): the blob describes itself.
        let outdated = index
            .get(key)
            .is_none_or(|s| s.meta.save_id != parsed.meta.save_id);
        if outdated {
            let size =
                blob.len() as u64 + serde_json::to_vec(&parsed.meta).map_or(0, |v| v.len() as u64);
            index.insert(parsed.meta, size);
        } else {
            index.touch(key);
        }
        Ok(Ok((matrix, texts)))
    }

    /// After a miss on the blob: if the index still lists the key, zcache dropped it (memory
    /// budget, damage); forget it and its metadata so the size accounting stays true.
    fn forget_if_gone(&self, key: &str) {
        if !self.index.lock().contains(key) {
            return;
        }
        let _w = self.write_lock.lock();
        if !self.cache.contains(&data_key(key)) {
            let _ = self.remove_pair(key);
        }
    }
}
