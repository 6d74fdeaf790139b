//! One text column held as FSST codes: the symbol table, one code string per row (an Arrow
//! binary array: offsets, codes, nulls) and the column's decoded size.
//!
//! FSST (Boncz, Neumann, Leis, VLDB 2020) replaces frequent substrings of up to 8 bytes by
//! one-byte codes from a table of at most 255 symbols; a byte not in the table is written as
//! an escape code and the byte itself. Every row is compressed on its own, so any row decodes
//! from its own codes and the table, and the codes of consecutive rows decode to the
//! concatenation of their texts.

use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, GenericBinaryArray, GenericStringArray, LargeStringArray,
    OffsetSizeTrait, StringArray, StringViewArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use fsst::{Compressor, Decompressor, Symbol};

use crate::error::OptimizeError;

/// A borrowed string column in any of Arrow's three layouts.
#[derive(Clone, Copy)]
pub(crate) enum Text<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Text<'a> {
    /// The column as text, or `None` when it is not `Utf8`, `LargeUtf8` or `Utf8View`.
    pub(crate) fn of(array: &'a dyn Array) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => array.as_string_opt::<i32>().map(Self::Utf8),
            DataType::LargeUtf8 => array.as_string_opt::<i64>().map(Self::Large),
            DataType::Utf8View => array.as_string_view_opt().map(Self::View),
            _ => None,
        }
    }

    fn array(self) -> &'a dyn Array {
        match self {
            Self::Utf8(a) => a,
            Self::Large(a) => a,
            Self::View(a) => a,
        }
    }

    pub(crate) fn len(self) -> usize {
        self.array().len()
    }

    /// Row `i` as a string, `None` for a null or a row past the end.
    pub(crate) fn get(self, i: usize) -> Option<&'a str> {
        if i >= self.len() || self.array().is_null(i) {
            return None;
        }
        Some(match self {
            Self::Utf8(a) => a.value(i),
            Self::Large(a) => a.value(i),
            Self::View(a) => a.value(i),
        })
    }

    /// Row `i`'s bytes; empty for a null (whatever lies under it).
    fn bytes(self, i: usize) -> &'a [u8] {
        self.get(i).map_or(&[], str::as_bytes)
    }

    /// Bytes of all non-null values together.
    fn plain_bytes(self) -> usize {
        (0..self.len()).map(|i| self.bytes(i).len()).sum()
    }

    /// The column's nulls in a buffer of its own (a slice's nulls would keep the whole input
    /// bitmap alive); `None` without nulls.
    fn own_nulls(self) -> Option<NullBuffer> {
        let nulls = self.array().nulls().filter(|n| n.null_count() > 0)?;
        Some(NullBuffer::new(BooleanBuffer::collect_bool(
            nulls.len(),
            |i| nulls.is_valid(i),
        )))
    }
}

/// Bytes one symbol table takes: 255 symbols of 8 bytes, their lengths and the count.
pub(crate) const SYMBOL_TABLE_BYTES: usize = 255 * size_of::<Symbol>() + 255 + 1;

/// A trained symbol table: what decoding needs (the compressor's lookup tables, about 160 KB,
/// are rebuilt from it when a later chunk reuses it).
#[derive(Clone)]
pub(crate) struct SymbolTable {
    symbols: [Symbol; 255],
    lengths: [u8; 255],
    n_symbols: u8,
}

impl SymbolTable {
    fn of(compressor: &Compressor) -> Self {
        let mut symbols = [Symbol::ZERO; 255];
        let mut lengths = [0u8; 255];
        for ((s, l), (&sym, &len)) in symbols.iter_mut().zip(lengths.iter_mut()).zip(
            compressor
                .symbol_table()
                .iter()
                .zip(compressor.symbol_lengths()),
        ) {
            *s = sym;
            *l = len;
        }
        Self {
            symbols,
            lengths,
            n_symbols: u8::try_from(compressor.n_symbols()).unwrap_or(u8::MAX),
        }
    }

