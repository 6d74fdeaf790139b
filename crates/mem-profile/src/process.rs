//! Profiling another process and all its descendants (Linux `/proc`; on other platforms the
//! process-tree functions return an `Unsupported` error).

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use crate::error::ProfileError;
use crate::profiler::{DEFAULT_MAX_SNAPSHOTS, Thinned, unix_now};
use crate::result::{AnalysisConfig, Extras, ProfileResult, Snapshot};

#[cfg(target_os = "linux")]
/// Parses the parent pid out of `/proc/<pid>/stat` text. The command name sits in parentheses
/// and may itself contain spaces and parentheses, so fields are counted after the last `)`.
fn ppid_from_stat(stat: &str) -> Option<u32> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
/// Direct children of `pid` from `/proc/<pid>/task/*/children`, or `None` when the kernel does
/// not provide those files.
fn children_fast(pid: u32) -> Option<Vec<u32>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut out = Vec::new();
    let mut any = false;
    for t in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
            any = true;
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    any.then_some(out)
}

#[cfg(target_os = "linux")]
/// `(pid, ppid)` of every process, from `/proc/*/stat`.
fn all_parents() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            Some((pid, ppid_from_stat(&stat)?))
        })
        .collect()
}

#[cfg(target_os = "linux")]
/// `pid` and all its live descendants.
///
/// # Errors
/// [`ProfileError::Process`] when `/proc/<pid>` does not exist.
pub fn process_tree(pid: u32) -> Result<Vec<u32>, ProfileError> {
    let root = format!("/proc/{pid}");
    if !std::path::Path::new(&root).exists() {
        return Err(ProfileError::Process {
            pid,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let mut tree = vec![pid];
    let mut i = 0;
    let mut parents: Option<Vec<(u32, u32)>> = None;
    while let Some(&p) = tree.get(i) {
        i += 1;
        let kids = match children_fast(p) {
            Some(k) => k,
            None => {
                let all = parents.get_or_insert_with(all_parents);
                all.iter()
                    .filter(|(_, pp)| *pp == p)
                    .map(|(c, _)| *c)
                    .collect()
            }
        };
        for k in kids {
            if !tree.contains(&k) {
                tree.push(k);
            }
        }
    }
    Ok(tree)
}

#[cfg(target_os = "linux")]
/// Resident memory of `pid` and all its descendants, summed, in bytes. Pages shared between
/// them (for example after `fork`) are counted once per process, as `ps` does.
///
/// # Errors
/// [`ProfileError::Process`] when `/proc/<pid>` does not exist.
pub fn process_tree_rss_bytes(pid: u32) -> Result<u64, ProfileError> {
    Ok(process_tree(pid)?
        .into_iter()
        .filter_map(mem_monitor::process_memory)
        .map(|m| m.rss_bytes)
        .sum())
}

/// `pid` and all its live descendants (Linux only: read from `/proc`).
///
/// # Errors
/// [`ProfileError::Process`] with [`std::io::ErrorKind::Unsupported`] on this platform.
#[cfg(not(target_os = "linux"))]
pub fn process_tree(pid: u32) -> Result<Vec<u32>, ProfileError> {
    Err(ProfileError::Process {
        pid,
        source: std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "process trees are read from /proc, which this platform lacks",
        ),
    })
}

/// Resident memory of `pid` and its descendants (Linux only: read from `/proc`).
///
/// # Errors
/// [`ProfileError::Process`] with [`std::io::ErrorKind::Unsupported`] on this platform.
#[cfg(not(target_os = "linux"))]
pub fn process_tree_rss_bytes(pid: u32) -> Result<u64, ProfileError> {
    process_tree(pid).map(|_| 0)
}

/// Samples a running child process and its descendants every `interval` until it exits, then
/// analyses the series. Returns the exit status and the result; `duration_s` is the wall time
/// from the call to the exit.
///
/// ```no_run
/// use std::process::Command;
/// use std::time::Duration;
/// let mut child = Command::new("python3").arg("job.py").spawn()?;
/// let (status, result) = mem_profile::profile_child("job", &mut child, Duration::from_millis(100), &Default::default())?;
/// println!("{status}: peak {:.1} MB, leak {}", result.peak_memory_mb, result.memory_leak_detected);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`ProfileError::Process`] if waiting on the child fails.
pub fn profile_child(
    name: &str,
    child: &mut Child,
    interval: Duration,
    cfg: &AnalysisConfig,
) -> Result<(ExitStatus, ProfileResult), ProfileError> {
    let pid = child.id();
    let interval = interval.min(crate::profiler::MAX_INTERVAL);
    let started = Instant::now();
    let start_unix = unix_now();
    let mut series = Thinned::new(DEFAULT_MAX_SNAPSHOTS);
    let mut next = started;
    let mut jitter = crate::jitter::Jitter::seeded();
    // Poll for exit more often than we sample, so a long interval does not delay the end.
    let poll = interval.min(Duration::from_millis(10));
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|source| ProfileError::Process { pid, source })?
        {
            break status;
        }
        if Instant::now() >= next {
            // An exited-but-unreaped child reads as no RSS: skip rather than record a zero.
            if let Ok(rss) = process_tree_rss_bytes(pid)
                && rss > 0
            {
                series.offer(Snapshot {
                    timestamp: unix_now(),
                    elapsed_s: started.elapsed().as_secs_f64(),
                    rss_mb: mem_monitor::bytes_to_mb(rss),
                    heap_mb: None,
                });
            }
            next += jitter.apply(interval);
        }
        std::thread::sleep(
            poll.min(next.saturating_duration_since(Instant::now()))
                .max(Duration::from_micros(200)),
        );
    };
    let wall = started.elapsed().as_secs_f64();
    let mut r = ProfileResult::analyze(name, series.snaps, cfg, Extras::default());
    r.duration_s = wall;
    r.start_time = start_unix;
    r.end_time = start_unix + wall;
    Ok((status, r))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        assert_eq!(ppid_from_stat("123 (a b) c) S 45 123 123 0"), Some(45));
        assert_eq!(ppid_from_stat("1 (init) S 0 1 1"), Some(0));
        assert_eq!(ppid_from_stat("garbage"), None);
        assert_eq!(ppid_from_stat(""), None);
    }

    #[test]
    fn tree_of_a_shell_includes_its_child() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 2 & wait"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut found = false;
        // Bounded wait (5 s) for `sh` to fork: a loaded machine may take a while.
        for _ in 0..500 {
            if process_tree(pid).unwrap().len() >= 2 {
                found = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(found, "sleep should appear under sh");
        assert!(process_tree_rss_bytes(pid).unwrap() > 0);
        // Leave no `sleep` behind: end the whole tree, children first.
        for p in process_tree(pid).unwrap_or_default().into_iter().rev() {
            let _ = std::process::Command::new("kill")
                .arg(p.to_string())
                .status();
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(process_tree(u32::MAX - 7).is_err());
    }
}
