//! Memory of one process by pid (this one or another): the one `/proc/<pid>/status` reader
//! of the workspace. Linux reads `/proc`; elsewhere `sysinfo` gives the resident size and the
//! peak is unknown.

/// Resident and peak resident memory of a process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ProcessMemory {
    /// Resident set size now (`VmRSS`).
    pub rss_bytes: u64,
    /// The kernel's high-water mark of the resident set (`VmHWM`): also sees peaks between
    /// samples. `None` where the platform does not report it.
    pub peak_rss_bytes: Option<u64>,
    /// Virtual size now (`VmSize`); 0 where the platform does not report it.
    pub virtual_bytes: u64,
}

/// Resident and peak memory of process `pid`; `None` when it does not exist (or has exited,
/// or is a zombie or kernel thread without a resident set).
///
/// ```
/// let me = mem_monitor::process_memory(std::process::id()).expect("this process exists");
/// assert!(me.rss_bytes > 0);
/// ```
#[must_use]
pub fn process_memory(pid: u32) -> Option<ProcessMemory> {
    imp::process_memory(pid)
}

/// The peak resident memory of this process so far (`VmHWM` on Linux), in bytes.
#[must_use]
pub fn peak_rss_bytes() -> Option<u64> {
    process_memory(std::process::id()).and_then(|m| m.peak_rss_bytes)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::ProcessMemory;
    use crate::parse;

    pub(super) fn process_memory(pid: u32) -> Option<ProcessMemory> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        Some(ProcessMemory {
            rss_bytes: parse::status_bytes(&text, "VmRSS")?,
            peak_rss_bytes: parse::status_bytes(&text, "VmHWM"),
            virtual_bytes: parse::status_bytes(&text, "VmSize").unwrap_or(0),
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::ProcessMemory;

    pub(super) fn process_memory(pid: u32) -> Option<ProcessMemory> {
        use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
        let mut sys = System::new().ok()?;
        let pid = Pid::from_u32(pid);
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing().with_memory(),
        );
        let process = sys.process(pid)?;
        Some(ProcessMemory {
            rss_bytes: process.memory(),
            peak_rss_bytes: None,
            virtual_bytes: process.virtual_memory(),
        })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_set_and_a_peak_at_least_as_large() {
        let m = process_memory(std::process::id()).unwrap();
        assert!(m.rss_bytes > 0);
        assert!(m.peak_rss_bytes.unwrap() >= m.rss_bytes / 2);
        assert!(peak_rss_bytes().is_some());
    }

    #[test]
    fn a_missing_process_is_none() {
        assert_eq!(process_memory(u32::MAX - 3), None);
    }
}
