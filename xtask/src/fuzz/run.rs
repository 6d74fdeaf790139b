//! Running the CLI on one mutant: captured (bounded) output, a wall-clock timeout and an RSS cap
//! enforced by polling `/proc/PID/status`, and the peak RSS from `wait4`'s rusage.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::bench::child::wait4_with;

/// Bytes kept of each of stdout and stderr: the first 48 KiB and the last 16 KiB.
const KEEP_HEAD: usize = 48 << 10;
const KEEP_TAIL: usize = 16 << 10;
/// Longest pause between two polls of the child.
const MAX_POLL: Duration = Duration::from_millis(10);

/// The limits a child runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time before the child's process group is killed.
    pub timeout: Duration,
    /// Resident set size before the child's process group is killed.
    pub rss_cap_bytes: u64,
}

/// Why the harness killed a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    /// It ran past the timeout.
    Timeout,
    /// Its RSS went over the cap.
    RssCap,
}

/// What one child run did.
#[derive(Debug)]
pub struct Outcome {
    /// The raw wait status.
    pub status: i32,
    /// Set when the harness killed the child.
    pub killed: Option<Killed>,
    /// The child's own peak RSS in bytes: `ru_maxrss` when it is above the harness's own
    /// high-water mark, else the last `VmHWM` polled (see [`run`]).
    pub peak_rss: u64,
    /// `ru_maxrss` from `wait4`, in bytes.
    pub rusage_peak: u64,
    /// The harness's own peak RSS when the child ended, in bytes.
    pub harness_peak: u64,
    /// The last `VmHWM` read while polling, in bytes (the child's own high-water mark, without
    /// what it reached after the last poll).
    pub hwm: u64,
    /// Wall time.
    pub wall: Duration,
    /// Captured stdout (bounded).
    pub stdout: String,
    /// Captured stderr (bounded).
    pub stderr: String,
}

impl Outcome {
    /// The exit code, if the child exited normally.
    pub fn exit_code(&self) -> Option<i32> {
        libc::WIFEXITED(self.status).then(|| libc::WEXITSTATUS(self.status))
    }

    /// The signal that ended the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        libc::WIFSIGNALED(self.status).then(|| libc::WTERMSIG(self.status))
    }

    /// "12.3 MB", or "under 63 MB" when the child stayed below the harness's own high-water
    /// mark (then only the polled `VmHWM` is known: "under 63 MB, 5.1 MB seen").
    pub fn describe_peak(&self) -> String {
        let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
        if self.rusage_peak > self.harness_peak {
            format!("{:.1} MB", mb(self.peak_rss))
        } else {
            format!(
                "under {:.0} MB, {:.1} MB seen",
                mb(self.harness_peak),
                mb(self.hwm)
            )
        }
    }

    /// "exit code N" or "signal N (NAME)", with the harness's reason when it killed the child.
    pub fn describe_status(&self) -> String {
        let base = match (self.exit_code(), self.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(sig)) => format!("signal {sig} ({})", signal_name(sig)),
            _ => format!("wait status {:#x}", self.status),
        };
        match self.killed {
            Some(Killed::Timeout) => format!("{base}, killed by the harness at the timeout"),
            Some(Killed::RssCap) => format!("{base}, killed by the harness at the RSS cap"),
            None => base,
        }
    }
}

/// The usual name of a signal number.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTRAP => "SIGTRAP",
        _ => "?",
    }
}

/// Runs `program args` in its own process group with stdin closed, under `limits`.
///
/// The peak: Linux starts a child's `ru_maxrss` at its parent's high-water mark (`exec` records
/// the old address space's), so `ru_maxrss` is the child's own peak only when it is above the
/// harness's. Otherwise the child stayed below the harness's peak (tens of MB, far under any
/// sensible cap) and the `VmHWM` polled from `/proc` stands in for it.
pub fn run(program: &Path, args: &[OsString], limits: Limits) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let pid = child.id();
    let mut hwm = 0;
    let watched = watch(pid, start, limits, &mut hwm);
    let ((status, rusage_peak), killed) = match watched {
        Ok(done) => done,
        Err(e) => {
            // Never leave a child running behind a harness error.
            kill_group(pid);
            let _ = wait4_with(pid, 0);
            return Err(e);
        }
    };
    let wall = start.elapsed();
    let harness_peak = proc_memory("self").map_or(u64::MAX, |m| m.hwm);
    let peak_rss = if rusage_peak > harness_peak {
        rusage_peak
    } else {
        hwm
    };
    // The readers end when every writer has closed the pipes: the child, or after a kill its
    // whole group (the fuzzed commands start no processes of their own).
    Ok(Outcome {
        status,
        killed,
        peak_rss,
        rusage_peak,
        harness_peak,
        hwm,
        wall,
        stdout: join(out),
        stderr: join(err),
    })
}

