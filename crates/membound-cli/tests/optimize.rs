//! `membound optimize` never destroys a file: OUT is written to a temporary file beside it and
//! renamed at the end, only over a regular file or nothing, and never over the input (a hard
//! link included).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn membound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(args)
        .output()
        .expect("the membound binary runs")
}

fn csv(dir: &Path, rows: usize) -> PathBuf {
    let p = dir.join("in.csv");
    let mut text = String::from("id,name,score\n");
    for i in 0..rows {
        text.push_str(&format!("{i},name{},{}.25\n", i % 50, i % 1000));
    }
    std::fs::write(&p, text).unwrap();
    p
}

fn one_error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    err
}

#[test]
fn writes_parquet_and_feather_and_replaces_an_old_output() {
    let d = tempfile::tempdir().unwrap();
    let input = csv(d.path(), 1000);
    for name in ["out.parquet", "out.feather"] {
        let out = d.path().join(name);
        std::fs::write(&out, b"an older file").unwrap();
        let r = membound(&["optimize", input.to_str().unwrap(), out.to_str().unwrap()]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let back = membound(&["stream", out.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&back.stdout).contains("1000 rows"),
            "{}",
            String::from_utf8_lossy(&back.stderr)
        );
    }
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}

#[cfg(unix)]
#[test]
fn a_hard_link_to_the_input_is_refused_and_the_input_kept() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("data.parquet");
    let input = csv(d.path(), 200);
    assert!(
        membound(&["optimize", input.to_str().unwrap(), src.to_str().unwrap()])
            .status
            .success()
    );
    let before = std::fs::read(&src).unwrap();
    let link = d.path().join("link.parquet");
    std::fs::hard_link(&src, &link).unwrap();
    let out = membound(&["optimize", src.to_str().unwrap(), link.to_str().unwrap()]);
    let err = one_error_line(&out);
    assert!(err.contains("same file as the input"), "{err}");
    assert_eq!(std::fs::read(&src).unwrap(), before);
    // The input itself under its own name, too.
    let out = membound(&["optimize", src.to_str().unwrap(), src.to_str().unwrap()]);
    one_error_line(&out);
    assert_eq!(std::fs::read(&src).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn symlinks_fifos_and_devices_are_refused_as_output() {
    let d = tempfile::tempdir().unwrap();
    let input = csv(d.path(), 10);
    let target = d.path().join("target.parquet");
    std::fs::write(&target, b"keep me").unwrap();
    let link = d.path().join("link.parquet");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = d.path().join("fifo.parquet");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let dev = d.path().join("null.parquet");
    std::os::unix::fs::symlink("/dev/null", &dev).unwrap();
    for (out, want) in [
        (&link, "symbolic link"),
        (&fifo, "FIFO"),
        (&dev, "symbolic link"),
    ] {
        let r = membound(&["optimize", input.to_str().unwrap(), out.to_str().unwrap()]);
        let err = one_error_line(&r);
        assert!(err.contains(want) && err.contains("refusing"), "{err}");
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
    assert!(Path::new("/dev/null").exists());
}

#[cfg(unix)]
#[test]
fn kill_9_while_writing_leaves_the_previous_output() {
    let d = tempfile::tempdir().unwrap();
    // Enough rows that the second pass takes a while.
    let input = csv(d.path(), 3_000_000);
    let out = d.path().join("out.parquet");
    let r = membound(&["optimize", input.to_str().unwrap(), out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let before = std::fs::read(&out).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(["optimize", input.to_str().unwrap(), out.to_str().unwrap()])
        .spawn()
        .unwrap();
    // Wait until the temporary output holds data (the second pass is writing), then kill.
    let deadline = Instant::now() + Duration::from_secs(300);
    let writing = loop {
        let tmp = std::fs::read_dir(d.path()).unwrap().flatten().find(|e| {
            e.file_name().to_string_lossy().contains(".tmp-")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        });
        if tmp.is_some() {
            break true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(writing, "never saw the temporary output being written");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        before,
        "the old output was touched"
    );
    let back = membound(&["stream", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&back.stdout).contains("3000000 rows"));
}
