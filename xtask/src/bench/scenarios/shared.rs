//! The shared tier on Redis against plain Redis in the same run: a hit for the 5,000 x 384
//! embeddings with texts on a machine whose local tiers are cold, the bytes that travel, and
//! 1 KiB gets per second from several threads.
//!
//! The server's URL comes from the environment (`MEMBOUND_TEST_REDIS_URL`, else
//! `MEMBOUND_REDIS_URL`), never from the command line, so its password stays out of the
//! process list. Every key lives under a prefix of its own (`membound-bench:PID-NANOS`) and is
//! deleted at the end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use zcache::{CompressedCache, RedisTier};
use zcache_service::{CacheService, Precision};

use super::RunScenario;
use super::cache::Corpus;

/// The environment variables a Redis URL is read from, in order.
pub const URL_VARS: [&str; 2] = ["MEMBOUND_TEST_REDIS_URL", "MEMBOUND_REDIS_URL"];

/// The first non-empty [`URL_VARS`].
pub fn redis_url() -> Option<String> {
    URL_VARS
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
}

/// The per-request timeout the scenarios give the shared tier: long enough that a loaded
/// two-core machine never turns a measured hit into a timeout (a hit takes what it takes; the
/// timeout only bounds a failure).
const TIMEOUT: Duration = Duration::from_secs(1);

/// A key namespace no other run shares.
fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("membound-bench:{}-{nanos}", std::process::id())
}

/// A plain connection to the server (no zcache in between).
fn connect(url: &str) -> anyhow::Result<redis::Connection> {
    let endpoint = zcache::redact_url(url);
    redis::Client::open(url)
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
        .map_err(|e| anyhow::anyhow!("connecting to {endpoint}: {}", e.category()))
}

fn set(con: &mut redis::Connection, key: &str, value: &[u8]) -> anyhow::Result<()> {
    redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query::<()>(con)
        .with_context(|| format!("SET {key}"))
}

fn get(con: &mut redis::Connection, key: &str) -> anyhow::Result<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query::<Option<Vec<u8>>>(con)
        .with_context(|| format!("GET {key}"))?
        .with_context(|| format!("GET {key}: no such key"))
}

/// Deletes every key under `prefix` (the run's own namespace).
fn delete_prefix(url: &str, prefix: &str) -> anyhow::Result<()> {
    let mut con = connect(url)?;
    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut con)?;
        if !keys.is_empty() {
            redis::cmd("DEL").arg(&keys).query::<()>(&mut con)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Deletes the run's keys when dropped, also after a failure.
struct Cleanup<'a> {
    url: &'a str,
    prefix: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if let Err(e) = delete_prefix(self.url, self.prefix) {
            eprintln!("could not delete the benchmark's keys: {e:#}");
        }
    }
}

/// The median of `times`, in seconds.
fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times
        .get(times.len() / 2)
        .map_or(0.0, Duration::as_secs_f64)
}

/// A hit for the 5,000 x 384 embeddings with their texts through the shared tier on a
/// machine with cold local tiers, against plain GETs of the same matrix and texts as raw
/// bytes.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Hit {
    /// The directory of `minilm-5k.npy` and `texts-5k.jsonl`.
    #[arg(long)]
    pub embeddings: PathBuf,
    /// The precision the first machine saves at.
    #[arg(long)]
    pub precision: Precision,
    /// Timed runs of each side (the median is kept).
    #[arg(long)]
    pub runs: u32,
    /// The tier's `max_value_bytes` (default: the library's, 1 MiB; larger frames travel in
    /// chunks of this size).
    #[arg(long)]
    pub max_value_bytes: Option<u64>,
}

