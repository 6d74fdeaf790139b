//! `membound cache stats|verify|optimize|clear --dir DIR [--json] [--redis URL]`: inspect and
//! maintain a zcache disk directory.
//!
//! `stats` and `verify` only look: the directory is opened read-only and nothing in it changes
//! (`verify --repair` removes damaged and expired entries). `optimize` and `clear` remove files;
//! every removal that fails is reported and makes the exit code non-zero. Only regular files
//! are entries: a FIFO, device, directory or symbolic link under an entry's name is "foreign",
//! never opened, never removed.
//!
//! `--redis URL` (or `MEMBOUND_REDIS_URL`) attaches the shared tier on Redis or Valkey (see
//! [`RedisArgs`], also used by `membound embeddings`): every command then reports the shared
//! tier's figures (endpoint with the password as `***`, hits, misses and why, errors,
//! timeouts, the circuit breaker, writes, the queue, bytes on the wire). The maintenance
//! commands act on the local directory only: Redis keeps its copies (its own `maxmemory`
//! policy evicts them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use zcache::{CacheStats, CompressedCache, RedisTier, SharedTierStats};

use crate::output::one_line;

/// Arguments of `membound cache`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    redis: RedisArgs,
}

/// The shared tier's flags, global to `membound cache` and `membound embeddings`.
#[derive(Clone, clap::Args)]
pub(crate) struct RedisArgs {
    /// Share entries through Redis or Valkey after the local memory and disk tiers:
    /// redis://[user][:password@]host[:port][/db] (also valkey://, unix:///path.sock). The
    /// password is never printed (it shows as ***); prefer the environment variable to keep it
    /// out of the shell's history and the process list.
    #[arg(
        long = "redis",
        value_name = "URL",
        global = true,
        env = "MEMBOUND_REDIS_URL",
        hide_env_values = true
    )]
    url: Option<String>,
    /// The namespace of the keys in Redis (every key is PREFIX:<hash>): caches with different
    /// prefixes on one server never see each other's entries.
    #[arg(
        long,
        value_name = "PREFIX",
        global = true,
        default_value = "membound",
        env = "MEMBOUND_REDIS_PREFIX"
    )]
    redis_prefix: String,
    /// How long one request to Redis may take, connecting included, in milliseconds (large
    /// values get more at 100 MB/s); past it the request is a counted timeout, never an error.
    #[arg(
        long,
        value_name = "MS",
        global = true,
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000)
    )]
    redis_timeout_ms: u64,
}

impl std::fmt::Debug for RedisArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisArgs")
            .field("url", &self.url.as_deref().map(zcache::redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .finish()
    }
}

/// How long a command waits, before it exits, for its writes to reach Redis.
pub(crate) const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

impl RedisArgs {
    /// The tier the flags describe, `None` without a URL (an empty one counts as none).
    pub(crate) fn tier(&self) -> Option<RedisTier> {
        let url = self.url.as_deref().filter(|u| !u.trim().is_empty())?;
        Some(
            RedisTier::new(url)
                .prefix(self.redis_prefix.as_str())
                .timeout(Duration::from_millis(self.redis_timeout_ms)),
        )
    }

    /// True when a URL was given.
    pub(crate) fn enabled(&self) -> bool {
        self.url.as_deref().is_some_and(|u| !u.trim().is_empty())
    }
}

/// Waits (at most [`SYNC_TIMEOUT`]) for the writes queued for the shared tier, then warns on
/// stderr about those that did not reach it: the local cache has them, so this is never an
/// error. Nothing happens without a shared tier.
pub(crate) fn finish_shared(cache: &CompressedCache) {
    let Some(before) = cache.shared_stats() else {
        return;
    };
    let synced = cache.sync_shared(SYNC_TIMEOUT);
    let s = cache.shared_stats().unwrap_or(before);
    if !synced {
        eprintln!(
            "warning: shared tier {}: {} write(s) ({}) still queued after {} s; they are written \
             while the command exits, or dropped if Redis stays unreachable",
            s.endpoint,
            s.queued,
            mem_monitor::format_bytes(s.queued_bytes),
            SYNC_TIMEOUT.as_secs()
        );
    }
    if s.writes_dropped + s.write_failures > 0 {
        eprintln!(
            "warning: shared tier {}: {} write(s) did not reach Redis ({} dropped, {} failed; \
             {} error(s), {} timeout(s)); the local cache has them",
            s.endpoint,
            s.writes_dropped + s.write_failures,
            s.writes_dropped,
            s.write_failures,
            s.errors,
            s.timeouts
        );
    }
}

