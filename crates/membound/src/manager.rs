//! [`MemoryManager`]: starts monitoring from a [`Config`] and carries out the original guide's
//! automatic actions at each pressure level.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mem_monitor::{
    FixedPressure, MemoryMonitor, MonitorError, PressureHook, PressureLevel, PressureSource,
    Thresholds,
};
use serde::{Deserialize, Serialize};

use crate::Config;

/// One automatic action the manager can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Medium: registered caches compress harder and clean up more often (recorded only when
    /// a hook is registered).
    CompressHarder,
    /// Medium and High: the streams that follow the manager's level (built with
    /// [`MemoryManager::streaming_loader`] or given [`MemoryManager::pressure`]) stop growing
    /// their chunks at Medium and halve them at High (recorded only when such a stream is open).
    SmallerChunks,
    /// High: purge hooks run and the allocator gives freed memory back to the OS.
    ReleaseMemory,
    /// High: caches drop non-essential entries and serve from disk only (recorded only when a
    /// hook is registered).
    DiskOnlyCaching,
    /// High: a profiling session starts (when `memory_profile` is on).
    StartProfiling,
    /// Leaving High: the profiling session stops and its result is kept.
    StopProfiling,
    /// Back to Low: every adaptation is undone.
    Restore,
}

/// One action taken, for the manager's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// What was done.
    pub action: Action,
    /// The level that caused it.
    pub level: PressureLevel,
    /// When, in seconds since the Unix epoch.
    pub at: f64,
    /// A short description of the outcome (e.g. bytes released).
    pub detail: String,
}

/// What the manager has done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManagerStats {
    /// The level the manager acts on now.
    pub level: PressureLevel,
    /// Level changes handled.
    pub level_changes: u64,
    /// How often each action was taken.
    pub actions: BTreeMap<Action, u64>,
    /// The most recent actions, oldest first (at most 256).
    pub recent: Vec<ActionRecord>,
}

const RECENT_CAPACITY: usize = 256;

/// What the current level advises for what the manager cannot change itself: work the
/// application does with its own settings. (Chunk sizes are not advice: streams that follow the
/// manager's level adapt on their own, see [`Action::SmallerChunks`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advice {
    /// Medium and High: optimise tables with `OptimizeOptions::tighter()` (lossy floats within
    /// its tolerance) where the application accepts it.
    pub tighter_types: bool,
    /// High: keep new cache entries on disk rather than in memory.
    pub disk_only_caching: bool,
}

