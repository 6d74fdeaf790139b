//! Cache scenarios: a realistic mixed cache, the embeddings cache at each precision, a cache hit
//! against reading the file again, and the Zipf trace replay.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use zcache::testdata::{TraceSpec, json_value, replay, total_value_bytes, value_len, zipf_trace};
use zcache::{Codec, CompressedCache};
use zcache_service::{CacheService, ModelInfo, Precision, SaveReport, read_npy};

use super::RunScenario;

/// The real embeddings of the repository's `testdata/embeddings`, their texts, and the model
/// and key they are saved under.
pub(super) struct Corpus {
    pub embeddings: zcache_service::Embeddings,
    pub texts: Vec<String>,
    pub model: ModelInfo,
    pub key: String,
}

impl Corpus {
    pub(super) fn read(dir: &Path) -> anyhow::Result<Self> {
        let (embeddings, texts) = Self::read_files(dir)?;
        let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
        let key = zcache_service::cache_key_for(&texts, &model);
        Ok(Self {
            embeddings,
            texts,
            model,
            key,
        })
    }

    /// Reads and parses the matrix and the texts, nothing more.
    fn read_files(dir: &Path) -> anyhow::Result<(zcache_service::Embeddings, Vec<String>)> {
        Ok((
            read_npy(dir.join("minilm-5k.npy"))?,
            zcache_service::read_texts_jsonl(dir.join("texts-5k.jsonl"))?,
        ))
    }

    /// Saves the corpus at the service's precision.
    pub(super) fn save(&self, service: &CacheService) -> anyhow::Result<SaveReport> {
        Ok(service.save_embeddings(
            &self.key,
            &self.embeddings,
            &self.texts,
            &self.model,
            &zcache_service::data_hash_for(&self.texts),
            service.precision(),
        )?)
    }
}

/// How long `f` takes (its result is kept from the optimiser, then dropped).
fn time<T>(f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<Duration> {
    let t = Instant::now();
    let got = f()?;
    let elapsed = t.elapsed();
    std::hint::black_box(got);
    Ok(elapsed)
}

/// The median, in seconds, of `n` durations that `f` measures.
fn median_of(n: usize, mut f: impl FnMut() -> anyhow::Result<Duration>) -> anyhow::Result<f64> {
    let mut times = (0..n).map(|_| f()).collect::<anyhow::Result<Vec<_>>>()?;
    times.sort();
    Ok(times.get(n / 2).map_or(0.0, Duration::as_secs_f64))
}

/// A cache holding what the application caches: JSON documents, passages of text and
/// embedding rows, with `Codec::Auto`. Raw vs stored bytes.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Mixed {
    /// The directory of `minilm-5k.npy` and `texts-5k.jsonl`.
    #[arg(long)]
    pub embeddings: PathBuf,
    /// JSON documents to put.
    #[arg(long)]
    pub docs: u32,
}

/// What [`Mixed`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct MixedResult {
    pub entries: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub memory_bytes: u64,
    pub compression_ratio: f64,
    /// stored / raw right after the puts, before the background pass ran.
    pub ratio_at_put: f64,
    /// Entries the background pass recompressed, and how long it took to settle.
    pub recompressed: u64,
    pub settle_s: f64,
    /// Trained dictionaries and their bytes (held beside the entries, not in `stored_bytes`).
    pub dictionaries: u64,
    pub dictionary_bytes: u64,
    /// The short text passages alone: raw and stored payload bytes.
    pub text_raw_bytes: u64,
    pub text_stored_bytes: u64,
}

/// Waits (at most `limit`) until the background recompression stops making progress: its
/// counter unchanged for one second of 250 ms polls. How long it waited.
fn settle(cache: &CompressedCache, limit: Duration) -> Duration {
    let start = Instant::now();
    let (mut last, mut still) = (u64::MAX, 0);
    while start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(250));
        cache.run_pending_tasks();
        let now = cache.get_stats().recompressed;
        if now == last {
            still += 1;
            if still >= 4 {
                break;
            }
        } else {
            (last, still) = (now, 0);
        }
    }
    start.elapsed()
}

impl RunScenario for Mixed {
    type Output = MixedResult;

