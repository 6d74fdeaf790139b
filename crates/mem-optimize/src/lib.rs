//! Shrink Arrow record batches and numeric arrays losslessly; an LRU cache with eviction
//! callbacks; give freed memory back to the OS.
//!
//! The Rust counterpart of the seed guide's `MemoryOptimizer` and `LRUCache`:
//!
//! - [`optimize_batch`] narrows integers, turns `Float64` into `Float32` where every value
//!   round-trips exactly, and low-cardinality strings into dictionaries, with a per-column
//!   [`OptimizeReport`].
//! - [`StreamOptimizer`] keeps one output schema for a whole stream of chunks, only widening
//!   (and saying so), with [`StreamOptimizer::conform`] to bring earlier chunks up to date.
//! - [`optimize_array`] does the same for numeric slices and Arrow primitive arrays, with an
//!   optional target type (exact unless explicitly lossy).
//! - [`CompactBatch`] / [`CompactTable`] hold text columns compressed with FSST (a static
//!   symbol table per column), any row readable alone, decoded back to Arrow on demand.
//! - [`batch_memory_size`] counts each Arrow buffer once, even when slices share it.
//! - [`LruCache`] bounds entries and/or bytes on `moka`, calling a cleanup callback with the
//!   [`EvictionCause`] of every entry that leaves.
//! - [`release_memory`] runs the purge hooks registered with [`register_purge_hook`] and trims
//!   the allocator (`malloc_trim(0)` on glibc Linux), reporting RSS before and after.
//!
//! Everything lossless by default: with [`OptimizeOptions::default`], casting an optimized
//! column back to its input type gives the input, values and nulls, bit for bit.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch, StringArray};
//! use mem_optimize::{optimize_batch, OptimizeOptions};
//!
//! let batch = RecordBatch::try_from_iter([
//!     ("id", Arc::new(Int64Array::from_iter_values(0..10_000)) as _),
//!     ("kind", Arc::new(StringArray::from_iter_values((0..10_000).map(|i| ["a", "b", "c"][i % 3]))) as _),
//! ])?;
//! let (small, report) = optimize_batch(&batch, &OptimizeOptions::default())?;
//! assert_eq!(small.num_rows(), 10_000);
//! assert!(report.reduction_fraction() > 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod array;
mod batch;
mod cache;
mod compact;
mod dict;
mod error;
mod options;
mod plan;
mod release;
mod report;
mod serde_arrow;
mod size;
mod stream;

pub use array::{
    ArrayTarget, NumericElement, NumericType, NumericVec, optimize_array, optimize_arrow_array,
};
pub use batch::optimize_batch;
pub use cache::{CacheStats, EvictionCause, LruCache, LruCacheBuilder};
pub use compact::{
    CompactBatch, CompactColumnReport, CompactEncoding, CompactOptions, CompactReport,
    CompactTable, DEFAULT_SAMPLE_BYTES, MAX_SAMPLE_BYTES,
};
pub use error::OptimizeError;
pub use mem_monitor::{GIB, KIB, MIB};
pub use options::{DictionaryThreshold, OptimizeOptions};
pub use release::{
    PurgeHookHandle, PurgeRegistry, ReleaseReport, register_purge_hook, register_purge_hook_dyn,
    release_memory, trim_allocator,
};
pub use report::{ColumnReport, OptimizeReport};
pub use size::{array_memory_size, arrays_memory_size, batch_memory_size};
pub use stream::{SchemaWidening, StreamOptimizer};
