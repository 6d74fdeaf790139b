//! What `membound stream` reports, as typed values: one [`ChunkLine`] per chunk and a
//! [`StreamSummary`] at the end, serialised as JSON Lines or rendered as a table.

use std::io::Write;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int64Type, SchemaRef, UInt64Type};
use mem_stream::ChunkMetadata;
use serde::Serialize;

/// A number as its column holds it: float32 values keep their own precision (`1.1`, not
/// `1.100000023841858`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Num {
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float32 value.
    F32(f32),
    /// A float64 value.
    F64(f64),
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::UInt(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v}"),
            Self::F64(v) => write!(f, "{v}"),
        }
    }
}

/// Running statistics of one column.
#[derive(Debug, Default)]
pub struct ColumnStats {
    nulls: u64,
    min: Option<Num>,
    max: Option<Num>,
    sum: Option<f64>,
    /// Whether the column is float32 (its min, max and sum print at that precision).
    f32: bool,
}

fn pick(a: Option<Num>, b: Num, keep_a: impl Fn(&Num, &Num) -> bool) -> Option<Num> {
    Some(match a {
        Some(a) if keep_a(&a, &b) => a,
        _ => b,
    })
}

fn less(a: &Num, b: &Num) -> bool {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => a <= b,
        (Num::UInt(a), Num::UInt(b)) => a <= b,
        (Num::F32(a), Num::F32(b)) => a <= b,
        (Num::F64(a), Num::F64(b)) => a <= b,
        _ => false,
    }
}

impl ColumnStats {
    /// Adds one chunk's column.
    pub fn update(&mut self, array: &ArrayRef) -> anyhow::Result<()> {
        self.nulls += array.logical_null_count() as u64;
        let mut add = |v: f64| self.sum = Some(self.sum.unwrap_or(0.0) + v);
        let (mut lo, mut hi) = (self.min, self.max);
        match array.data_type() {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                let a = arrow::compute::cast(array, &DataType::Int64)?;
                for v in a.as_primitive::<Int64Type>().iter().flatten() {
                    lo = pick(lo, Num::Int(v), less);
                    hi = pick(hi, Num::Int(v), |a, b| less(b, a));
                    #[expect(clippy::cast_precision_loss, reason = "the sum is a float")]
                    add(v as f64);
                }
            }
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                let a = arrow::compute::cast(array, &DataType::UInt64)?;
                for v in a.as_primitive::<UInt64Type>().iter().flatten() {
                    lo = pick(lo, Num::UInt(v), less);
                    hi = pick(hi, Num::UInt(v), |a, b| less(b, a));
                    #[expect(clippy::cast_precision_loss, reason = "the sum is a float")]
                    add(v as f64);
                }
            }
            DataType::Float16 | DataType::Float32 => {
                self.f32 = true;
                let a = arrow::compute::cast(array, &DataType::Float32)?;
                for v in a.as_primitive::<Float32Type>().iter().flatten() {
                    if v.is_nan() {
                        continue;
                    }
                    lo = pick(lo, Num::F32(v), less);
                    hi = pick(hi, Num::F32(v), |a, b| less(b, a));
                    add(f64::from(v));
                }
            }
            DataType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                for v in a.iter().flatten().filter(|v| !v.is_nan()) {
                    lo = pick(lo, Num::F64(v), less);
                    hi = pick(hi, Num::F64(v), |a, b| less(b, a));
                    add(v);
                }
            }
            _ => {}
        }
        (self.min, self.max) = (lo, hi);
        Ok(())
    }

    fn finite(n: Option<Num>) -> Option<Num> {
        // Infinite values are not JSON numbers: reported as null.
        n.filter(|n| match n {
            Num::F32(v) => v.is_finite(),
            Num::F64(v) => v.is_finite(),
            _ => true,
        })
    }

    fn summary(&self, name: &str, source_type: &DataType, data_type: &DataType) -> ColumnSummary {
        #[expect(
            clippy::cast_possible_truncation,
            reason = "printed at the column's precision"
        )]
        let sum = self.sum.filter(|s| s.is_finite()).map(|s| {
            if self.f32 {
                Num::F32(s as f32)
            } else {
                Num::F64(s)
            }
        });
        ColumnSummary {
            name: name.to_owned(),
            source_type: source_type.to_string(),
            data_type: data_type.to_string(),
            null_count: self.nulls,
            min: Self::finite(self.min),
            max: Self::finite(self.max),
            sum,
        }
    }
}

