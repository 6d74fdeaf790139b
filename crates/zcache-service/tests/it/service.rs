//! The service's contract: round trips, staleness, size limit, concurrency (memory and disk).

use std::sync::Arc;

use zcache_service::{
    CacheService, Codec, Embeddings, ModelInfo, Precision, cache_key_for, data_hash_for,
};

use crate::common::{TestResult, texts, unit_vectors};

fn model() -> ModelInfo {
    ModelInfo::new("test-model")
        .revision("1")
        .param("pooling", "mean")
}

#[test]
fn round_trips_every_precision_and_codec() -> TestResult {
    let e = unit_vectors(64, 48, 1);
    let t = texts(64, "rt");
    for method in [
        Codec::Auto,
        Codec::Lz4,
        Codec::Zstd(3),
        Codec::Gzip(6),
        Codec::None,
    ] {
        for precision in Precision::ALL {
            let dir = tempfile::tempdir()?;
            let s = CacheService::builder()
                .cache_dir(dir.path())
                .compression_method(method)
                .precision(precision)
                .build()?;
            assert!(s.save_embeddings_compressed("k", &e, &t, &model(), "h")?);
            let (back, back_texts) = s.get_cached_embeddings_fast("k")?.ok_or("miss")?;
            assert_eq!(back_texts, t);
            assert_eq!(
                back,
                precision.round_trip(e.view())?,
                "{method} {precision}"
            );
            assert_eq!(s.entry_meta("k").map(|m| m.precision), Some(precision));
        }
    }
    Ok(())
}

#[test]
fn empty_matrix_and_empty_texts_round_trip() -> TestResult {
    let s = CacheService::builder().build()?;
    let e = Embeddings::zeros(0, 384)?;
    let none: [&str; 0] = [];
    assert!(s.save_embeddings_compressed("empty", &e, &none, &model(), "h")?);
    let (back, back_texts) = s.get_cached_embeddings_fast("empty")?.ok_or("miss")?;
    assert_eq!((back.shape(), back_texts.len()), ((0, 384), 0));
    let one = Embeddings::new(vec![0.5; 3], 1, 3)?;
    assert!(s.save_embeddings_compressed("blank text", &one, &[""], &model(), "h")?);
    assert_eq!(
        s.get_cached_embeddings_fast("blank text")?.ok_or("miss")?.1,
        vec![String::new()]
    );
    Ok(())
}

#[test]
fn stale_data_hash_and_other_model_are_misses() -> TestResult {
    let s = CacheService::builder().build()?;
    let e = unit_vectors(10, 8, 2);
    let t = texts(10, "stale");
    let key = cache_key_for(&t, &model());
    let hash = data_hash_for(&t);
    assert!(s.save_embeddings_compressed(&key, &e, &t, &model(), &hash)?);
    assert!(
        s.get_cached_embeddings_checked(&key, &model(), &hash)?
            .is_some()
    );
    assert!(
        s.get_cached_embeddings_checked(&key, &model(), "other data")?
            .is_none()
    );
    assert!(
        s.get_cached_embeddings_checked(&key, &ModelInfo::new("test-model"), &hash)?
            .is_none(),
        "revision differs"
    );
    assert!(
        s.get_cached_embeddings_checked(&key, &model().param("pooling", "cls"), &hash)?
            .is_none()
    );
    assert!(
        s.get_cached_embeddings_checked("absent", &model(), &hash)?
            .is_none()
    );
    let stats = s.get_enhanced_cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.stale_misses), (1, 4, 3));
    // A stale entry is a miss, not a deletion: the right request still hits.
    assert!(
        s.get_cached_embeddings_checked(&key, &model(), &hash)?
            .is_some()
    );
    Ok(())
}

#[test]
fn bad_input_is_an_error_not_a_save() -> TestResult {
    let s = CacheService::builder().precision(Precision::F16).build()?;
    let e = unit_vectors(4, 4, 3);
    let err = s
        .save_embeddings_compressed("k", &e, &texts(3, "x"), &model(), "h")
        .expect_err("3 texts for 4 rows");
    assert!(
        err.to_string().contains("3 texts for 4 embedding rows"),
        "{err}"
    );
    assert!(
        s.save_embeddings_compressed("", &e, &texts(4, "x"), &model(), "h")
            .is_err()
    );
    let inf = Embeddings::new(vec![f32::INFINITY, 0.0], 1, 2)?;
    assert!(
        s.save_embeddings_compressed("inf", &inf, &["t"], &model(), "h")
            .is_err()
    );
    assert!(s.keys().is_empty());
    // Lossless keeps even what a lossy precision refuses.
    let r = s.save_embeddings("inf", &inf, &["t"], &model(), "h", Precision::F32)?;
    assert!(r.stored && r.fidelity.exact);
    Ok(())
}

