//! `memkit preview PATH [--rows N] [--columns a,b] [--sheet NAME] [--json]`: the first rows,
//! reading only what they need.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, UInt64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use mem_stream::StreamingLoader;
use serde_json::{Value, json};

/// Arguments of `memkit preview`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to preview.
    path: PathBuf,
    /// How many rows.
    #[arg(long, default_value_t = 10)]
    rows: usize,
    /// Only these columns, comma-separated.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// The sheet of a workbook (default: the first).
    #[arg(long)]
    sheet: Option<String>,
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

/// Runs `memkit preview`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut b = StreamingLoader::builder();
    if let Some(c) = &args.columns {
        b = b.with_projection(c.iter().map(|s| s.trim().to_owned()));
    }
    if let Some(s) = &args.sheet {
        b = b.with_sheet(s.clone());
    }
    let loader = b.build()?;
    let (batch, _meta) = loader.sample(&args.path, args.rows)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let columns = batch
            .columns()
            .iter()
            .map(column_values)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rows: Vec<Value> = (0..batch.num_rows())
            .map(|r| {
                Value::Array(
                    columns
                        .iter()
                        .map(|c| c.get(r).cloned().unwrap_or(Value::Null))
                        .collect(),
                )
            })
            .collect();
        serde_json::to_writer(&mut out, &json!({"columns": names, "rows": rows}))?;
        writeln!(out)?;
    } else {
        let columns = batch
            .columns()
            .iter()
            .map(printable)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let fields: Vec<_> = batch
            .schema_ref()
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        let batch = arrow::record_batch::RecordBatch::try_new(
            std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
        )?;
        writeln!(
            out,
            "{}",
            arrow::util::pretty::pretty_format_batches(&[batch])?
        )?;
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
