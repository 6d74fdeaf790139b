//! TTL and the cleanup thread, pressure reactions, optimize, concurrency.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mem_monitor::{PressureHook, PressureLevel};
use zcache::{Codec, CompressedCache, PutOptions};

use crate::child::{lines_with, spawn};
use crate::{disk_cache, entry_files, value_of};

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn expired_entries_are_never_returned_and_cleaned_from_both_tiers() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompressedCache::builder()
        .max_memory(4 << 20)
        .enable_disk_cache(dir.path())
        .cleanup_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let ttl = Duration::from_millis(50);
    let put_at = Instant::now();
    cache
        .put_with("short", "gone soon", PutOptions::new().ttl(ttl))
        .unwrap();
    cache.put_str("long", "stays").unwrap();
    // Present until the TTL passes (a slow machine may already be past it).
    match cache.get_string("short").unwrap() {
        Some(v) => assert_eq!(v, "gone soon"),
        None => assert!(put_at.elapsed() >= ttl),
    }
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(cache.get_string("short").unwrap(), None);
    // The background thread removes the disk file too.
    wait_until("the expired file to go", || {
        entry_files(dir.path()).len() == 1
    });
    assert!(cache.get_stats().expirations >= 1);
    assert_eq!(cache.get_string("long").unwrap().as_deref(), Some("stays"));
    assert_eq!(cache.keys(), vec!["long"]);
}

#[test]
fn default_ttl_applies_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = CompressedCache::builder()
            .enable_disk_cache(dir.path())
            .default_ttl(Duration::from_millis(40))
            .cleanup_interval(Duration::ZERO)
            .build()
            .unwrap();
        cache.put_str("a", "x").unwrap();
    }
    std::thread::sleep(Duration::from_millis(60));
    let cache = disk_cache(dir.path(), 1.0);
    assert_eq!(cache.get_string("a").unwrap(), None);
    assert!(entry_files(dir.path()).is_empty());
}

#[test]
fn dropping_the_cache_stops_its_cleanup_thread() {
    let mut child = spawn("threads");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert_eq!(lines_with(&out, "alive "), vec!["3"], "{out}");
    assert_eq!(lines_with(&out, "after_drop "), vec!["0"], "{out}");
}

#[test]
fn pressure_high_serves_from_disk_only_until_it_falls() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompressedCache::builder()
        .max_memory(8 << 20)
        .enable_disk_cache(dir.path())
        .disk_policy(zcache::DiskPolicy::WriteOnEviction)
        .cleanup_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    for i in 0..20 {
        cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
    }
    assert!(
        entry_files(dir.path()).is_empty(),
        "write-on-eviction writes nothing yet"
    );
    assert_eq!(cache.name(), "zcache");

    cache.on_pressure(PressureLevel::Medium);
    let text = "medium pressure compresses harder ".repeat(40);
    assert_eq!(cache.put_str("m", &text).unwrap().codec, Codec::Zstd(3));
    assert!(cache.get_stats().compress_harder);

    cache.on_pressure(PressureLevel::High);
    let s = cache.get_stats();
    assert!(s.disk_only && s.memory_entries == 0, "{s:?}");
    assert_eq!(
        entry_files(dir.path()).len(),
        21,
        "the memory tier moved to disk"
    );
    for i in 0..20 {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(value_of(i))
        );
    }
    let r = cache.put_str("during", "high").unwrap();
    assert!(!r.in_memory && r.on_disk);
    let s = cache.get_stats();
    assert_eq!((s.memory_entries, s.memory_hits), (0, 0), "{s:?}");
    assert!(s.disk_hits >= 20);

    cache.on_pressure(PressureLevel::Low);
    assert_eq!(cache.get_string("during").unwrap().as_deref(), Some("high"));
    assert_eq!(cache.get_string("during").unwrap().as_deref(), Some("high"));
    let s = cache.get_stats();
    assert!(
        !s.disk_only && s.memory_hits >= 1,
        "promoted back to memory: {s:?}"
    );
}

#[test]
fn pressure_high_without_disk_empties_memory() {
    let cache = CompressedCache::builder()
        .max_memory(8 << 20)
        .cleanup_interval(Duration::ZERO)
        .build()
        .unwrap();
    cache.put_bytes("a", &value_of(1)).unwrap();
    assert!(cache.purge() > 0);
    assert_eq!(cache.get_bytes("a").unwrap(), None);
    cache.on_pressure(PressureLevel::High);
    cache.put_bytes("b", &value_of(2)).unwrap();
    assert_eq!(
        cache.get_bytes("b").unwrap(),
        Some(value_of(2)),
        "still usable without a disk tier"
    );
}

