//! `--large`: streaming memory stays flat in file size. The same generator writes a 250 MB and a
//! 4 GB CSV; membound streams each in its own process, in turn, and the table compares their
//! peak RSS (the readers issue's goal: the 4 GB file's peak within 1.1x of the 250 MB file's).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Runner;
use super::child::Usage;
use super::data::GenData;
use super::report::{Cell, Table};
use super::scenarios::table;

/// The small and the large file, in MB of CSV.
const SIZES_MB: [u64; 2] = [250, 4096];

/// Runs of each file, interleaved (small, large, small, large...); the table shows medians.
const RUNS: usize = 3;

/// The goal: the large file's median peak RSS over the small file's.
const GOAL: f64 = 1.1;

/// A directory of generated CSVs, removed when dropped.
struct Files {
    dir: PathBuf,
    csvs: Vec<(u64, PathBuf, u64)>,
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes one CSV per size (no columnar copies) under a new directory in `parent`.
fn generate(r: &mut Runner, parent: &Path) -> anyhow::Result<Files> {
    let dir = parent.join(format!("membound-flat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = Files {
        dir,
        csvs: Vec::new(),
    };
    for mb in SIZES_MB {
        let sub = files.dir.join(format!("{mb}mb"));
        std::fs::create_dir_all(&sub)?;
        let rows = mem_stream::testdata::rows_for_bytes(mb * mem_monitor::MIB);
        r.message(&format!("generating the {mb} MB CSV"));
        super::child::run(GenData {
            dir: sub.clone(),
            rows,
            csv_only: true,
        })
        .with_context(|| format!("generating the {mb} MB CSV"))?;
        files.csvs.push((mb, sub.join("bench.csv"), rows));
    }
    Ok(files)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// The flatness table: each file's median wall and peak RSS, and the ratio to the smallest.
pub fn table(r: &mut Runner, parent: &Path) -> Table {
    let mut t = Table::new(
        "5. Streaming memory is flat in file size (--large)",
        &["CSV", "Rows", "Wall", "Peak RSS", "Peak / smallest's"],
    );
    let files = match generate(r, parent) {
        Ok(f) => f,
        Err(e) => {
            t.note(format!("the files could not be generated: {e:#}"));
            r.failures.push(format!("--large: {e:#}"));
            return t;
        }
    };
    let mut runs: Vec<Vec<Usage>> = vec![Vec::new(); files.csvs.len()];
    for _ in 0..RUNS {
        for ((mb, path, _), list) in files.csvs.iter().zip(runs.iter_mut()) {
            let label = format!("stream the {mb} MB CSV");
            let s = table::Stream { path: path.clone() };
            list.extend(r.run(&label, s).map(|run| run.usage));
        }
    }
    let peaks: Vec<Option<f64>> = runs
        .iter()
        .map(|v| median(v.iter().map(Usage::peak_rss_mb).collect()))
        .collect();
    let smallest = peaks.first().copied().flatten();
    for (((mb, _, rows), list), peak) in files.csvs.iter().zip(&runs).zip(&peaks) {
        let wall = median(list.iter().map(|u| u.wall.as_secs_f64()).collect());
        let (Some(wall), Some(peak)) = (wall, *peak) else {
            t.row(&format!("{mb} MB"), vec![Cell::text("failed (see stderr)")]);
            continue;
        };
        let ratio = smallest.map_or(Cell::text("n/a"), |s| Cell::value(peak / s, "x"));
        t.row(
            &format!("{mb} MB"),
            vec![
                Cell::text(rows.to_string()),
                Cell::value(wall, "s"),
                Cell::value(peak, "MB"),
                ratio,
            ],
        );
    }
    t.note(format!(
        "membound's stream scenario (default loader: 10,000-row chunks, lossless optimisation, \
         each chunk dropped) on CSVs of the benchmark schema, {RUNS} runs of each file in turn, \
         medians; whole-process wall and peak RSS from wait4; goal: the largest file's peak \
         within {GOAL}x of the smallest's"
    ));
    t
}
