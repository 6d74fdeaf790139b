//! [`CacheServiceBuilder`]: the service's settings, validated in `build`.

use std::path::PathBuf;

use zcache::{Codec, InnerCodec, RedisTier};

use crate::error::{Result, ServiceError};
use crate::precision::Precision;
use crate::service::CacheService;

/// Settings resolved by [`CacheServiceBuilder::build`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) max_cache_bytes: u64,
    pub(crate) enable_compression: bool,
    pub(crate) compression_method: Codec,
    pub(crate) precision: Precision,
    pub(crate) hot_tier_bytes: u64,
    pub(crate) sync_writes: bool,
    pub(crate) read_only: bool,
    pub(crate) shared: Option<RedisTier>,
}

impl Config {
    /// The codec of the texts section.
    pub(crate) fn texts_codec(&self) -> Codec {
        if !self.enable_compression {
            return Codec::None;
        }
        match self.compression_method {
            // Texts are not fixed-width numbers: shuffling them only scatters their bytes.
            Codec::Shuffle { inner, .. } => Codec::from(inner),
            // lz4 decodes the texts of a 5,000-row entry in a fraction of a millisecond (zstd-1:
            // about 1 ms for ~15 % smaller texts); reads are the hot path.
            Codec::Auto => Codec::Lz4,
            other => other,
        }
    }

    /// The codec of the matrix section at `precision`: the configured method's entropy coder
    /// after a byte shuffle by element width (so the exponent bytes sit together).
    pub(crate) fn matrix_codec(&self, precision: Precision) -> Codec {
        if !self.enable_compression {
            return Codec::None;
        }
        let inner = match self.compression_method {
            Codec::None => return Codec::None,
            Codec::Lz4 => InnerCodec::Lz4,
            Codec::Gzip(l) => InnerCodec::Gzip(l),
            Codec::Zstd(l) => InnerCodec::Zstd(l),
            Codec::Shuffle { inner, .. } => inner,
            Codec::Auto => match precision {
                // int8 codes have no exponent bytes to group; zstd would save ~7 % of the 0.25
                // for a 3x slower read, so the default keeps them raw (already 0.2526 of f32).
                Precision::Int8 => return Codec::None,
                _ => zcache::DEFAULT_SHUFFLE_INNER,
            },
        };
        match u8::try_from(precision.element_width()) {
            Ok(width @ (2 | 4 | 8)) if inner != InnerCodec::None => Codec::Shuffle { width, inner },
            _ => Codec::from(inner),
        }
    }

    /// The largest raw (f32) matrix or text section an entry may declare: the bound on what a
    /// read allocates. Eight times the cache size covers int8 (4x) with room to spare.
    pub(crate) fn max_raw_bytes(&self) -> u64 {
        self.max_cache_bytes
            .saturating_mul(8)
            .max(64 * mem_monitor::MIB)
    }
}

/// Builds a [`CacheService`].
///
/// Defaults: no directory (memory only), 5 GB (`BERTOPIC_CACHE_SIZE_GB`'s default), compression
/// on with [`Codec::Auto`] (matrices byte-shuffled + zstd-1, texts lz4, int8 raw), lossless
/// [`Precision::F32`], a 512 MB hot tier, no fsync (see [`sync_writes`](Self::sync_writes)).
#[derive(Debug, Clone)]
#[must_use]
pub struct CacheServiceBuilder {
    cache_dir: Option<PathBuf>,
    max_cache_size: u64,
    enable_compression: bool,
    compression_method: Codec,
    precision: Precision,
    hot_tier: u64,
    sync_writes: bool,
    read_only: bool,
    shared: Option<RedisTier>,
}

impl Default for CacheServiceBuilder {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_cache_size: mem_monitor::defaults::CACHE_SIZE,
            enable_compression: true,
            compression_method: Codec::Auto,
            precision: Precision::F32,
            hot_tier: mem_monitor::defaults::HOT_TIER,
            sync_writes: false,
            read_only: false,
            shared: None,
        }
    }
}

impl CacheServiceBuilder {
    /// Keeps entries in `dir` (created if missing) so they survive restarts; without it the
    /// service holds entries in memory only.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Total stored size of all entries, in bytes (default 5 GiB); the least recently used entries are evicted
    /// to stay under it. An entry larger than this on its own is not stored.
    pub fn max_cache_size(mut self, bytes: u64) -> Self {
        self.max_cache_size = bytes;
        self
    }

    /// Compresses matrices and texts (default true). Off stores them raw: fastest save, biggest
    /// entries.
    pub fn enable_compression(mut self, on: bool) -> Self {
        self.enable_compression = on;
        self
    }

    /// The codec family: `Auto` (default) picks per section; `Lz4`, `Zstd(l)`, `Gzip(l)` are
    /// used for the texts and, after a byte shuffle, for the matrices (lossless f32 with
    /// shuffle + lz4 stays near 0.9 of raw; zstd reaches ~0.84); `None` disables compression.
    pub fn compression_method(mut self, codec: Codec) -> Self {
        self.compression_method = codec;
        self
    }

    /// Precision of saved matrices (lossless [`Precision::F32`] by default). Lossy precisions
    /// report the fidelity kept at each save and in the stats.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Memory budget of the hot tier in bytes (default 512 MiB): recently used entries stay in memory (compressed)
    /// and are read without touching the disk. More memory, faster repeated reads. 0 reads
    /// every entry from disk.
    pub fn hot_tier(mut self, bytes: u64) -> Self {
        self.hot_tier = bytes;
        self
    }

