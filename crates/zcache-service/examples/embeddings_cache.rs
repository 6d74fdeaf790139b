//! Saves an embedding matrix at each precision and prints size, fidelity, recall and timings.
//!
//! ```text
//! cargo run --release -p zcache-service --example embeddings_cache -- [MATRIX.npy [TEXTS.jsonl]]
//! ```
//! Without arguments it uses a small synthetic matrix (random unit vectors), so it runs anywhere.
#![allow(clippy::print_stdout, reason = "an example prints its results")]

use std::time::Instant;

use zcache_service::{
    CacheService, Embeddings, ModelInfo, Precision, cache_key_for, data_hash_for, read_npy,
    read_texts_jsonl, recall_at_k,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let embeddings = match args.first() {
        Some(path) => read_npy(path)?,
        None => Embeddings::synthetic_unit(1000, 384, 7)?,
    };
    let texts: Vec<String> = match args.get(1) {
        Some(path) => read_texts_jsonl(path)?,
        None => (0..embeddings.rows())
            .map(|i| format!("passage number {i}"))
            .collect(),
    };
    let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    let key = cache_key_for(&texts, &model);
    let data_hash = data_hash_for(&texts);
    let queries: Vec<usize> = (0..embeddings.rows())
        .step_by((embeddings.rows() / 200).max(1))
        .collect();
    println!(
        "{} x {} ({} raw bytes), key {key}",
        embeddings.rows(),
        embeddings.dim(),
        embeddings.raw_bytes()
    );
    println!(
        "{:>5} {:>8} {:>12} {:>12} {:>10} {:>9} {:>9} {:>9}",
        "prec", "ratio", "min cos", "mean cos", "recall@10", "save ms", "hot ms", "disk ms"
    );
    for precision in Precision::ALL {
        let dir = tempfile::tempdir()?;
        let service = CacheService::builder()
            .cache_dir(dir.path())
            .precision(precision)
            .build()?;
        let t = Instant::now();
        let report =
            service.save_embeddings(&key, &embeddings, &texts, &model, &data_hash, precision)?;
        let save_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let (back, back_texts) = service
            .get_cached_embeddings_fast(&key)?
            .ok_or("miss after save")?;
        let hot_ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(back_texts, texts);
        drop(service);
        let reopened = CacheService::builder()
            .cache_dir(dir.path())
            .hot_tier(0)
            .build()?;
        let t = Instant::now();
        let from_disk = reopened
            .get_cached_embeddings_fast(&key)?
            .ok_or("miss after reopen")?;
        let disk_ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(from_disk.0, back);
        let recall = recall_at_k(embeddings.view(), back.view(), 10, &queries)?;
        println!(
            "{:>5} {:>8.4} {:>12.7} {:>12.7} {:>10.4} {:>9.1} {:>9.2} {:>9.2}",
            precision.as_str(),
            report.matrix_ratio,
            report.fidelity.min_cosine,
            report.fidelity.mean_cosine,
            recall,
            save_ms,
            hot_ms,
            disk_ms
        );
    }
    Ok(())
}
