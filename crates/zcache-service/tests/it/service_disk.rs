//! The disk tier: reopening, damaged entries, repairs.

use zcache_service::{CacheService, ModelInfo, Precision};

use crate::common::{TestResult, files_under, texts, unit_vectors};

fn open(dir: &std::path::Path) -> Result<CacheService, zcache_service::ServiceError> {
    // No hot tier: every read goes to the files.
    CacheService::builder().cache_dir(dir).hot_tier(0).build()
}

#[test]
fn entries_survive_a_reopen_with_their_stats() -> TestResult {
    let dir = tempfile::tempdir()?;
    let m = ModelInfo::new("m");
    let e = unit_vectors(30, 24, 7);
    {
        let s = open(dir.path())?;
        s.save_embeddings("lossless", &e, &texts(30, "a"), &m, "h", Precision::F32)?;
        s.save_embeddings("small", &e, &texts(30, "b"), &m, "h", Precision::Int8)?;
    }
    let s = open(dir.path())?;
    assert_eq!(s.keys(), vec!["lossless".to_owned(), "small".to_owned()]);
    let (back, t) = s
        .get_cached_embeddings_checked("lossless", &m, "h")?
        .ok_or("miss")?;
    assert_eq!((back, t), (e.clone(), texts(30, "a")));
    let stats = s.get_enhanced_cache_stats();
    assert_eq!(
        (stats.entry_count, stats.entries_f32, stats.entries_int8),
        (2, 1, 1)
    );
    let small = stats
        .entries
        .iter()
        .find(|x| x.key == "small")
        .ok_or("listed")?;
    assert!(small.fidelity.min_cosine > 0.999 && !small.fidelity.exact);
    // 24 int8 codes + a 4-byte scale per row of 96 raw bytes.
    assert!((small.matrix_ratio - 28.0 / 96.0).abs() < 1e-9);
    let json = serde_json::to_value(&stats)?;
    for field in [
        "entry_count",
        "embeddings_compression_ratio",
        "hit_rate",
        "entries",
        "compressed_cache",
        "precision_note",
    ] {
        assert!(json.get(field).is_some(), "stats JSON lacks {field}");
    }
    Ok(())
}

#[test]
fn a_damaged_file_is_a_miss_and_the_others_stay_readable() -> TestResult {
    let dir = tempfile::tempdir()?;
    let m = ModelInfo::new("m");
    let (good, bad) = (unit_vectors(50, 32, 1), unit_vectors(50, 32, 2));
    let before;
    {
        let s = open(dir.path())?;
        s.save_embeddings_compressed("good", &good, &texts(50, "g"), &m, "h")?;
        before = files_under(dir.path());
        s.save_embeddings_compressed("bad", &bad, &texts(50, "b"), &m, "h")?;
    }
    // The largest new file is the blob of "bad": flip a byte in its middle.
    let (victim, len) = files_under(dir.path())
        .into_iter()
        .filter(|f| !before.contains(f))
        .max_by_key(|(_, len)| *len)
        .ok_or("no new file")?;
    let mut bytes = std::fs::read(&victim)?;
    bytes[len as usize / 2] ^= 0x40;
    std::fs::write(&victim, bytes)?;
    let s = open(dir.path())?;
    assert!(s.get_cached_embeddings_fast("bad")?.is_none());
    assert_eq!(
        s.get_cached_embeddings_fast("good")?.ok_or("good lost")?.0,
        good
    );
    assert_eq!(s.keys(), vec!["good".to_owned()]);
    Ok(())
}

#[test]
fn a_blob_that_is_not_ours_is_a_counted_miss() -> TestResult {
    let dir = tempfile::tempdir()?;
    let s = open(dir.path())?;
    let m = ModelInfo::new("m");
    s.save_embeddings_compressed("k", &unit_vectors(5, 4, 1), &texts(5, "k"), &m, "h")?;
    s.save_embeddings_compressed("other", &unit_vectors(5, 4, 2), &texts(5, "o"), &m, "h")?;
    // Well-checksummed bytes that are not a valid entry (another writer, an older format).
    s.compressed_cache()
        .put_bytes("zcs/data/k", b"MKEMB\0\x01\0garbage")?;
    assert!(s.get_cached_embeddings_fast("k")?.is_none());
    s.compressed_cache()
        .put_str("zcs/data/other", "a string, not bytes")?;
    assert!(s.get_cached_embeddings_fast("other")?.is_none());
    let stats = s.get_enhanced_cache_stats();
    assert_eq!((stats.corrupt_misses, stats.entry_count), (2, 0));
    assert!(!s.contains("k"), "the damaged entry is removed");
    Ok(())
}

