//! Hostile inputs through the CLI: files whose decoding panics inside arrow-rs or parquet, IPC
//! lengths that lie, FIFOs and devices named like tables. Each ends with one `error:` line on
//! stderr naming the file, exit code 1, and nothing else: no panic text, no hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn membound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(args)
        // A panic hook that printed would print the most here.
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the membound binary runs")
}

/// `out` failed with exactly one line on stderr: `error: ` and the file's name.
fn assert_one_error_line(out: &Output, file: &Path) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let name = file.file_name().unwrap().to_string_lossy();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(name.as_ref()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

fn conformance(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/conformance")
        .join(rel)
}

/// A copy of a conformance file in `dir` with `patches` (offset, byte) applied.
fn mutant(dir: &Path, rel: &str, patches: &[(usize, u8)]) -> PathBuf {
    let mut bytes = std::fs::read(conformance(rel)).unwrap();
    for &(at, v) in patches {
        bytes[at] = v;
    }
    let p = dir.join(Path::new(rel).file_name().unwrap());
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn decoder_panics_are_reported_once_as_an_error() {
    let d = tempfile::tempdir().unwrap();
    // Each of these panics inside parquet (delta_byte_array.rs:101 "slice index starts at N but
    // ends at N-1"; column/reader/decoder.rs:374 "Decoder for dict should have been set") or
    // arrow-rs (a misaligned offsets buffer); the panic is caught and reported as an error.
    for (rel, patches) in [
        (
            "parquet/delta_byte_array.parquet",
            &[(12514, 0x80), (35451, 0x7f), (64213, 0x8f)][..],
        ),
        (
            "parquet/overflow_i16_page_cnt.parquet",
            &[
                (266019, 0x1b),
                (294980, 0x04),
                (312902, 0x80),
                (561628, 0x92),
            ][..],
        ),
        (
            "arrow-ipc/1.0.0-littleendian/generated_map.arrow",
            &[(472, 0x1d)][..],
        ),
    ] {
        let p = mutant(d.path(), rel, patches);
        for cmd in ["stream", "preview"] {
            let out = membound(&[cmd, p.to_str().unwrap()]);
            if out.status.success() {
                // `preview` may stop before the damaged page.
                assert_eq!(cmd, "preview", "{rel}");
                continue;
            }
            assert_one_error_line(&out, &p);
        }
    }
}

#[test]
fn ipc_errors_are_readable_one_liners() {
    let d = tempfile::tempdir().unwrap();
    let good = std::fs::read(conformance(
        "arrow-ipc/1.0.0-littleendian/generated_primitive.arrow",
    ))
    .unwrap();
    let n = good.len();
    let footer_len = i32::from_le_bytes(good[n - 10..n - 6].try_into().unwrap()) as usize;
    // A footer whose flatbuffer offsets point anywhere.
    let mut bad = good.clone();
    bad[n - 10 - footer_len..n - 10 - footer_len + 12].fill(0x41);
    let p = d.path().join("footer.arrow");
    std::fs::write(&p, &bad).unwrap();
    let out = membound(&["stream", p.to_str().unwrap()]);
    assert_one_error_line(&out, &p);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("malformed Arrow IPC footer"), "{err}");
    for debug in ["ErrorTrace", "{ ", "Some("] {
        assert!(!err.contains(debug), "{err}");
    }
    // A footer length past the file.
    let mut bad = good.clone();
    bad[n - 10..n - 6].copy_from_slice(&0x7fff_ff00i32.to_le_bytes());
    let p = d.path().join("footer_len.feather");
    std::fs::write(&p, &bad).unwrap();
    assert_one_error_line(&membound(&["preview", p.to_str().unwrap()]), &p);
}

/// Runs membound with a watchdog: a FIFO without a writer must not block it forever.
fn run_with_watchdog(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("membound {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_are_refused_not_read() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe.csv");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let zero = d.path().join("zero.csv");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (p, kind) in [(&fifo, "FIFO"), (&zero, "character device")] {
        for cmd in ["stream", "preview"] {
            let out = run_with_watchdog(&[cmd, p.to_str().unwrap()]);
            assert_one_error_line(&out, p);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(kind) && !err.contains("empty"), "{err}");
        }
    }
}
