//! Buffer accounting against batches read back from Arrow IPC and sliced.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use mem_optimize::{array_memory_size, arrays_memory_size, batch_memory_size};

#[test]
fn slices_of_one_batch_are_counted_once() {
    let rows = 50_000;
    let batch = RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(Int64Array::from_iter_values(0..rows)) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("v{i}")),
            )) as _,
        ),
    ])
    .unwrap();
    let whole = batch_memory_size(&batch);
    assert!(whole >= 8 * rows as usize);
    let slices: Vec<RecordBatch> = (0..10).map(|i| batch.slice(i * 5_000, 5_000)).collect();
    let all_columns: Vec<&dyn arrow::array::Array> = slices
        .iter()
        .flat_map(|b| b.columns().iter().map(|c| c.as_ref()))
        .collect();
    assert_eq!(arrays_memory_size(all_columns), whole);
    let naive: usize = slices.iter().map(|b| b.get_array_memory_size()).sum();
    assert!(
        naive >= 9 * whole,
        "get_array_memory_size counts each slice: {naive} vs {whole}"
    );
}

#[test]
fn ipc_batches_are_counted() {
    let batch = RecordBatch::try_from_iter([
        (
            "n",
            Arc::new(Int64Array::from_iter_values(0..1000)) as ArrayRef,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter(
                (0..1000).map(|i| (i % 3 != 0).then(|| format!("x{i}"))),
            )) as _,
        ),
    ])
    .unwrap();
    let mut bytes = Vec::new();
    {
        let mut w = FileWriter::try_new(&mut bytes, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }
    let read: Vec<RecordBatch> = FileReader::try_new(Cursor::new(bytes), None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let size = batch_memory_size(&read[0]);
    // Values (8,000) + offsets (4,004) + string bytes + validity.
    assert!(size >= 8_000 + 4_004, "{size}");
    assert!(size <= batch_memory_size(&batch) * 4, "{size}");
    assert!(array_memory_size(read[0].column(0).as_ref()) >= 8_000);
}
