//! `--only python` (never in the default run): the `membound` Python package against the CLI,
//! pyarrow and pandas on the same CSV, and the embeddings cache's fast get against
//! `numpy.load` + the texts' JSONL, in one interleaved run.
//!
//! The package is a release wheel (`maturin build --release`) installed in its own virtualenv
//! (`target/py-bench-venv`: the test pins of `cargo xtask test` plus a pinned pandas), so the
//! debug, editable build of `target/py-venv` is left alone. Each case runs in a fresh process
//! via `python/bench/bench_python.py case NAME`, which times its own work (imports excluded).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

use super::Runner;
use super::child::{self, Usage};
use super::data::Dataset;
use super::report::{Cell, Table};
use crate::test;

/// Installed in the bench virtualenv only (the test pins stay as they are).
const PANDAS: &str = "pandas==3.1.1";
/// Interleaved rounds (1 with `--quick`).
const ROUNDS: usize = 3;
/// Program runs per round: the CLI, then each Python case.
pub const RUNS_PER_ROUND: u64 = 1 + CASES.len() as u64;

const CASES: [(&str, &str); 5] = [
    ("mb-stream", "mb.stream(csv), rows of each batch"),
    (
        "pyarrow-open-csv",
        "pyarrow.csv.open_csv, read_next_batch loop",
    ),
    ("pandas-chunks", "pandas.read_csv(chunksize=10000)"),
    (
        "fast-get",
        "CacheService.get_cached_embeddings_fast (f32), 5,000 x 384 + texts",
    ),
    (
        "numpy-jsonl",
        "numpy.load + texts JSONL (json.loads per line)",
    ),
];

/// The last line of a case.
#[derive(Debug, Deserialize)]
struct CaseResult {
    wall: f64,
    rows: u64,
}

/// The last line of `prepare`.
#[derive(Debug, Deserialize)]
struct Prepared {
    key: String,
}

/// The last line of `membound stream --json`.
#[derive(Debug, Deserialize)]
struct CliSummary {
    rows: u64,
}

fn quiet(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("{what}: cannot run {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The bench virtualenv with pandas and a fresh release wheel of the package, and the CLI
/// release binary; `Ok(None)` when python3 is unavailable (the section is skipped).
fn setup(root: &Path, target: &Path) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let python = match test::find_python() {
        Ok(p) => p,
        Err(e) => {
            println!("note: the python section is skipped: {e:#}");
            return Ok(None);
        }
    };
    let venv = target.join("py-bench-venv");
    let venv_python = test::prepare_venv(&python, &venv)?;
    let has_pandas = Command::new(&venv_python)
        .args([
            "-c",
            &format!(
                "import sys, pandas; sys.exit(pandas.__version__ != '{}')",
                PANDAS.trim_start_matches("pandas==")
            ),
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pandas {
        eprintln!("-- bench python: pip install {PANDAS}");
        quiet(
            Command::new(&venv_python).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PANDAS,
            ]),
            "pip install pandas",
        )?;
    }
    let wheels = target.join(format!("py-bench-wheel-{}", std::process::id()));
    eprintln!("-- bench python: maturin build --release (crates/membound-py)");
    let built = quiet(
        Command::new(venv.join("bin").join("maturin"))
            .current_dir(root.join("crates/membound-py"))
            .args(["build", "--release", "--locked", "--quiet", "--strip", "-o"])
            .arg(&wheels)
            .arg("--interpreter")
            .arg(&venv_python)
            .env("CARGO_TARGET_DIR", target)
            .env_remove("PYTHONHOME"),
        "maturin build --release",
    )
    .and_then(|()| {
        let wheel = std::fs::read_dir(&wheels)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "whl"))
            .context("maturin built no wheel")?;
        quiet(
            Command::new(&venv_python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "--force-reinstall",
                ])
                .arg(&wheel),
            "pip install the wheel",
        )
    });
    let _ = std::fs::remove_dir_all(&wheels);
    built?;
    eprintln!("-- bench python: cargo build --release -p membound-cli");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    quiet(
        Command::new(cargo)
            .current_dir(root)
            .args(["build", "--release", "--locked", "-p", "membound-cli"])
            .env("CARGO_TARGET_DIR", target),
        "cargo build --release -p membound-cli",
    )?;
    Ok(Some((venv_python, target.join("release").join("membound"))))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn ratio(ours: f64, theirs: f64) -> Cell {
    if ours > 0.0 && theirs > 0.0 {
        Cell::value(ours / theirs, "x")
    } else {
        Cell::text("n/a")
    }
}

/// One reader's runs: timed wall, whole-process wall, peak RSS, rows read.
#[derive(Default)]
struct Runs {
    wall: Vec<f64>,
    process: Vec<f64>,
    rss_mb: Vec<f64>,
    rows: u64,
}

