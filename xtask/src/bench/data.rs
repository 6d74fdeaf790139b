//! The benchmark's data, generated deterministically in a temporary directory: the CSV of the
//! benchmark schema and its Parquet (zstd) and Feather (lz4) copies.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
use mem_stream::StreamingLoader;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use super::scenarios::RunScenario;

/// The seed of every generated file: the same sizes give the same bytes on every machine.
pub const SEED: u64 = 20_261_126;

/// File names of the CSV and of its Parquet and Feather copies in the data directory.
const FILES: [&str; 3] = ["bench.csv", "bench.parquet", "bench.feather"];

/// The generated files.
#[derive(Debug)]
pub struct Dataset {
    pub dir: PathBuf,
    pub csv: PathBuf,
    pub parquet: PathBuf,
    pub feather: PathBuf,
    pub rows: u64,
    pub csv_bytes: u64,
}

impl Dataset {
    /// Writes a CSV of about `csv_bytes` bytes and its copies under a new directory in `parent`.
    ///
    /// The writing happens in a child process: Linux carries a process's peak RSS into the
    /// children it spawns (`exec` records the old address space's high-water mark in the
    /// child's `ru_maxrss`), so the orchestrator must stay small for the children's peaks to be
    /// their own.
    pub fn generate(parent: &Path, csv_bytes: u64) -> anyhow::Result<Self> {
        let dir = parent.join(format!("membound-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut data = Self {
            csv: dir.join(FILES[0]),
            parquet: dir.join(FILES[1]),
            feather: dir.join(FILES[2]),
            dir,
            rows: mem_stream::testdata::rows_for_bytes(csv_bytes),
            csv_bytes: 0,
        };
        super::child::run(GenData {
            dir: data.dir.clone(),
            rows: data.rows,
            csv_only: false,
        })
        .context("generating the data in a child process")?;
        data.csv_bytes = std::fs::metadata(&data.csv)?.len();
        Ok(data)
    }
}

/// The `gen-data` scenario: writes `bench.csv`, `bench.parquet` and `bench.feather` in `--dir`
/// (only the CSV with `--csv-only`).
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct GenData {
    /// The directory to write in.
    #[arg(long)]
    pub dir: PathBuf,
    /// Rows of the CSV.
    #[arg(long)]
    pub rows: u64,
    /// Write only the CSV (no Parquet and Feather copies).
    #[arg(long)]
    #[serde(default)]
    pub csv_only: bool,
}

/// What [`GenData`] wrote.
#[derive(Debug, Serialize, Deserialize)]
pub struct GenDataResult {
    pub rows: u64,
}

impl RunScenario for GenData {
    type Output = GenDataResult;

    fn run(self) -> anyhow::Result<GenDataResult> {
        let [csv, parquet, feather] = FILES.map(|f| self.dir.join(f));
        mem_stream::testdata::write_bench_csv(&csv, self.rows, SEED)
            .with_context(|| format!("writing {}", csv.display()))?;
        if !self.csv_only {
            copy_columnar(&csv, &parquet, &feather)?;
        }
        Ok(GenDataResult { rows: self.rows })
    }
}

impl Drop for Dataset {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            warn_leftover(&self.dir, &e);
        }
    }
}

#[expect(
    clippy::print_stderr,
    reason = "xtask reports a leftover directory to the person running it"
)]
fn warn_leftover(dir: &Path, e: &std::io::Error) {
    eprintln!("warning: could not remove {}: {e}", dir.display());
}

/// Streams the CSV once with default-inferred types and writes both columnar copies.
fn copy_columnar(csv: &Path, parquet: &Path, feather: &Path) -> anyhow::Result<()> {
    let loader = StreamingLoader::builder()
        .optimize(false)
        .chunk_size(65_536)
        .build()?;
    let mut stream = loader.stream(csv)?;
    let schema = stream.schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .build();
    let mut pq = ArrowWriter::try_new(File::create(parquet)?, schema.clone(), Some(props))?;
    let options =
        IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME))?;
    let mut ipc = FileWriter::try_new_with_options(File::create(feather)?, &schema, options)?;
    for chunk in stream.by_ref() {
        let (batch, _) = chunk?;
        pq.write(&batch)?;
        ipc.write(&batch)?;
    }
    pq.close()?;
    ipc.finish()?;
    Ok(())
}
