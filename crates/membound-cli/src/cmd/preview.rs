//! `membound preview PATH|- [--rows N] [--columns a,b] [--memory-limit-mb M] [CSV and format
//! flags] [--json]`: the first rows, reading only what they need.
//!
//! The rows shown hold at most a chunk's worth of decoded data (8 MiB, less under a small
//! memory limit); when the rows asked for would take more, fewer are shown and a note on stderr
//! says so. Output is written a page of rows at a time, so it costs no more than the rows.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use mem_stream::StreamingLoader;

use super::input::{Input, ReadArgs, advise, advise_item};
use serde_json::Value;

/// Arguments of `membound preview`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to preview; `-` reads CSV (or `--format tsv|arrows`) from standard input.
    path: PathBuf,
    /// How many rows.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    /// Only these columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Memory limit in MB; the rows shown hold at most a sixteenth of it, and 8 MiB (default
    /// 2000, or `MEMBOUND_MAX_MEMORY_MB` / `BERTOPIC_MAX_MEMORY_MB`).
    #[arg(long)]
    memory_limit_mb: Option<f64>,
    #[command(flatten)]
    read: ReadArgs,
    /// One JSON object `{"columns":[..],"rows":[[..],..]}` instead of a table.
    #[arg(long)]
    json: bool,
}

/// One column turned into JSON values: numbers, booleans, strings or null.
fn column_values(array: &ArrayRef) -> anyhow::Result<Vec<Value>> {
    let n = array.len();
    let nulls = |i: usize| array.is_null(i);
    Ok(match array.data_type() {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let a = arrow::compute::cast(array, &DataType::Int64)?;
            a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map_or(Value::Null, Value::from))
                .collect()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let a = arrow::compute::cast(array, &DataType::UInt64)?;
            a.as_primitive::<UInt64Type>()
                .iter()
                .map(|v| v.map_or(Value::Null, Value::from))
                .collect()
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let a = arrow::compute::cast(array, &DataType::Float64)?;
            // NaN and infinities are not JSON numbers.
            a.as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.filter(|f| f.is_finite()).map_or(Value::Null, Value::from))
                .collect()
        }
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .map(|v| v.map_or(Value::Null, Value::from))
            .collect(),
        _ => {
            let printable = printable(array)?;
            let fmt = ArrayFormatter::try_new(printable.as_ref(), &FormatOptions::default())?;
            (0..n)
                .map(|i| {
                    if nulls(i) {
                        Value::Null
                    } else {
                        Value::from(fmt.value(i).to_string())
                    }
                })
                .collect()
        }
    })
}

/// Rows formatted at once: the table and JSON writers build per-cell structures.
const PAGE_ROWS: usize = 1000;

/// Runs `membound preview`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let memory_mb = match args.memory_limit_mb {
        Some(mb) => mb,
        None => super::input::config()?.max_memory_mb,
    };
    if !(memory_mb.is_finite() && memory_mb > 0.0) {
        anyhow::bail!("--memory-limit-mb must be a positive number, got {memory_mb}");
    }
    let mut b = args
        .read
        .apply(StreamingLoader::builder().memory_limit(mem_monitor::mb_to_bytes(memory_mb)));
    if let Some(c) = &args.columns {
        b = b.projection(c.iter().map(|s| s.trim().to_owned()));
    }
    let input = Input::new(&args.path);
    let (batch, cut) = match &input {
        Input::File(path) => {
            let loader = b.build()?;
            let (batch, meta) = loader.sample(path, args.rows).map_err(advise)?;
            let cut = batch.num_rows() < args.rows && meta.progress < 1.0;
            (batch, cut.then(|| loader.chunk_bytes()))
        }
        Input::Stdin => {
            // Standard input cannot be sampled twice: stream it, stopping at the rows wanted.
            let loader = b.limit(args.rows.max(1)).optimize(true).build()?;
            let mut stream = input.stream(&loader, args.read.format)?;
            let mut batches = Vec::new();
            for item in stream.by_ref() {
                batches.push(advise_item(item)?.0);
            }
            let batches = batches
                .iter()
                .map(|b| stream.conform(b))
                .collect::<Result<Vec<_>, _>>()?;
            let batch = arrow::compute::concat_batches(&stream.schema(), &batches)?;
            (batch.slice(0, batch.num_rows().min(args.rows)), None)
        }
    };
    if let Some(bytes) = cut {
        eprintln!(
            "note: {}: showing the first {} rows: a preview holds at most {} of data \
             (`membound stream` reads all rows)",
            input.name(),
            batch.num_rows(),
            mem_monitor::format_bytes(bytes)
        );
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let pages = (0..batch.num_rows().max(1))
        .step_by(PAGE_ROWS)
        .map(|start| batch.slice(start, PAGE_ROWS.min(batch.num_rows() - start)));
    if args.json {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        write!(out, "{{\"columns\":")?;
        serde_json::to_writer(&mut out, &names)?;
        write!(out, ",\"rows\":[")?;
        let mut first = true;
        for page in pages {
            let columns = page
                .columns()
                .iter()
                .map(column_values)
                .collect::<anyhow::Result<Vec<_>>>()?;
            for r in 0..page.num_rows() {
                let row: Vec<&Value> = columns
                    .iter()
                    .map(|c| c.get(r).unwrap_or(&Value::Null))
                    .collect();
                if !first {
                    write!(out, ",")?;
                }
                first = false;
                serde_json::to_writer(&mut out, &row)?;
            }
        }
        writeln!(out, "]}}")?;
    } else {
        for page in pages {
            let columns = page
                .columns()
                .iter()
                .map(printable)
                .collect::<anyhow::Result<Vec<_>>>()?;
            let fields: Vec<_> = page
                .schema_ref()
                .fields()
                .iter()
                .zip(&columns)
                .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
                .collect();
            let page = arrow::record_batch::RecordBatch::try_new_with_options(
                std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
                columns,
                &arrow::record_batch::RecordBatchOptions::new()
                    .with_row_count(Some(page.num_rows())),
            )?;
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(&[page])?
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The type with every named time zone dropped: Arrow formats named zones (`"UTC"`) only with the
/// chrono-tz feature; the instants are UTC either way.
fn without_time_zones(t: &DataType) -> DataType {
    use std::sync::Arc;
    let field = |f: &arrow::datatypes::FieldRef| {
        Arc::new(
            f.as_ref()
                .clone()
                .with_data_type(without_time_zones(f.data_type())),
        )
    };
    match t {
        DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, None),
        DataType::List(f) => DataType::List(field(f)),
        DataType::LargeList(f) => DataType::LargeList(field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
        DataType::Map(f, sorted) => DataType::Map(field(f), *sorted),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        DataType::Dictionary(k, v) => {
            DataType::Dictionary(k.clone(), Box::new(without_time_zones(v)))
        }
        other => other.clone(),
    }
}

/// The column in a type Arrow can format (time zones dropped when needed).
fn printable(array: &ArrayRef) -> anyhow::Result<ArrayRef> {
    let plain = without_time_zones(array.data_type());
    if &plain == array.data_type() {
        return Ok(array.clone());
    }
    Ok(arrow::compute::cast(array, &plain)?)
}
