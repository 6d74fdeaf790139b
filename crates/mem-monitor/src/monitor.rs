//! [`MemoryMonitor`]: samples on a thread, keeps a bounded history, publishes level changes.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde::{Deserialize, Serialize};

use crate::MonitorError;
use crate::level::{PressureLevel, Thresholds};
use crate::stats::{MemoryStats, memory_stats_with};

/// A change of pressure level, as published to subscribers and callbacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PressureEvent {
    /// The level before the change.
    pub from: PressureLevel,
    /// The level after the change.
    pub to: PressureLevel,
    /// The sample that caused the change.
    pub stats: MemoryStats,
}

type Callback = Arc<dyn Fn(&PressureEvent) + Send + Sync>;

/// Pending events a slow subscriber may hold before further events to it are dropped.
const SUBSCRIBER_CAPACITY: usize = 256;

/// Builds a [`MemoryMonitor`].
#[derive(Debug, Clone)]
pub struct MemoryMonitorBuilder {
    interval: Duration,
    history_capacity: usize,
    thresholds: Thresholds,
    hysteresis: f64,
}

impl Default for MemoryMonitorBuilder {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            history_capacity: 3600,
            thresholds: Thresholds::default(),
            hysteresis: 0.05,
        }
    }
}

impl MemoryMonitorBuilder {
    /// Time between samples (default 1 s; at least 1 ms).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Samples kept in [`MemoryMonitor::history`] (default 3600: an hour at 1 s). Memory cost
    /// is about 120 bytes a sample.
    #[must_use]
    pub fn history_capacity(mut self, capacity: usize) -> Self {
        self.history_capacity = capacity;
        self
    }

    /// Level thresholds (default: the seed's table).
    #[must_use]
    pub fn thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// Fraction below a threshold that usage must fall to leave its level (default 0.05).
    #[must_use]
    pub fn hysteresis(mut self, fraction: f64) -> Self {
        self.hysteresis = fraction;
        self
    }

    /// Validates the settings and builds a monitor that is not yet running.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] for a zero interval or history, a hysteresis outside
    /// `0.0..=0.5`, or thresholds whose Medium lies above High.
    pub fn build(self) -> Result<MemoryMonitor, MonitorError> {
        let bad = |m: &str| Err(MonitorError::InvalidConfig(m.to_owned()));
        if self.interval < Duration::from_millis(1) {
            return bad("interval must be at least 1 ms");
        }
        if self.history_capacity == 0 {
            return bad("history capacity must be at least 1");
        }
        if !(0.0..=0.5).contains(&self.hysteresis) {
            return bad("hysteresis must be between 0.0 and 0.5");
        }
        validate_thresholds(&self.thresholds)?;
        Ok(MemoryMonitor {
            shared: Arc::new(Shared {
                config: Mutex::new(self),
                state: Mutex::new(State::default()),
                observers: Mutex::new(Observers::default()),
                generation: Mutex::new(0),
                wake: Condvar::new(),
            }),
            thread: Mutex::new(None),
        })
    }
}

fn validate_thresholds(t: &Thresholds) -> Result<(), MonitorError> {
    let ok = t.process_medium_bytes <= t.process_high_bytes
        && t.system_medium_percent <= t.system_high_percent
        && t.system_medium_percent.is_finite()
        && t.system_high_percent.is_finite();
    if ok {
        Ok(())
    } else {
        Err(MonitorError::InvalidConfig(
            "thresholds: Medium must not lie above High".to_owned(),
        ))
    }
}

#[derive(Default)]
struct State {
    history: VecDeque<MemoryStats>,
    current: Option<MemoryStats>,
    peak: Option<MemoryStats>,
    level: PressureLevel,
    samples: u64,
    level_changes: u64,
}

#[derive(Default)]
struct Observers {
    subscribers: Vec<Sender<PressureEvent>>,
    callbacks: Vec<Callback>,
}

struct Shared {
    config: Mutex<MemoryMonitorBuilder>,
    state: Mutex<State>,
    observers: Mutex<Observers>,
    /// Bumped by every stop. A sampling thread runs while the generation it started under is
    /// current, so a thread told to stop (possibly from its own callback, without a join) never
    /// resumes because a new thread was started meanwhile.
    generation: Mutex<u64>,
    wake: Condvar,
}

