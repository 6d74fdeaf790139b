//! [`MemoryProfiler`]: named sessions sampled on a thread, and the global profiler.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::alloc::{AllocStats, heap_stats};
use crate::error::ProfileError;
use crate::result::{
    AnalysisConfig, Extras, FunctionProfile, HeapSummary, ProfileResult, Snapshot,
};
use crate::trend::LeakConfig;

/// Longest interval used between snapshots; longer settings behave like this.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The seed's default interval between snapshots.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(30);

/// Most snapshots a series keeps before it is thinned (sessions and child processes alike).
pub(crate) const DEFAULT_MAX_SNAPSHOTS: usize = 10_000;

/// Locks a mutex, taking the data of a poisoned one: profiler state stays usable after a panic
/// elsewhere.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One snapshot of this process: RSS and, when tracked, live heap. `None` when RSS is unreadable.
fn take_snapshot(started: Instant) -> Option<Snapshot> {
    let heap_mb = heap_stats().map(|h| h.live_mb());
    let stats = mem_monitor::memory_stats().ok()?;
    Some(Snapshot {
        timestamp: unix_now(),
        elapsed_s: started.elapsed().as_secs_f64(),
        rss_mb: stats.process_mb(),
        heap_mb,
    })
}

/// Keeps at most `cap` snapshots by dropping every other one when full and sampling half as
/// often from then on, so a long session's memory stays bounded and its series evenly spaced.
#[derive(Debug)]
pub(crate) struct Thinned {
    pub snaps: Vec<Snapshot>,
    cap: usize,
    stride: u64,
    tick: u64,
}

impl Thinned {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            snaps: Vec::new(),
            cap: cap.max(4),
            stride: 1,
            tick: 0,
        }
    }

    pub(crate) fn offer(&mut self, s: Snapshot) {
        let keep = self.tick.is_multiple_of(self.stride);
        self.tick += 1;
        if !keep {
            return;
        }
        if self.snaps.len() >= self.cap {
            let mut i = 0;
            self.snaps.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
        }
        self.snaps.push(s);
    }
}

struct Running {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Vec<Snapshot>>,
    heap_start: Option<AllocStats>,
    functions_start: HashMap<&'static str, FunctionProfile>,
}

/// Builder of a [`MemoryProfiler`].
#[derive(Debug, Clone)]
pub struct MemoryProfilerBuilder {
    interval: Duration,
    max_snapshots: usize,
    analysis: AnalysisConfig,
}

impl MemoryProfilerBuilder {
    /// Time between snapshots (default 30 s, the seed's). Must be at least 1 ms.
    #[must_use]
    pub fn snapshot_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Most snapshots a session keeps (default 10,000; at least 16). Beyond it the series is
    /// thinned evenly: memory stays bounded for sessions of any length.
    #[must_use]
    pub fn max_snapshots(mut self, n: usize) -> Self {
        self.max_snapshots = n;
        self
    }

    /// Peak resident memory, in bytes, above which a result recommends streaming (default: the seed's
    /// 2 GB "medium" process threshold).
    #[must_use]
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.analysis.memory_budget_mb = mem_monitor::bytes_to_mb(bytes);
        self
    }

    /// Leak detection tuning.
    #[must_use]
    pub fn leak_config(mut self, cfg: LeakConfig) -> Self {
        self.analysis.leak = cfg;
        self
    }

    /// Validates the settings.
    ///
    /// # Errors
    /// [`ProfileError::InvalidConfig`] for an interval under 1 ms, fewer than 16 snapshots, or a
    /// budget that is not a positive number.
    pub fn build(self) -> Result<MemoryProfiler, ProfileError> {
        validate_interval(self.interval)?;
        if self.max_snapshots < 16 {
            return Err(ProfileError::InvalidConfig(format!(
                "max_snapshots {} is below 16",
                self.max_snapshots
            )));
        }
        let b = self.analysis.memory_budget_mb;
        if !b.is_finite() || b <= 0.0 {
            return Err(ProfileError::InvalidConfig(format!(
                "memory budget {b} MB must be above 0"
            )));
        }
        Ok(MemoryProfiler {
            interval_us: AtomicU64::new(self.interval.as_micros().try_into().unwrap_or(u64::MAX)),
            max_snapshots: self.max_snapshots,
            analysis: self.analysis,
            sessions: Mutex::new(HashMap::new()),
            results: Mutex::new(HashMap::new()),
            functions: Mutex::new(HashMap::new()),
        })
    }
}

