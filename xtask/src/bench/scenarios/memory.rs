//! Memory scenarios: `release_memory` after freeing many blocks, time to flag a leak, and a
//! whole pipeline run under the manager.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use mem_monitor::{KIB, MIB, bytes_to_mb, memory_stats};
use mem_optimize::ReleaseReport;
use mem_profile::{LeakConfig, detect_leak};
use serde::{Deserialize, Serialize};

use super::RunScenario;
use super::cache::Corpus;

/// Allocates `--mb` MiB in 64 KiB blocks (below glibc's mmap threshold, so they live in the
/// heap), touches them, frees all but every 64th (a long-lived survivor pins the heap, as in a
/// real program, so glibc cannot shrink it from the top), then times `release_memory`.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Cleanup {
    /// MiB to allocate.
    #[arg(long)]
    pub mb: u64,
}

/// What [`Cleanup`] measured: `release_memory`'s own report and what was held before.
#[derive(Debug, Serialize, Deserialize)]
pub struct CleanupResult {
    pub survivors_bytes: u64,
    pub rss_held_bytes: u64,
    pub release: ReleaseReport,
}

impl RunScenario for Cleanup {
    type Output = CleanupResult;

    fn run(self) -> anyhow::Result<CleanupResult> {
        let block = usize::try_from(64 * KIB)?;
        let blocks_per_mib = usize::try_from(MIB / (64 * KIB))?;
        let mut blocks: Vec<Vec<u8>> = (0..usize::try_from(self.mb)? * blocks_per_mib)
            .map(|i| vec![(i % 251) as u8 + 1; block])
            .collect();
        black_box(&mut blocks);
        let held = memory_stats()?.process_rss_bytes;
        let survivors: Vec<Vec<u8>> = blocks
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 64 == 63)
            .map(|(_, b)| b)
            .collect();
        let release = mem_optimize::release_memory();
        black_box(&survivors);
        Ok(CleanupResult {
            survivors_bytes: (survivors.len() * block) as u64,
            rss_held_bytes: held,
            release,
        })
    }
}

/// Leaks 1 MiB every 10 ms while sampling RSS every 20 ms, and measures how long the trend fit
/// takes to flag it; the profiler session over the same run gives the verdict and rate.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Leak {}

/// What [`Leak`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct LeakResult {
    pub time_to_flag_s: f64,
    pub rate_mb_per_hour: f64,
    pub true_rate_mb_per_hour: f64,
    pub session_leak_detected: bool,
    pub session_rate_mb_per_hour: f64,
}

impl RunScenario for Leak {
    type Output = LeakResult;

    fn run(self) -> anyhow::Result<LeakResult> {
        let profiler = mem_profile::MemoryProfiler::builder()
            .snapshot_interval(Duration::from_millis(20))
            .build()?;
        profiler.start_profiling("leak")?;
        let config = LeakConfig::default();
        let start = Instant::now();
        let (mut t, mut y) = (Vec::new(), Vec::new());
        let mut kept: Vec<Vec<u8>> = Vec::new();
        let mut flagged = None;
        let mut next_sample = Duration::ZERO;
        while start.elapsed() < Duration::from_secs(10) {
            kept.push(vec![1u8; usize::try_from(MIB)?]);
            if start.elapsed() >= next_sample {
                next_sample += Duration::from_millis(20);
                t.push(start.elapsed().as_secs_f64());
                y.push(memory_stats()?.process_mb());
                let analysis = detect_leak(&t, &y, &config);
                if analysis.leak_detected {
                    flagged = Some((start.elapsed().as_secs_f64(), analysis.rate_mb_per_hour));
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let result = profiler.stop_profiling("leak")?;
        black_box(&kept);
        let (time_to_flag_s, rate_mb_per_hour) =
            flagged.context("the leak was not flagged within 10 s")?;
        Ok(LeakResult {
            time_to_flag_s,
            rate_mb_per_hour,
            true_rate_mb_per_hour: kept.len() as f64 / start.elapsed().as_secs_f64() * 3600.0,
            session_leak_detected: result.memory_leak_detected,
            session_rate_mb_per_hour: result.leak_rate_mb_per_hour,
        })
    }
}

/// The application's pipeline under the manager: stream the table (lossless optimisation),
/// save and fetch the embeddings with their texts, release memory at the end. The parent reads
/// this process's peak RSS.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Pipeline {
    /// The CSV to stream.
    #[arg(long)]
    pub path: PathBuf,
    /// The directory of `minilm-5k.npy` and `texts-5k.jsonl`.
    #[arg(long)]
    pub embeddings: PathBuf,
    /// The cache directory.
    #[arg(long)]
    pub work: PathBuf,
}

/// What [`Pipeline`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct PipelineResult {
    pub rows: usize,
    pub elapsed_s: f64,
    pub released_mb: f64,
    pub level_changes: u64,
}

impl RunScenario for Pipeline {
    type Output = PipelineResult;

    fn run(self) -> anyhow::Result<PipelineResult> {
        let start = Instant::now();
        let config = membound::Config::default();
        let manager = membound::MemoryManager::builder(config.clone()).build()?;
        let loader = manager.streaming_loader().build()?;
        let mut rows = 0usize;
        for chunk in loader.stream(&self.path)? {
            let (batch, _) = chunk?;
            rows += batch.num_rows();
        }
        let service = config.cache_service(&self.work).build()?;
        let corpus = Corpus::read(&self.embeddings)?;
        corpus.save(&service)?;
        let (back, back_texts) = service
            .get_cached_embeddings_fast(&corpus.key)?
            .context("the saved embeddings")?;
        anyhow::ensure!(
            back.as_slice() == corpus.embeddings.as_slice() && back_texts == corpus.texts,
            "the embeddings cache returned other data"
        );
        let released = mem_optimize::release_memory();
        manager.stop();
        Ok(PipelineResult {
            rows,
            elapsed_s: start.elapsed().as_secs_f64(),
            released_mb: bytes_to_mb(released.rss_released()),
            level_changes: manager.stats().level_changes,
        })
    }
}
