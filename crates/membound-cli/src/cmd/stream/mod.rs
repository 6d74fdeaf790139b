//! `membound stream PATH|- [--chunk-size N] [--memory-limit-mb M] [--columns a,b] [--no-optimize]
//! [CSV and format flags] [--stats] [--json]`.

mod summary;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

pub use super::input::LoaderArgs;
use super::input::{Input, advise_item};
use summary::{ChunkLine, Tally};

/// Arguments of `membound stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file: .csv/.tsv (.gz), .parquet, .arrow/.feather, .arrows, .xlsx/.xls/.xlsb/.ods;
    /// `-` reads CSV (or `--format tsv|arrows`) from standard input.
    path: PathBuf,
    #[command(flatten)]
    loader: LoaderArgs,
    /// Print per-column statistics (min, max, sum, nulls) in the final table.
    #[arg(long)]
    stats: bool,
    /// JSON Lines on stdout: one object per chunk, then a summary.
    #[arg(long)]
    json: bool,
}

fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {binary_bytes} {msg}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Runs `membound stream`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let input = Input::new(&args.path);
    let loader = args.loader.builder()?.build()?;
    let mut stream = input.stream(&loader, args.loader.read.format)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let bar = (!args.json).then(|| progress_bar(input.len()));
    let mut tally = Tally::default();
    for item in stream.by_ref() {
        let (batch, meta) = advise_item(item)?;
        tally.add(&batch, &meta)?;
        if args.json {
            serde_json::to_writer(&mut out, &ChunkLine::from(&meta))?;
            writeln!(out)?;
        } else if let Some(bar) = &bar {
            bar.set_position(meta.source_bytes_read);
            bar.set_message(format!("{} rows, {} chunks", tally.rows, tally.chunks));
        }
    }
    let mut peak_rss = mem_monitor::memory_stats().map_or(0, |s| s.process_rss_bytes);
    // The kernel's high-water mark also sees peaks between samples.
    peak_rss = peak_rss.max(mem_monitor::peak_rss_bytes().unwrap_or(0));
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = tally.finish(
        input.name(),
        &stream.source_schema(),
        &stream.schema(),
        elapsed_ms,
        peak_rss,
    );
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        summary.render(&mut out, args.stats)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
