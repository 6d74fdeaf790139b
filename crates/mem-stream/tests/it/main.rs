//! Integration tests of mem-stream on real files.

mod csv;
mod csv_memory;
mod csv_options;
mod csv_split;
mod formats;
mod fuzz;
mod hostile;
mod ods;
mod pressure;
mod reader;

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use mem_stream::{StreamingLoader, StreamingLoaderBuilder};

/// Streams a file to completion, returning the batches (conformed to the final schema).
pub fn stream_all(loader: &StreamingLoader, path: &Path) -> mem_stream::Result<Vec<RecordBatch>> {
    let mut stream = loader.stream(path)?;
    let mut out = Vec::new();
    for item in stream.by_ref() {
        out.push(item?.0);
    }
    out.iter().map(|b| stream.conform(b)).collect()
}

/// A loader without optimisation, so tests see the types as read.
pub fn plain() -> StreamingLoaderBuilder {
    StreamingLoader::builder().optimize(false)
}

/// Writes `text` to `name` in `dir`.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Total rows of a list of batches.
pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