    fn run(self) -> anyhow::Result<MixedResult> {
        let cache = CompressedCache::builder()
            .max_memory(4096 << 20)
            .default_compression(Codec::Auto)
            .build()?;
        let spec = TraceSpec {
            keys: usize::try_from(self.docs)?,
            ..TraceSpec::default()
        };
        for id in 0..self.docs {
            cache.put_bytes(
                &format!("doc:{id}"),
                &json_value(&spec, id, value_len(&spec, id)),
            )?;
        }
        let corpus = Corpus::read(&self.embeddings)?;
        for (i, t) in corpus.texts.iter().enumerate() {
            cache.put_str(&format!("text:{i}"), t)?;
        }
        let emb = &corpus.embeddings;
        for (i, rows) in emb.as_slice().chunks(emb.dim() * 100).enumerate() {
            cache.put_slice(&format!("emb:{i}"), rows)?;
        }
        cache.run_pending_tasks();
        let ratio_at_put = cache.get_stats().compression_ratio;
        let settled = settle(&cache, Duration::from_secs(120));
        let s = cache.get_stats();
        let (mut text_raw_bytes, mut text_stored_bytes) = (0, 0);
        for i in 0..corpus.texts.len() {
            if let Some(e) = cache.peek(&format!("text:{i}"))? {
                text_raw_bytes += e.raw_bytes;
                text_stored_bytes += e.stored_bytes;
            }
        }
        Ok(MixedResult {
            entries: s.memory_entries,
            raw_bytes: s.raw_bytes,
            stored_bytes: s.stored_bytes,
            memory_bytes: s.memory_bytes,
            compression_ratio: s.compression_ratio,
            ratio_at_put,
            recompressed: s.recompressed,
            settle_s: settled.as_secs_f64(),
            dictionaries: s.dictionaries,
            dictionary_bytes: s.dictionary_bytes,
            text_raw_bytes,
            text_stored_bytes,
        })
    }
}

/// The 5,000 x 384 embeddings saved at one precision: sizes, fidelity, save and get times.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Embeddings {
    /// The directory of `minilm-5k.npy` and `texts-5k.jsonl`.
    #[arg(long)]
    pub embeddings: PathBuf,
    /// The precision to save at.
    #[arg(long)]
    pub precision: Precision,
    /// The cache directory.
    #[arg(long)]
    pub work: PathBuf,
}

/// What [`Embeddings`] measured: the save's own report and the median times.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmbeddingsResult {
    pub save: SaveReport,
    pub save_s: f64,
    pub get_hot_s: f64,
    pub get_disk_s: f64,
}

impl RunScenario for Embeddings {
    type Output = EmbeddingsResult;

    fn run(self) -> anyhow::Result<EmbeddingsResult> {
        let corpus = Corpus::read(&self.embeddings)?;
        let open = || {
            CacheService::builder()
                .cache_dir(&self.work)
                .precision(self.precision)
                .build()
        };
        let service = open()?;
        let start = Instant::now();
        let save = corpus.save(&service)?;
        let save_s = start.elapsed().as_secs_f64();
        let get_hot_s = median_of(20, || {
            time(|| {
                service
                    .get_cached_embeddings_fast(&corpus.key)?
                    .context("a hit right after saving")
            })
        })?;
        drop(service);
        // A new service on the same directory: the hot tier is empty, entries come from disk.
        let get_disk_s = median_of(5, || {
            let service = open()?;
            time(|| {
                service
                    .get_cached_embeddings_fast(&corpus.key)?
                    .context("a hit from disk")
            })
        })?;
        Ok(EmbeddingsResult {
            save,
            save_s,
            get_hot_s,
            get_disk_s,
        })
    }
}

/// Before: read and parse the uncompressed files again. After: a compressed memory-tier hit.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Hit {
    /// The directory of `minilm-5k.npy` and `texts-5k.jsonl`.
    #[arg(long)]
    pub embeddings: PathBuf,
    /// The cache directory.
    #[arg(long)]
    pub work: PathBuf,
}

/// What [`Hit`] measured (medians).
#[derive(Debug, Serialize, Deserialize)]
pub struct HitResult {
    pub reread_s: f64,
    pub hit_s: f64,
}

impl RunScenario for Hit {
    type Output = HitResult;

    fn run(self) -> anyhow::Result<HitResult> {
        let reread_s = median_of(5, || time(|| Corpus::read_files(&self.embeddings)))?;
        let corpus = Corpus::read(&self.embeddings)?;
        let service = CacheService::builder().cache_dir(&self.work).build()?;
        corpus.save(&service)?;
        let hit_s = median_of(20, || {
            time(|| {
                service
                    .get_cached_embeddings_fast(&corpus.key)?
                    .context("a hit")
            })
        })?;
        Ok(HitResult { reread_s, hit_s })
    }
}

