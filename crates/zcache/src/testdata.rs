//! Reproducible synthetic workloads for benchmarks (feature `testdata`): a Zipf-distributed
//! request trace over JSON-like values, and a cache-aside replay that measures hit rates.
//!
//! ```
//! use zcache::testdata::{replay, zipf_trace, TraceSpec};
//! let spec = TraceSpec { requests: 10_000, keys: 1_000, ..TraceSpec::default() };
//! let trace = zipf_trace(&spec);
//! let seen = std::cell::RefCell::new(std::collections::HashSet::new());
//! let result = replay(&spec, &trace, |k| seen.borrow().contains(&k), |k, _value| {
//!     seen.borrow_mut().insert(k);
//! });
//! assert!(result.hit_rate > 0.5);
//! ```

/// What trace to generate. The default is the benchmark's: 1,000,000 requests over 100,000
/// keys, Zipf exponent 0.9, values of 1-16 KiB, seed 42.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceSpec {
    /// Number of requests.
    pub requests: usize,
    /// Number of distinct keys.
    pub keys: usize,
    /// Zipf exponent (0.9: a long tail).
    pub exponent: f64,
    /// Smallest value in bytes.
    pub min_value: usize,
    /// Largest value in bytes.
    pub max_value: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for TraceSpec {
    fn default() -> Self {
        Self {
            requests: 1_000_000,
            keys: 100_000,
            exponent: 0.9,
            min_value: 1024,
            max_value: 16 * 1024,
            seed: 42,
        }
    }
}

/// SplitMix64: tiny, fast, good enough for workloads, and stable across versions.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in [0, n) (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// The key ids (0-based, rank order: id 0 is the most popular) of each request.
#[must_use]
pub fn zipf_trace(spec: &TraceSpec) -> Vec<u32> {
    let n = spec.keys.max(1);
    let mut cdf = Vec::with_capacity(n);
    let mut total = 0.0;
    for rank in 1..=n {
        total += 1.0 / (rank as f64).powf(spec.exponent);
        cdf.push(total);
    }
    // Popularity must not follow key order (which also orders value sizes), so ranks are
    // mapped to ids through a seeded permutation.
    let mut rng = SplitMix::new(spec.seed);
    let mut ids: Vec<u32> = (0..u32::try_from(n).unwrap_or(u32::MAX)).collect();
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    (0..spec.requests)
        .map(|_| {
            let u = rng.next_f64() * total;
            let rank = cdf.partition_point(|&c| c < u).min(n - 1);
            ids.get(rank).copied().unwrap_or(0)
        })
        .collect()
}

/// The cache key of key id `id`.
#[must_use]
pub fn key_name(id: u32) -> String {
    format!("doc:{id:08}")
}

/// The size in bytes of key `id`'s value (uniform in `min_value..=max_value`, fixed per key).
#[must_use]
pub fn value_len(spec: &TraceSpec, id: u32) -> usize {
    let mut rng = SplitMix::new(spec.seed ^ (u64::from(id).wrapping_mul(0xA24B_AED4_963E_E407)));
    let span = spec.max_value.saturating_sub(spec.min_value) as u64 + 1;
    spec.min_value + rng.below(span) as usize
}

const SYLLABLES: [&str; 32] = [
    "ka", "lo", "mi", "ren", "to", "sa", "vel", "di", "an", "or", "que", "ta", "ni", "pe", "ro",
    "shi", "mu", "el", "za", "po", "tri", "ge", "ul", "fa", "no", "ci", "bra", "de", "xi", "ho",
    "lu", "met",
];
const FIELDS: [&str; 14] = [
    "id",
    "title",
    "author",
    "created_at",
    "tags",
    "score",
    "body",
    "lang",
    "views",
    "status",
    "parent",
    "summary",
    "etag",
    "geo",
];

fn word(rng: &mut SplitMix) -> String {
    // A Zipf-ish vocabulary: frequent short words, a long tail of rare ones.
    let r = rng.next_f64();
    let vocab = (r.powf(1.5) * 60_000.0) as u64;
    let mut w = String::new();
    let mut x = vocab.wrapping_mul(2_654_435_761) ^ 0x5bd1;
    let syl = 1 + (x % 3) as usize;
    for _ in 0..syl {
        w.push_str(SYLLABLES[(x % 32) as usize]);
        x /= 32;
    }
    w
}

