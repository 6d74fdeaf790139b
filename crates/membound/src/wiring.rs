//! How a [`Config`] configures the other crates: loader, cache and embeddings-cache builders.

#[cfg(feature = "service")]
use std::path::PathBuf;

#[cfg(feature = "cache")]
use crate::CompressionMethod;
use crate::Config;

#[cfg(feature = "cache")]
impl CompressionMethod {
    /// The zcache codec for this method (GZIP at level 6, ZSTD at level 3, shuffle of 4-byte
    /// elements through zstd).
    #[must_use]
    pub fn codec(self) -> zcache::Codec {
        match self {
            Self::None => zcache::Codec::None,
            Self::Lz4 => zcache::Codec::Lz4,
            Self::Gzip => zcache::Codec::Gzip(6),
            Self::Zstd => zcache::Codec::Zstd(3),
            Self::Shuffle => zcache::DEFAULT_SHUFFLE,
        }
    }
}

impl Config {
    /// A streaming loader builder with this configuration's chunk size and memory limit.
    #[cfg(feature = "stream")]
    #[must_use]
    pub fn streaming_loader(&self) -> mem_stream::StreamingLoaderBuilder {
        mem_stream::StreamingLoader::builder()
            .chunk_size(self.streaming_chunk_size)
            .memory_limit(self.max_memory_bytes())
    }

    /// The codec caches use: the configured method, or none when compression is disabled.
    #[cfg(feature = "cache")]
    #[must_use]
    pub fn codec(&self) -> zcache::Codec {
        if self.compression_enabled {
            self.compression_method.codec()
        } else {
            zcache::Codec::None
        }
    }

    /// A compressed cache builder with this configuration's codec and disk budget
    /// (`cache_size_gb`); add `enable_disk_cache(dir)` for the disk tier.
    #[cfg(feature = "cache")]
    pub fn compressed_cache(&self) -> zcache::CacheBuilder {
        zcache::CompressedCache::builder()
            .default_compression(self.codec())
            .max_disk(self.cache_size_bytes())
    }

    /// An embeddings cache builder in `dir` with this configuration's size and compression.
    #[cfg(feature = "service")]
    pub fn cache_service(&self, dir: impl Into<PathBuf>) -> zcache_service::CacheServiceBuilder {
        zcache_service::CacheService::builder()
            .cache_dir(dir)
            .max_cache_size(self.cache_size_bytes())
            .enable_compression(self.compression_enabled)
            .compression_method(self.compression_method.codec())
    }
}

#[cfg(all(test, feature = "stream", feature = "cache"))]
mod wiring_tests {
    use super::*;

    #[test]
    fn builders_carry_the_configuration() {
        let config = Config {
            streaming_chunk_size: 1234,
            max_memory_mb: 500.0,
            ..Config::default()
        };
        let loader = config.streaming_loader().build().unwrap();
        assert_eq!(loader.chunk_size(), 1234);
        assert_eq!(loader.memory_limit(), 500 << 20);
        assert_eq!(
            Config {
                compression_enabled: false,
                ..Config::default()
            }
            .codec(),
            zcache::Codec::None
        );
        assert_eq!(config.codec(), zcache::Codec::Lz4);
    }
}