/// A Zipf trace at a budget of 10 % of all values' raw size: zcache (default configuration but
/// the codec: background recompression and dictionaries on) vs an uncompressed moka weighing raw
/// bytes, and an infinite cache (only first requests miss).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Trace {
    /// Requests in the trace.
    #[arg(long)]
    pub requests: usize,
    /// Distinct keys.
    #[arg(long)]
    pub keys: usize,
    /// Zipf exponent.
    #[arg(long)]
    pub exponent: f64,
    /// zcache's default codec.
    #[arg(long)]
    pub codec: Codec,
}

/// What [`Trace`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct TraceResult {
    pub zcache_hit_rate: f64,
    pub moka_hit_rate: f64,
    pub infinite_hit_rate: f64,
    pub budget_bytes: u64,
    /// zcache's memory tier at the end: entries, weighed bytes, stored payload bytes.
    pub entries: u64,
    pub memory_bytes: u64,
    pub stored_bytes: u64,
}

impl RunScenario for Trace {
    type Output = TraceResult;

    fn run(self) -> anyhow::Result<TraceResult> {
        let spec = TraceSpec {
            requests: self.requests,
            keys: self.keys,
            exponent: self.exponent,
            ..TraceSpec::default()
        };
        let trace = zipf_trace(&spec);
        let distinct = trace.iter().collect::<std::collections::HashSet<_>>().len();
        let infinite_hit_rate = 1.0 - distinct as f64 / trace.len().max(1) as f64;
        let budget = total_value_bytes(&spec) / 10;
        let cache = CompressedCache::builder()
            .max_memory(budget)
            .default_compression(self.codec)
            .build()?;
        let z = replay(
            &spec,
            &trace,
            |id| {
                cache
                    .get_bytes(&zcache::testdata::key_name(id))
                    .ok()
                    .flatten()
                    .is_some()
            },
            |id, v| {
                let _ = cache.put_bytes(&zcache::testdata::key_name(id), &v);
            },
        );
        cache.run_pending_tasks();
        let s = cache.get_stats();
        drop(cache);
        let plain: moka::sync::Cache<u32, Vec<u8>> = moka::sync::Cache::builder()
            .max_capacity(budget)
            .weigher(|_, v: &Vec<u8>| u32::try_from(v.len()).unwrap_or(u32::MAX))
            .build();
        let m = replay(
            &spec,
            &trace,
            |id| plain.get(&id).is_some(),
            |id, v| plain.insert(id, v),
        );
        Ok(TraceResult {
            zcache_hit_rate: z.hit_rate,
            moka_hit_rate: m.hit_rate,
            infinite_hit_rate,
            budget_bytes: budget,
            entries: s.memory_entries,
            memory_bytes: s.memory_bytes,
            stored_bytes: s.memory_stored_bytes,
        })
    }
}

/// One 1 KiB JSON get at a time from a warm memory tier, zcache (default configuration, the
/// given codec) interleaved with moka holding the raw bytes: median and p99 of each.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Get1k {
    /// zcache's default codec.
    #[arg(long)]
    pub codec: Codec,
    /// Timed gets of each cache.
    #[arg(long)]
    pub samples: usize,
}

/// What [`Get1k`] measured, in nanoseconds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Get1kResult {
    pub zcache_median_ns: f64,
    pub zcache_p99_ns: f64,
    pub moka_median_ns: f64,
    pub moka_p99_ns: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e9)
}

impl RunScenario for Get1k {
    type Output = Get1kResult;