impl Runs {
    fn push(&mut self, wall: f64, usage: &Usage, rows: u64) {
        self.wall.push(wall);
        self.process.push(usage.wall.as_secs_f64());
        self.rss_mb.push(usage.peak_rss_mb());
        self.rows = rows;
    }

    fn wall(&self) -> f64 {
        median(self.wall.clone())
    }

    fn cells(&self, ratio_cell: Cell) -> Vec<Cell> {
        if self.wall.is_empty() {
            return vec![Cell::text("no runs")];
        }
        vec![
            Cell::value(self.wall(), "s"),
            Cell::value(median(self.process.clone()), "s"),
            Cell::value(median(self.rss_mb.clone()), "MB"),
            Cell::text(self.rows.to_string()),
            ratio_cell,
        ]
    }
}

/// The python table, or `None` when the section is skipped.
pub fn table(r: &mut Runner, data: &Dataset) -> Option<Table> {
    let root = test::checkout_root();
    let target = test::target_dir(&root);
    r.message("python: virtualenv, release wheel, CLI");
    let (python, cli) = match r.bar.suspend(|| setup(&root, &target)) {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => {
            r.failures.push(format!("python setup: {e:#}"));
            return None;
        }
    };
    let script = root.join("python/bench/bench_python.py");
    let cache_dir = data.dir.join("py-cache");
    let emb = root.join("testdata/embeddings");
    let base = |mode: &str| {
        let mut v = vec![script.to_string_lossy().into_owned(), mode.to_owned()];
        for (flag, p) in [
            ("--csv", data.csv.clone()),
            ("--npy", emb.join("minilm-5k.npy")),
            ("--jsonl", emb.join("texts-5k.jsonl")),
            ("--cache-dir", cache_dir.clone()),
        ] {
            v.push(flag.to_owned());
            v.push(p.to_string_lossy().into_owned());
        }
        v
    };
    r.message("python: saving the embeddings entry");
    let key = match child::run_program::<Prepared>(&python, &base("prepare"), "prepare") {
        Ok(run) => run.output.key,
        Err(e) => {
            r.failures.push(format!("python prepare: {e:#}"));
            return None;
        }
    };
    let rounds = if r.quick { 1 } else { ROUNDS };
    let mut cli_runs = Runs::default();
    let mut runs: Vec<Runs> = CASES.iter().map(|_| Runs::default()).collect();
    let cli_args: Vec<String> = vec![
        "stream".into(),
        data.csv.to_string_lossy().into_owned(),
        "--json".into(),
    ];
    for _ in 0..rounds {
        r.message("python: membound stream --json (CLI)");
        match child::run_program::<CliSummary>(&cli, &cli_args, "membound stream") {
            Ok(run) => cli_runs.push(run.usage.wall.as_secs_f64(), &run.usage, run.output.rows),
            Err(e) => r.failures.push(format!("membound stream (CLI): {e:#}")),
        }
        r.bar.inc(1);
        for ((case, label), case_runs) in CASES.iter().zip(runs.iter_mut()) {
            r.message(label);
            let mut args = base("case");
            args.insert(2, (*case).to_owned());
            args.extend(["--key".to_owned(), key.clone()]);
            match child::run_program::<CaseResult>(&python, &args, case) {
                Ok(run) => case_runs.push(run.output.wall, &run.usage, run.output.rows),
                Err(e) => r.failures.push(format!("python {case}: {e:#}")),
            }
            r.bar.inc(1);
        }
    }
    let _ = std::fs::remove_dir_all(&cache_dir);

    let mut t = Table::new(
        "5. Python package (interleaved, medians)",
        &[
            "Reader",
            "Wall",
            "Process wall",
            "Peak RSS",
            "Rows",
            "membound / this",
        ],
    );
    let stream = runs[0].wall();
    t.row(
        "membound CLI: stream CSV --json",
        cli_runs.cells(ratio(stream, cli_runs.wall())),
    );
    for (i, ((_, label), case_runs)) in CASES.iter().zip(&runs).enumerate() {
        let ours = if i < 3 { stream } else { runs[3].wall() };
        t.row(label, case_runs.cells(ratio(ours, case_runs.wall())));
    }
    if !cli_runs.wall.is_empty() && stream > 0.0 {
        let over = (stream / cli_runs.wall() - 1.0) * 100.0;
        t.note(format!(
            "mb.stream vs the CLI: {over:+.1} % wall (target: within 10 %: {})",
            if over <= 10.0 { "met" } else { "not met" }
        ));
    }
    t.note(format!(
        "medians of {rounds} round(s), each the CLI then every Python case in a fresh process; \
         Wall = the timed work (Python: after imports; CLI: the whole process), membound / this = \
         mb.stream's wall over the row's (CSV rows) or the fast get's over the row's (embeddings); \
         the package is a release wheel in target/py-bench-venv with {PANDAS}"
    ));
    Some(t)
}
