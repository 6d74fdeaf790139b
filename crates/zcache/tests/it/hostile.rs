//! Hostile directory contents: FIFOs, symlinks and directories named like entries, entries too
//! large for the reader, a file given as the directory, and read-only inspection.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use zcache::{CacheError, CompressedCache};

use crate::{disk_cache, entry_files, value_of};

/// Runs `f` on another thread and fails (instead of hanging the suite) if it takes over 30 s.
fn within_30s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// The name zcache gives `key`'s entry file (found by writing it once).
fn entry_name(key: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    disk_cache(dir.path(), 0.0).put_bytes(key, b"x").unwrap();
    let files = entry_files(dir.path());
    files[0].file_name().unwrap().to_string_lossy().into_owned()
}

fn read_only(dir: &Path, max_entry: u64) -> CompressedCache {
    CompressedCache::builder()
        .max_memory(0)
        .enable_disk_cache(dir)
        .cleanup_interval(Duration::ZERO)
        .max_entry_bytes(max_entry)
        .read_only(true)
        .build()
        .unwrap()
}

/// A directory with k0..k3, and under k4's name `make(path)` puts something else.
fn with_foreign(make: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = disk_cache(dir.path(), 0.0);
        for i in 0..4 {
            cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
        }
    }
    let path = dir.path().join(entry_name("k4"));
    make(&path);
    (dir, path)
}

#[test]
fn a_fifo_named_like_an_entry_is_foreign_and_never_opened() {
    let (dir, fifo) = with_foreign(mkfifo);
    let d = dir.path().to_owned();
    let (stats, verify, got, clear) = within_30s("opening a directory holding a FIFO", move || {
        let cache = disk_cache(&d, 0.0);
        let got = cache.get_bytes("k4").unwrap();
        let verify = cache.verify().unwrap();
        let stats = cache.get_stats();
        let clear = cache.clear().unwrap();
        (stats, verify, got, clear)
    });
    assert_eq!(got, None);
    assert_eq!((stats.disk_entries, stats.corrupt_entries), (4, 0));
    assert!(stats.foreign_files >= 1, "{stats:?}");
    assert_eq!((verify.good, verify.foreign, verify.corrupt), (4, 1, 0));
    assert_eq!(clear, 4, "only the four real entries");
    assert!(
        std::fs::symlink_metadata(&fifo).is_ok(),
        "the FIFO is left alone"
    );
}

#[test]
fn a_symlink_named_like_an_entry_is_not_followed_out_of_the_directory() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    // A perfectly valid entry for k4, but outside the directory.
    {
        let other = tempfile::tempdir().unwrap();
        disk_cache(other.path(), 0.0)
            .put_bytes("k4", &value_of(4))
            .unwrap();
        std::fs::copy(&entry_files(other.path())[0], &target).unwrap();
    }
    let (dir, link) = with_foreign(|p| std::os::unix::fs::symlink(&target, p).unwrap());
    let cache = disk_cache(dir.path(), 0.0);
    assert_eq!(cache.get_bytes("k4").unwrap(), None, "not read through");
    let v = cache.verify().unwrap();
    assert_eq!((v.good, v.foreign), (4, 1));
    assert!(!cache.remove("k4").unwrap(), "a symlink is not an entry");
    cache.clear().unwrap();
    assert!(std::fs::symlink_metadata(&link).is_ok());
    assert!(target.exists(), "nothing outside the directory is touched");
}

#[test]
fn a_directory_named_like_an_entry_is_foreign_not_corrupt() {
    let (dir, sub) = with_foreign(|p| std::fs::create_dir(p).unwrap());
    for _ in 0..2 {
        let cache = disk_cache(dir.path(), 0.0);
        let v = cache.verify().unwrap();
        assert_eq!((v.good, v.corrupt, v.foreign, v.removed), (4, 0, 1, 0));
        assert_eq!(cache.get_stats().corrupt_entries, 0);
    }
    assert!(sub.is_dir());
}

