//! One adapter for the readers that decode a batch at a time (Parquet, Arrow IPC file, stream and
//! big-endian file): it reads the current target rows before each batch, counts rows, ends after
//! the end or an error, and reports progress, so each reader only says how to decode one batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::BatchSource;
use crate::error::Result;

/// A reader that decodes one batch per call.
pub(crate) trait Decode: Send {
    /// Schema of the batches (after projection).
    fn schema(&self) -> SchemaRef;

    /// Decodes the next batch, `Ok(None)` at the end. `target` is the chunker's current target
    /// rows: a reader that can decode smaller batches (Parquet) decodes at most that many; one
    /// whose batches are fixed by the file (Arrow IPC messages) decodes them whole and the
    /// chunker slices them, zero-copy.
    fn decode(&mut self, target: usize) -> Result<Option<RecordBatch>>;

    /// Source bytes consumed so far, given the rows delivered so far (before the end).
    fn position(&self, rows: u64) -> u64;

    /// The source's size in bytes; 0 when unknown (a pipe).
    fn total(&self) -> u64;
}

/// A [`BatchSource`] over a [`Decode`].
pub(crate) struct Batches<D> {
    inner: D,
    target: Arc<AtomicUsize>,
    rows: u64,
    done: bool,
}

impl<D: Decode> Batches<D> {
    /// Adapts `inner`, which decodes batches of up to the rows in `target` where it can.
    pub(crate) fn new(inner: D, target: Arc<AtomicUsize>) -> Self {
        Self {
            inner,
            target,
            rows: 0,
            done: false,
        }
    }
}

impl<D: Decode> BatchSource for Batches<D> {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let target = self.target.load(Ordering::Relaxed).max(1);
        match self.inner.decode(target) {
            Ok(Some(batch)) => {
                self.rows += batch.num_rows() as u64;
                Some(Ok(batch))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        let total = self.inner.total();
        let position = self.inner.position(self.rows);
        match (total, self.done) {
            // The size of a pipe is unknown: what was read of it.
            (0, _) => position,
            (_, true) => total,
            (_, false) => position.min(total),
        }
    }

    fn total_bytes(&self) -> u64 {
        self.inner.total()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, Int32Array};

    use super::*;
    use crate::error::StreamError;

    /// Batches of `target` rows until `rows` are out, then an error if `fail`.
    struct Counting {
        left: usize,
        fail: bool,
        calls: usize,
    }

    fn batch(n: usize) -> RecordBatch {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![0; n]));
        RecordBatch::try_from_iter([("a", a)]).unwrap()
    }

    impl Decode for Counting {
        fn schema(&self) -> SchemaRef {
            batch(0).schema()
        }
        fn decode(&mut self, target: usize) -> Result<Option<RecordBatch>> {
            self.calls += 1;
            if self.left == 0 {
                return if self.fail {
                    Err(StreamError::malformed(
                        std::path::Path::new("x"),
                        None,
                        "bad",
                    ))
                } else {
                    Ok(None)
                };
            }
            let n = self.left.min(target);
            self.left -= n;
            Ok(Some(batch(n)))
        }
        fn position(&self, rows: u64) -> u64 {
            rows
        }
        fn total(&self) -> u64 {
            10
        }
    }

    #[test]
    fn follows_the_target_and_stops_after_an_error() {
        let target = Arc::new(AtomicUsize::new(4));
        let mut b = Batches::new(
            Counting {
                left: 10,
                fail: true,
                calls: 0,
            },
            target.clone(),
        );
        assert_eq!(b.next_batch().unwrap().unwrap().num_rows(), 4);
        assert_eq!(b.bytes_read(), 4);
        target.store(1, Ordering::Relaxed);
        assert_eq!(b.next_batch().unwrap().unwrap().num_rows(), 1);
        target.store(100, Ordering::Relaxed);
        assert_eq!(b.next_batch().unwrap().unwrap().num_rows(), 5);
        assert!(b.next_batch().unwrap().is_err());
        assert!(b.next_batch().is_none());
        assert_eq!(b.inner.calls, 4, "no call after the error");
        assert_eq!(b.bytes_read(), 10);
    }
}
