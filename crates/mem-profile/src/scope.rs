//! Scoped measurement on the current thread: [`measure`] and [`Measurement`].

use serde::{Deserialize, Serialize};

use crate::alloc;

/// What one scope allocated on its thread, from the [`TrackingAllocator`](crate::TrackingAllocator).
///
/// Only allocations made by the measuring thread count: work handed to other threads is not
/// seen, and memory freed here that another thread allocated counts as freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    /// Whether the tracking allocator is installed; when `false` every figure is zero because
    /// nothing was counted, not because nothing was allocated.
    pub tracked: bool,
    /// Bytes allocated in the scope.
    pub allocated_bytes: u64,
    /// Bytes freed in the scope.
    pub freed_bytes: u64,
    /// Highest net growth (allocated minus freed) reached inside the scope.
    pub peak_bytes: u64,
    /// Allocation calls in the scope.
    pub allocations: u64,
    /// Deallocation calls in the scope.
    pub deallocations: u64,
}

impl Measurement {
    /// Allocated minus freed: what the scope left behind (negative when it freed older memory).
    #[must_use]
    pub fn net_bytes(&self) -> i64 {
        (self.allocated_bytes as i64).wrapping_sub(self.freed_bytes as i64)
    }
}

/// A measurement in progress; [`ScopeMeter::finish`] ends it. Used by [`measure`] and by the
/// guards of this crate; handy when a closure does not fit.
#[derive(Debug)]
pub struct ScopeMeter {
    start: Option<(u64, u64, u64, u64)>,
    peak_token: Option<(i64, i64)>,
}

impl ScopeMeter {
    /// Starts measuring on the current thread.
    #[must_use]
    pub fn start() -> Self {
        let start = alloc::thread_counters();
        let peak_token = start.and_then(|_| alloc::begin_peak_scope());
        Self { start, peak_token }
    }

    /// Ends the measurement. Must run on the thread that called [`ScopeMeter::start`] for the
    /// figures to mean anything.
    #[must_use]
    pub fn finish(self) -> Measurement {
        let peak = alloc::end_peak_scope(self.peak_token);
        match (self.start, alloc::thread_counters()) {
            (Some((a0, f0, n0, d0)), Some((a1, f1, n1, d1))) => Measurement {
                tracked: true,
                allocated_bytes: a1.wrapping_sub(a0),
                freed_bytes: f1.wrapping_sub(f0),
                peak_bytes: peak,
                allocations: n1.wrapping_sub(n0),
                deallocations: d1.wrapping_sub(d0),
            },
            _ => Measurement::default(),
        }
    }
}

/// Runs `f` and returns its result with what it allocated, freed and the peak it reached on
/// this thread.
///
/// ```
/// let (v, m) = mem_profile::measure(|| vec![0u8; 1 << 20]);
/// assert_eq!(v.len(), 1 << 20);
/// // Exact when a TrackingAllocator is the global allocator; all zero (tracked = false) otherwise.
/// assert!(!m.tracked || m.allocated_bytes >= 1 << 20);
/// ```
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Measurement) {
    let meter = ScopeMeter::start();
    let r = f();
    (r, meter.finish())
}
