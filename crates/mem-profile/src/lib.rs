//! Counting global allocator, memory profiling sessions, leak detection and HTML/JSON reports.
//!
//! Rust has no `tracemalloc`; the exact equivalent is a counting global allocator,
//! [`TrackingAllocator`], and resident-memory sampling covers the rest. Sessions of a
//! [`MemoryProfiler`] sample memory on a thread, fit a robust trend and say whether memory
//! leaks, how fast, and what to do about it.
//!
//! ```
//! use std::time::Duration;
//! use mem_profile::{get_memory_profiler, profile_function, QuickMemoryProfiler};
//!
//! // Optional, in your binary: exact heap figures.
//! // #[global_allocator]
//! // static ALLOC: mem_profile::TrackingAllocator = mem_profile::TrackingAllocator::new();
//!
//! #[profile_function]
//! fn load(n: usize) -> Vec<u64> {
//!     (0..n as u64).collect()
//! }
//!
//! let profiler = get_memory_profiler();
//! profiler.set_snapshot_interval(Duration::from_millis(10))?;
//! profiler.start_profiling("data_processing_session")?;
//! let data = load(100_000);
//! let result = profiler.stop_profiling("data_processing_session")?;
//! println!("Peak memory: {:.1} MB", result.peak_memory_mb);
//! println!("Memory leak detected: {}", result.memory_leak_detected);
//! assert_eq!(result.functions[0].calls, 1);
//!
//! let ctx = QuickMemoryProfiler::quick_context("sum");
//! let total: u64 = data.iter().sum();
//! let quick = ctx.finish();
//! println!("{total}: {:+.2} MB in {:?}", quick.memory_change_mb, quick.elapsed());
//!
//! let html = result.to_html()?; // self-contained page with an SVG chart
//! assert!(html.contains("<svg"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

// Lets `#[profile_function]`, which names `::mem_profile`, work inside this crate too.
extern crate self as mem_profile;

mod alloc;
#[cfg(feature = "html")]
mod chart;
mod context;
mod error;
#[cfg(feature = "html")]
mod html;
mod jitter;
mod process;
mod profiler;
mod recommend;
mod result;
mod scope;
mod trend;

pub use alloc::{
    AllocStats, PEAK_GRANULARITY, TrackingAllocator, heap_stats, is_tracking, reset_peak,
};
#[cfg(feature = "html")]
pub use chart::{HEAP_COLOR, PEAK_COLOR, RSS_COLOR, TREND_COLOR};
pub use context::{
    FunctionGuard, ProfileGuard, QuickContext, QuickMemoryProfiler, QuickReport, profile_context,
    profile_fn,
};
pub use error::ProfileError;
/// Byte-size units (re-exported from `mem-monitor`): sizes in this crate's APIs are bytes.
pub use mem_monitor::{GIB, KIB, MIB};
/// Records each call of the function into the global profiler; see
/// [`mem_profile_macros::profile_function`].
///
/// ```
/// use mem_profile::profile_function;
///
/// #[profile_function]
/// fn build(n: usize) -> Vec<u32> {
///     vec![7; n]
/// }
///
/// #[profile_function(name = "etl::load")]
/// fn load() -> usize {
///     build(1000).len()
/// }
///
/// assert_eq!(load(), 1000);
/// let load_stats = mem_profile::get_memory_profiler().function("etl::load");
/// assert_eq!(load_stats.map(|f| f.calls), Some(1));
/// ```
///
/// Not for `async fn` (the measurement is per thread) nor `const fn`, and only `name = "..."`
/// is accepted as an argument:
///
/// ```compile_fail
/// #[mem_profile::profile_function]
/// async fn fetch() {}
/// ```
///
/// ```compile_fail
/// #[mem_profile::profile_function(label = "x")]
/// fn f() {}
/// ```
pub use mem_profile_macros::profile_function;
pub use process::{process_tree, process_tree_rss_bytes, profile_child};
pub use profiler::{
    DEFAULT_SNAPSHOT_INTERVAL, MemoryProfiler, MemoryProfilerBuilder, get_memory_profiler,
};
pub use result::{
    AnalysisConfig, FunctionProfile, HeapSummary, LeakBasis, ProfileResult, Snapshot,
};
pub use scope::{Measurement, ScopeMeter, measure};
pub use trend::{LeakAnalysis, LeakConfig, detect_leak, theil_sen};

/// What `#[profile_function]` expands to refers to; not part of the stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::FunctionGuard;
}
