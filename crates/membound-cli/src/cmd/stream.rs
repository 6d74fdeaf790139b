//! `membound stream PATH [--chunk-size N] [--memory-limit-mb M] [--columns a,b] [--sheet NAME]
//! [--no-optimize] [--stats] [--json]`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use mem_stream::{StreamingLoader, StreamingLoaderBuilder};
use serde_json::{Value, json};

/// Arguments of `membound stream`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file: .csv/.tsv (.gz), .parquet, .arrow/.feather, .arrows, .xlsx/.xls/.xlsb/.ods.
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

/// Loader settings shared by `stream` and `optimize`.
#[derive(Debug, clap::Args)]
pub struct LoaderArgs {
    /// Rows per chunk.
    #[arg(long, default_value_t = mem_stream::DEFAULT_CHUNK_SIZE, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub chunk_size: usize,
    /// Memory limit in MB; chunks shrink when the process would exceed it.
    #[arg(long, default_value_t = mem_monitor::bytes_to_mb(mem_stream::DEFAULT_MEMORY_LIMIT))]
    pub memory_limit_mb: f64,
    /// Only these columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// The sheet of a workbook (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Keep the types as read (no lossless shrinking).
    #[arg(long)]
    pub no_optimize: bool,
}

impl LoaderArgs {
    /// A loader builder with these settings.
    pub fn builder(&self) -> StreamingLoaderBuilder {
        let mut b = StreamingLoader::builder()
            .chunk_size(self.chunk_size)
            .memory_limit(mem_monitor::mb_to_bytes(self.memory_limit_mb))
            .optimize(!self.no_optimize);
        if let Some(c) = &self.columns {
            b = b.projection(c.iter().map(|s| s.trim().to_owned()));
        }
        if let Some(s) = &self.sheet {
            b = b.sheet(s.clone());
        }
        b
    }
}

/// Running statistics of one column.
#[derive(Debug, Default)]
struct ColumnStats {
    nulls: u64,
    int_min: Option<i64>,
    int_max: Option<i64>,
    uint_min: Option<u64>,
    uint_max: Option<u64>,
    f_min: Option<f64>,
    f_max: Option<f64>,
    sum: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum NumKind {
    Signed,
    Unsigned,
    Float,
    Other,
}

fn num_kind(t: &DataType) -> NumKind {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => NumKind::Signed,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            NumKind::Unsigned
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => NumKind::Float,
        _ => NumKind::Other,
    }
}

impl ColumnStats {
    fn update(&mut self, array: &ArrayRef) -> anyhow::Result<()> {
        self.nulls += array.logical_null_count() as u64;
        let add = |sum: &mut Option<f64>, v: f64| *sum = Some(sum.unwrap_or(0.0) + v);
        match num_kind(array.data_type()) {
            NumKind::Signed => {
                let a = arrow::compute::cast(array, &DataType::Int64)?;
                for v in a.as_primitive::<Int64Type>().iter().flatten() {
                    self.int_min = Some(self.int_min.map_or(v, |m| m.min(v)));
                    self.int_max = Some(self.int_max.map_or(v, |m| m.max(v)));
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "the contract's sum is a float"
                    )]
                    add(&mut self.sum, v as f64);
                }
            }
            NumKind::Unsigned => {
                let a = arrow::compute::cast(array, &DataType::UInt64)?;
                for v in a.as_primitive::<UInt64Type>().iter().flatten() {
                    self.uint_min = Some(self.uint_min.map_or(v, |m| m.min(v)));
                    self.uint_max = Some(self.uint_max.map_or(v, |m| m.max(v)));
                    #[expect(
                        clippy::cast_precision_loss,
                        reason = "the contract's sum is a float"
                    )]
                    add(&mut self.sum, v as f64);
                }
            }
            NumKind::Float => {
                let a = arrow::compute::cast(array, &DataType::Float64)?;
                for v in a
                    .as_primitive::<Float64Type>()
                    .iter()
                    .flatten()
                    .filter(|v| !v.is_nan())
                {
                    self.f_min = Some(self.f_min.map_or(v, |m| m.min(v)));
                    self.f_max = Some(self.f_max.map_or(v, |m| m.max(v)));
                    add(&mut self.sum, v);
                }
            }
            NumKind::Other => {}
        }
        Ok(())
    }

    fn min(&self) -> Value {
        num_value(
            self.int_min
                .map(Value::from)
                .or(self.uint_min.map(Value::from)),
            self.f_min,
        )
    }

    fn max(&self) -> Value {
        num_value(
            self.int_max
                .map(Value::from)
                .or(self.uint_max.map(Value::from)),
            self.f_max,
        )
    }

    fn sum(&self) -> Value {
        self.sum
            .filter(|s| s.is_finite())
            .map_or(Value::Null, Value::from)
    }
}

fn num_value(int: Option<Value>, float: Option<f64>) -> Value {
    // Infinite values are not JSON numbers: report them as null.
    int.or_else(|| float.filter(|f| f.is_finite()).map(Value::from))
        .unwrap_or(Value::Null)
}

