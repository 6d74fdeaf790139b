//! Running one scenario in a child process, so its peak RSS is its own (from `wait4`'s rusage).

use std::io::Read;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

use super::scenarios::{RunScenario, Scenario};

/// What the OS says about a child process.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// The child's peak resident set, from rusage (`ru_maxrss`).
    pub peak_rss_bytes: u64,
    /// Wall time of the whole child process, start-up included.
    pub wall: std::time::Duration,
    /// CPU time of the child and its threads, user plus system (rusage).
    pub cpu: std::time::Duration,
}

impl Usage {
    pub fn peak_rss_mb(&self) -> f64 {
        mem_monitor::bytes_to_mb(self.peak_rss_bytes)
    }
}

/// What a child reported (its typed result), plus what the OS says about it.
#[derive(Debug)]
pub struct ChildRun<T> {
    /// The JSON object the child printed on its last stdout line.
    pub output: T,
    pub usage: Usage,
}

/// Runs `xtask scenario NAME --ARG VALUE...` and waits for it with `wait4` to read its rusage.
pub fn run<S: RunScenario>(scenario: S) -> anyhow::Result<ChildRun<S::Output>> {
    let scenario: Scenario = scenario.into();
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    let mut args = vec!["scenario".to_owned()];
    args.extend(scenario.to_args()?);
    let name = args.get(1).cloned().unwrap_or_default();
    run_program(&exe, &args, &name)
}

/// Runs any program whose last stdout line is a JSON object of type `T` (a scenario, or a
/// peer's script).
pub fn run_program<T: DeserializeOwned>(
    program: &std::path::Path,
    args: &[String],
    name: &str,
) -> anyhow::Result<ChildRun<T>> {
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
    let (status, peak_rss_bytes, cpu) = wait4(child.id())?;
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
    let output = serde_json::from_str(last).with_context(|| {
        format!(
            "scenario {name} printed no JSON result of the expected shape: {last:?}; stderr: {}",
            stderr.trim()
        )
    })?;
    Ok(ChildRun {
        output,
        usage: Usage {
            peak_rss_bytes,
            wall,
            cpu,
        },
    })
}

/// Waits for `pid`; returns its raw wait status, its peak RSS in bytes and its CPU time.
fn wait4(pid: u32) -> anyhow::Result<(i32, u64, std::time::Duration)> {
    wait4_rusage(pid, 0)?.context("wait4 returned no status for the scenario child")
}

/// `wait4(pid, options)` for a child of this process (`options` 0 blocks, `libc::WNOHANG`
/// polls): its raw wait status and peak RSS in bytes, or `None` while it is still running.
pub(crate) fn wait4_with(pid: u32, options: libc::c_int) -> anyhow::Result<Option<(i32, u64)>> {
    Ok(wait4_rusage(pid, options)?.map(|(status, peak, _)| (status, peak)))
}

/// [`wait4_with`], with the child's CPU time (user plus system).
fn wait4_rusage(
    pid: u32,
    options: libc::c_int,
) -> anyhow::Result<Option<(i32, u64, std::time::Duration)>> {
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
    let secs = |t: libc::timeval| {
        std::time::Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + std::time::Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok(Some((
        status,
        peak,
        secs(usage.ru_utime) + secs(usage.ru_stime),
    )))
}
