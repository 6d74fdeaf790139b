//! The orchestrator of `cargo xtask bench`: data, scenarios in child processes, tables.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

pub(crate) mod child;
pub mod data;
mod machine;
mod peers;
mod report;
pub mod scenarios;
mod sections;

use report::{Kpi, Table};

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Small sizes (a smoke run in under two minutes; figures are not representative).
    #[arg(long)]
    quick: bool,
    /// Size of the generated CSV in MB (default 1024, or 16 with --quick).
    #[arg(long)]
    csv_mb: Option<u64>,
    /// Also write the results as JSON to this path.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write the tables as Markdown to this path.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also run pandas, pyarrow and polars on the same files when python3 has them.
    #[arg(long)]
    peers: bool,
    /// Where to generate the data (default: the system's temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Results {
    machine: machine::Machine,
    mode: &'static str,
    csv_bytes: u64,
    csv_rows: u64,
    tables: Vec<Table>,
    kpis: Vec<Kpi>,
    failures: Vec<String>,
}

/// Runs scenarios with a progress bar and keeps failures instead of stopping at the first.
pub struct Runner {
    bar: ProgressBar,
    pub quick: bool,
    pub failures: Vec<String>,
}

impl Runner {
    fn new(steps: u64, quick: bool) -> Self {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            bar,
            quick,
            failures: Vec::new(),
        }
    }

    /// Runs one scenario child; on failure records why and returns `None`.
    pub fn run<S: scenarios::RunScenario>(
        &mut self,
        label: &str,
        scenario: S,
    ) -> Option<child::ChildRun<S::Output>> {
        self.bar.set_message(label.to_owned());
        let result = child::run(scenario);
        self.bar.inc(1);
        match result {
            Ok(run) => Some(run),
            Err(e) => {
                self.bar
                    .suspend(|| eprintln!("scenario {label} failed: {e:#}"));
                self.failures.push(format!("{label}: {e:#}"));
                None
            }
        }
    }

    pub fn message(&self, msg: &str) {
        self.bar.set_message(msg.to_owned());
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let machine = machine::Machine::detect();
    let mode = if args.quick { "quick" } else { "full" };
    let csv_mb = args.csv_mb.unwrap_or(if args.quick { 16 } else { 1024 });
    println!(
        "membound bench ({mode}, CSV {csv_mb} MB) | {}",
        machine.header()
    );

    let mut runner = Runner::new(sections::STEPS, args.quick);
    runner.message("generating data");
    let parent = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    let data = data::Dataset::generate(&parent, csv_mb * mem_monitor::MIB)
        .context("generating the benchmark data")?;

    let monitor = sections::monitor(&mut runner);
    let sections::Measured {
        memory,
        perf,
        kpis,
        missing,
        own,
    } = sections::measure(&mut runner, &data);
    let peers = if !args.peers {
        None
    } else if peers::available() {
        Some(peers::table(&mut runner, &data, own))
    } else {
        runner.bar.suspend(|| {
            println!("note: --peers needs python3 with pandas, pyarrow and polars; no peers table");
        });
        None
    };
    runner.bar.finish_and_clear();

    let mut tables = vec![monitor, memory, perf, report::kpi_table(&kpis, &missing)];
    tables.extend(peers);
    for t in &tables {
        print!("{}", t.to_text());
    }
    if !args.peers {
        println!(
            "\n(run with --peers to compare with pandas, pyarrow and polars when python3 has them)"
        );
    }
    let failures = std::mem::take(&mut runner.failures);
    let results = Results {
        machine,
        mode,
        csv_bytes: data.csv_bytes,
        csv_rows: data.rows,
        tables,
        kpis,
        failures,
    };
    if let Some(path) = &args.json {
        write(path, &serde_json::to_string_pretty(&results)?)?;
    }
    if let Some(path) = &args.markdown {
        let mut md = format!(
            "# membound bench ({mode}, CSV {csv_mb} MB)\n\n{}\n",
            results.machine.header()
        );
        for t in &results.tables {
            md.push_str(&t.to_markdown());
        }
        write(path, &md)?;
    }
    if results.failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} scenario(s) failed: {}",
            results.failures.len(),
            results.failures.join("; ")
        )
    }
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
