//! Workbooks (`.xlsx`, `.xlsm`, `.xlsb`, `.xls`, `.ods`) through calamine.
//!
//! calamine decodes a whole sheet at once, so a sheet's cells are in memory while it streams;
//! the Arrow batches are still built one chunk at a time. The first row holds the column names;
//! each column's type is inferred from all its cells.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use calamine::{Data, Range, Reader, open_workbook_auto};

use super::{BatchSource, OpenRequest, days_from_civil, projection_indices};
use crate::error::{Result, StreamError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty,
    Bool,
    Int,
    Float,
    DateTime,
    Text,
}

fn kind(cell: &Data) -> Kind {
    match cell {
        Data::Empty => Kind::Empty,
        Data::Bool(_) => Kind::Bool,
        Data::Int(_) => Kind::Int,
        // Spreadsheets store whole numbers as floats; keep them integers when they are.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Kind::Int,
        Data::Float(_) => Kind::Float,
        Data::DateTime(d) if d.is_datetime() => Kind::DateTime,
        Data::DateTime(_) => Kind::Float,
        Data::String(s) if s.is_empty() => Kind::Empty,
        Data::String(_) | Data::DateTimeIso(_) | Data::DurationIso(_) | Data::Error(_) => {
            Kind::Text
        }
    }
}

fn merge(a: Kind, b: Kind) -> Kind {
    match (a, b) {
        (x, y) if x == y => x,
        (Kind::Empty, x) | (x, Kind::Empty) => x,
        (Kind::Int | Kind::Float, Kind::Int | Kind::Float) => Kind::Float,
        _ => Kind::Text,
    }
}

fn cell_text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::String(s) if s.is_empty() => None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn millis(cell: &Data) -> Option<i64> {
    let Data::DateTime(d) = cell else { return None };
    let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
    let days = days_from_civil(i64::from(y), i64::from(mo), i64::from(da));
    Some(
        ((days * 24 + i64::from(h)) * 60 + i64::from(mi)) * 60_000
            + i64::from(s) * 1000
            + i64::from(ms),
    )
}

/// One sheet of a workbook.
pub(crate) struct WorkbookSource {
    path: PathBuf,
    range: Range<Data>,
    columns: Vec<(usize, Kind)>,
    schema: SchemaRef,
    next_row: usize,
    end_row: usize,
    target: Arc<AtomicUsize>,
    total: u64,
}