fn validate_interval(d: Duration) -> Result<(), ProfileError> {
    if d < Duration::from_millis(1) {
        return Err(ProfileError::InvalidConfig(format!(
            "snapshot_interval {d:?} is below 1 ms"
        )));
    }
    Ok(())
}

/// Most finished results kept for [`MemoryProfiler::last_result`].
const MAX_RESULTS: usize = 64;

/// Profiles named sessions: each samples memory on its own thread until stopped, then is
/// analysed into a [`ProfileResult`]. Several sessions may run at once.
///
/// ```
/// use std::time::Duration;
/// use mem_profile::MemoryProfiler;
///
/// let profiler = MemoryProfiler::builder().snapshot_interval(Duration::from_millis(5)).build()?;
/// profiler.start_profiling("load")?;
/// let data = vec![1u8; 8 << 20];
/// std::thread::sleep(Duration::from_millis(30));
/// let result = profiler.stop_profiling("load")?;
/// assert!(result.snapshots.len() >= 2);
/// println!("Peak memory: {:.1} MB, leak: {}", result.peak_memory_mb, result.memory_leak_detected);
/// # drop(data);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MemoryProfiler {
    interval_us: AtomicU64,
    max_snapshots: usize,
    analysis: AnalysisConfig,
    sessions: Mutex<HashMap<String, Running>>,
    results: Mutex<HashMap<String, ProfileResult>>,
    functions: Mutex<HashMap<&'static str, FunctionProfile>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

impl Default for MemoryProfiler {
    fn default() -> Self {
        Self::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("the default profiler settings are valid"))
    }
}

impl MemoryProfiler {
    /// A builder with the seed's defaults (30 s snapshots, 2 GB budget).
    #[must_use]
    pub fn builder() -> MemoryProfilerBuilder {
        MemoryProfilerBuilder {
            interval: DEFAULT_SNAPSHOT_INTERVAL,
            max_snapshots: DEFAULT_MAX_SNAPSHOTS,
            analysis: AnalysisConfig::default(),
        }
    }

    /// The interval sessions started from now on use.
    #[must_use]
    pub fn snapshot_interval(&self) -> Duration {
        Duration::from_micros(self.interval_us.load(Ordering::Relaxed))
    }

