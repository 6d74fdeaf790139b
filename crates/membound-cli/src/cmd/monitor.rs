//! `membound monitor [--pid PID] [--interval-ms N] [--count N] [--json]`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use mem_monitor::{MemoryMonitor, MemoryStats};

/// Arguments of `membound monitor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Watch this process (its resident and virtual memory) instead of `membound` itself; the
    /// system, cgroup and PSI figures are the machine's either way.
    #[arg(long)]
    pid: Option<u32>,
    /// Milliseconds between samples.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Stop after this many samples, at least 1 (default: run until interrupted).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// One line of `--json` output: the contract fields, then the rest of the sample, each once.
#[derive(serde::Serialize)]
struct JsonLine {
    pid: u32,
    process_mb: f64,
    system_used_percent: f64,
    cgroup_limit_mb: Option<f64>,
    psi_some_avg10: Option<f64>,
    level: mem_monitor::PressureLevel,
    timestamp: f64,
    process_rss_bytes: u64,
    process_virtual_bytes: u64,
    system_total_bytes: u64,
    system_available_bytes: u64,
    cgroup_limit_bytes: Option<u64>,
    cgroup_usage_bytes: Option<u64>,
    psi_full_avg10: Option<f64>,
}

impl JsonLine {
    fn new(pid: u32, s: &MemoryStats) -> Self {
        Self {
            pid,
            process_mb: s.process_mb(),
            system_used_percent: s.system_used_percent,
            cgroup_limit_mb: s.cgroup_limit_mb(),
            psi_some_avg10: s.psi_some_avg10,
            level: s.level,
            timestamp: s.timestamp,
            process_rss_bytes: s.process_rss_bytes,
            process_virtual_bytes: s.process_virtual_bytes,
            system_total_bytes: s.system_total_bytes,
            system_available_bytes: s.system_available_bytes,
            cgroup_limit_bytes: s.cgroup_limit_bytes,
            cgroup_usage_bytes: s.cgroup_usage_bytes,
            psi_full_avg10: s.psi_full_avg10,
        }
    }
}

/// Runs `membound monitor`.
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
    let pid = args.pid.unwrap_or_else(std::process::id);
    let mut taken = 0u64;
    loop {
        let mut stats = monitor.sample_now().context("sampling memory")?;
        if args.pid.is_some() {
            let Some(process) = mem_monitor::process_memory(pid) else {
                if taken == 0 {
                    anyhow::bail!(
                        "no process with pid {pid} is running (or its memory cannot be read)"
                    );
                }
                eprintln!("membound: process {pid} exited after {taken} samples");
                return Ok(ExitCode::SUCCESS);
            };
            stats.process_rss_bytes = process.rss_bytes;
            stats.process_virtual_bytes = process.virtual_bytes;
            stats.level = stats.classify(&monitor.thresholds());
        }
        if args.json {
            let line = JsonLine::new(pid, &stats);
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
