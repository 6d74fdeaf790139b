//! `membound monitor`: the command-line contract of the workspace issue.

use std::process::Command;

fn membound(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(args)
        .output()
        .expect("the membound binary runs")
}

#[test]
fn json_lines_one_per_sample_with_the_contract_fields() {
    let out = membound(&["monitor", "--count", "3", "--interval-ms", "20", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert!(v["process_mb"].as_f64().is_some_and(|mb| mb > 0.0));
        assert!(v["system_used_percent"].as_f64().is_some());
        assert!(v.get("cgroup_limit_mb").is_some() && v.get("psi_some_avg10").is_some());
        assert!(matches!(
            v["level"].as_str(),
            Some("low" | "medium" | "high")
        ));
        // Each key once: a duplicate would be silently dropped by a JSON parser.
        assert_eq!(line.matches("\"level\"").count(), 1, "{line}");
        assert_eq!(line.matches("\"system_used_percent\"").count(), 1, "{line}");
    }
}

#[test]
fn table_rows_and_bad_arguments() {
    let out = membound(&["monitor", "--count", "2", "--interval-ms", "10"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 3, "a header and two rows: {text}");
    for bad in [
        &["monitor", "--count", "nope"][..],
        &["monitor", "--interval-ms", "0"][..],
        // Zero samples is refused rather than taken as one (or as "forever").
        &["monitor", "--count", "0"][..],
    ] {
        let out = membound(bad);
        assert!(!out.status.success(), "{bad:?} was accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error:"));
        assert!(out.stdout.is_empty(), "{bad:?} printed a sample");
    }
}

#[test]
fn pid_samples_that_process() {
    // A child that holds ~64 MiB resident while it is watched.
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import sys,time\nb=bytearray(64<<20)\nfor i in range(0,len(b),4096): b[i]=1\nprint('ready',flush=True)\ntime.sleep(30)",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let pid = child.id().to_string();
    let out = membound(&[
        "monitor",
        "--pid",
        &pid,
        "--count",
        "3",
        "--interval-ms",
        "10",
        "--json",
    ]);
    child.kill().ok();
    child.wait().ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3);
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["pid"].as_u64(), Some(u64::from(child.id())));
        assert!(v["process_mb"].as_f64().unwrap() > 60.0, "{l}");
    }
    // A pid that runs nothing is a clean error.
    let out = membound(&["monitor", "--pid", "4000000", "--count", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: no process with pid 4000000"));
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = membound(&["completions", shell]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("monitor"));
    }
    assert!(!membound(&["completions", "tcsh"]).status.success());
}