/// A poisoned lock only means another thread panicked mid-update of plain data; the data is
/// still usable, and the monitor must keep working.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Watches process and system memory on a background thread.
///
/// ```
/// use std::time::Duration;
/// use mem_monitor::MemoryMonitor;
///
/// let monitor = MemoryMonitor::builder().interval(Duration::from_millis(10)).build()?;
/// let events = monitor.subscribe();
/// monitor.start()?;
/// std::thread::sleep(Duration::from_millis(50));
/// let now = monitor.current_stats().expect("sampled at start");
/// assert!(now.process_rss_bytes > 0);
/// assert!(monitor.history().len() >= 1);
/// monitor.stop();
/// // Level changes, if the machine's memory crossed a threshold meanwhile.
/// for event in events.try_iter() {
///     println!("{} -> {}", event.from, event.to);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryMonitor {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for MemoryMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryMonitor")
            .field("running", &self.is_running())
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl MemoryMonitor {
    /// A builder with the defaults (1 s interval, 3600 samples, the seed's thresholds).
    #[must_use]
    pub fn builder() -> MemoryMonitorBuilder {
        MemoryMonitorBuilder::default()
    }

    /// Starts the sampling thread; takes a first sample before returning. Does nothing when
    /// already running.
    ///
    /// # Errors
    /// [`MonitorError`] when the first sample fails or the thread cannot be spawned.
    pub fn start(&self) -> Result<(), MonitorError> {
        let mut thread = lock(&self.thread);
        if thread.is_some() {
            return Ok(());
        }
        let generation = *lock(&self.shared.generation);
        self.sample_now()?;
        let shared = Arc::clone(&self.shared);
        let handle = std::thread::Builder::new()
            // At most 15 bytes: Linux truncates thread names (`comm`) beyond that.
            .name("mem-monitor".into())
            .spawn(move || shared.run(generation))
            .map_err(MonitorError::Spawn)?;
        *thread = Some(handle);
        tracing::debug!("memory monitor started");
        Ok(())
    }

    /// Stops the sampling thread and waits for it to end. Dropping the monitor does the same.
    ///
    /// Called from a pressure callback (which runs on the sampling thread), it only tells the
    /// thread to end after the callback returns: a thread cannot wait for itself.
    pub fn stop(&self) {
        let handle = lock(&self.thread).take();
        if let Some(handle) = handle {
            {
                let mut generation = lock(&self.shared.generation);
                *generation = generation.wrapping_add(1);
            }
            self.shared.wake.notify_all();
            if handle.thread().id() == std::thread::current().id() {
                tracing::debug!("memory monitor stopping from its own thread");
                return;
            }
            if handle.join().is_err() {
                tracing::error!("memory monitor thread panicked");
            }
            tracing::debug!("memory monitor stopped");
        }
    }

    /// Whether the sampling thread runs.
    #[must_use]
    pub fn is_running(&self) -> bool {
        lock(&self.thread).is_some()
    }

    /// Takes a sample now, records it and publishes a level change if there is one.
    ///
    /// # Errors
    /// [`MonitorError`] when the OS does not report memory.
    pub fn sample_now(&self) -> Result<MemoryStats, MonitorError> {
        self.shared.sample_once()
    }

    /// The latest sample, if any was taken.
    #[must_use]
    pub fn current_stats(&self) -> Option<MemoryStats> {
        lock(&self.shared.state).current.clone()
    }

    /// The current pressure level (with hysteresis).
    #[must_use]
    pub fn level(&self) -> PressureLevel {
        lock(&self.shared.state).level
    }

    /// The samples kept, oldest first.
    #[must_use]
    pub fn history(&self) -> Vec<MemoryStats> {
        lock(&self.shared.state).history.iter().cloned().collect()
    }

    /// The sample with the highest process RSS seen since the monitor was built.
    #[must_use]
    pub fn peak(&self) -> Option<MemoryStats> {
        lock(&self.shared.state).peak.clone()
    }

    /// How many samples were taken and how many level changes were published.
    #[must_use]
    pub fn counters(&self) -> (u64, u64) {
        let s = lock(&self.shared.state);
        (s.samples, s.level_changes)
    }

    /// Receives every level change from now on. A receiver that falls more than 256 events
    /// behind misses the newer ones; a dropped receiver is forgotten.
    #[must_use]
    pub fn subscribe(&self) -> Receiver<PressureEvent> {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_CAPACITY);
        lock(&self.shared.observers).subscribers.push(tx);
        rx
    }

    /// Calls `callback` on the sampling thread for every level change. Keep it short. No lock
    /// of the monitor is held while it runs, so it may call the monitor (even
    /// [`stop`](Self::stop)); a panic in it is caught and logged.
    pub fn on_pressure<F>(&self, callback: F)
    where
        F: Fn(&PressureEvent) + Send + Sync + 'static,
    {
        lock(&self.shared.observers)
            .callbacks
            .push(Arc::new(callback));
    }

    /// Replaces the thresholds; the next sample is classified under them.
    ///
    /// # Errors
    /// [`MonitorError::InvalidConfig`] when Medium lies above High.
    pub fn set_thresholds(&self, thresholds: Thresholds) -> Result<(), MonitorError> {
        validate_thresholds(&thresholds)?;
        lock(&self.shared.config).thresholds = thresholds;
        Ok(())
    }

    /// The thresholds in force.
    #[must_use]
    pub fn thresholds(&self) -> Thresholds {
        lock(&self.shared.config).thresholds
    }

    /// Changes the sampling interval (at least 1 ms); takes effect after the current wait.
    pub fn set_interval(&self, interval: Duration) {
        lock(&self.shared.config).interval = interval.max(Duration::from_millis(1));
    }
}

