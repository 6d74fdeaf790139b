//! [`EnhancedCacheStats`]: what the service holds, how small, how faithful, how often hit.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use zcache::Codec;

use crate::fidelity::Fidelity;
use crate::precision::Precision;
use crate::service::CacheService;

/// The guide's "Embedding Cache 800 MB -> 240 MB" (0.30 of raw) is only reachable with int8.
pub const PRECISION_NOTE: &str = "The guide's 'Embedding Cache 800 MB -> 240 MB' (0.30 of raw) is only reachable with \
Precision::Int8 (~0.25 of raw, min cosine ~0.9999). Lossless f32 stops near 0.84 of raw: the three low bytes of \
each float32 of a real embedding are noise. F16 gives ~0.42 with min cosine ~0.999999.";

/// One entry as listed by [`CacheService::get_enhanced_cache_stats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryStats {
    /// The cache key.
    pub key: String,
    /// The model name.
    pub model: String,
    /// The model's identity hash (name, revision, params).
    pub model_id: String,
    /// The data hash given at save.
    pub data_hash: String,
    /// Stored precision.
    pub precision: Precision,
    /// Vectors (and texts).
    pub rows: u64,
    /// Vector length.
    pub dim: u64,
    /// The matrix as float32 in bytes.
    pub raw_bytes: u64,
    /// The stored matrix section in bytes.
    pub matrix_stored_bytes: u64,
    /// Texts raw and stored bytes.
    pub texts_raw_bytes: u64,
    /// Stored texts section.
    pub texts_stored_bytes: u64,
    /// Everything the entry occupies against the size limit.
    pub stored_bytes: u64,
    /// `matrix_stored_bytes / raw_bytes`.
    pub matrix_ratio: f64,
    /// Cosine similarity kept at save.
    pub fidelity: Fidelity,
    /// Codec of the matrix section (serde: its name, such as `"shuffle:4:zstd:1"`).
    pub matrix_codec: Codec,
    /// Codec of the texts section (serde: its name, such as `"lz4"`).
    pub texts_codec: Codec,
    /// Save time, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
}

/// The service's statistics (serde: the JSON of `membound embeddings stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnhancedCacheStats {
    /// Number of entries.
    pub entry_count: u64,
    /// Vectors over all entries.
    pub total_rows: u64,
    /// Matrices as float32, in bytes.
    pub matrix_raw_bytes: u64,
    /// Stored matrix sections.
    pub matrix_stored_bytes: u64,
    /// Texts before compression.
    pub texts_raw_bytes: u64,
    /// Stored texts sections.
    pub texts_stored_bytes: u64,
    /// All entries' stored bytes (matrices, texts, metadata): what `max_cache_size` bounds.
    pub stored_bytes: u64,
    /// The size limit in bytes.
    pub max_cache_bytes: u64,
    /// `stored_bytes / max_cache_bytes` in percent.
    pub usage_percent: f64,
    /// `matrix_stored_bytes / matrix_raw_bytes` (1.0 when empty): the embedding ratio.
    pub embeddings_compression_ratio: f64,
    /// Stored over raw for matrices and texts together (1.0 when empty).
    pub compression_ratio: f64,
    /// Raw minus stored, in MiB.
    pub compression_savings_mb: f64,
    /// `1 - compression_ratio`: the share of raw bytes compression saved.
    pub total_cache_efficiency: f64,
    /// Entries per precision.
    pub entries_f32: u64,
    /// Entries stored as f16.
    pub entries_f16: u64,
    /// Entries stored as int8.
    pub entries_int8: u64,
    /// Lowest min-cosine over all lossy entries (1.0 when all are lossless).
    pub min_cosine: f64,
    /// Hits of this service since it was opened.
    pub hits: u64,
    /// Misses (absent, stale or damaged).
    pub misses: u64,
    /// Of the misses: entries of another model or data hash.
    pub stale_misses: u64,
    /// Of the misses: damaged entries (removed).
    pub corrupt_misses: u64,
    /// `hits / (hits + misses)`, 0 when nothing was read.
    pub hit_rate: f64,
    /// Saves stored.
    pub saves: u64,
    /// Saves refused because the entry alone exceeds the size limit.
    pub not_stored: u64,
    /// Entries evicted for the size limit.
    pub evictions: u64,
    /// What the compression can and cannot reach (see [`PRECISION_NOTE`]).
    pub precision_note: String,
    /// Every entry, sorted by key.
    pub entries: Vec<EntryStats>,
    /// The underlying compressed cache's own figures (hit rate per tier, bytes, errors).
    pub compressed_cache: zcache::CacheStats,
}

