//! A tiny seeded generator (SplitMix64): the same `--seed` and case index give the same input on
//! every machine and every version of the harness's dependencies.

/// SplitMix64: small, fast, and good enough to choose mutations.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for one stream of decisions, e.g. the corpus's generated rows.
    pub fn new(seed: u64) -> Self {
        let mut rng = Self { state: seed };
        // Mix so that nearby seeds give unrelated streams.
        rng.state = rng.next_u64();
        rng
    }

    /// The generator of case `case` under run seed `seed`: independent of every other case, so
    /// a case can be replayed alone and the workers may run cases in any order.
    pub fn for_case(seed: u64, case: u64) -> Self {
        let mut base = Self::new(seed);
        Self::new(base.next_u64() ^ case.wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // The modulo bias is irrelevant for choosing mutations.
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// A number in `lo..=hi` (`lo` when the range is empty).
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u32) -> bool {
        self.next_u64() % 100 < u64::from(percent)
    }

    /// One random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64().to_le_bytes()[0]
    }

    /// A random element of `items` (`None` when it is empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    /// An index into `weights`, chosen in proportion to them (`None` when all are 0).
    pub fn weighted(&mut self, weights: &[u32]) -> Option<usize> {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return None;
        }
        let mut x = self.next_u64() % total;
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return Some(i);
            }
            x -= u64::from(w);
        }
        None
    }

    /// A length in `1..=max`, biased towards short ones (most interesting ranges are small).
    pub fn short_len(&mut self, max: usize) -> usize {
        let scale = *self
            .pick(&[8usize, 64, 512, 4096, usize::MAX])
            .unwrap_or(&8);
        self.between(1, max.min(scale).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn cases_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_case(1, 7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::for_case(1, 7).next_u64(),
            Rng::for_case(1, 8).next_u64()
        );
        assert_ne!(
            Rng::for_case(1, 7).next_u64(),
            Rng::for_case(2, 7).next_u64()
        );
    }

    #[test]
    fn ranges_hold() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            assert!(r.below(5) < 5);
            let x = r.between(2, 4);
            assert!((2..=4).contains(&x));
            assert!((1..=10).contains(&r.short_len(10)));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.weighted(&[0, 0]), None);
        assert_eq!(r.weighted(&[0, 5]), Some(1));
    }
}
