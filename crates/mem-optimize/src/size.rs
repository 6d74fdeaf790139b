//! Memory held by Arrow arrays, counting each buffer allocation once.
//!
//! `Array::get_array_memory_size` adds up every buffer it meets, so ten slices of one batch
//! report ten times the memory really held. Here each allocation is identified by the start
//! of its underlying allocation (`Buffer::data_ptr`) and counted once, at its capacity.

use std::collections::HashSet;

use arrow::array::{Array, ArrayData, RecordBatch};
use arrow::buffer::Buffer;

/// Bytes held by `batch`: every distinct buffer allocation behind its columns, counted once.
///
/// Slices that share a buffer (e.g. several batches sliced from one) are not double counted
/// within the batch; nested (list, struct, map, union) and dictionary arrays are walked
/// through their children.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int64Array, RecordBatch};
/// use mem_optimize::batch_memory_size;
///
/// let col = Arc::new(Int64Array::from_iter_values(0..1000));
/// let batch = RecordBatch::try_from_iter([("a", col.clone() as _), ("b", col as _)])?;
/// // Both columns share one 8,000-byte buffer (capacity rounded to 64 bytes).
/// assert!(batch_memory_size(&batch) < 8_100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn batch_memory_size(batch: &RecordBatch) -> usize {
    let mut seen = HashSet::new();
    batch
        .columns()
        .iter()
        .map(|c| data_size(&c.to_data(), &mut seen))
        .sum()
}

/// Bytes held by `array`: every distinct buffer allocation behind it, counted once.
///
/// A slice reports the whole allocation it keeps alive, which is what the process holds.
#[must_use]
pub fn array_memory_size(array: &dyn Array) -> usize {
    let mut seen = HashSet::new();
    data_size(&array.to_data(), &mut seen)
}

/// Bytes held by all `arrays` together, each allocation counted once across all of them.
#[must_use]
pub fn arrays_memory_size<'a>(arrays: impl IntoIterator<Item = &'a dyn Array>) -> usize {
    let mut seen = HashSet::new();
    arrays
        .into_iter()
        .map(|a| data_size(&a.to_data(), &mut seen))
        .sum()
}

fn data_size(data: &ArrayData, seen: &mut HashSet<usize>) -> usize {
    let mut total = 0;
    for buffer in data.buffers() {
        total += buffer_size(buffer, seen);
    }
    if let Some(nulls) = data.nulls() {
        total += buffer_size(nulls.buffer(), seen);
    }
    for child in data.child_data() {
        total += data_size(child, seen);
    }
    total
}

fn buffer_size(buffer: &Buffer, seen: &mut HashSet<usize>) -> usize {
    let size = match buffer.capacity() {
        // Externally owned memory (FFI, mmap) reports no capacity; what this buffer reaches
        // is the best lower bound.
        0 => buffer.ptr_offset() + buffer.len(),
        cap => cap,
    };
    if size == 0 {
        return 0;
    }
    // `data_ptr` is the start of the allocation, the same for every slice of it.
    let key = buffer.data_ptr().as_ptr() as usize;
    if seen.insert(key) { size } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{DictionaryArray, Int32Array, ListArray, StringArray};
    use arrow::datatypes::{Int8Type, Int32Type};

    #[test]
    fn slices_share_buffers() {
        let a = Int32Array::from_iter_values(0..10_000);
        let full = array_memory_size(&a);
        assert!(full >= 40_000);
        let s1 = a.slice(0, 5_000);
        let s2 = a.slice(5_000, 5_000);
        // Each slice holds the whole allocation...
        assert_eq!(array_memory_size(&s1), full);
        // ...but together they hold it once, where get_array_memory_size says twice.
        assert_eq!(arrays_memory_size([&s1 as &dyn Array, &s2]), full);
        let naive = s1.get_array_memory_size() + s2.get_array_memory_size();
        assert!(naive > full);
        let batch =
            RecordBatch::try_from_iter([("x", Arc::new(s1) as _), ("y", Arc::new(s2) as _)])
                .unwrap();
        assert_eq!(batch_memory_size(&batch), full);
    }

    #[test]
    fn counts_nulls_children_and_dictionaries() {
        let s = StringArray::from(vec![Some("a"), None, Some("ccc")]);
        let plain = array_memory_size(&s);
        assert!(plain > 0);
        let d: DictionaryArray<Int8Type> = vec!["a", "b", "a"].into_iter().collect();
        assert!(array_memory_size(&d) >= array_memory_size(d.values().as_ref()));
        let l = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
        ]);
        assert!(array_memory_size(&l) > array_memory_size(l.values().as_ref()));
    }
}
