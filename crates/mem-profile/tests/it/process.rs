use std::process::Command;
use std::time::Duration;

use mem_profile::{AnalysisConfig, profile_child};

const LEAK: &str = "import time\nkeep = []\nend = time.time() + 2.0\nwhile time.time() < end:\n    keep.append(bytearray(b'x' * (1 << 20)))\n    time.sleep(0.02)\n";
const CHURN: &str = "import time\nend = time.time() + 2.0\nwhile time.time() < end:\n    b = bytearray(b'x' * (100 << 20))\n    del b\n    time.sleep(0.01)\n";

fn run(code: &str) -> (std::process::ExitStatus, mem_profile::ProfileResult) {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .spawn()
        .expect("python3 is installed");
    profile_child(
        "py",
        &mut child,
        Duration::from_millis(50),
        &AnalysisConfig::default(),
    )
    .unwrap()
}

#[test]
fn python_leak_is_flagged_near_its_rate() {
    let (status, r) = run(LEAK);
    assert!(status.success());
    assert!(r.memory_leak_detected, "{}", r.summary());
    // 1 MB per 20 ms plus the loop's own time: a little under 180,000 MB/hour.
    assert!(
        (120_000.0..200_000.0).contains(&r.leak_rate_mb_per_hour),
        "{}",
        r.leak_rate_mb_per_hour
    );
    assert!(r.duration_s >= 2.0);
}

#[test]
fn python_churn_is_not_flagged() {
    let (status, r) = run(CHURN);
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
