//! Leak detection: a robust trend fit over memory snapshots.
//!
//! Why not least squares: one large allocation, a garbage-collection drop or a sawtooth of
//! allocate/free cycles moves a least-squares slope a lot. Theil-Sen (the median of pairwise
//! slopes) ignores up to ~29 % of outliers. The fit alone still cannot tell a step from a leak,
//! so a leak must also be *sustained*: the series is cut into windows, and the window medians must
//! rise window after window, each rise clear of the noise, with no single rise carrying most of
//! the growth.

use serde::{Deserialize, Serialize};

/// Tuning of [`detect_leak`]. The defaults suit sessions of a few dozen snapshots or more.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LeakConfig {
    /// Fewest snapshots for a verdict; with fewer, no leak is reported.
    pub min_snapshots: usize,
    /// Growth over the leaking stretch must reach this many MB...
    pub min_growth_mb: f64,
    /// ...and this fraction of the memory level at the start of that stretch.
    pub min_relative_growth: f64,
    /// A window-to-window rise must exceed this many standard errors of the noise.
    pub noise_factor: f64,
    /// No single window-to-window rise may carry more than this share of the growth.
    pub max_step_share: f64,
}

impl Default for LeakConfig {
    fn default() -> Self {
        Self {
            min_snapshots: 9,
            min_growth_mb: 1.0,
            min_relative_growth: 0.02,
            noise_factor: 3.0,
            max_step_share: 0.75,
        }
    }
}

/// The verdict of [`detect_leak`] with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakAnalysis {
    /// Whether memory grew in a sustained, significant way.
    pub leak_detected: bool,
    /// Growth rate of the leaking stretch in MB/hour (0 when no leak).
    pub rate_mb_per_hour: f64,
    /// Theil-Sen slope over the whole series, MB/hour, whatever the verdict.
    pub overall_slope_mb_per_hour: f64,
    /// Intercept of the overall fit (MB at t = 0).
    pub overall_intercept_mb: f64,
    /// Start of the leaking stretch, seconds from the first snapshot.
    pub leak_start_s: Option<f64>,
    /// End of the leaking stretch.
    pub leak_end_s: Option<f64>,
    /// Intercept of the leaking stretch's fit (MB at t = 0), to draw its trend line.
    pub leak_intercept_mb: Option<f64>,
    /// Robust standard deviation of the series around local trends, MB.
    pub noise_mb: f64,
    /// Why the verdict is what it is, for people.
    pub reason: String,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let (a, b) = (v.get((n - 1) / 2), v.get(n / 2));
    match (a, b) {
        (Some(a), Some(b)) => (a + b) / 2.0,
        _ => 0.0,
    }
}

/// Most points a fit uses; longer series are thinned evenly (pairwise slopes are O(n^2)).
const MAX_FIT_POINTS: usize = 400;

/// Theil-Sen fit: `(slope, intercept)` of `y = slope * t + intercept`.
///
/// ```
/// let t = [0.0, 1.0, 2.0, 3.0, 4.0];
/// let y = [1.0, 3.0, 5.0, 100.0, 9.0]; // one outlier
/// let (slope, intercept) = mem_profile::theil_sen(&t, &y);
/// assert_eq!((slope, intercept), (2.0, 1.0));
/// ```
#[must_use]
pub fn theil_sen(t: &[f64], y: &[f64]) -> (f64, f64) {
    let n = t.len().min(y.len());
    let step = n.div_ceil(MAX_FIT_POINTS).max(1);
    let pts: Vec<(f64, f64)> = t
        .iter()
        .zip(y)
        .take(n)
        .step_by(step)
        .map(|(&a, &b)| (a, b))
        .collect();
    let mut slopes = Vec::with_capacity(pts.len() * pts.len() / 2);
    for (i, &(ti, yi)) in pts.iter().enumerate() {
        for &(tj, yj) in pts.iter().skip(i + 1) {
            let dt = tj - ti;
            if dt.abs() > f64::EPSILON {
                slopes.push((yj - yi) / dt);
            }
        }
    }
    let slope = median(&mut slopes);
    let mut icpt: Vec<f64> = pts.iter().map(|&(ti, yi)| yi - slope * ti).collect();
    (slope, median(&mut icpt))
}