/// Polls the child `pid` until it exits, killing its group at the RSS cap or the timeout;
/// returns its wait status and `ru_maxrss`, and why it was killed. `hwm` gets the highest
/// `VmHWM` seen.
fn watch(
    pid: u32,
    start: Instant,
    limits: Limits,
    hwm: &mut u64,
) -> anyhow::Result<((i32, u64), Option<Killed>)> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(done) = wait4_with(pid, libc::WNOHANG)? {
            return Ok((done, None));
        }
        let mut killed = None;
        if let Some(mem) = proc_memory(&pid.to_string()) {
            *hwm = (*hwm).max(mem.hwm);
            if mem.rss > limits.rss_cap_bytes {
                killed = Some(Killed::RssCap);
            }
        }
        if killed.is_none() && start.elapsed() > limits.timeout {
            killed = Some(Killed::Timeout);
        }
        if killed.is_some() {
            kill_group(pid);
            // The group is dead or dying: wait for the child without polling.
            let done = wait4_with(pid, 0)?.context("no status after killing the child")?;
            return Ok((done, killed));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// SIGKILL to the process group led by `pid`.
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory-safety preconditions; the group is the child's own
        // (process_group(0)) and the child is not reaped yet, so its id is not reused.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// The harness's own peak RSS in bytes (every child's `ru_maxrss` starts from it).
pub fn harness_peak() -> u64 {
    proc_memory("self").map_or(0, |m| m.hwm)
}

/// Current and peak resident set of a live process, in bytes.
struct ProcMemory {
    rss: u64,
    hwm: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/PID/status` (`pid` may be `self`; `None` once the
/// process is a zombie).
fn proc_memory(pid: &str) -> Option<ProcMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.get(key.len()..)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some(ProcMemory {
        rss: kib("VmRSS:")? * 1024,
        hwm: kib("VmHWM:").unwrap_or(0) * 1024,
    })
}

/// Reads a pipe to its end on a thread, keeping its head and tail.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<String>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut tail = std::collections::VecDeque::new();
        let mut skipped = 0usize;
        let mut buf = [0u8; 16 << 10];
        while let Ok(n) = pipe.read(&mut buf) {
            let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                break;
            };
            let room = KEEP_HEAD.saturating_sub(head.len()).min(chunk.len());
            let (to_head, rest) = chunk.split_at(room);
            head.extend_from_slice(to_head);
            tail.extend(rest.iter().copied());
            if tail.len() > KEEP_TAIL {
                let extra = tail.len() - KEEP_TAIL;
                tail.drain(..extra);
                skipped += extra;
            }
        }
        let mut text = String::from_utf8_lossy(&head).into_owned();
        if skipped > 0 {
            text.push_str(&format!("\n[... {skipped} bytes not kept ...]\n"));
        }
        text.push_str(&String::from_utf8_lossy(tail.make_contiguous()));
        text
    }))
}

fn join(handle: Option<JoinHandle<String>>) -> String {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, limits: Limits) -> Outcome {
        let args = vec![OsString::from("-c"), OsString::from(script)];
        run(Path::new("/bin/sh"), &args, limits).expect("sh runs")
    }

    const LOOSE: Limits = Limits {
        timeout: Duration::from_secs(10),
        rss_cap_bytes: 1 << 40,
    };

    #[test]
    fn captures_exit_code_and_output() {
        let o = sh("echo out; echo 'error: no' >&2; exit 3", LOOSE);
        assert_eq!(o.exit_code(), Some(3));
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "error: no\n");
        assert_eq!(o.killed, None);
    }

    #[test]
    fn kills_at_the_timeout() {
        let limits = Limits {
            timeout: Duration::from_millis(200),
            ..LOOSE
        };
        let o = sh("sleep 30", limits);
        assert_eq!(o.killed, Some(Killed::Timeout));
        assert_eq!(o.signal(), Some(libc::SIGKILL));
        assert!(o.wall < Duration::from_secs(5));
    }

    #[test]
    fn bounds_the_captured_output() {
        let o = sh("head -c 1000000 /dev/zero | tr '\\0' x", LOOSE);
        assert!(o.stdout.len() < KEEP_HEAD + KEEP_TAIL + 100);
        assert!(o.stdout.contains("bytes not kept"));
    }
}
