//! A save is two files (blob, then metadata record). A kill between them must never leave a
//! reader with a mix: `stats` describing one save while `get` returns another.
//!
//! The interleavings are made deterministically (files of an older save put back), and for
//! real with a child process killed by SIGKILL while it re-saves one key at two precisions.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use zcache_service::{CacheService, Embeddings, ModelInfo, Precision};

use crate::common::{TestResult, texts, unit_vectors};

const KEY: &str = "k";

fn open(dir: &Path, read_only: bool) -> Result<CacheService, zcache_service::ServiceError> {
    CacheService::builder()
        .cache_dir(dir)
        .hot_tier(0)
        .read_only(read_only)
        .build()
}

fn matrix() -> Embeddings {
    unit_vectors(200, 48, 11)
}

/// Every entry file's bytes, by name.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("readable")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "zc"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable entry");
            (p, bytes)
        })
        .collect()
}

/// The entry file whose key (stored in the file) is `key`.
fn file_of(files: &BTreeMap<PathBuf, Vec<u8>>, key: &str) -> PathBuf {
    files
        .iter()
        .find(|(_, b)| b.windows(key.len()).any(|w| w == key.as_bytes()))
        .map(|(p, _)| p.clone())
        .unwrap_or_else(|| panic!("no file for {key}"))
}

/// What the listing says and what a read returns agree, whichever save they come from.
/// Returns the precision seen.
fn assert_consistent(
    s: &CacheService,
    original: &Embeddings,
) -> Result<Precision, Box<dyn std::error::Error>> {
    let stats = s.get_enhanced_cache_stats();
    let listed = stats
        .entries
        .iter()
        .find(|e| e.key == KEY)
        .ok_or("the entry is listed")?
        .clone();
    let meta = s.entry_meta(KEY).ok_or("indexed")?;
    assert_eq!(meta.precision, listed.precision);
    let (got, _) = s.get_cached_embeddings_fast(KEY)?.ok_or("a hit")?;
    match listed.precision {
        Precision::F32 => {
            assert!(listed.fidelity.exact, "{listed:?}");
            assert_eq!(&got, original, "listed f32, read something else");
        }
        p => {
            assert!(
                !listed.fidelity.exact && listed.fidelity.min_cosine < 1.0,
                "{listed:?}"
            );
            assert_eq!(
                got,
                p.round_trip(original.view())?,
                "listed {p}, read something else"
            );
        }
    }
    // After the read, the index still agrees.
    assert_eq!(
        s.entry_meta(KEY).ok_or("indexed")?.precision,
        listed.precision
    );
    Ok(listed.precision)
}

#[test]
fn a_record_that_does_not_name_its_blob_is_never_believed() -> TestResult {
    let e = matrix();
    let m = ModelInfo::new("m");
    let t = texts(e.rows(), "a");
    // (which file of the older f32 save to put back, the precision a reader must then see)
    for (restore, want) in [
        ("zcs/meta/", Precision::Int8),
        ("zcs/data/", Precision::F32),
    ] {
        let dir = tempfile::tempdir()?;
        let s = open(dir.path(), false)?;
        s.save_embeddings(KEY, &e, &t, &m, "h", Precision::F32)?;
        let old = snapshot(dir.path());
        s.save_embeddings(KEY, &e, &t, &m, "h", Precision::Int8)?;
        drop(s);
        // As if killed between the two renames of one save or the other.
        let path = file_of(&old, &format!("{restore}{KEY}"));
        std::fs::write(&path, &old[&path])?;
        // A read-only reader (what `embeddings stats|export` use) changes nothing and agrees.
        let before = snapshot(dir.path());
        assert_eq!(
            assert_consistent(&open(dir.path(), true)?, &e)?,
            want,
            "{restore}"
        );
        assert_eq!(snapshot(dir.path()), before, "read-only wrote something");
        // A writer re-derives the record from the blob, and agrees too, then and later.
        assert_eq!(
            assert_consistent(&open(dir.path(), false)?, &e)?,
            want,
            "{restore}"
        );
        assert_eq!(
            assert_consistent(&open(dir.path(), false)?, &e)?,
            want,
            "{restore}"
        );
    }
    Ok(())
}

/// Spawns this test binary as a child that re-saves one key forever (see `child_resaver`).
fn spawn_resaver(dir: &Path) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "crash::child_resaver",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZCS_IT_RESAVE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child")
}

#[test]
#[ignore = "the body of the child process of sigkill_during_resaves_never_mixes_two_saves"]
fn child_resaver() -> TestResult {
    let Some(dir) = std::env::var_os("ZCS_IT_RESAVE_DIR") else {
        return Ok(());
    };
    let s = open(Path::new(&dir), false)?;
    let e = matrix();
    let m = ModelInfo::new("m");
    let t = texts(e.rows(), "a");
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let p = if n % 2 == 0 {
            Precision::Int8
        } else {
            Precision::F32
        };
        s.save_embeddings(KEY, &e, &t, &m, "h", p)?;
        writeln!(out, "saved {n}")?;
        out.flush()?;
    }
    Ok(())
}

/// Reads the child's output until it has reported `n` saves.
fn wait_for_saves(child: &mut Child, n: u32) -> TestResult {
    let stdout = child.stdout.take().ok_or("piped stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut saved = 0;
    while saved < n {
        let line = lines.next().ok_or("the child died early")??;
        if line.contains("saved ") {
            saved += 1;
        }
    }
    Ok(())
}

#[test]
fn sigkill_during_resaves_never_mixes_two_saves() -> TestResult {
    let e = matrix();
    let dir = tempfile::tempdir()?;
    let mut seen = [0u32; 2];
    for round in 0..12u32 {
        let mut child = spawn_resaver(dir.path());
        // Let it get through a few saves, then kill it at a varying point of the next one.
        let waited = wait_for_saves(&mut child, 2 + round % 5);
        std::thread::sleep(std::time::Duration::from_micros(
            u64::from(round) * 397 % 3000,
        ));
        // It may have died already; either way it is reaped before going on.
        let _ = child.kill();
        child.wait()?;
        waited?;
        let p = assert_consistent(&open(dir.path(), true)?, &e)?;
        assert_consistent(&open(dir.path(), false)?, &e)?;
        seen[usize::from(p == Precision::F32)] += 1;
    }
    writeln!(
        std::io::stderr(),
        "after the kills: {} int8, {} f32",
        seen[0],
        seen[1]
    )?;
    Ok(())
}