/// `num / den`, 1.0 when `den` is 0 (nothing stored is stored at ratio 1).
pub(crate) fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        1.0
    } else {
        num as f64 / den as f64
    }
}

impl CacheService {
    /// A snapshot of the service's entries and counters, and of the compressed cache under it.
    #[must_use]
    pub fn get_enhanced_cache_stats(&self) -> EnhancedCacheStats {
        let mut entries: Vec<EntryStats> = {
            let index = self.index.lock();
            index
                .slots()
                .map(|s| {
                    let m = &s.meta;
                    let raw = m.matrix_raw_bytes();
                    EntryStats {
                        key: m.key.clone(),
                        model: m.model.name.clone(),
                        model_id: m.model.identity_hash(),
                        data_hash: m.data_hash.clone(),
                        precision: m.precision,
                        rows: m.rows,
                        dim: m.dim,
                        raw_bytes: raw,
                        matrix_stored_bytes: m.matrix_stored_len,
                        texts_raw_bytes: m.texts_raw_len,
                        texts_stored_bytes: m.texts_stored_len,
                        stored_bytes: s.stored_bytes,
                        matrix_ratio: m.matrix_ratio(),
                        fidelity: m.fidelity,
                        matrix_codec: m.matrix_codec,
                        texts_codec: m.texts_codec,
                        created_unix_ms: m.created_unix_ms,
                    }
                })
                .collect()
        };
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        let sum = |f: fn(&EntryStats) -> u64| entries.iter().map(f).sum::<u64>();
        let count = |p: Precision| entries.iter().filter(|e| e.precision == p).count() as u64;
        let (matrix_raw, matrix_stored) = (sum(|e| e.raw_bytes), sum(|e| e.matrix_stored_bytes));
        let (texts_raw, texts_stored) = (sum(|e| e.texts_raw_bytes), sum(|e| e.texts_stored_bytes));
        let stored = sum(|e| e.stored_bytes);
        let c = &self.counters;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let (hits, misses) = (load(&c.hits), load(&c.misses));
        let total_ratio = ratio(matrix_stored + texts_stored, matrix_raw + texts_raw);
        EnhancedCacheStats {
            entry_count: entries.len() as u64,
            total_rows: sum(|e| e.rows),
            matrix_raw_bytes: matrix_raw,
            matrix_stored_bytes: matrix_stored,
            texts_raw_bytes: texts_raw,
            texts_stored_bytes: texts_stored,
            stored_bytes: stored,
            max_cache_bytes: self.config.max_cache_bytes,
            usage_percent: 100.0 * stored as f64 / self.config.max_cache_bytes.max(1) as f64,
            embeddings_compression_ratio: ratio(matrix_stored, matrix_raw),
            compression_ratio: total_ratio,
            compression_savings_mb: mem_monitor::bytes_to_mb(
                (matrix_raw + texts_raw).saturating_sub(matrix_stored + texts_stored),
            ),
            total_cache_efficiency: 1.0 - total_ratio,
            entries_f32: count(Precision::F32),
            entries_f16: count(Precision::F16),
            entries_int8: count(Precision::Int8),
            min_cosine: entries
                .iter()
                .map(|e| e.fidelity.min_cosine)
                .fold(1.0, f64::min),
            hits,
            misses,
            stale_misses: load(&c.stale),
            corrupt_misses: load(&c.corrupt),
            hit_rate: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            saves: load(&c.saves),
            not_stored: load(&c.not_stored),
            evictions: load(&c.evictions),
            precision_note: PRECISION_NOTE.to_owned(),
            entries,
            compressed_cache: self.cache.get_stats(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Embeddings, ModelInfo};

    #[test]
    fn codecs_are_typed_and_serialise_as_their_names() {
        let s = CacheService::builder().build().unwrap();
        let e = Embeddings::new(vec![0.25; 4 * 8], 4, 8).unwrap();
        let texts: Vec<String> = (0..4).map(|i| format!("text {i}")).collect();
        s.save_embeddings_compressed("k", &e, &texts, &ModelInfo::new("m"), "h")
            .unwrap();
        let stats = s.get_enhanced_cache_stats();
        let entry = &stats.entries[0];
        assert_eq!(
            entry.matrix_codec,
            Codec::Shuffle {
                width: 4,
                inner: zcache::DEFAULT_SHUFFLE_INNER
            }
        );
        assert_eq!(entry.texts_codec, Codec::Lz4);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["entries"][0]["matrix_codec"], "shuffle:4:zstd:1");
        assert_eq!(json["entries"][0]["texts_codec"], "lz4");
        let back: EnhancedCacheStats = serde_json::from_value(json).unwrap();
        assert_eq!(back.entries, stats.entries);
    }
}