struct Inner {
    config: Config,
    monitor: MemoryMonitor,
    hooks: Mutex<Vec<Arc<dyn PressureHook>>>,
    /// The level streams follow, published after the actions of each change.
    pressure: Arc<FixedPressure>,
    stats: Mutex<ManagerStats>,
    #[cfg(feature = "optimize")]
    purge_handles: Mutex<Vec<mem_optimize::PurgeHookHandle>>,
    #[cfg(feature = "profile")]
    last_profile: Mutex<Option<mem_profile::ProfileResult>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Builds a [`MemoryManager`].
#[derive(Debug, Clone)]
pub struct MemoryManagerBuilder {
    config: Config,
    thresholds: Thresholds,
    interval: Duration,
}

impl MemoryManagerBuilder {
    /// Level thresholds (default: the guide's table).
    #[must_use]
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Time between memory samples (default 1 s).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Builds the manager and, when the configuration enables monitoring, starts it.
    ///
    /// # Errors
    /// [`MonitorError`] when the monitor's settings are invalid or its thread cannot start.
    pub fn build(self) -> Result<MemoryManager, MonitorError> {
        let monitor = MemoryMonitor::builder()
            .interval(self.interval)
            .thresholds(self.thresholds)
            .build()?;
        let inner = Arc::new(Inner {
            config: self.config,
            monitor,
            hooks: Mutex::new(Vec::new()),
            pressure: Arc::new(FixedPressure::new(PressureLevel::Low)),
            stats: Mutex::new(ManagerStats::default()),
            #[cfg(feature = "optimize")]
            purge_handles: Mutex::new(Vec::new()),
            #[cfg(feature = "profile")]
            last_profile: Mutex::new(None),
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        inner.monitor.on_pressure(move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.handle(event.from, event.to);
            }
        });
        if inner.config.memory_monitoring {
            inner.monitor.start()?;
        }
        Ok(MemoryManager { inner })
    }
}

/// Watches memory and adapts the application to pressure, as the guide's "Automatic Actions".
///
/// | level | actions |
/// |---|---|
/// | Medium | registered caches compress harder and clean up more often; streams that follow the manager stop growing their chunks; tighter types are advised |
/// | High | release memory (purge hooks + allocator trim); caches drop non-essential entries and serve from disk only; following streams halve their chunks; a profiling session starts |
/// | Low | everything above is undone; the profiling session's result is kept |
///
/// Every action it records happened: a cache action needs a registered hook
/// ([`register_hook`](Self::register_hook)), a chunk action an open stream that follows the
/// manager ([`streaming_loader`](Self::streaming_loader) or [`pressure`](Self::pressure)).
///
/// ```
/// use membound::{Config, MemoryManager};
/// let manager = MemoryManager::builder(Config::default()).build()?;
/// assert!(!manager.advice().disk_only_caching || manager.level() == membound::monitor::PressureLevel::High);
/// manager.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryManager")
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl MemoryManager {
    /// A builder for `config`, with the guide's thresholds and a 1 s interval.
    #[must_use]
    pub fn builder(config: Config) -> MemoryManagerBuilder {
        MemoryManagerBuilder {
            config,
            thresholds: Thresholds::default(),
            interval: Duration::from_secs(1),
        }
    }

    /// Reads [`Config::from_env`] and starts a manager with it.
    ///
    /// # Errors
    /// A [`crate::ConfigError`] for a bad variable, or a [`MonitorError`].
    pub fn from_env() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self::builder(Config::from_env()?).build()?)
    }

    /// Registers something that holds memory (a cache): it is told of every level change and,
    /// with the `optimize` feature, purged whenever memory is released (by the manager at High
    /// pressure or by any call to `release_memory`). The manager keeps the hook alive.
    pub fn register_hook<H: PressureHook + 'static>(&self, hook: &Arc<H>) {
        let level = self.level();
        if level != PressureLevel::Low {
            hook.on_pressure(level);
        }
        #[cfg(feature = "optimize")]
        lock(&self.inner.purge_handles).push(mem_optimize::register_purge_hook(hook));
        let hook: Arc<dyn PressureHook> = Arc::clone(hook) as Arc<dyn PressureHook>;
        lock(&self.inner.hooks).push(hook);
    }

    /// The configuration the manager runs with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The monitor the manager listens to.
    #[must_use]
    pub fn monitor(&self) -> &MemoryMonitor {
        &self.inner.monitor
    }

    /// The level the manager acts on now.
    #[must_use]
    pub fn level(&self) -> PressureLevel {
        lock(&self.inner.stats).level
    }

    /// The actions taken so far.
    #[must_use]
    pub fn stats(&self) -> ManagerStats {
        lock(&self.inner.stats).clone()
    }

    /// What the current level advises the application (see [`Advice`]).
    #[must_use]
    pub fn advice(&self) -> Advice {
        advice_for(self.level())
    }

    /// The manager's level as a pressure source: give it to anything that adapts to pressure
    /// (a `StreamingLoaderBuilder::pressure`) so it follows the manager's thresholds.
    #[must_use]
    pub fn pressure(&self) -> Arc<dyn PressureSource> {
        Arc::clone(&self.inner.pressure) as Arc<dyn PressureSource>
    }

    /// A streaming loader builder with the configuration's chunk size and memory limit whose
    /// streams follow the manager's level: their chunks stop growing at Medium and halve at
    /// High.
    #[cfg(feature = "stream")]
    #[must_use]
    pub fn streaming_loader(&self) -> mem_stream::StreamingLoaderBuilder {
        self.inner
            .config
            .streaming_loader()
            .pressure(self.pressure())
    }

    /// Takes a sample now (acting on a level change at once) instead of waiting for the thread.
    ///
    /// # Errors
    /// [`MonitorError`] when memory cannot be sampled.
    pub fn check_now(&self) -> Result<mem_monitor::MemoryStats, MonitorError> {
        self.inner.monitor.sample_now()
    }

    /// The result of the last profiling session that High pressure started, once it ended.
    #[cfg(feature = "profile")]
    #[must_use]
    pub fn last_profile(&self) -> Option<mem_profile::ProfileResult> {
        lock(&self.inner.last_profile).clone()
    }

    /// Stops monitoring (dropping the manager does the same).
    pub fn stop(&self) {
        self.inner.monitor.stop();
    }
}

fn advice_for(level: PressureLevel) -> Advice {
    Advice {
        tighter_types: level >= PressureLevel::Medium,
        disk_only_caching: level == PressureLevel::High,
    }
}

