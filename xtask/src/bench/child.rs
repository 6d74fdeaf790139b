//! Running one scenario in a child process, so its peak RSS is its own (from `wait4`'s rusage).

use std::io::Read;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// What a scenario child reported, plus what the OS says about it.
#[derive(Debug)]
pub struct ChildRun {
    /// The JSON object the child printed on its last stdout line.
    pub output: serde_json::Value,
    /// The child's peak resident set, from rusage (`ru_maxrss`).
    pub peak_rss_bytes: u64,
    /// Wall time of the whole child process, start-up included.
    pub wall: std::time::Duration,
}

impl ChildRun {
    pub fn f64(&self, key: &str) -> anyhow::Result<f64> {
        self.output
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("scenario output lacks number {key:?}: {}", self.output))
    }

    pub fn peak_rss_mb(&self) -> f64 {
        self.peak_rss_bytes as f64 / (1024.0 * 1024.0)
    }
}

/// Runs `xtask scenario NAME ARGS...` and waits for it with `wait4` to read its rusage.
pub fn run(name: &str, args: &[String]) -> anyhow::Result<ChildRun> {
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let mut all = vec!["scenario".to_owned(), name.to_owned()];
    all.extend_from_slice(args);
    run_program(&exe, &all, name)
}

/// Runs any program whose last stdout line is a JSON object (a scenario, or a peer's script).
pub fn run_program(
    program: &std::path::Path,
    args: &[String],
    name: &str,
) -> anyhow::Result<ChildRun> {
    let start = std::time::Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting scenario {name}"))?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    // Drain stderr on a thread so a chatty child cannot block on a full pipe.
    let err_pipe = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = err_pipe {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)
            .context("reading scenario output")?;
    }
    let (status, rusage) = wait4(child.id())?;
    let wall = start.elapsed();
    if let Ok(s) = err_thread.join() {
        stderr = s;
    }
    if status != 0 {
        bail!(
            "scenario {name} failed (wait status {status}): {}",
            stderr.trim()
        );
    }
    let last = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let output: serde_json::Value = serde_json::from_str(last).with_context(|| {
        format!(
            "scenario {name} printed no JSON result: {last:?}; stderr: {}",
            stderr.trim()
        )
    })?;
    Ok(ChildRun {
        output,
        peak_rss_bytes: rusage,
        wall,
    })
}

/// Waits for `pid`; returns its raw wait status and its peak RSS in bytes.
fn wait4(pid: u32) -> anyhow::Result<(i32, u64)> {
    wait4_with(pid, 0)?.context("wait4 returned no status for the scenario child")
}

/// `wait4(pid, options)` for a child of this process (`options` 0 blocks, `libc::WNOHANG`
/// polls): its raw wait status and peak RSS in bytes, or `None` while it is still running.
pub(crate) fn wait4_with(pid: u32, options: libc::c_int) -> anyhow::Result<Option<(i32, u64)>> {
    let pid = libc::pid_t::try_from(pid).context("child pid out of range")?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for the child we spawned and have not reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to a status word and an rusage for a child of this process.
        let r = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
        if r == pid {
            break;
        }
        if r == 0 {
            return Ok(None);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("waiting for a child process");
        }
    }
    // Linux reports ru_maxrss in KiB.
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    Ok(Some((status, peak)))
}
