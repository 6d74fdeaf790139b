//! The circuit breaker in front of the shared tier: after [`THRESHOLD`] consecutive failures
//! it bypasses Redis for a while, then lets one request through as a probe; a failed probe
//! doubles the wait (with jitter, up to [`MAX_BACKOFF_FACTOR`] times the first), a success
//! closes it.

#![cfg_attr(not(feature = "redis"), allow(dead_code))]

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Consecutive failures that open the breaker.
pub(crate) const THRESHOLD: u32 = 3;
/// The longest wait, as a multiple of the first.
pub(crate) const MAX_BACKOFF_FACTOR: u32 = 32;

#[derive(Debug)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// The wait of the next opening.
    backoff: Duration,
    /// A probe is in flight (half-open): others still bypass.
    probing: bool,
    opened: u64,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Breaker {
    base: Duration,
    state: Mutex<State>,
}

/// What the breaker allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Closed: go ahead.
    Go,
    /// Half-open: this request is the probe.
    Probe,
    /// Open: do not touch Redis.
    Bypass,
}

impl Breaker {
    pub(crate) fn new(base: Duration) -> Self {
        Self {
            base,
            state: Mutex::new(State {
                failures: 0,
                open_until: None,
                backoff: base,
                probing: false,
                opened: 0,
            }),
        }
    }

    /// Whether a request may go to Redis now. Every `Go` or `Probe` must be followed by
    /// [`success`](Self::success) or [`failure`](Self::failure).
    pub(crate) fn permit(&self) -> Permit {
        let mut s = self.state.lock();
        match s.open_until {
            None => Permit::Go,
            Some(until) if Instant::now() < until || s.probing => Permit::Bypass,
            Some(_) => {
                s.probing = true;
                Permit::Probe
            }
        }
    }

    pub(crate) fn success(&self) {
        let mut s = self.state.lock();
        s.failures = 0;
        s.open_until = None;
        s.backoff = self.base;
        s.probing = false;
    }

    /// Counts a failure; true when it opened the breaker.
    pub(crate) fn failure(&self) -> bool {
        let mut s = self.state.lock();
        s.failures = s.failures.saturating_add(1);
        let reopen = s.probing || (s.open_until.is_none() && s.failures >= THRESHOLD);
        s.probing = false;
        if !reopen {
            return false;
        }
        let wait = jitter(s.backoff);
        s.open_until = Some(Instant::now() + wait);
        s.backoff = (s.backoff * 2).min(self.base * MAX_BACKOFF_FACTOR);
        s.opened += 1;
        true
    }

    /// Opens the breaker now (a server that cannot be reached at start).
    pub(crate) fn trip(&self) {
        let mut s = self.state.lock();
        s.failures = THRESHOLD;
        s.open_until = Some(Instant::now() + jitter(s.backoff));
        s.opened += 1;
    }

    /// (open now, times opened).
    pub(crate) fn snapshot(&self) -> (bool, u64) {
        let s = self.state.lock();
        (
            s.open_until.is_some_and(|u| Instant::now() < u) || s.probing,
            s.opened,
        )
    }
}

/// `d` scaled by a pseudo-random factor in [0.75, 1.25), so that many clients do not retry in
/// step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    let r = xxhash_rust::xxh3::xxh3_64(&nanos.to_le_bytes()) % 1000;
    d.mul_f64(0.75 + r as f64 / 2000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_and_closes() {
        let b = Breaker::new(Duration::from_millis(20));
        for _ in 0..THRESHOLD - 1 {
            assert_eq!(b.permit(), Permit::Go);
            assert!(!b.failure());
        }
        assert!(b.failure());
        assert_eq!(b.permit(), Permit::Bypass);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(b.permit(), Permit::Probe);
        assert_eq!(b.permit(), Permit::Bypass, "one probe at a time");
        assert!(b.failure(), "a failed probe reopens");
        assert_eq!(b.permit(), Permit::Bypass);
        std::thread::sleep(Duration::from_millis(55));
        assert_eq!(b.permit(), Permit::Probe);
        b.success();
        assert_eq!(b.permit(), Permit::Go);
        assert_eq!(b.snapshot(), (false, 2));
    }

    #[test]
    fn backoff_is_capped() {
        let b = Breaker::new(Duration::from_millis(1));
        b.trip();
        for _ in 0..20 {
            let mut s = b.state.lock();
            s.open_until = Some(Instant::now());
            drop(s);
            assert_eq!(b.permit(), Permit::Probe);
            b.failure();
        }
        assert!(b.state.lock().backoff <= Duration::from_millis(u64::from(MAX_BACKOFF_FACTOR)));
    }
}