/// One column of the summary.
#[derive(Debug, Serialize)]
pub struct ColumnSummary {
    /// The column's name.
    pub name: String,
    /// Its type in the file, as read.
    pub source_type: String,
    /// Its type in the chunks (after lossless shrinking).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Nulls in the whole stream.
    pub null_count: u64,
    /// Smallest number (numeric columns; NaN ignored; null when none or infinite).
    pub min: Option<Num>,
    /// Largest number.
    pub max: Option<Num>,
    /// Sum of the numbers.
    pub sum: Option<Num>,
}

/// One line of `--json` per chunk.
#[derive(Debug, Serialize)]
pub struct ChunkLine {
    #[serde(rename = "type")]
    kind: &'static str,
    index: usize,
    rows: usize,
    start_row: u64,
    bytes: usize,
    rss_mb: f64,
    progress: f64,
    chunk_size: usize,
    elapsed_ms: u64,
    schema_widened: bool,
}

/// Rounds bytes to MB with one decimal.
pub fn mb(bytes: u64) -> f64 {
    (mem_monitor::bytes_to_mb(bytes) * 10.0).round() / 10.0
}

impl From<&ChunkMetadata> for ChunkLine {
    fn from(m: &ChunkMetadata) -> Self {
        Self {
            kind: "chunk",
            index: m.index,
            rows: m.rows,
            start_row: m.start_row,
            bytes: m.bytes,
            rss_mb: mb(m.rss_bytes),
            progress: m.progress,
            chunk_size: m.chunk_size,
            elapsed_ms: u64::try_from(m.elapsed.as_millis()).unwrap_or(u64::MAX),
            schema_widened: m.schema_widened(),
        }
    }
}

/// A widening of the output schema, for the summary.
#[derive(Debug, Serialize)]
pub struct Widened {
    /// The chunk that widened it.
    pub chunk: usize,
    /// The column.
    pub column: String,
    /// Its type before.
    pub from: String,
    /// Its type after.
    pub to: String,
}

/// The last line of `--json`, and the table of the human output.
#[derive(Debug, Serialize)]
pub struct StreamSummary {
    #[serde(rename = "type")]
    kind: &'static str,
    /// What was streamed.
    pub input: String,
    /// Rows streamed.
    pub rows: u64,
    /// Chunks streamed.
    pub chunks: u64,
    /// Highest resident memory of the process, MB.
    pub peak_rss_mb: f64,
    /// Wall time, ms.
    pub elapsed_ms: u64,
    /// Per column, in the output's order.
    pub columns: Vec<ColumnSummary>,
    /// The largest chunk in memory, bytes.
    pub largest_chunk_bytes: usize,
    /// Every widening of the output schema.
    pub widenings: Vec<Widened>,
}

/// Statistics of a whole stream, one entry per column of the output schema.
#[derive(Debug, Default)]
pub struct Tally {
    stats: Vec<ColumnStats>,
    /// Rows so far.
    pub rows: u64,
    /// Chunks so far.
    pub chunks: u64,
    /// Highest RSS seen after a chunk.
    pub peak_rss: u64,
    /// Largest chunk, bytes.
    pub largest: usize,
    /// Widenings so far.
    pub widenings: Vec<Widened>,
}

impl Tally {
    /// Adds one chunk.
    pub fn add(
        &mut self,
        batch: &arrow::record_batch::RecordBatch,
        meta: &ChunkMetadata,
    ) -> anyhow::Result<()> {
        if self.stats.len() != batch.num_columns() {
            self.stats
                .resize_with(batch.num_columns(), ColumnStats::default);
        }
        for (s, col) in self.stats.iter_mut().zip(batch.columns()) {
            s.update(col)?;
        }
        self.rows += meta.rows as u64;
        self.chunks += 1;
        self.peak_rss = self.peak_rss.max(meta.rss_bytes);
        self.largest = self.largest.max(meta.bytes);
        self.widenings
            .extend(meta.widenings.iter().map(|w| Widened {
                chunk: meta.index,
                column: w.column.clone(),
                from: w.from.to_string(),
                to: w.to.to_string(),
            }));
        Ok(())
    }

