//! `membound embeddings import|export|stats`: the embeddings cache (zcache-service) from the shell.
//!
//! - `import NPY --texts JSONL --model NAME --dir DIR [--precision f32|f16|int8] [--json]`
//!   stores a matrix with its texts and prints the cache key (with `--json`: `key`, `rows`, `dim`,
//!   `stored_bytes` and `raw_bytes` of the matrix, `min_cosine`, and more).
//! - `export KEY --out NPY --dir DIR [--texts-out JSONL]` writes the matrix back as `.npy`
//!   (bit-identical to the import for f32), atomically, replacing only a regular file.
//! - `stats --dir DIR [--json]` lists the entries with their precision and fidelity.
//!
//! `export` and `stats` open the cache read-only. Inputs must be regular files (a FIFO or
//! device cannot be read in bounded memory); the texts file may hold at most
//! [`zcache_service::MAX_TEXTS_BYTES`], one line per matrix row.
//!
//! `--redis URL` (or `MEMBOUND_REDIS_URL`, with `--redis-prefix`, see
//! [`RedisArgs`](super::cache::RedisArgs)) shares entries through Redis or Valkey: `import`
//! also writes the entry there (and waits up to 5 s for it to arrive before exiting, warning
//! when it did not: the local cache has it anyway), `export` finds there what the local
//! directory lacks (the directory may then be missing: a second machine needs no cache of its
//! own; it is still never written), and `stats` adds the shared tier's figures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use zcache_service::{
    CacheService, ModelInfo, Precision, TextsLimits, cache_key_for, data_hash_for, read_npy,
    read_texts_jsonl_with,
};

use super::cache::{RedisArgs, check_dir, finish_shared, shared_rows};
use crate::output::{check_output_target, one_line, write_atomically};

/// Arguments of `membound embeddings`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
    #[command(flatten)]
    redis: RedisArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Store a .npy matrix (float32, rows x dim) with its texts; prints the cache key.
    Import(ImportArgs),
    /// Write a stored matrix back as .npy.
    Export(ExportArgs),
    /// List the stored entries: precision, size, fidelity.
    Stats(StatsArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The matrix: a NumPy .npy file of little-endian float32, shape (rows, dim), C order (a
    /// regular file).
    npy: PathBuf,
    /// The texts: JSON Lines, line i is a JSON string (or an object with a "text" field) for row
    /// i (a regular file of at most 1 GiB, lines up to 64 MiB).
    #[arg(long)]
    texts: PathBuf,
    /// The model that produced the embeddings (part of the cache key).
    #[arg(long)]
    model: String,
    /// The cache directory.
    #[arg(long)]
    dir: PathBuf,
    /// Storage precision: f32 (lossless), f16 or int8.
    #[arg(long, default_value = "f32", value_parser = parse_precision)]
    precision: Precision,
    /// Maximum total size of the cache in GiB (least recently used entries are evicted).
    #[arg(long, default_value_t = 5.0)]
    max_size_gb: f64,
    /// Print one JSON object instead of the key alone.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// The cache key printed by `import`.
    key: String,
    /// Where to write the .npy file: a new path or a regular file, replaced atomically (a
    /// device, FIFO, symbolic link or directory there is refused).
    #[arg(long)]
    out: PathBuf,
    /// The cache directory (read, never written; with --redis it may be missing, and what it
    /// lacks comes from Redis).
    #[arg(long)]
    dir: PathBuf,
    /// Also write the texts as JSON Lines here (same rules as --out).
    #[arg(long)]
    texts_out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct StatsArgs {
    /// The cache directory.
    #[arg(long)]
    dir: PathBuf,
    /// Print the whole statistics as one JSON object.
    #[arg(long)]
    json: bool,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse()
        .map_err(|e: zcache_service::ServiceError| e.to_string())
}

/// What `import --json` prints: the contract fields first.
#[derive(serde::Serialize)]
struct ImportJson<'a> {
    key: &'a str,
    rows: u64,
    dim: u64,
    /// Stored bytes of the matrix (the texts and metadata are in `entry_bytes`).
    stored_bytes: u64,
    /// The matrix as float32.
    raw_bytes: u64,
    min_cosine: f64,
    mean_cosine: f64,
    precision: Precision,
    ratio: f64,
    texts_stored_bytes: u64,
    entry_bytes: u64,
    /// With `--redis`: the shared tier's figures after the write (bytes on the wire included).
    #[serde(skip_serializing_if = "Option::is_none")]
    shared: Option<zcache::SharedTierStats>,
}

/// Runs `membound embeddings`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let r = &args.redis;
    match args.command {
        Sub::Import(a) => import(a, r),
        Sub::Export(a) => export(a, r),
        Sub::Stats(a) => stats(a, r),
    }
    .map_err(|e| one_line(&e))
}

