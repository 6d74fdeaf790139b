//! `--peers`: the same files through pandas, pyarrow and polars in child processes, when
//! python3 has them, side by side with membound in the same run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Runner;
use super::child::{self, Usage};
use super::data::Dataset;
use super::report::{Cell, Table};
use super::sections::OwnRuns;

const PYTHON: &str = "python3";

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

/// Whether python3 can import all three libraries.
pub fn available() -> bool {
    std::process::Command::new(PYTHON)
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
    let run: child::ChildRun<PeerResult> =
        child::run_program(Path::new(PYTHON), &args, peer.label)?;
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

/// The peers table: whole-process wall time and peak RSS of each reader, and membound's ratio to
/// each (below 1.0: membound is faster or smaller).
pub fn table(r: &mut Runner, data: &Dataset, own: OwnRuns) -> Table {
    let mut t = Table::new(
        "4. Peers on the same files (whole processes, same run)",
        &[
            "Reader",
            "Wall",
            "Peak RSS",
            "membound wall / this",
            "membound RSS / this",
        ],
    );
    let groups: [(&str, Option<Usage>, &[Peer], &Path); 4] = [
        (
            "membound stream CSV (10,000-row chunks)",
            own.csv_stream,
            &STREAM_PEERS,
            &data.csv,
        ),
        (
            "membound sample CSV, 1,000 rows",
            own.csv_sample,
            &PREVIEW_PEERS,
            &data.csv,
        ),
        (
            "membound stream Parquet",
            own.parquet_stream,
            &PARQUET_PEERS,
            &data.parquet,
        ),
        (
            "membound stream Feather",
            own.feather_stream,
            &FEATHER_PEERS,
            &data.feather,
        ),
    ];
    for (label, ours, peers, file) in groups {
        let Some(ours) = ours else {
            t.note(format!("{label}: membound's own run failed; no ratios"));
            continue;
        };
        t.row(
            label,
            vec![
                Cell::value(ours.wall.as_secs_f64(), "s"),
                Cell::value(ours.peak_rss_mb(), "MB"),
                Cell::text("1.0x"),
                Cell::text("1.0x"),
            ],
        );
        for peer in peers {
            r.message(peer.label);
            let cells = match run_peer(peer, file) {
                Ok(p) => vec![
                    Cell::value(p.wall.as_secs_f64(), "s"),
                    Cell::value(p.peak_rss_mb(), "MB"),
                    ratio(ours.wall.as_secs_f64(), p.wall.as_secs_f64()),
                    ratio(ours.peak_rss_mb(), p.peak_rss_mb()),
                ],
                Err(e) => vec![
                    peer_failure(&e),
                    Cell::text(""),
                    Cell::text(""),
                    Cell::text(""),
                ],
            };
            t.row(peer.label, cells);
        }
    }
    t.note("wall and peak RSS of whole processes (interpreter start-up and imports included for Python; rusage from wait4)");
    t
}
