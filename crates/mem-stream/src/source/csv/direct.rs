//! The direct CSV decoder: one block's text, validated as UTF-8 once, is cut into fields and each
//! projected column is parsed straight into its Arrow array, with no intermediate string
//! records. Field positions and unescaped quoted fields live in per-thread buffers reused from
//! block to block.
//!
//! It reads what csv-core (arrow-csv's tokenizer) reads with this crate's settings and no escape
//! or comment character: CR, LF and CRLF end records, blank lines are no records, a quote opens
//! a quoted field only at the field's start and a doubled quote inside one is a literal quote.
//! It gives up (returns `None`, and the caller decodes the block with arrow-csv, which then
//! reports what is wrong in its own words) on anything else: a byte after a closing quote, an
//! unterminated quote, a record with the wrong number of fields, invalid UTF-8, a value that does
//! not parse, a column type it does not build. Values are parsed by [`fast_parse`], which agrees
//! with arrow-csv value for value, and nulls are the empty field or the null regex, as there.

use std::cell::RefCell;
use std::sync::Arc;

use arrow::array::NullBufferBuilder;
use arrow::array::{
    ArrayRef, BooleanBuilder, NullArray, PrimitiveArray, RecordBatch, RecordBatchOptions,
    StringBuilder,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Float64Type, Int64Type, SchemaRef, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt64Type,
};

use super::fast_parse as parse;

/// Bytes of an unquoted field looked at one by one before the rest is searched with memchr.
const SHORT_FIELD: usize = 24;

/// A column the direct decoder builds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Utf8,
    Boolean,
    Int64,
    UInt64,
    Float64,
    Date32,
    Timestamp(TimeUnit),
    Null,
}

/// What the direct decoder needs to know of a file, decided once.
#[derive(Debug)]
pub(super) struct Plan {
    /// Fields per record.
    columns: usize,
    /// The projected columns: their index in the record and their kind.
    wanted: Vec<(usize, Kind)>,
    projected: SchemaRef,
    delimiter: u8,
    quote: u8,
}

impl Plan {
    /// A plan when the dialect and every projected column type are ones this decoder reads.
    pub(super) fn new(
        schema: &SchemaRef,
        projection: Option<&[usize]>,
        delimiter: u8,
        opts: &crate::options::CsvOptions,
    ) -> Option<Self> {
        if opts.escape.is_some() || opts.comment.is_some() {
            return None;
        }
        if !delimiter.is_ascii() || !opts.quote.is_ascii() || delimiter == opts.quote {
            return None;
        }
        let all: Vec<usize> = (0..schema.fields().len()).collect();
        let indices = projection.unwrap_or(&all);
        let wanted = indices
            .iter()
            .map(|&i| {
                let kind = match schema.fields().get(i)?.data_type() {
                    DataType::Utf8 => Kind::Utf8,
                    DataType::Boolean => Kind::Boolean,
                    DataType::Int64 => Kind::Int64,
                    DataType::UInt64 => Kind::UInt64,
                    DataType::Float64 => Kind::Float64,
                    DataType::Date32 => Kind::Date32,
                    DataType::Timestamp(unit, None) => Kind::Timestamp(*unit),
                    DataType::Null => Kind::Null,
                    _ => return None,
                };
                Some((i, kind))
            })
            .collect::<Option<Vec<_>>>()?;
        let projected = Arc::new(schema.project(indices).ok()?);
        Some(Self {
            columns: schema.fields().len(),
            wanted,
            projected,
            delimiter,
            quote: opts.quote,
        })
    }
}

