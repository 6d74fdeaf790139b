//! `memkit cache stats|verify|optimize|clear --dir DIR [--json]`: inspect and maintain a zcache
//! disk directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use zcache::CompressedCache;

/// Arguments of `memkit cache`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Entries, sizes and compression of the directory's disk tier.
    Stats(Common),
    /// Read and fully decode every entry; corrupt and expired entries are removed and counted.
    Verify(Common),
    /// Purge expired entries and enforce the disk budget.
    Optimize(OptimizeArgs),
    /// Remove every entry.
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
    /// Largest entry accepted when reading, in MiB (entries declaring more are treated as corrupt).
    #[arg(long, default_value_t = 4096.0)]
    max_entry_mb: f64,
}

#[derive(Debug, clap::Args)]
struct OptimizeArgs {
    #[command(flatten)]
    common: Common,
    /// Disk budget to enforce, in MiB (least recently used entries go first; default: none).
    #[arg(long)]
    max_disk_mb: Option<f64>,
}

fn open(common: &Common, max_disk_mb: Option<f64>) -> anyhow::Result<CompressedCache> {
    if !common.dir.is_dir() {
        bail!(
            "cache directory {} does not exist or is not a directory",
            common.dir.display()
        );
    }
    if !common.max_entry_mb.is_finite() || common.max_entry_mb <= 0.0 {
        bail!(
            "--max-entry-mb must be a positive number, got {}",
            common.max_entry_mb
        );
    }
    CompressedCache::builder()
        .max_memory_mb(0.0)
        .enable_disk_cache(&common.dir)
        // Opening never evicts; only `optimize --max-disk-mb` enforces a budget.
        .max_disk_mb(max_disk_mb.unwrap_or(1e12))
        .max_entry_bytes(mem_monitor::mb_to_bytes(common.max_entry_mb).max(1))
        .cleanup_interval(Duration::ZERO)
        .build()
        .with_context(|| format!("opening cache directory {}", common.dir.display()))
}

fn emit(json: bool, value: &serde_json::Value, table: &[(&str, String)]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
    } else {
        let width = table.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in table {
            writeln!(out, "{k:<width$}  {v}")?;
        }
    }
    Ok(())
}

fn dir_str(dir: &Path) -> String {
    dir.display().to_string()
}

/// Runs `memkit cache`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        Action::Stats(c) => {
            let cache = open(&c, None)?;
            let s = cache.get_stats();
            let mut value = serde_json::to_value(&s)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("dir".into(), dir_str(&c.dir).into());
            }
            emit(
                c.json,
                &value,
                &[
                    ("directory", dir_str(&c.dir)),
                    ("entries", s.disk_entries.to_string()),
                    ("stored", mem_monitor::format_bytes(s.disk_bytes)),
                    ("raw", mem_monitor::format_bytes(s.disk_raw_bytes)),
                    ("compression ratio", format!("{:.3}", s.compression_ratio)),
                    ("savings", format!("{:.1} MB", s.compression_savings_mb)),
                    ("removed on open (corrupt)", s.corrupt_entries.to_string()),
                    ("removed on open (expired)", s.expirations.to_string()),
                ],
            )?;
        }
        Action::Verify(c) => {
            let cache = open(&c, None)?;
            // Entries already damaged beyond their header are caught while opening.
            let on_open = cache.get_stats();
            let r = cache
                .verify()
                .with_context(|| format!("verifying {}", c.dir.display()))?;
            let corrupt = r.corrupt + on_open.corrupt_entries;
            let expired = r.expired + on_open.expirations;
            emit(
                c.json,
                &serde_json::json!({ "dir": dir_str(&c.dir), "good": r.good, "corrupt": corrupt, "expired": expired }),
                &[
                    ("directory", dir_str(&c.dir)),
                    ("good", r.good.to_string()),
                    ("corrupt (removed)", corrupt.to_string()),
                    ("expired (removed)", expired.to_string()),
                ],
            )?;
        }
        Action::Optimize(o) => {
            if let Some(mb) = o.max_disk_mb
                && (!mb.is_finite() || mb < 0.0)
            {
                bail!("--max-disk-mb must be a number >= 0, got {mb}");
            }
            let cache = open(&o.common, o.max_disk_mb)?;
            let r = cache.optimize();
            let mut value = serde_json::to_value(&r)?;
            if let Some(obj) = value.as_object_mut() {
                obj.insert("dir".into(), dir_str(&o.common.dir).into());
            }
            emit(
                o.common.json,
                &value,
                &[
                    ("directory", dir_str(&o.common.dir)),
                    ("expired removed", r.expired_removed.to_string()),
                    ("evicted for the budget", r.disk_evicted.to_string()),
                    ("entries left", r.disk_entries.to_string()),
                    ("time", format!("{:.1} ms", r.elapsed_ms)),
                ],
            )?;
        }
        Action::Clear(c) => {
            let cache = open(&c, None)?;
            let before = cache.get_stats().disk_entries;
            cache
                .clear()
                .with_context(|| format!("clearing {}", c.dir.display()))?;
            emit(
                c.json,
                &serde_json::json!({ "dir": dir_str(&c.dir), "removed": before }),
                &[
                    ("directory", dir_str(&c.dir)),
                    ("removed", before.to_string()),
                ],
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
