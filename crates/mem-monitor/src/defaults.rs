//! The defaults every membound crate shares, from the original guide, in one place.
//!
//! Sizes are bytes; the guide's MB and GB are mebibytes and gibibytes ([`MIB`], [`GIB`]). The
//! loader, the caches, the facade's `Config` and the CLI import these instead of repeating them.

use crate::bytes::{GIB, MIB};

/// Rows per streaming chunk (the guide's `BERTOPIC_STREAMING_CHUNK_SIZE`, 10,000).
pub const CHUNK_SIZE: usize = 10_000;

/// Memory limit of one operation, such as a stream (the guide's `BERTOPIC_MAX_MEMORY_MB`, 2000 MB).
pub const MEMORY_LIMIT: u64 = 2000 * MIB;

/// Memory tier of a compressed cache (the guide's `CompressedCache(max_memory_mb=500)`).
pub const CACHE_MEMORY: u64 = 500 * MIB;

/// Disk tier of a compressed cache (2 GB).
pub const CACHE_DISK: u64 = 2 * GIB;

/// Total size of an embeddings cache (the guide's `BERTOPIC_CACHE_SIZE_GB`, 5 GB).
pub const CACHE_SIZE: u64 = 5 * GIB;

/// Memory tier of an embeddings cache (512 MB of recently used entries).
pub const HOT_TIER: u64 = 512 * MIB;
