//! `--peers`: the same files through pandas, pyarrow and polars in child processes, when
//! python3 has them, side by side with membound in the same run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Runner;
use super::child::{self, Usage};
use super::data::Dataset;
use super::report::{Cell, Table};
use super::scenarios::table;
use super::sections::OwnRuns;

/// The Python with pandas, pyarrow and polars: `MEMBOUND_BENCH_PYTHON`, else `python3`.
fn python() -> std::path::PathBuf {
    std::env::var_os("MEMBOUND_BENCH_PYTHON").map_or_else(|| "python3".into(), Into::into)
}

/// Interleaved pairs (membound, then each peer) per row; the table shows medians.
const PAIRS: usize = 5;

/// One Python reader: a label and a script that prints `{"rows": N}` as its last line.
struct Peer {
    label: &'static str,
    script: &'static str,
}

const STREAM_PEERS: [Peer; 3] = [
    Peer {
        label: "pandas read_csv(chunksize=10000)",
        script: "import sys, json, pandas as pd\nn = 0\nfor c in pd.read_csv(sys.argv[1], chunksize=10000):\n    n += len(c)\nprint(json.dumps({'rows': n}))",
    },
    Peer {
        label: "pyarrow open_csv (1 MB blocks)",
        script: "import sys, json, pyarrow.csv as pc\nr = pc.open_csv(sys.argv[1], read_options=pc.ReadOptions(block_size=1 << 20), parse_options=pc.ParseOptions(newlines_in_values=True))\nn = sum(b.num_rows for b in r)\nprint(json.dumps({'rows': n}))",
    },
    Peer {
        label: "polars scan_csv().collect_batches(10000)",
        script: "import sys, json, polars as pl\nn = 0\nfor b in pl.scan_csv(sys.argv[1]).collect_batches(chunk_size=10000):\n    n += len(b)\nprint(json.dumps({'rows': n}))",
    },
];

const PARQUET_PEERS: [Peer; 2] = [
    Peer {
        label: "pyarrow ParquetFile.iter_batches(10000)",
        script: "import sys, json, pyarrow.parquet as pq\nn = sum(b.num_rows for b in pq.ParquetFile(sys.argv[1]).iter_batches(batch_size=10000))\nprint(json.dumps({'rows': n}))",
    },
    Peer {
        label: "polars scan_parquet().collect_batches(10000)",
        script: "import sys, json, polars as pl\nn = 0\nfor b in pl.scan_parquet(sys.argv[1]).collect_batches(chunk_size=10000):\n    n += len(b)\nprint(json.dumps({'rows': n}))",
    },
];

const FEATHER_PEERS: [Peer; 1] = [Peer {
    label: "pyarrow ipc.open_file, batch by batch",
    script: "import sys, json, pyarrow as pa\nr = pa.ipc.open_file(sys.argv[1])\nn = sum(r.get_batch(i).num_rows for i in range(r.num_record_batches))\nprint(json.dumps({'rows': n}))",
}];

const PREVIEW_PEERS: [Peer; 3] = [
    Peer {
        label: "pandas read_csv(nrows=1000)",
        script: "import sys, json, pandas as pd\nprint(json.dumps({'rows': len(pd.read_csv(sys.argv[1], nrows=1000))}))",
    },
    Peer {
        label: "pyarrow open_csv, first 1,000 rows",
        script: "import sys, json, pyarrow.csv as pc\nr = pc.open_csv(sys.argv[1], parse_options=pc.ParseOptions(newlines_in_values=True))\nprint(json.dumps({'rows': min(1000, r.read_next_batch().num_rows)}))",
    },
    Peer {
        label: "polars read_csv(n_rows=1000)",
        script: "import sys, json, polars as pl\nprint(json.dumps({'rows': len(pl.read_csv(sys.argv[1], n_rows=1000))}))",
    },
];

const PARQUET_PREVIEW_PEERS: [Peer; 2] = [
    Peer {
        label: "pyarrow ParquetFile.iter_batches(1000), first",
        script: "import sys, json, pyarrow.parquet as pq\nb = next(pq.ParquetFile(sys.argv[1]).iter_batches(batch_size=1000))\nprint(json.dumps({'rows': b.num_rows}))",
    },
    Peer {
        label: "polars read_parquet(n_rows=1000)",
        script: "import sys, json, polars as pl\nprint(json.dumps({'rows': len(pl.read_parquet(sys.argv[1], n_rows=1000))}))",
    },
];

const FEATHER_PREVIEW_PEERS: [Peer; 1] = [Peer {
    label: "pyarrow ipc.open_file, first batch sliced to 1,000",
    script: "import sys, json, pyarrow as pa\nb = pa.ipc.open_file(sys.argv[1]).get_batch(0).slice(0, 1000)\nprint(json.dumps({'rows': b.num_rows}))",
}];

