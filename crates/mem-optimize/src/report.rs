//! What `optimize_batch` changed, column by column.

use std::fmt;

use arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

/// One column's type and memory before and after optimisation.
///
/// With serde the types are their `Display` strings (`"Int64"`, `"Dictionary(Int8, Utf8)"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// The column name.
    pub name: String,
    /// The input type.
    #[serde(with = "crate::serde_arrow::data_type")]
    pub type_before: DataType,
    /// The output type (equal to `type_before` when the column was left alone).
    #[serde(with = "crate::serde_arrow::data_type")]
    pub type_after: DataType,
    /// Bytes held by the input column ([`array_memory_size`](crate::array_memory_size)).
    pub bytes_before: usize,
    /// Bytes held by the output column.
    pub bytes_after: usize,
}

impl ColumnReport {
    /// Whether the column's type changed.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.type_before != self.type_after
    }
}

/// Per-column types and bytes before and after, and the batch totals.
///
/// The totals are [`batch_memory_size`](crate::batch_memory_size) of the input and output
/// batches, so a buffer shared by several columns counts once (the column figures may add up
/// to more). Free text does not shrink by type: a table dominated by a unique-text column will
/// show a small [`reduction_fraction`](Self::reduction_fraction) however well the other
/// columns shrink.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptimizeReport {
    /// One entry per column, in schema order.
    pub columns: Vec<ColumnReport>,
    /// Bytes held by the input batch.
    pub bytes_before: usize,
    /// Bytes held by the output batch.
    pub bytes_after: usize,
}

impl OptimizeReport {
    /// The fraction of memory saved, `1 - after / before` (0 for an empty batch; negative if
    /// the output is larger, which lossless settings avoid except for tiny dictionaries).
    #[must_use]
    pub fn reduction_fraction(&self) -> f64 {
        if self.bytes_before == 0 {
            return 0.0;
        }
        #[expect(clippy::cast_precision_loss, reason = "a ratio of byte counts")]
        let ratio = self.bytes_after as f64 / self.bytes_before as f64;
        1.0 - ratio
    }

    /// Bytes saved (0 when the output is not smaller).
    #[must_use]
    pub fn bytes_saved(&self) -> usize {
        self.bytes_before.saturating_sub(self.bytes_after)
    }
}

/// Width of a report's name column: the longest name, at least 6 (for "total").
pub(crate) fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(6).max(6)
}

impl fmt::Display for OptimizeReport {
    /// A plain-text table: column, type before -> after, bytes before -> after, then the total.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = name_width(self.columns.iter().map(|c| c.name.as_str()));
        for c in &self.columns {
            writeln!(
                f,
                "{:<width$}  {:<28} -> {:<28} {:>12} -> {:>12}",
                c.name,
                c.type_before.to_string(),
                c.type_after.to_string(),
                mem_monitor::format_bytes(c.bytes_before as u64),
                mem_monitor::format_bytes(c.bytes_after as u64),
            )?;
        }
        write!(
            f,
            "{:<width$}  {:<28}    {:<28} {:>12} -> {:>12} ({:.1} % smaller)",
            "total",
            "",
            "",
            mem_monitor::format_bytes(self.bytes_before as u64),
            mem_monitor::format_bytes(self.bytes_after as u64),
            self.reduction_fraction() * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};

    use super::*;
    use crate::{OptimizeOptions, optimize_batch};

    #[test]
    fn a_report_serialises_with_readable_types_and_reads_back() {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from_iter_values(0..1000)) as _),
            ("x", Arc::new(Float64Array::from(vec![0.5; 1000])) as _),
            (
                "kind",
                Arc::new(StringArray::from_iter_values(
                    (0..1000).map(|i| ["a", "b"][i % 2]),
                )) as _,
            ),
        ])
        .unwrap();
        let (_, report) = optimize_batch(&batch, &OptimizeOptions::default()).unwrap();
        let json = serde_json::to_value(&report).unwrap();
        let types: Vec<(&str, &str)> = json["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["type_before"].as_str().unwrap(),
                    c["type_after"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            types,
            [
                ("Int64", "UInt16"),
                ("Float64", "Float32"),
                ("Utf8", "Dictionary(Int8, Utf8)")
            ]
        );
        assert_eq!(json["bytes_before"], report.bytes_before);
        let back: OptimizeReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }
}