#[test]
fn optimize_recompresses_purges_and_reports() {
    let cache = CompressedCache::builder()
        .max_memory(16 << 20)
        .cleanup_interval(Duration::ZERO)
        .build()
        .unwrap();
    let text = "a fairly repetitive sentence about caches and memory. ".repeat(200);
    for i in 0..10 {
        cache
            .put_with(
                &format!("raw{i}"),
                text.as_str(),
                PutOptions::new().compression(Codec::None),
            )
            .unwrap();
    }
    let before = cache.get_stats();
    cache
        .put_with("old", "x", PutOptions::new().ttl(Duration::from_millis(1)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let r = cache.optimize();
    assert_eq!(r.recompressed, 10, "{r:?}");
    assert_eq!(r.expired_removed, 1, "{r:?}");
    assert!(r.bytes_saved > 0);
    let after = cache.get_stats();
    assert!(
        after.compression_ratio < before.compression_ratio / 4.0,
        "{before:?} {after:?}"
    );
    assert_eq!(cache.get_string("raw3").unwrap(), Some(text));
    assert_eq!(cache.optimize().recompressed, 0, "nothing left to improve");
}

#[test]
fn concurrent_writers_and_readers_only_ever_see_exact_values() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(
        CompressedCache::builder()
            .max_memory(mem_monitor::mb_to_bytes(0.3))
            .enable_disk_cache(dir.path())
            .disk_policy(zcache::DiskPolicy::WriteOnEviction)
            .sync_writes(false)
            .cleanup_interval(Duration::from_millis(5))
            .build()
            .unwrap(),
    );
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                let mut found = 0;
                for round in 0..300u64 {
                    let i = (round * 7 + t * 13) % 120;
                    if round % 3 == t % 3 {
                        cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
                    } else if let Some(v) = cache.get_bytes(&format!("k{i}")).unwrap() {
                        assert_eq!(v, value_of(i), "k{i}");
                        found += 1;
                    }
                    if round % 50 == 0 {
                        let _ = cache.optimize();
                    }
                }
                found
            })
        })
        .collect();
    let found: u64 = threads.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(found > 0);
    let s = cache.get_stats();
    assert_eq!((s.corrupt_entries, s.disk_errors), (0, 0), "{s:?}");
}

/// A JSON-like record list of about `len` bytes, different per `i`.
fn record_json(i: u64, len: usize) -> String {
    let mut s = String::from("[");
    let mut j = i;
    while s.len() < len {
        j = j
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        s.push_str(&format!(
            "{{\"id\":{},\"title\":\"passage {}\",\"lang\":\"en\",\"status\":\"published\",\"score\":{}.{}}},",
            j >> 40,
            (j >> 20) % 1000,
            (j >> 8) % 100,
            j % 97
        ));
    }
    s.push(']');
    s
}

#[test]
fn once_a_family_has_a_dictionary_new_values_are_put_with_it() {
    let cache = CompressedCache::builder()
        .max_memory(64 << 20)
        .recompress_after(Duration::from_millis(1))
        .build()
        .unwrap();
    // Cold values of one family: the background pass samples them and trains a dictionary.
    for i in 0..600 {
        cache
            .put(&format!("doc:{i}"), record_json(i, 1500).as_str())
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while cache.get_stats().dictionaries == 0 {
        assert!(Instant::now() < deadline, "no dictionary trained");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A new value of the family is stored with it at once, smaller than lz4 would, and reads
    // back exactly.
    let value = record_json(10_000, 1500);
    let report = cache.put("doc:new", value.as_str()).unwrap();
    let lz4 = lz4_flex::compress(value.as_bytes()).len() as u64;
    assert!(matches!(report.codec, Codec::Zstd(_)), "{report:?}");
    assert!(report.stored_bytes < lz4, "{report:?} vs lz4 {lz4}");
    assert_eq!(cache.get::<str>("doc:new").unwrap().unwrap(), value);
    // Another family (no dictionary yet) keeps the fast codec.
    let other = cache.put("img:new", value.as_str()).unwrap();
    assert_eq!(other.codec, Codec::Lz4);
}