    fn run(self) -> anyhow::Result<Get1kResult> {
        const KEYS: u32 = 1000;
        let spec = TraceSpec::default();
        let cache = CompressedCache::builder()
            .max_memory(256 << 20)
            .default_compression(self.codec)
            .build()?;
        let plain: moka::sync::Cache<String, Vec<u8>> =
            moka::sync::Cache::builder().max_capacity(256 << 20).build();
        let keys: Vec<String> = (0..KEYS).map(zcache::testdata::key_name).collect();
        for (id, key) in (0..KEYS).zip(&keys) {
            let v = json_value(&spec, id, 1024);
            cache.put_bytes(key, &v)?;
            plain.insert(key.clone(), v);
        }
        let get_z = |key: &str| -> anyhow::Result<Duration> {
            let t = Instant::now();
            let v = cache.get_bytes(key)?.context("a 1 KiB hit")?;
            let d = t.elapsed();
            std::hint::black_box(v);
            Ok(d)
        };
        let get_m = |key: &String| -> anyhow::Result<Duration> {
            let t = Instant::now();
            let v = plain.get(key).context("a moka hit")?;
            let d = t.elapsed();
            std::hint::black_box(v);
            Ok(d)
        };
        // Warm-up: half a second of gets, so the background pass has seen every entry.
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_millis(500) {
            for key in &keys {
                get_z(key)?;
                get_m(key)?;
            }
        }
        let (mut z, mut m) = (
            Vec::with_capacity(self.samples),
            Vec::with_capacity(self.samples),
        );
        for key in keys.iter().cycle().take(self.samples) {
            z.push(get_z(key)?);
            m.push(get_m(key)?);
        }
        z.sort();
        m.sort();
        Ok(Get1kResult {
            zcache_median_ns: percentile(&z, 0.5),
            zcache_p99_ns: percentile(&z, 0.99),
            moka_median_ns: percentile(&m, 0.5),
            moka_p99_ns: percentile(&m, 0.99),
        })
    }
}

/// What a memory-tier entry really costs: RSS growth of `entries` puts of 128-byte
/// incompressible values (no eviction, no background pass), minus payload and key bytes.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct EntryCost {
    /// Entries to put.
    #[arg(long)]
    pub entries: u64,
}

/// What [`EntryCost`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct EntryCostResult {
    pub entries: u64,
    pub rss_growth_bytes: u64,
    pub payload_and_key_bytes: u64,
    /// (RSS growth - payload and key bytes) / entries.
    pub measured_per_entry: f64,
    /// (weighed size - payload and key bytes) / entries: what the budget charges.
    pub weighed_per_entry: f64,
}

impl RunScenario for EntryCost {
    type Output = EntryCostResult;

    fn run(self) -> anyhow::Result<EntryCostResult> {
        const LEN: usize = 128;
        let rss = || mem_monitor::memory_stats().map(|s| s.process_rss_bytes);
        let keys: Vec<String> = (0..self.entries).map(|i| format!("key-{i:08}")).collect();
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let mut value = vec![0u8; LEN];
        let cache = CompressedCache::builder()
            .max_memory(8 << 30)
            .background_recompression(false)
            .cleanup_interval(Duration::ZERO)
            .build()?;
        let before = rss()?;
        for key in &keys {
            for b in &mut value {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            cache.put_bytes(key, &value)?;
        }
        cache.run_pending_tasks();
        let after = rss()?;
        let s = cache.get_stats();
        let payload_and_key_bytes =
            s.memory_stored_bytes + keys.iter().map(|k| k.len() as u64).sum::<u64>();
        let n = s.memory_entries.max(1) as f64;
        let growth = after.saturating_sub(before);
        Ok(EntryCostResult {
            entries: s.memory_entries,
            rss_growth_bytes: growth,
            payload_and_key_bytes,
            measured_per_entry: (growth as f64 - payload_and_key_bytes as f64) / n,
            weighed_per_entry: (s.memory_bytes as f64 - payload_and_key_bytes as f64) / n,
        })
    }
}

/// The benchmark CSV held as a `CompactTable` (text columns as FSST) by
/// `StreamingLoader::load_compact`, against the plain Arrow chunks it was built from; then
/// single rows' text read at random from it, and the whole table decoded back to Arrow.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Compact {
    /// The benchmark CSV.
    #[arg(long)]
    pub path: PathBuf,
}

/// What [`Compact`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompactResult {
    pub rows: u64,
    pub arrow_bytes: u64,
    pub compact_bytes: u64,
    pub elapsed_s: f64,
    /// The text column read and decoded alone (the compressed one with the most text).
    pub text_column: String,
    /// Single rows read at random (`CompactTable::value_into`, one reused `String`), each
    /// timed alone: median and p99 in nanoseconds, and the mean bytes of a row's text.
    pub row_reads: u64,
    pub row_read_median_ns: f64,
    pub row_read_p99_ns: f64,
    pub row_read_mean_bytes: f64,
    /// The whole table decoded back to Arrow record batches, chunk by chunk on one thread:
    /// bytes of the decoded (plain Arrow) batches, the median wall time of the passes and
    /// the median CPU time of the decoding thread (a shared machine's time slices left out).
    pub decode_passes: u64,
    pub decoded_bytes: u64,
    pub decode_s: f64,
    pub decode_cpu_s: f64,
    /// The text column alone decoded back to Arrow arrays: decoded bytes, median wall and
    /// thread CPU times.
    pub text_decoded_bytes: u64,
    pub text_decode_s: f64,
    pub text_decode_cpu_s: f64,
}

