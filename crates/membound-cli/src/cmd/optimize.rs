//! `membound optimize PATH OUT [--chunk-size N] [--memory-limit-mb M] [--columns a,b] [--sheet NAME]
//! [--tighter] [--json]`: streams a file, shrinks its types under one stable schema, writes
//! `.parquet`, `.arrow` or `.feather`, and prints per-column types and bytes before and after.
//!
//! Two passes over the input keep memory bounded and the schema stable: the first settles the
//! final (widest needed) types, the second brings every chunk to them and writes it.
//!
//! The output is written to a temporary file beside OUT and renamed over it only once complete
//! (see [`crate::output`]): an interrupted run leaves the previous OUT, OUT may only be a regular
//! file or a new path, and OUT may not be the input under another name (a hard link included).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use mem_optimize::{
    CompactBatch, CompactOptions, OptimizeOptions, StreamOptimizer, array_memory_size,
};
use serde::Serialize;

use super::input::{LoaderArgs, advise, advise_item};
use crate::output::OutputFile;

/// Arguments of `membound optimize`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The input file (any format `membound stream` reads).
    path: PathBuf,
    /// The output: `.parquet`, `.arrow` or `.feather`.
    out: PathBuf,
    #[command(flatten)]
    loader: LoaderArgs,
    /// Also narrow floats where values round-trip within the tighter preset's tolerance (lossy).
    #[arg(long)]
    tighter: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

enum Writer {
    /// A Parquet writer and the buffered bytes at which it closes a row group.
    Parquet(parquet::arrow::ArrowWriter<OutputFile>, usize),
    Ipc(arrow::ipc::writer::FileWriter<OutputFile>, DictUnifier),
}

/// Most bytes a Parquet row group is buffered to before it is written.
const MAX_ROW_GROUP_BYTES: u64 = 64 << 20;

/// Arrow IPC files allow one dictionary per column, extended by deltas, while each optimised
/// chunk carries its own: this keeps one growing dictionary per string-dictionary column and
/// re-keys every chunk into it, so the writer only appends new values.
#[derive(Default)]
struct DictUnifier {
    columns:
        std::collections::HashMap<usize, (std::collections::HashMap<String, i64>, Vec<String>)>,
}

impl DictUnifier {
    fn unify(&mut self, batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
        use arrow::array::{Array, AsArray, DictionaryArray, Int64Array, StringArray};
        use arrow::datatypes::{DataType, Int64Type};
        let mut columns = batch.columns().to_vec();
        for (i, col) in columns.iter_mut().enumerate() {
            let DataType::Dictionary(key_type, value_type) = col.data_type() else {
                continue;
            };
            if value_type.as_ref() != &DataType::Utf8 {
                continue;
            }
            let key_type = key_type.as_ref().clone();
            let dict = col.as_any_dictionary();
            let values = dict.values().as_string::<i32>();
            let (index, all) = self.columns.entry(i).or_default();
            let mut local = Vec::with_capacity(values.len());
            for v in values {
                let v = v.unwrap_or_default();
                let next = i64::try_from(all.len())?;
                let g = *index.entry(v.to_owned()).or_insert_with(|| {
                    all.push(v.to_owned());
                    next
                });
                local.push(g);
            }
            let keys: Int64Array = dict
                .normalized_keys()
                .iter()
                .enumerate()
                .map(|(row, &k)| (!col.is_null(row)).then(|| local.get(k).copied().unwrap_or(0)))
                .collect();
            let merged = DictionaryArray::<Int64Type>::try_new(
                keys,
                std::sync::Arc::new(StringArray::from_iter_values(all.iter())),
            )?;
            let opts = arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            };
            let target = DataType::Dictionary(Box::new(key_type.clone()), Box::new(DataType::Utf8));
            *col = arrow::compute::cast_with_options(&merged, &target, &opts).with_context(|| {
                format!("column {:?}: {} distinct values overflow its {key_type} dictionary keys; write .parquet instead", batch.schema().field(i).name(), all.len())
            })?;
        }
        Ok(RecordBatch::try_new(batch.schema(), columns)?)
    }
}