impl PressureSource for MemoryManager {
    fn level(&self) -> PressureLevel {
        MemoryManager::level(self)
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The name of the profiling session High pressure starts.
pub const PRESSURE_PROFILE_SESSION: &str = "membound-high-pressure";

impl Inner {
    fn record(&self, action: Action, level: PressureLevel, detail: String) {
        tracing::info!(?action, %level, %detail, "membound automatic action");
        let mut stats = lock(&self.stats);
        *stats.actions.entry(action).or_default() += 1;
        if stats.recent.len() >= RECENT_CAPACITY {
            stats.recent.remove(0);
        }
        stats.recent.push(ActionRecord {
            action,
            level,
            at: now(),
            detail,
        });
    }

    /// Tells every hook of the new level; the names of those told.
    fn tell_hooks(&self, level: PressureLevel) -> Vec<String> {
        let hooks = lock(&self.hooks).clone();
        hooks
            .iter()
            .map(|h| {
                h.on_pressure(level);
                h.name().to_owned()
            })
            .collect()
    }

    /// Tells the hooks and records `action` when at least one was told.
    fn hooks_act(&self, action: Action, level: PressureLevel) {
        let names = self.tell_hooks(level);
        if !names.is_empty() {
            self.record(action, level, format!("hooks: {}", names.join(", ")));
        }
    }

    /// Streams that follow the manager's level now (holders of its pressure source).
    fn followers(&self) -> usize {
        Arc::strong_count(&self.pressure).saturating_sub(1)
    }

    fn handle(&self, from: PressureLevel, to: PressureLevel) {
        self.act(from, to);
        // Published after the actions: whoever sees the new level also sees what was done.
        let mut stats = lock(&self.stats);
        stats.level = to;
        stats.level_changes += 1;
        self.pressure.set(to);
    }

    /// Carries out the actions of a change from `from` to `to`; records only what happened.
    fn act(&self, from: PressureLevel, to: PressureLevel) {
        let streams = self.followers();
        match to {
            PressureLevel::Medium => {
                self.hooks_act(Action::CompressHarder, to);
                if streams > 0 && from == PressureLevel::Low {
                    self.record(
                        Action::SmallerChunks,
                        to,
                        format!("{streams} streams stop growing their chunks"),
                    );
                }
                if from == PressureLevel::High {
                    self.stop_profiling(to);
                }
            }
            PressureLevel::High => {
                self.hooks_act(Action::DiskOnlyCaching, to);
                self.release(to);
                if streams > 0 {
                    self.record(
                        Action::SmallerChunks,
                        to,
                        format!("{streams} streams halve their chunks"),
                    );
                }
                self.start_profiling(to);
            }
            PressureLevel::Low => {
                let names = self.tell_hooks(to);
                if from == PressureLevel::High {
                    self.stop_profiling(to);
                }
                self.record(
                    Action::Restore,
                    to,
                    format!(
                        "hooks: {}; {streams} streams may grow their chunks again",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    ),
                );
            }
        }
    }

    #[cfg(feature = "optimize")]
    fn release(&self, level: PressureLevel) {
        let report = mem_optimize::release_memory();
        self.record(
            Action::ReleaseMemory,
            level,
            format!(
                "purged {} in {} hooks, RSS {} -> {} in {:.1} ms",
                mem_monitor::format_bytes(report.bytes_purged),
                report.hooks_run,
                mem_monitor::format_bytes(report.rss_before),
                mem_monitor::format_bytes(report.rss_after),
                report.elapsed.as_secs_f64() * 1e3
            ),
        );
    }

    #[cfg(not(feature = "optimize"))]
    fn release(&self, level: PressureLevel) {
        let hooks = lock(&self.hooks).clone();
        let purged: u64 = hooks.iter().map(|h| h.purge()).sum();
        self.record(
            Action::ReleaseMemory,
            level,
            format!(
                "purged {} (allocator trim needs feature \"optimize\")",
                mem_monitor::format_bytes(purged)
            ),
        );
    }

    #[cfg(feature = "profile")]
    fn start_profiling(&self, level: PressureLevel) {
        if !self.config.memory_profile {
            return;
        }
        match mem_profile::get_memory_profiler().start_profiling(PRESSURE_PROFILE_SESSION) {
            Ok(()) => self.record(
                Action::StartProfiling,
                level,
                PRESSURE_PROFILE_SESSION.to_owned(),
            ),
            Err(e) => tracing::warn!(error = %e, "could not start the pressure profiling session"),
        }
    }

    #[cfg(not(feature = "profile"))]
    fn start_profiling(&self, _level: PressureLevel) {}

    #[cfg(feature = "profile")]
    fn stop_profiling(&self, level: PressureLevel) {
        let profiler = mem_profile::get_memory_profiler();
        if !profiler.is_profiling(PRESSURE_PROFILE_SESSION) {
            return;
        }
        match profiler.stop_profiling(PRESSURE_PROFILE_SESSION) {
            Ok(result) => {
                self.record(
                    Action::StopProfiling,
                    level,
                    format!(
                        "peak {:.1} MB, leak detected: {}",
                        result.peak_memory_mb, result.memory_leak_detected
                    ),
                );
                *lock(&self.last_profile) = Some(result);
            }
            Err(e) => tracing::warn!(error = %e, "could not stop the pressure profiling session"),
        }
    }

    #[cfg(not(feature = "profile"))]
    fn stop_profiling(&self, _level: PressureLevel) {}
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        // Join the monitor thread while this handle still keeps `Inner` alive, so the last
        // reference is never released on the monitor thread itself.
        self.inner.monitor.stop();
        #[cfg(feature = "optimize")]
        for handle in lock(&self.inner.purge_handles).drain(..) {
            handle.unregister();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_per_level() {
        assert!(!advice_for(PressureLevel::Low).tighter_types);
        assert!(advice_for(PressureLevel::Medium).tighter_types);
        let high = advice_for(PressureLevel::High);
        assert!(high.disk_only_caching && high.tighter_types);
    }
}