/// Rows read at random from the compact table (after as many untimed ones).
const COMPACT_ROW_READS: usize = 200_000;
/// Timed decodes of the whole table (the median is kept).
const COMPACT_DECODE_PASSES: usize = 3;

/// A SplitMix64 step: a reproducible stream of row numbers without a `rand` dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// CPU seconds the calling thread has used.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    } else {
        f64::NAN
    }
}

/// `passes` runs of `pass`, which returns the bytes it decoded: those bytes and the median
/// wall and thread CPU seconds of a run.
fn decode_passes(
    passes: usize,
    mut pass: impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<(u64, f64, f64)> {
    let (mut bytes, mut wall, mut cpu) = (0, Vec::new(), Vec::new());
    for _ in 0..passes {
        let (t, c) = (Instant::now(), thread_cpu_s());
        bytes = pass()?;
        cpu.push(thread_cpu_s() - c);
        wall.push(t.elapsed().as_secs_f64());
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    Ok((bytes, median(wall), median(cpu)))
}

impl RunScenario for Compact {
    type Output = CompactResult;

    fn run(self) -> anyhow::Result<CompactResult> {
        let loader = mem_stream::StreamingLoader::builder()
            .memory_limit(u64::MAX)
            .build()?;
        let start = Instant::now();
        let table = loader
            .load_compact(&self.path)
            .with_context(|| format!("loading {} compact", self.path.display()))?;
        let elapsed_s = start.elapsed().as_secs_f64();
        let report = table.report();
        let (text, text_name) = report
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.encoding != mem_optimize::CompactEncoding::Arrow)
            .max_by_key(|(_, c)| c.text_bytes)
            .map(|(i, c)| (i, c.name.clone()))
            .context("no text column was compressed")?;
        let rows = table.num_rows();
        anyhow::ensure!(rows > 0, "the compact table is empty");

        // (a) Single rows at random, each read timed alone.
        let mut state = 0x5EED_u64;
        let mut row = || (splitmix(&mut state) % rows as u64) as usize;
        let mut buf = String::new();
        for _ in 0..COMPACT_ROW_READS {
            std::hint::black_box(table.value_into(text, row(), &mut buf)?);
        }
        let mut times = Vec::with_capacity(COMPACT_ROW_READS);
        let mut read_bytes = 0u64;
        for _ in 0..COMPACT_ROW_READS {
            let r = row();
            let t = Instant::now();
            let some = table.value_into(text, r, &mut buf)?;
            let d = t.elapsed();
            std::hint::black_box(some);
            read_bytes += buf.len() as u64;
            times.push(d);
        }
        times.sort();

        // (b) The whole table back to Arrow, one chunk at a time (each dropped once decoded).
        let (decoded_bytes, decode_s, decode_cpu_s) = decode_passes(COMPACT_DECODE_PASSES, || {
            let mut bytes = 0u64;
            for batch in table.record_batches() {
                let batch = batch?;
                bytes += mem_optimize::batch_memory_size(&batch) as u64;
                drop(std::hint::black_box(batch));
            }
            Ok(bytes)
        })?;
        let (text_decoded_bytes, text_decode_s, text_decode_cpu_s) =
            decode_passes(COMPACT_DECODE_PASSES, || {
                let mut bytes = 0u64;
                for batch in table.batches() {
                    let column = batch.column(text)?;
                    bytes += mem_optimize::array_memory_size(column.as_ref()) as u64;
                    drop(std::hint::black_box(column));
                }
                Ok(bytes)
            })?;

        Ok(CompactResult {
            rows: report.rows,
            arrow_bytes: report.arrow_bytes,
            compact_bytes: report.compact_bytes,
            elapsed_s,
            text_column: text_name,
            row_reads: COMPACT_ROW_READS as u64,
            row_read_median_ns: percentile(&times, 0.5),
            row_read_p99_ns: percentile(&times, 0.99),
            row_read_mean_bytes: read_bytes as f64 / COMPACT_ROW_READS as f64,
            decode_passes: COMPACT_DECODE_PASSES as u64,
            decoded_bytes,
            decode_s,
            decode_cpu_s,
            text_decoded_bytes,
            text_decode_s,
            text_decode_cpu_s,
        })
    }
}
