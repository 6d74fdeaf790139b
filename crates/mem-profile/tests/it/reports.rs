use std::time::Duration;

use mem_profile::{MemoryProfiler, ProfileError, ProfileResult};

#[test]
fn html_and_json_reports_round_trip_through_files() {
    // It allocates 4 MiB: not while another test reads this process's RSS series.
    let _s = crate::serial();
    let p = MemoryProfiler::builder()
        .snapshot_interval(Duration::from_millis(3))
        .build()
        .unwrap();
    p.start_profiling("report").unwrap();
    let v = std::hint::black_box(vec![1u8; 4 << 20]);
    std::thread::sleep(Duration::from_millis(40));
    let r = p.stop_profiling("report").unwrap();
    drop(v);
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    r.write_html(&html).unwrap();
    r.write_json(&json).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Memory profile: report"));
    let back: ProfileResult =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(back.snapshots.len(), r.snapshots.len());
    assert_eq!(back.session_name, r.session_name);
    assert_eq!(back.memory_leak_detected, r.memory_leak_detected);
    assert!((back.peak_memory_mb - r.peak_memory_mb).abs() < 1e-9);
    let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
    for key in [
        "duration_s",
        "start_memory_mb",
        "end_memory_mb",
        "peak_memory_mb",
        "memory_leak_detected",
        "leak_rate_mb_per_hour",
        "recommendations",
        "snapshots",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert!(r.summary().contains("session report"));
}

#[test]
fn writing_into_a_missing_directory_names_the_path() {
    let r = ProfileResult::from_snapshots("x", Vec::new(), &Default::default());
    let err = r.write_html("/nonexistent-dir/deeper/r.html").unwrap_err();
    assert!(matches!(err, ProfileError::Write { .. }));
    assert!(err.to_string().contains("/nonexistent-dir/deeper/r.html"));
}
