//! Scoped profiling: [`profile_context`], [`profile_fn`], the guard behind
//! `#[profile_function]`, and [`QuickMemoryProfiler`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ProfileError;
use crate::profiler::{MemoryProfiler, get_memory_profiler};
use crate::result::ProfileResult;
use crate::scope::{Measurement, ScopeMeter};

/// A running session that stops when dropped (the seed's `with profiler.profile_context(...)`).
///
/// Dropping it stops the session, logs the summary through `tracing` and keeps the result for
/// [`MemoryProfiler::last_result`]; [`ProfileGuard::finish`] returns it instead.
#[derive(Debug)]
#[must_use = "the session stops when the guard is dropped"]
pub struct ProfileGuard<'p> {
    profiler: &'p MemoryProfiler,
    id: String,
    done: bool,
}

impl ProfileGuard<'_> {
    /// The session's name: the requested name, or `name#N` if a session of that name was
    /// already running.
    #[must_use]
    pub fn session_id(&self) -> &str {
        &self.id
    }

    /// Stops the session and returns its result.
    ///
    /// # Errors
    /// [`ProfileError::NotRunning`] if the session was stopped by name meanwhile.
    pub fn finish(mut self) -> Result<ProfileResult, ProfileError> {
        self.done = true;
        self.profiler.stop_profiling(&self.id)
    }
}

impl Drop for ProfileGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            match self.profiler.stop_profiling(&self.id) {
                Ok(r) => {
                    tracing::info!(session = %self.id, summary = %r.summary(), "profile context ended")
                }
                Err(e) => {
                    tracing::warn!(session = %self.id, error = %e, "profile context could not stop")
                }
            }
        }
    }
}

static CONTEXT_SEQ: AtomicU64 = AtomicU64::new(1);

impl MemoryProfiler {
    /// Starts a session that stops when the returned guard is dropped.
    ///
    /// # Errors
    /// As [`MemoryProfiler::start_profiling`].
    pub fn profile_context(&self, name: &str) -> Result<ProfileGuard<'_>, ProfileError> {
        let id = match self.start_profiling(name) {
            Ok(()) => name.to_owned(),
            Err(ProfileError::AlreadyRunning(_)) => {
                let id = format!("{name}#{}", CONTEXT_SEQ.fetch_add(1, Ordering::Relaxed));
                self.start_profiling(&id)?;
                id
            }
            Err(e) => return Err(e),
        };
        Ok(ProfileGuard {
            profiler: self,
            id,
            done: false,
        })
    }
}

/// [`MemoryProfiler::profile_context`] on the global profiler.
///
/// ```
/// let guard = mem_profile::profile_context("specific_operation")?;
/// let v: Vec<u64> = (0..100_000).collect();
/// let result = guard.finish()?;
/// assert_eq!(result.session_name, "specific_operation");
/// # drop(v);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`MemoryProfiler::start_profiling`].
pub fn profile_context(name: &str) -> Result<ProfileGuard<'static>, ProfileError> {
    get_memory_profiler().profile_context(name)
}

/// Measures one call of a function and records it into the global profiler and a `tracing`
/// span on drop. `#[profile_function]` expands to one of these; use it directly where an
/// attribute does not fit.
#[derive(Debug)]
#[must_use = "the call is recorded when the guard is dropped"]
pub struct FunctionGuard {
    name: &'static str,
    span: tracing::span::EnteredSpan,
    meter: Option<ScopeMeter>,
    rss_start: Option<u64>,
    started: Instant,
}

impl FunctionGuard {
    /// Starts measuring a call of `name`.
    pub fn enter(name: &'static str) -> Self {
        let span = tracing::info_span!(
            "profile_function",
            function = name,
            allocated_bytes = tracing::field::Empty,
            retained_bytes = tracing::field::Empty,
            peak_bytes = tracing::field::Empty,
            elapsed_us = tracing::field::Empty
        )
        .entered();
        // Without the tracking allocator, fall back to the RSS change (coarse, one read each end).
        let rss_start = if crate::is_tracking() {
            None
        } else {
            rss_bytes()
        };
        Self {
            name,
            span,
            meter: Some(ScopeMeter::start()),
            rss_start,
            started: Instant::now(),
        }
    }
}

fn rss_bytes() -> Option<u64> {
    mem_monitor::memory_stats()
        .ok()
        .map(|s| s.process_rss_bytes)
}

