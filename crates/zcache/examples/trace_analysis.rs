//! Where the Zipf trace's misses come from, and what a static cache of a given budget could
//! hold at best (run with `--features testdata --release`).
//!
//! `cargo run --release -p mem-zcache --features testdata --example trace_analysis -- 0.9`
#![expect(clippy::print_stdout, reason = "an analysis tool prints its report")]

use zcache::testdata::{TraceSpec, json_value, total_value_bytes, value_len, zipf_trace};

fn main() {
    let exponent: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0.9);
    if std::env::args().nth(2).as_deref() == Some("zcache") {
        replay_zcache(exponent);
        return;
    }
    if std::env::args().nth(2).as_deref() == Some("sim") {
        simulate(exponent);
        return;
    }
    let spec = TraceSpec {
        exponent,
        ..TraceSpec::default()
    };
    let trace = zipf_trace(&spec);
    let mut counts = vec![0u64; spec.keys];
    for &id in &trace {
        counts[id as usize] += 1;
    }
    let distinct = counts.iter().filter(|&&c| c > 0).count();
    let budget = total_value_bytes(&spec) / 10;
    println!(
        "exponent {exponent}: {} requests, {distinct} distinct keys (compulsory misses {:.1} %), budget {:.1} MB",
        trace.len(),
        100.0 * distinct as f64 / trace.len() as f64,
        budget as f64 / 1e6
    );
    // Ratios of the codecs on a sample of values.
    let sample: Vec<Vec<u8>> = (0..400u32)
        .map(|id| json_value(&spec, id, value_len(&spec, id)))
        .collect();
    let raw: usize = sample.iter().map(Vec::len).sum();
    let lz4: usize = sample
        .iter()
        .map(|v| lz4_flex::compress_prepend_size(v).len())
        .sum();
    let z = |level: i32| -> usize {
        sample
            .iter()
            .map(|v| zstd::bulk::compress(v, level).unwrap().len())
            .sum()
    };
    let train: Vec<Vec<u8>> = (1000..1300u32)
        .map(|id| json_value(&spec, id, value_len(&spec, id)))
        .collect();
    let dict = zstd::dict::from_samples(&train, 64 << 10).unwrap();
    let zd = |level: i32| -> usize {
        let mut c = zstd::bulk::Compressor::with_dictionary(level, &dict).unwrap();
        sample.iter().map(|v| c.compress(v).unwrap().len()).sum()
    };
    let r = |n: usize| n as f64 / raw as f64;
    println!(
        "ratios: lz4 {:.3}, zstd-1 {:.3}, zstd-3 {:.3}, zstd-6 {:.3}, dict zstd-1 {:.3}, dict zstd-3 {:.3}, dict zstd-6 {:.3}",
        r(lz4),
        r(z(1)),
        r(z(3)),
        r(z(6)),
        r(zd(1)),
        r(zd(3)),
        r(zd(6))
    );
    // Static caches: the keys ranked by requests (or requests per weighed byte), filled to the
    // budget; hits = requests - 1 of each held key (its first request is a compulsory miss).
    for (ratio, overhead) in [
        (1.0, 0.0),
        (0.65, 640.0),
        (0.42, 640.0),
        (0.38, 640.0),
        (0.38, 300.0),
    ] {
        let cost = |id: usize| value_len(&spec, id as u32) as f64 * ratio + overhead + 12.0;
        for by_density in [false, true] {
            let mut ids: Vec<usize> = (0..spec.keys).filter(|&i| counts[i] > 0).collect();
            if by_density {
                ids.sort_by(|&a, &b| {
                    (counts[b] as f64 / cost(b)).total_cmp(&(counts[a] as f64 / cost(a)))
                });
            } else {
                ids.sort_by(|&a, &b| counts[b].cmp(&counts[a]));
            }
            let (mut used, mut hits, mut held) = (0.0, 0u64, 0usize);
            for id in ids {
                if used + cost(id) > budget as f64 {
                    continue;
                }
                used += cost(id);
                hits += counts[id] - 1;
                held += 1;
            }
            println!(
                "static ratio {ratio} overhead {overhead} by {}: {held} keys, hit rate {:.1} %",
                if by_density {
                    "requests/byte"
                } else {
                    "requests"
                },
                100.0 * hits as f64 / trace.len() as f64
            );
        }
    }
}

