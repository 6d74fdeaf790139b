//! Memory scenarios: `release_memory` after freeing many blocks, time to flag a leak, and a
//! whole pipeline run under the manager.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use mem_monitor::{MIB, memory_stats};
use mem_profile::{LeakConfig, detect_leak};
use serde_json::json;

use super::arg;

/// Allocates `--mb` MiB in 64 KiB blocks (below glibc's mmap threshold, so they live in the
/// heap), touches them, frees all but every 64th (a long-lived survivor pins the heap, as in a
/// real program, so glibc cannot shrink it from the top), then times `release_memory`.
pub fn cleanup(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let mb: usize = arg(args, "--mb")?.parse()?;
    let block = 64 * 1024;
    let mut blocks: Vec<Vec<u8>> = (0..mb * 16)
        .map(|i| vec![(i % 251) as u8 + 1; block])
        .collect();
    black_box(&mut blocks);
    let held = memory_stats()?.process_rss_bytes;
    let survivors: Vec<Vec<u8>> = blocks
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 64 == 63)
        .map(|(_, b)| b)
        .collect();
    let report = mem_optimize::release_memory();
    black_box(&survivors);
    Ok(json!({
        "survivors_mb": (survivors.len() * block) as f64 / MIB as f64,
        "rss_held_mb": held as f64 / MIB as f64,
        "rss_before_mb": report.rss_before as f64 / MIB as f64,
        "rss_after_mb": report.rss_after as f64 / MIB as f64,
        "released_mb": report.rss_released() as f64 / MIB as f64,
        "elapsed_s": report.elapsed.as_secs_f64(),
        "trimmed": report.trimmed,
    }))
}

/// Leaks 1 MiB every 10 ms while sampling RSS every 20 ms, and measures how long the trend fit
/// takes to flag it; the profiler session over the same run gives the verdict and rate.
pub fn leak(_args: &[String]) -> anyhow::Result<serde_json::Value> {
    let profiler = mem_profile::MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(20))
        .build()?;
    profiler.start_profiling("leak")?;
    let config = LeakConfig::default();
    let start = Instant::now();
    let (mut t, mut y) = (Vec::new(), Vec::new());
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let mut flagged = None;
    let mut next_sample = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(10) {
        kept.push(vec![1u8; MIB as usize]);
        if start.elapsed() >= next_sample {
            next_sample += Duration::from_millis(20);
            t.push(start.elapsed().as_secs_f64());
            y.push(memory_stats()?.process_mb());
            let analysis = detect_leak(&t, &y, &config);
            if analysis.leak_detected {
                flagged = Some((start.elapsed().as_secs_f64(), analysis.rate_mb_per_hour));
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let result = profiler.stop_profiling("leak")?;
    black_box(&kept);
    let (time_to_flag_s, rate) = flagged.context("the leak was not flagged within 10 s")?;
    Ok(json!({
        "time_to_flag_s": time_to_flag_s,
        "rate_mb_per_hour": rate,
        "true_rate_mb_per_hour": kept.len() as f64 / start.elapsed().as_secs_f64() * 3600.0,
        "session_leak_detected": result.memory_leak_detected,
        "session_rate_mb_per_hour": result.leak_rate_mb_per_hour,
    }))
}

/// The application's pipeline under the manager: stream the table (lossless optimisation),
/// keep the text column's lengths, save and fetch the embeddings with their texts, release
/// memory at the end. The parent reads this process's peak RSS.
pub fn pipeline(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let csv = Path::new(arg(args, "--path")?);
    let emb_dir = Path::new(arg(args, "--embeddings")?);
    let work = Path::new(arg(args, "--work")?);
    let start = Instant::now();
    let config = membound::Config::default();
    let manager = membound::MemoryManager::builder(config.clone()).build()?;
    let loader = config
        .streaming_loader()
        .chunk_size(manager.advice().streaming_chunk_size)
        .build()?;
    let mut rows = 0usize;
    for chunk in loader.stream(csv)? {
        let (batch, _) = chunk?;
        rows += batch.num_rows();
    }
    let service = config.cache_service(work).build()?;
    let emb = zcache_service::read_npy(emb_dir.join("minilm-5k.npy"))?;
    let texts = super::cache::read_texts(&emb_dir.join("texts-5k.jsonl"))?;
    let model = zcache_service::ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    let key = zcache_service::cache_key_for(&texts, &model);
    service.save_embeddings_compressed(
        &key,
        &emb,
        &texts,
        &model,
        &zcache_service::data_hash_for(&texts),
    )?;
    let (back, back_texts) = service
        .get_cached_embeddings_fast(&key)?
        .context("the saved embeddings")?;
    anyhow::ensure!(
        back.as_slice() == emb.as_slice() && back_texts == texts,
        "the embeddings cache returned other data"
    );
    let released = mem_optimize::release_memory();
    manager.stop();
    Ok(json!({
        "rows": rows,
        "elapsed_s": start.elapsed().as_secs_f64(),
        "released_mb": released.rss_released() as f64 / MIB as f64,
        "level_changes": manager.stats().level_changes,
    }))
}
