//! The seed corpus, built once per run into a temporary directory: the public conformance files,
//! generated CSV/TSV/gzip CSV, Arrow IPC file and stream, Parquet, the real embeddings (and a
//! 50-row copy) with their texts, and a valid cache directory made by the CLI itself.
//!
//! Everything is deterministic (fixed generator seed, sorted listings), so a case index maps to
//! the same input on every run.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::rng::Rng;

/// The generator seed of the corpus (independent of `--seed`, which only drives mutations).
const CORPUS_SEED: u64 = 0x6d65_6d62_6f75_6e64;
/// Rows of the generated tables.
const ROWS: usize = 300;
/// Rows kept in the small embeddings seed.
const SMALL_NPY_ROWS: usize = 50;

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
    fn new(path: PathBuf, format: Format) -> Self {
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
        tables.extend(generate_tables(&root)?);
        let npy = embeddings(&root)?;
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
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
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

/// One generated row: every kind of cell the readers must handle.
struct Row {
    id: i64,
    count: Option<i32>,
    value: Option<f64>,
    name: Option<String>,
    flag: bool,
}

/// `ROWS` rows with nulls, negative and large numbers, and strings holding the delimiter,
/// quotes and newlines.
fn rows() -> Vec<Row> {
    const WORDS: [&str; 8] = [
        "plain",
        "with, comma",
        "say \"hi\"",
        "two\nlines",
        "tab\there",
        "ünïcødé ✓",
        "",
        "trailing space ",
    ];
    let mut rng = Rng::new(CORPUS_SEED);
    (0..ROWS)
        .map(|i| {
            let id = i64::try_from(i).unwrap_or(0);
            let count = (!rng.percent(8))
                .then(|| i32::try_from(rng.below(2_000_000)).unwrap_or(0) - 1_000_000);
            let value = (!rng.percent(8)).then(|| {
                let cents = i32::try_from(rng.below(10_000_000)).unwrap_or(0) - 5_000_000;
                f64::from(cents) / 100.0
            });
            let name = (!rng.percent(10)).then(|| {
                let a = rng.pick(&WORDS).copied().unwrap_or("x");
                let b = rng.pick(&WORDS).copied().unwrap_or("y");
                format!("{a} {i} {b}")
            });
            Row {
                id,
                count,
                value,
                name,
                flag: rng.percent(50),
            }
        })
        .collect()
}

/// One CSV field, quoted when it must be.
fn field(out: &mut String, text: &str, delimiter: char) {
    if text.contains([delimiter, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// The rows as delimited text with a header; nulls are empty fields.
fn delimited(rows: &[Row], delimiter: char) -> String {
    let d = delimiter;
    let mut s = format!("id{d}count{d}value{d}name{d}flag\n");
    for r in rows {
        let count = r.count.map(|c| c.to_string()).unwrap_or_default();
        let value = r.value.map(|v| v.to_string()).unwrap_or_default();
        let _ = write!(s, "{}{d}{count}{d}{value}{d}", r.id);
        field(&mut s, r.name.as_deref().unwrap_or(""), d);
        let _ = writeln!(s, "{d}{}", r.flag);
    }
    s
}

/// The rows as one Arrow batch.
fn batch(rows: &[Row]) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("count", DataType::Int32, true),
        Field::new("value", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
        Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.count))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.value))),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.name.as_deref()),
        )),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.flag)))),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Writes the generated CSV, TSV, gzip CSV, Arrow IPC files and stream, and Parquet files.
fn generate_tables(root: &Path) -> anyhow::Result<Vec<Seed>> {
    let rows = rows();
    let mut seeds = Vec::new();
    let mut put = |name: &str, format: Format, bytes: &[u8]| -> anyhow::Result<()> {
        let path = root.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        seeds.push(Seed::new(path, format));
        Ok(())
    };
    let csv = delimited(&rows, ',');
    put("gen.csv", Format::Csv, csv.as_bytes())?;
    put("gen.tsv", Format::Tsv, delimited(&rows, '\t').as_bytes())?;
    put("gen.csv.gz", Format::CsvGz, &gzip(csv.as_bytes())?)?;

    let batch = batch(&rows)?;
    // Three batches of 100 rows: several messages, record-batch blocks and row groups.
    let parts: Vec<RecordBatch> = (0..3).map(|i| batch.slice(i * 100, 100)).collect();
    put("gen.feather", Format::ArrowFile, &ipc_file(&parts, None)?)?;
    let lz4 = ipc_file(&parts, Some(CompressionType::LZ4_FRAME))?;
    put("gen-lz4.arrow", Format::ArrowFile, &lz4)?;
    put("gen.arrows", Format::ArrowStream, &ipc_stream(&parts)?)?;

    let plain = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(100))
        .build();
    put(
        "gen-plain.parquet",
        Format::Parquet,
        &parquet(&parts, plain)?,
    )?;
    let snappy = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(100))
        .set_data_page_row_count_limit(25)
        .build();
    put(
        "gen-snappy.parquet",
        Format::Parquet,
        &parquet(&parts, snappy)?,
    )?;
    Ok(seeds)
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

