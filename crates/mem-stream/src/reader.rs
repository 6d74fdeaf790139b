//! [`ChunkReader`]: a [`ChunkStream`] as an arrow [`RecordBatchReader`].

use arrow::array::RecordBatchReader;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::chunks::{ChunkMetadata, ChunkStream};
use crate::error::{Result, StreamError};

/// A [`ChunkStream`] as an arrow [`RecordBatchReader`], for code that takes one (writers,
/// query engines, FFI); see [`ChunkStream::into_reader`].
///
/// A `RecordBatchReader` states its schema before the first batch and keeps it, while a
/// stream's shrunk types may still widen at a later chunk. So the reader yields the file's own
/// types ([`ChunkStream::source_schema`]; type shrinking is off for it) and conforms every batch
/// to that schema. Errors come as [`ArrowError::ExternalError`] holding the [`StreamError`];
/// after one the reader ends. The metadata of the last batch stays available.
pub struct ChunkReader {
    stream: ChunkStream,
    schema: SchemaRef,
    last: Option<ChunkMetadata>,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader")
            .field("stream", &self.stream)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl ChunkReader {
    pub(crate) fn new(mut stream: ChunkStream) -> Self {
        stream.stop_optimizing();
        let schema = stream.source_schema();
        Self {
            stream,
            schema,
            last: None,
        }
    }

    /// The metadata of the last batch returned (rows, bytes, progress, RSS, chunk size).
    #[must_use]
    pub fn last_metadata(&self) -> Option<&ChunkMetadata> {
        self.last.as_ref()
    }

    /// The stream inside, e.g. for its [`peak_rss_bytes`](ChunkStream::peak_rss_bytes).
    #[must_use]
    pub fn stream(&self) -> &ChunkStream {
        &self.stream
    }

    /// `batch` in the reader's schema: the same columns, cast where a type differs.
    fn conform(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if batch.schema() == self.schema {
            return Ok(batch);
        }
        let path = self.stream.path();
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c.clone())
                } else {
                    arrow::compute::cast(c, f.data_type())
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                StreamError::arrow(path, "conforming a batch to the reader's schema", e)
            })?;
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| StreamError::arrow(path, "conforming a batch to the reader's schema", e))
    }
}

impl Iterator for ChunkReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.stream.next()?;
        Some(
            item.and_then(|(batch, meta)| {
                self.last = Some(meta);
                self.conform(batch)
            })
            .map_err(|e| ArrowError::ExternalError(Box::new(e))),
        )
    }
}

impl std::iter::FusedIterator for ChunkReader {}

impl RecordBatchReader for ChunkReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}

    #[test]
    fn reader_is_send() {
        assert_send::<super::ChunkReader>();
    }
}
