//! One memory sample: [`MemoryStats`] and [`memory_stats`].

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::bytes::bytes_to_mb;
use crate::level::{PressureLevel, Thresholds};

/// One sample of process and system memory.
///
/// "System" figures describe physical RAM; [`system_used_percent`](Self::system_used_percent)
/// is the effective one that drives the pressure level: the cgroup v2 usage over its limit when
/// the process runs under a limit, else RAM in use over total RAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// When the sample was taken, in seconds since the Unix epoch.
    pub timestamp: f64,
    /// Resident set size of this process, in bytes.
    pub process_rss_bytes: u64,
    /// Virtual size of this process, in bytes.
    pub process_virtual_bytes: u64,
    /// Physical RAM, in bytes.
    pub system_total_bytes: u64,
    /// RAM available to new allocations without swapping, in bytes.
    pub system_available_bytes: u64,
    /// Effective used percentage (0-100): of the cgroup limit when one is set, else of RAM.
    pub system_used_percent: f64,
    /// The cgroup v2 `memory.max`, when the process runs under a limit.
    pub cgroup_limit_bytes: Option<u64>,
    /// The cgroup v2 `memory.current`, when the process runs in a cgroup v2 with the memory controller.
    pub cgroup_usage_bytes: Option<u64>,
    /// PSI `some avg10` from `/proc/pressure/memory`: percent of time some task stalled on memory.
    pub psi_some_avg10: Option<f64>,
    /// PSI `full avg10`: percent of time all non-idle tasks stalled on memory.
    pub psi_full_avg10: Option<f64>,
    /// The pressure level under the thresholds the sample was classified with.
    pub level: PressureLevel,
}

impl MemoryStats {
    /// Process resident memory in MB (MiB).
    #[must_use]
    pub fn process_mb(&self) -> f64 {
        bytes_to_mb(self.process_rss_bytes)
    }

    /// Process virtual size in MB (MiB).
    #[must_use]
    pub fn process_virtual_mb(&self) -> f64 {
        bytes_to_mb(self.process_virtual_bytes)
    }

    /// Physical RAM in MB (MiB).
    #[must_use]
    pub fn system_total_mb(&self) -> f64 {
        bytes_to_mb(self.system_total_bytes)
    }

    /// Available RAM in MB (MiB).
    #[must_use]
    pub fn system_available_mb(&self) -> f64 {
        bytes_to_mb(self.system_available_bytes)
    }

    /// The cgroup limit in MB (MiB), when one is set.
    #[must_use]
    pub fn cgroup_limit_mb(&self) -> Option<f64> {
        self.cgroup_limit_bytes.map(bytes_to_mb)
    }

    /// The cgroup usage in MB (MiB), when known.
    #[must_use]
    pub fn cgroup_usage_mb(&self) -> Option<f64> {
        self.cgroup_usage_bytes.map(bytes_to_mb)
    }

    /// Whether the sample is at [`PressureLevel::High`].
    #[must_use]
    pub fn is_high_pressure(&self) -> bool {
        self.level == PressureLevel::High
    }

    /// Re-classifies this sample under other thresholds.
    #[must_use]
    pub fn classify(&self, thresholds: &Thresholds) -> PressureLevel {
        thresholds.classify(self.process_rss_bytes, self.system_used_percent)
    }
}

/// What the OS reports, before classification.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawSample {
    pub process_rss_bytes: u64,
    pub process_virtual_bytes: u64,
    pub system_total_bytes: u64,
    pub system_available_bytes: u64,
    pub cgroup_limit_bytes: Option<u64>,
    pub cgroup_usage_bytes: Option<u64>,
    pub psi_some_avg10: Option<f64>,
    pub psi_full_avg10: Option<f64>,
}

impl RawSample {
    pub(crate) fn into_stats(self, thresholds: &Thresholds) -> MemoryStats {
        let system_used_percent = match (self.cgroup_limit_bytes, self.cgroup_usage_bytes) {
            (Some(limit), Some(usage)) if limit > 0 => usage as f64 * 100.0 / limit as f64,
            _ if self.system_total_bytes > 0 => {
                let used = self
                    .system_total_bytes
                    .saturating_sub(self.system_available_bytes);
                used as f64 * 100.0 / self.system_total_bytes as f64
            }
            _ => 0.0,
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        MemoryStats {
            timestamp,
            process_rss_bytes: self.process_rss_bytes,
            process_virtual_bytes: self.process_virtual_bytes,
            system_total_bytes: self.system_total_bytes,
            system_available_bytes: self.system_available_bytes,
            system_used_percent,
            cgroup_limit_bytes: self.cgroup_limit_bytes,
            cgroup_usage_bytes: self.cgroup_usage_bytes,
            psi_some_avg10: self.psi_some_avg10,
            psi_full_avg10: self.psi_full_avg10,
            level: thresholds.classify(self.process_rss_bytes, system_used_percent),
        }
    }
}

/// Takes one sample, classified under the default [`Thresholds`].
///
/// On Linux it reads `/proc` and the cgroup v2 files directly through file handles opened once,
/// into stack buffers; elsewhere it asks `sysinfo`.
///
/// ```
/// let stats = mem_monitor::memory_stats()?;
/// assert!(stats.process_rss_bytes > 0);
/// println!("{:.1} MB, {}", stats.process_mb(), stats.level);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`MonitorError`](crate::MonitorError) when the OS does not report process memory at all.
pub fn memory_stats() -> Result<MemoryStats, crate::MonitorError> {
    memory_stats_with(&Thresholds::default())
}

/// Takes one sample classified under `thresholds`.
///
/// # Errors
/// As [`memory_stats`].
pub fn memory_stats_with(thresholds: &Thresholds) -> Result<MemoryStats, crate::MonitorError> {
    Ok(crate::sampler::sample()?.into_stats(thresholds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::GIB;

    #[test]
    fn used_percent_prefers_cgroup_limit() {
        let raw = RawSample {
            system_total_bytes: 16 * GIB,
            system_available_bytes: 12 * GIB,
            cgroup_limit_bytes: Some(GIB),
            cgroup_usage_bytes: Some(GIB / 2),
            ..RawSample::default()
        };
        let s = raw.into_stats(&Thresholds::default());
        assert!((s.system_used_percent - 50.0).abs() < 1e-9);
        let no_limit = RawSample {
            cgroup_limit_bytes: None,
            ..raw
        }
        .into_stats(&Thresholds::default());
        assert!((no_limit.system_used_percent - 25.0).abs() < 1e-9);
    }

    #[test]
    fn json_has_null_for_missing_cgroup() {
        let s = RawSample {
            process_rss_bytes: 1,
            system_total_bytes: 4,
            system_available_bytes: 3,
            ..RawSample::default()
        }
        .into_stats(&Thresholds::default());
        let v = serde_json::to_value(&s).unwrap();
        assert!(v["cgroup_limit_bytes"].is_null());
        assert_eq!(v["level"], "low");
    }
}