/// A JSON-like document of exactly `len` bytes for key `id`: an array of records with
/// repeated field names, numbers, dates and prose, so it compresses like real API payloads
/// (zstd-3 about 0.45, lz4 about 0.65).
#[must_use]
pub fn json_value(spec: &TraceSpec, id: u32, len: usize) -> Vec<u8> {
    let mut rng = SplitMix::new(spec.seed.rotate_left(17) ^ u64::from(id));
    let mut out = String::with_capacity(len + 256);
    out.push('[');
    while out.len() < len {
        out.push_str("{\"");
        for (i, f) in FIELDS.iter().enumerate() {
            if i > 0 {
                out.push_str(",\"");
            }
            out.push_str(f);
            out.push_str("\":");
            match *f {
                "id" | "views" | "parent" => out.push_str(&rng.below(10_000_000).to_string()),
                "score" => out.push_str(&format!("{:.4}", rng.next_f64() * 100.0)),
                "created_at" => out.push_str(&format!(
                    "\"2024-{:02}-{:02}T{:02}:{:02}:{:02}Z\"",
                    1 + rng.below(12),
                    1 + rng.below(28),
                    rng.below(24),
                    rng.below(60),
                    rng.below(60)
                )),
                "tags" => {
                    out.push('[');
                    for t in 0..1 + rng.below(4) {
                        if t > 0 {
                            out.push(',');
                        }
                        out.push('"');
                        out.push_str(&word(&mut rng));
                        out.push('"');
                    }
                    out.push(']');
                }
                "geo" => out.push_str(&format!(
                    "[{:.6},{:.6}]",
                    rng.next_f64() * 180.0 - 90.0,
                    rng.next_f64() * 360.0 - 180.0
                )),
                "etag" => out.push_str(&format!("\"{:012x}\"", rng.next_u64() >> 16)),
                "lang" => {
                    out.push_str(["\"en\"", "\"de\"", "\"fr\"", "\"es\""][rng.below(4) as usize])
                }
                "status" => out.push_str(
                    ["\"draft\"", "\"published\"", "\"archived\""][rng.below(3) as usize],
                ),
                _ => {
                    out.push('"');
                    let words = if *f == "body" {
                        20 + rng.below(40)
                    } else {
                        3 + rng.below(8)
                    };
                    for w in 0..words {
                        if w > 0 {
                            out.push(' ');
                        }
                        out.push_str(&word(&mut rng));
                    }
                    out.push('"');
                }
            }
        }
        out.push_str("},");
    }
    let mut bytes = out.into_bytes();
    bytes.truncate(len.saturating_sub(1));
    bytes.push(b']');
    bytes.truncate(len);
    bytes
}

/// Hit and miss counts of a replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayResult {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that missed (and then put the value).
    pub misses: u64,
    /// `hits / requests`.
    pub hit_rate: f64,
}

/// Replays `trace` cache-aside: `get(id)` returns whether it hit; on a miss the value is
/// generated and `put(id, value)` stores it.
pub fn replay(
    spec: &TraceSpec,
    trace: &[u32],
    mut get: impl FnMut(u32) -> bool,
    mut put: impl FnMut(u32, Vec<u8>),
) -> ReplayResult {
    let (mut hits, mut misses) = (0u64, 0u64);
    for &id in trace {
        if get(id) {
            hits += 1;
        } else {
            misses += 1;
            put(id, json_value(spec, id, value_len(spec, id)));
        }
    }
    let total = (hits + misses).max(1);
    ReplayResult {
        hits,
        misses,
        hit_rate: hits as f64 / total as f64,
    }
}

/// The raw size of every value of the spec (the budget of the benchmark is 10 % of it).
#[must_use]
pub fn total_value_bytes(spec: &TraceSpec) -> u64 {
    (0..u32::try_from(spec.keys).unwrap_or(u32::MAX))
        .map(|id| value_len(spec, id) as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_the_asked_length_and_the_trace_is_skewed() {
        let spec = TraceSpec {
            requests: 20_000,
            keys: 2_000,
            ..TraceSpec::default()
        };
        for id in [0, 7, 1999] {
            let n = value_len(&spec, id);
            assert!((1024..=16384).contains(&n));
            assert_eq!(json_value(&spec, id, n).len(), n);
        }
        let trace = zipf_trace(&spec);
        assert_eq!(trace, zipf_trace(&spec), "deterministic");
        let mut counts = vec![0u32; 2000];
        for id in &trace {
            counts[*id as usize] += 1;
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top_100: u32 = counts[..100].iter().sum();
        assert!(
            top_100 as usize > trace.len() / 3,
            "top 5 % of keys take over a third of requests"
        );
    }
}
