//! Puts text, an embedding matrix and a serde value into a two-tier cache, reads them back,
//! and prints the stats. Pass a directory to keep the disk tier (then inspect it with
//! `membound cache stats --dir DIR`); by default a temporary directory is used.
#![allow(clippy::print_stdout, reason = "an example prints what it did")]

use std::time::Duration;

use zcache::{CompressedCache, DiskPolicy, Json, PutOptions};

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct ModelInfo {
    name: String,
    dimensions: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), std::path::PathBuf::from);
    let cache = CompressedCache::builder()
        .max_memory(32 << 20)
        .enable_disk_cache(&dir)
        .max_disk(256 << 20)
        .disk_policy(DiskPolicy::WriteThrough)
        .default_ttl(Duration::from_secs(24 * 3600))
        .build()?;

    // Text: Auto picks lz4.
    let doc =
        "Caches trade memory for time; compressed caches trade a little time back for memory. "
            .repeat(100);
    let r = cache.put_str("doc", &doc)?;
    println!(
        "text:      {} -> {} bytes with {}",
        r.raw_bytes, r.stored_bytes, r.codec
    );

    // A 1000 x 384 float32 matrix: Auto picks the byte shuffle.
    let matrix: Vec<f32> = (0..1000 * 384)
        .map(|i| ((i as f32) * 0.013).sin() * 0.05)
        .collect();
    let r = cache.put_slice("embeddings", &matrix)?;
    println!(
        "floats:    {} -> {} bytes with {}",
        r.raw_bytes, r.stored_bytes, r.codec
    );

    // Any serde type, with its own TTL.
    let info = ModelInfo {
        name: "all-MiniLM-L6-v2".into(),
        dimensions: 384,
    };
    cache.put_json_with(
        "model",
        &info,
        PutOptions::new().ttl(Duration::from_secs(60)),
    )?;
    cache.put(
        "tags",
        &Json(vec!["search".to_owned(), "topics".to_owned()]),
    )?;

    assert_eq!(cache.get_string("doc")?.as_deref(), Some(doc.as_str()));
    assert_eq!(
        cache.get_vec::<f32>("embeddings")?.as_deref(),
        Some(&matrix[..])
    );
    assert_eq!(cache.get_json::<ModelInfo>("model")?, Some(info));
    assert_eq!(
        cache.get::<Json<Vec<String>>>("tags")?.map(|t| t.len()),
        Some(2)
    );
    // Reading a value as another kind is an error, never garbage.
    assert!(cache.get_string("embeddings").is_err());

    let s = cache.get_stats();
    println!(
        "stats:     {} entries in memory, {} on disk, ratio {:.3}, saved {:.2} MB, hit rate {:.0} %",
        s.memory_entries,
        s.disk_entries,
        s.compression_ratio,
        s.compression_savings_mb,
        s.hit_rate * 100.0
    );
    println!("disk tier: {}", dir.display());
    Ok(())
}