fn ipc_file(
    parts: &[RecordBatch],
    compression: Option<CompressionType>,
) -> anyhow::Result<Vec<u8>> {
    let schema = parts.first().context("no batches")?.schema();
    let options = IpcWriteOptions::default().try_with_compression(compression)?;
    let mut w = FileWriter::try_new_with_options(Vec::new(), &schema, options)?;
    for b in parts {
        w.write(b)?;
    }
    w.finish()?;
    Ok(w.into_inner()?)
}

fn ipc_stream(parts: &[RecordBatch]) -> anyhow::Result<Vec<u8>> {
    let schema = parts.first().context("no batches")?.schema();
    let mut w = StreamWriter::try_new(Vec::new(), &schema)?;
    for b in parts {
        w.write(b)?;
    }
    w.finish()?;
    Ok(w.into_inner()?)
}

fn parquet(parts: &[RecordBatch], props: WriterProperties) -> anyhow::Result<Vec<u8>> {
    let schema = parts.first().context("no batches")?.schema();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props))?;
    for b in parts {
        w.write(b)?;
    }
    Ok(w.into_inner()?)
}

/// The parsed header of a version 1 `.npy` file of float32.
#[derive(Debug, Clone, Copy)]
pub struct NpyHeader {
    /// Bytes before the data: magic, version, length field and the padded dict.
    pub data_offset: usize,
    /// Rows of the matrix.
    pub rows: usize,
    /// Columns of the matrix.
    pub dim: usize,
}

/// Parses the header of a (valid) version 1/2 `.npy` file: its data offset and 2-D shape.
pub fn parse_npy_header(bytes: &[u8]) -> Option<NpyHeader> {
    if !bytes.starts_with(b"\x93NUMPY") {
        return None;
    }
    let (len, start) = match bytes.get(6)? {
        1 => (
            usize::from(u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?])),
            10,
        ),
        2 | 3 => {
            let word: [u8; 4] = bytes.get(8..12)?.try_into().ok()?;
            (usize::try_from(u32::from_le_bytes(word)).ok()?, 12)
        }
        _ => return None,
    };
    let dict = std::str::from_utf8(bytes.get(start..start + len)?).ok()?;
    let shape = dict.split("'shape':").nth(1)?;
    let inner = shape.split('(').nth(1)?.split(')').next()?;
    let mut dims = inner
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok());
    Some(NpyHeader {
        data_offset: start + len,
        rows: dims.next()?,
        dim: dims.next()?,
    })
}

/// A version 1 `.npy` header for a little-endian float32 matrix, padded to 64 bytes.
pub fn npy_header(dict: &str) -> Vec<u8> {
    let mut text = dict.to_owned();
    while !(10 + text.len() + 1).is_multiple_of(64) {
        text.push(' ');
    }
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&u16::try_from(text.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// The standard dict of a C-order little-endian float32 matrix.
pub fn npy_dict(rows: &str, dim: &str) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}")
}

/// The real embeddings with their texts, and a small copy (first rows, re-written header).
fn embeddings(root: &Path) -> anyhow::Result<Vec<NpyPair>> {
    let npy_path = membound_tests::testdata("embeddings/minilm-5k.npy");
    let texts_path = membound_tests::testdata("embeddings/texts-5k.jsonl");
    let bytes =
        std::fs::read(&npy_path).with_context(|| format!("reading {}", npy_path.display()))?;
    let Some(header) = parse_npy_header(&bytes) else {
        bail!("{} has no 2-D .npy header", npy_path.display());
    };
    let rows = SMALL_NPY_ROWS.min(header.rows);
    let data_len = rows * header.dim * 4;
    let data = bytes
        .get(header.data_offset..header.data_offset + data_len)
        .with_context(|| format!("{} is shorter than its header says", npy_path.display()))?;
    let mut small = npy_header(&npy_dict(&rows.to_string(), &header.dim.to_string()));
    small.extend_from_slice(data);
    let small_npy = root.join(format!("minilm-{rows}.npy"));
    std::fs::write(&small_npy, &small)
        .with_context(|| format!("writing {}", small_npy.display()))?;

    let reader = BufReader::new(
        File::open(&texts_path).with_context(|| format!("opening {}", texts_path.display()))?,
    );
    let mut texts = String::new();
    for line in reader.lines().take(rows) {
        texts.push_str(&line?);
        texts.push('\n');
    }
    let small_texts = root.join(format!("texts-{rows}.jsonl"));
    std::fs::write(&small_texts, texts)
        .with_context(|| format!("writing {}", small_texts.display()))?;
    Ok(vec![
        NpyPair {
            npy: Seed::new(small_npy, Format::Npy),
            texts: Seed::new(small_texts, Format::Jsonl),
        },
        NpyPair {
            npy: Seed::new(npy_path, Format::Npy),
            texts: Seed::new(texts_path, Format::Jsonl),
        },
    ])
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
