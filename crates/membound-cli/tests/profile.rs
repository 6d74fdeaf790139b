//! End-to-end tests of `membound profile` on real Python and Rust programs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn membound(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_membound"))
        .arg("profile")
        .args(args)
        .output()
        .expect("membound runs")
}

fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one JSON object: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const PY_LEAK: &str = "import time\nkeep = []\nstart = time.time()\nwhile time.time() < start + 3.0:\n    keep.append(bytearray(b'x' * (1 << 20)))\n    time.sleep(0.02)\nprint('truth_mb_per_hour=%f' % (len(keep) / (time.time() - start) * 3600))\n";
const PY_CHURN: &str = "import time\nend = time.time() + 3.0\nwhile time.time() < end:\n    b = bytearray(100 << 20)\n    b[::4096] = b'x' * len(b[::4096])\n    del b\n";

/// The Rust fixture, compiled once with rustc into a temporary directory.
fn grow() -> &'static Path {
    static BIN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, bin) = BIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("grow");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grow.rs");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        let st = Command::new(rustc)
            .args(["-O", "--edition", "2021", "-o"])
            .arg(&bin)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "compiling the fixture");
        (dir, bin)
    });
    bin
}

/// The leak rate the program itself measured (it prints `truth_mb_per_hour=X`; with `--json`
/// its stdout goes to stderr).
fn truth(out: &Output) -> f64 {
    let err = String::from_utf8_lossy(&out.stderr);
    err.split("truth_mb_per_hour=")
        .nth(1)
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no truth in {err}"))
}

/// Heavy tests one at a time: on 2 cores, parallel runs slow the programs' loops down.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static M: std::sync::Mutex<()> = std::sync::Mutex::new(());
    M.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn assert_leak_near_180k(v: &serde_json::Value, truth: f64) {
    assert_eq!(v["memory_leak_detected"], true, "{v}");
    let rate = v["leak_rate_mb_per_hour"].as_f64().unwrap();
    // 1 MB per 20 ms is 180,000 MB/hour; the loop's own time makes the real rate lower, so
    // compare with what the program measured, and with the nominal rate loosely.
    assert!(
        (rate - truth).abs() < 0.25 * truth,
        "rate {rate} vs truth {truth}"
    );
    assert!((100_000.0..=190_000.0).contains(&rate), "rate {rate}");
    assert!(v["duration_s"].as_f64().unwrap() >= 3.0);
    // The program kept `truth` MB/hour for its 3 s: about truth / 1200 MB at the end (fewer
    // than 150 MB when a loaded machine slows its loop down).
    let kept_mb = truth * 3.0 / 3600.0;
    let peak = v["peak_memory_mb"].as_f64().unwrap();
    assert!(
        peak > 0.75 * kept_mb,
        "peak {peak} MB, kept {kept_mb:.0} MB"
    );
    assert!(v["snapshots"].as_array().unwrap().len() >= 20);
    assert!(
        v["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("Leak"))
    );
}

#[test]
fn python_leak_is_flagged_with_its_rate_and_report() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("leak.html");
    let out = membound(&[
        "--json",
        "--report",
        report.to_str().unwrap(),
        "--",
        "python3",
        "-c",
        PY_LEAK,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_leak_near_180k(&json(&out), truth(&out));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains("Leak detected"));
}

#[test]
fn python_churn_is_not_flagged() {
    let _s = serial();
    let out = membound(&["--json", "--", "python3", "-c", PY_CHURN]);
    assert!(out.status.success());
    let v = json(&out);
    assert_eq!(v["memory_leak_detected"], false, "{v}");
    assert!(v["peak_memory_mb"].as_f64().unwrap() > 50.0, "{v}");
}

#[test]
fn rust_leak_is_flagged_and_churn_is_not() {
    let bin = grow().to_str().unwrap().to_owned();
    let _s = serial();
    let out = membound(&["--json", "--", &bin, "leak"]);
    assert_leak_near_180k(&json(&out), truth(&out));
    let out = membound(&["--interval-ms", "50", "--", &bin, "churn"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("leak:         no"), "{text}");
    assert!(
        text.contains("duration:") && text.contains("peak"),
        "{text}"
    );
}

#[test]
fn descendants_are_counted() {
    let _s = serial();
    // The shell itself is small; the memory is in the Python grandchild.
    let script = format!(
        "python3 -c \"{}\"",
        "import time; b = bytearray(b'x' * (80 << 20)); time.sleep(1.0)"
    );
    let v = json(&membound(&[
        "--json",
        "--interval-ms",
        "50",
        "--",
        "sh",
        "-c",
        &script,
    ]));
    assert!(v["peak_memory_mb"].as_f64().unwrap() > 75.0, "{v}");
}

#[test]
fn exit_codes_pass_through() {
    let out = membound(&["--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let out = membound(&["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(128 + 15));
    let out = membound(&["--json", "--", "sh", "-c", "echo from-the-command"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("from-the-command"));
    json(&out);
}

#[test]
fn missing_command_is_an_error() {
    // Like a shell: 127 for a command that does not exist, one `error:` line.
    let out = membound(&["--", "membound-no-such-command-xyz"]);
    assert_eq!(out.status.code(), Some(127));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error:") && err.contains("membound-no-such-command-xyz"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // 126 for one that exists but cannot be run.
    let dir = tempfile::tempdir().unwrap();
    let not_exec = dir.path().join("data.txt");
    std::fs::write(&not_exec, "not a program").unwrap();
    let out = membound(&["--", not_exec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126));
    let out = membound(&[]);
    assert!(!out.status.success());
}

#[test]
fn a_report_that_cannot_be_written_keeps_the_commands_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("no-such-dir").join("r.html");
    let out = membound(&[
        "--report",
        report.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("r.html"), "{err}");
    // The summary is still printed, without a report line.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("exit code:    3") && !text.contains("report:"),
        "{text}"
    );
    // A report over a directory is refused the same way; a good one is written.
    let out = membound(&["--report", dir.path().to_str().unwrap(), "--", "true"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
    let good = dir.path().join("r.html");
    let out = membound(&["--report", good.to_str().unwrap(), "--", "true"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_to_string(&good).unwrap().contains("<html"));
}
