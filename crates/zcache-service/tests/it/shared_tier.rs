//! The service over a shared tier, against the real redis-server `.ci/run` starts (its URL in
//! `MEMBOUND_TEST_REDIS_URL`): a second machine with an empty cache directory gets what the
//! first one saved.

use std::time::Duration;

use zcache::RedisTier;
use zcache_service::{CacheService, ModelInfo, Precision};

use crate::common::{TestResult, texts, unit_vectors};

const URL_VAR: &str = "MEMBOUND_TEST_REDIS_URL";

fn service(dir: &std::path::Path, url: &str, prefix: &str) -> CacheService {
    CacheService::builder()
        .cache_dir(dir)
        .max_cache_size(256 << 20)
        .shared_tier(
            RedisTier::new(url)
                .prefix(prefix)
                .timeout(Duration::from_millis(500)),
        )
        .build()
        .expect("a service on the shared tier")
}

#[test]
#[allow(clippy::print_stderr, reason = "a skipped test says why")]
fn a_second_machine_gets_the_embeddings_and_texts_the_first_saved() -> TestResult {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        eprintln!(
            "skipped: {URL_VAR} is unset (.ci/run starts a redis-server and sets it; see .ci/redis.sh)"
        );
        return Ok(());
    };
    let prefix = format!(
        "zcs-it:{}:{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos()
    );
    let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
    // 3,000 x 384 f32: a 4.6 MB matrix, so the blob travels in chunks.
    let (big, big_texts) = (unit_vectors(3000, 384, 1), texts(3000, "big"));
    let (small, small_texts) = (unit_vectors(200, 384, 2), texts(200, "small"));
    let (d1, d2, d3) = (
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    );

    let first = service(d1.path(), &url, &prefix);
    first.save_embeddings("corpus", &big, &big_texts, &model, "hash-1", Precision::F32)?;
    first.save_embeddings(
        "f16",
        &small,
        &small_texts,
        &model,
        "hash-2",
        Precision::F16,
    )?;
    let f16_there = first
        .get_cached_embeddings_fast("f16")?
        .expect("saved here");
    drop(first); // finishes the background queue

    let second = service(d2.path(), &url, &prefix);
    assert!(second.keys().is_empty(), "the second machine starts empty");
    let other = ModelInfo::new("another-model");
    assert!(
        second
            .get_cached_embeddings_checked("corpus", &other, "hash-1")?
            .is_none(),
        "another model is stale, also from the shared tier"
    );
    assert!(
        second
            .get_cached_embeddings_checked("corpus", &model, "hash-other")?
            .is_none(),
        "another data hash is stale"
    );
    // Timed on a machine whose local tiers are cold (the lookups above filled `second`'s).
    let d4 = tempfile::tempdir()?;
    let cold = service(d4.path(), &url, &prefix);
    let t = std::time::Instant::now();
    let (back, back_texts) = cold
        .get_cached_embeddings_checked("corpus", &model, "hash-1")?
        .expect("a hit through the shared tier");
    eprintln!(
        "3000 x 384 f32 with texts from the shared tier (cold local tiers): {:?}",
        t.elapsed()
    );
    let bits = |e: &zcache_service::Embeddings| -> Vec<u32> {
        e.as_slice().iter().map(|v| v.to_bits()).collect()
    };
    assert_eq!(bits(&back), bits(&big), "bit-identical f32");
    assert_eq!(back_texts, big_texts);
    let (f16_back, f16_texts) = second
        .get_cached_embeddings_fast("f16")?
        .expect("the f16 entry");
    assert_eq!(
        bits(&f16_back),
        bits(&f16_there.0),
        "at the saved precision"
    );
    assert_eq!(f16_texts, small_texts);
    let shared = second
        .compressed_cache()
        .shared_stats()
        .expect("a shared tier");
    assert!(shared.hits >= 2, "{shared:?}");
    assert_eq!(
        (shared.corrupt, shared.errors, shared.timeouts),
        (0, 0, 0),
        "{shared:?}"
    );
    assert!(
        cold.keys().contains(&"corpus".to_owned()),
        "indexed on the cold machine"
    );
    drop(cold);

    // Removing reaches the shared tier: a third machine finds nothing.
    assert!(second.remove("corpus")?);
    assert!(second.remove("f16")?);
    drop(second);
    let third = service(d3.path(), &url, &prefix);
    assert!(third.get_cached_embeddings_fast("corpus")?.is_none());
    assert!(third.get_cached_embeddings_fast("f16")?.is_none());
    Ok(())
}