impl Drop for FunctionGuard {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let m = self
            .meter
            .take()
            .map(ScopeMeter::finish)
            .unwrap_or_default();
        let retained = match (m.tracked, self.rss_start, rss_bytes()) {
            (true, _, _) => m.net_bytes(),
            (false, Some(a), Some(b)) => (b as i64).wrapping_sub(a as i64),
            _ => 0,
        };
        self.span.record("allocated_bytes", m.allocated_bytes);
        self.span.record("retained_bytes", retained);
        self.span.record("peak_bytes", m.peak_bytes);
        self.span.record("elapsed_us", elapsed.as_micros() as u64);
        get_memory_profiler().record_call(
            self.name,
            elapsed,
            m.allocated_bytes,
            retained,
            m.peak_bytes,
        );
    }
}

/// Runs `f` as a profiled call named `name` (what `#[profile_function]` does for a function).
///
/// ```
/// let sum = mem_profile::profile_fn("doc::sum", || (0..1000u64).sum::<u64>());
/// assert_eq!(sum, 499_500);
/// assert_eq!(mem_profile::get_memory_profiler().function("doc::sum").map(|f| f.calls), Some(1));
/// ```
pub fn profile_fn<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let _guard = FunctionGuard::enter(name);
    f()
}

/// What a [`QuickContext`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickReport {
    /// The context's name.
    pub name: String,
    /// Resident memory change over the context, MB (negative when memory was given back).
    pub memory_change_mb: f64,
    /// Highest memory during the context, MB: resident memory at the start plus the peak heap
    /// growth of this thread when the tracking allocator is installed; otherwise the larger of
    /// the start and end resident memory.
    pub peak_mb: f64,
    /// Wall time, seconds.
    pub elapsed_s: f64,
    /// Heap figures of this thread, when tracked.
    pub heap: Measurement,
}

impl QuickReport {
    /// Wall time as a [`Duration`].
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        // The field is public and may come from JSON: no panic on NaN, negative or huge values.
        Duration::try_from_secs_f64(self.elapsed_s.max(0.0)).unwrap_or(Duration::MAX)
    }
}

/// A light measurement of one block: no thread, two RSS reads and the per-thread heap counters.
#[derive(Debug)]
#[must_use = "call finish() to get the figures"]
pub struct QuickContext {
    name: String,
    rss_start: u64,
    meter: Option<ScopeMeter>,
    started: Instant,
}

impl QuickContext {
    /// Ends the measurement.
    pub fn finish(mut self) -> QuickReport {
        self.report()
    }

    fn report(&mut self) -> QuickReport {
        let elapsed = self.started.elapsed();
        let heap = self
            .meter
            .take()
            .map(ScopeMeter::finish)
            .unwrap_or_default();
        let rss_end = rss_bytes().unwrap_or(self.rss_start);
        let mb = mem_monitor::bytes_to_mb;
        let peak_mb = if heap.tracked {
            (mb(self.rss_start) + mb(heap.peak_bytes)).max(mb(rss_end))
        } else {
            mb(self.rss_start.max(rss_end))
        };
        QuickReport {
            name: std::mem::take(&mut self.name),
            memory_change_mb: mb(rss_end) - mb(self.rss_start),
            peak_mb,
            elapsed_s: elapsed.as_secs_f64(),
            heap,
        }
    }
}

impl Drop for QuickContext {
    fn drop(&mut self) {
        if self.meter.is_some() {
            let r = self.report();
            tracing::info!(
                name = %r.name,
                memory_change_mb = r.memory_change_mb,
                peak_mb = r.peak_mb,
                elapsed_s = r.elapsed_s,
                "quick memory context"
            );
        }
    }
}

/// The seed's `QuickMemoryProfiler`: measure a block without starting a session.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuickMemoryProfiler;

impl QuickMemoryProfiler {
    /// Starts measuring a block; [`QuickContext::finish`] gives the figures (dropping it logs
    /// them through `tracing`).
    ///
    /// ```
    /// use mem_profile::QuickMemoryProfiler;
    /// let ctx = QuickMemoryProfiler::quick_context("build table");
    /// let table: Vec<u64> = (0..1_000_000).collect();
    /// let report = ctx.finish();
    /// println!("{}: {:+.1} MB, peak {:.1} MB in {:?}", report.name, report.memory_change_mb, report.peak_mb, report.elapsed());
    /// # drop(table);
    /// ```
    pub fn quick_context(name: &str) -> QuickContext {
        QuickContext {
            name: name.to_owned(),
            rss_start: rss_bytes().unwrap_or(0),
            meter: Some(ScopeMeter::start()),
            started: Instant::now(),
        }
    }
}