#[test]
fn an_entry_above_the_size_limit_is_skipped_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    {
        let cache = disk_cache(dir.path(), 0.0);
        cache.put_bytes("big", &big).unwrap();
        cache.put_bytes("small", &value_of(1)).unwrap();
    }
    // A reader whose limit is 1 MiB: the 3 MiB entry is not damage.
    for read_only_mode in [true, false] {
        let cache = CompressedCache::builder()
            .max_memory(0)
            .enable_disk_cache(dir.path())
            .cleanup_interval(Duration::ZERO)
            .max_entry_bytes(1 << 20)
            .read_only(read_only_mode)
            .build()
            .unwrap();
        assert_eq!(cache.get_bytes("big").unwrap(), None);
        let v = cache.verify().unwrap();
        assert_eq!((v.good, v.corrupt, v.skipped, v.removed), (1, 0, 1, 0));
        let s = cache.get_stats();
        assert_eq!(s.corrupt_entries, 0, "{s:?}");
        assert!(s.skipped_entries >= 1);
        assert_eq!(entry_files(dir.path()).len(), 2);
    }
    // A reader with a larger limit still has it.
    assert_eq!(
        disk_cache(dir.path(), 0.0).get_bytes("big").unwrap(),
        Some(big)
    );
}

#[test]
fn read_only_inspection_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = disk_cache(dir.path(), 0.0);
        for i in 0..3 {
            cache.put_bytes(&format!("k{i}"), &value_of(i)).unwrap();
        }
        cache
            .put_with(
                "brief",
                "x",
                zcache::PutOptions::new().ttl(Duration::from_millis(1)),
            )
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    // Damage k0's payload and k1's header.
    for (key, payload) in [("k0", true), ("k1", false)] {
        let f = dir.path().join(entry_name(key));
        let mut b = std::fs::read(&f).unwrap();
        let at = if payload { b.len() - 1 } else { 10 };
        b[at] ^= 0x40;
        std::fs::write(&f, b).unwrap();
    }
    std::fs::write(dir.path().join(".tmp.1.0.stale"), b"left by a dead writer").unwrap();
    let before: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let cache = read_only(dir.path(), 1 << 20);
    for i in 0..3 {
        let _ = cache.get_bytes(&format!("k{i}")).unwrap();
    }
    let v = cache.verify().unwrap();
    assert_eq!(v.good + v.corrupt + v.expired, 4, "{v:?}");
    assert_eq!((v.corrupt, v.expired, v.removed), (2, 1, 0), "{v:?}");
    let _ = cache.optimize();
    assert!(matches!(
        cache.put_bytes("new", b"x"),
        Err(CacheError::ReadOnly { .. })
    ));
    assert!(matches!(cache.clear(), Err(CacheError::ReadOnly { .. })));
    assert!(matches!(
        cache.remove("k0"),
        Err(CacheError::ReadOnly { .. })
    ));
    let s = cache.get_stats();
    assert!(s.read_only && s.removed_files == 0, "{s:?}");
    let mut after: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut before = before;
    before.sort();
    after.sort();
    assert_eq!(before, after, "nothing created or removed");
}

#[test]
fn a_file_given_as_the_directory_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"not a directory").unwrap();
    let err = CompressedCache::builder()
        .enable_disk_cache(&file)
        .build()
        .unwrap_err();
    assert!(matches!(err, CacheError::NotADirectory { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{}: not a directory", file.display())
    );
    // Read-only never creates a missing directory.
    let missing = dir.path().join("missing");
    assert!(
        CompressedCache::builder()
            .enable_disk_cache(&missing)
            .read_only(true)
            .build()
            .is_err()
    );
    assert!(!missing.exists());
}

#[test]
fn peek_reads_the_header_and_names_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let cache = disk_cache(dir.path(), 0.0);
    let put = cache.put_bytes("k", &value_of(3)).unwrap();
    let info = cache.peek("k").unwrap().expect("present");
    assert_eq!(
        (info.checksum, info.raw_bytes, info.stored_bytes),
        (put.checksum, put.raw_bytes, put.stored_bytes)
    );
    let again = cache.put_bytes("k", &value_of(4)).unwrap();
    assert_ne!(again.checksum, put.checksum);
    assert_eq!(cache.peek("k").unwrap().unwrap().checksum, again.checksum);
    assert_eq!(cache.peek("absent").unwrap(), None);
    // The memory tier answers with the same checksum.
    let mem = disk_cache(dir.path(), 8.0);
    let p = mem.put_bytes("m", &value_of(5)).unwrap();
    assert_eq!(mem.peek("m").unwrap().unwrap().checksum, p.checksum);
}
