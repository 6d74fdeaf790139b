//! Per-put options and what a put reports.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::value::ValueKind;

/// Per-put settings that override the cache's defaults.
///
/// ```
/// use std::time::Duration;
/// use zcache::{Codec, PutOptions};
/// let opts = PutOptions::new().compression(Codec::Zstd(9)).ttl(Duration::from_secs(60));
/// assert_eq!(opts.compression, Some(Codec::Zstd(9)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Codec for this value; `None` uses the cache's default compression.
    pub compression: Option<Codec>,
    /// Time to live; `None` uses the cache's default TTL (if any).
    pub ttl: Option<Duration>,
}

impl PutOptions {
    /// No overrides.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `codec` for this value.
    #[must_use]
    pub fn compression(mut self, codec: Codec) -> Self {
        self.compression = Some(codec);
        self
    }

    /// Expires this value after `ttl`.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// What a put stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutReport {
    /// The value's kind.
    pub kind: ValueKind,
    /// The codec really used (`Auto` resolved; `None` when stored raw).
    pub codec: Codec,
    /// Raw (uncompressed) bytes.
    pub raw_bytes: u64,
    /// Stored (compressed) payload bytes.
    pub stored_bytes: u64,
    /// xxh3-64 of the stored payload, as the disk entry's header records it: identifies this
    /// very write (see [`EntryInfo::checksum`]).
    pub checksum: u64,
    /// Whether the entry went into the memory tier (false while serving from disk only).
    pub in_memory: bool,
    /// Whether the entry was written to the disk tier by this put.
    pub on_disk: bool,
    /// Whether the entry reached the shared tier before the put returned (only with
    /// [`RedisTier::write_through`](crate::RedisTier::write_through); background writes are
    /// counted in the shared tier's stats instead).
    #[serde(default)]
    pub on_shared: bool,
}

/// What is stored under a key, as [`CompressedCache::peek`](crate::CompressedCache::peek) reads
/// it from the entry's header without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInfo {
    /// The value's kind.
    pub kind: ValueKind,
    /// The codec the payload is stored with.
    pub codec: Codec,
    /// Raw (uncompressed) bytes.
    pub raw_bytes: u64,
    /// Stored payload bytes.
    pub stored_bytes: u64,
    /// xxh3-64 of the stored payload: equal to the [`PutReport::checksum`] of the put that
    /// wrote this entry, so a caller can tell which write it is looking at without reading it.
    pub checksum: u64,
}