/// Opens an existing cache directory read-only (reading never creates, repairs or removes),
/// with the shared tier when `--redis` names one. With a shared tier and no directory at
/// `dir`, the service has no disk tier: everything comes from Redis.
fn open_existing(dir: &Path, redis: &RedisArgs) -> anyhow::Result<CacheService> {
    let mut builder = CacheService::builder().hot_tier(64 << 20).read_only(true);
    let missing = matches!(
        std::fs::symlink_metadata(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    );
    if !(missing && redis.enabled()) {
        check_dir(dir)?;
        builder = builder.cache_dir(dir);
    }
    if let Some(tier) = redis.tier() {
        builder = builder.shared_tier(tier);
    }
    builder
        .build()
        .with_context(|| format!("opening the cache in {}", dir.display()))
}

fn import(a: ImportArgs, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    if a.dir.exists() {
        check_dir(&a.dir)?;
    }
    let embeddings = read_npy(&a.npy)?;
    // More lines than rows is an error: stop there instead of reading the rest.
    let limits = TextsLimits::default().max_lines(embeddings.rows());
    let texts = read_texts_jsonl_with(&a.texts, limits)?;
    if texts.len() != embeddings.rows() {
        bail!(
            "{} has {} texts but {} has {} rows; they must match one to one",
            a.texts.display(),
            texts.len(),
            a.npy.display(),
            embeddings.rows()
        );
    }
    let mut builder = CacheService::builder()
        .cache_dir(&a.dir)
        .max_cache_size(mem_monitor::mb_to_bytes(a.max_size_gb * 1024.0).max(1))
        .hot_tier(0);
    if let Some(tier) = redis.tier() {
        builder = builder.shared_tier(tier);
    }
    let service = builder
        .build()
        .with_context(|| format!("opening the cache in {}", a.dir.display()))?;
    let model = ModelInfo::new(&a.model);
    let key = cache_key_for(&texts, &model);
    let report = service.save_embeddings(
        &key,
        &embeddings,
        &texts,
        &model,
        &data_hash_for(&texts),
        a.precision,
    )?;
    if !report.stored {
        bail!(
            "the entry ({} bytes) is larger than the whole cache ({} GiB); raise --max-size-gb",
            report.stored_bytes,
            a.max_size_gb
        );
    }
    // Before the process exits: the background queue carries the entry to Redis.
    finish_shared(service.compressed_cache());
    let mut out = std::io::stdout().lock();
    if a.json {
        let line = ImportJson {
            key: &key,
            rows: report.rows,
            dim: report.dim,
            stored_bytes: report.matrix_stored_bytes,
            raw_bytes: report.raw_bytes,
            min_cosine: report.fidelity.min_cosine,
            mean_cosine: report.fidelity.mean_cosine,
            precision: report.precision,
            ratio: report.matrix_ratio,
            texts_stored_bytes: report.texts_stored_bytes,
            entry_bytes: report.stored_bytes,
            shared: service.compressed_cache().shared_stats(),
        };
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{key}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn export(a: ExportArgs, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    // Refuse a bad target before reading anything.
    check_output_target(&a.out)?;
    if let Some(path) = &a.texts_out {
        check_output_target(path)?;
        if path == &a.out {
            bail!("{}: given as both --out and --texts-out", path.display());
        }
    }
    let service = open_existing(&a.dir, redis)?;
    let Some((embeddings, texts)) = service.get_cached_embeddings_fast(&a.key)? else {
        let shared = service
            .compressed_cache()
            .shared_stats()
            .map_or_else(String::new, |s| {
                format!(
                    " nor in the shared tier {} (prefix {}; {} damaged, {} torn, {} error(s), \
                     {} timeout(s), {} bypassed)",
                    s.endpoint, s.prefix, s.corrupt, s.torn, s.errors, s.timeouts, s.bypassed
                )
            });
        bail!(
            "no valid entry for key {:?} in {}{shared} (missing or damaged)",
            a.key,
            a.dir.display()
        );
    };
    write_atomically(&a.out, &[], |w| {
        zcache_service::npy::write_npy_to(w, embeddings.view())
    })?;
    if let Some(path) = &a.texts_out {
        let mut body = String::new();
        for t in &texts {
            body.push_str(&serde_json::to_string(t)?);
            body.push('\n');
        }
        // The matrix just written is an input now: the texts must not land on it.
        write_atomically(path, &[a.out.as_path()], |w| w.write_all(body.as_bytes()))?;
    }
    let precision = service
        .entry_meta(&a.key)
        .map_or_else(|| "?".to_owned(), |m| m.precision.to_string());
    eprintln!(
        "wrote {} x {} ({precision}) to {}",
        embeddings.rows(),
        embeddings.dim(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The library's precision note, in the CLI's words (flags, not Rust types).
const PRECISION_NOTE: &str = "the guide's 'Embedding Cache 800 MB -> 240 MB' (0.30 of raw) needs \
--precision int8 (~0.25 of raw, min cosine ~0.9999); lossless f32 stops near 0.84 of raw (the low \
bytes of a real embedding's floats are noise); --precision f16 gives ~0.42 (min cosine ~0.999999)";

fn stats(a: StatsArgs, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    check_dir(&a.dir)?;
    let service = open_existing(&a.dir, redis)?;
    let mut stats = service.get_enhanced_cache_stats();
    PRECISION_NOTE.clone_into(&mut stats.precision_note);
    let shared = service.compressed_cache().shared_stats();
    let mut out = std::io::stdout().lock();
    if a.json {
        let mut value = serde_json::to_value(&stats)?;
        if let (Some(obj), Some(s)) = (value.as_object_mut(), &shared) {
            obj.insert("shared".into(), serde_json::to_value(s)?);
        }
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<34} {:<24} {:>5} {:>7} {:>5} {:>7} {:>11} {:>10}",
        "key", "model", "prec", "rows", "dim", "ratio", "min cosine", "stored"
    )?;
    for e in &stats.entries {
        writeln!(
            out,
            "{:<34} {:<24} {:>5} {:>7} {:>5} {:>7.4} {:>11.7} {:>10}",
            e.key,
            e.model,
            e.precision,
            e.rows,
            e.dim,
            e.matrix_ratio,
            e.fidelity.min_cosine,
            mem_monitor::format_bytes(e.stored_bytes)
        )?;
    }
    writeln!(
        out,
        "{} entries, {} of {} ({:.1} %), embeddings ratio {:.4}, savings {:.1} MiB",
        stats.entry_count,
        mem_monitor::format_bytes(stats.stored_bytes),
        mem_monitor::format_bytes(stats.max_cache_bytes),
        stats.usage_percent,
        stats.embeddings_compression_ratio,
        stats.compression_savings_mb
    )?;
    writeln!(out, "note: {}", stats.precision_note)?;
    if let Some(s) = &shared {
        let rows = shared_rows(s);
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in &rows {
            writeln!(out, "{k:<width$}  {v}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_texts(path: &Path) -> anyhow::Result<Vec<String>> {
        Ok(zcache_service::read_texts_jsonl(path)?)
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn run_with(argv: &[&str]) -> anyhow::Result<ExitCode> {
        use clap::Parser;
        let cli = Cli::try_parse_from(std::iter::once("embeddings").chain(argv.iter().copied()))?;
        run(cli.args)
    }

    #[test]
    fn import_export_round_trip_and_missing_key_is_an_error() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let values: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
        let e = zcache_service::Embeddings::new(values, 4, 3)?;
        zcache_service::write_npy(p("in.npy"), &e)?;
        std::fs::write(p("t.jsonl"), "\"a\"\n\"b\"\n\"c\"\n\"d\"\n")?;
        let cache = p("cache");
        run_with(&[
            "import",
            &p("in.npy"),
            "--texts",
            &p("t.jsonl"),
            "--model",
            "m",
            "--dir",
            &cache,
        ])?;
        let texts: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let key = cache_key_for(&texts, &ModelInfo::new("m"));
        run_with(&[
            "export",
            &key,
            "--out",
            &p("out.npy"),
            "--dir",
            &cache,
            "--texts-out",
            &p("out.jsonl"),
        ])?;
        assert!(
            std::fs::read(p("out.npy"))? == std::fs::read(p("in.npy"))?,
            "f32 export is byte-identical"
        );
        assert_eq!(read_texts(Path::new(&p("out.jsonl")))?, texts);
        assert!(run_with(&["export", "nope", "--out", &p("x.npy"), "--dir", &cache]).is_err());
        assert!(run_with(&["stats", "--dir", &p("no-such-dir")]).is_err());
        assert!(
            run_with(&[
                "import",
                &p("in.npy"),
                "--texts",
                &p("t.jsonl"),
                "--model",
                "m",
                "--dir",
                &cache,
                "--precision",
                "f64"
            ])
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn texts_accept_strings_and_objects_and_name_bad_lines() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t.jsonl");
        std::fs::write(
            &path,
            "\"a\"\n{\"text\": \"b\", \"id\": 2}\n\"c \\u00e9\"\n",
        )?;
        assert_eq!(
            read_texts(&path)?,
            vec!["a".to_owned(), "b".to_owned(), "c é".to_owned()]
        );
        std::fs::write(&path, "\"a\"\n42\n")?;
        let err = format!("{:#}", read_texts(&path).expect_err("a number"));
        assert!(err.contains("line 2"), "{err}");
        Ok(())
    }
}
