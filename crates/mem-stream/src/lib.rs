//! Stream CSV/TSV, Parquet, Arrow IPC/Feather and Excel/ODS files as Arrow record batches in
//! bounded memory.
//!
//! [`StreamingLoader`] (the memory guide's `FileIOService`) reads a file in chunks of rows:
//! only the current chunk and a small, fixed read-ahead are alive at once, whatever the file
//! size. Each chunk comes with [`ChunkMetadata`] (rows, Arrow bytes, progress, process RSS) and,
//! by default, with its column types shrunk losslessly by `mem-optimize`, under one output schema
//! for the whole stream that only ever widens, and says so when it does.
//!
//! ```
//! use mem_stream::{MIB, StreamingLoader};
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("people.csv");
//! # std::fs::write(&path, "id,name,score\n1,ann,2.5\n2,\"bob, jr\",3\n3,cy,\n")?;
//! let loader = StreamingLoader::builder().chunk_size(2).memory_limit(1000 * MIB).build()?;
//! let mut rows = 0;
//! for chunk in loader.stream(&path)? {
//!     let (batch, meta) = chunk?;
//!     rows += batch.num_rows();
//!     assert!(meta.progress <= 1.0);
//! }
//! assert_eq!(rows, 3);
//!
//! // A preview reads only what it needs.
//! let (head, _) = loader.sample(&path, 2)?;
//! assert_eq!(head.num_rows(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Memory: a stream stays under its memory limit plus a fixed [`BASELINE_MB`], or ends with
//! [`StreamError::OverBudget`] naming what would not fit (a record, a batch, the columns).
//! Chunks are cut at the chunk size in rows or at a share of the limit in bytes, whichever comes
//! first. Malformed files end with an error, never a panic: third-party decoders run under
//! `catch_unwind` (see [`panic_is_contained`]).
//!
//! Formats come from the extension and are checked against the file's magic bytes: `.csv`,
//! `.tsv` (and `.gz` of either), `.parquet`, `.arrow`/`.feather`/`.ipc` (IPC file or stream),
//! `.arrows` (IPC stream), `.xlsx`/`.xlsm`/`.xlsb`/`.xls`/`.ods`; or they are forced with
//! [`StreamingLoaderBuilder::format`]. CSV is split into blocks at record boundaries (aware of
//! quotes, escapes and comments) and parsed on all cores; [`CsvOptions`] covers real-world files
//! (null markers, Latin-1, comments), and a value that does not parse is a typed
//! [`StreamError::CsvValue`] naming its line and column.
//!
//! Pressure: the chunk size follows one pressure policy, a
//! [`PressureSource`](mem_monitor::PressureSource) given to
//! [`StreamingLoaderBuilder::pressure`] (the application's `MemoryMonitor`, or a
//! `FixedPressure`); every reader follows the current chunk size.
//!
//! Beyond files: [`StreamingLoader::stream_reader`] streams any `Read` (CSV/TSV, gzip too, and
//! Arrow IPC streams), and [`ChunkStream::into_reader`] gives an arrow `RecordBatchReader`.
#![cfg_attr(docsrs, feature(doc_cfg))]
// With some readers compiled out, their shared plumbing is partly unused: not worth a cfg each.
#![cfg_attr(
    not(all(
        feature = "csv",
        feature = "parquet",
        feature = "ipc",
        feature = "excel"
    )),
    allow(dead_code, unreachable_code, unused_imports, unused_variables)
)]
#![deny(missing_docs)]

mod budget;
mod chunks;
mod error;
mod format;
mod guard;
mod loader;
mod options;
mod reader;
mod source;
#[cfg(feature = "testdata")]
pub mod testdata;

pub use budget::{BASELINE_MB, MAX_CHUNK_BYTES};
pub use chunks::{ChunkMetadata, ChunkStream};
pub use error::{Result, StreamError};
pub use format::{FileFormat, ParseFormatError, detect_format};
pub use guard::panic_is_contained;
pub use loader::{
    DEFAULT_CHUNK_SIZE, DEFAULT_MEMORY_LIMIT, StreamingLoader, StreamingLoaderBuilder,
};
/// Byte-size units (re-exported from `mem-monitor`): sizes in this crate's APIs are bytes.
pub use mem_monitor::{GIB, KIB, MIB};
pub use options::{CsvOptions, Encoding, parse_data_type};
pub use reader::ChunkReader;