    /// Whether each save is fsynced before it returns (default false).
    ///
    /// Off, a save costs no disk flush (an fsync of a 7 MB entry takes 10-35 ms on a typical
    /// virtual disk, more than the rest of the save). Entries are still written atomically
    /// (temporary file + rename) and checksummed, so a crash never yields a torn or wrong entry;
    /// after a power failure the last saves may be missing (a miss: the embeddings are computed
    /// again). On, a save returns only once the entry is durable.
    pub fn sync_writes(mut self, on: bool) -> Self {
        self.sync_writes = on;
        self
    }

    /// Opens the cache directory for reading only (default false): it must exist, and nothing
    /// in it is created, written, repaired or removed (damaged entries are misses left in
    /// place); saves fail. For tools that inspect a cache (`membound embeddings stats|export`).
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Shares entries through Redis or Valkey (mem-zcache's `redis` feature, forwarded as
    /// this crate's `redis`): a URL (`redis://[user][:password@]host[:port][/db]`,
    /// `rediss://` with `redis-tls`) or a [`RedisTier`] with its settings. A lookup that misses
    /// locally asks the shared tier, and a hit there fills the local tiers: a second machine
    /// with an empty cache directory gets the embeddings and texts the first one saved,
    /// bit-identical at f32, and
    /// [`get_cached_embeddings_checked`](CacheService::get_cached_embeddings_checked) still
    /// refuses another model or data hash (the blob describes itself). Saves reach Redis in the
    /// background (dropping the service finishes the queue); [`remove`](CacheService::remove)
    /// removes there too, while evictions under `max_cache_size` and
    /// [`clear`](CacheService::clear) stay local. Redis being down, slow or restarted never
    /// fails a save or a lookup: it is counted in [`zcache::SharedTierStats`]
    /// (`compressed_cache().shared_stats()`).
    pub fn shared_tier(mut self, tier: impl Into<RedisTier>) -> Self {
        self.shared = Some(tier.into());
        self
    }

    /// Validates the settings and opens the cache (rebuilding its index from the directory).
    ///
    /// # Errors
    /// [`ServiceError::InvalidConfig`] for a cache size of zero or a codec that
    /// [`Codec::validate`] refuses (a level out of range, such as `Codec::Zstd(99)`, a shuffle
    /// width other than 2, 4 or 8, a codec compiled out); [`ServiceError::Open`] when the
    /// directory cannot be opened, or the shared tier's settings are refused (a bad setting, a
    /// wrong password, the `redis` feature missing; an unreachable server is not an error).
    pub fn build(self) -> Result<CacheService> {
        if self.max_cache_size == 0 {
            return Err(ServiceError::InvalidConfig(
                "max_cache_size must be at least 1 byte".to_owned(),
            ));
        }
        // zcache's own check: levels, shuffle widths, and codecs compiled out.
        self.compression_method
            .validate()
            .map_err(|e| ServiceError::InvalidConfig(format!("compression_method: {e}")))?;
        let config = Config {
            cache_dir: self.cache_dir,
            max_cache_bytes: self.max_cache_size,
            enable_compression: self.enable_compression,
            compression_method: self.compression_method,
            precision: self.precision,
            hot_tier_bytes: self.hot_tier,
            sync_writes: self.sync_writes,
            read_only: self.read_only,
            shared: self.shared,
        };
        CacheService::open(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_settings() {
        for b in [
            CacheServiceBuilder::default().max_cache_size(0),
            CacheServiceBuilder::default().compression_method(Codec::Shuffle {
                width: 3,
                inner: InnerCodec::Lz4,
            }),
            // Levels are zcache's own check, not a copy that could miss them.
            CacheServiceBuilder::default().compression_method(Codec::Zstd(99)),
            CacheServiceBuilder::default().compression_method(Codec::Gzip(12)),
        ] {
            assert!(matches!(b.build(), Err(ServiceError::InvalidConfig(_))));
        }
    }

    #[test]
    fn codecs_follow_the_method() {
        let mut c = Config {
            cache_dir: None,
            max_cache_bytes: 1 << 30,
            enable_compression: true,
            compression_method: Codec::Auto,
            precision: Precision::F32,
            hot_tier_bytes: 0,
            sync_writes: false,
            read_only: false,
            shared: None,
        };
        assert_eq!(
            c.matrix_codec(Precision::F32),
            Codec::Shuffle {
                width: 4,
                inner: InnerCodec::Zstd(1)
            }
        );
        assert_eq!(
            c.matrix_codec(Precision::F16),
            Codec::Shuffle {
                width: 2,
                inner: InnerCodec::Zstd(1)
            }
        );
        assert_eq!(c.matrix_codec(Precision::Int8), Codec::None);
        assert_eq!(c.texts_codec(), Codec::Lz4);
        c.compression_method = Codec::Lz4;
        assert_eq!(c.texts_codec(), Codec::Lz4);
        assert_eq!(
            c.matrix_codec(Precision::F32),
            Codec::Shuffle {
                width: 4,
                inner: InnerCodec::Lz4
            }
        );
        assert_eq!(c.matrix_codec(Precision::Int8), Codec::Lz4);
        c.compression_method = Codec::Shuffle {
            width: 8,
            inner: InnerCodec::Zstd(5),
        };
        assert_eq!(c.texts_codec(), Codec::Zstd(5));
        assert_eq!(
            c.matrix_codec(Precision::F16),
            Codec::Shuffle {
                width: 2,
                inner: InnerCodec::Zstd(5)
            }
        );
        c.enable_compression = false;
        assert_eq!(
            (c.texts_codec(), c.matrix_codec(Precision::F32)),
            (Codec::None, Codec::None)
        );
    }
}
