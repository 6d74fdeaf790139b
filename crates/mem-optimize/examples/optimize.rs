//! Shrinks a table, streams chunks to one schema, caches with an LRU bound, releases memory.
//!
//! `cargo run -p mem-optimize --example optimize`
#![expect(clippy::print_stdout, reason = "an example prints its results")]

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use mem_optimize::{
    ArrayTarget, LruCache, NumericType, OptimizeOptions, StreamOptimizer, optimize_array,
    optimize_batch, register_purge_hook, release_memory,
};

fn table(start: i64, rows: i64, categories: i64) -> Result<RecordBatch, arrow::error::ArrowError> {
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from_iter_values(start..start + rows)) as ArrayRef,
        ),
        (
            "qty",
            Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i % 50))) as _,
        ),
        (
            "price",
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| (i % 400) as f64 * 0.5),
            )) as _,
        ),
        (
            "category",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("cat-{}", i % categories)),
            )) as _,
        ),
        (
            "note",
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("free text {i}")),
            )) as _,
        ),
    ])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. One batch.
    let batch = table(0, 100_000, 12)?;
    let (_small, report) = optimize_batch(&batch, &OptimizeOptions::default())?;
    println!("optimize_batch:\n{report}\n");

    // 2. A stream: the first chunk decides, later chunks widen and say so.
    let mut stream = StreamOptimizer::new(OptimizeOptions::default());
    let mut outputs = Vec::new();
    for chunk in [
        table(0, 1_000, 12)?,
        table(1_000, 1_000, 200)?,
        table(100_000, 1_000, 12)?,
    ] {
        let (out, _) = stream.push(&chunk)?;
        for w in stream.last_widenings() {
            println!("{w}");
        }
        outputs.push(out);
    }
    let conformed = outputs
        .iter()
        .map(|b| stream.conform(b))
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "final schema: {:?}\n",
        conformed[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().to_string())
            .collect::<Vec<_>>()
    );

    // 3. Numeric arrays, like optimize_numpy_array.
    let readings: Vec<f64> = (0..1_000).map(|i| f64::from(i) / 10.0).collect();
    let lossless = optimize_array(&readings, ArrayTarget::Narrowest)?;
    let f32s = optimize_array(&readings, ArrayTarget::Lossy(NumericType::F32))?;
    println!(
        "array: narrowest lossless {:?}, asked for f32: {:?}\n",
        lossless.numeric_type(),
        f32s.numeric_type()
    );

    // 4. A byte-bounded LRU cache that release_memory can purge.
    let cache: Arc<LruCache<String, Arc<Vec<u8>>>> = Arc::new(
        LruCache::builder()
            .name("example")
            .max_bytes(8 << 20)
            .weigher(|_k, v: &Arc<Vec<u8>>| v.len())
            .on_evict(|k: &String, _v, cause| println!("  {k} left the cache: {cause:?}"))
            .build()?,
    );
    for i in 0..10 {
        cache.put(format!("blob-{i}"), Arc::new(vec![0u8; 1 << 20]));
    }
    println!("cache: {:?}", cache.stats());
    let _handle = register_purge_hook(&cache);
    let released = release_memory();
    println!("release_memory: {}", serde_json::to_string(&released)?);
    Ok(())
}