    /// Changes the interval for sessions started from now on (for example on the global profiler).
    ///
    /// # Errors
    /// [`ProfileError::InvalidConfig`] below 1 ms.
    pub fn set_snapshot_interval(&self, interval: Duration) -> Result<(), ProfileError> {
        validate_interval(interval)?;
        self.interval_us.store(
            interval.as_micros().try_into().unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// The analysis settings results are computed with.
    #[must_use]
    pub fn analysis_config(&self) -> &AnalysisConfig {
        &self.analysis
    }

    /// Starts a session: a first snapshot now, then one per interval on a thread.
    ///
    /// # Errors
    /// [`ProfileError::AlreadyRunning`] if a session of that name runs; [`ProfileError::Spawn`]
    /// if the thread cannot start.
    pub fn start_profiling(&self, name: &str) -> Result<(), ProfileError> {
        let mut sessions = lock(&self.sessions);
        if sessions.contains_key(name) {
            return Err(ProfileError::AlreadyRunning(name.to_owned()));
        }
        // Clamped so deadline arithmetic cannot overflow; a year between snapshots is "never".
        let interval = self.snapshot_interval().min(MAX_INTERVAL);
        let cap = self.max_snapshots;
        let heap_start = heap_stats();
        let functions_start = lock(&self.functions).clone();
        let (stop, rx) = mpsc::channel::<()>();
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name(format!("mem-profile:{name}"))
            .spawn(move || {
                let mut series = Thinned::new(cap);
                let mut next = started;
                let mut jitter = crate::jitter::Jitter::seeded();
                loop {
                    if let Some(s) = take_snapshot(started) {
                        series.offer(s);
                    }
                    // Deadlines from the start, so sampling does not drift by its own cost.
                    next += jitter.apply(interval);
                    let wait = next.saturating_duration_since(Instant::now());
                    match rx.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                if let Some(s) = take_snapshot(started) {
                    series.snaps.push(s);
                }
                series.snaps
            })
            .map_err(|source| ProfileError::Spawn {
                name: name.to_owned(),
                source,
            })?;
        sessions.insert(
            name.to_owned(),
            Running {
                stop,
                thread,
                heap_start,
                functions_start,
            },
        );
        tracing::debug!(session = name, ?interval, "profiling started");
        Ok(())
    }

    /// Whether a session of that name is running.
    #[must_use]
    pub fn is_profiling(&self, name: &str) -> bool {
        lock(&self.sessions).contains_key(name)
    }

    /// Names of the running sessions.
    #[must_use]
    pub fn running_sessions(&self) -> Vec<String> {
        lock(&self.sessions).keys().cloned().collect()
    }

    /// Stops a session, takes a last snapshot and analyses the series.
    ///
    /// # Errors
    /// [`ProfileError::NotRunning`] if no session of that name runs.
    pub fn stop_profiling(&self, name: &str) -> Result<ProfileResult, ProfileError> {
        let running = lock(&self.sessions)
            .remove(name)
            .ok_or_else(|| ProfileError::NotRunning(name.to_owned()))?;
        let _ = running.stop.send(());
        let snapshots = running.thread.join().unwrap_or_default();
        let heap = self.heap_summary(running.heap_start, &snapshots);
        let functions = self.function_delta(&running.functions_start);
        let result =
            ProfileResult::analyze(name, snapshots, &self.analysis, Extras { heap, functions });
        tracing::info!(
            session = name,
            duration_s = result.duration_s,
            peak_mb = result.peak_memory_mb,
            leak = result.memory_leak_detected,
            leak_rate_mb_per_hour = result.leak_rate_mb_per_hour,
            "profiling stopped"
        );
        let mut results = lock(&self.results);
        if results.len() >= MAX_RESULTS && !results.contains_key(name) {
            // Forget the oldest result to stay bounded.
            if let Some(k) = results
                .iter()
                .min_by(|a, b| a.1.end_time.total_cmp(&b.1.end_time))
                .map(|(k, _)| k.clone())
            {
                results.remove(&k);
            }
        }
        results.insert(name.to_owned(), result.clone());
        Ok(result)
    }

    /// The last finished result of a session name (the 64 most recent names are kept).
    #[must_use]
    pub fn last_result(&self, name: &str) -> Option<ProfileResult> {
        lock(&self.results).get(name).cloned()
    }

    fn heap_summary(&self, start: Option<AllocStats>, snaps: &[Snapshot]) -> Option<HeapSummary> {
        let (start, end) = (start?, heap_stats()?);
        let mb = mem_monitor::bytes_to_mb;
        let snap_peak = snaps.iter().filter_map(|s| s.heap_mb).fold(0.0, f64::max);
        // If the process-wide peak rose during the session, the new peak happened in it.
        let global_peak = if end.peak_bytes > start.peak_bytes {
            mb(end.peak_bytes)
        } else {
            0.0
        };
        let end_rss = snaps.last().map_or(0.0, |s| s.rss_mb);
        Some(HeapSummary {
            start_heap_mb: mb(start.live_bytes),
            end_heap_mb: mb(end.live_bytes),
            peak_heap_mb: snap_peak.max(global_peak).max(mb(end.live_bytes)),
            retained_by_allocator_mb: (end_rss - mb(end.live_bytes)).max(0.0),
            allocated_mb: mb(end
                .total_allocated_bytes
                .wrapping_sub(start.total_allocated_bytes)),
            allocations: end.allocations.wrapping_sub(start.allocations),
            deallocations: end.deallocations.wrapping_sub(start.deallocations),
        })
    }

    fn function_delta(
        &self,
        start: &HashMap<&'static str, FunctionProfile>,
    ) -> Vec<FunctionProfile> {
        let now = lock(&self.functions);
        let mut out: Vec<FunctionProfile> = now
            .iter()
            .filter_map(|(k, f)| {
                let s = start.get(k);
                let calls = f.calls - s.map_or(0, |s| s.calls);
                (calls > 0).then(|| FunctionProfile {
                    name: f.name.clone(),
                    calls,
                    total_elapsed_s: f.total_elapsed_s - s.map_or(0.0, |s| s.total_elapsed_s),
                    allocated_bytes: f
                        .allocated_bytes
                        .wrapping_sub(s.map_or(0, |s| s.allocated_bytes)),
                    retained_bytes: f
                        .retained_bytes
                        .wrapping_sub(s.map_or(0, |s| s.retained_bytes)),
                    max_peak_bytes: f.max_peak_bytes,
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.retained_bytes
                .cmp(&a.retained_bytes)
                .then_with(|| a.name.cmp(&b.name))
        });
        out
    }

    /// Records one call of a profiled function (what `#[profile_function]` and
    /// [`profile_fn`](crate::profile_fn) do).
    pub fn record_call(
        &self,
        name: &'static str,
        elapsed: Duration,
        allocated: u64,
        retained: i64,
        peak: u64,
    ) {
        let mut map = lock(&self.functions);
        let f = map.entry(name).or_insert_with(|| FunctionProfile {
            name: name.to_owned(),
            calls: 0,
            total_elapsed_s: 0.0,
            allocated_bytes: 0,
            retained_bytes: 0,
            max_peak_bytes: 0,
        });
        f.calls += 1;
        f.total_elapsed_s += elapsed.as_secs_f64();
        f.allocated_bytes = f.allocated_bytes.wrapping_add(allocated);
        f.retained_bytes = f.retained_bytes.wrapping_add(retained);
        f.max_peak_bytes = f.max_peak_bytes.max(peak);
    }

    /// Totals of every profiled function since the process started, most memory left behind
    /// first.
    #[must_use]
    pub fn function_stats(&self) -> Vec<FunctionProfile> {
        self.function_delta(&HashMap::new())
    }

    /// The totals of one profiled function, by its path (`module::function`).
    #[must_use]
    pub fn function(&self, name: &str) -> Option<FunctionProfile> {
        lock(&self.functions).get(name).cloned()
    }
}

static GLOBAL: OnceLock<MemoryProfiler> = OnceLock::new();

/// The process-wide profiler (seed defaults: 30 s snapshots; change with
/// [`MemoryProfiler::set_snapshot_interval`]).
///
/// ```
/// let profiler = mem_profile::get_memory_profiler();
/// profiler.set_snapshot_interval(std::time::Duration::from_millis(10))?;
/// profiler.start_profiling("doc-session")?;
/// let result = profiler.stop_profiling("doc-session")?;
/// if result.memory_leak_detected {
///     println!("Leak rate: {:.1} MB/hour", result.leak_rate_mb_per_hour);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get_memory_profiler() -> &'static MemoryProfiler {
    GLOBAL.get_or_init(MemoryProfiler::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(i: usize) -> Snapshot {
        Snapshot {
            timestamp: i as f64,
            elapsed_s: i as f64,
            rss_mb: i as f64,
            heap_mb: None,
        }
    }

    #[test]
    fn thinning_keeps_the_series_bounded_and_even() {
        let mut t = Thinned::new(16);
        for i in 0..1000 {
            t.offer(snap(i));
        }
        assert!(t.snaps.len() <= 16);
        let gaps: Vec<f64> = t
            .snaps
            .windows(2)
            .map(|w| w[1].elapsed_s - w[0].elapsed_s)
            .collect();
        assert!(gaps.iter().all(|g| *g == gaps[0]), "{gaps:?}");
        assert_eq!(t.snaps[0].elapsed_s, 0.0);
    }

    #[test]
    fn sessions_run_side_by_side_and_names_are_checked() {
        let p = MemoryProfiler::builder()
            .snapshot_interval(Duration::from_millis(2))
            .build()
            .unwrap();
        p.start_profiling("a").unwrap();
        p.start_profiling("b").unwrap();
        assert!(matches!(
            p.start_profiling("a"),
            Err(ProfileError::AlreadyRunning(_))
        ));
        // Long enough at a 2 ms interval that even a sampling thread the scheduler starts late
        // takes a snapshot between its first and its last.
        std::thread::sleep(Duration::from_millis(100));
        let a = p.stop_profiling("a").unwrap();
        assert!(p.is_profiling("b"));
        let b = p.stop_profiling("b").unwrap();
        assert!(a.snapshots.len() >= 3 && b.snapshots.len() >= 3);
        // "b" ran on after "a" stopped: its last snapshot (taken after its stop, which came
        // after "a"'s thread was joined) is later. Durations are not comparable: each thread
        // takes its first snapshot whenever the scheduler runs it.
        assert!(b.end_time >= a.end_time, "{} < {}", b.end_time, a.end_time);
        assert!(matches!(
            p.stop_profiling("a"),
            Err(ProfileError::NotRunning(_))
        ));
        assert_eq!(
            p.last_result("a").map(|r| r.session_name),
            Some("a".to_owned())
        );
    }

    #[test]
    fn builder_rejects_bad_settings() {
        assert!(
            MemoryProfiler::builder()
                .snapshot_interval(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(MemoryProfiler::builder().max_snapshots(3).build().is_err());
        assert!(MemoryProfiler::builder().memory_budget(0).build().is_err());
        assert!(
            MemoryProfiler::default()
                .set_snapshot_interval(Duration::from_micros(10))
                .is_err()
        );
    }
}
