//! Real processes: a writer killed with SIGKILL, two writers on one directory.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use crate::child::{lines_with, spawn};
use crate::{disk_cache, entry_files, value_of};

#[test]
fn sigkill_mid_write_never_leaves_a_torn_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(&format!("writer:{}", dir.path().display()));
    let mut committed = Vec::new();
    {
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while committed.len() < 60 {
            let line = lines.next().expect("the writer died early").unwrap();
            if let Some(i) = crate::child::after(&line, "committed ") {
                committed.push(i.parse::<u64>().unwrap());
            }
        }
        // Kill it while it is still writing.
        child.kill().unwrap();
        // Whatever it printed before dying was committed too.
        for line in lines.map_while(Result::ok) {
            if let Some(i) = crate::child::after(&line, "committed ") {
                committed.push(i.parse::<u64>().unwrap());
            }
        }
    }
    child.wait().unwrap();
    let cache = disk_cache(dir.path(), 8.0);
    for i in &committed {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(value_of(*i)),
            "k{i}"
        );
    }
    // Anything else present (written after the last line we saw) is intact, never torn.
    let max = committed.iter().max().copied().unwrap_or(0);
    for i in max + 1..max + 50 {
        let got = cache.get_bytes(&format!("k{i}")).unwrap();
        assert!(got.is_none() || got == Some(value_of(i)), "k{i} torn");
    }
    for s in 0..10 {
        assert_eq!(
            cache.get_bytes(&format!("shared{s}")).unwrap(),
            Some(value_of(1_000_000 + s))
        );
    }
    let st = cache.get_stats();
    assert_eq!(st.corrupt_entries, 0, "{st:?}");
    // The dead writer's temp file (if any) was removed when the directory was opened.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".tmp.")), "{names:?}");
}

#[test]
fn two_processes_share_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let mut a = spawn(&format!("range:0:150:{d}"));
    let mut b = spawn(&format!("range:150:300:{d}"));
    // Read while they write: every answer is either absent or exactly right.
    let reader = disk_cache(dir.path(), 0.0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 300 && std::time::Instant::now() < deadline {
        seen = 0;
        for i in 0..300u64 {
            if let Some(v) = reader.get_bytes(&format!("k{i}")).unwrap() {
                assert_eq!(v, value_of(i), "k{i}");
                seen += 1;
            }
        }
    }
    let mut out = String::new();
    for child in [&mut a, &mut b] {
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(lines_with(&out, "committed ").len(), 300);
    let cache = disk_cache(dir.path(), 0.0);
    for i in 0..300u64 {
        assert_eq!(
            cache.get_bytes(&format!("k{i}")).unwrap(),
            Some(value_of(i)),
            "k{i}"
        );
    }
    for s in 0..10 {
        assert_eq!(
            cache.get_bytes(&format!("shared{s}")).unwrap(),
            Some(value_of(1_000_000 + s))
        );
    }
    assert_eq!(entry_files(dir.path()).len(), 310);
    assert_eq!(
        cache.get_stats().corrupt_entries + reader.get_stats().corrupt_entries,
        0
    );
}
