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
        let s = cache.get_stats();
        Ok(MixedResult {
            entries: s.memory_entries,
            raw_bytes: s.raw_bytes,
            stored_bytes: s.stored_bytes,
            memory_bytes: s.memory_bytes,
            compression_ratio: s.compression_ratio,
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

/// The Zipf(0.9) trace at a budget of 10 % of all values' raw size: zcache vs an uncompressed
/// moka weighing raw bytes.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Trace {
    /// Requests in the trace.
    #[arg(long)]
    pub requests: usize,
    /// Distinct keys.
    #[arg(long)]
    pub keys: usize,
    /// zcache's default codec.
    #[arg(long)]
    pub codec: Codec,
}

/// What [`Trace`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct TraceResult {
    pub zcache_hit_rate: f64,
    pub moka_hit_rate: f64,
    pub budget_bytes: u64,
}

impl RunScenario for Trace {
    type Output = TraceResult;

    fn run(self) -> anyhow::Result<TraceResult> {
        let spec = TraceSpec {
            requests: self.requests,
            keys: self.keys,
            ..TraceSpec::default()
        };
        let trace = zipf_trace(&spec);
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
            budget_bytes: budget,
        })
    }
}
