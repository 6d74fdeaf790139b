//! The cache builder and its settings.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cache::CompressedCache;
use crate::codec::Codec;
use crate::error::CacheError;
use crate::shared::RedisTier;

/// When the disk tier is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskPolicy {
    /// Every put also writes the entry to disk (durable across restarts and crashes; each put
    /// pays a file write and, with `sync_writes`, an fsync).
    #[default]
    WriteThrough,
    /// Only entries the memory tier evicts are written to disk (cheaper puts; what is only in
    /// memory is lost on a crash).
    WriteOnEviction,
}

/// The settings of a cache, validated by [`CacheBuilder::build`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub max_memory_bytes: u64,
    pub default_compression: Codec,
    pub disk_dir: Option<PathBuf>,
    pub max_disk_bytes: u64,
    pub default_ttl: Option<Duration>,
    pub cleanup_interval: Duration,
    pub disk_policy: DiskPolicy,
    pub max_entry_bytes: u64,
    pub sync_writes: bool,
    pub read_only: bool,
    pub shared: Option<RedisTier>,
    pub recompress: crate::recompress::Settings,
}

/// Builds a [`CompressedCache`]. Defaults: 500 MB memory, [`Codec::Auto`], no disk tier
/// (2048 MB when enabled, write-through, fsync on), no TTL, cleanup every 60 s, 256 MiB max
/// entry.
#[derive(Debug, Clone)]
#[must_use]
pub struct CacheBuilder {
    max_memory: u64,
    default_compression: Codec,
    disk_dir: Option<PathBuf>,
    max_disk: u64,
    default_ttl: Option<Duration>,
    cleanup_interval: Duration,
    disk_policy: DiskPolicy,
    max_entry_bytes: u64,
    sync_writes: bool,
    read_only: bool,
    shared: Option<RedisTier>,
    recompress: crate::recompress::Settings,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        Self {
            max_memory: mem_monitor::defaults::CACHE_MEMORY,
            default_compression: Codec::Auto,
            disk_dir: None,
            max_disk: mem_monitor::defaults::CACHE_DISK,
            default_ttl: None,
            cleanup_interval: Duration::from_secs(60),
            disk_policy: DiskPolicy::WriteThrough,
            max_entry_bytes: 256 * mem_monitor::MIB,
            sync_writes: true,
            read_only: false,
            shared: None,
            recompress: crate::recompress::Settings::default(),
        }
    }
}

