//! `memkit cache stats|verify|clear` on a real cache directory with a damaged entry.

use std::path::{Path, PathBuf};
use std::process::Command;

fn memkit(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_memkit"))
        .args(args)
        .output()
        .expect("the memkit binary runs")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Every entry file (`*.zc`) below `dir`.
fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "zc") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn verify_finds_the_damaged_entry_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = zcache::CompressedCache::builder()
            .enable_disk_cache(dir.path())
            .build()
            .unwrap();
        for i in 0..5 {
            cache
                .put_str(&format!("doc-{i}"), &format!("document {i} ").repeat(200))
                .unwrap();
        }
        cache.flush();
    }
    let files = entry_files(dir.path());
    assert_eq!(files.len(), 5, "{files:?}");
    // Flip the last payload byte of one entry: its checksum no longer matches.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&files[0], bytes).unwrap();

    let d = dir.path().to_str().unwrap();
    let v = json(&memkit(&["cache", "verify", "--dir", d, "--json"]));
    assert_eq!(
        (v["good"].as_u64(), v["corrupt"].as_u64()),
        (Some(4), Some(1)),
        "{v}"
    );
    let v = json(&memkit(&["cache", "stats", "--dir", d, "--json"]));
    assert_eq!(v["disk_entries"].as_u64(), Some(4), "{v}");
    let v = json(&memkit(&["cache", "clear", "--dir", d, "--json"]));
    assert_eq!(v["removed"].as_u64(), Some(4), "{v}");
    assert!(entry_files(dir.path()).is_empty());

    let out = memkit(&[
        "cache",
        "stats",
        "--dir",
        dir.path().join("missing").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error:"));
}
