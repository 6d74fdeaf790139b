//! Pressure levels and the thresholds that define them (the seed's table).

use serde::{Deserialize, Serialize};

use crate::bytes::GIB;

/// How much memory pressure the process is under.
///
/// Ordered: `Low < Medium < High`. Serialized in lower case (`"low"`, `"medium"`, `"high"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PressureLevel {
    /// Normal operation.
    #[default]
    Low,
    /// Optimize data structures: compress harder, smaller chunks, tighter types.
    Medium,
    /// Force cleanup: release memory, clear non-essential caches, serve from disk.
    High,
}

impl PressureLevel {
    /// The level's name in lower case, as in JSON output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

impl std::fmt::Display for PressureLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the pressure levels begin.
///
/// The defaults are the seed's table: the process is at Medium from 2 GiB and at High from 4 GiB
/// of resident memory; the system is at Medium from 70 % used and at High from 85 % used, where
/// "system" is the cgroup v2 limit when one is set and physical RAM otherwise. The level is the
/// worse of the two criteria.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Process resident bytes at which the level becomes Medium.
    pub process_medium_bytes: u64,
    /// Process resident bytes at which the level becomes High.
    pub process_high_bytes: u64,
    /// System used percentage (0-100) at which the level becomes Medium.
    pub system_medium_percent: f64,
    /// System used percentage (0-100) at which the level becomes High.
    pub system_high_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            process_medium_bytes: 2 * GIB,
            process_high_bytes: 4 * GIB,
            system_medium_percent: 70.0,
            system_high_percent: 85.0,
        }
    }
}

impl Thresholds {
    /// The level for a process using `process_bytes` on a system `system_used_percent` full.
    ///
    /// ```
    /// use mem_monitor::{PressureLevel, Thresholds};
    /// let t = Thresholds::default();
    /// assert_eq!(t.classify(100 << 20, 20.0), PressureLevel::Low);
    /// assert_eq!(t.classify(3 << 30, 20.0), PressureLevel::Medium);
    /// assert_eq!(t.classify(100 << 20, 90.0), PressureLevel::High);
    /// ```
    #[must_use]
    pub fn classify(&self, process_bytes: u64, system_used_percent: f64) -> PressureLevel {
        self.process_level(process_bytes as f64, 1.0)
            .max(self.system_level(system_used_percent, 1.0))
    }

    /// Like [`classify`](Self::classify), but to *leave* `current` the usage must drop below
    /// each threshold by the `hysteresis` fraction (0.05 = 5 % below), so a value hovering at a
    /// threshold does not flap. Rising is immediate.
    #[must_use]
    pub fn classify_with_hysteresis(
        &self,
        process_bytes: u64,
        system_used_percent: f64,
        current: PressureLevel,
        hysteresis: f64,
    ) -> PressureLevel {
        let raw = self.classify(process_bytes, system_used_percent);
        if raw >= current {
            return raw;
        }
        // Falling: re-classify against thresholds scaled down by the hysteresis band and never
        // go below what that stricter test still says.
        let factor = (1.0 - hysteresis.clamp(0.0, 0.5)).max(0.0);
        let sticky = self
            .process_level(process_bytes as f64, factor)
            .max(self.system_level(system_used_percent, factor));
        sticky.min(current).max(raw)
    }

    fn process_level(&self, bytes: f64, factor: f64) -> PressureLevel {
        if bytes >= self.process_high_bytes as f64 * factor {
            PressureLevel::High
        } else if bytes >= self.process_medium_bytes as f64 * factor {
            PressureLevel::Medium
        } else {
            PressureLevel::Low
        }
    }

    fn system_level(&self, percent: f64, factor: f64) -> PressureLevel {
        if percent.is_nan() {
            return PressureLevel::Low;
        }
        if percent >= self.system_high_percent * factor {
            PressureLevel::High
        } else if percent >= self.system_medium_percent * factor {
            PressureLevel::Medium
        } else {
            PressureLevel::Low
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_table_edges() {
        let t = Thresholds::default();
        assert_eq!(t.classify(2 * GIB - 1, 0.0), PressureLevel::Low);
        assert_eq!(t.classify(2 * GIB, 0.0), PressureLevel::Medium);
        assert_eq!(t.classify(4 * GIB, 0.0), PressureLevel::High);
        assert_eq!(t.classify(0, 69.9), PressureLevel::Low);
        assert_eq!(t.classify(0, 70.0), PressureLevel::Medium);
        assert_eq!(t.classify(0, 85.0), PressureLevel::High);
        assert_eq!(t.classify(3 * GIB, 90.0), PressureLevel::High);
    }

    #[test]
    fn hysteresis_holds_level_near_threshold() {
        let t = Thresholds::default();
        let just_below = 2 * GIB - GIB / 100; // 1 % below the Medium threshold
        assert_eq!(
            t.classify_with_hysteresis(just_below, 0.0, PressureLevel::Medium, 0.05),
            PressureLevel::Medium
        );
        assert_eq!(
            t.classify_with_hysteresis(GIB, 0.0, PressureLevel::Medium, 0.05),
            PressureLevel::Low
        );
        // From High, falling into the Medium band well below High's band gives Medium.
        assert_eq!(
            t.classify_with_hysteresis(3 * GIB, 0.0, PressureLevel::High, 0.05),
            PressureLevel::Medium
        );
        // Rising is immediate.
        assert_eq!(
            t.classify_with_hysteresis(4 * GIB, 0.0, PressureLevel::Low, 0.05),
            PressureLevel::High
        );
    }

    #[test]
    fn serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&PressureLevel::High).unwrap(),
            "\"high\""
        );
    }

    proptest! {
        #[test]
        fn level_never_decreases_as_usage_grows(
            a in 0u64..(8 * GIB), b in 0u64..(8 * GIB),
            p in 0.0f64..100.0, q in 0.0f64..100.0,
        ) {
            let t = Thresholds::default();
            let (lo_b, hi_b) = (a.min(b), a.max(b));
            let (lo_p, hi_p) = (p.min(q), p.max(q));
            prop_assert!(t.classify(lo_b, lo_p) <= t.classify(hi_b, hi_p));
        }

        #[test]
        fn hysteresis_stays_between_raw_and_current(
            bytes in 0u64..(8 * GIB), pct in 0.0f64..100.0, cur in 0u8..3, h in 0.0f64..0.3,
        ) {
            let t = Thresholds::default();
            let current = [PressureLevel::Low, PressureLevel::Medium, PressureLevel::High][cur as usize];
            let raw = t.classify(bytes, pct);
            let got = t.classify_with_hysteresis(bytes, pct, current, h);
            prop_assert!(got >= raw);
            prop_assert!(got <= raw.max(current));
        }
    }
}
