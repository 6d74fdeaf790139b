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
use super::structural::Structural;

/// The slot of a column the projection leaves out.
const NOT_WANTED: u32 = u32::MAX;

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
    /// Per field of a record, its position in `wanted` ([`NOT_WANTED`] when not projected).
    slots: Vec<u32>,
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
        if [delimiter, opts.quote]
            .iter()
            .any(|c| matches!(c, b'\n' | b'\r'))
        {
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
        let mut slots = vec![NOT_WANTED; schema.fields().len()];
        for (slot, &(i, _)) in wanted.iter().enumerate() {
            *slots.get_mut(i)? = u32::try_from(slot).ok()?;
        }
        Some(Self {
            columns: schema.fields().len(),
            wanted,
            slots,
            projected,
            delimiter,
            quote: opts.quote,
        })
    }
}

/// Field positions of a block, reused across blocks on a thread.
#[derive(Default)]
struct Scratch {
    /// Per projected column, `(start, end)` of its field in each record; positions at or past
    /// the text's length are in `unescaped` (shifted by the text's length).
    columns: Vec<Vec<(u32, u32)>>,
    /// Quoted fields with doubled quotes, unescaped.
    unescaped: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A field's text: in the block, or unescaped after it.
#[derive(Clone, Copy)]
struct Fields<'a> {
    text: &'a str,
    unescaped: &'a str,
}

impl<'a> Fields<'a> {
    #[inline]
    fn get(&self, (start, end): (u32, u32)) -> Option<&'a str> {
        let (start, end) = (start as usize, end as usize);
        let n = self.text.len();
        if start >= n {
            self.unescaped.get(start - n..end - n)
        } else {
            self.text.get(start..end)
        }
    }
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
        let Scratch { columns, unescaped } = &mut *scratch;
        columns.resize_with(plan.wanted.len(), Vec::new);
        columns.truncate(plan.wanted.len());
        columns.iter_mut().for_each(Vec::clear);
        unescaped.clear();
        let rows = tokenize(plan, text, columns, unescaped)?;
        if rows == 0 {
            return Some(None);
        }
        let fields = Fields {
            text,
            unescaped: unescaped.as_str(),
        };
        let is_null = |s: &str| match null_regex {
            Some(r) => r.is_match(s),
            None => s.is_empty(),
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(plan.wanted.len());
        for (&(_, kind), positions) in plan.wanted.iter().zip(columns.iter()) {
            arrays.push(build(kind, positions, fields, &is_null)?);
        }
        let options = RecordBatchOptions::new()
            .with_match_field_names(true)
            .with_row_count(Some(rows));
        RecordBatch::try_new_with_options(plan.projected.clone(), arrays, &options)
            .ok()
            .map(Some)
    })
}

/// One column's array from its fields' positions.
fn build(
    kind: Kind,
    positions: &[(u32, u32)],
    fields: Fields<'_>,
    is_null: &dyn Fn(&str) -> bool,
) -> Option<ArrayRef> {
    let rows = positions.len();
    let values = positions.iter().map(|&p| fields.get(p));
    Some(match kind {
        Kind::Utf8 => {
            let bytes: usize = positions.iter().map(|&(s, e)| (e - s) as usize).sum();
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
        Kind::Int64 => primitive::<Int64Type>(values, rows, is_null, parse::int64)?,
        Kind::UInt64 => primitive::<UInt64Type>(values, rows, is_null, parse::uint64)?,
        Kind::Float64 => primitive::<Float64Type>(values, rows, is_null, parse::float64)?,
        Kind::Date32 => primitive::<Date32Type>(values, rows, is_null, parse::date32)?,
        Kind::Timestamp(unit) => {
            let p = |s: &str| parse::timestamp(s, unit);
            match unit {
                TimeUnit::Second => primitive::<TimestampSecondType>(values, rows, is_null, p)?,
                TimeUnit::Millisecond => {
                    primitive::<TimestampMillisecondType>(values, rows, is_null, p)?
                }
                TimeUnit::Microsecond => {
                    primitive::<TimestampMicrosecondType>(values, rows, is_null, p)?
                }
                TimeUnit::Nanosecond => {
                    primitive::<TimestampNanosecondType>(values, rows, is_null, p)?
                }
            }
        }
        Kind::Null => Arc::new(NullArray::new(rows)),
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

/// Cuts `text` into fields (see the module's documentation), keeping the projected columns'
/// positions; the number of records, or `None` to leave the block to arrow-csv.
fn tokenize(
    plan: &Plan,
    text: &str,
    columns: &mut [Vec<(u32, u32)>],
    unescaped: &mut String,
) -> Option<usize> {
    let b = text.as_bytes();
    let n = b.len();
    let (delimiter, quote) = (plan.delimiter, plan.quote);
    let mut structural = Structural::new(b, delimiter, quote);
    let at = |i: usize| b.get(i).copied();
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
        let mut field = 0usize;
        loop {
            let (from, to) = if at(i) == Some(quote) {
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
                // After the closing quote: only a delimiter, a line break or the end.
                if let Some(c) = at(i)
                    && c != delimiter
                    && c != b'\n'
                    && c != b'\r'
                {
                    return None;
                }
                if owned {
                    unescaped.push_str(text.get(piece..end)?);
                    (n + owned_from, n + unescaped.len())
                } else {
                    (start, end)
                }
            } else {
                let start = i;
                // Up to the next delimiter or line break; a quote inside an unquoted field is
                // data.
                i = structural.next(i);
                while at(i) == Some(quote) {
                    i = structural.next(i + 1);
                }
                (start, i)
            };
            if let Some(&slot) = plan.slots.get(field) {
                if slot != NOT_WANTED {
                    let column = columns.get_mut(slot as usize)?;
                    column.push((u32::try_from(from).ok()?, u32::try_from(to).ok()?));
                }
            } else {
                // More fields than columns.
                return None;
            }
            field += 1;
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
        if field != plan.columns {
            return None;
        }
        rows += 1;
    }
    Some(rows)
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