impl CacheBuilder {
    /// Memory-tier budget in bytes (default 500 MiB), counted in stored (compressed) bytes plus each entry's key and
    /// bookkeeping, so it bounds the RAM really used. 0 keeps nothing in memory (disk only).
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = bytes;
        self
    }

    /// The codec used when a put does not name one ([`Codec::Auto`] by default).
    pub fn default_compression(mut self, codec: Codec) -> Self {
        self.default_compression = codec;
        self
    }

    /// Enables the disk tier in `dir` (created if missing). Opening an existing directory
    /// rebuilds the index from the entry headers and removes leftover temp files.
    pub fn enable_disk_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.disk_dir = Some(dir.into());
        self
    }

    /// Disk-tier budget in bytes (entry files' sizes; default 2 GiB); least recently used entries go first.
    pub fn max_disk(mut self, bytes: u64) -> Self {
        self.max_disk = bytes;
        self
    }

    /// Time to live of entries put without their own TTL.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// How often the background thread removes expired entries from both tiers. Zero runs no
    /// thread (expired entries are then still never returned, and `optimize` removes them).
    pub fn cleanup_interval(mut self, every: Duration) -> Self {
        self.cleanup_interval = every;
        self
    }

    /// When the disk tier is written (write-through by default).
    pub fn disk_policy(mut self, policy: DiskPolicy) -> Self {
        self.disk_policy = policy;
        self
    }

    /// Largest value accepted, in raw bytes. Also the bound on what a disk entry may declare:
    /// larger declarations are refused as corrupt before anything is allocated.
    pub fn max_entry_bytes(mut self, bytes: u64) -> Self {
        self.max_entry_bytes = bytes;
        self
    }

    /// Whether disk writes are fsynced before and after the rename (default true). Off trades
    /// durability on power loss for speed; a process crash still never leaves a torn entry.
    pub fn sync_writes(mut self, sync: bool) -> Self {
        self.sync_writes = sync;
        self
    }

    /// Opens the disk tier for inspection only (default false): the directory must exist, and
    /// nothing in it is created, written or removed. Damaged, expired and oversized entries and
    /// stale temp files are counted and left in place; gets read as usual; `verify` counts
    /// without repairing, `optimize` removes nothing from disk; puts, `remove` and `clear` fail
    /// with [`CacheError::ReadOnly`]. What `membound cache stats` and `verify` use, so that
    /// looking at a cache never changes it.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Adds a shared tier after memory and disk (the `redis` feature): gets that miss locally
    /// ask Redis, and a hit there fills the local tiers; puts write the local tiers at once and
    /// Redis in the background (or before returning, with
    /// [`RedisTier::write_through`]); [`remove`](CompressedCache::remove) removes from Redis
    /// too, while evictions, expirations and [`clear`](CompressedCache::clear) stay local. A
    /// read-only cache reads the shared tier and never writes it. Faults of the shared tier
    /// never reach the caller: they are counted in [`CacheStats::shared`](crate::CacheStats).
    pub fn shared(mut self, tier: RedisTier) -> Self {
        self.shared = Some(tier);
        self
    }

    /// Whether entries put under [`Codec::Auto`] follow their temperature (default on with the
    /// `zstd` feature): a background thread recompresses those that stay cold with zstd at a
    /// higher level (with a dictionary trained for their kind and key prefix once there is
    /// one), so more fit the same budget; one that turns hot again gets its fast codec back,
    /// once. Hits never recompress anything. The thread uses at most half a core and stops
    /// when the cache is dropped.
    pub fn background_recompression(mut self, on: bool) -> Self {
        self.recompress.enabled = on && cfg!(feature = "zstd");
        self
    }

    /// Whether the background recompression trains zstd dictionaries per value kind and key
    /// prefix (the part before the first `:` or `/`) from samples of the values held, and
    /// retrains when the ratio drifts (default on with the `zstd` feature). Dictionaries are
    /// kept in memory and, with a disk tier, in its `dicts/` directory; an entry whose
    /// dictionary is missing is a miss.
    pub fn dictionaries(mut self, on: bool) -> Self {
        self.recompress.dictionaries = on && cfg!(feature = "zstd");
        self
    }

    /// How long an entry must have been held before it can count as cold (default 100 ms):
    /// cold means fewer than 4 hits between two background passes.
    pub fn recompress_after(mut self, age: Duration) -> Self {
        self.recompress.cold_after = age;
        self
    }

    /// The zstd level of cold entries (default 6).
    pub fn cold_level(mut self, level: i32) -> Self {
        self.recompress.level = level;
        self
    }

    /// Validates the settings, opens the disk tier and starts the cleanup thread.
    ///
    /// # Errors
    /// [`CacheError::InvalidConfig`] for a negative, NaN or infinite size, a zero maximum entry
    /// size, or an invalid codec; [`CacheError::NotADirectory`] when the disk directory is a
    /// file; I/O errors opening the disk directory (read-only: also when it is missing);
    /// [`CacheError::Spawn`] if the cleanup thread cannot start. With a shared tier:
    /// [`CacheError::InvalidConfig`] for a bad setting, a `rediss://` URL without the
    /// `redis-tls` feature, or any shared tier without the `redis` feature;
    /// [`CacheError::SharedTier`] when the server refuses the password, user or database, or
    /// the URL does not parse. A server that cannot be reached is not an error: the cache
    /// starts with the shared tier bypassed and retries it (see [`RedisTier::retry_after`]).
    pub fn build(self) -> Result<CompressedCache, CacheError> {
        let max_memory_bytes = self.max_memory;
        let max_disk_bytes = self.max_disk;
        if self.max_entry_bytes == 0 {
            return Err(CacheError::InvalidConfig(
                "max_entry_bytes must be above 0".into(),
            ));
        }
        if self.default_ttl == Some(Duration::ZERO) {
            return Err(CacheError::InvalidConfig(
                "default_ttl must be above 0".into(),
            ));
        }
        self.default_compression.validate()?;
        Codec::Zstd(self.recompress.level).validate()?;
        if let Some(tier) = &self.shared {
            tier.validate()?;
        }
        CompressedCache::from_config(Config {
            max_memory_bytes,
            default_compression: self.default_compression,
            disk_dir: self.disk_dir,
            max_disk_bytes,
            default_ttl: self.default_ttl,
            cleanup_interval: self.cleanup_interval,
            disk_policy: self.disk_policy,
            max_entry_bytes: self.max_entry_bytes,
            sync_writes: self.sync_writes,
            read_only: self.read_only,
            shared: self.shared,
            recompress: self.recompress,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_settings() {
        for b in [
            CacheBuilder::default().max_entry_bytes(0),
            CacheBuilder::default().default_ttl(Duration::ZERO),
            CacheBuilder::default().default_compression(Codec::Zstd(99)),
            CacheBuilder::default().shared(RedisTier::new("redis://127.0.0.1:1").prefix("")),
            CacheBuilder::default().default_compression(Codec::Shuffle {
                width: 3,
                inner: crate::InnerCodec::Lz4,
            }),
        ] {
            assert!(matches!(b.build(), Err(CacheError::InvalidConfig(_))));
        }
    }
}
