//! [`ProfileResult`]: what a profiling session found, and the analysis that fills it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::recommend;
use crate::trend::{LeakAnalysis, LeakConfig, detect_leak};

/// One sample of a session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was taken, seconds since the Unix epoch.
    pub timestamp: f64,
    /// Seconds since the session started.
    pub elapsed_s: f64,
    /// Resident memory of the profiled process (or process tree), MB.
    pub rss_mb: f64,
    /// Live heap bytes in MB when a [`TrackingAllocator`](crate::TrackingAllocator) is installed.
    pub heap_mb: Option<f64>,
}

/// Which series the leak verdict was computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakBasis {
    /// Live heap bytes from the tracking allocator: exact, blind to allocator caching.
    Heap,
    /// Resident memory: includes what the allocator keeps after a free.
    Rss,
}

/// Heap figures of a session, present when the tracking allocator is installed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeapSummary {
    /// Live heap at the start, MB.
    pub start_heap_mb: f64,
    /// Live heap at the end, MB: memory the program still holds.
    pub end_heap_mb: f64,
    /// Highest live heap during the session, MB.
    pub peak_heap_mb: f64,
    /// Resident memory not accounted for by live heap at the end, MB: what the allocator merely
    /// keeps (freed pages it did not return), plus code, stacks and non-heap mappings. Trimming
    /// the allocator (`mem_optimize::release_memory()`) can give back the first part.
    pub retained_by_allocator_mb: f64,
    /// Bytes allocated during the session, MB (allocation traffic, not growth).
    pub allocated_mb: f64,
    /// Allocation calls during the session.
    pub allocations: u64,
    /// Deallocation calls during the session.
    pub deallocations: u64,
}

/// What one `#[profile_function]` function did during a session (or since start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionProfile {
    /// The function's path.
    pub name: String,
    /// Calls.
    pub calls: u64,
    /// Wall time summed over calls, seconds.
    pub total_elapsed_s: f64,
    /// Bytes allocated by the calls (0 without the tracking allocator).
    pub allocated_bytes: u64,
    /// Allocated minus freed, summed over calls: what the calls left behind. Without the
    /// tracking allocator, the summed RSS change.
    pub retained_bytes: i64,
    /// Highest peak growth of a single call, bytes.
    pub max_peak_bytes: u64,
}

/// Inputs of the analysis besides the snapshots.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extras {
    pub heap: Option<HeapSummary>,
    pub functions: Vec<FunctionProfile>,
}

/// The result of a profiling session, with the seed's field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileResult {
    /// The session's name.
    pub session_name: String,
    /// Start, seconds since the Unix epoch.
    pub start_time: f64,
    /// End, seconds since the Unix epoch.
    pub end_time: f64,
    /// Length of the session, seconds.
    pub duration_s: f64,
    /// Resident memory at the first snapshot, MB.
    pub start_memory_mb: f64,
    /// Resident memory at the last snapshot, MB.
    pub end_memory_mb: f64,
    /// Highest resident memory seen, MB.
    pub peak_memory_mb: f64,
    /// End minus start, MB.
    pub memory_growth_mb: f64,
    /// Heap figures when the tracking allocator is installed.
    pub heap: Option<HeapSummary>,
    /// Whether a leak was found.
    pub memory_leak_detected: bool,
    /// Growth rate of the leak, MB/hour (0 when none).
    pub leak_rate_mb_per_hour: f64,
    /// The series the leak verdict was computed on.
    pub leak_basis: LeakBasis,
    /// The trend analysis behind the verdict.
    pub leak_analysis: LeakAnalysis,
    /// The memory budget the peak was checked against, MB.
    pub memory_budget_mb: f64,
    /// `#[profile_function]` calls made during the session, most memory left behind first.
    pub functions: Vec<FunctionProfile>,
    /// What to do about what was found.
    pub recommendations: Vec<String>,
    /// The samples, oldest first.
    pub snapshots: Vec<Snapshot>,
}

/// Settings of the analysis that turns snapshots into a [`ProfileResult`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnalysisConfig {
    /// Peak above this many MB earns a "stream in chunks" recommendation.
    pub memory_budget_mb: f64,
    /// Leak detection tuning.
    pub leak: LeakConfig,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        let budget = mem_monitor::Thresholds::default().process_medium_bytes;
        Self {
            memory_budget_mb: mem_monitor::bytes_to_mb(budget),
            leak: LeakConfig::default(),
        }
    }
}

impl ProfileResult {
    /// Analyses snapshots taken by any means (for example of another process).
    ///
    /// ```
    /// use mem_profile::{AnalysisConfig, ProfileResult, Snapshot};
    /// let snaps: Vec<Snapshot> = (0..30)
    ///     .map(|i| Snapshot { timestamp: i as f64, elapsed_s: i as f64, rss_mb: 100.0 + 5.0 * i as f64, heap_mb: None })
    ///     .collect();
    /// let r = ProfileResult::from_snapshots("job", snaps, &AnalysisConfig::default());
    /// assert!(r.memory_leak_detected);
    /// assert!((r.leak_rate_mb_per_hour - 18_000.0).abs() < 1.0);
    /// assert_eq!(r.peak_memory_mb, 245.0);
    /// ```
    #[must_use]
    pub fn from_snapshots(
        session_name: &str,
        snapshots: Vec<Snapshot>,
        cfg: &AnalysisConfig,
    ) -> Self {
        Self::analyze(session_name, snapshots, cfg, Extras::default())
    }

