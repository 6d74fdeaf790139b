//! `memkit monitor [--interval-ms N] [--count N] [--json]`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mem_monitor::{MemoryMonitor, MemoryStats};

/// Arguments of `memkit monitor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Milliseconds between samples.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Stop after this many samples (default: run until interrupted).
    #[arg(long)]
    count: Option<u64>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// One line of `--json` output: the contract fields first, then the whole sample.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    process_mb: f64,
    system_used_percent: f64,
    cgroup_limit_mb: Option<f64>,
    psi_some_avg10: Option<f64>,
    level: mem_monitor::PressureLevel,
    #[serde(flatten)]
    stats: &'a MemoryStats,
}

/// Runs `memkit monitor`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let monitor = MemoryMonitor::builder()
        .interval(Duration::from_millis(args.interval_ms))
        .history_capacity(1)
        .build()?;
    let mut out = std::io::stdout().lock();
    if !args.json {
        writeln!(
            out,
            "{:>12} {:>9} {:>14} {:>9} {:>7}",
            "process MB", "system %", "cgroup limit", "PSI some", "level"
        )?;
    }
    let mut taken = 0u64;
    loop {
        let stats = monitor.sample_now().context("sampling memory")?;
        if args.json {
            let line = JsonLine {
                process_mb: stats.process_mb(),
                system_used_percent: stats.system_used_percent,
                cgroup_limit_mb: stats.cgroup_limit_mb(),
                psi_some_avg10: stats.psi_some_avg10,
                level: stats.level,
                stats: &stats,
            };
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else {
            let limit = stats
                .cgroup_limit_mb()
                .map_or_else(|| "none".to_owned(), |mb| format!("{mb:.0} MB"));
            let psi = stats
                .psi_some_avg10
                .map_or_else(|| "n/a".to_owned(), |p| format!("{p:.2}"));
            writeln!(
                out,
                "{:>12.1} {:>9.1} {:>14} {:>9} {:>7}",
                stats.process_mb(),
                stats.system_used_percent,
                limit,
                psi,
                stats.level
            )?;
        }
        out.flush()?;
        taken += 1;
        if args.count.is_some_and(|c| taken >= c) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(args.interval_ms));
    }
}