#[test]
fn size_limit_evicts_least_recently_used_entries() -> TestResult {
    // Incompressible-ish entries of about 26 KB; room for two and a half.
    let probe = CacheService::builder().build()?;
    let e = unit_vectors(100, 64, 4);
    let size = probe
        .save_embeddings("probe", &e, &texts(100, "p"), &model(), "h", Precision::F32)?
        .stored_bytes;
    let limit = size * 5 / 2;
    let dir = tempfile::tempdir()?;
    let s = CacheService::builder()
        .cache_dir(dir.path())
        .max_cache_size(limit)
        .build()?;
    for k in ["a", "b"] {
        assert!(s.save_embeddings_compressed(
            k,
            &unit_vectors(100, 64, k.len() as u64),
            &texts(100, k),
            &model(),
            "h"
        )?);
    }
    assert!(s.get_cached_embeddings_fast("a")?.is_some()); // a is now more recent than b
    let r = s.save_embeddings(
        "c",
        &unit_vectors(100, 64, 9),
        &texts(100, "c"),
        &model(),
        "h",
        Precision::F32,
    )?;
    assert_eq!(r.evicted, 1);
    assert_eq!(s.keys(), vec!["a".to_owned(), "c".to_owned()]);
    assert!(s.get_cached_embeddings_fast("b")?.is_none());
    let stats = s.get_enhanced_cache_stats();
    assert!(stats.stored_bytes <= stats.max_cache_bytes);
    assert_eq!(stats.evictions, 1);
    // An entry larger than the whole cache is refused, and evicts nothing.
    let big = unit_vectors(400, 64, 5);
    assert!(!s.save_embeddings_compressed("big", &big, &texts(400, "big"), &model(), "h")?);
    assert_eq!(s.keys().len(), 2);
    // The limit holds across a reopen: the evicted entry is gone from disk too.
    drop(s);
    let s = CacheService::builder()
        .cache_dir(dir.path())
        .max_cache_size(limit)
        .build()?;
    assert_eq!(s.keys(), vec!["a".to_owned(), "c".to_owned()]);
    Ok(())
}

#[test]
fn concurrent_savers_and_readers_never_see_mixed_entries() -> TestResult {
    let dir = tempfile::tempdir()?;
    let s = Arc::new(
        CacheService::builder()
            .cache_dir(dir.path())
            .sync_writes(false)
            .build()?,
    );
    // Two versions per shared key; a reader must see one version whole, matrix and texts alike.
    let version = |k: usize, v: u64| {
        (
            unit_vectors(20, 16, k as u64 * 10 + v),
            texts(20, &format!("k{k}v{v}")),
        )
    };
    let handles: Vec<_> = (0..4)
        .map(|thread| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || -> Result<u64, String> {
                let mut hits = 0;
                for round in 0..30u64 {
                    let k = (thread + round as usize) % 3;
                    let key = format!("shared-{k}");
                    if (round + thread as u64).is_multiple_of(2) {
                        let (e, t) = version(k, round % 2);
                        let p = if k == 2 {
                            Precision::Int8
                        } else {
                            Precision::F32
                        };
                        s.save_embeddings(&key, &e, &t, &model(), "h", p)
                            .map_err(|e| e.to_string())?;
                    } else if let Some((e, t)) = s
                        .get_cached_embeddings_fast(&key)
                        .map_err(|e| e.to_string())?
                    {
                        hits += 1;
                        let v = if t == version(k, 0).1 {
                            0
                        } else if t == version(k, 1).1 {
                            1
                        } else {
                            return Err(format!("{key}: texts of no version"));
                        };
                        let want = version(k, v).0;
                        let want = if k == 2 {
                            Precision::Int8
                                .round_trip(want.view())
                                .map_err(|e| e.to_string())?
                        } else {
                            want
                        };
                        if e != want {
                            return Err(format!(
                                "{key}: matrix does not match its texts (version {v})"
                            ));
                        }
                    }
                }
                Ok(hits)
            })
        })
        .collect();
    let mut hits = 0;
    for h in handles {
        hits += h.join().map_err(|_| "thread panicked")??;
    }
    assert!(hits > 0, "readers never hit");
    let stats = s.get_enhanced_cache_stats();
    assert_eq!(stats.entry_count, 3);
    assert_eq!(stats.corrupt_misses, 0);
    Ok(())
}
