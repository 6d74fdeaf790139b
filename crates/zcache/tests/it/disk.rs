//! The disk tier: persistence across reopen, names, LRU bound, temp files, spilling.

use std::time::Duration;

use zcache::{CompressedCache, DiskPolicy};

use crate::{disk_cache, entry_files, value_of};

#[test]
fn entries_survive_reopen_and_keys_are_never_paths() {
    let dir = tempfile::tempdir().unwrap();
    let evil = [
        "../../etc/passwd",
        "/abs/path",
        "a\0b",
        "..",
        "",
        "ünï/cødé",
    ];
    {
        let cache = disk_cache(dir.path(), 8.0);
        for (i, k) in evil.iter().enumerate() {
            cache.put_bytes(k, &value_of(i as u64)).unwrap();
        }
    }
    // Every file sits directly in the directory, named by a 32-digit hash.
    let files = entry_files(dir.path());
    assert_eq!(files.len(), evil.len());
    for f in &files {
        assert_eq!(f.parent().unwrap(), dir.path());
        assert_eq!(f.file_stem().unwrap().len(), 32);
    }
    let cache = disk_cache(dir.path(), 8.0);
    for (i, k) in evil.iter().enumerate() {
        assert_eq!(
            cache.get_bytes(k).unwrap(),
            Some(value_of(i as u64)),
            "{k:?}"
        );
    }
    let s = cache.get_stats();
    assert_eq!(
        (s.disk_hits, s.disk_entries),
        (evil.len() as u64, evil.len() as u64)
    );
    let mut keys = cache.keys();
    keys.sort();
    let mut want: Vec<String> = evil.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(keys, want);
}

#[test]
fn disk_tier_is_bounded_with_lru_eviction() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompressedCache::builder()
        .max_memory(0)
        .enable_disk_cache(dir.path())
        .max_disk(256 << 10)
        .default_compression(zcache::Codec::None)
        .sync_writes(false)
        .cleanup_interval(Duration::ZERO)
        .build()
        .unwrap();
    let value = vec![7u8; 10_000];
    for i in 0..10 {
        cache.put_bytes(&format!("k{i}"), &value).unwrap();
    }
    // Touch k0 so that it becomes the most recently used.
    assert!(cache.get_bytes("k0").unwrap().is_some());
    for i in 10..40 {
        cache.put_bytes(&format!("k{i}"), &value).unwrap();
    }
    let s = cache.get_stats();
    assert!(s.disk_bytes <= 256 * 1024, "{}", s.disk_bytes);
    assert!(s.disk_evictions >= 10, "{}", s.disk_evictions);
    let on_disk: u64 = entry_files(dir.path())
        .iter()
        .map(|f| f.metadata().unwrap().len())
        .sum();
    assert!(on_disk <= 256 * 1024);
    assert!(cache.contains("k39"));
    assert!(!cache.contains("k1"), "least recently used went first");
}

#[test]
fn leftover_temp_files_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    // A temp file of a process that no longer exists (pid 0 is never a user process)...
    std::fs::write(dir.path().join(".tmp.0.5.abc"), b"half-written").unwrap();
    // ...and an unrelated file, which is not ours to delete.
    std::fs::write(dir.path().join("notes.txt"), b"keep me").unwrap();
    let cache = disk_cache(dir.path(), 1.0);
    assert!(!dir.path().join(".tmp.0.5.abc").exists());
    assert!(dir.path().join("notes.txt").exists());
    cache.put_bytes("a", b"b").unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp.")), "{names:?}");
}

#[test]
fn write_on_eviction_spills_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompressedCache::builder()
        .max_memory(mem_monitor::mb_to_bytes(0.05))
        .enable_disk_cache(dir.path())
        .disk_policy(DiskPolicy::WriteOnEviction)
        .default_compression(zcache::Codec::None)
        .cleanup_interval(Duration::ZERO)
        .build()
        .unwrap();
    for i in 0..40 {
        cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
    }
    cache.run_pending_tasks();
    let s = cache.get_stats();
    assert!(s.evictions > 0 && s.spilled_to_disk > 0, "{s:?}");
    assert!(s.memory_bytes <= 52_429, "{}", s.memory_bytes);
    for i in 0..40 {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(value_of(i)),
            "k{i}"
        );
    }
    // An update must not let an old disk copy come back, neither now nor after a reopen.
    for i in 0..40 {
        cache
            .put_bytes(&format!("k{i}"), format!("new {i}").as_bytes())
            .unwrap();
    }
    mem_monitor::PressureHook::purge(&cache);
    for i in 0..40 {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(format!("new {i}").into_bytes())
        );
    }
    drop(cache);
    let cache = disk_cache(dir.path(), 0.0);
    for i in 0..40 {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(format!("new {i}").into_bytes())
        );
    }
}

#[test]
fn flush_persists_write_on_eviction_entries() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = CompressedCache::builder()
            .max_memory(8 << 20)
            .enable_disk_cache(dir.path())
            .disk_policy(DiskPolicy::WriteOnEviction)
            .cleanup_interval(Duration::ZERO)
            .build()
            .unwrap();
        for i in 0..5 {
            cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
        }
        assert!(entry_files(dir.path()).is_empty());
        assert_eq!(cache.flush(), 5);
        assert_eq!(cache.flush(), 0, "already on disk");
    }
    let cache = disk_cache(dir.path(), 0.0);
    for i in 0..5 {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(value_of(i))
        );
    }
}