/// Decides whether the series `(t seconds, y MB)` shows a leak.
///
/// ```
/// use mem_profile::{detect_leak, LeakConfig};
/// let t: Vec<f64> = (0..40).map(|i| i as f64).collect();
/// let leak: Vec<f64> = t.iter().map(|s| 100.0 + 2.0 * s).collect(); // +2 MB/s
/// let a = detect_leak(&t, &leak, &LeakConfig::default());
/// assert!(a.leak_detected);
/// assert!((a.rate_mb_per_hour - 7200.0).abs() < 1.0);
///
/// let step: Vec<f64> = t.iter().map(|&s| if s < 10.0 { 100.0 } else { 300.0 }).collect();
/// assert!(!detect_leak(&t, &step, &LeakConfig::default()).leak_detected);
/// ```
#[must_use]
pub fn detect_leak(t: &[f64], y: &[f64], cfg: &LeakConfig) -> LeakAnalysis {
    let n = t.len().min(y.len());
    let (t, y) = (t.get(..n).unwrap_or(&[]), y.get(..n).unwrap_or(&[]));
    let (slope, intercept) = theil_sen(t, y);
    let mut out = LeakAnalysis {
        leak_detected: false,
        rate_mb_per_hour: 0.0,
        overall_slope_mb_per_hour: slope * 3600.0,
        overall_intercept_mb: intercept,
        leak_start_s: None,
        leak_end_s: None,
        leak_intercept_mb: None,
        noise_mb: 0.0,
        reason: String::new(),
    };
    if n < cfg.min_snapshots.max(6) {
        out.reason = format!(
            "{n} snapshots are too few for a verdict (need {})",
            cfg.min_snapshots.max(6)
        );
        return out;
    }
    // Windows of at least 3 snapshots, at most 6 windows.
    let w = (n / 3).clamp(2, 6);
    let bounds: Vec<(usize, usize)> = (0..w).map(|k| (k * n / w, (k + 1) * n / w)).collect();
    let slice =
        |v: &[f64], (a, b): (usize, usize)| v.get(a..b).map(<[f64]>::to_vec).unwrap_or_default();

    // Noise: spread around each window's own trend, pooled, so a trend does not count as noise.
    let mut resid = Vec::with_capacity(n);
    let mut medians = Vec::with_capacity(w);
    for &b in &bounds {
        let (tw, yw) = (slice(t, b), slice(y, b));
        let (s, i) = theil_sen(&tw, &yw);
        resid.extend(tw.iter().zip(&yw).map(|(tt, yy)| (yy - (s * tt + i)).abs()));
        let mut yw = yw;
        medians.push(median(&mut yw));
    }
    let sigma = 1.4826 * median(&mut resid);
    out.noise_mb = sigma;
    let per_window = (n / w).max(1) as f64;
    // Standard error of a difference of two window medians, times the factor.
    let tau = cfg.noise_factor * 1.2533 * sigma * (2.0 / per_window).sqrt();

    // The rising run at the end: window medians that each rise clearly above the last.
    let rises: Vec<f64> = medians
        .windows(2)
        .map(|p| p.get(1).copied().unwrap_or(0.0) - p.first().copied().unwrap_or(0.0))
        .collect();
    let mut run_start = rises.len();
    while run_start > 0
        && rises
            .get(run_start - 1)
            .is_some_and(|&r| r > tau && r > 0.0)
    {
        run_start -= 1;
    }
    if rises.len() - run_start < 2 {
        out.reason = if rises.last().is_some_and(|&r| r > tau) {
            "memory rose only in the last stretch: a single step, not a sustained leak yet"
                .to_owned()
        } else {
            "memory does not keep rising from window to window".to_owned()
        };
        return out;
    }
    // A leak reaches new highs: if the last window stays clearly below a peak seen earlier,
    // memory is cycling (allocate, free, allocate) and the rise is part of a cycle.
    let last_start = bounds.last().map_or(0, |&(a, _)| a);
    let max_of = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let earlier_peak = max_of(y.get(..last_start).unwrap_or(&[]));
    let last_peak = max_of(y.get(last_start..).unwrap_or(&[]));
    if last_peak + tau.max(sigma) < earlier_peak {
        out.reason = format!(
            "memory stays below an earlier peak ({earlier_peak:.1} MB, now at most {last_peak:.1} MB): it cycles, it does not leak"
        );
        return out;
    }
    // Longest sub-run (ending at the last window) whose growth is spread out rather than one step.
    let mut verdict =
        String::from("memory growth is concentrated in one step (a one-off allocation)");
    for s in run_start..rises.len() - 1 {
        let run = rises.get(s..).unwrap_or(&[]);
        let total: f64 = run.iter().sum();
        let biggest = run.iter().copied().fold(0.0, f64::max);
        if biggest > cfg.max_step_share * total {
            continue;
        }
        let (Some(&(first, _)), Some(&(_, last))) = (bounds.get(s), bounds.last()) else {
            continue;
        };
        let (ts, ys) = (
            t.get(first..last).unwrap_or(&[]),
            y.get(first..last).unwrap_or(&[]),
        );
        let (s_slope, s_icpt) = theil_sen(ts, ys);
        let (Some(&t0), Some(&t1)) = (ts.first(), ts.last()) else {
            continue;
        };
        let growth = s_slope * (t1 - t0);
        let level = medians.get(s).copied().unwrap_or(0.0).max(0.0);
        if growth < cfg.min_growth_mb || growth < cfg.min_relative_growth * level {
            verdict = format!(
                "growth of {growth:.2} MB is below the significance floor ({:.2} MB or {:.0} % of {level:.1} MB)",
                cfg.min_growth_mb,
                cfg.min_relative_growth * 100.0
            );
            continue;
        }
        out.leak_detected = true;
        out.rate_mb_per_hour = s_slope * 3600.0;
        out.leak_start_s = Some(t0);
        out.leak_end_s = Some(t1);
        out.leak_intercept_mb = Some(s_icpt);
        out.reason = format!(
            "memory rose in {} consecutive windows from {t0:.1} s to {t1:.1} s (+{growth:.1} MB, noise {sigma:.2} MB)",
            run.len()
        );
        return out;
    }
    out.reason = verdict;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Deterministic noise in [-1, 1] (xorshift) so tests do not depend on a RNG crate.
    fn noise(seed: &mut u64) -> f64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % 2001) as f64 / 1000.0 - 1.0
    }

    fn series(n: usize, f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let t: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let y = t.iter().map(|&x| f(x)).collect();
        (t, y)
    }

    #[test]
    fn a_rise_below_an_earlier_peak_is_a_cycle_not_a_leak() {
        // An allocate/free cycle sampled at a drifting phase: a spike to 100 MB early, then a
        // smooth climb from 10 to 45 MB that never reaches it again.
        let (t, y) = series(60, |x| {
            if (2.0..3.0).contains(&x) {
                100.0
            } else if x < 15.0 {
                10.0
            } else {
                10.0 + (x - 15.0) * 2.3
            }
        });
        let a = detect_leak(&t, &y, &LeakConfig::default());
        assert!(!a.leak_detected, "{}", a.reason);
        assert!(a.reason.contains("earlier peak"), "{}", a.reason);
        // The same climb without the earlier spike is a leak.
        let (t, y) = series(60, |x| {
            if x < 15.0 {
                10.0
            } else {
                10.0 + (x - 15.0) * 2.3
            }
        });
        assert!(detect_leak(&t, &y, &LeakConfig::default()).leak_detected);
    }

    #[test]
    fn noisy_linear_leak_is_found_with_its_rate() {
        let mut s = 42;
        let (t, y) = series(60, |x| 50.0 + 1.5 * x);
        let y: Vec<f64> = y.iter().map(|v| v + 2.0 * noise(&mut s)).collect();
        let a = detect_leak(&t, &y, &LeakConfig::default());
        assert!(a.leak_detected, "{}", a.reason);
        assert!(
            (a.rate_mb_per_hour / 3600.0 - 1.5).abs() < 0.15,
            "{}",
            a.rate_mb_per_hour
        );
    }

    #[test]
    fn sawtooth_churn_is_not_a_leak() {
        // Allocate 100 MB over 4 snapshots, free it, repeat.
        let (t, y) = series(60, |x| 20.0 + 25.0 * ((x * 2.0) as u64 % 5) as f64);
        let a = detect_leak(&t, &y, &LeakConfig::default());
        assert!(!a.leak_detected, "{}", a.reason);
    }

    #[test]
    fn step_then_flat_is_not_a_leak_wherever_the_step_is() {
        for at in [2.0, 7.5, 15.0, 22.0, 28.0] {
            let mut s = 7;
            let (t, y) = series(60, |x| if x < at { 30.0 } else { 230.0 });
            let y: Vec<f64> = y.iter().map(|v| v + 0.05 * noise(&mut s)).collect();
            let a = detect_leak(&t, &y, &LeakConfig::default());
            assert!(!a.leak_detected, "step at {at}: {}", a.reason);
        }
    }

    #[test]
    fn load_then_leak_reports_the_leak_rate() {
        let (t, y) = series(60, |x| {
            if x < 3.0 {
                10.0
            } else {
                500.0 + 4.0 * (x - 3.0)
            }
        });
        let a = detect_leak(&t, &y, &LeakConfig::default());
        assert!(a.leak_detected, "{}", a.reason);
        assert!((a.rate_mb_per_hour / 3600.0 - 4.0).abs() < 0.2);
    }

    #[test]
    fn late_leak_is_found() {
        let (t, y) = series(60, |x| {
            if x < 15.0 {
                100.0
            } else {
                100.0 + 3.0 * (x - 15.0)
            }
        });
        let a = detect_leak(&t, &y, &LeakConfig::default());
        assert!(a.leak_detected, "{}", a.reason);
        assert!(a.leak_start_s.is_some_and(|s| s >= 10.0));
    }

    #[test]
    fn tiny_drift_on_a_large_process_is_not_significant() {
        let (t, y) = series(60, |x| 4000.0 + 0.01 * x);
        assert!(!detect_leak(&t, &y, &LeakConfig::default()).leak_detected);
    }

    #[test]
    fn too_few_snapshots_give_no_verdict() {
        let (t, y) = series(4, |x| 10.0 * x);
        let a = detect_leak(&t, &y, &LeakConfig::default());
        assert!(!a.leak_detected);
        assert!(a.reason.contains("too few"));
    }

    #[test]
    fn empty_and_degenerate_input_do_not_panic() {
        let _ = detect_leak(&[], &[], &LeakConfig::default());
        let _ = detect_leak(&[1.0; 20], &[5.0; 20], &LeakConfig::default());
        let _ = detect_leak(&[0.0, 1.0], &[f64::NAN, 2.0], &LeakConfig::default());
        assert_eq!(theil_sen(&[], &[]), (0.0, 0.0));
    }

    proptest! {
        #[test]
        fn theil_sen_recovers_exact_lines(a in -1e3f64..1e3, b in -1e3f64..1e3, n in 2usize..60) {
            let t: Vec<f64> = (0..n).map(|i| i as f64 * 0.7).collect();
            let y: Vec<f64> = t.iter().map(|x| a * x + b).collect();
            let (s, i) = theil_sen(&t, &y);
            prop_assert!((s - a).abs() < 1e-6 * (1.0 + a.abs()));
            prop_assert!((i - b).abs() < 1e-6 * (1.0 + b.abs() + a.abs() * n as f64));
        }

        #[test]
        fn verdict_ignores_a_constant_offset(slope in 0.0f64..5.0, off in 0.0f64..50.0) {
            // Offsets below the relative floor's reach: the verdict depends on shape, not level.
            let t: Vec<f64> = (0..40).map(|i| i as f64).collect();
            let y: Vec<f64> = t.iter().map(|x| 10.0 + slope * x).collect();
            let y2: Vec<f64> = y.iter().map(|v| v + off).collect();
            let cfg = LeakConfig { min_relative_growth: 0.0, ..LeakConfig::default() };
            prop_assert_eq!(detect_leak(&t, &y, &cfg).leak_detected, detect_leak(&t, &y2, &cfg).leak_detected);
        }

        #[test]
        fn flat_series_with_noise_never_leak(seed in 1u64..u64::MAX, amp in 0.0f64..20.0) {
            let mut s = seed;
            let t: Vec<f64> = (0..50).map(|i| i as f64).collect();
            let y: Vec<f64> = t.iter().map(|_| 200.0 + amp * noise(&mut s)).collect();
            prop_assert!(!detect_leak(&t, &y, &LeakConfig::default()).leak_detected);
        }
    }
}