/// What [`Hit`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct HitResult {
    pub precision: Precision,
    pub rows: u64,
    pub dim: u64,
    /// The matrix as float32 plus the texts' UTF-8 bytes: what the plain GETs carry.
    pub raw_bytes: u64,
    /// Value bytes one cold hit read from Redis (compressed frames, chunks included).
    pub wire_bytes: u64,
    /// Value bytes the first machine's save wrote to Redis.
    pub written_bytes: u64,
    /// Median of two plain GETs (matrix, texts) of the raw bytes.
    pub plain_get_s: f64,
    /// Median of the same GETs, then the bytes turned into the f32 matrix and the texts.
    pub plain_decoded_s: f64,
    /// Median of a cold-local hit through the shared tier (`get_cached_embeddings_fast` on a
    /// service with an empty directory: Redis, checksum, decompression, decode, and the fill of
    /// the local disk tier).
    pub shared_hit_s: f64,
    /// Fastest such hit.
    pub shared_hit_min_s: f64,
    /// Median of the same hit on a service without a cache directory (memory tier only): the
    /// fill of the local disk tier left out.
    pub shared_hit_no_disk_s: f64,
    /// The hit gave back what was saved (bit-identical f32 at f32; same shape otherwise).
    pub identical: bool,
    pub errors: u64,
    pub timeouts: u64,
}

impl RunScenario for Hit {
    type Output = HitResult;

    fn run(self) -> anyhow::Result<HitResult> {
        let url = redis_url().context("no Redis URL in MEMBOUND_TEST_REDIS_URL")?;
        let prefix = unique_prefix();
        let _cleanup = Cleanup {
            url: &url,
            prefix: &prefix,
        };
        let runs = usize::try_from(self.runs.max(1))?;
        let tier = || {
            let t = RedisTier::new(url.as_str())
                .prefix(&prefix)
                .timeout(TIMEOUT);
            match self.max_value_bytes {
                Some(bytes) => t.max_value_bytes(bytes),
                None => t,
            }
        };
        let corpus = Corpus::read(&self.embeddings)?;
        let work = tempfile::tempdir()?;

        // The first machine saves; its queue is flushed before anything is timed.
        let writer = CacheService::builder()
            .cache_dir(work.path().join("writer"))
            .precision(self.precision)
            .shared_tier(tier())
            .build()?;
        corpus.save(&writer)?;
        ensure!(
            writer
                .compressed_cache()
                .sync_shared(Duration::from_secs(60)),
            "the save did not reach Redis within 60 s"
        );
        let written = writer
            .compressed_cache()
            .shared_stats()
            .context("a shared tier")?;
        ensure!(
            written.writes > 0 && written.writes_dropped + written.write_failures == 0,
            "the save did not reach Redis: {written:?}"
        );
        drop(writer);

        // Plain Redis: the raw matrix and the texts, each one value.
        let matrix: Vec<u8> = corpus
            .embeddings
            .as_slice()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let texts = corpus.texts.join("\n").into_bytes();
        let (mkey, tkey) = (
            format!("{prefix}:raw:matrix"),
            format!("{prefix}:raw:texts"),
        );
        let mut con = connect(&url)?;
        set(&mut con, &mkey, &matrix)?;
        set(&mut con, &tkey, &texts)?;
        let (rows, dim) = (corpus.embeddings.rows(), corpus.embeddings.dim());
        // Interleaved: every run times each side once, so both see the same machine.
        let (mut plain, mut decoded) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        let (mut hits, mut no_disk) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        let (mut wire_bytes, mut errors, mut timeouts, mut identical) = (0, 0, 0, true);
        for i in 0..runs {
            let t = Instant::now();
            let (m, x) = (get(&mut con, &mkey)?, get(&mut con, &tkey)?);
            plain.push(t.elapsed());
            std::hint::black_box((m, x));

            let t = Instant::now();
            let (m, x) = (get(&mut con, &mkey)?, get(&mut con, &tkey)?);
            let values: Vec<f32> = m
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let e = zcache_service::Embeddings::new(values, rows, dim)?;
            let strings: Vec<String> = String::from_utf8(x)?
                .split('\n')
                .map(str::to_owned)
                .collect();
            decoded.push(t.elapsed());
            std::hint::black_box((e, strings));

            // A cold machine: a new service on an empty directory.
            let service = CacheService::builder()
                .cache_dir(work.path().join(format!("cold-{i}")))
                .shared_tier(tier())
                .build()?;
            let t = Instant::now();
            let got = service.get_cached_embeddings_fast(&corpus.key)?;
            hits.push(t.elapsed());
            let s = service
                .compressed_cache()
                .shared_stats()
                .context("a shared tier")?;
            let Some((e, texts)) = got else {
                bail!("run {i}: no hit through the shared tier: {s:?}");
            };
            if i == 0 {
                let same_values = self.precision != Precision::F32
                    || e.as_slice()
                        .iter()
                        .zip(corpus.embeddings.as_slice())
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                identical =
                    same_values && (e.rows(), e.dim()) == (rows, dim) && texts == corpus.texts;
                wire_bytes = s.bytes_read;
            }
            errors += s.errors;
            timeouts += s.timeouts;
            drop(service);

            // The same without a cache directory: no local disk tier to fill.
            let service = CacheService::builder().shared_tier(tier()).build()?;
            let t = Instant::now();
            let got = service.get_cached_embeddings_fast(&corpus.key)?;
            no_disk.push(t.elapsed());
            ensure!(got.is_some(), "run {i}: no hit without a cache directory");
        }
        let shared_hit_min_s = hits.iter().min().map_or(0.0, Duration::as_secs_f64);
        Ok(HitResult {
            precision: self.precision,
            rows: u64::try_from(rows)?,
            dim: u64::try_from(dim)?,
            raw_bytes: u64::try_from(matrix.len() + texts.len())?,
            wire_bytes,
            written_bytes: written.bytes_written,
            plain_get_s: median(plain),
            plain_decoded_s: median(decoded),
            shared_hit_s: median(hits),
            shared_hit_min_s,
            shared_hit_no_disk_s: median(no_disk),
            identical,
            errors,
            timeouts,
        })
    }
}

