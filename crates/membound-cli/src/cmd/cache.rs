//! `membound cache stats|verify|optimize|clear --dir DIR [--json]`: inspect and maintain a zcache
//! disk directory.
//!
//! `stats` and `verify` only look: the directory is opened read-only and nothing in it changes
//! (`verify --repair` removes damaged and expired entries). `optimize` and `clear` remove files;
//! every removal that fails is reported and makes the exit code non-zero. Only regular files
//! are entries: a FIFO, device, directory or symbolic link under an entry's name is "foreign",
//! never opened, never removed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use zcache::{CacheStats, CompressedCache};

use crate::output::one_line;

/// Arguments of `membound cache`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Entries, sizes and compression of the directory's disk tier. Read-only: damaged, expired
    /// and oversized entries are counted, not removed.
    Stats(Common),
    /// Read and fully decode every entry; count good, damaged, expired, skipped (larger than
    /// --max-entry-mb) and foreign (not regular files) ones. Read-only unless --repair.
    Verify(VerifyArgs),
    /// Remove damaged and expired entries and enforce the disk budget.
    Optimize(OptimizeArgs),
    /// Remove every entry (files that are not regular files are left alone).
    Clear(Common),
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The cache directory.
    #[arg(long)]
    dir: PathBuf,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Largest entry read, in MiB: larger entries are skipped and left in place (never counted
    /// as damaged, never removed).
    #[arg(long, default_value_t = 4096.0)]
    max_entry_mb: f64,
}

#[derive(Debug, clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    common: Common,
    /// Remove the damaged and expired entries found (skipped and foreign files are kept).
    #[arg(long)]
    repair: bool,
}

#[derive(Debug, clap::Args)]
struct OptimizeArgs {
    #[command(flatten)]
    common: Common,
    /// Disk budget to enforce, in MiB (least recently used entries go first; default: none).
    #[arg(long)]
    max_disk_mb: Option<f64>,
}

/// `DIR: no such directory` / `DIR: not a directory`, before anything is opened.
pub(crate) fn check_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("{}: not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{}: no such directory", dir.display())
        }
        Err(e) => bail!("{}: {e}", dir.display()),
    }
}

fn open(
    common: &Common,
    max_disk_mb: Option<f64>,
    read_only: bool,
) -> anyhow::Result<CompressedCache> {
    check_dir(&common.dir)?;
    if !common.max_entry_mb.is_finite() || common.max_entry_mb <= 0.0 {
        bail!(
            "--max-entry-mb must be a positive number, got {}",
            common.max_entry_mb
        );
    }
    CompressedCache::builder()
        .max_memory(0)
        .enable_disk_cache(&common.dir)
        // Opening never evicts; only `optimize --max-disk-mb` enforces a budget.
        .max_disk(max_disk_mb.map_or(u64::MAX, mem_monitor::mb_to_bytes))
        .max_entry_bytes(mem_monitor::mb_to_bytes(common.max_entry_mb).max(1))
        .cleanup_interval(Duration::ZERO)
        .read_only(read_only)
        .build()
        .with_context(|| format!("opening cache directory {}", common.dir.display()))
}

/// Prints `value` as one JSON object (with `dir` added) or `table` as aligned rows.
fn emit(
    json: bool,
    dir: &Path,
    value: &impl Serialize,
    table: &[(&str, String)],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut value = serde_json::to_value(value)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("dir".into(), dir.display().to_string().into());
        }
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        let width = table.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        writeln!(out, "{:<width$}  {}", "directory", dir.display())?;
        for (k, v) in table {
            writeln!(out, "{k:<width$}  {v}")?;
        }
    }
    Ok(())
}

/// The error for removals that failed, after the report was printed.
fn removal_failures(dir: &Path, stats: &CacheStats) -> anyhow::Result<ExitCode> {
    if stats.remove_failures == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    Err(anyhow!(
        "{}: could not remove {} file(s); first: {}",
        dir.display(),
        stats.remove_failures,
        stats.first_remove_error.as_deref().unwrap_or("(unknown)")
    ))
}

/// What `verify` prints.
#[derive(Debug, Serialize)]
struct VerifyOutput {
    good: u64,
    corrupt: u64,
    expired: u64,
    skipped: u64,
    foreign: u64,
    repaired: bool,
    removed: u64,
    remove_failed: u64,
}

/// What `clear` prints.
#[derive(Debug, Serialize)]
struct ClearOutput {
    removed: u64,
    remove_failed: u64,
    foreign: u64,
}

