//! The seed corpus, built once per run into a temporary directory: the public conformance files,
//! generated CSV/TSV/gzip CSV, Arrow IPC file and stream, Parquet, the real embeddings (and a
//! 50-row copy) with their texts, and a valid cache directory made by the CLI itself.
//!
//! Everything is deterministic (fixed generator seed, sorted listings), so a case index maps to
//! the same input on every run.

use std::path::{Path, PathBuf};

use anyhow::Context;

mod npy;
mod tables;

pub use npy::{npy_dict, npy_header, parse_npy_header};
pub use tables::gzip;

/// What kind of bytes a seed holds: picks the commands and the format-aware mutators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated text.
    Csv,
    /// Tab-separated text.
    Tsv,
    /// Gzip-compressed CSV (`.csv.gz`).
    CsvGz,
    /// Apache Parquet (ends with `PAR1`).
    Parquet,
    /// Arrow IPC file / Feather v2 (ends with `ARROW1`).
    ArrowFile,
    /// Arrow IPC stream (`.arrows`).
    ArrowStream,
    /// A NumPy `.npy` matrix.
    Npy,
    /// JSON Lines texts of an embeddings matrix.
    Jsonl,
    /// One file of a zcache directory.
    CacheFile,
}

/// One seed file.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The file name, extension(s) included: mutants keep it so format detection still works.
    pub name: String,
    /// Where the valid file is.
    pub path: PathBuf,
    /// What it holds.
    pub format: Format,
}

impl Seed {
    pub(super) fn new(path: PathBuf, format: Format) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self { name, path, format }
    }
}

/// A matrix with its texts: the two inputs of `embeddings import`.
#[derive(Debug, Clone)]
pub struct NpyPair {
    /// The `.npy` matrix.
    pub npy: Seed,
    /// Its texts, one JSON line per row.
    pub texts: Seed,
}

/// The corpus: seeds grouped by how they are attacked.
#[derive(Debug)]
pub struct Corpus {
    /// Holds every generated file; removed when the corpus is dropped.
    pub dir: tempfile::TempDir,
    /// Table files for `stream` and `preview`, in a fixed order.
    pub tables: Vec<Seed>,
    /// Inputs of `embeddings import`; the small pair first.
    pub npy: Vec<NpyPair>,
    /// A valid cache directory and its files (relative paths, sorted), if the CLI could make it.
    pub cache: Option<(PathBuf, Vec<PathBuf>)>,
}

impl Corpus {
    /// Builds the corpus; `bin` is the CLI, used once to make the seed cache directory.
    pub fn build(bin: &Path) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("membound-fuzz-")
            .tempdir()
            .context("creating the corpus directory")?;
        let root = dir.path().join("seeds");
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let mut tables = conformance()?;
        tables.extend(tables::generate(&root)?);
        let npy = npy::embeddings(&root)?;
        let cache = match npy.first() {
            Some(pair) => seed_cache(bin, pair, &dir.path().join("cache-seed"))?,
            None => None,
        };
        Ok(Self {
            dir,
            tables,
            npy,
            cache,
        })
    }

    /// The table seeds of one format.
    pub fn tables_of(&self, format: Format) -> Vec<&Seed> {
        self.tables.iter().filter(|s| s.format == format).collect()
    }
}

/// The public conformance files: Parquet under `parquet/` (with `bad_data/`), Arrow IPC files
/// under `arrow-ipc/*/`, sorted by path.
fn conformance() -> anyhow::Result<Vec<Seed>> {
    let root = membound_tests::testdata("conformance");
    let mut files = Vec::new();
    walk(&root, &mut files)?;
    files.sort();
    Ok(files
        .into_iter()
        .filter_map(|p| {
            let format = match p.extension().and_then(|e| e.to_str()) {
                Some("parquet") => Format::Parquet,
                Some("arrow") => Format::ArrowFile,
                _ => return None,
            };
            // Named after the folders below `parquet/` or `arrow-ipc/` too, so the
            // little- and big-endian copies of one file stay apart in reports.
            let name = p
                .strip_prefix(&root)
                .ok()?
                .components()
                .skip(1)
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("_");
            Some(Seed {
                name,
                path: p,
                format,
            })
        })
        .collect())
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Makes a valid cache directory with `embeddings import` of the small pair; `None` (with a
/// warning) if the CLI cannot, so the other commands are still fuzzed.
fn seed_cache(
    bin: &Path,
    pair: &NpyPair,
    dir: &Path,
) -> anyhow::Result<Option<(PathBuf, Vec<PathBuf>)>> {
    let out = std::process::Command::new(bin)
        .args(["embeddings", "import"])
        .arg(&pair.npy.path)
        .arg("--texts")
        .arg(&pair.texts.path)
        .args(["--model", "fuzz-seed", "--dir"])
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        super::warn(&format!(
            "`membound embeddings import` of the valid seed failed ({}); no `cache verify` cases: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        return Ok(None);
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    let mut files: Vec<PathBuf> = files
        .into_iter()
        .filter_map(|f| f.strip_prefix(dir).ok().map(Path::to_path_buf))
        .collect();
    files.sort();
    if files.is_empty() {
        super::warn("the seed cache directory is empty; no `cache verify` cases");
        return Ok(None);
    }
    Ok(Some((dir.to_path_buf(), files)))
}