    /// The summary, with the file's schema (`source`) beside the output's (`schema`).
    pub fn finish(
        self,
        input: String,
        source: &SchemaRef,
        schema: &SchemaRef,
        elapsed_ms: u64,
        peak_rss: u64,
    ) -> StreamSummary {
        let empty = ColumnStats::default();
        let columns = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let source_type = source
                    .field_with_name(f.name())
                    .map_or_else(|_| f.data_type().clone(), |s| s.data_type().clone());
                self.stats
                    .get(i)
                    .unwrap_or(&empty)
                    .summary(f.name(), &source_type, f.data_type())
            })
            .collect();
        StreamSummary {
            kind: "summary",
            input,
            rows: self.rows,
            chunks: self.chunks,
            peak_rss_mb: mb(self.peak_rss.max(peak_rss)),
            elapsed_ms,
            columns,
            largest_chunk_bytes: self.largest,
            widenings: self.widenings,
        }
    }
}

fn cell(n: Option<&Num>) -> String {
    n.map_or_else(|| "-".to_owned(), ToString::to_string)
}

impl StreamSummary {
    /// The human table: a line of totals, then one row per column with the file's type beside
    /// the optimised one (and min, max, sum with `stats`).
    pub fn render(&self, out: &mut impl Write, stats: bool) -> std::io::Result<()> {
        writeln!(
            out,
            "{}: {} rows in {} chunks, {:.2} s, peak RSS {:.1} MB, largest chunk {}",
            self.input,
            self.rows,
            self.chunks,
            self.elapsed_ms as f64 / 1000.0,
            self.peak_rss_mb,
            mem_monitor::format_bytes(self.largest_chunk_bytes as u64)
        )?;
        write!(
            out,
            "{:<28} {:<24} {:<24} {:>10}",
            "column", "file type", "type", "nulls"
        )?;
        if stats {
            write!(out, " {:>16} {:>16} {:>18}", "min", "max", "sum")?;
        }
        writeln!(out)?;
        for c in &self.columns {
            let same = if c.source_type == c.data_type {
                "="
            } else {
                &c.data_type
            };
            write!(
                out,
                "{:<28} {:<24} {:<24} {:>10}",
                c.name, c.source_type, same, c.null_count
            )?;
            if stats {
                write!(
                    out,
                    " {:>16} {:>16} {:>18}",
                    cell(c.min.as_ref()),
                    cell(c.max.as_ref()),
                    cell(c.sum.as_ref())
                )?;
            }
            writeln!(out)?;
        }
        for w in &self.widenings {
            writeln!(
                out,
                "schema widened at chunk {}: {} {} -> {}",
                w.chunk, w.column, w.from, w.to
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float32Array, Int16Array};

    use super::*;

    #[test]
    fn float32_keeps_its_precision_and_ints_their_kind() {
        let mut f = ColumnStats::default();
        let a: ArrayRef = Arc::new(Float32Array::from(vec![Some(1.1f32), None, Some(2.5)]));
        f.update(&a).unwrap();
        let s = f.summary("x", &DataType::Float64, &DataType::Float32);
        assert_eq!(serde_json::to_string(&s.min).unwrap(), "1.1");
        assert_eq!(s.max.unwrap().to_string(), "2.5");
        assert_eq!(s.null_count, 1);
        assert_eq!(s.source_type, "Float64");

        let mut i = ColumnStats::default();
        let a: ArrayRef = Arc::new(Int16Array::from(vec![-3, 7]));
        i.update(&a).unwrap();
        let s = i.summary("i", &DataType::Int64, &DataType::Int16);
        assert_eq!((s.min, s.max), (Some(Num::Int(-3)), Some(Num::Int(7))));
        assert_eq!(serde_json::to_string(&s.sum).unwrap(), "4.0");
    }
}
