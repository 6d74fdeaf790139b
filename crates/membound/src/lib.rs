//! membound: keep a data-heavy application inside its memory budget.
//!
//! The facade re-exports each membound crate behind a feature (all on by default) and holds the
//! wiring between them: [`Config`] (the `BERTOPIC_*` environment variables) and
//! [`MemoryManager`] (pressure levels -> automatic actions).
//!
//! ```
//! use membound::prelude::*;
//!
//! let config = Config::from_lookup(|var| (var == "BERTOPIC_STREAMING_CHUNK_SIZE").then(|| "5000".to_owned()))?;
//! let manager = MemoryManager::builder(config).build()?;
//! let loader = manager.streaming_loader().build()?; // its streams follow the manager's level
//! let stats = memory_stats()?;
//! println!("{:.1} MB ({}), chunk size {}", stats.process_mb(), stats.level, loader.chunk_size());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

/// Process and system memory, pressure levels and the monitor (crate `mem-monitor`).
#[cfg(feature = "monitor")]
pub use mem_monitor as monitor;

/// Shrink Arrow batches and numeric arrays, LRU cache, `release_memory` (crate `mem-optimize`).
#[cfg(feature = "optimize")]
pub use mem_optimize as optimize;

/// Stream CSV, Parquet, Feather and Excel files in bounded memory (crate `mem-stream`).
#[cfg(feature = "stream")]
pub use mem_stream as stream;

/// Tracking allocator, profiling sessions, leak detection, reports (crate `mem-profile`).
#[cfg(feature = "profile")]
pub use mem_profile as profile;

/// The compressed two-tier cache (crate `zcache`).
#[cfg(feature = "cache")]
pub use zcache as cache;

/// The embeddings cache (crate `zcache-service`).
#[cfg(feature = "service")]
pub use zcache_service as service;

mod config;
mod manager;
pub mod prelude;
mod wiring;

pub use config::{CompressionMethod, Config, ConfigError, ENV_VARS, LEGACY_ENV_VARS};
pub use manager::{
    Action, ActionRecord, Advice, ManagerStats, MemoryManager, MemoryManagerBuilder,
    PRESSURE_PROFILE_SESSION,
};