impl Writer {
    /// A writer of `out` into `file`; Parquet row groups are closed at `row_group_bytes`.
    fn create(
        out: &Path,
        file: OutputFile,
        schema: &SchemaRef,
        row_group_bytes: u64,
    ) -> anyhow::Result<Self> {
        let ext = out
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if !matches!(ext.as_str(), "parquet" | "arrow" | "feather") {
            anyhow::bail!(
                "{}: output must end in .parquet, .arrow or .feather",
                out.display()
            );
        }
        Ok(if ext == "parquet" {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(
                    parquet::basic::ZstdLevel::default(),
                ))
                // Row groups are buffered whole while written: keep them moderate.
                .set_max_row_group_row_count(Some(256 * 1024))
                .build();
            Self::Parquet(
                parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props))?,
                usize::try_from(row_group_bytes).unwrap_or(usize::MAX),
            )
        } else {
            let opts = arrow::ipc::writer::IpcWriteOptions::default()
                .try_with_compression(Some(arrow::ipc::CompressionType::LZ4_FRAME))?
                .with_dictionary_handling(arrow::ipc::writer::DictionaryHandling::Delta);
            Self::Ipc(
                arrow::ipc::writer::FileWriter::try_new_with_options(file, schema, opts)?,
                DictUnifier::default(),
            )
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            Self::Parquet(w, max) => {
                w.write(batch)?;
                // Wide rows fill a row group's memory long before its row count.
                if w.memory_size() >= *max {
                    w.flush()?;
                }
            }
            Self::Ipc(w, dicts) => w.write(&dicts.unify(batch)?)?,
        }
        Ok(())
    }

    /// Writes the footer and renames the finished file over the target.
    fn finish(self) -> anyhow::Result<()> {
        let file = match self {
            Self::Parquet(w, _) => w.into_inner()?,
            Self::Ipc(w, _) => w.into_inner()?,
        };
        file.commit()
    }
}

/// Pass 1: the input as read, and the final (widest needed) types of its optimised chunks.
struct Settled {
    optimizer: StreamOptimizer,
    /// Whether any chunk was pushed (an empty input keeps its schema).
    pushed: bool,
    source_schema: SchemaRef,
    final_schema: SchemaRef,
    /// Arrow bytes per column as read.
    before: Vec<usize>,
}

fn settle(
    loader: &mem_stream::StreamingLoader,
    path: &Path,
    opts: OptimizeOptions,
) -> anyhow::Result<Settled> {
    let mut optimizer = StreamOptimizer::new(opts);
    let mut stream = loader.stream(path).map_err(advise)?;
    let source_schema = stream.source_schema();
    let mut before = vec![0usize; source_schema.fields().len()];
    let mut pushed = false;
    for item in stream.by_ref() {
        let (batch, _) = advise_item(item)?;
        for (b, col) in before.iter_mut().zip(batch.columns()) {
            *b += array_memory_size(col.as_ref());
        }
        optimizer.push(&batch)?;
        pushed = true;
    }
    let final_schema = if pushed {
        optimizer.schema().unwrap_or_else(|| source_schema.clone())
    } else {
        source_schema.clone()
    };
    Ok(Settled {
        optimizer,
        pushed,
        source_schema,
        final_schema,
        before,
    })
}

/// Pass 2: every chunk in the final types, written as it comes; returns the Arrow bytes per
/// column after, the rows written and the bytes the chunks hold in compact form (text columns
/// as FSST codes; each compact chunk is dropped once measured).
fn write_all(
    loader: &mem_stream::StreamingLoader,
    path: &Path,
    settled: &Settled,
    mut writer: Writer,
) -> anyhow::Result<(Vec<usize>, u64, u64)> {
    let mut after = vec![0usize; settled.final_schema.fields().len()];
    let mut rows = 0u64;
    let mut compact_bytes = 0u64;
    let compact = CompactOptions::default().optimize(None);
    for item in loader.stream(path).map_err(advise)? {
        let (batch, _) = advise_item(item)?;
        // Exact casts: the final types hold every value seen in pass 1.
        let conformed = if settled.pushed {
            settled.optimizer.conform(&batch)?
        } else {
            batch
        };
        for (a, col) in after.iter_mut().zip(conformed.columns()) {
            *a += array_memory_size(col.as_ref());
        }
        rows += conformed.num_rows() as u64;
        compact_bytes += CompactBatch::try_new(&conformed, &compact)?.memory_size();
        writer.write(&conformed)?;
    }
    writer.finish()?;
    Ok((after, rows, compact_bytes))
}

/// One column of the report.
#[derive(Debug, Serialize)]
struct ColumnLine {
    name: String,
    type_before: String,
    type_after: String,
    bytes_before: usize,
    bytes_after: usize,
}

