//! Column names and types from the first rows of a CSV file, and finding the value that broke them.

use std::path::Path;
use std::sync::Arc;

use arrow::compute::kernels::cast_utils::Parser;
use arrow::datatypes::{
    DataType, Date32Type, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType, UInt64Type,
};

use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::options::CsvOptions;

/// What inference learned from the head of the file.
#[derive(Debug)]
pub(crate) struct Head {
    /// Every column of the file, typed.
    pub schema: SchemaRef,
    /// Bytes of the header record (0 without a header).
    pub header_bytes: usize,
    /// Line feeds inside the header record.
    pub header_lines: u64,
    /// Rows the types were inferred from.
    pub rows: usize,
}

/// The narrowest type seen so far in a column. The order matters only for `merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    /// A non-negative integer that fits i64 (also fits u64).
    Int,
    /// A negative integer that fits i64.
    NegInt,
    /// An integer above i64::MAX that fits u64.
    UInt,
    /// Integers needing both signs and the range above i64::MAX.
    WideInt,
    Float,
    Date,
    Timestamp,
    Utf8,
}

fn classify(s: &str) -> Kind {
    if s.is_empty() {
        Kind::Null
    } else if let Some(v) = Int64Type::parse(s) {
        if v < 0 { Kind::NegInt } else { Kind::Int }
    } else if UInt64Type::parse(s).is_some() {
        Kind::UInt
    } else if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") {
        Kind::Bool
    } else if Float64Type::parse(s).is_some() && !s.bytes().all(|b| b.is_ascii_alphabetic())
        || is_special_float(s)
    {
        Kind::Float
    } else if s.len() <= 10 && Date32Type::parse(s).is_some() {
        Kind::Date
    } else if s.len() > 10
        && s.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && TimestampMicrosecondType::parse(s).is_some()
    {
        Kind::Timestamp
    } else {
        Kind::Utf8
    }
}

/// NaN and infinities, the spellings both people and Arrow's float parser use.
fn is_special_float(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    ["nan", "inf", "infinity"]
        .iter()
        .any(|w| t.eq_ignore_ascii_case(w))
        && Float64Type::parse(s).is_some()
}

fn merge(a: Kind, b: Kind) -> Kind {
    use Kind::{Date, Float, Int, NegInt, Null, Timestamp, UInt, Utf8, WideInt};
    match (a, b) {
        (x, y) if x == y => x,
        (Null, x) | (x, Null) => x,
        (Int, NegInt) | (NegInt, Int) => NegInt,
        (Int, UInt) | (UInt, Int) => UInt,
        (NegInt | UInt | WideInt, NegInt | UInt | WideInt) => WideInt,
        (Int | NegInt | UInt | WideInt | Float, Int | NegInt | UInt | WideInt | Float) => Float,
        (Date | Timestamp, Date | Timestamp) => Timestamp,
        _ => Utf8,
    }
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Null | Kind::Utf8 => DataType::Utf8,
        Kind::Bool => DataType::Boolean,
        Kind::Int | Kind::NegInt => DataType::Int64,
        Kind::UInt => DataType::UInt64,
        // Both signs beyond i64: a 20-digit decimal holds them all exactly.
        Kind::WideInt => DataType::Decimal128(20, 0),
        Kind::Float => DataType::Float64,
        Kind::Date => DataType::Date32,
        Kind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
    }
}

/// A reader of `data` with the options' dialect (quote, escape, comment), as Arrow's decoder
/// reads it.
pub(crate) fn csv_reader<'a>(
    data: &'a [u8],
    delimiter: u8,
    opts: &CsvOptions,
) -> csv::Reader<&'a [u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(opts.quote)
        .escape(opts.escape)
        .comment(opts.comment)
        .from_reader(data)
}

/// Bytes of text inference reads at most: the options' bound, within a record's share.
pub(crate) fn inference_bytes(opts: &CsvOptions, budget: &Budget) -> usize {
    opts.inference_bytes
        .min(usize::try_from(budget.record_max()).unwrap_or(usize::MAX))
}

