//! The generated tables: CSV, TSV and gzip CSV of the same rows, Arrow IPC files (plain and
//! LZ4) and stream, Parquet (plain and Snappy, several row groups and pages).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::ipc::CompressionType;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{Format, Seed};
use crate::fuzz::rng::Rng;

/// The generator seed of the corpus (independent of `--seed`, which only drives mutations).
const CORPUS_SEED: u64 = 0x6d65_6d62_6f75_6e64;
/// Rows of the generated tables.
const ROWS: usize = 300;

/// One generated row: every kind of cell the readers must handle.
struct Row {
    id: i64,
    count: Option<i32>,
    value: Option<f64>,
    name: Option<String>,
    flag: bool,
}

/// `ROWS` rows with nulls, negative and large numbers, and strings holding the delimiter,
/// quotes and newlines.
fn rows() -> Vec<Row> {
    const WORDS: [&str; 8] = [
        "plain",
        "with, comma",
        "say \"hi\"",
        "two\nlines",
        "tab\there",
        "ünïcødé ✓",
        "",
        "trailing space ",
    ];
    let mut rng = Rng::new(CORPUS_SEED);
    (0..ROWS)
        .map(|i| {
            let id = i64::try_from(i).unwrap_or(0);
            let count = (!rng.percent(8))
                .then(|| i32::try_from(rng.below(2_000_000)).unwrap_or(0) - 1_000_000);
            let value = (!rng.percent(8)).then(|| {
                let cents = i32::try_from(rng.below(10_000_000)).unwrap_or(0) - 5_000_000;
                f64::from(cents) / 100.0
            });
            let name = (!rng.percent(10)).then(|| {
                let a = rng.pick(&WORDS).copied().unwrap_or("x");
                let b = rng.pick(&WORDS).copied().unwrap_or("y");
                format!("{a} {i} {b}")
            });
            Row {
                id,
                count,
                value,
                name,
                flag: rng.percent(50),
            }
        })
        .collect()
}

/// One CSV field, quoted when it must be.
fn field(out: &mut String, text: &str, delimiter: char) {
    if text.contains([delimiter, '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// The rows as delimited text with a header; nulls are empty fields.
fn delimited(rows: &[Row], delimiter: char) -> String {
    let d = delimiter;
    let mut s = format!("id{d}count{d}value{d}name{d}flag\n");
    for r in rows {
        let count = r.count.map(|c| c.to_string()).unwrap_or_default();
        let value = r.value.map(|v| v.to_string()).unwrap_or_default();
        let _ = write!(s, "{}{d}{count}{d}{value}{d}", r.id);
        field(&mut s, r.name.as_deref().unwrap_or(""), d);
        let _ = writeln!(s, "{d}{}", r.flag);
    }
    s
}

/// The rows as one Arrow batch.
fn batch(rows: &[Row]) -> anyhow::Result<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("count", DataType::Int32, true),
        Field::new("value", DataType::Float64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
        Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.count))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.value))),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.name.as_deref()),
        )),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.flag)))),
    ];
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Writes the generated CSV, TSV, gzip CSV, Arrow IPC files and stream, and Parquet files.
pub(super) fn generate(root: &Path) -> anyhow::Result<Vec<Seed>> {
    let rows = rows();
    let mut seeds = Vec::new();
    let mut put = |name: &str, format: Format, bytes: &[u8]| -> anyhow::Result<()> {
        let path = root.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        seeds.push(Seed::new(path, format));
        Ok(())
    };
    let csv = delimited(&rows, ',');
    put("gen.csv", Format::Csv, csv.as_bytes())?;
    put("gen.tsv", Format::Tsv, delimited(&rows, '\t').as_bytes())?;
    put("gen.csv.gz", Format::CsvGz, &gzip(csv.as_bytes())?)?;

    let batch = batch(&rows)?;
    // Three batches of 100 rows: several messages, record-batch blocks and row groups.
    let parts: Vec<RecordBatch> = (0..3).map(|i| batch.slice(i * 100, 100)).collect();
    put("gen.feather", Format::ArrowFile, &ipc_file(&parts, None)?)?;
    let lz4 = ipc_file(&parts, Some(CompressionType::LZ4_FRAME))?;
    put("gen-lz4.arrow", Format::ArrowFile, &lz4)?;
    put("gen.arrows", Format::ArrowStream, &ipc_stream(&parts)?)?;

    let plain = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(Some(100))
        .build();
    put(
        "gen-plain.parquet",
        Format::Parquet,
        &parquet(&parts, plain)?,
    )?;
    let snappy = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(100))
        .set_data_page_row_count_limit(25)
        .build();
    put(
        "gen-snappy.parquet",
        Format::Parquet,
        &parquet(&parts, snappy)?,
    )?;
    Ok(seeds)
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

/// `parts` as an Arrow IPC file (Feather v2), optionally compressed.
fn ipc_file(
    parts: &[RecordBatch],
    compression: Option<CompressionType>,
) -> anyhow::Result<Vec<u8>> {
    let schema = parts.first().context("no batches")?.schema();
    let options = IpcWriteOptions::default().try_with_compression(compression)?;
    let mut w = FileWriter::try_new_with_options(Vec::new(), &schema, options)?;
    for b in parts {
        w.write(b)?;
    }
    w.finish()?;
    Ok(w.into_inner()?)
}

/// `parts` as an Arrow IPC stream.
fn ipc_stream(parts: &[RecordBatch]) -> anyhow::Result<Vec<u8>> {
    let schema = parts.first().context("no batches")?.schema();
    let mut w = StreamWriter::try_new(Vec::new(), &schema)?;
    for b in parts {
        w.write(b)?;
    }
    w.finish()?;
    Ok(w.into_inner()?)
}

/// `parts` as a Parquet file written with `props`.
fn parquet(parts: &[RecordBatch], props: WriterProperties) -> anyhow::Result<Vec<u8>> {
    let schema = parts.first().context("no batches")?.schema();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(props))?;
    for b in parts {
        w.write(b)?;
    }
    Ok(w.into_inner()?)
}
