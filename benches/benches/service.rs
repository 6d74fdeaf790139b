//! zcache-service on the real MiniLM matrix (5,000 x 384 f32 + texts): save, get from the hot
//! tier, get from disk (warm page cache), per precision; saves with the service's default (no
//! fsync) and with `sync_writes(true)`. Targets: get < 5 ms hot, < 20 ms from disk, save
//! < 50 ms. Also prints each precision's ratio and fidelity once.
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![allow(clippy::print_stderr, reason = "a benchmark reports its sizes")]

use criterion::{Criterion, criterion_group, criterion_main};
use zcache_service::{
    CacheService, Embeddings, ModelInfo, Precision, cache_key_for, data_hash_for, read_npy,
};

fn data() -> (Embeddings, Vec<String>) {
    let dir = membound_tests::testdata("embeddings");
    let e = read_npy(dir.join("minilm-5k.npy")).expect("testdata/embeddings/minilm-5k.npy");
    let texts = zcache_service::read_texts_jsonl(dir.join("texts-5k.jsonl"))
        .expect("testdata/embeddings/texts-5k.jsonl");
    (e, texts)
}

fn service(c: &mut Criterion) {
    let (e, texts) = data();
    let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    let key = cache_key_for(&texts, &model);
    let hash = data_hash_for(&texts);
    let mut group = c.benchmark_group("service_minilm_5k");
    group.sample_size(20);
    for precision in Precision::ALL {
        let dir = tempfile::tempdir().expect("tempdir");
        let hot = CacheService::builder()
            .cache_dir(dir.path())
            .precision(precision)
            .build()
            .expect("service");
        let report = hot
            .save_embeddings(&key, &e, &texts, &model, &hash, precision)
            .expect("save");
        eprintln!(
            "{precision}: matrix ratio {:.4}, min cosine {:.7}, mean cosine {:.7}, texts {} -> {} bytes",
            report.matrix_ratio,
            report.fidelity.min_cosine,
            report.fidelity.mean_cosine,
            report.texts_raw_bytes,
            report.texts_stored_bytes
        );
        group.bench_function(format!("save {precision} (disk)"), |b| {
            b.iter(|| {
                hot.save_embeddings(&key, &e, &texts, &model, &hash, precision)
                    .expect("save")
            });
        });
        let synced_dir = tempfile::tempdir().expect("tempdir");
        let synced = CacheService::builder()
            .cache_dir(synced_dir.path())
            .sync_writes(true)
            .build()
            .expect("service");
        group.bench_function(format!("save {precision} (disk, fsync)"), |b| {
            b.iter(|| {
                synced
                    .save_embeddings(&key, &e, &texts, &model, &hash, precision)
                    .expect("save")
            });
        });
        group.bench_function(format!("get {precision} hot"), |b| {
            b.iter(|| {
                hot.get_cached_embeddings_fast(&key)
                    .expect("get")
                    .expect("hit")
            });
        });
        let cold = CacheService::builder()
            .cache_dir(dir.path())
            .hot_tier(0)
            .build()
            .expect("reopen");
        group.bench_function(format!("get {precision} from disk"), |b| {
            b.iter(|| {
                cold.get_cached_embeddings_checked(&key, &model, &hash)
                    .expect("get")
                    .expect("hit")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, service);
criterion_main!(benches);
