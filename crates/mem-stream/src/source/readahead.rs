//! Runs a reader on its own thread, one batch ahead of the consumer, so decoding overlaps with
//! whatever the consumer does with the previous batch. The channel holds one batch: memory stays
//! bounded to the batch being decoded, the one waiting, and the one being consumed.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, bounded};

use super::BatchSource;
use crate::error::{Result, StreamError};

/// A [`BatchSource`] decoded on a background thread.
pub(crate) struct ReadAhead {
    schema: SchemaRef,
    rx: Receiver<(Option<Result<RecordBatch>>, u64)>,
    delivered: u64,
    total: u64,
    done: bool,
    path: std::path::PathBuf,
}

impl ReadAhead {
    pub(crate) fn spawn(mut inner: Box<dyn BatchSource>, path: &std::path::Path) -> Result<Self> {
        let (tx, rx) = bounded(1);
        let schema = inner.schema();
        let total = inner.total_bytes();
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("mem-stream-readahead".to_owned())
            .spawn(move || {
                loop {
                    // A decoder that panics on hostile input must not end the stream silently.
                    let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        inner.next_batch()
                    }))
                    .unwrap_or_else(|_| {
                        Some(Err(StreamError::malformed(
                            &thread_path,
                            None,
                            "the decoder crashed on this file",
                        )))
                    });
                    let done = next.is_none();
                    let failed = next.as_ref().is_some_and(Result::is_err);
                    if tx.send((next, inner.bytes_read())).is_err() || done || failed {
                        return;
                    }
                }
            })
            .map_err(|e| StreamError::io(path, "cannot start the read-ahead thread", e))?;
        Ok(Self {
            schema,
            rx,
            delivered: 0,
            total,
            done: false,
            path: path.to_path_buf(),
        })
    }
}

impl BatchSource for ReadAhead {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        match self.rx.recv() {
            Ok((Some(item), offset)) => {
                self.delivered = offset;
                Some(item)
            }
            Ok((None, _)) => {
                self.done = true;
                None
            }
            Err(_) => {
                self.done = true;
                Some(Err(StreamError::malformed(
                    &self.path,
                    None,
                    "the reader thread stopped unexpectedly",
                )))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        if self.done {
            self.total
        } else {
            self.delivered.min(self.total)
        }
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead")
            .field("path", &self.path)
            .field("delivered", &self.delivered.to_string())
            .finish()
    }
}
