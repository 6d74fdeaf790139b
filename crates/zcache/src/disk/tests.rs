//! The accounting of removals that fail, with failures injected (tests may run as root, where
//! a read-only directory does not stop a removal).

use std::sync::atomic::AtomicU64;

use super::files::fail_removals;
use super::{DiskStore, Removal};
use crate::CacheError;
use crate::codec::Codec;
use crate::entry::{Stored, now_ms};
use crate::value::ValueKind;

fn stored(len: usize, expires_ms: u64) -> Stored {
    Stored::new(
        ValueKind::Bytes,
        Codec::None,
        len as u64,
        now_ms(),
        expires_ms,
        vec![7u8; len].into(),
        0,
        0,
    )
}

fn entry_count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".zc")
        })
        .count()
}

fn store(dir: &std::path::Path, max_bytes: u64) -> DiskStore {
    DiskStore::open(dir, max_bytes, 1 << 20, false, false)
        .unwrap()
        .0
}

/// Resets the injection even when an assertion fails.
struct Failing;
impl Failing {
    fn on() -> Self {
        fail_removals(true);
        Self
    }
}
impl Drop for Failing {
    fn drop(&mut self) {
        fail_removals(false);
    }
}

#[test]
fn a_failed_clear_counts_only_what_went_and_keeps_the_rest_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), u64::MAX);
    for i in 0..4 {
        s.write(&format!("k{i}"), &stored(100, 0)).unwrap();
    }
    let err = {
        let _f = Failing::on();
        s.clear().unwrap_err()
    };
    match &err {
        CacheError::RemoveFailed {
            failed,
            removed,
            path,
            ..
        } => {
            assert_eq!((*failed, *removed), (4, 0));
            assert!(path.starts_with(dir.path()), "{err}");
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("could not remove 4 file(s)"), "{msg}");
    assert_eq!(entry_count(dir.path()), 4);
    assert_eq!(s.usage().0, 4, "the files are still there, still indexed");
    let failures = s.remove_failures();
    assert_eq!(failures.count, 4);
    assert!(failures.first.is_some_and(|f| f.contains(".zc")));
    // Once removals work again, clear removes (and reports) all four.
    assert_eq!(s.clear().unwrap(), 4);
    assert_eq!((entry_count(dir.path()), s.usage().0), (0, 0));
}

#[test]
fn failed_evictions_are_not_counted_and_stay_on_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), 1000);
    let evicted = {
        let _f = Failing::on();
        (0..5)
            .map(|i| s.write(&format!("k{i}"), &stored(400, 0)).unwrap())
            .sum::<u64>()
    };
    assert_eq!(evicted, 0, "nothing was really evicted");
    assert_eq!(entry_count(dir.path()), 5);
    assert_eq!(s.usage().0, 5);
    assert!(s.remove_failures().count > 0);
    assert_eq!(s.evict_to_fit(), 3);
    assert_eq!((entry_count(dir.path()), s.usage().0), (2, 2));
}

#[test]
fn a_failed_expiry_purge_takes_its_count_back() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), u64::MAX);
    s.write("old", &stored(10, now_ms() + 5)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let expirations = AtomicU64::new(0);
    {
        let _f = Failing::on();
        assert_eq!(s.purge_expired(&expirations), 0);
    }
    assert_eq!(expirations.into_inner(), 0);
    assert_eq!(s.usage().0, 1);
    let expirations = AtomicU64::new(0);
    assert_eq!(s.purge_expired(&expirations), 1);
    assert_eq!(expirations.into_inner(), 1);
    assert_eq!(entry_count(dir.path()), 0);
}

#[test]
fn verify_counts_failed_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), u64::MAX);
    s.write("a", &stored(100, 0)).unwrap();
    s.write("b", &stored(100, 0)).unwrap();
    let victim = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "zc"))
        .unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let counts = {
        let _f = Failing::on();
        s.verify(&crate::dict::Dicts::default()).unwrap()
    };
    assert_eq!(
        (
            counts.good,
            counts.corrupt,
            counts.removed,
            counts.remove_failed
        ),
        (1, 1, 0, 1)
    );
    assert!(victim.exists());
    let counts = s.verify(&crate::dict::Dicts::default()).unwrap();
    assert_eq!((counts.corrupt, counts.removed), (1, 1));
    assert!(!victim.exists());
}

#[test]
fn a_read_only_store_removes_nothing_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), u64::MAX);
    s.write("gone-soon", &stored(10, now_ms() + 5)).unwrap();
    s.write("kept", &stored(10, 0)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    drop(s);
    let (ro, report) = DiskStore::open(dir.path(), 1, 1 << 20, false, true).unwrap();
    assert_eq!((report.entries, report.expired), (1, 1));
    assert_eq!(ro.evict_to_fit(), 0);
    assert_eq!(ro.purge_expired(&AtomicU64::new(0)), 0);
    assert!(matches!(ro.clear(), Err(CacheError::ReadOnly { .. })));
    assert!(matches!(
        ro.remove("kept"),
        Err(CacheError::ReadOnly { .. })
    ));
    assert!(matches!(
        ro.write("new", &stored(1, 0)),
        Err(CacheError::ReadOnly { .. })
    ));
    assert_eq!(ro.discard(dir.path(), None), Removal::Kept);
    assert_eq!(entry_count(dir.path()), 2);
    // A missing directory is not created in read-only mode.
    let missing = dir.path().join("missing");
    assert!(DiskStore::open(&missing, 1, 1, false, true).is_err());
    assert!(!missing.exists());
}
