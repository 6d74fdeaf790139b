//! `cargo xtask fuzz`: mutation fuzzing of the `membound` CLI as a child process.
//!
//! A deterministic seed corpus (conformance files, generated tables, embeddings, a cache
//! directory) is mutated case by case from `--seed` and the case index; each mutant is run
//! through `stream`, `preview`, `embeddings import` or `cache verify` under a timeout and an RSS
//! cap, and every case that panics, hangs, breaches the cap, dies of a signal or fails without
//! an `error:` line is kept under `target/fuzz/<class>/`.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

mod classify;
mod corpus;
mod files;
mod findings;
mod mutate;
mod plan;
mod rng;
mod run;
mod summary;

use classify::Class;
use corpus::Corpus;
use findings::RunInfo;
use run::Limits;
use summary::{CaseResult, Summary};

/// A progress line every this many cases.
const PROGRESS_EVERY: u64 = 500;
/// Default `--timeout-ms`.
const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default `--rss-cap-mb`.
const DEFAULT_RSS_CAP_MB: u64 = 512;

/// Options of `cargo xtask fuzz`.
#[derive(Debug, clap::Args)]
pub struct FuzzArgs {
    /// How many cases to run.
    #[arg(long, default_value_t = 1000)]
    cases: u64,
    /// The seed of the mutations: the same seed and case index give the same input.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Wall-clock limit of one case, in milliseconds (then its process group is killed: HANG).
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_MS)]
    timeout_ms: u64,
    /// Resident set cap of one case, in MB (then it is killed, or its peak exceeds it: MEMORY).
    #[arg(long, default_value_t = DEFAULT_RSS_CAP_MB)]
    rss_cap_mb: u64,
    /// The membound binary to attack (default: build and use target/release/membound).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Build and attack the debug binary (target/debug/membound) instead of the release one.
    #[arg(long, conflicts_with = "bin")]
    debug: bool,
    /// Re-run only case K of this seed and print everything about it.
    #[arg(long, value_name = "K")]
    case: Option<u64>,
    /// Worker threads, each running one child at a time.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    jobs: u64,
}

/// Runs `cargo xtask fuzz`.
pub fn run(args: &FuzzArgs) -> anyhow::Result<()> {
    let bin = binary(args)?;
    let info = RunInfo {
        bin,
        seed: args.seed,
        root: membound_tests::workspace_root().join("target").join("fuzz"),
        replay_flags: replay_flags(args),
    };
    let limits = Limits {
        timeout: Duration::from_millis(args.timeout_ms),
        rss_cap_bytes: args.rss_cap_mb.saturating_mul(1024 * 1024),
    };
    let corpus = Corpus::build(&info.bin).context("building the seed corpus")?;
    println!(
        "fuzz: seed {}, {} seeds ({} tables, {} embeddings pairs, cache {}), binary {}",
        args.seed,
        corpus.tables.len() + corpus.npy.len() * 2 + usize::from(corpus.cache.is_some()),
        corpus.tables.len(),
        corpus.npy.len(),
        if corpus.cache.is_some() { "yes" } else { "no" },
        info.bin.display()
    );
    if let Some(k) = args.case {
        return replay(&corpus, &info, limits, k);
    }
    for class in Class::ALL {
        let dir = info.root.join(class.dir_name());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
    }
    println!(
        "fuzz: {} cases on {} workers, timeout {} ms, RSS cap {} MB; failures go to {}",
        args.cases,
        args.jobs,
        args.timeout_ms,
        args.rss_cap_mb,
        info.root.display()
    );
    let start = Instant::now();
    let summary = drive(&corpus, &info, limits, args)?;
    let elapsed = start.elapsed();
    print!("{}", summary.render());
    println!(
        "\n{} cases in {:.1} s: {:.0} cases/min (harness peak RSS {:.0} MB). Seed {}; replay \
         one case with `cargo xtask fuzz --seed {} --case K{}`.",
        summary.done(),
        elapsed.as_secs_f64(),
        summary::per_minute(summary.done(), elapsed),
        run::harness_peak() as f64 / (1024.0 * 1024.0),
        args.seed,
        args.seed,
        info.replay_flags
    );
    match summary.failures() {
        0 => Ok(()),
        n => bail!(
            "{n} of {} cases failed; inputs kept under {}",
            summary.done(),
            info.root.display()
        ),
    }
}

