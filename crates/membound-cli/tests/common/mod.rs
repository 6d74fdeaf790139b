//! Helpers shared by the CLI's test binaries.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `membound args`, failing the test (instead of hanging it) after 60 s.
pub fn membound(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_membound"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the membound binary runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("membound {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}
