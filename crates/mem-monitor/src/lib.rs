//! Process and system memory, cgroup v2 limits, PSI, and pressure levels with hysteresis.
//!
//! `mem-monitor` is the leaf of the membound workspace: it holds the vocabulary the other crates
//! share ([`PressureLevel`], byte-size helpers, the [`PressureHook`] trait, the
//! [`PressureSource`] trait through which consumers read the level) and the monitor.
//!
//! ```
//! use std::time::Duration;
//! use mem_monitor::{memory_stats, MemoryMonitor, PressureLevel};
//!
//! // One cheap sample.
//! let stats = memory_stats()?;
//! println!("{:.1} MB resident, system {:.0} % used, {}", stats.process_mb(), stats.system_used_percent, stats.level);
//!
//! // A monitor on a thread that publishes level changes.
//! let monitor = MemoryMonitor::builder().interval(Duration::from_millis(100)).build()?;
//! monitor.on_pressure(|event| {
//!     if event.to == PressureLevel::High {
//!         // shed memory here
//!     }
//! });
//! monitor.start()?;
//! monitor.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod bytes;
pub mod defaults;
mod error;
mod files;
mod global;
mod hook;
mod level;
mod monitor;
pub mod parse;
mod process;
mod sampler;
mod source;
mod stats;

pub use bytes::{GIB, KIB, MIB, bytes_to_mb, format_bytes, mb_to_bytes};
pub use error::MonitorError;
pub use files::file_kind;
pub use global::{
    get_memory_monitor, get_memory_stats, start_memory_monitoring, stop_memory_monitoring,
};
pub use hook::PressureHook;
pub use level::{PressureLevel, Thresholds};
pub use monitor::{MemoryMonitor, MemoryMonitorBuilder, PressureEvent};
pub use process::{ProcessMemory, peak_rss_bytes, process_memory};
pub use sampler::sample_via_sysinfo;
pub use source::{FixedPressure, PressureSource};
pub use stats::{MemoryStats, memory_stats, memory_stats_with};