impl Drop for MemoryMonitor {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn run(&self, generation: u64) {
        loop {
            let interval = lock(&self.config).interval;
            let current = lock(&self.generation);
            let (current, _) = self
                .wake
                .wait_timeout_while(current, interval, |g| *g == generation)
                .unwrap_or_else(PoisonError::into_inner);
            if *current != generation {
                return;
            }
            drop(current);
            if let Err(e) = self.sample_once() {
                tracing::warn!(error = %e, "memory sample failed");
            }
        }
    }

    fn sample_once(&self) -> Result<MemoryStats, MonitorError> {
        let (thresholds, hysteresis, capacity) = {
            let c = lock(&self.config);
            (c.thresholds, c.hysteresis, c.history_capacity)
        };
        let mut stats = memory_stats_with(&thresholds)?;
        let event = {
            let mut state = lock(&self.state);
            let from = state.level;
            let to = if state.samples == 0 {
                stats.level
            } else {
                thresholds.classify_with_hysteresis(
                    stats.process_rss_bytes,
                    stats.system_used_percent,
                    from,
                    hysteresis,
                )
            };
            stats.level = to;
            state.level = to;
            state.samples += 1;
            if state.history.len() >= capacity {
                state.history.pop_front();
            }
            state.history.push_back(stats.clone());
            if state
                .peak
                .as_ref()
                .is_none_or(|p| stats.process_rss_bytes > p.process_rss_bytes)
            {
                state.peak = Some(stats.clone());
            }
            state.current = Some(stats.clone());
            (from != to).then(|| {
                state.level_changes += 1;
                PressureEvent {
                    from,
                    to,
                    stats: stats.clone(),
                }
            })
        };
        if let Some(event) = event {
            self.publish(&event);
        }
        Ok(stats)
    }