/// Whether python3 can import all three libraries.
pub fn available() -> bool {
    std::process::Command::new(python())
        .args(["-c", "import pandas, pyarrow, polars"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What every peer script prints as its last line.
#[derive(Debug, Serialize, Deserialize)]
struct PeerResult {
    rows: u64,
}

fn run_peer(peer: &Peer, file: &Path) -> anyhow::Result<Usage> {
    let args = vec![
        "-c".to_owned(),
        peer.script.to_owned(),
        file.to_string_lossy().into_owned(),
    ];
    let run: child::ChildRun<PeerResult> = child::run_program(&python(), &args, peer.label)?;
    Ok(run.usage)
}

/// A table cell for a peer that failed: the last line of its error (Python's exception line).
fn peer_failure(e: &anyhow::Error) -> Cell {
    let text = format!("{e:#}");
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed");
    Cell::text(format!(
        "failed: {}",
        last.chars().take(100).collect::<String>()
    ))
}

fn ratio(ours: f64, theirs: f64) -> Cell {
    if theirs > 0.0 {
        Cell::value(ours / theirs, "x")
    } else {
        Cell::text("n/a")
    }
}

/// Medians of wall, CPU and peak RSS over runs.
#[derive(Debug, Clone, Copy)]
struct Medians {
    wall: f64,
    cpu: f64,
    rss_mb: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn medians(runs: &[Usage]) -> Option<Medians> {
    if runs.is_empty() {
        return None;
    }
    Some(Medians {
        wall: median(runs.iter().map(|u| u.wall.as_secs_f64()).collect()),
        cpu: median(runs.iter().map(|u| u.cpu.as_secs_f64()).collect()),
        rss_mb: median(runs.iter().map(Usage::peak_rss_mb).collect()),
    })
}

/// membound's own run of a row: the stream scenario, or a 1,000-row sample.
fn run_own(r: &mut Runner, label: &str, file: &Path, sample: bool) -> Option<Usage> {
    let path = file.to_path_buf();
    if sample {
        let s = table::Preview {
            path,
            rows: 1000,
            how: table::PreviewHow::Sample,
        };
        r.run(label, s).map(|run| run.usage)
    } else {
        r.run(label, table::Stream { path }).map(|run| run.usage)
    }
}

/// The peers table: membound and each peer on the same file, run in turn ([`PAIRS`] rounds,
/// so that a noisy machine slows both alike), whole-process medians of wall, CPU seconds and
/// peak RSS, and membound's ratio to each peer (below 1.0: membound is faster or smaller).
pub fn table(r: &mut Runner, data: &Dataset, _own: OwnRuns) -> Table {
    let mut t = Table::new(
        "4. Peers on the same files (whole processes, interleaved, medians)",
        &[
            "Reader",
            "Wall",
            "CPU",
            "Peak RSS",
            "membound wall / this",
            "membound CPU / this",
            "membound RSS / this",
        ],
    );
    let groups: [(&str, bool, &[Peer], &Path); 6] = [
        ("membound stream CSV", false, &STREAM_PEERS, &data.csv),
        (
            "membound sample CSV, 1,000 rows",
            true,
            &PREVIEW_PEERS,
            &data.csv,
        ),
        (
            "membound stream Parquet",
            false,
            &PARQUET_PEERS,
            &data.parquet,
        ),
        (
            "membound sample Parquet, 1,000 rows",
            true,
            &PARQUET_PREVIEW_PEERS,
            &data.parquet,
        ),
        (
            "membound stream Feather",
            false,
            &FEATHER_PEERS,
            &data.feather,
        ),
        (
            "membound sample Feather, 1,000 rows",
            true,
            &FEATHER_PREVIEW_PEERS,
            &data.feather,
        ),
    ];
    let pairs = if r.quick { 1 } else { PAIRS };
    for (label, sample, peers, file) in groups {
        let mut ours: Vec<Usage> = Vec::new();
        let mut theirs: Vec<Result<Vec<Usage>, Cell>> =
            peers.iter().map(|_| Ok(Vec::new())).collect();
        for _ in 0..pairs {
            ours.extend(run_own(r, label, file, sample));
            for (peer, runs) in peers.iter().zip(theirs.iter_mut()) {
                let Ok(list) = runs else { continue };
                r.message(peer.label);
                match run_peer(peer, file) {
                    Ok(u) => list.push(u),
                    Err(e) => *runs = Err(peer_failure(&e)),
                }
            }
        }
        let Some(m) = medians(&ours) else {
            t.note(format!("{label}: membound's own run failed; no ratios"));
            continue;
        };
        t.row(
            label,
            vec![
                Cell::value(m.wall, "s"),
                Cell::value(m.cpu, "s"),
                Cell::value(m.rss_mb, "MB"),
                Cell::text("1.0x"),
                Cell::text("1.0x"),
                Cell::text("1.0x"),
            ],
        );
        for (peer, runs) in peers.iter().zip(theirs) {
            let cells = match runs.map(|v| medians(&v)) {
                Ok(Some(p)) => vec![
                    Cell::value(p.wall, "s"),
                    Cell::value(p.cpu, "s"),
                    Cell::value(p.rss_mb, "MB"),
                    ratio(m.wall, p.wall),
                    ratio(m.cpu, p.cpu),
                    ratio(m.rss_mb, p.rss_mb),
                ],
                Ok(None) => vec![Cell::text("no runs")],
                Err(cell) => vec![cell],
            };
            let mut cells = cells;
            cells.resize_with(6, || Cell::text(""));
            t.row(peer.label, cells);
        }
    }
    t.note(format!(
        "medians of {pairs} interleaved runs each (membound, then each peer, in turn); whole processes \
         (interpreter start-up and imports included for Python); CPU = user + system seconds and \
         peak RSS from wait4's rusage; the Python is MEMBOUND_BENCH_PYTHON or python3"
    ));
    t
}
