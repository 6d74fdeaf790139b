//! `membound cache stats|verify|optimize|clear` on real cache directories: damaged entries,
//! entries over `--max-entry-mb`, FIFOs, symlinks and directories named like entries, a file
//! given as the directory, and a directory where removals fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::membound;

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// The command failed with exactly one line `error: ...` on stderr; returns it.
fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.starts_with("error: "), "{err:?}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    err.trim_end().to_owned()
}

/// Every entry file (`*.zc`) directly in `dir`, whatever its type.
fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zc"))
        .collect();
    found.sort();
    found
}

/// A cache in `dir` holding `doc-0..doc-{n}`.
fn populate(dir: &Path, n: usize) {
    let cache = zcache::CompressedCache::builder()
        .enable_disk_cache(dir)
        .build()
        .unwrap();
    for i in 0..n {
        cache
            .put_str(&format!("doc-{i}"), &format!("document {i} ").repeat(200))
            .unwrap();
    }
    cache.flush();
}

/// The file name zcache gives `key`'s entry.
fn entry_name(key: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cache = zcache::CompressedCache::builder()
        .enable_disk_cache(dir.path())
        .build()
        .unwrap();
    cache.put_str(key, "x").unwrap();
    let files = entry_files(dir.path());
    files[0].file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn verify_finds_the_damaged_entry_and_only_repair_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 5);
    let files = entry_files(dir.path());
    assert_eq!(files.len(), 5, "{files:?}");
    // Flip the last payload byte of one entry: its checksum no longer matches.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&files[0], bytes).unwrap();

    let d = dir.path().to_str().unwrap();
    for _ in 0..2 {
        let v = json(&membound(&["cache", "verify", "--dir", d, "--json"]));
        assert_eq!(
            (
                v["good"].as_u64(),
                v["corrupt"].as_u64(),
                v["removed"].as_u64()
            ),
            (Some(4), Some(1), Some(0)),
            "{v}"
        );
        assert_eq!(entry_files(dir.path()).len(), 5, "verify is read-only");
    }
    let v = json(&membound(&[
        "cache", "verify", "--dir", d, "--json", "--repair",
    ]));
    assert_eq!(
        (v["corrupt"].as_u64(), v["removed"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert!(!files[0].exists());
    let v = json(&membound(&["cache", "stats", "--dir", d, "--json"]));
    assert_eq!(v["disk_entries"].as_u64(), Some(4), "{v}");
    let v = json(&membound(&["cache", "clear", "--dir", d, "--json"]));
    assert_eq!(v["removed"].as_u64(), Some(4), "{v}");
    assert!(entry_files(dir.path()).is_empty());

    let missing = dir.path().join("missing");
    let out = membound(&["cache", "stats", "--dir", missing.to_str().unwrap()]);
    assert_eq!(
        one_error_line(&out),
        format!("error: {}: no such directory", missing.display())
    );
}

#[test]
fn an_entry_over_max_entry_mb_is_skipped_never_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = zcache::CompressedCache::builder()
            .enable_disk_cache(dir.path())
            .build()
            .unwrap();
        let big: Vec<u8> = (0..3u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        cache.put_bytes("big", &big).unwrap();
        cache.put_str("small", "a small entry").unwrap();
    }
    let d = dir.path().to_str().unwrap();
    let s = json(&membound(&[
        "cache",
        "stats",
        "--dir",
        d,
        "--json",
        "--max-entry-mb",
        "1",
    ]));
    assert_eq!(
        (
            s["disk_entries"].as_u64(),
            s["skipped_entries"].as_u64(),
            s["corrupt_entries"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{s}"
    );
    for repair in [false, true] {
        let mut args = vec![
            "cache",
            "verify",
            "--dir",
            d,
            "--json",
            "--max-entry-mb",
            "1",
        ];
        if repair {
            args.push("--repair");
        }
        let v = json(&membound(&args));
        assert_eq!(
            (
                v["good"].as_u64(),
                v["skipped"].as_u64(),
                v["corrupt"].as_u64(),
                v["removed"].as_u64()
            ),
            (Some(1), Some(1), Some(0), Some(0)),
            "{v}"
        );
    }
    let out = membound(&["cache", "verify", "--dir", d, "--max-entry-mb", "1"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("skipped (over --max-entry-mb)  1"),
        "{table}"
    );
    assert_eq!(entry_files(dir.path()).len(), 2, "nothing was deleted");
    let v = json(&membound(&["cache", "verify", "--dir", d, "--json"]));
    assert_eq!(v["good"].as_u64(), Some(2), "{v}");
}

#[test]
fn fifos_symlinks_and_directories_named_like_entries_never_hang_and_stay() {
    let outside = tempfile::tempdir().unwrap();
    let precious = outside.path().join("precious");
    std::fs::write(&precious, b"outside the cache").unwrap();
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path(), 3);
    let fifo = dir.path().join(entry_name("fifo"));
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let link = dir.path().join(entry_name("link"));
    std::os::unix::fs::symlink(&precious, &link).unwrap();
    let sub = dir.path().join(entry_name("dir"));
    std::fs::create_dir(&sub).unwrap();
    let d = dir.path().to_str().unwrap();

    let s = json(&membound(&["cache", "stats", "--dir", d, "--json"]));
    assert_eq!(
        (
            s["disk_entries"].as_u64(),
            s["foreign_files"].as_u64(),
            s["corrupt_entries"].as_u64()
        ),
        (Some(3), Some(3), Some(0)),
        "{s}"
    );
    for args in [
        &["cache", "verify", "--dir", d, "--json"][..],
        &["cache", "verify", "--dir", d, "--json", "--repair"][..],
    ] {
        let v = json(&membound(args));
        assert_eq!(
            (
                v["good"].as_u64(),
                v["foreign"].as_u64(),
                v["corrupt"].as_u64(),
                v["removed"].as_u64()
            ),
            (Some(3), Some(3), Some(0), Some(0)),
            "{v}"
        );
    }
    let o = json(&membound(&[
        "cache",
        "optimize",
        "--dir",
        d,
        "--json",
        "--max-disk-mb",
        "0",
    ]));
    assert_eq!(o["disk_evicted"].as_u64(), Some(3), "{o}");
    populate(dir.path(), 2);
    let c = json(&membound(&["cache", "clear", "--dir", d, "--json"]));
    assert_eq!(
        (c["removed"].as_u64(), c["foreign"].as_u64()),
        (Some(2), Some(3)),
        "{c}"
    );
    assert!(
        !std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(sub.is_dir());
    assert_eq!(std::fs::read(&precious).unwrap(), b"outside the cache");
}

#[test]
fn a_file_given_as_the_directory_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let f = file.to_str().unwrap();
    for action in ["stats", "verify", "optimize", "clear"] {
        let out = membound(&["cache", action, "--dir", f]);
        assert_eq!(one_error_line(&out), format!("error: {f}: not a directory"));
    }
}

/// A directory whose files cannot be removed, for this test's lifetime: mode 0555, or, where
/// that does not stop this user (root), a read-only bind mount. `None` (with the reason
/// printed) where neither works.
struct Unremovable {
    dir: PathBuf,
    mounted: bool,
}

impl Unremovable {
    #[expect(clippy::print_stdout, reason = "a skipped test says why")]
    fn make(dir: &Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        let writable = || {
            let probe = dir.join(".probe");
            let ok = std::fs::write(&probe, b"").is_ok();
            let _ = std::fs::remove_file(&probe);
            ok
        };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        if !writable() {
            return Some(Self {
                dir: dir.to_owned(),
                mounted: false,
            });
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if run(&["--bind"]) {
            let ro = Command::new("mount")
                .args(["-o", "remount,bind,ro"])
                .arg(dir)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            let guard = Self {
                dir: dir.to_owned(),
                mounted: true,
            };
            if ro && !writable() {
                return Some(guard);
            }
        }
        println!(
            "SKIPPED read-only directory test: mode 0555 does not stop this user (root) and a \
             read-only bind mount is not permitted here"
        );
        None
    }
}

impl Drop for Unremovable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
        let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn removals_that_fail_are_reported_and_fail_the_command() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    populate(&dir, 4);
    let d = dir.to_str().unwrap();
    let Some(_guard) = Unremovable::make(&dir) else {
        return;
    };
    let out = membound(&["cache", "clear", "--dir", d, "--json"]);
    let err = one_error_line(&out);
    assert!(
        err.starts_with(&format!(
            "error: {d}: could not remove 4 file(s); first: {d}/"
        )),
        "{err}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["removed"].as_u64(), report["remove_failed"].as_u64()),
        (Some(0), Some(4)),
        "{report}"
    );
    let out = membound(&[
        "cache",
        "optimize",
        "--dir",
        d,
        "--json",
        "--max-disk-mb",
        "0",
    ]);
    let err = one_error_line(&out);
    assert!(err.contains("could not remove"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            report["disk_evicted"].as_u64(),
            report["disk_entries"].as_u64()
        ),
        (Some(0), Some(4)),
        "{report}"
    );
    assert_eq!(entry_files(&dir).len(), 4);
    // Inspection still works on a read-only directory.
    let v = json(&membound(&["cache", "verify", "--dir", d, "--json"]));
    assert_eq!(v["good"].as_u64(), Some(4), "{v}");
}
