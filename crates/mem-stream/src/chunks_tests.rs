//! Tests of the chunker: slicing, byte cuts, adapting to pressure.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array};

use super::*;

struct Fake {
    left: usize,
}

impl BatchSource for Fake {
    fn schema(&self) -> SchemaRef {
        batch(1).schema()
    }
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.left == 0 {
            return None;
        }
        let n = self.left.min(1000);
        self.left -= n;
        Some(Ok(batch(n)))
    }
    fn bytes_read(&self) -> u64 {
        0
    }
    fn total_bytes(&self) -> u64 {
        0
    }
}

fn batch(n: usize) -> RecordBatch {
    let a: ArrayRef = Arc::new(Int32Array::from_iter_values(0..i32::try_from(n).unwrap()));
    RecordBatch::try_from_iter([("a", a)]).unwrap()
}

fn stream(rows: usize, limit: u64, chunk: usize) -> (ChunkStream, Arc<AtomicUsize>) {
    let target = Arc::new(AtomicUsize::new(chunk));
    let cfg = ChunkerConfig {
        chunk_size: chunk,
        min_chunk_size: 100,
        budget: Budget::new(limit),
        adapt: true,
        pressure: Arc::new(mem_monitor::FixedPressure::default()),
        optimizer: None,
        limit: None,
    };
    (
        ChunkStream::new(
            Path::new("fake"),
            Box::new(Fake { left: rows }),
            target.clone(),
            cfg,
        ),
        target,
    )
}

#[test]
fn halves_to_the_floor_then_grows_back() {
    let (mut s, target) = stream(0, 1 << 30, 1000);
    let sizes: Vec<usize> = (0..6)
        .map(|_| {
            s.adapt(1000, 2 << 30, PressureLevel::Low);
            target.load(Ordering::Relaxed)
        })
        .collect();
    assert_eq!(sizes, vec![500, 250, 125, 100, 100, 100]);
    s.adapt(10, 0, PressureLevel::High);
    assert_eq!(target.load(Ordering::Relaxed), 100);
    // Medium holds the size: no growth however comfortable the chunks are.
    for _ in 0..16 {
        s.adapt(10, 0, PressureLevel::Medium);
    }
    assert_eq!(target.load(Ordering::Relaxed), 100);
    let mut grown = Vec::new();
    for _ in 0..16 {
        s.adapt(10, 0, PressureLevel::Low);
        grown.push(target.load(Ordering::Relaxed));
    }
    assert_eq!(grown[3], 200);
    assert_eq!(*grown.last().unwrap(), 1000);
    assert!(grown.iter().all(|&g| g <= 1000));
}

/// One batch of `rows` strings of 64 KiB each.
struct Wide {
    rows: usize,
}

impl BatchSource for Wide {
    fn schema(&self) -> SchemaRef {
        self.batch().schema()
    }
    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        let b = self.batch();
        self.rows = 0;
        (b.num_rows() > 0).then_some(Ok(b))
    }
    fn bytes_read(&self) -> u64 {
        0
    }
    fn total_bytes(&self) -> u64 {
        0
    }
}

impl Wide {
    fn batch(&self) -> RecordBatch {
        let text = "x".repeat(64 << 10);
        let a: ArrayRef = Arc::new(arrow::array::StringArray::from_iter_values(
            std::iter::repeat_n(text.as_str(), self.rows),
        ));
        RecordBatch::try_from_iter([("s", a)]).unwrap()
    }
}

#[test]
fn cuts_chunks_at_the_byte_target_too() {
    let target = Arc::new(AtomicUsize::new(1000));
    let cfg = ChunkerConfig {
        chunk_size: 1000,
        min_chunk_size: 100,
        // A sixteenth of 16 MiB: chunks of 1 MiB, 16 rows of 64 KiB.
        budget: Budget::new(16 << 20),
        adapt: false,
        pressure: Arc::new(mem_monitor::FixedPressure::default()),
        optimizer: None,
        limit: None,
    };
    let s = ChunkStream::new(Path::new("wide"), Box::new(Wide { rows: 100 }), target, cfg);
    let sizes: Vec<usize> = s.map(|i| i.unwrap().0.num_rows()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 100);
    // At most 16 rows of text, fewer as the array's allocation rounds up.
    assert!(sizes.iter().all(|&n| n <= 16), "{sizes:?}");
    assert!(sizes.len() >= 7, "{sizes:?}");
}

#[test]
fn slices_source_batches_to_the_target_and_counts_rows() {
    let (mut s, _target) = stream(2500, u64::MAX, 300);
    let mut starts = Vec::new();
    let mut total = 0;
    for item in s.by_ref() {
        let (b, m) = item.unwrap();
        assert!(b.num_rows() <= 300);
        assert_eq!(m.start_row, total as u64);
        starts.push(m.start_row);
        total += b.num_rows();
    }
    assert_eq!(total, 2500);
    assert!(s.next().is_none());
}