/// Field positions of a block, reused across blocks on a thread.
#[derive(Default)]
struct Scratch {
    /// `(start, end)` of every field, record after record; positions at or past the text's
    /// length are in `unescaped` (shifted by the text's length).
    fields: Vec<(u32, u32)>,
    /// Quoted fields with doubled quotes, unescaped.
    unescaped: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Decodes `data`, or `None` when arrow-csv should (see the module's documentation). `Some(None)`:
/// the block holds no records.
pub(super) fn decode(
    plan: &Plan,
    null_regex: Option<&regex::Regex>,
    data: &[u8],
) -> Option<Option<RecordBatch>> {
    let text = std::str::from_utf8(data).ok()?;
    // Positions are u32, and `unescaped` follows the text.
    if text.len() >= (u32::MAX / 2) as usize {
        return None;
    }
    SCRATCH.with(|cell| {
        let mut scratch = cell.try_borrow_mut().ok()?;
        let Scratch { fields, unescaped } = &mut *scratch;
        fields.clear();
        unescaped.clear();
        let rows = tokenize(plan, text, fields, unescaped)?;
        if rows == 0 {
            return Some(None);
        }
        let field = |row: usize, col: usize| -> Option<&str> {
            let &(start, end) = fields.get(row * plan.columns + col)?;
            let (start, end) = (start as usize, end as usize);
            if start >= text.len() {
                unescaped.get(start - text.len()..end - text.len())
            } else {
                text.get(start..end)
            }
        };
        let is_null = |s: &str| match null_regex {
            Some(r) => r.is_match(s),
            None => s.is_empty(),
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(plan.wanted.len());
        for &(col, kind) in &plan.wanted {
            let values = (0..rows).map(|r| field(r, col));
            let array: ArrayRef = match kind {
                Kind::Utf8 => {
                    let bytes: usize = (0..rows)
                        .map(|r| {
                            fields
                                .get(r * plan.columns + col)
                                .map_or(0, |&(s, e)| (e - s) as usize)
                        })
                        .sum();
                    if bytes > i32::MAX as usize {
                        return None;
                    }
                    let mut b = StringBuilder::with_capacity(rows, bytes);
                    for v in values {
                        let v = v?;
                        if is_null(v) {
                            b.append_null();
                        } else {
                            b.append_value(v);
                        }
                    }
                    Arc::new(b.finish())
                }
                Kind::Boolean => {
                    let mut b = BooleanBuilder::with_capacity(rows);
                    for v in values {
                        let v = v?;
                        if is_null(v) {
                            b.append_null();
                        } else {
                            b.append_value(parse::boolean(v)?);
                        }
                    }
                    Arc::new(b.finish())
                }
                Kind::Int64 => primitive::<Int64Type>(values, rows, &is_null, parse::int64)?,
                Kind::UInt64 => primitive::<UInt64Type>(values, rows, &is_null, parse::uint64)?,
                Kind::Float64 => primitive::<Float64Type>(values, rows, &is_null, parse::float64)?,
                Kind::Date32 => primitive::<Date32Type>(values, rows, &is_null, parse::date32)?,
                Kind::Timestamp(unit) => {
                    let p = |s: &str| parse::timestamp(s, unit);
                    match unit {
                        TimeUnit::Second => {
                            primitive::<TimestampSecondType>(values, rows, &is_null, p)?
                        }
                        TimeUnit::Millisecond => {
                            primitive::<TimestampMillisecondType>(values, rows, &is_null, p)?
                        }
                        TimeUnit::Microsecond => {
                            primitive::<TimestampMicrosecondType>(values, rows, &is_null, p)?
                        }
                        TimeUnit::Nanosecond => {
                            primitive::<TimestampNanosecondType>(values, rows, &is_null, p)?
                        }
                    }
                }
                Kind::Null => Arc::new(NullArray::new(rows)),
            };
            arrays.push(array);
        }
        let options = RecordBatchOptions::new()
            .with_match_field_names(true)
            .with_row_count(Some(rows));
        RecordBatch::try_new_with_options(plan.projected.clone(), arrays, &options)
            .ok()
            .map(Some)
    })
}

/// A primitive column: every non-null value must parse.
fn primitive<'a, T: ArrowPrimitiveType>(
    values: impl Iterator<Item = Option<&'a str>>,
    rows: usize,
    is_null: &dyn Fn(&str) -> bool,
    parse: impl Fn(&str) -> Option<T::Native>,
) -> Option<ArrayRef> {
    let mut out: Vec<T::Native> = Vec::with_capacity(rows);
    let mut nulls = NullBufferBuilder::new(rows);
    for v in values {
        let v = v?;
        if is_null(v) {
            out.push(T::Native::default());
            nulls.append_null();
        } else {
            out.push(parse(v)?);
            nulls.append_non_null();
        }
    }
    let array = PrimitiveArray::<T>::try_new(out.into(), nulls.finish()).ok()?;
    Some(Arc::new(array))
}

/// Cuts `text` into fields (see the module's documentation); the number of records, or `None`
/// to leave the block to arrow-csv.
fn tokenize(
    plan: &Plan,
    text: &str,
    fields: &mut Vec<(u32, u32)>,
    unescaped: &mut String,
) -> Option<usize> {
    let b = text.as_bytes();
    let n = b.len();
    let (delimiter, quote) = (plan.delimiter, plan.quote);
    // Bytes that end an unquoted field.
    let mut stop = [false; 256];
    for c in [delimiter, b'\n', b'\r'] {
        if let Some(s) = stop.get_mut(usize::from(c)) {
            *s = true;
        }
    }
    let at = |i: usize| b.get(i).copied();
    let stops = |c: u8| stop.get(usize::from(c)).copied().unwrap_or(false);
    let mut rows = 0usize;
    let mut i = 0usize;
    loop {
        // A record starts: line breaks here are blank lines.
        while matches!(at(i), Some(b'\n' | b'\r')) {
            i += 1;
        }
        if i >= n {
            break;
        }
        let first = fields.len();
        loop {
            if at(i) == Some(quote) {
                i += 1;
                let start = i;
                let mut piece = start;
                let owned_from = unescaped.len();
                let mut owned = false;
                let end = loop {
                    let q = i + memchr::memchr(quote, b.get(i..)?)?;
                    if at(q + 1) == Some(quote) {
                        // A doubled quote: keep one.
                        unescaped.push_str(text.get(piece..=q)?);
                        owned = true;
                        i = q + 2;
                        piece = i;
                    } else {
                        i = q + 1;
                        break q;
                    }
                };
                let (from, to) = if owned {
                    unescaped.push_str(text.get(piece..end)?);
                    (n + owned_from, n + unescaped.len())
                } else {
                    (start, end)
                };
                fields.push((u32::try_from(from).ok()?, u32::try_from(to).ok()?));
                // After the closing quote: only a delimiter, a line break or the end.
                if let Some(c) = at(i)
                    && !stops(c)
                {
                    return None;
                }
            } else {
                let start = i;
                // Short fields (numbers, dates) end within a few bytes: a table lookup per
                // byte; past that, long text is searched with memchr.
                let short_end = (i + SHORT_FIELD).min(n);
                while i < short_end && !at(i).is_some_and(stops) {
                    i += 1;
                }
                if i == short_end && i < n {
                    i = memchr::memchr3(delimiter, b'\n', b'\r', b.get(i..)?).map_or(n, |k| i + k);
                }
                fields.push((u32::try_from(start).ok()?, u32::try_from(i).ok()?));
            }
            match at(i) {
                Some(c) if c == delimiter => i += 1,
                Some(_) => {
                    // CR or LF: the record ends.
                    i += 1;
                    break;
                }
                None => break,
            }
        }
        if fields.len() - first != plan.columns {
            return None;
        }
        rows += 1;
    }
    Some(rows)
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
