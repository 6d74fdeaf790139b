use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use mem_profile::{AnalysisConfig, profile_child};

/// Leaks 1 MB every 20 ms for 2 s, then prints how many MB it kept over how many seconds of
/// leaking, so the test compares with what really happened on a machine that may be loaded.
const LEAK: &str = "import time\nkeep = []\nstart = time.time()\nend = start + 2.0\nwhile time.time() < end:\n    keep.append(bytearray(b'x' * (1 << 20)))\n    time.sleep(0.02)\nprint(len(keep), time.time() - start)\n";
const CHURN: &str = "import time\nend = time.time() + 2.0\nwhile time.time() < end:\n    b = bytearray(b'x' * (100 << 20))\n    del b\n    time.sleep(0.01)\n";

/// Runs a Python program under `profile_child`; returns its status, the result and its stdout.
fn run(code: &str) -> (std::process::ExitStatus, mem_profile::ProfileResult, String) {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is installed");
    let (status, r) = profile_child(
        "py",
        &mut child,
        Duration::from_millis(50),
        &AnalysisConfig::default(),
    )
    .unwrap();
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out).unwrap();
    }
    (status, r, out)
}

#[test]
fn python_leak_is_flagged_near_its_rate() {
    let (status, r, out) = run(LEAK);
    assert!(status.success());
    assert!(r.memory_leak_detected, "{}", r.summary());
    // 1 MB per 20 ms plus the loop's own time: a little under 180,000 MB/hour on an idle
    // machine, less on a loaded one; the program reports what it really kept and when.
    let mut fields = out.split_whitespace().map(|f| f.parse::<f64>());
    let (Some(Ok(mb)), Some(Ok(secs))) = (fields.next(), fields.next()) else {
        panic!("unexpected output from the Python program: {out:?}");
    };
    // One 1 MiB bytearray per entry.
    let truth = mb / secs * 3600.0;
    assert!(
        truth > 50_000.0,
        "the program leaked only {mb} MB in {secs} s"
    );
    let err = (r.leak_rate_mb_per_hour - truth).abs() / truth;
    assert!(
        err < 0.25,
        "rate {:.0} MB/h vs truth {truth:.0} MB/h",
        r.leak_rate_mb_per_hour
    );
    assert!(r.duration_s >= 2.0);
}

#[test]
fn python_churn_is_not_flagged() {
    let (status, r, _) = run(CHURN);
    assert!(status.success());
    assert!(r.peak_memory_mb > 90.0, "{}", r.summary());
    assert!(!r.memory_leak_detected, "{}", r.summary());
}

#[test]
fn exit_status_is_passed_through() {
    let mut child = Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    let (status, _) = profile_child(
        "sh",
        &mut child,
        Duration::from_millis(5),
        &AnalysisConfig::default(),
    )
    .unwrap();
    assert_eq!(status.code(), Some(3));
}