/// 1 KiB values read from several threads: through a cache whose only tier is the shared one
/// (memory tier of 0 bytes, no disk: every get goes to Redis), against plain GETs of the raw
/// values, interleaved rounds of the same length.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Gets {
    /// Reading threads (each side).
    #[arg(long)]
    pub threads: u32,
    /// Distinct keys.
    #[arg(long)]
    pub keys: u32,
    /// Length of one round, in milliseconds.
    #[arg(long)]
    pub round_ms: u64,
    /// Rounds of each side (the median is kept).
    #[arg(long)]
    pub rounds: u32,
}

/// What [`Gets`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct GetsResult {
    pub threads: u32,
    pub value_bytes: u64,
    /// Median gets per second, plain GET.
    pub plain_per_s: f64,
    /// Median gets per second through the shared tier.
    pub shared_per_s: f64,
    /// Median time of one get, single thread, plain and through the shared tier.
    pub plain_latency_s: f64,
    pub shared_latency_s: f64,
    /// Compressed bytes one value takes on the wire.
    pub wire_bytes_per_value: f64,
    /// Gets through the shared tier that missed (should be 0).
    pub misses: u64,
    pub errors: u64,
    pub timeouts: u64,
}

const VALUE_BYTES: usize = 1024;

/// Runs `get(thread, n)` on `threads` threads for `round`; gets per second.
fn round<S>(
    threads: u32,
    round: Duration,
    setup: impl Fn() -> anyhow::Result<S> + Sync,
    get: impl Fn(&mut S, u64) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<f64> {
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, done, setup, get) = (&stop, &done, &setup, &get);
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut state = setup()?;
                    let mut n = u64::from(t) * 7919;
                    let mut count = 0;
                    while !stop.load(Ordering::Relaxed) {
                        get(&mut state, n)?;
                        n += 1;
                        count += 1;
                    }
                    done.fetch_add(count, Ordering::Relaxed);
                    Ok(())
                })
            })
            .collect();
        std::thread::sleep(round);
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a reading thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