/// Runs the cases on `args.jobs` workers and gathers their results, printing progress.
fn drive(
    corpus: &Corpus,
    info: &RunInfo,
    limits: Limits,
    args: &FuzzArgs,
) -> anyhow::Result<Summary> {
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<anyhow::Result<CaseResult>>();
    let start = Instant::now();
    let mut summary = Summary::default();
    let mut error = None;
    std::thread::scope(|s| {
        for worker in 0..args.jobs {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            let scratch = corpus.dir.path().join(format!("worker-{worker}"));
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= args.cases {
                        break;
                    }
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        run_case(corpus, info, limits, index, &scratch)
                    }))
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the harness panicked")))
                    .with_context(|| format!("case {index}"));
                    if tx.send(result).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for result in rx {
            match result {
                Ok(r) => {
                    summary.add(r);
                    if summary.done() % PROGRESS_EVERY == 0 {
                        println!(
                            "fuzz: {}",
                            summary.progress_line(args.cases, start.elapsed())
                        );
                    }
                }
                Err(e) => {
                    // A harness failure (not a finding): stop the workers and report it.
                    stop.store(true, Ordering::Relaxed);
                    error.get_or_insert(e);
                }
            }
        }
    });
    match error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// Prepares, runs and classifies one case; keeps its inputs when it fails.
fn run_case(
    corpus: &Corpus,
    info: &RunInfo,
    limits: Limits,
    index: u64,
    scratch: &Path,
) -> anyhow::Result<CaseResult> {
    let case = plan::prepare(corpus, info.seed, index, scratch)?;
    let outcome = run::run(&info.bin, &case.args, limits)?;
    let class = classify::classify(&outcome, limits.rss_cap_bytes);
    let panic = (class == Class::Panic)
        .then(|| classify::panic_info(&outcome.stderr))
        .flatten();
    let kept = if class == Class::Ok {
        None
    } else {
        Some(findings::keep(info, &case, &outcome, class)?)
    };
    let first_line = outcome
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no stderr)");
    let note = format!(
        "{} on {}: {}, {} ms, peak RSS {}; {}",
        case.command.label(),
        case.seed_name,
        outcome.describe_status(),
        outcome.wall.as_millis(),
        outcome.describe_peak(),
        truncate(first_line, 160)
    );
    Ok(CaseResult {
        index,
        command: case.command,
        class,
        panic,
        kept,
        note,
    })
}

/// Re-runs case `k` alone and prints its command, mutations, outcome and output.
fn replay(corpus: &Corpus, info: &RunInfo, limits: Limits, k: u64) -> anyhow::Result<()> {
    let scratch = corpus.dir.path().join("replay");
    let case = plan::prepare(corpus, info.seed, k, &scratch)?;
    let outcome = run::run(&info.bin, &case.args, limits)?;
    let class = classify::classify(&outcome, limits.rss_cap_bytes);
    println!("case {k} (seed {}): {}", info.seed, class.name());
    println!("command: {}", findings::shell_line(&info.bin, &case.args));
    for m in &case.mutations {
        println!("  mutation: {m}");
    }
    println!(
        "status: {}, {} ms, peak RSS {}",
        outcome.describe_status(),
        outcome.wall.as_millis(),
        outcome.describe_peak()
    );
    println!("--- stdout (head)\n{}", truncate(&outcome.stdout, 2000));
    println!("--- stderr\n{}", outcome.stderr);
    if class == Class::Ok {
        return Ok(());
    }
    let kept = findings::keep(info, &case, &outcome, class)?;
    bail!(
        "case {k} is {}; input kept at {}",
        class.name(),
        kept.display()
    )
}

/// The options of this run that a `--case` replay must repeat.
fn replay_flags(args: &FuzzArgs) -> String {
    let mut flags = String::new();
    if args.timeout_ms != DEFAULT_TIMEOUT_MS {
        flags.push_str(&format!(" --timeout-ms {}", args.timeout_ms));
    }
    if args.rss_cap_mb != DEFAULT_RSS_CAP_MB {
        flags.push_str(&format!(" --rss-cap-mb {}", args.rss_cap_mb));
    }
    if let Some(bin) = &args.bin {
        flags.push_str(&format!(" --bin {}", bin.display()));
    }
    if args.debug {
        flags.push_str(" --debug");
    }
    flags
}

/// The first `max` bytes of `s` (on a character boundary), with "..." when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s.get(..end).unwrap_or(""))
}

/// The CLI to attack: `--bin`, or `membound-cli` built now (a no-op when it is up to date).
fn binary(args: &FuzzArgs) -> anyhow::Result<PathBuf> {
    if let Some(bin) = &args.bin {
        if !bin.is_file() {
            bail!("--bin {} is not a file", bin.display());
        }
        return std::path::absolute(bin).with_context(|| format!("resolving {}", bin.display()));
    }
    let root = membound_tests::workspace_root();
    let profile = if args.debug { "debug" } else { "release" };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .current_dir(&root)
        .args(["build", "-p", "membound-cli"]);
    if !args.debug {
        build.arg("--release");
    }
    println!("fuzz: building membound-cli ({profile})");
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p membound-cli ({profile}) failed: {status}");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join(profile).join("membound");
    if !bin.is_file() {
        bail!("cargo built membound-cli but {} is missing", bin.display());
    }
    Ok(bin)
}

/// A warning for the person running the harness.
fn warn(message: &str) {
    eprintln!("warning: {message}");
}