/// What `membound optimize` reports (one JSON object with `--json`).
#[derive(Debug, Serialize)]
struct Report {
    input: String,
    output: String,
    rows: u64,
    columns: Vec<ColumnLine>,
    bytes_before: usize,
    bytes_after: usize,
    reduction_percent: f64,
    /// Bytes the optimised chunks hold with their text columns as FSST codes.
    compact_bytes: u64,
    output_file_bytes: u64,
    widenings: usize,
}

impl Report {
    fn new(args: &Args, settled: &Settled, after: &[usize], rows: u64, compact_bytes: u64) -> Self {
        let columns: Vec<ColumnLine> = settled
            .source_schema
            .fields()
            .iter()
            .zip(settled.final_schema.fields().iter())
            .enumerate()
            .map(|(i, (s, f))| ColumnLine {
                name: f.name().clone(),
                type_before: s.data_type().to_string(),
                type_after: f.data_type().to_string(),
                bytes_before: settled.before.get(i).copied().unwrap_or(0),
                bytes_after: after.get(i).copied().unwrap_or(0),
            })
            .collect();
        let bytes_before: usize = settled.before.iter().sum();
        let bytes_after: usize = after.iter().sum();
        let reduction = if bytes_before == 0 {
            0.0
        } else {
            100.0 * (1.0 - bytes_after as f64 / bytes_before as f64)
        };
        Self {
            input: args.path.display().to_string(),
            output: args.out.display().to_string(),
            rows,
            columns,
            bytes_before,
            bytes_after,
            reduction_percent: (reduction * 10.0).round() / 10.0,
            compact_bytes,
            output_file_bytes: std::fs::metadata(&args.out).map_or(0, |m| m.len()),
            widenings: settled.optimizer.widenings().len(),
        }
    }

    fn render(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:<28} {:<26} {:<26} {:>12} {:>12}",
            "column", "type before", "type after", "bytes before", "bytes after"
        )?;
        for c in &self.columns {
            writeln!(
                out,
                "{:<28} {:<26} {:<26} {:>12} {:>12}",
                c.name, c.type_before, c.type_after, c.bytes_before, c.bytes_after
            )?;
        }
        writeln!(
            out,
            "total: {} -> {} ({:.1} % smaller in memory); {} rows written to {} ({})",
            mem_monitor::format_bytes(self.bytes_before as u64),
            mem_monitor::format_bytes(self.bytes_after as u64),
            self.reduction_percent,
            self.rows,
            self.output,
            mem_monitor::format_bytes(self.output_file_bytes)
        )?;
        writeln!(
            out,
            "compact (text columns as FSST codes): {} in memory ({:.1} % of the input)",
            mem_monitor::format_bytes(self.compact_bytes),
            if self.bytes_before == 0 {
                100.0
            } else {
                100.0 * self.compact_bytes as f64 / self.bytes_before as f64
            }
        )
    }
}

fn check_output_name(out: &Path) -> anyhow::Result<()> {
    let ok = out.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "parquet" | "arrow" | "feather"
        )
    });
    if !ok {
        anyhow::bail!(
            "{}: output must end in .parquet, .arrow or .feather",
            out.display()
        );
    }
    Ok(())
}

/// Runs `membound optimize`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    check_output_name(&args.out)?;
    if args.path.as_os_str() == "-" {
        anyhow::bail!(
            "optimize reads its input twice (to settle the types, then to write): save standard \
             input to a file first, or use `membound stream -`"
        );
    }
    // Refuses a FIFO, device, symlink or directory as OUT, and the input itself (same device
    // and inode), before any work; the temporary file is removed if anything fails.
    let out_file = OutputFile::create(&args.out, &[&args.path])?;
    let loader = args.loader.builder()?.optimize(false).build()?;
    let opts = if args.tighter {
        OptimizeOptions::default().tighter()
    } else {
        OptimizeOptions::default()
    };
    let settled = settle(&loader, &args.path, opts)?;
    let row_group_bytes = MAX_ROW_GROUP_BYTES.min(loader.memory_limit() / 8);
    let writer = Writer::create(&args.out, out_file, &settled.final_schema, row_group_bytes)?;
    let (after, rows, compact_bytes) = write_all(&loader, &args.path, &settled, writer)?;
    let report = Report::new(&args, &settled, &after, rows, compact_bytes);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        report.render(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