    pub(crate) fn decompressor(&self) -> Decompressor<'_> {
        Decompressor::new(&self.symbols, &self.lengths)
    }

    /// A compressor using exactly this table (codes in the same order).
    fn compressor(&self) -> Compressor {
        let n = usize::from(self.n_symbols);
        Compressor::rebuild_from(&self.symbols[..n], &self.lengths[..n])
    }
}

/// A table trained on an earlier chunk and the ratio it reached on that chunk's sample.
#[derive(Clone)]
pub(crate) struct Trained {
    table: Arc<SymbolTable>,
    ratio: f64,
}

/// What a column of a [`CompactTable`](super::CompactTable) remembers between chunks.
#[derive(Clone, Default)]
pub(crate) struct ColumnState {
    trained: Option<Trained>,
    /// Tables trained for this column so far (the first one included).
    pub(crate) trainings: usize,
}

/// Settings of [`compress_column`], from [`CompactOptions`](super::CompactOptions).
pub(crate) struct Settings {
    pub(crate) sample_bytes: usize,
    pub(crate) max_ratio: f64,
    pub(crate) retrain_drift: f64,
}

/// Most bytes of one value a training sample takes (FSST's own sampler cuts lines there).
const SAMPLE_LINE: usize = 512;
/// Most values a training sample takes.
const SAMPLE_VALUES: usize = 4096;
/// Rows compressed per call of the bulk compressor (bounds its temporary slice list).
const GROUP_ROWS: usize = 1024;

/// Up to `max_bytes` of the column's non-empty values, from rows spread evenly over it, each
/// cut at [`SAMPLE_LINE`] bytes. Allocates at most [`SAMPLE_VALUES`] slices.
pub(crate) fn sample(text: Text<'_>, plain: usize, max_bytes: usize) -> Vec<&[u8]> {
    let rows = text.len();
    let avg = (plain / rows.max(1)).clamp(1, SAMPLE_LINE);
    let want = (max_bytes / avg).clamp(1, SAMPLE_VALUES).min(rows);
    let step = (rows / want.max(1)).max(1);
    let mut out = Vec::with_capacity(want);
    let mut total = 0usize;
    for i in (0..rows).step_by(step) {
        if total >= max_bytes || out.len() >= want {
            break;
        }
        let v = text.bytes(i);
        let take = v.len().min(SAMPLE_LINE).min(max_bytes - total);
        if let Some(v) = v.get(..take).filter(|v| !v.is_empty()) {
            total += v.len();
            out.push(v);
        }
    }
    out
}

/// Compressed bytes over plain bytes of `values` (1 for an empty sample).
fn ratio(compressor: &Compressor, values: &[&[u8]]) -> f64 {
    let plain: usize = values.iter().map(|v| v.len()).sum();
    if plain == 0 {
        return 1.0;
    }
    let mut codes = Vec::new();
    let mut ends = Vec::with_capacity(values.len());
    compressor
        .compress_bulk_into::<{ Compressor::DEFAULT_BULK_LANES }>(values, &mut codes, &mut ends);
    #[expect(clippy::cast_precision_loss, reason = "a ratio of byte counts")]
    let r = codes.len() as f64 / plain as f64;
    r
}

/// The two offset widths of the codes.
#[derive(Clone)]
enum Codes {
    Small(GenericBinaryArray<i32>),
    Large(GenericBinaryArray<i64>),
}

impl Codes {
    fn array(&self) -> &dyn Array {
        match self {
            Self::Small(a) => a,
            Self::Large(a) => a,
        }
    }

    /// Row `i`'s codes (empty for a null); the caller checks `i < len`.
    fn value(&self, i: usize) -> &[u8] {
        match self {
            Self::Small(a) => a.value(i),
            Self::Large(a) => a.value(i),
        }
    }
}

/// A text column as FSST codes.
#[derive(Clone)]
pub(crate) struct FsstColumn {
    table: Arc<SymbolTable>,
    codes: Codes,
    /// Bytes of the decoded non-null values together.
    plain_bytes: usize,
    /// The column's type before compression, which decoding gives back.
    data_type: DataType,
}

impl FsstColumn {
    /// The codes array (offsets, codes and nulls), for memory accounting.
    pub(crate) fn codes_array(&self) -> &dyn Array {
        self.codes.array()
    }

