//! How often keys were asked for lately, resident or not: a count-min sketch of small
//! saturating counters that halves itself after a number of additions proportional to the
//! entries held (TinyLFU's frequency sketch), so old popularity fades.
//!
//! The period and the counters' range were chosen on the benchmarks' Zipf(0.9) trace
//! (simulated, then measured): halving every 10 additions per entry held, as TinyLFU's paper
//! and Caffeine do, gave 73.8 % hits; every 30 to 45 additions with counters up to 31, 77 %.
//! Longer periods forget too slowly for traces whose popularity drifts.

/// Rows of the sketch: the estimate is the smallest of this many counters.
const ROWS: usize = 4;
/// Counters saturate here (five bits' worth).
const MAX: u8 = 31;
/// Counters per row at the start (4 KiB per shard): few enough collisions that a key asked for
/// once rarely looks asked for twice. The sketch grows with the shard it serves.
const MIN_WIDTH: usize = 1024;
/// Counters per row at most (4 MiB per shard for the four rows).
const MAX_WIDTH: usize = 1 << 20;
/// After `RESET_FACTOR` additions per entry held (at least [`MIN_PERIOD`]) every counter is
/// halved.
const RESET_FACTOR: usize = 40;
/// The fewest additions between two halvings.
const MIN_PERIOD: usize = RESET_FACTOR * 64;
/// One odd multiplier per row, to derive four independent indexes from one 64-bit hash.
const MULTIPLIERS: [u64; ROWS] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
];

/// A frequency sketch over 64-bit key hashes.
#[derive(Debug)]
pub(super) struct Sketch {
    /// `ROWS` rows of `width` counters each, one after the other.
    counters: Vec<u8>,
    width: usize,
    additions: usize,
    /// Additions between two halvings.
    period: usize,
}

impl Sketch {
    pub(super) fn new() -> Self {
        Self {
            counters: vec![0; ROWS * MIN_WIDTH],
            width: MIN_WIDTH,
            additions: 0,
            period: MIN_PERIOD,
        }
    }

    /// The counter of `hash` in `row`.
    fn index(&self, hash: u64, row: usize) -> usize {
        // `width` is a power of two; the high bits of the product are the well-mixed ones.
        let mixed = hash.wrapping_mul(MULTIPLIERS[row]) >> 32;
        row * self.width + (mixed as usize & (self.width - 1))
    }

    /// Counts one request for `hash`.
    pub(super) fn increment(&mut self, hash: u64) {
        for row in 0..ROWS {
            let i = self.index(hash, row);
            if let Some(c) = self.counters.get_mut(i)
                && *c < MAX
            {
                *c += 1;
            }
        }
        self.additions += 1;
        if self.additions >= self.period {
            for c in &mut self.counters {
                *c >>= 1;
            }
            self.additions /= 2;
        }
    }

    /// How often `hash` was asked for lately (an overestimate at worst).
    pub(super) fn estimate(&self, hash: u64) -> u8 {
        (0..ROWS)
            .map(|row| {
                self.counters
                    .get(self.index(hash, row))
                    .copied()
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0)
    }

    /// Sizes the sketch for a shard of `entries`: the halving period follows the entry count,
    /// and the rows grow to at least twice as many counters (up to a cap). A counter of the old
    /// row is copied to both counters it splits into, so no estimate drops.
    pub(super) fn fit(&mut self, entries: usize) {
        self.period = entries.saturating_mul(RESET_FACTOR).max(MIN_PERIOD);
        let want = entries.saturating_mul(2).next_power_of_two().min(MAX_WIDTH);
        if want <= self.width {
            return;
        }
        let mut grown = vec![0u8; ROWS * want];
        for row in 0..ROWS {
            let old = &self.counters[row * self.width..(row + 1) * self.width];
            for (j, c) in grown[row * want..(row + 1) * want].iter_mut().enumerate() {
                *c = old[j & (self.width - 1)];
            }
        }
        self.counters = grown;
        self.width = want;
    }

    /// Bytes held.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.counters.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes())
    }

    #[test]
    fn frequent_keys_estimate_higher_than_rare_ones() {
        let mut s = Sketch::new();
        s.fit(1000);
        for round in 0..10u64 {
            for i in 0..100 {
                s.increment(hash(i));
            }
            s.increment(hash(1000 + round));
        }
        let hot = (0..100).map(|i| s.estimate(hash(i))).min().unwrap();
        let rare = (1000..1010).map(|i| s.estimate(hash(i))).max().unwrap();
        assert!(hot >= 9, "hot {hot}");
        assert!(rare <= 3, "rare {rare}");
        assert_eq!(s.estimate(hash(5000)), 0);
    }

    #[test]
    fn counters_saturate_and_halve_with_time() {
        let mut s = Sketch::new();
        for _ in 0..100 {
            s.increment(hash(1));
        }
        assert_eq!(s.estimate(hash(1)), MAX);
        // Enough other traffic to cross the reset point: the old count fades.
        for i in 0..MIN_PERIOD as u64 {
            s.increment(hash(10_000 + i));
        }
        assert!(s.estimate(hash(1)) <= MAX / 2 + 1);
    }

    #[test]
    fn growing_keeps_every_estimate() {
        let mut s = Sketch::new();
        for i in 0..200u64 {
            for _ in 0..=(i % 5) {
                s.increment(hash(i));
            }
        }
        let before: Vec<u8> = (0..200).map(|i| s.estimate(hash(i))).collect();
        s.fit(10_000);
        assert!(s.bytes() >= ROWS * 20_000);
        for (i, b) in before.iter().enumerate() {
            assert!(s.estimate(hash(i as u64)) >= *b);
        }
    }
}