/// Replays the trace on a bare moka weighing `ratio * raw + overhead`, with an admission gate
/// in front of the puts: the ceiling of each policy without the codecs' timing.
fn simulate(exponent: f64) {
    let spec = TraceSpec {
        exponent,
        ..TraceSpec::default()
    };
    let trace = zipf_trace(&spec);
    let budget = total_value_bytes(&spec) / 10;
    let lens: Vec<u32> = (0..spec.keys as u32)
        .map(|id| value_len(&spec, id) as u32)
        .collect();
    let args: Vec<String> = std::env::args().skip(3).collect();
    let ratio: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(0.40);
    let overhead: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(652.0);
    let gates: Vec<String> = args.iter().skip(2).cloned().collect();
    for gate in gates.iter().map(String::as_str) {
        let cache: moka::sync::Cache<u32, u32> = moka::sync::Cache::builder()
            .max_capacity(budget)
            .weigher(|_, w: &u32| *w)
            .build();
        let mut misses = std::collections::HashMap::<u32, u32>::new();
        let mut rng = zcache::testdata::SplitMix::new(7);
        let (kind, param) = gate.split_once(':').unwrap_or((gate, "0"));
        let param: f64 = param.parse().unwrap_or(0.0);
        let mut hits = 0u64;
        for &id in &trace {
            if cache.get(&id).is_some() {
                hits += 1;
                continue;
            }
            let m = misses.entry(id).or_default();
            *m += 1;
            let w = (f64::from(lens[id as usize]) * ratio + overhead) as u32;
            let admit = match kind {
                "adapt" => rng.next_f64() < (-f64::from(w) / param).exp(),
                "miss" => f64::from(*m) >= f64::from(w) / param,
                "cnt" => f64::from(*m) >= param,
                "full" => cache.weighted_size() + u64::from(w) < budget || f64::from(*m) >= param,
                _ => true,
            };
            if admit {
                cache.insert(id, w);
            }
        }
        cache.run_pending_tasks();
        println!(
            "sim ratio {ratio} overhead {overhead} gate {gate}: hit rate {:.1} %, {} entries",
            100.0 * hits as f64 / trace.len() as f64,
            cache.entry_count()
        );
    }
}

/// Replays the trace on a default `CompressedCache` and prints what its memory tier holds at
/// the end (codecs, ratio), with the replay's duration.
fn replay_zcache(exponent: f64) {
    use zcache::testdata::{key_name, replay};
    let spec = TraceSpec {
        exponent,
        ..TraceSpec::default()
    };
    let trace = zipf_trace(&spec);
    let budget = total_value_bytes(&spec) / 10;
    let cache = zcache::CompressedCache::builder()
        .max_memory(budget)
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let r = replay(
        &spec,
        &trace,
        |id| cache.get_bytes(&key_name(id)).ok().flatten().is_some(),
        |id, v| {
            let _ = cache.put_bytes(&key_name(id), &v);
        },
    );
    let took = t.elapsed();
    cache.run_pending_tasks();
    let s = cache.get_stats();
    let mut by_codec = std::collections::BTreeMap::<String, (u64, u64, u64)>::new();
    for k in cache.keys() {
        if let Ok(Some(e)) = cache.peek(&k) {
            let c = by_codec.entry(format!("{:?}", e.codec)).or_default();
            c.0 += 1;
            c.1 += e.raw_bytes;
            c.2 += e.stored_bytes;
        }
    }
    println!(
        "zcache {exponent}: hit rate {:.2} % in {took:.1?}; {} entries, weighed {:.1} MB of {:.1}, raw {:.1} MB stored {:.1} MB (ratio {:.3}), puts {}, evictions {}",
        100.0 * r.hit_rate,
        s.memory_entries,
        s.memory_bytes as f64 / 1e6,
        budget as f64 / 1e6,
        s.memory_raw_bytes as f64 / 1e6,
        s.memory_stored_bytes as f64 / 1e6,
        s.memory_stored_bytes as f64 / s.memory_raw_bytes.max(1) as f64,
        s.puts,
        s.evictions
    );
    for (codec, (n, raw, stored)) in by_codec {
        println!(
            "  {codec}: {n} entries, raw {:.1} MB, ratio {:.3}",
            raw as f64 / 1e6,
            stored as f64 / raw.max(1) as f64
        );
    }
}
