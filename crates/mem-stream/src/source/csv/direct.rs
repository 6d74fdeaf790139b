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

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};

use super::columns::{ColumnBuilder, Fields};
use super::structural::Structural;

/// Bytes of a block cut into fields and decoded at a time: the slice's text and field positions
/// stay in the processor's (level 2) cache between the two passes.
const SLICE_BYTES: usize = 128 << 10;

/// The slot of a column the projection leaves out.
const NOT_WANTED: u32 = u32::MAX;

/// A column the direct decoder builds.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
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

/// Decodes `data`, or `None` when arrow-csv should (see the module's documentation). `Some(None)`:
/// the block holds no records.
///
/// The block is decoded in slices of about [`SLICE_BYTES`]: each slice is cut into fields and its
/// values appended to the column builders while its text is still in the processor's cache.
pub(super) fn decode(
    plan: &Plan,
    null_regex: Option<&regex::Regex>,
    data: &[u8],
) -> Option<Option<RecordBatch>> {
    decode_in_slices(plan, null_regex, data, SLICE_BYTES)
}

/// [`decode`] with slices of `slice_bytes` (tests use tiny ones).
fn decode_in_slices(
    plan: &Plan,
    null_regex: Option<&regex::Regex>,
    data: &[u8],
    slice_bytes: usize,
) -> Option<Option<RecordBatch>> {
    let text = std::str::from_utf8(data).ok()?;
    // Positions are u32, and `unescaped` follows the text.
    if text.len() >= (u32::MAX / 2) as usize {
        return None;
    }
    let is_null = |s: &str| match null_regex {
        Some(r) => r.is_match(s),
        None => s.is_empty(),
    };
    SCRATCH.with(|cell| {
        let mut scratch = cell.try_borrow_mut().ok()?;
        let Scratch { columns, unescaped } = &mut *scratch;
        columns.resize_with(plan.wanted.len(), Vec::new);
        columns.truncate(plan.wanted.len());
        let mut builders: Vec<ColumnBuilder> = Vec::new();
        let mut structural = Structural::new(text.as_bytes(), plan.delimiter, plan.quote);
        let (mut rows, mut at) = (0usize, 0usize);
        while at < text.len() {
            columns.iter_mut().for_each(Vec::clear);
            unescaped.clear();
            let from = at;
            let slice_rows = tokenize(
                plan,
                text,
                &mut structural,
                &mut at,
                from.saturating_add(slice_bytes.max(1)),
                columns,
                unescaped,
            )?;
            if slice_rows == 0 {
                continue;
            }
            if builders.is_empty() {
                // Sized for the whole block from the first slice, by its share of the text.
                let scale = |v: usize| {
                    let v = v as f64 * text.len() as f64 / (at - from).max(1) as f64;
                    (v * 1.05) as usize + 16
                };
                builders = plan
                    .wanted
                    .iter()
                    .zip(columns.iter())
                    .map(|(&(_, kind), positions)| {
                        let bytes: usize = positions.iter().map(|&(s, e)| (e - s) as usize).sum();
                        ColumnBuilder::new(kind, scale(slice_rows), scale(bytes))
                    })
                    .collect();
            }
            let fields = Fields {
                text,
                unescaped: unescaped.as_str(),
            };
            for (builder, positions) in builders.iter_mut().zip(columns.iter()) {
                builder.append(positions, fields, &is_null)?;
            }
            rows += slice_rows;
        }
        if rows == 0 {
            return Some(None);
        }
        let arrays = builders
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect::<Option<Vec<ArrayRef>>>()?;
        let options = RecordBatchOptions::new()
            .with_match_field_names(true)
            .with_row_count(Some(rows));
        RecordBatch::try_new_with_options(plan.projected.clone(), arrays, &options)
            .ok()
            .map(Some)
    })
}

/// Cuts `text` into fields (see the module's documentation) from `*pos`, keeping the projected
/// columns' positions, up to the end of the record that reaches `until`; moves `*pos` past it.
/// The number of records, or `None` to leave the block to arrow-csv.
fn tokenize(
    plan: &Plan,
    text: &str,
    structural: &mut Structural<'_>,
    pos: &mut usize,
    until: usize,
    columns: &mut [Vec<(u32, u32)>],
    unescaped: &mut String,
) -> Option<usize> {
    let b = text.as_bytes();
    let n = b.len();
    let (delimiter, quote) = (plan.delimiter, plan.quote);
    let at = |i: usize| b.get(i).copied();
    let mut rows = 0usize;
    let mut i = *pos;
    while i < until {
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
    *pos = i;
    Some(rows)
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
