//! [`PressureSource`]: where a consumer (a loader, a cache) reads the current pressure level.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::level::{PressureLevel, Thresholds};
use crate::monitor::MemoryMonitor;
use crate::stats::memory_stats_with;

/// Something that knows the current memory pressure level.
///
/// This is the one pressure policy of the workspace: a consumer that adapts to pressure (the
/// streaming loader sizing its chunks, for one) asks a `PressureSource` instead of sampling with
/// the default thresholds itself, so an application's configured thresholds reach it.
///
/// Implementations:
/// - [`MemoryMonitor`]: its current level under its own thresholds (with hysteresis) while it
///   runs; when it does not run, a fresh sample classified under its thresholds.
/// - [`Thresholds`]: a fresh sample ([`memory_stats_with`]) classified under them; the default
///   thresholds reproduce [`memory_stats`](crate::memory_stats)`().level`.
/// - [`FixedPressure`]: a level the application (or a test) sets.
/// - `Arc<T>` for any `T: PressureSource`.
///
/// `level` is called often (once per chunk); it must be cheap and must not panic. A source
/// that cannot sample reports [`PressureLevel::Low`].
///
/// ```
/// use std::sync::Arc;
/// use mem_monitor::{FixedPressure, PressureLevel, PressureSource, Thresholds};
///
/// let fixed = Arc::new(FixedPressure::new(PressureLevel::High));
/// let source: Arc<dyn PressureSource> = fixed.clone();
/// assert_eq!(source.level(), PressureLevel::High);
/// fixed.set(PressureLevel::Low);
/// assert_eq!(source.level(), PressureLevel::Low);
///
/// // Thresholds sample the process: nothing here is near 4 GiB... unless the machine is full.
/// let _level = Thresholds::default().level();
/// ```
pub trait PressureSource: Send + Sync {
    /// The current pressure level.
    fn level(&self) -> PressureLevel;
}

impl PressureSource for MemoryMonitor {
    fn level(&self) -> PressureLevel {
        if self.is_running() {
            return MemoryMonitor::level(self);
        }
        sampled_level(&self.thresholds())
    }
}

impl PressureSource for Thresholds {
    fn level(&self) -> PressureLevel {
        sampled_level(self)
    }
}

impl<T: PressureSource + ?Sized> PressureSource for Arc<T> {
    fn level(&self) -> PressureLevel {
        (**self).level()
    }
}

fn sampled_level(thresholds: &Thresholds) -> PressureLevel {
    match memory_stats_with(thresholds) {
        Ok(stats) => stats.level,
        Err(e) => {
            tracing::debug!(error = %e, "memory sample failed; reporting Low pressure");
            PressureLevel::Low
        }
    }
}

/// A pressure level that an application or a test sets by hand.
///
/// Lock-free (an atomic); share it in an `Arc` and call [`set`](Self::set) from anywhere.
///
/// ```
/// use mem_monitor::{FixedPressure, PressureLevel, PressureSource};
/// let p = FixedPressure::new(PressureLevel::Medium);
/// assert_eq!(p.level(), PressureLevel::Medium);
/// p.set(PressureLevel::High);
/// assert_eq!(p.level(), PressureLevel::High);
/// ```
#[derive(Debug, Default)]
pub struct FixedPressure(AtomicU8);

impl FixedPressure {
    /// A source that reports `level` until [`set`](Self::set) changes it.
    #[must_use]
    pub fn new(level: PressureLevel) -> Self {
        Self(AtomicU8::new(encode(level)))
    }

    /// Changes the reported level; readers see it at their next [`PressureSource::level`] call.
    pub fn set(&self, level: PressureLevel) {
        self.0.store(encode(level), Ordering::Relaxed);
    }

    /// The level reported now (the same as [`PressureSource::level`]).
    #[must_use]
    pub fn get(&self) -> PressureLevel {
        decode(self.0.load(Ordering::Relaxed))
    }
}

impl PressureSource for FixedPressure {
    fn level(&self) -> PressureLevel {
        self.get()
    }
}

fn encode(level: PressureLevel) -> u8 {
    match level {
        PressureLevel::Low => 0,
        PressureLevel::Medium => 1,
        PressureLevel::High => 2,
    }
}

fn decode(v: u8) -> PressureLevel {
    match v {
        0 => PressureLevel::Low,
        1 => PressureLevel::Medium,
        _ => PressureLevel::High,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_round_trips_every_level() {
        let p = FixedPressure::default();
        assert_eq!(p.level(), PressureLevel::Low);
        for l in [
            PressureLevel::High,
            PressureLevel::Medium,
            PressureLevel::Low,
        ] {
            p.set(l);
            assert_eq!(p.level(), l);
            assert_eq!(FixedPressure::new(l).get(), l);
        }
    }

    #[test]
    fn thresholds_and_monitor_use_their_own_thresholds() {
        // Thresholds every process exceeds: 0 bytes.
        let strict = Thresholds {
            process_medium_bytes: 0,
            process_high_bytes: 0,
            ..Thresholds::default()
        };
        assert_eq!(PressureSource::level(&strict), PressureLevel::High);
        let lax = Thresholds {
            process_medium_bytes: u64::MAX,
            process_high_bytes: u64::MAX,
            system_medium_percent: f64::MAX,
            system_high_percent: f64::MAX,
        };
        assert_eq!(PressureSource::level(&lax), PressureLevel::Low);

        let monitor = MemoryMonitor::builder().thresholds(strict).build().unwrap();
        // Not running: a fresh sample under its thresholds.
        assert_eq!(PressureSource::level(&monitor), PressureLevel::High);
        let shared: Arc<dyn PressureSource> = Arc::new(monitor);
        assert_eq!(shared.level(), PressureLevel::High);
        let arc_of_arc = Arc::new(Arc::clone(&shared));
        assert_eq!(arc_of_arc.level(), PressureLevel::High);
    }

    #[test]
    fn running_monitor_reports_its_hysteresis_level() {
        let lax = Thresholds {
            process_medium_bytes: u64::MAX,
            process_high_bytes: u64::MAX,
            system_medium_percent: f64::MAX,
            system_high_percent: f64::MAX,
        };
        let monitor = MemoryMonitor::builder()
            .interval(std::time::Duration::from_secs(3600))
            .thresholds(lax)
            .build()
            .unwrap();
        monitor.start().unwrap();
        assert_eq!(PressureSource::level(&monitor), PressureLevel::Low);
        monitor.stop();
    }
}