impl WorkbookSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Self> {
        crate::guard::contain(req.path, "workbook", || Self::open_contained(req))
    }

    fn open_contained(req: &OpenRequest<'_>) -> Result<Self> {
        let path = req.path;
        let total = std::fs::metadata(path)
            .map_err(|e| StreamError::io(path, "cannot open", e))?
            .len();
        let wb_err = |e: &dyn std::fmt::Display| StreamError::Workbook {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut book = open_workbook_auto(path).map_err(|e| wb_err(&e))?;
        let names = book.sheet_names();
        let sheet = match req.sheet {
            Some(s) => {
                if !names.iter().any(|n| n == s) {
                    return Err(StreamError::UnknownSheet {
                        path: path.to_path_buf(),
                        sheet: s.to_owned(),
                        available: names.join(", "),
                    });
                }
                s.to_owned()
            }
            None => names
                .first()
                .cloned()
                .ok_or_else(|| wb_err(&"the workbook has no sheets"))?,
        };
        let range = book.worksheet_range(&sheet).map_err(|e| wb_err(&e))?;
        let (height, width) = (range.height(), range.width());
        let header: Vec<String> = (0..width)
            .map(|c| {
                range
                    .get((0, c))
                    .and_then(cell_text)
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("column_{}", c + 1))
            })
            .collect();
        let mut kinds = vec![Kind::Empty; width];
        for row in range.rows().skip(1) {
            for (k, cell) in kinds.iter_mut().zip(row) {
                *k = merge(*k, kind(cell));
            }
        }
        let mut names = header;
        let mut seen = std::collections::HashSet::new();
        for n in &mut names {
            let base = n.clone();
            let mut i = 1;
            while !seen.insert(n.clone()) {
                *n = format!("{base}.{i}");
                i += 1;
            }
        }
        let selected: Vec<usize> = match req.projection {
            Some(p) => projection_indices(path, &names, p)?,
            None => (0..width).collect(),
        };
        let columns: Vec<(usize, Kind)> = selected
            .iter()
            .map(|&c| (c, kinds.get(c).copied().unwrap_or(Kind::Empty)))
            .collect();
        let fields: Vec<Field> = columns
            .iter()
            .map(|&(c, k)| {
                let t = match k {
                    Kind::Empty | Kind::Text => DataType::Utf8,
                    Kind::Bool => DataType::Boolean,
                    Kind::Int => DataType::Int64,
                    Kind::Float => DataType::Float64,
                    Kind::DateTime => DataType::Timestamp(TimeUnit::Millisecond, None),
                };
                Field::new(names.get(c).cloned().unwrap_or_default(), t, true)
            })
            .collect();
        let end_row = match req.limit {
            Some(l) => height.min(l.saturating_add(1)),
            None => height,
        };
        Ok(Self {
            path: path.to_path_buf(),
            range,
            columns,
            schema: Arc::new(Schema::new(fields)),
            next_row: 1,
            end_row,
            target: req.target_rows.clone(),
            total,
        })
    }

    fn build(&self, from: usize, to: usize) -> Result<RecordBatch> {
        let cell = |r: usize, c: usize| self.range.get((r, c)).unwrap_or(&Data::Empty);
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&(c, k)| -> ArrayRef {
                match k {
                    Kind::Bool => {
                        let mut b = BooleanBuilder::with_capacity(to - from);
                        (from..to).for_each(|r| {
                            b.append_option(if let Data::Bool(v) = cell(r, c) {
                                Some(*v)
                            } else {
                                None
                            })
                        });
                        Arc::new(b.finish())
                    }
                    Kind::Int => {
                        let mut b = Int64Builder::with_capacity(to - from);
                        (from..to).for_each(|r| {
                            b.append_option(match cell(r, c) {
                                Data::Int(v) => Some(*v),
                                Data::Float(f) => Some(*f as i64),
                                _ => None,
                            });
                        });
                        Arc::new(b.finish())
                    }
                    Kind::Float => {
                        let mut b = Float64Builder::with_capacity(to - from);
                        (from..to).for_each(|r| {
                            b.append_option(match cell(r, c) {
                                Data::Int(v) => Some(*v as f64),
                                Data::Float(f) => Some(*f),
                                Data::DateTime(d) => Some(d.as_f64()),
                                _ => None,
                            });
                        });
                        Arc::new(b.finish())
                    }
                    Kind::DateTime => {
                        let mut b = TimestampMillisecondBuilder::with_capacity(to - from);
                        (from..to).for_each(|r| b.append_option(millis(cell(r, c))));
                        Arc::new(b.finish())
                    }
                    Kind::Empty | Kind::Text => {
                        let mut b = StringBuilder::new();
                        (from..to).for_each(|r| b.append_option(cell_text(cell(r, c))));
                        Arc::new(b.finish())
                    }
                }
            })
            .collect();
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(to - from)),
        )
        .map_err(|e| StreamError::arrow(&self.path, "building a batch from a sheet", e))
    }
}

impl BatchSource for WorkbookSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.next_row >= self.end_row {
            return None;
        }
        let n = self.target.load(Ordering::Relaxed).max(1);
        let from = self.next_row;
        let to = from.saturating_add(n).min(self.end_row);
        self.next_row = to;
        Some(self.build(from, to))
    }

    fn bytes_read(&self) -> u64 {
        if self.end_row <= 1 {
            return self.total;
        }
        let frac = (self.next_row.saturating_sub(1)) as f64 / (self.end_row - 1) as f64;
        (frac.min(1.0) * self.total as f64) as u64
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}
