//! Damaged files: flipped bytes, truncation, garbage, lying headers. Each is a counted miss,
//! removed, and never disturbs the other entries. Plus a full disk.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use zcache::{CacheError, CompressedCache};

use crate::{disk_cache, entry_files, value_of};

/// Writes keys k0..k{n} and returns the file of each (found by elimination).
fn populate(dir: &Path, n: u64) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let cache = disk_cache(dir, 8.0);
    for i in 0..n {
        let before = entry_files(dir);
        cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
        let after = entry_files(dir);
        let new = after.into_iter().find(|f| !before.contains(f)).unwrap();
        out.push((format!("k{i}"), new));
    }
    out
}

fn damage(path: &Path, how: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    match how {
        0 => bytes[10] ^= 0xFF,                  // header field
        1 => *bytes.last_mut().unwrap() ^= 0x01, // payload
        2 => bytes.truncate(bytes.len() / 2),
        3 => bytes = b"this is not a cache entry at all".to_vec(),
        _ => bytes.clear(),
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn each_damaged_entry_is_a_counted_miss_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let files = populate(dir.path(), 10);
    for (how, (_, path)) in files.iter().take(5).enumerate() {
        damage(path, how);
    }
    // Memory 0 so reads go to disk; open with a fresh process-level index.
    let cache = CompressedCache::builder()
        .max_memory(0)
        .enable_disk_cache(dir.path())
        .cleanup_interval(std::time::Duration::ZERO)
        .build()
        .unwrap();
    // Damaged headers are already caught while rebuilding the index on open.
    let on_open = cache.get_stats().corrupt_entries;
    assert!(on_open >= 3, "{on_open}");
    for (i, (key, path)) in files.iter().enumerate() {
        let got = cache.get_bytes(key).unwrap();
        if i < 5 {
            assert_eq!(got, None, "{key}");
            assert!(!path.exists(), "{key} was not removed");
        } else {
            assert_eq!(got, Some(value_of(i as u64)), "{key}");
        }
    }
    assert_eq!(cache.get_stats().corrupt_entries, 5);
    assert_eq!(entry_files(dir.path()).len(), 5);
}

#[test]
fn verify_reports_good_corrupt_and_expired() {
    let dir = tempfile::tempdir().unwrap();
    let files = populate(dir.path(), 6);
    damage(&files[0].1, 1);
    damage(&files[1].1, 0);
    let cache = disk_cache(dir.path(), 0.0);
    cache
        .put_with(
            "short",
            "lived",
            zcache::PutOptions::new().ttl(std::time::Duration::from_millis(1)),
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let r = cache.verify().unwrap();
    // files[1]'s header damage was already removed when the cache opened.
    assert_eq!((r.good, r.corrupt, r.expired), (4, 1, 1), "{r:?}");
    assert_eq!(cache.get_stats().corrupt_entries, 2);
    assert_eq!(entry_files(dir.path()).len(), 4);
}

#[test]
fn a_declared_length_above_the_maximum_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let files = populate(dir.path(), 1);
    // Make the header claim a 2^60-byte raw value, with a correct header checksum, as an
    // attacker could: the reader must refuse on the length, not try to allocate it.
    let path = &files[0].1;
    let mut bytes = std::fs::read(path).unwrap();
    bytes[24..32].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let key_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[..72]);
    crc.update(&bytes[80..80 + key_len]);
    let sum = crc.finalize();
    bytes[72..76].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(path, &bytes).unwrap();
    let cache = disk_cache(dir.path(), 0.0);
    assert_eq!(cache.get_bytes("k0").unwrap(), None);
    // Its header is well formed (checksum and all): an entry too large for this cache, skipped
    // and left in place, not damage.
    let s = cache.get_stats();
    assert_eq!((s.corrupt_entries, s.skipped_entries), (0, 2), "{s:?}");
    assert!(path.exists());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_bytes_in_an_entry_file_never_panic(garbage in proptest::collection::vec(any::<u8>(), 0..2000), keep_prefix in 0usize..120) {
        let dir = tempfile::tempdir().unwrap();
        let files = populate(dir.path(), 1);
        // Keep a valid prefix (magic, maybe part of the header) and append garbage.
        let mut bytes = std::fs::read(&files[0].1).unwrap();
        bytes.truncate(keep_prefix.min(bytes.len()));
        bytes.extend_from_slice(&garbage);
        std::fs::write(&files[0].1, &bytes).unwrap();
        let cache = disk_cache(dir.path(), 0.0);
        let got = cache.get_bytes("k0").unwrap();
        prop_assert!(got.is_none() || got == Some(value_of(0)));
        let _ = cache.verify().unwrap();
    }
}

/// Mounts a 1 MiB tmpfs, or returns None (with a message) where that is not permitted.
fn small_tmpfs() -> Option<(tempfile::TempDir, PathBuf)> {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some((base, mnt))
    } else {
        eprintln!("SKIPPED disk-full test: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)");
        None
    }
}

#[test]
fn a_full_disk_fails_the_put_keeps_memory_working_and_loses_nothing() {
    let Some((_base, mnt)) = small_tmpfs() else {
        return;
    };
    let result = std::panic::catch_unwind(|| {
        let cache = disk_cache(&mnt, 16.0);
        let mut committed = Vec::new();
        let mut failure = None;
        for i in 0..400u64 {
            let value: Vec<u8> = (0..8192u64)
                .map(|j| (j * 2_654_435_761 % 251 + i) as u8)
                .collect();
            let key = format!("k{i}");
            match cache.put_with(
                &key,
                &value[..],
                zcache::PutOptions::new().compression(zcache::Codec::None),
            ) {
                Ok(_) => committed.push((key, value)),
                Err(e) => {
                    failure = Some((e, key, value));
                    break;
                }
            }
        }
        let (err, failed_key, failed_value) = failure.expect("a 1 MiB tmpfs must fill up");
        assert!(matches!(err, CacheError::NoSpace { .. }), "{err}");
        assert!(err.to_string().contains("no space left"), "{err}");
        assert!(cache.get_stats().disk_errors >= 1);
        // The memory tier keeps working: it holds the value whose disk write failed, and
        // serves the committed ones.
        assert_eq!(cache.get_bytes(&failed_key).unwrap(), Some(failed_value));
        for (k, v) in &committed {
            assert_eq!(cache.get_bytes(k).unwrap().as_ref(), Some(v), "{k}");
        }
        drop(cache);
        // Nothing committed was lost: reopen with memory off and read everything back.
        let reopened = disk_cache(&mnt, 0.0);
        for (k, v) in &committed {
            assert_eq!(reopened.get_bytes(k).unwrap().as_ref(), Some(v), "{k}");
        }
        assert!(std::fs::read_dir(&mnt).unwrap().all(|e| {
            !e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp.")
        }));
    });
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}
