//! The names most programs need, in one `use membound::prelude::*;`.

pub use crate::{Config, MemoryManager};
pub use mem_monitor::{
    MemoryMonitor, MemoryStats, PressureHook, PressureLevel, Thresholds, get_memory_stats,
    memory_stats,
};

#[cfg(feature = "optimize")]
pub use mem_optimize::{
    LruCache, OptimizeOptions, StreamOptimizer, optimize_batch, release_memory,
};

#[cfg(feature = "stream")]
pub use mem_stream::{ChunkMetadata, StreamingLoader};

#[cfg(feature = "profile")]
pub use mem_profile::{
    QuickMemoryProfiler, get_memory_profiler, profile_context, profile_function,
};

#[cfg(feature = "cache")]
pub use zcache::{Codec, CompressedCache};

#[cfg(feature = "service")]
pub use zcache_service::{CacheService, Embeddings, Precision};
