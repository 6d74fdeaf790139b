//! Cache scenarios: a realistic mixed cache, the embeddings cache at each precision, a cache hit
//! against reading the file again, and the Zipf trace replay.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use zcache::testdata::{TraceSpec, json_value, replay, total_value_bytes, value_len, zipf_trace};
use zcache::{Codec, CompressedCache};
use zcache_service::{CacheService, ModelInfo, Precision, read_npy};

use super::arg;

/// The real embeddings and their texts from the repository's `testdata/embeddings`.
fn embeddings_dir(args: &[String]) -> anyhow::Result<&Path> {
    Ok(Path::new(arg(args, "--embeddings")?))
}

pub(super) fn read_texts(path: &Path) -> anyhow::Result<Vec<String>> {
    Ok(zcache_service::read_texts_jsonl(path)?)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v.get(v.len() / 2).map_or(0.0, Duration::as_secs_f64)
}

/// A cache holding what the application caches: JSON documents, passages of text and
/// embedding rows, with `Codec::Auto`. Raw vs stored bytes.
pub fn mixed(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let dir = embeddings_dir(args)?;
    let docs: usize = arg(args, "--docs")?.parse()?;
    let cache = CompressedCache::builder()
        .max_memory(4096 << 20)
        .default_compression(Codec::Auto)
        .build()?;
    let spec = TraceSpec {
        keys: docs,
        ..TraceSpec::default()
    };
    for id in 0..u32::try_from(docs)? {
        cache.put_bytes(
            &format!("doc:{id}"),
            &json_value(&spec, id, value_len(&spec, id)),
        )?;
    }
    let texts = read_texts(&dir.join("texts-5k.jsonl"))?;
    for (i, t) in texts.iter().enumerate() {
        cache.put_str(&format!("text:{i}"), t)?;
    }
    let emb = read_npy(dir.join("minilm-5k.npy"))?;
    for (i, rows) in emb.as_slice().chunks(emb.dim() * 100).enumerate() {
        cache.put_slice(&format!("emb:{i}"), rows)?;
    }
    cache.run_pending_tasks();
    let s = cache.get_stats();
    Ok(json!({
        "entries": s.memory_entries,
        "raw_bytes": s.raw_bytes,
        "stored_bytes": s.stored_bytes,
        "memory_bytes": s.memory_bytes,
        "compression_ratio": s.compression_ratio,
    }))
}

/// The 5,000 x 384 embeddings saved at one precision: sizes, fidelity, save and get times.
pub fn embeddings(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let dir = embeddings_dir(args)?;
    let precision: Precision = arg(args, "--precision")?
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let work = Path::new(arg(args, "--work")?);
    let emb = read_npy(dir.join("minilm-5k.npy"))?;
    let texts = read_texts(&dir.join("texts-5k.jsonl"))?;
    let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    let key = zcache_service::cache_key_for(&texts, &model);
    let hash = zcache_service::data_hash_for(&texts);
    let service = CacheService::builder()
        .cache_dir(work)
        .precision(precision)
        .build()?;
    let start = Instant::now();
    let report = service.save_embeddings(&key, &emb, &texts, &model, &hash, precision)?;
    let save_s = start.elapsed().as_secs_f64();
    let mut hot = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let got = service
            .get_cached_embeddings_fast(&key)?
            .context("a hit right after saving")?;
        hot.push(t.elapsed());
        std::hint::black_box(got);
    }
    drop(service);
    // A new service on the same directory: the hot tier is empty, entries come from disk.
    let mut disk = Vec::new();
    for _ in 0..5 {
        let service = CacheService::builder()
            .cache_dir(work)
            .precision(precision)
            .build()?;
        let t = Instant::now();
        let got = service
            .get_cached_embeddings_fast(&key)?
            .context("a hit from disk")?;
        disk.push(t.elapsed());
        std::hint::black_box(got);
    }
    Ok(json!({
        "raw_bytes": report.raw_bytes,
        "matrix_stored_bytes": report.matrix_stored_bytes,
        "stored_bytes": report.stored_bytes,
        "matrix_ratio": report.matrix_ratio,
        "min_cosine": report.fidelity.min_cosine,
        "mean_cosine": report.fidelity.mean_cosine,
        "save_s": save_s,
        "get_hot_s": median(hot),
        "get_disk_s": median(disk),
    }))
}

/// Before: read and parse the uncompressed files again. After: a compressed memory-tier hit.
pub fn hit(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let dir = embeddings_dir(args)?;
    let work = Path::new(arg(args, "--work")?);
    let mut reread = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let emb = read_npy(dir.join("minilm-5k.npy"))?;
        let texts = read_texts(&dir.join("texts-5k.jsonl"))?;
        reread.push(t.elapsed());
        std::hint::black_box((emb, texts));
    }
    let emb = read_npy(dir.join("minilm-5k.npy"))?;
    let texts = read_texts(&dir.join("texts-5k.jsonl"))?;
    let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    let key = zcache_service::cache_key_for(&texts, &model);
    let service = CacheService::builder().cache_dir(work).build()?;
    service.save_embeddings_compressed(
        &key,
        &emb,
        &texts,
        &model,
        &zcache_service::data_hash_for(&texts),
    )?;
    let mut hits = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let got = service.get_cached_embeddings_fast(&key)?.context("a hit")?;
        hits.push(t.elapsed());
        std::hint::black_box(got);
    }
    Ok(json!({ "reread_s": median(reread), "hit_s": median(hits) }))
}

/// The Zipf(0.9) trace at a budget of 10 % of all values' raw size: zcache vs an uncompressed
/// moka weighing raw bytes.
pub fn trace(args: &[String]) -> anyhow::Result<serde_json::Value> {
    let spec = TraceSpec {
        requests: arg(args, "--requests")?.parse()?,
        keys: arg(args, "--keys")?.parse()?,
        ..TraceSpec::default()
    };
    let codec: Codec = arg(args, "--codec")?.parse()?;
    let trace = zipf_trace(&spec);
    let budget = total_value_bytes(&spec) / 10;
    let cache = CompressedCache::builder()
        .max_memory(budget as u64)
        .default_compression(codec)
        .build()?;
    let z = replay(
        &spec,
        &trace,
        |id| {
            cache
                .get_bytes(&zcache::testdata::key_name(id))
                .ok()
                .flatten()
                .is_some()
        },
        |id, v| {
            let _ = cache.put_bytes(&zcache::testdata::key_name(id), &v);
        },
    );
    let plain: moka::sync::Cache<u32, Vec<u8>> = moka::sync::Cache::builder()
        .max_capacity(budget)
        .weigher(|_, v: &Vec<u8>| u32::try_from(v.len()).unwrap_or(u32::MAX))
        .build();
    let m = replay(
        &spec,
        &trace,
        |id| plain.get(&id).is_some(),
        |id, v| plain.insert(id, v),
    );
    Ok(
        json!({ "zcache_hit_rate": z.hit_rate, "moka_hit_rate": m.hit_rate, "budget_bytes": budget }),
    )
}
