//! The orchestrator of `cargo xtask bench`: data, scenarios in child processes, tables.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

pub(crate) mod child;
pub mod data;
mod flat;
mod machine;
mod peers;
mod python;
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
    /// Also run pandas, pyarrow and polars on the same files when python3 has them (the
    /// `readers` section; `--only readers` runs it without this flag too).
    #[arg(long)]
    peers: bool,
    /// In the `readers` section, also stream a 250 MB and a 4 GB CSV and compare their peak RSS
    /// (needs about 4.5 GB of free space in the data directory).
    #[arg(long)]
    large: bool,
    /// Where to generate the data (default: the system's temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run only these sections (repeat the flag or separate with commas; default: all). The
    /// `shared` section needs a Redis: its URL in MEMBOUND_TEST_REDIS_URL or
    /// MEMBOUND_REDIS_URL (see .ci/redis.sh), else it is skipped with a note.
    #[arg(long, value_name = "SECTION", value_enum, value_delimiter = ',')]
    only: Vec<Section>,
}

/// The sections of `cargo xtask bench`, by name (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Table 0: the monitor's own cost.
    Monitor,
    /// Large-file loading, DataFrame storage and file preview (tables 1 and 2, the load KPI).
    Files,
    /// membound's readers against pandas, pyarrow and polars on the same files (with `--peers`
    /// or when named), and the 250 MB vs 4 GB flatness check (with `--large`).
    Readers,
    /// The compressed caches: mixed values, embeddings at each precision, hit, Zipf trace.
    Cache,
    /// Memory cleanup and leak detection.
    Memory,
    /// The whole pipeline's peak RSS (the memory KPI).
    Pipeline,
    /// The shared tier on Redis against plain Redis (needs a running server).
    Shared,
    /// The Python package against the CLI, pyarrow and pandas (only when named: builds a
    /// release wheel into target/py-bench-venv).
    Python,
}

/// Which sections a run includes.
#[derive(Debug, Clone)]
pub struct Selection(Vec<Section>);

impl Selection {
    /// Whether the run includes `s`: all sections but `python` by default, else those named.
    pub fn has(&self, s: Section) -> bool {
        if self.0.is_empty() {
            s != Section::Python
        } else {
            self.0.contains(&s)
        }
    }

    /// Whether `s` was named with `--only`.
    fn named(&self, s: Section) -> bool {
        self.0.contains(&s)
    }

    /// Whether the run includes the peers table.
    fn peers(&self, args: &BenchArgs) -> bool {
        self.has(Section::Readers) && (args.peers || self.named(Section::Readers))
    }

    /// Whether the run includes the flatness check.
    fn large(&self, args: &BenchArgs) -> bool {
        self.has(Section::Readers) && args.large
    }

    /// True when a section needs the generated CSV, Parquet and Feather files.
    fn needs_data(&self) -> bool {
        [
            Section::Files,
            Section::Cache,
            Section::Pipeline,
            Section::Python,
        ]
        .into_iter()
        .any(|s| self.has(s))
    }
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
    let only = Selection(args.only.clone());
    let peers_wanted = only.peers(args);
    let csv = if only.needs_data() || peers_wanted {
        format!(", CSV {csv_mb} MB")
    } else {
        String::new()
    };
    println!("membound bench ({mode}{csv}) | {}", machine.header());

    let mut runner = Runner::new(sections::steps(&only), args.quick);
    let parent = args.data_dir.clone().unwrap_or_else(std::env::temp_dir);
    let data = if only.needs_data() || peers_wanted {
        runner.message("generating data");
        Some(
            data::Dataset::generate(&parent, csv_mb * mem_monitor::MIB)
                .context("generating the benchmark data")?,
        )
    } else {
        None
    };

    let monitor = only
        .has(Section::Monitor)
        .then(|| sections::monitor(&mut runner));
    let sections::Measured {
        memory,
        perf,
        kpis,
        missing,
        own,
    } = sections::measure(&mut runner, data.as_ref(), &only);
    let shared = if only.has(Section::Shared) {
        sections::shared(&mut runner)
    } else {
        None
    };
    let python = match &data {
        Some(data) if only.has(Section::Python) => python::table(&mut runner, data),
        _ => None,
    };
    let peers = match &data {
        Some(data) if peers_wanted && peers::available() => {
            Some(peers::table(&mut runner, data, own))
        }
        _ => {
            if peers_wanted {
                runner.bar.suspend(|| {
                    println!(
                        "note: --peers needs python3 with pandas, pyarrow and polars; no peers table"
                    );
                });
            }
            None
        }
    };
    let flat = only.large(args).then(|| flat::table(&mut runner, &parent));
    runner.bar.finish_and_clear();

    let mut tables: Vec<Table> = monitor.into_iter().collect();
    tables.extend([memory, perf].into_iter().filter(|t| !t.rows.is_empty()));
    if !kpis.is_empty() || !missing.is_empty() {
        tables.push(report::kpi_table(&kpis, &missing));
    }
    tables.extend(peers);
    tables.extend(flat);
    tables.extend(shared);
    tables.extend(python);
    for t in &tables {
        print!("{}", t.to_text());
    }
    if !peers_wanted && only.needs_data() {
        println!(
            "\n(run with --peers to compare with pandas, pyarrow and polars when python3 has them)"
        );
    }
    let failures = std::mem::take(&mut runner.failures);
    let results = Results {
        machine,
        mode,
        csv_bytes: data.as_ref().map_or(0, |d| d.csv_bytes),
        csv_rows: data.as_ref().map_or(0, |d| d.rows),
        tables,
        kpis,
        failures,
    };
    if let Some(path) = &args.json {
        write(path, &serde_json::to_string_pretty(&results)?)?;
    }
    if let Some(path) = &args.markdown {
        let mut md = format!(
            "# membound bench ({mode}{csv})\n\n{}\n",
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn only(argv: &[&str]) -> Result<Vec<Section>, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied()))
            .map(|c| c.bench.only)
    }

    #[test]
    fn only_takes_names_repeated_or_comma_separated_and_lists_the_known_ones() {
        assert_eq!(only(&[]).unwrap(), []);
        assert_eq!(only(&["--only", "shared"]).unwrap(), [Section::Shared]);
        assert_eq!(
            only(&["--only", "cache,shared", "--only", "monitor"]).unwrap(),
            [Section::Cache, Section::Shared, Section::Monitor]
        );
        let err = only(&["--only", "cache,redis"]).unwrap_err().to_string();
        assert!(
            err.contains("'redis'")
                && err.contains("monitor, files, readers, cache, memory, pipeline, shared, python"),
            "{err}"
        );
        let sel = Selection(vec![Section::Shared]);
        assert!(sel.has(Section::Shared) && !sel.has(Section::Files) && !sel.needs_data());
        assert!(Selection(Vec::new()).has(Section::Pipeline));
        assert!(!Selection(Vec::new()).has(Section::Python));
        assert!(Selection(vec![Section::Python]).needs_data());
    }
}