    /// The symbol table, shared by the chunks that reuse it.
    pub(crate) fn table(&self) -> &Arc<SymbolTable> {
        &self.table
    }

    pub(crate) fn data_type(&self) -> &DataType {
        &self.data_type
    }

    /// Bytes of the decoded text (non-null values).
    pub(crate) fn plain_bytes(&self) -> usize {
        self.plain_bytes
    }

    /// Bytes of codes (without offsets or nulls).
    pub(crate) fn code_bytes(&self) -> usize {
        match &self.codes {
            Codes::Small(a) => a.value_data().len(),
            Codes::Large(a) => a.value_data().len(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.codes.array().len()
    }

    pub(crate) fn is_null(&self, row: usize) -> bool {
        self.codes.array().is_null(row)
    }

    /// Appends row `row`'s text to `out` (nothing for a null); the caller checks the row.
    pub(crate) fn decode_row_str(&self, row: usize, out: &mut String) {
        // SAFETY: the row's codes were made by `encode` from a `str` with this table and
        // decode to exactly its bytes, so `out` stays UTF-8 (its old content is kept).
        let bytes = unsafe { out.as_mut_vec() };
        let start = bytes.len();
        self.decode_row_into(row, bytes);
        debug_assert!(std::str::from_utf8(&bytes[start..]).is_ok());
    }

    /// Appends row `row`'s text to `out` (nothing for a null); the caller checks the row.
    fn decode_row_into(&self, row: usize, out: &mut Vec<u8>) {
        let codes = self.codes.value(row);
        let dec = self.table.decompressor();
        out.reserve(dec.max_decompression_capacity(codes));
        let start = out.len();
        let written = dec.decompress_into(codes, out.spare_capacity_mut());
        // SAFETY: `decompress_into` initialised the first `written` bytes of the spare
        // capacity, which start at `out[start]`, and `reserve` made room for all of them.
        unsafe { out.set_len(start + written) };
    }

    /// The whole column back in its original type.
    pub(crate) fn decode(&self) -> Result<ArrayRef, OptimizeError> {
        Ok(match &self.data_type {
            DataType::LargeUtf8 => Arc::new(self.decode_strings::<i64>()?),
            DataType::Utf8View => {
                let strings: ArrayRef = if i32::try_from(self.plain_bytes).is_ok() {
                    Arc::new(self.decode_strings::<i32>()?)
                } else {
                    Arc::new(self.decode_strings::<i64>()?)
                };
                crate::batch::cast_column(&strings, &DataType::Utf8View, "decoded text")?
            }
            _ => Arc::new(self.decode_strings::<i32>()?),
        })
    }

    fn decode_strings<O: OffsetSizeTrait>(&self) -> Result<GenericStringArray<O>, OptimizeError> {
        let rows = self.len();
        let dec = self.table.decompressor();
        let mut data: Vec<u8> = Vec::with_capacity(self.plain_bytes);
        let mut offsets: Vec<O> = Vec::with_capacity(rows + 1);
        offsets.push(O::usize_as(0));
        let mut pos = 0usize;
        {
            let spare = data.spare_capacity_mut();
            for row in 0..rows {
                let out = spare
                    .get_mut(pos..)
                    .ok_or_else(|| internal("decoded text overflows its size"))?;
                pos += dec.decompress_into(self.codes.value(row), out);
                offsets.push(
                    O::from_usize(pos)
                        .ok_or_else(|| internal("decoded text overflows its offsets"))?,
                );
            }
        }
        // SAFETY: each `decompress_into` call initialised the bytes it reported, starting where
        // the previous row ended, so `data[..pos]` is initialised; `pos` is within the capacity
        // because every call wrote into the spare slice.
        unsafe { data.set_len(pos) };
        if pos != self.plain_bytes {
            return Err(internal(
                "decoded text differs in size from the text compressed",
            ));
        }
        debug_assert!(std::str::from_utf8(&data).is_ok());
        let nulls = self.codes.array().nulls().cloned();
        // The offsets start at 0, never decrease (each row adds what it decoded) and end at
        // `data.len()`; there is one more than there are rows, as many as the nulls cover.
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        // SAFETY: the offsets are valid for `data` (above). Every row's codes were made by
        // `encode` from a `str` with this table, and FSST decodes exactly what it encoded (the
        // sizes agree, checked above), so each row's bytes and their concatenation are the
        // original UTF-8: validating them again would only cost time.
        Ok(unsafe {
            GenericStringArray::<O>::new_unchecked(offsets, Buffer::from_vec(data), nulls)
        })
    }
}

fn internal(what: &str) -> OptimizeError {
    OptimizeError::arrow(
        "decoding an FSST text column",
        ArrowError::ComputeError(what.to_owned()),
    )
}

/// Compresses `column` (a text column of type `data_type`) when FSST pays: the trained (or
/// reused) table's codes on a sample must be at most `max_ratio` of the plain sample, and the
/// whole result at most `max_ratio` of `plain_size`, the bytes the plain column holds.
/// `None` keeps the column plain.
pub(crate) fn compress_column(
    text: Text<'_>,
    plain_size: usize,
    settings: &Settings,
    state: &mut ColumnState,
) -> Result<Option<FsstColumn>, OptimizeError> {
    let plain = text.plain_bytes();
    if plain == 0 {
        return Ok(None);
    }
    let values = sample(text, plain, settings.sample_bytes);
    let reused = state.trained.as_ref().and_then(|t| {
        let compressor = t.table.compressor();
        let r = ratio(&compressor, &values);
        (r <= t.ratio + settings.retrain_drift).then(|| (compressor, Arc::clone(&t.table)))
    });
    let (compressor, table) = match reused {
        Some(found) => found,
        None => {
            let compressor = Compressor::train(&values);
            let r = ratio(&compressor, &values);
            state.trainings += 1;
            if r > settings.max_ratio {
                state.trained = None;
                return Ok(None);
            }
            let table = Arc::new(SymbolTable::of(&compressor));
            state.trained = Some(Trained {
                table: Arc::clone(&table),
                ratio: r,
            });
            (compressor, table)
        }
    };
    let codes = if plain.saturating_mul(2) < i32::MAX as usize {
        Codes::Small(encode::<i32>(text, &compressor)?)
    } else {
        Codes::Large(encode::<i64>(text, &compressor)?)
    };
    let column = FsstColumn {
        table,
        codes,
        plain_bytes: plain,
        data_type: text.array().data_type().clone(),
    };
    let held = crate::size::array_memory_size(column.codes_array()) + SYMBOL_TABLE_BYTES;
    #[expect(clippy::cast_precision_loss, reason = "a ratio of byte counts")]
    let pays = held as f64 <= settings.max_ratio * plain_size as f64;
    Ok(pays.then_some(column))
}

/// Every row's codes, in a binary array with `O` offsets; nulls kept (with empty codes).
fn encode<O: OffsetSizeTrait>(
    text: Text<'_>,
    compressor: &Compressor,
) -> Result<GenericBinaryArray<O>, OptimizeError> {
    let rows = text.len();
    let mut codes = Vec::new();
    let mut offsets: Vec<O> = Vec::with_capacity(rows + 1);
    offsets.push(O::usize_as(0));
    let mut group: Vec<&[u8]> = Vec::with_capacity(GROUP_ROWS.min(rows));
    let mut ends: Vec<u64> = Vec::with_capacity(GROUP_ROWS.min(rows));
    for start in (0..rows).step_by(GROUP_ROWS) {
        group.clear();
        ends.clear();
        group.extend((start..rows.min(start + GROUP_ROWS)).map(|i| text.bytes(i)));
        compressor.compress_bulk_into::<{ Compressor::DEFAULT_BULK_LANES }>(
            &group, &mut codes, &mut ends,
        );
        for &end in &ends {
            let end = usize::try_from(end)
                .ok()
                .and_then(O::from_usize)
                .ok_or_else(|| internal("codes overflow their offsets"))?;
            offsets.push(end);
        }
    }
    codes.shrink_to_fit();
    GenericBinaryArray::<O>::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(codes),
        text.own_nulls(),
    )
    .map_err(|e| OptimizeError::arrow("building an FSST text column", e))
}