    pub(crate) fn analyze(
        session_name: &str,
        snapshots: Vec<Snapshot>,
        cfg: &AnalysisConfig,
        extras: Extras,
    ) -> Self {
        let first = snapshots.first().copied();
        let last = snapshots.last().copied();
        let start_memory_mb = first.map_or(0.0, |s| s.rss_mb);
        let end_memory_mb = last.map_or(0.0, |s| s.rss_mb);
        let peak_memory_mb = snapshots.iter().map(|s| s.rss_mb).fold(0.0, f64::max);
        let t: Vec<f64> = snapshots.iter().map(|s| s.elapsed_s).collect();
        let heap: Option<Vec<f64>> = snapshots.iter().map(|s| s.heap_mb).collect();
        let (basis, series) = match heap {
            Some(h) if !h.is_empty() => (LeakBasis::Heap, h),
            _ => (LeakBasis::Rss, snapshots.iter().map(|s| s.rss_mb).collect()),
        };
        let leak = detect_leak(&t, &series, &cfg.leak);
        let mut r = Self {
            session_name: session_name.to_owned(),
            start_time: first.map_or(0.0, |s| s.timestamp),
            end_time: last.map_or(0.0, |s| s.timestamp),
            duration_s: last.map_or(0.0, |s| s.elapsed_s) - first.map_or(0.0, |s| s.elapsed_s),
            start_memory_mb,
            end_memory_mb,
            peak_memory_mb,
            memory_growth_mb: end_memory_mb - start_memory_mb,
            heap: extras.heap,
            memory_leak_detected: leak.leak_detected,
            leak_rate_mb_per_hour: leak.rate_mb_per_hour,
            leak_basis: basis,
            leak_analysis: leak,
            memory_budget_mb: cfg.memory_budget_mb,
            functions: extras.functions,
            recommendations: Vec::new(),
            snapshots,
        };
        r.recommendations = recommend::recommendations(&r);
        r
    }

    /// The snapshot with the highest resident memory.
    #[must_use]
    pub fn peak_snapshot(&self) -> Option<&Snapshot> {
        self.snapshots
            .iter()
            .max_by(|a, b| a.rss_mb.total_cmp(&b.rss_mb))
    }

    /// The result as pretty JSON.
    ///
    /// # Errors
    /// [`ProfileError::Json`](crate::ProfileError::Json) if serialisation fails (it does not for
    /// finite figures).
    pub fn to_json(&self) -> Result<String, crate::ProfileError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Writes [`ProfileResult::to_json`] to `path`.
    ///
    /// # Errors
    /// [`ProfileError::Write`](crate::ProfileError::Write) naming the path.
    pub fn write_json(&self, path: impl AsRef<std::path::Path>) -> Result<(), crate::ProfileError> {
        let path = path.as_ref();
        let json = self.to_json()?;
        std::fs::write(path, json).map_err(|source| crate::ProfileError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// A short summary for people: a few lines, recommendations last.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "session {}: {:.2} s, {} snapshots",
            self.session_name,
            self.duration_s,
            self.snapshots.len()
        );
        let _ = writeln!(
            s,
            "memory: start {:.1} MB, end {:.1} MB, peak {:.1} MB ({:+.1} MB)",
            self.start_memory_mb, self.end_memory_mb, self.peak_memory_mb, self.memory_growth_mb
        );
        if let Some(h) = &self.heap {
            let _ = writeln!(
                s,
                "heap: end {:.1} MB still allocated, peak {:.1} MB; {:.1} MB resident but not live heap",
                h.end_heap_mb, h.peak_heap_mb, h.retained_by_allocator_mb
            );
        }
        let basis = match self.leak_basis {
            LeakBasis::Heap => "heap",
            LeakBasis::Rss => "RSS",
        };
        if self.memory_leak_detected {
            let _ = writeln!(
                s,
                "leak: YES, {:.1} MB/hour ({basis}): {}",
                self.leak_rate_mb_per_hour, self.leak_analysis.reason
            );
        } else {
            let _ = writeln!(s, "leak: no ({basis}): {}", self.leak_analysis.reason);
        }
        for r in &self.recommendations {
            let _ = writeln!(s, "- {r}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    proptest! {
        #[test]
        fn json_round_trip_keeps_every_figure(
            rss in prop::collection::vec(0.0f64..1e5, 0..60),
            with_heap in any::<bool>(),
        ) {
            let snaps = rss
                .iter()
                .enumerate()
                .map(|(i, &r)| Snapshot {
                    timestamp: 1.7e9 + i as f64 * 0.5,
                    elapsed_s: i as f64 * 0.5,
                    rss_mb: r,
                    heap_mb: with_heap.then_some(r / 2.0),
                })
                .collect();
            let r = ProfileResult::from_snapshots("p", snaps, &AnalysisConfig::default());
            let back: ProfileResult = serde_json::from_str(&r.to_json().unwrap()).unwrap();
            prop_assert_eq!(back.snapshots.len(), r.snapshots.len());
            for (a, b) in back.snapshots.iter().zip(&r.snapshots) {
                prop_assert!(close(a.rss_mb, b.rss_mb) && close(a.elapsed_s, b.elapsed_s));
                prop_assert_eq!(a.heap_mb.is_some(), b.heap_mb.is_some());
            }
            prop_assert!(close(back.peak_memory_mb, r.peak_memory_mb));
            prop_assert!(close(back.leak_rate_mb_per_hour, r.leak_rate_mb_per_hour));
            prop_assert_eq!(back.memory_leak_detected, r.memory_leak_detected);
            prop_assert_eq!(back.leak_basis, r.leak_basis);
            prop_assert_eq!(&back.recommendations, &r.recommendations);
            // The peak bounds the series, and the verdict's basis follows the heap column.
            prop_assert!(r.snapshots.iter().all(|s| s.rss_mb <= r.peak_memory_mb));
            let heap_basis = with_heap && !r.snapshots.is_empty();
            prop_assert_eq!(r.leak_basis == LeakBasis::Heap, heap_basis);
        }
    }
}
