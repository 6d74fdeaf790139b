//! memkit: keep a data-heavy application inside its memory budget.
//!
//! The facade re-exports each memkit crate behind a feature.
//!
//! ```
//! let stats = memkit::monitor::memory_stats()?;
//! assert!(stats.process_rss_bytes > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

/// Process and system memory, pressure levels and the monitor (crate `mem-monitor`).
#[cfg(feature = "monitor")]
pub use mem_monitor as monitor;

mod config;

pub use config::{CompressionMethod, Config, ConfigError, ENV_VARS};