impl RunScenario for Gets {
    type Output = GetsResult;

    fn run(self) -> anyhow::Result<GetsResult> {
        let url = redis_url().context("no Redis URL in MEMBOUND_TEST_REDIS_URL")?;
        let prefix = unique_prefix();
        let _cleanup = Cleanup {
            url: &url,
            prefix: &prefix,
        };
        let tier = || {
            RedisTier::new(url.as_str())
                .prefix(&prefix)
                .timeout(TIMEOUT)
        };
        let keys = u64::from(self.keys.max(1));
        let spec = zcache::testdata::TraceSpec {
            keys: usize::try_from(keys)?,
            ..zcache::testdata::TraceSpec::default()
        };
        let value = |i: u64| -> anyhow::Result<Vec<u8>> {
            let mut v = zcache::testdata::json_value(&spec, u32::try_from(i)?, VALUE_BYTES);
            v.resize(VALUE_BYTES, b' ');
            Ok(v)
        };
        let name = |i: u64| format!("doc:{}", i % keys);
        let raw_name = |i: u64| format!("{prefix}:raw:{}", i % keys);

        // The values, through the shared tier and as raw bytes.
        let writer = CompressedCache::builder()
            .max_memory(0)
            .shared(tier())
            .build()?;
        let mut con = connect(&url)?;
        for i in 0..keys {
            let v = value(i)?;
            writer.put_bytes(&name(i), &v)?;
            set(&mut con, &raw_name(i), &v)?;
        }
        ensure!(
            writer.sync_shared(Duration::from_secs(60)),
            "the writes did not reach Redis within 60 s"
        );
        let w = writer.shared_stats().context("a shared tier")?;
        ensure!(w.writes == keys, "not every value reached Redis: {w:?}");
        let wire_bytes_per_value = w.bytes_written as f64 / keys as f64;
        drop(writer);

        // The reader keeps nothing locally: every get asks Redis.
        let reader = CompressedCache::builder()
            .max_memory(0)
            .shared(tier())
            .build()?;
        let shared_get = |_: &mut (), n: u64| -> anyhow::Result<()> {
            let v = reader.get_bytes(&name(n))?;
            std::hint::black_box(v);
            Ok(())
        };
        let plain_get = |con: &mut redis::Connection, n: u64| -> anyhow::Result<()> {
            std::hint::black_box(get(con, &raw_name(n))?);
            Ok(())
        };
        let one = Duration::from_millis(self.round_ms.max(1));
        let (mut plain, mut shared) = (Vec::new(), Vec::new());
        for _ in 0..self.rounds.max(1) {
            plain.push(round(self.threads, one, || connect(&url), plain_get)?);
            shared.push(round(self.threads, one, || Ok(()), shared_get)?);
        }
        // Single-thread latency: 2,000 gets of each side, alternating.
        let (mut plain_times, mut shared_times) = (Vec::new(), Vec::new());
        for n in 0..2000 {
            let t = Instant::now();
            plain_get(&mut con, n)?;
            plain_times.push(t.elapsed());
            let t = Instant::now();
            shared_get(&mut (), n)?;
            shared_times.push(t.elapsed());
        }
        let (plain_latency_s, shared_latency_s) = (median(plain_times), median(shared_times));
        let s = reader.shared_stats().context("a shared tier")?;
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        Ok(GetsResult {
            threads: self.threads,
            value_bytes: VALUE_BYTES as u64,
            plain_per_s: med(plain),
            shared_per_s: med(shared),
            plain_latency_s,
            shared_latency_s,
            wire_bytes_per_value,
            misses: s.misses,
            errors: s.errors,
            timeouts: s.timeouts,
        })
    }
}
