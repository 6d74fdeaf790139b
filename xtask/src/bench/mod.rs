//! The orchestrator of `cargo xtask bench`.

use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

mod child;
mod machine;
mod report;
pub mod scenarios;

use report::{Cell, Kpi, Table};

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Small sizes (a smoke run in under two minutes; figures are not representative).
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON to this path.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the tables as Markdown to this path.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also run pandas, pyarrow and polars on the same files when python3 has them.
    #[arg(long)]
    peers: bool,
}

#[derive(Debug, Serialize)]
struct Results {
    machine: machine::Machine,
    mode: &'static str,
    tables: Vec<Table>,
    kpis: Vec<Kpi>,
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let machine = machine::Machine::detect();
    let mode = if args.quick { "quick" } else { "full" };
    println!("memkit bench ({mode}) | {}", machine.header());

    let steps = ["monitor-sample-cost", "monitor-overhead"];
    let bar = ProgressBar::new(steps.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    bar.set_message("monitor: sample cost");
    let sample = child::run("monitor-sample-cost", &[])?;
    bar.inc(1);
    bar.set_message("monitor: thread overhead");
    let rounds = if args.quick { "3000" } else { "30000" };
    let overhead = child::run("monitor-overhead", &["--rounds".into(), rounds.into()])?;
    bar.inc(1);
    bar.finish_and_clear();

    let mut monitor = Table::new("0. The monitor's own cost", &["Measure", "Value"]);
    monitor.row(
        "memory_stats(): one sample",
        vec![Cell::value(sample.f64("per_sample_us")?, "µs")],
    );
    monitor.row(
        "monitor thread at 10 ms: workload slowdown",
        vec![Cell::value(overhead.f64("overhead_percent")?, "%")],
    );
    monitor.note(format!(
        "sample cost: mean of 20,000 samples in one child process (peak RSS {:.1} MB, {:.2} s with start-up); overhead: best of three interleaved runs",
        sample.peak_rss_mb(),
        sample.wall.as_secs_f64()
    ));

    let mut memory = Table::new(
        "1. Memory usage reduction",
        &["Component", "Before", "After", "Reduction"],
    );
    for c in [
        "Large file loading",
        "DataFrame storage",
        "Cache storage",
        "Embedding cache",
    ] {
        memory.row(
            c,
            vec![
                Cell::not_measured("crate not landed"),
                Cell::text(""),
                Cell::text(""),
            ],
        );
    }
    let mut perf = Table::new(
        "2. Performance",
        &["Operation", "Before", "After", "Improvement"],
    );
    for c in [
        "File preview",
        "Cache hit",
        "Memory cleanup",
        "Leak detection",
    ] {
        perf.row(
            c,
            vec![
                Cell::not_measured("crate not landed"),
                Cell::text(""),
                Cell::text(""),
            ],
        );
    }
    let missing: Vec<(&str, String)> = [
        "Memory usage",
        "Cache hit rate",
        "Compression ratio",
        "File load time",
        "Memory cleanup",
    ]
    .into_iter()
    .map(|k| (k, "crate not landed".to_owned()))
    .collect();
    let kpis = Vec::new();
    let tables = vec![monitor, memory, perf, report::kpi_table(&kpis, &missing)];

    for t in &tables {
        print!("{}", t.to_text());
    }
    let results = Results {
        machine,
        mode,
        tables,
        kpis,
    };
    if let Some(path) = &args.json {
        write(path, &serde_json::to_string_pretty(&results)?)?;
    }
    if let Some(path) = &args.markdown {
        let mut md = format!("# memkit bench ({mode})\n\n{}\n", results.machine.header());
        for t in &results.tables {
            md.push_str(&t.to_markdown());
        }
        write(path, &md)?;
    }
    Ok(())
}

fn write(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
