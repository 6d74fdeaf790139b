//! The application's pipeline on membound: configuration from the environment, a manager that
//! reacts to pressure, a table streamed in chunks, and embeddings cached with their texts.
//!
//! Run with `cargo run -p membound --example pipeline`.
#![expect(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use membound::prelude::*;
use membound::service::{ModelInfo, cache_key_for, data_hash_for};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let manager = MemoryManager::builder(config.clone()).build()?;

    // A table to stream (in a real application: the user's file).
    let dir = std::env::temp_dir().join(format!("membound-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let csv = dir.join("documents.csv");
    let mut text = String::from("id,topic,text\n");
    for i in 0..25_000 {
        text.push_str(&format!(
            "{i},{},\"document {i}, about topic {}\"\n",
            i % 12,
            i % 12
        ));
    }
    std::fs::write(&csv, text)?;

    // The stream follows the manager's level: its chunks shrink under pressure.
    let loader = manager.streaming_loader().build()?;
    let mut texts = Vec::new();
    for chunk in loader.stream(&csv)? {
        let (batch, meta) = chunk?;
        println!(
            "chunk {}: {} rows, {} bytes, {:.0} % read",
            meta.index,
            meta.rows,
            meta.bytes,
            meta.progress * 100.0
        );
        let column = arrow::compute::cast(batch.column(2), &arrow::datatypes::DataType::Utf8)?;
        let strings = column
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or("text column")?;
        texts.extend(strings.iter().take(2).flatten().map(str::to_owned));
    }

    // "Embeddings" of the first texts (a real application calls its model here).
    let dim = 8;
    let values: Vec<f32> = (0..texts.len() * dim)
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    let embeddings = Embeddings::new(values, texts.len(), dim)?;
    let service = Arc::new(config.cache_service(dir.join("cache")).build()?);
    let model = ModelInfo::new("example-model");
    let key = cache_key_for(&texts, &model);
    service.save_embeddings_compressed(
        &key,
        &embeddings,
        &texts,
        &model,
        &data_hash_for(&texts),
    )?;
    let (back, back_texts) = service
        .get_cached_embeddings_fast(&key)?
        .ok_or("a cache hit")?;
    assert_eq!(back.as_slice(), embeddings.as_slice());
    assert_eq!(back_texts, texts);

    let stats = memory_stats()?;
    println!(
        "{:.1} MB resident, level {}, manager actions {:?}",
        stats.process_mb(),
        manager.level(),
        manager.stats().actions
    );
    manager.stop();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