/// Runs `membound cache`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Stats(c) => stats(&c),
        Action::Verify(v) => verify(&v),
        Action::Optimize(o) => optimize(&o),
        Action::Clear(c) => clear(&c),
    }
    .map_err(|e| one_line(&e))
}

fn stats(c: &Common) -> anyhow::Result<ExitCode> {
    let s = open(c, None, true)?.get_stats();
    emit(
        c.json,
        &c.dir,
        &s,
        &[
            ("entries", s.disk_entries.to_string()),
            ("stored", mem_monitor::format_bytes(s.disk_bytes)),
            ("raw", mem_monitor::format_bytes(s.disk_raw_bytes)),
            ("compression ratio", format!("{:.3}", s.compression_ratio)),
            ("savings", format!("{:.1} MB", s.compression_savings_mb)),
            ("damaged (left in place)", s.corrupt_entries.to_string()),
            ("expired (left in place)", s.expirations.to_string()),
            (
                "skipped (over --max-entry-mb)",
                s.skipped_entries.to_string(),
            ),
            ("foreign (not regular files)", s.foreign_files.to_string()),
        ],
    )?;
    Ok(ExitCode::SUCCESS)
}

fn verify(v: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let c = &v.common;
    let context = || format!("verifying {}", c.dir.display());
    // One read-only pass finds everything; a repair pass (only when needed) removes.
    let r = open(c, None, true)?.verify().with_context(context)?;
    let mut out = VerifyOutput {
        good: r.good,
        corrupt: r.corrupt,
        expired: r.expired,
        skipped: r.skipped,
        foreign: r.foreign,
        repaired: v.repair,
        removed: 0,
        remove_failed: 0,
    };
    let mut after = None;
    if v.repair && r.corrupt + r.expired > 0 {
        let cache = open(c, None, false)?;
        cache.verify().with_context(context)?;
        let s = cache.get_stats();
        (out.removed, out.remove_failed) = (s.removed_files, s.remove_failures);
        after = Some(s);
    }
    let fate = if v.repair { "removed" } else { "left in place" };
    let (damaged, expired) = (format!("damaged ({fate})"), format!("expired ({fate})"));
    emit(
        c.json,
        &c.dir,
        &out,
        &[
            ("good", out.good.to_string()),
            (damaged.as_str(), out.corrupt.to_string()),
            (expired.as_str(), out.expired.to_string()),
            ("skipped (over --max-entry-mb)", out.skipped.to_string()),
            ("foreign (not regular files)", out.foreign.to_string()),
            ("files removed", out.removed.to_string()),
        ],
    )?;
    after.map_or(Ok(ExitCode::SUCCESS), |s| removal_failures(&c.dir, &s))
}

fn optimize(o: &OptimizeArgs) -> anyhow::Result<ExitCode> {
    if let Some(mb) = o.max_disk_mb
        && (!mb.is_finite() || mb < 0.0)
    {
        bail!("--max-disk-mb must be a number >= 0, got {mb}");
    }
    let cache = open(&o.common, o.max_disk_mb, false)?;
    let r = cache.optimize();
    let s = cache.get_stats();
    emit(
        o.common.json,
        &o.common.dir,
        &r,
        &[
            ("expired removed", r.expired_removed.to_string()),
            ("evicted for the budget", r.disk_evicted.to_string()),
            ("files removed", s.removed_files.to_string()),
            ("removals failed", s.remove_failures.to_string()),
            ("entries left", r.disk_entries.to_string()),
            ("time", format!("{:.1} ms", r.elapsed_ms)),
        ],
    )?;
    removal_failures(&o.common.dir, &s)
}

fn clear(c: &Common) -> anyhow::Result<ExitCode> {
    let cache = open(c, None, false)?;
    // A failure is in the stats (counted, first error kept); report what really happened.
    let cleared = cache.clear();
    let s = cache.get_stats();
    let out = ClearOutput {
        removed: s.removed_files,
        remove_failed: s.remove_failures,
        foreign: s.foreign_files,
    };
    emit(
        c.json,
        &c.dir,
        &out,
        &[
            ("removed", out.removed.to_string()),
            ("removals failed", out.remove_failed.to_string()),
            ("foreign (not regular files, kept)", out.foreign.to_string()),
        ],
    )?;
    match cleared {
        Err(zcache::CacheError::RemoveFailed { .. }) | Ok(_) => removal_failures(&c.dir, &s),
        Err(e) => Err(e).with_context(|| format!("clearing {}", c.dir.display())),
    }
}
