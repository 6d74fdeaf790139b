//! Table scenarios on the benchmark CSV and its Parquet/Feather copies: full load vs streaming,
//! default vs optimized storage, preview.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use mem_optimize::{OptimizeOptions, OptimizeReport, batch_memory_size, optimize_batch};
use mem_stream::StreamingLoader;
use serde::{Deserialize, Serialize};

use super::RunScenario;

/// A loader without a memory limit, default (inferred) types: the "before" of every table row.
fn plain_loader() -> anyhow::Result<StreamingLoader> {
    Ok(StreamingLoader::builder()
        .memory_limit(u64::MAX)
        .optimize(false)
        .build()?)
}

/// Full load of the whole file into one batch, default types (the pandas `read_csv` way).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct LoadFull {
    /// The CSV, Parquet or Feather file.
    #[arg(long)]
    pub path: PathBuf,
}

/// What [`LoadFull`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct LoadFullResult {
    pub rows: usize,
    pub arrow_bytes: usize,
    pub elapsed_s: f64,
}

impl RunScenario for LoadFull {
    type Output = LoadFullResult;

    fn run(self) -> anyhow::Result<LoadFullResult> {
        let start = Instant::now();
        let batch = plain_loader()?
            .load(&self.path)
            .with_context(|| format!("loading {}", self.path.display()))?;
        let elapsed = start.elapsed();
        Ok(LoadFullResult {
            rows: batch.num_rows(),
            arrow_bytes: batch_memory_size(&batch),
            elapsed_s: elapsed.as_secs_f64(),
        })
    }
}

/// Streams the whole file at the default chunk size with lossless optimisation, dropping each
/// chunk after looking at it (the way an application processes a big file).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Stream {
    /// The CSV, Parquet or Feather file.
    #[arg(long)]
    pub path: PathBuf,
}

/// What [`Stream`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct StreamResult {
    pub rows: usize,
    pub chunks: usize,
    pub max_chunk_bytes: usize,
    pub elapsed_s: f64,
}

impl RunScenario for Stream {
    type Output = StreamResult;

    fn run(self) -> anyhow::Result<StreamResult> {
        let loader = StreamingLoader::builder().build()?;
        let start = Instant::now();
        let (mut rows, mut chunks, mut max_chunk_bytes) = (0usize, 0usize, 0usize);
        for chunk in loader.stream(&self.path)? {
            let (batch, meta) = chunk?;
            rows += batch.num_rows();
            chunks += 1;
            max_chunk_bytes = max_chunk_bytes.max(meta.bytes);
        }
        Ok(StreamResult {
            rows,
            chunks,
            max_chunk_bytes,
            elapsed_s: start.elapsed().as_secs_f64(),
        })
    }
}

/// The whole table in memory with default-inferred types, then optimized losslessly.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Storage {
    /// The CSV file.
    #[arg(long)]
    pub path: PathBuf,
}

/// What [`Storage`] measured: `optimize_batch`'s own report (Arrow bytes before and after, per
/// column and in total).
#[derive(Debug, Serialize, Deserialize)]
pub struct StorageResult {
    pub rows: usize,
    pub optimize_s: f64,
    pub report: OptimizeReport,
}

impl StorageResult {
    /// Bytes before and after of the columns named `name`.
    pub fn column_bytes(&self, name: &str) -> (usize, usize) {
        self.report
            .columns
            .iter()
            .filter(|c| c.name == name)
            .fold((0, 0), |(b, a), c| (b + c.bytes_before, a + c.bytes_after))
    }
}

impl RunScenario for Storage {
    type Output = StorageResult;

    fn run(self) -> anyhow::Result<StorageResult> {
        let batch = plain_loader()?.load(&self.path)?;
        let start = Instant::now();
        let (_, report) = optimize_batch(&batch, &OptimizeOptions::default())?;
        Ok(StorageResult {
            rows: batch.num_rows(),
            optimize_s: start.elapsed().as_secs_f64(),
            report,
        })
    }
}

/// How [`Preview`] reads the first rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreviewHow {
    /// Load the whole file, then take its head (the "before").
    FullThenHead,
    /// `StreamingLoader::sample` (the "after").
    Sample,
}

/// Preview of the first rows of a file.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct Preview {
    /// The CSV, Parquet or Feather file.
    #[arg(long)]
    pub path: PathBuf,
    /// Rows to read.
    #[arg(long)]
    pub rows: usize,
    /// Full load then head, or sample.
    #[arg(long, value_enum)]
    pub how: PreviewHow,
}

/// What [`Preview`] measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct PreviewResult {
    pub rows: usize,
    pub elapsed_s: f64,
}

impl RunScenario for Preview {
    type Output = PreviewResult;

    fn run(self) -> anyhow::Result<PreviewResult> {
        let start = Instant::now();
        let rows = match self.how {
            PreviewHow::FullThenHead => {
                let batch = plain_loader()?.load(&self.path)?;
                batch.slice(0, self.rows.min(batch.num_rows())).num_rows()
            }
            PreviewHow::Sample => StreamingLoader::builder()
                .build()?
                .sample(&self.path, self.rows)?
                .0
                .num_rows(),
        };
        Ok(PreviewResult {
            rows,
            elapsed_s: start.elapsed().as_secs_f64(),
        })
    }
}
