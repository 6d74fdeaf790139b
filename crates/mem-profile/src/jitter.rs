//! Jittered sampling intervals, shared by the session profiler and the child-process sampler.
//!
//! A program whose memory cycles with a period near the sampling interval would be sampled at a
//! drifting phase, which looks like a trend; jittering each interval by +-25 % breaks that.

use std::time::Duration;

/// A tiny xorshift generator for sampling jitter (quality is irrelevant; independence from the
/// sampled program's period is what matters).
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.subsec_nanos());
        Self(u64::from(nanos) | 1)
    }

    /// `interval` scaled by a factor in [0.75, 1.25).
    pub(crate) fn apply(&mut self, interval: Duration) -> Duration {
        interval.mul_f64(self.factor())
    }

    /// A factor in [0.75, 1.25).
    fn factor(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.75 + (self.0 % 1000) as f64 / 2000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_stay_in_band() {
        let mut j = Jitter::seeded();
        for _ in 0..1000 {
            let d = j.apply(Duration::from_millis(100));
            assert!(
                d >= Duration::from_millis(75) && d < Duration::from_millis(125),
                "{d:?}"
            );
        }
    }
}