/// The shared tier's figures as table rows.
pub(crate) fn shared_rows(s: &SharedTierStats) -> Vec<(&'static str, String)> {
    let state = if s.breaker_open {
        "bypassed (circuit breaker open: unreachable or failing)"
    } else if s.errors + s.timeouts > 0 {
        "reachable (with faults, see below)"
    } else {
        "reachable"
    };
    let bytes = mem_monitor::format_bytes;
    vec![
        ("shared tier", s.endpoint.clone()),
        ("shared prefix", s.prefix.clone()),
        ("shared state", state.to_owned()),
        ("shared hits", s.hits.to_string()),
        (
            "shared misses",
            format!(
                "{} (torn {}, damaged {}, too large {}, unreadable {}, bypassed {})",
                s.misses, s.torn, s.corrupt, s.too_large, s.unreadable, s.bypassed
            ),
        ),
        ("shared errors", s.errors.to_string()),
        ("shared timeouts", s.timeouts.to_string()),
        ("shared breaker opened", s.breaker_opened.to_string()),
        (
            "shared writes",
            format!(
                "{} ({} chunked; {} dropped, {} failed; {} removals)",
                s.writes, s.chunked_writes, s.writes_dropped, s.write_failures, s.removes
            ),
        ),
        (
            "shared write mode",
            if s.write_through {
                "write-through"
            } else {
                "background queue"
            }
            .to_owned(),
        ),
        (
            "shared queue",
            format!(
                "{} op(s), {} of {}",
                s.queued,
                bytes(s.queued_bytes),
                bytes(s.queue_limit_bytes)
            ),
        ),
        ("shared bytes read", bytes(s.bytes_read)),
        ("shared bytes written", bytes(s.bytes_written)),
    ]
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
    /// Remove every entry (files that are not regular files are left alone; a shared tier on
    /// Redis keeps its copies).
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
    redis: &RedisArgs,
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
    let mut builder = CompressedCache::builder();
    if let Some(tier) = redis.tier() {
        builder = builder.shared(tier);
    }
    builder
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

/// Prints `value` as one JSON object (with `dir` added, and `shared` when the cache has a
/// shared tier) or `table` as aligned rows (then the shared tier's rows).
fn emit(
    json: bool,
    dir: &Path,
    cache: &CompressedCache,
    value: &impl Serialize,
    table: &[(&str, String)],
) -> anyhow::Result<()> {
    let shared = cache.shared_stats();
    let mut out = std::io::stdout().lock();
    if json {
        let mut value = serde_json::to_value(value)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("dir".into(), dir.display().to_string().into());
            if let Some(s) = &shared {
                obj.insert("shared".into(), serde_json::to_value(s)?);
            }
        }
        serde_json::to_writer(&mut out, &value)?;
        writeln!(out)?;
    } else {
        let mut rows: Vec<(&str, String)> = table.to_vec();
        rows.extend(shared.as_ref().map(shared_rows).unwrap_or_default());
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        writeln!(out, "{:<width$}  {}", "directory", dir.display())?;
        for (k, v) in &rows {
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
    let r = &args.redis;
    match args.action {
        Action::Stats(c) => stats(&c, r),
        Action::Verify(v) => verify(&v, r),
        Action::Optimize(o) => optimize(&o, r),
        Action::Clear(c) => clear(&c, r),
    }
    .map_err(|e| one_line(&e))
}

fn stats(c: &Common, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    let cache = open(c, redis, None, true)?;
    let s = cache.get_stats();
    emit(
        c.json,
        &c.dir,
        &cache,
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

fn verify(v: &VerifyArgs, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    let c = &v.common;
    let context = || format!("verifying {}", c.dir.display());
    // One read-only pass finds everything; a repair pass (only when needed) removes.
    let looked = open(c, redis, None, true)?;
    let r = looked.verify().with_context(context)?;
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
        let cache = open(c, redis, None, false)?;
        cache.verify().with_context(context)?;
        let s = cache.get_stats();
        (out.removed, out.remove_failed) = (s.removed_files, s.remove_failures);
        finish_shared(&cache);
        after = Some(s);
    }
    let fate = if v.repair { "removed" } else { "left in place" };
    let (damaged, expired) = (format!("damaged ({fate})"), format!("expired ({fate})"));
    emit(
        c.json,
        &c.dir,
        &looked,
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

fn optimize(o: &OptimizeArgs, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    if let Some(mb) = o.max_disk_mb
        && (!mb.is_finite() || mb < 0.0)
    {
        bail!("--max-disk-mb must be a number >= 0, got {mb}");
    }
    let cache = open(&o.common, redis, o.max_disk_mb, false)?;
    let r = cache.optimize();
    let s = cache.get_stats();
    finish_shared(&cache);
    emit(
        o.common.json,
        &o.common.dir,
        &cache,
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

fn clear(c: &Common, redis: &RedisArgs) -> anyhow::Result<ExitCode> {
    let cache = open(c, redis, None, false)?;
    // A failure is in the stats (counted, first error kept); report what really happened.
    let cleared = cache.clear();
    let s = cache.get_stats();
    finish_shared(&cache);
    let out = ClearOutput {
        removed: s.removed_files,
        remove_failed: s.remove_failures,
        foreign: s.foreign_files,
    };
    emit(
        c.json,
        &c.dir,
        &cache,
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