    fn publish(&self, event: &PressureEvent) {
        tracing::info!(
            from = %event.from,
            to = %event.to,
            process_mb = event.stats.process_mb(),
            system_used_percent = event.stats.system_used_percent,
            "memory pressure level changed"
        );
        let callbacks = {
            let mut obs = lock(&self.observers);
            obs.subscribers
                .retain(|tx| match tx.try_send(event.clone()) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_)) => {
                        tracing::warn!(
                            "a pressure subscriber is not keeping up; event dropped for it"
                        );
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                });
            obs.callbacks.clone()
        };
        for cb in callbacks {
            // A panicking callback must not end the sampling thread for everyone else.
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(event))).is_err() {
                tracing::error!("a memory pressure callback panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_rejects_bad_settings() {
        assert!(
            MemoryMonitor::builder()
                .interval(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            MemoryMonitor::builder()
                .history_capacity(0)
                .build()
                .is_err()
        );
        assert!(MemoryMonitor::builder().hysteresis(0.9).build().is_err());
        let inverted = Thresholds {
            process_medium_bytes: 10,
            process_high_bytes: 5,
            ..Thresholds::default()
        };
        assert!(
            MemoryMonitor::builder()
                .thresholds(inverted)
                .build()
                .is_err()
        );
    }

    #[test]
    fn history_is_bounded_and_peak_tracked() {
        let m = MemoryMonitor::builder()
            .history_capacity(3)
            .build()
            .unwrap();
        for _ in 0..5 {
            m.sample_now().unwrap();
        }
        assert_eq!(m.history().len(), 3);
        assert_eq!(m.counters().0, 5);
        let peak = m.peak().unwrap();
        assert!(
            m.history()
                .iter()
                .all(|s| s.process_rss_bytes <= peak.process_rss_bytes)
        );
    }

    #[test]
    fn level_change_reaches_subscriber_and_callback() {
        // System thresholds out of reach: a busy machine must not start the monitor above Low.
        let m = MemoryMonitor::builder()
            .thresholds(Thresholds {
                system_medium_percent: f64::MAX,
                system_high_percent: f64::MAX,
                ..Thresholds::default()
            })
            .build()
            .unwrap();
        let rx = m.subscribe();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        m.on_pressure(move |e| seen2.lock().unwrap().push(e.to));
        let first = m.sample_now().unwrap();
        let rss = first.process_rss_bytes;
        m.set_thresholds(Thresholds {
            process_medium_bytes: rss / 4,
            process_high_bytes: rss / 2,
            system_medium_percent: f64::MAX,
            system_high_percent: f64::MAX,
        })
        .unwrap();
        m.sample_now().unwrap();
        let event = rx.try_recv().expect("a level change event");
        assert_eq!(event.to, PressureLevel::High);
        assert_eq!(*seen.lock().unwrap(), vec![PressureLevel::High]);
    }

    #[test]
    fn callback_may_stop_the_monitor_and_panics_are_contained() {
        let m = Arc::new(
            MemoryMonitor::builder()
                .interval(Duration::from_millis(2))
                .thresholds(Thresholds {
                    system_medium_percent: f64::MAX,
                    system_high_percent: f64::MAX,
                    ..Thresholds::default()
                })
                .build()
                .unwrap(),
        );
        let (tx, rx) = crossbeam_channel::unbounded();
        m.on_pressure(|_| panic!("a careless callback"));
        let weak = Arc::downgrade(&m);
        m.on_pressure(move |e| {
            if let Some(m) = weak.upgrade() {
                m.stop();
            }
            let _ = tx.send(e.to);
        });
        m.start().unwrap();
        let rss = m.current_stats().unwrap().process_rss_bytes;
        m.set_thresholds(Thresholds {
            process_medium_bytes: rss / 4,
            process_high_bytes: rss / 2,
            system_medium_percent: f64::MAX,
            system_high_percent: f64::MAX,
        })
        .unwrap();
        // The second callback still ran after the first panicked, and stop() did not deadlock.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(30)),
            Ok(PressureLevel::High)
        );
        assert!(!m.is_running());
        // Restarting at once must not revive the thread that was told to stop.
        m.start().unwrap();
        m.stop();
        let weak = Arc::downgrade(&m.shared);
        drop(m);
        // The thread ends on its own (it was told to stop); wait for it to let go, bounded.
        let gone = (0..3000).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            weak.upgrade().is_none()
        });
        assert!(
            gone,
            "the sampling thread ended after stop() from a callback"
        );
    }

    #[test]
    fn drop_stops_the_thread() {
        let m = MemoryMonitor::builder()
            .interval(Duration::from_millis(5))
            .build()
            .unwrap();
        m.start().unwrap();
        m.start().unwrap(); // idempotent
        assert!(m.is_running());
        let weak = Arc::downgrade(&m.shared);
        drop(m);
        assert!(
            weak.upgrade().is_none(),
            "the thread's reference was released: it has ended"
        );
    }
}
