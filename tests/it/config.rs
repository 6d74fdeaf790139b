//! `Config::from_env` against the real process environment, in a child process so the test
//! binary's own environment is never mutated.

use std::process::Command;

/// Re-runs this test binary on one test with extra environment variables.
fn child(test: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("MEMBOUND_CONFIG_CHILD", "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn env_child_reads_variables() {
    if std::env::var_os("MEMBOUND_CONFIG_CHILD").is_none() {
        return;
    }
    match membound::Config::from_env() {
        Ok(c) => println!(
            "CONFIG-OK {} {} {:?}",
            c.max_memory_mb, c.streaming_chunk_size, c.compression_method
        ),
        Err(e) => println!("CONFIG-ERR {e}"),
    }
}

#[test]
fn from_env_reads_the_process_environment() {
    let out = child(
        "config::env_child_reads_variables",
        &[
            ("BERTOPIC_MAX_MEMORY_MB", "1500"),
            ("BERTOPIC_STREAMING_CHUNK_SIZE", "8000"),
            ("BERTOPIC_COMPRESSION_METHOD", "zstd"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CONFIG-OK 1500 8000 Zstd"), "{text}");

    let out = child(
        "config::env_child_reads_variables",
        &[("BERTOPIC_COMPRESSION_METHOD", "brotli")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CONFIG-ERR")
            && text.contains("BERTOPIC_COMPRESSION_METHOD")
            && text.contains("brotli"),
        "{text}"
    );

    let out = child(
        "config::env_child_reads_variables",
        &[("BERTOPIC_MAX_MEMORY_MB", "-5")],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CONFIG-ERR")
            && text.contains("BERTOPIC_MAX_MEMORY_MB")
            && text.contains("-5"),
        "{text}"
    );
}