/// Whole-stream statistics: one entry per column of the output schema.
struct Summary {
    stats: Vec<ColumnStats>,
}

impl Summary {
    fn update(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        if self.stats.len() != batch.num_columns() {
            self.stats
                .resize_with(batch.num_columns(), ColumnStats::default);
        }
        for (s, col) in self.stats.iter_mut().zip(batch.columns()) {
            s.update(col)?;
        }
        Ok(())
    }

    fn columns_json(&self, schema: &SchemaRef) -> Vec<Value> {
        schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let s = self.stats.get(i);
                json!({
                    "name": f.name(),
                    "type": f.data_type().to_string(),
                    "null_count": s.map_or(0, |s| s.nulls),
                    "min": s.map_or(Value::Null, ColumnStats::min),
                    "max": s.map_or(Value::Null, ColumnStats::max),
                    "sum": s.map_or(Value::Null, ColumnStats::sum),
                })
            })
            .collect()
    }
}

fn mb(bytes: u64) -> f64 {
    (mem_monitor::bytes_to_mb(bytes) * 10.0).round() / 10.0
}

/// Runs `membound stream`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let loader = args.loader.builder().build()?;
    let mut stream = loader.stream(&args.path)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let bar = (!args.json).then(|| {
        let total = std::fs::metadata(&args.path).map(|m| m.len()).unwrap_or(0);
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let mut summary = Summary { stats: Vec::new() };
    let (mut rows, mut chunks, mut peak_rss, mut bytes_max) = (0u64, 0u64, 0u64, 0usize);
    let mut widened = Vec::new();
    for item in stream.by_ref() {
        let (batch, meta) = item?;
        summary.update(&batch)?;
        rows += meta.rows as u64;
        chunks += 1;
        peak_rss = peak_rss.max(meta.rss_bytes);
        bytes_max = bytes_max.max(meta.bytes);
        for w in &meta.widenings {
            widened.push(json!({"chunk": meta.index, "column": w.column, "from": w.from.to_string(), "to": w.to.to_string()}));
        }
        if args.json {
            let line = json!({
                "type": "chunk",
                "index": meta.index,
                "rows": meta.rows,
                "start_row": meta.start_row,
                "bytes": meta.bytes,
                "rss_mb": mb(meta.rss_bytes),
                "progress": meta.progress,
                "chunk_size": meta.chunk_size,
                "elapsed_ms": meta.elapsed.as_millis() as u64,
                "schema_widened": meta.schema_widened(),
            });
            serde_json::to_writer(&mut out, &line)?;
            writeln!(out)?;
        } else if let Some(bar) = &bar {
            bar.set_position(meta.source_bytes_read);
            bar.set_message(format!("{rows} rows, {chunks} chunks"));
        }
    }
    if let Ok(s) = mem_monitor::memory_stats() {
        peak_rss = peak_rss.max(s.process_rss_bytes);
    }
    // The kernel's high-water mark also sees peaks between samples.
    peak_rss = peak_rss.max(mem_monitor::peak_rss_bytes().unwrap_or(0));
    let schema = stream.schema();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if args.json {
        let line = json!({
            "type": "summary",
            "rows": rows,
            "chunks": chunks,
            "peak_rss_mb": mb(peak_rss),
            "elapsed_ms": elapsed_ms,
            "columns": summary.columns_json(&schema),
            "largest_chunk_bytes": bytes_max,
            "widenings": widened,
        });
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{}: {rows} rows in {chunks} chunks, {:.2} s, peak RSS {:.1} MB, largest chunk {}",
            args.path.display(),
            elapsed_ms as f64 / 1000.0,
            mb(peak_rss),
            mem_monitor::format_bytes(bytes_max as u64)
        )?;
        let cols = summary.columns_json(&schema);
        if args.stats {
            writeln!(
                out,
                "{:<28} {:<28} {:>10} {:>16} {:>16} {:>18}",
                "column", "type", "nulls", "min", "max", "sum"
            )?;
        } else {
            writeln!(out, "{:<28} {:<28} {:>10}", "column", "type", "nulls")?;
        }
        for c in cols {
            let s = |k: &str| {
                c.get(k).map_or_else(String::new, |v| {
                    if v.is_null() {
                        "-".to_owned()
                    } else {
                        v.to_string()
                    }
                })
            };
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let ty = c.get("type").and_then(Value::as_str).unwrap_or_default();
            if args.stats {
                writeln!(
                    out,
                    "{name:<28} {ty:<28} {:>10} {:>16} {:>16} {:>18}",
                    s("null_count"),
                    s("min"),
                    s("max"),
                    s("sum")
                )?;
            } else {
                writeln!(out, "{name:<28} {ty:<28} {:>10}", s("null_count"))?;
            }
        }
        for w in widened {
            writeln!(out, "schema widened: {w}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