/// Reads the header and infers types from `data`, which holds `complete` whole records
/// (the rest of `data`, if any, is a partial record and is ignored); refuses more columns than
/// the budget holds before building anything per column.
pub(crate) fn infer(
    path: &Path,
    data: &[u8],
    complete: usize,
    first_line: u64,
    delimiter: u8,
    opts: &CsvOptions,
    budget: &Budget,
) -> Result<Head> {
    let mut reader = csv_reader(data, delimiter, opts);
    let mut record = csv::ByteRecord::new();
    let mut names: Vec<String> = Vec::new();
    let mut header_bytes = 0;
    let mut header_lines = 0;
    let mut seen = 0usize;
    let read = |reader: &mut csv::Reader<&[u8]>, record: &mut csv::ByteRecord| {
        reader.read_byte_record(record).map_err(|e| {
            let line = e
                .position()
                .map(|p| first_line + p.line().saturating_sub(1));
            StreamError::malformed(path, line, format!("CSV: {e}"))
        })
    };
    if opts.has_header {
        if !read(&mut reader, &mut record)? {
            return Err(StreamError::malformed(
                path,
                None,
                "no header row: the file holds no records",
            ));
        }
        seen += 1;
        budget.check_columns(path, record.len())?;
        names = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_owned())
            .collect();
        header_bytes = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        // The CSV reader stops after the `\r` of a `\r\n` header end; the `\n` belongs to it.
        if header_bytes > 0
            && data.get(header_bytes - 1) == Some(&b'\r')
            && data.get(header_bytes) == Some(&b'\n')
        {
            header_bytes += 1;
        }
        header_lines = reader.position().line().saturating_sub(1);
    }
    let mut kinds: Vec<Kind> = vec![Kind::Null; names.len()];
    let mut rows = 0usize;
    let max_bytes = inference_bytes(opts, budget) as u64;
    while rows < opts.inference_rows
        && seen < complete
        && (rows == 0 || reader.position().byte() < max_bytes)
        && read(&mut reader, &mut record)?
    {
        seen += 1;
        if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
            continue; // a blank line
        }
        if names.is_empty() && !opts.has_header {
            budget.check_columns(path, record.len())?;
            names = (1..=record.len()).map(|i| format!("column_{i}")).collect();
            kinds = vec![Kind::Null; names.len()];
        }
        if record.len() != names.len() {
            let line = record
                .position()
                .map(|p| first_line + p.line().saturating_sub(1));
            return Err(StreamError::malformed(
                path,
                line,
                format!(
                    "has {} fields, but the header has {}",
                    record.len(),
                    names.len()
                ),
            ));
        }
        for (kind, field) in kinds.iter_mut().zip(record.iter()) {
            if *kind == Kind::Utf8 {
                continue;
            }
            let k = match std::str::from_utf8(field) {
                _ if opts.is_null(field) => Kind::Null,
                Ok(s) => classify(s),
                Err(_) => Kind::Utf8,
            };
            *kind = merge(*kind, k);
        }
        rows += 1;
    }
    if names.is_empty() {
        return Err(StreamError::malformed(path, None, "no columns found"));
    }
    dedupe(&mut names);
    let schema = match &opts.schema {
        Some(schema) => {
            if schema.fields().len() != names.len() {
                return Err(StreamError::InvalidConfig(format!(
                    "{}: the schema override has {} fields but the file has {} columns",
                    path.display(),
                    schema.fields().len(),
                    names.len()
                )));
            }
            schema.clone()
        }
        None => {
            let fields: Vec<Field> = names
                .iter()
                .zip(&kinds)
                .map(|(n, k)| {
                    let t = opts
                        .column_types
                        .get(n)
                        .cloned()
                        .unwrap_or_else(|| data_type(*k));
                    Field::new(n, t, true)
                })
                .collect();
            Arc::new(Schema::new(fields))
        }
    };
    Ok(Head {
        schema,
        header_bytes,
        header_lines,
        rows,
    })
}

/// Headers may repeat or be empty; columns must be addressable by name.
fn dedupe(names: &mut [String]) {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in names.iter_mut().enumerate() {
        if name.is_empty() {
            *name = format!("column_{}", i + 1);
        }
        let base = name.clone();
        let mut k = 1;
        while !seen.insert(name.clone()) {
            *name = format!("{base}.{k}");
            k += 1;
        }
    }
}

/// Whether `s` (not empty) parses as `t` the way the Arrow CSV decoder parses it.
fn fits(t: &DataType, s: &str) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Boolean => s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false"),
        DataType::Int64 => Int64Type::parse(s).is_some(),
        DataType::UInt64 => UInt64Type::parse(s).is_some(),
        DataType::Float64 => Float64Type::parse(s).is_some(),
        DataType::Date32 => Date32Type::parse(s).is_some(),
        DataType::Decimal128(_, 0) => {
            s.trim_start_matches(['-', '+'])
                .bytes()
                .all(|b| b.is_ascii_digit())
                && s.len() <= 21
        }
        DataType::Timestamp(_, _) => TimestampMicrosecondType::parse(s).is_some(),
        // Types only reachable through an override: defer to the decoder's own message.
        _ => true,
    }
}

/// Finds the first value in `block` that does not fit `schema` (or the first record that is
/// not UTF-8), for a precise error.
pub(crate) fn locate_mismatch(
    path: &Path,
    block: &[u8],
    first_line: u64,
    schema: &Schema,
    delimiter: u8,
    opts: &CsvOptions,
    inferred_rows: usize,
) -> Option<StreamError> {
    let mut reader = csv_reader(block, delimiter, opts);
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| first_line + p.line().saturating_sub(1));
                return Some(StreamError::malformed(path, line, format!("CSV: {e}")));
            }
        }
        let line = record
            .position()
            .map_or(first_line, |p| first_line + p.line().saturating_sub(1));
        if record.len() == 1 && record.get(0) == Some(b"") {
            continue;
        }
        if record.len() != schema.fields().len() {
            return Some(StreamError::malformed(
                path,
                Some(line),
                format!(
                    "has {} fields, but the header has {}",
                    record.len(),
                    schema.fields().len()
                ),
            ));
        }
        for (field, value) in schema.fields().iter().zip(record.iter()) {
            let Ok(text) = std::str::from_utf8(value) else {
                return Some(StreamError::InvalidUtf8 {
                    path: path.to_path_buf(),
                    line,
                });
            };
            if !opts.is_null(value) && !fits(field.data_type(), text) {
                return Some(StreamError::CsvValue {
                    path: path.to_path_buf(),
                    line,
                    column: field.name().clone(),
                    value: text.chars().take(80).collect(),
                    expected: field.data_type().clone(),
                    inference_rows: inferred_rows,
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "infer_tests.rs"]
mod tests;