#[test]
fn optimize_repairs_orphans_and_enforces_the_limit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let m = ModelInfo::new("m");
    let s = open(dir.path())?;
    for k in ["x", "y", "z"] {
        s.save_embeddings_compressed(
            k,
            &unit_vectors(40, 32, k.len() as u64),
            &texts(40, k),
            &m,
            "h",
        )?;
    }
    // A crash between the blob and its record leaves a blob alone; a record alone is an orphan.
    s.compressed_cache().remove("zcs/meta/x")?;
    s.compressed_cache().remove("zcs/data/y")?;
    let report = s.optimize_cache()?;
    assert_eq!(
        (report.adopted, report.orphans_removed, report.entries),
        (1, 1, 2)
    );
    assert_eq!(s.keys(), vec!["x".to_owned(), "z".to_owned()]);
    assert!(s.get_cached_embeddings_fast("x")?.is_some());
    drop(s);
    // Reopened with a smaller limit: optimize evicts down to it.
    let s = CacheService::builder()
        .cache_dir(dir.path())
        .max_cache_size(8000)
        .build()?;
    let report = s.optimize_cache()?;
    assert_eq!(report.evicted, 1);
    assert!(report.stored_bytes <= 8000);
    s.clear()?;
    assert!(s.keys().is_empty());
    Ok(())
}

#[test]
fn high_pressure_serves_from_disk_and_a_lost_record_heals() -> TestResult {
    use mem_monitor::{PressureHook, PressureLevel};
    let dir = tempfile::tempdir()?;
    let m = ModelInfo::new("m");
    let s = CacheService::builder().cache_dir(dir.path()).build()?;
    let e = unit_vectors(20, 16, 3);
    s.save_embeddings_compressed("k", &e, &texts(20, "k"), &m, "h")?;
    s.on_pressure(PressureLevel::High);
    assert_eq!(
        s.get_cached_embeddings_fast("k")?
            .ok_or("miss under pressure")?
            .0,
        e
    );
    s.on_pressure(PressureLevel::Low);
    assert_eq!(s.name(), "zcache-service");
    // A newer save whose metadata record is then lost: the index follows the blob on read.
    s.save_embeddings("k", &e, &texts(20, "k"), &m, "h", Precision::Int8)?;
    s.compressed_cache().remove("zcs/meta/k")?;
    drop(s);
    let s = CacheService::builder().cache_dir(dir.path()).build()?;
    assert_eq!(
        s.entry_meta("k").map(|x| x.precision),
        Some(Precision::Int8),
        "adopted from the blob"
    );
    Ok(())
}

#[test]
fn two_services_on_one_directory_see_each_others_entries() -> TestResult {
    let dir = tempfile::tempdir()?;
    let m = ModelInfo::new("m");
    // Two instances stand for two processes: each has its own zcache index and hot tier.
    let a = open(dir.path())?;
    let b = open(dir.path())?;
    let e = unit_vectors(25, 12, 8);
    a.save_embeddings_compressed("from-a", &e, &texts(25, "a"), &m, "h")?;
    let (back, t) = b
        .get_cached_embeddings_checked("from-a", &m, "h")?
        .ok_or("b misses a's entry")?;
    assert_eq!((back, t), (e.clone(), texts(25, "a")));
    assert_eq!(b.keys(), vec!["from-a".to_owned()], "adopted on read");
    // b overwrites it at int8; a reads b's version, never a mix.
    b.save_embeddings("from-a", &e, &texts(25, "b"), &m, "h", Precision::Int8)?;
    let (back, t) = a
        .get_cached_embeddings_fast("from-a")?
        .ok_or("a misses b's version")?;
    assert_eq!(
        (back, t),
        (Precision::Int8.round_trip(e.view())?, texts(25, "b"))
    );
    assert_eq!(
        a.entry_meta("from-a").map(|x| x.precision),
        Some(Precision::Int8),
        "index follows the newer blob"
    );
    Ok(())
}
