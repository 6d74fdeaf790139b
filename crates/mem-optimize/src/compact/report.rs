//! What a compact batch or table holds, column by column.

use std::fmt;

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

/// How a column of a [`CompactBatch`](super::CompactBatch) is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactEncoding {
    /// An Arrow array, optimised by [`optimize_batch`](crate::optimize_batch) unless disabled.
    Arrow,
    /// FSST codes (one code string per row, in an Arrow binary array) and a symbol table.
    Fsst,
    /// Some chunks of a [`CompactTable`](super::CompactTable) hold the column one way, some
    /// the other.
    Mixed,
}

/// One column of a [`CompactReport`].
///
/// With serde the types are their `Display` strings (`"Utf8"`, `"Dictionary(Int8, Utf8)"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactColumnReport {
    /// The column name.
    pub name: String,
    /// The column's type, which decoding gives back.
    #[serde(with = "crate::serde_arrow::data_type")]
    pub data_type: DataType,
    /// The type held: the optimised Arrow type, or `data_type` for an FSST column (of the
    /// first chunk, in a table).
    #[serde(with = "crate::serde_arrow::data_type")]
    pub stored_type: DataType,
    /// How the column is held.
    pub encoding: CompactEncoding,
    /// Bytes the input column held as given
    /// ([`array_memory_size`](crate::array_memory_size)).
    pub arrow_bytes: u64,
    /// Bytes the column holds now: every buffer, offsets, nulls and symbol tables included.
    pub compact_bytes: u64,
    /// Of `compact_bytes`, the symbol tables (about 2.3 KB each; a table reused by later
    /// chunks counts once).
    pub symbol_table_bytes: u64,
    /// Bytes of the text itself (non-null values) of the FSST chunks; 0 for Arrow columns.
    pub text_bytes: u64,
    /// Bytes of FSST codes for that text (without offsets or nulls); 0 for Arrow columns.
    pub code_bytes: u64,
    /// Symbol tables trained for the column (a table reuses one while the ratio holds).
    pub trainings: u64,
}

impl CompactColumnReport {
    /// `compact_bytes / arrow_bytes` (1 for an empty column).
    #[must_use]
    pub fn ratio(&self) -> f64 {
        ratio(self.compact_bytes, self.arrow_bytes)
    }
}

/// Bytes held by a [`CompactBatch`](super::CompactBatch) or
/// [`CompactTable`](super::CompactTable), per column and in total.
///
/// The totals count each buffer once: `compact_bytes` is
/// [`memory_size`](super::CompactBatch::memory_size), and `arrow_bytes` the input batches'
/// [`batch_memory_size`](crate::batch_memory_size), so the columns may add up to a little
/// more when columns share buffers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompactReport {
    /// Rows held.
    pub rows: u64,
    /// One entry per column, in schema order.
    pub columns: Vec<CompactColumnReport>,
    /// Bytes the input batches held as given.
    pub arrow_bytes: u64,
    /// Bytes held in compact form.
    pub compact_bytes: u64,
}

impl CompactReport {
    /// `compact_bytes / arrow_bytes` (1 for an empty input).
    #[must_use]
    pub fn ratio(&self) -> f64 {
        ratio(self.compact_bytes, self.arrow_bytes)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 1.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "a ratio of byte counts")]
    let r = part as f64 / whole as f64;
    r
}

impl fmt::Display for CompactReport {
    /// A plain-text table: column, type, encoding, bytes as Arrow -> compact, then the total.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = crate::report::name_width(self.columns.iter().map(|c| c.name.as_str()));
        for c in &self.columns {
            writeln!(
                f,
                "{:<width$}  {:<24} {:<6} {:>12} -> {:>12} ({:.2})",
                c.name,
                c.data_type.to_string(),
                format!("{:?}", c.encoding).to_lowercase(),
                mem_monitor::format_bytes(c.arrow_bytes),
                mem_monitor::format_bytes(c.compact_bytes),
                c.ratio(),
            )?;
        }
        write!(
            f,
            "{:<width$}  {:<24} {:<6} {:>12} -> {:>12} ({:.2})",
            "total",
            "",
            "",
            mem_monitor::format_bytes(self.arrow_bytes),
            mem_monitor::format_bytes(self.compact_bytes),
            self.ratio(),
        )
    }
}
