//! Hit rate of a Zipf(0.9) trace (1,000,000 requests over 100,000 keys, 1-16 KiB JSON-like
//! values) replayed cache-aside at a memory budget of 10 % of all values' raw size: zcache
//! (lz4 and zstd-3) beside a moka cache weighing raw bytes. Target: zcache >= 72 %.
//!
//! `cargo bench -p membound-benches --bench zcache_replay` (ZCACHE_REPLAY_REQUESTS=N to shorten).
#![allow(clippy::print_stdout, reason = "a benchmark prints its table")]

use std::time::{Duration, Instant};

use zcache::testdata::{TraceSpec, key_name, replay, total_value_bytes, zipf_trace};
use zcache::{Codec, CompressedCache};

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let requests = std::env::var("ZCACHE_REPLAY_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let spec = TraceSpec {
        requests,
        ..TraceSpec::default()
    };
    let trace = zipf_trace(&spec);
    let total = total_value_bytes(&spec);
    let budget = total / 10;
    println!(
        "Zipf({}) trace: {} requests over {} keys, values {}-{} B, raw total {:.1} MB, budget {:.1} MB",
        spec.exponent,
        spec.requests,
        spec.keys,
        spec.min_value,
        spec.max_value,
        total as f64 / 1048576.0,
        budget as f64 / 1048576.0
    );
    let mut distinct = vec![false; spec.keys];
    let mut compulsory = 0u64;
    for &id in &trace {
        if let Some(seen) = distinct.get_mut(id as usize) {
            compulsory += u64::from(!*seen);
            *seen = true;
        }
    }
    println!(
        "{:<34} {:>9} {:>10} {:>12}",
        "cache", "hit rate", "time", "ratio"
    );
    println!(
        "{:<34} {:>8.1}% {:>10} {:>12}",
        "infinite (upper bound)",
        100.0 * (1.0 - compulsory as f64 / trace.len() as f64),
        "-",
        "-"
    );

    let moka_raw: moka::sync::Cache<u32, Vec<u8>> = moka::sync::Cache::builder()
        .max_capacity(budget)
        .weigher(|_k: &u32, v: &Vec<u8>| u32::try_from(v.len()).unwrap_or(u32::MAX))
        .build();
    let t = Instant::now();
    let r = replay(
        &spec,
        &trace,
        |id| moka_raw.get(&id).is_some(),
        |id, v| moka_raw.insert(id, v),
    );
    println!(
        "{:<34} {:>8.1}% {:>9.1}s {:>12}",
        "moka, raw bytes weighed",
        r.hit_rate * 100.0,
        t.elapsed().as_secs_f64(),
        "1.000"
    );

    for codec in [Codec::Auto, Codec::Lz4, Codec::Zstd(3)] {
        let cache = CompressedCache::builder()
            .max_memory(budget as u64)
            .default_compression(codec)
            .cleanup_interval(Duration::ZERO)
            .build()
            .expect("cache");
        let t = Instant::now();
        let r = replay(
            &spec,
            &trace,
            |id| cache.get_bytes(&key_name(id)).expect("get").is_some(),
            |id, v| {
                cache.put_bytes(&key_name(id), &v).expect("put");
            },
        );
        let s = cache.get_stats();
        println!(
            "{:<34} {:>8.1}% {:>9.1}s {:>12.3}",
            format!("zcache {codec} (stored bytes weighed)"),
            r.hit_rate * 100.0,
            t.elapsed().as_secs_f64(),
            s.compression_ratio
        );
    }
}
