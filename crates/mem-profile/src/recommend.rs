//! Recommendations derived from a [`ProfileResult`]'s figures.

use crate::result::{LeakBasis, ProfileResult};

/// Allocation traffic at least this many times the peak counts as heavy churn...
const CHURN_FACTOR: f64 = 10.0;
/// ...when it also reaches this many MB.
const CHURN_MIN_MB: f64 = 100.0;
/// Resident-but-not-live memory worth mentioning: this many MB and this share of RSS.
const RETAINED_MIN_MB: f64 = 64.0;
const RETAINED_MIN_SHARE: f64 = 0.3;

pub(crate) fn recommendations(r: &ProfileResult) -> Vec<String> {
    let mut out = Vec::new();
    if r.peak_memory_mb > r.memory_budget_mb && r.memory_budget_mb > 0.0 {
        let share = r.memory_budget_mb / r.peak_memory_mb;
        out.push(format!(
            "Peak memory {:.0} MB exceeds the {:.0} MB budget by {:.0} MB: stream the input in chunks \
             (mem-stream's StreamingLoader) at most {:.0} % of the current working set each, and \
             shrink batches with mem-optimize before keeping them.",
            r.peak_memory_mb,
            r.memory_budget_mb,
            r.peak_memory_mb - r.memory_budget_mb,
            (share * 100.0 * 0.8).max(1.0)
        ));
    }
    if r.memory_leak_detected {
        let a = &r.leak_analysis;
        let basis = match r.leak_basis {
            LeakBasis::Heap => "live heap",
            LeakBasis::Rss => "resident memory",
        };
        let window = match (a.leak_start_s, a.leak_end_s) {
            (Some(s), Some(e)) => format!(" between {s:.1} s and {e:.1} s of the session"),
            _ => String::new(),
        };
        let suspect = r
            .functions
            .iter()
            .find(|f| f.retained_bytes > 0)
            .map(|f| {
                format!(
                    "; `{}` kept {} over {} calls, the most of any profiled function",
                    f.name,
                    mem_monitor::format_bytes(f.retained_bytes.unsigned_abs()),
                    f.calls
                )
            })
            .unwrap_or_default();
        let per_day = a.rate_mb_per_hour * 24.0 / 1024.0;
        out.push(format!(
            "Leak in `{}`: {basis} grows {:.1} MB/hour{window} ({per_day:.1} GB/day if it continues){suspect}. \
             Look for collections that only grow (caches without a bound, maps keyed by request, \
             listeners never removed); bound them (mem-optimize's LruCache) or drop entries when done.",
            r.session_name, a.rate_mb_per_hour
        ));
    }
    if let Some(h) = &r.heap {
        let peak = h.peak_heap_mb.max(1.0);
        if h.allocated_mb >= CHURN_MIN_MB && h.allocated_mb >= CHURN_FACTOR * peak {
            out.push(format!(
                "Heavy allocation churn: {:.0} MB allocated in {} allocations for a peak of only {:.1} MB \
                 ({:.0}x): reuse buffers (clear() and refill, Vec::with_capacity, a pool) instead of \
                 allocating per item.",
                h.allocated_mb,
                h.allocations,
                h.peak_heap_mb,
                h.allocated_mb / peak
            ));
        }
        if h.retained_by_allocator_mb >= RETAINED_MIN_MB
            && h.retained_by_allocator_mb >= RETAINED_MIN_SHARE * r.end_memory_mb
        {
            out.push(format!(
                "{:.0} MB of the {:.0} MB resident is not live heap: the allocator keeps freed memory. \
                 Call mem_optimize::release_memory() after large temporary work to give it back.",
                h.retained_by_allocator_mb, r.end_memory_mb
            ));
        }
    } else {
        // Without heap figures, churn shows as resident memory that keeps going up and down.
        let ups: f64 = r
            .snapshots
            .windows(2)
            .filter_map(|w| match w {
                [a, b] => Some((b.rss_mb - a.rss_mb).max(0.0)),
                _ => None,
            })
            .sum();
        let low = r
            .snapshots
            .iter()
            .map(|s| s.rss_mb)
            .fold(f64::INFINITY, f64::min);
        let range = (r.peak_memory_mb - low).max(1.0);
        if !r.memory_leak_detected && ups >= CHURN_MIN_MB && ups >= 2.5 * range {
            out.push(format!(
                "Heavy churn: resident memory rose {ups:.0} MB in total across the session while \
                 spanning only {range:.0} MB: allocate working buffers once and reuse them."
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::result::{AnalysisConfig, ProfileResult, Snapshot};

    fn snaps(f: impl Fn(usize) -> f64) -> Vec<Snapshot> {
        (0..40)
            .map(|i| Snapshot {
                timestamp: i as f64,
                elapsed_s: i as f64,
                rss_mb: f(i),
                heap_mb: None,
            })
            .collect()
    }

    #[test]
    fn over_budget_recommends_streaming_with_the_figures() {
        let cfg = AnalysisConfig {
            memory_budget_mb: 100.0,
            ..AnalysisConfig::default()
        };
        let r = ProfileResult::from_snapshots(
            "load",
            snaps(|i| if i < 5 { 50.0 } else { 400.0 }),
            &cfg,
        );
        assert!(!r.memory_leak_detected);
        let rec = r.recommendations.join("\n");
        assert!(rec.contains("400 MB exceeds the 100 MB budget"), "{rec}");
    }

    #[test]
    fn leak_recommendation_names_session_and_rate() {
        let r = ProfileResult::from_snapshots(
            "ingest",
            snaps(|i| 10.0 + 2.0 * i as f64),
            &AnalysisConfig::default(),
        );
        let rec = r.recommendations.join("\n");
        assert!(rec.contains("Leak in `ingest`"), "{rec}");
        assert!(rec.contains("7200.0 MB/hour"), "{rec}");
    }

    #[test]
    fn rss_churn_recommends_reuse_and_a_quiet_run_recommends_nothing() {
        let r = ProfileResult::from_snapshots(
            "churn",
            snaps(|i| if i % 2 == 0 { 20.0 } else { 120.0 }),
            &AnalysisConfig::default(),
        );
        assert!(!r.memory_leak_detected);
        assert!(
            r.recommendations.iter().any(|s| s.contains("reuse")),
            "{:?}",
            r.recommendations
        );
        let quiet =
            ProfileResult::from_snapshots("quiet", snaps(|_| 20.0), &AnalysisConfig::default());
        assert!(quiet.recommendations.is_empty());
    }
}
