//! `CompactBatch` and `CompactTable`: record batches whose text columns are held compressed
//! with a static symbol table (FSST), any row readable on its own, the whole batch decoded back
//! to Arrow on demand.

mod options;
mod report;
mod table;
mod text;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, SchemaRef, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};

pub use options::{CompactOptions, DEFAULT_SAMPLE_BYTES, MAX_SAMPLE_BYTES};
pub use report::{CompactColumnReport, CompactEncoding, CompactReport};
pub use table::CompactTable;

use self::text::{ColumnState, FsstColumn, SYMBOL_TABLE_BYTES, Text};
use crate::batch::{assemble, cast_column};
use crate::error::OptimizeError;
use crate::size::{array_memory_size, arrays_memory_size, batch_memory_size};

/// A record batch held in less memory: text columns (`Utf8`, `LargeUtf8`, `Utf8View`) as FSST
/// codes with a symbol table trained on a sample of the column, every other column as an Arrow
/// array shrunk by [`optimize_batch`](crate::optimize_batch).
///
/// - [`value`](Self::value) reads one row of a text column without decoding the rest (a
///   dictionary-encoded or plain text column is read in place).
/// - [`to_record_batch`](Self::to_record_batch) decodes the whole batch back to its original
///   schema, values and nulls exact (with lossless [`CompactOptions::optimize`], the default).
/// - [`memory_size`](Self::memory_size) counts every buffer held, offsets, nulls and symbol
///   tables included; [`report`](Self::report) gives it per column.
///
/// A text column whose sample does not compress below [`CompactOptions::max_ratio`] stays a
/// plain Arrow array. Columns left as they are share the input's buffers (an `Arc` clone).
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int64Array, RecordBatch, StringArray};
/// use mem_optimize::{CompactBatch, CompactEncoding, CompactOptions, batch_memory_size};
///
/// let words = ["memory", "budget", "stream", "arrow", "column", "symbol"];
/// let text = StringArray::from_iter((0..10_000).map(|i| {
///     (i % 100 != 0).then(|| format!("{} {} {} #{i}", words[i % 6], words[i % 5], words[i % 4]))
/// }));
/// let batch = RecordBatch::try_from_iter([
///     ("id", Arc::new(Int64Array::from_iter_values(0..10_000)) as _),
///     ("text", Arc::new(text) as _),
/// ])?;
/// let compact = CompactBatch::try_new(&batch, &CompactOptions::default())?;
///
/// assert_eq!(compact.value(1, 7)?.as_deref(), Some("budget stream arrow #7"));
/// assert_eq!(compact.value(1, 0)?, None); // a null
/// assert_eq!(compact.report().columns[1].encoding, CompactEncoding::Fsst);
/// assert!(compact.memory_size() < batch_memory_size(&batch) as u64 / 2);
/// assert_eq!(compact.to_record_batch()?, batch);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CompactBatch {
    schema: SchemaRef,
    rows: usize,
    columns: Vec<Column>,
    /// Bytes each input column held.
    arrow_bytes: Vec<u64>,
    /// Bytes the input batch held (shared buffers once).
    arrow_total: u64,
    /// Symbol tables trained for each column while building this batch (0 or 1).
    trainings: Vec<u64>,
}

/// One column as held.
#[derive(Clone)]
enum Column {
    Arrow(ArrayRef),
    Fsst(FsstColumn),
}

impl Column {
    /// The array holding the column's buffers (the codes for FSST).
    fn array(&self) -> &dyn Array {
        match self {
            Self::Arrow(a) => a.as_ref(),
            Self::Fsst(f) => f.codes_array(),
        }
    }

    fn fsst(&self) -> Option<&FsstColumn> {
        match self {
            Self::Fsst(f) => Some(f),
            Self::Arrow(_) => None,
        }
    }

    fn stored_type(&self) -> &DataType {
        match self {
            Self::Arrow(a) => a.data_type(),
            Self::Fsst(f) => f.data_type(),
        }
    }
}

impl std::fmt::Debug for CompactBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactBatch")
            .field("rows", &self.rows)
            .field("columns", &self.schema.fields().len())
            .field("memory_size", &self.memory_size())
            .finish_non_exhaustive()
    }
}

impl CompactBatch {
    /// Compacts `batch`: optimises it (unless [`CompactOptions::optimize`] is `None`), then
    /// compresses each text column where FSST pays.
    ///
    /// # Errors
    /// [`OptimizeError::InvalidConfig`] for invalid options; [`OptimizeError::Arrow`] if
    /// optimising or building a column fails.
    pub fn try_new(batch: &RecordBatch, options: &CompactOptions) -> Result<Self, OptimizeError> {
        options.validate()?;
        let mut states = vec![ColumnState::default(); batch.num_columns()];
        Self::build(batch, batch.schema(), options, &mut states)
    }

    /// Compacts `batch` (whose schema is `schema`), reusing and updating each column's trained
    /// table in `states`.
    pub(crate) fn build(
        batch: &RecordBatch,
        schema: SchemaRef,
        options: &CompactOptions,
        states: &mut [ColumnState],
    ) -> Result<Self, OptimizeError> {
        let arrow_bytes = batch
            .columns()
            .iter()
            .map(|c| array_memory_size(c.as_ref()) as u64)
            .collect();
        let arrow_total = batch_memory_size(batch) as u64;
        let optimized = match &options.optimize {
            Some(o) => crate::optimize_batch(batch, o)?.0,
            None => batch.clone(),
        };
        let settings = options.settings();
        let mut columns = Vec::with_capacity(optimized.num_columns());
        let mut trainings = Vec::with_capacity(optimized.num_columns());
        for (col, state) in optimized.columns().iter().zip(states.iter_mut()) {
            let before = state.trainings;
            let fsst = match Text::of(col.as_ref()) {
                Some(text) => {
                    text::compress_column(text, array_memory_size(col.as_ref()), &settings, state)?
                }
                None => None,
            };
            trainings.push((state.trainings - before) as u64);
            columns.push(fsst.map_or_else(|| Column::Arrow(Arc::clone(col)), Column::Fsst));
        }
        Ok(Self {
            schema,
            rows: batch.num_rows(),
            columns,
            arrow_bytes,
            arrow_total,
            trainings,
        })
    }

    /// The schema of the batch given, which [`to_record_batch`](Self::to_record_batch) gives
    /// back.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows held.
    #[must_use]
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Columns held.
    #[must_use]
    pub fn num_columns(&self) -> usize {
        self.columns.len()
    }

    /// Whether `column` is held as FSST codes (`false` also for a column past the end).
    #[must_use]
    pub fn is_compressed(&self, column: usize) -> bool {
        self.columns.get(column).is_some_and(|c| c.fsst().is_some())
    }

    fn column_ref(&self, column: usize) -> Result<&Column, OptimizeError> {
        self.columns.get(column).ok_or(OptimizeError::OutOfRange {
            what: "column",
            index: column,
            len: self.columns.len(),
        })
    }

    fn check_row(&self, row: usize) -> Result<(), OptimizeError> {
        if row < self.rows {
            Ok(())
        } else {
            Err(OptimizeError::OutOfRange {
                what: "row",
                index: row,
                len: self.rows,
            })
        }
    }

    /// Row `row` of text column `column`, decoding only that row: `None` for a null.
    ///
    /// FSST columns give an owned string; plain and dictionary-encoded text columns a borrowed
    /// one. To reuse one buffer across reads, see [`value_into`](Self::value_into).
    ///
    /// # Errors
    /// [`OptimizeError::OutOfRange`] for a column or row past the end;
    /// [`OptimizeError::Unsupported`] when the column does not hold text.
    pub fn value(&self, column: usize, row: usize) -> Result<Option<Cow<'_, str>>, OptimizeError> {
        let col = self.column_ref(column)?;
        self.check_row(row)?;
        match col {
            Column::Fsst(f) => {
                if f.is_null(row) {
                    return Ok(None);
                }
                let mut text = String::new();
                f.decode_row_str(row, &mut text);
                Ok(Some(Cow::Owned(text)))
            }
            Column::Arrow(a) => Ok(arrow_text(a.as_ref(), row)?.map(Cow::Borrowed)),
        }
    }

    /// Writes row `row` of text column `column` into `out` (replacing its content) and returns
    /// `false` for a null (leaving `out` empty). `out`'s allocation is reused.
    ///
    /// # Errors
    /// As [`value`](Self::value).
    pub fn value_into(
        &self,
        column: usize,
        row: usize,
        out: &mut String,
    ) -> Result<bool, OptimizeError> {
        let col = self.column_ref(column)?;
        self.check_row(row)?;
        out.clear();
        match col {
            Column::Fsst(f) => {
                if f.is_null(row) {
                    return Ok(false);
                }
                f.decode_row_str(row, out);
                Ok(true)
            }
            Column::Arrow(a) => Ok(arrow_text(a.as_ref(), row)?
                .map(|s| out.push_str(s))
                .is_some()),
        }
    }

    /// Column `column` decoded back to its original type.
    ///
    /// # Errors
    /// [`OptimizeError::OutOfRange`] past the end; [`OptimizeError::Arrow`] if a cast back
    /// fails (only with lossy options).
    pub fn column(&self, column: usize) -> Result<ArrayRef, OptimizeError> {
        let field = self.schema.fields().get(column);
        let (col, field) = match (self.columns.get(column), field) {
            (Some(c), Some(f)) => (c, f),
            _ => {
                return Err(OptimizeError::OutOfRange {
                    what: "column",
                    index: column,
                    len: self.columns.len(),
                });
            }
        };
        let array = match col {
            Column::Arrow(a) => Arc::clone(a),
            Column::Fsst(f) => f.decode()?,
        };
        cast_column(&array, field.data_type(), field.name())
    }

    /// The whole batch decoded back to Arrow, in the schema it was built from.
    ///
    /// # Errors
    /// As [`column`](Self::column).
    pub fn to_record_batch(&self) -> Result<RecordBatch, OptimizeError> {
        let columns = (0..self.columns.len())
            .map(|i| self.column(i))
            .collect::<Result<Vec<_>, _>>()?;
        assemble(&self.schema, columns, self.rows)
    }

    /// Bytes held: every buffer once (offsets, codes, nulls, Arrow columns), plus each
    /// symbol table.
    #[must_use]
    pub fn memory_size(&self) -> u64 {
        held(std::slice::from_ref(self))
    }

    /// Per-column encoding and bytes, as given and as held.
    #[must_use]
    pub fn report(&self) -> CompactReport {
        report(std::slice::from_ref(self), &self.schema, &self.trainings)
    }
}

/// Bytes held by `batches` together: each buffer and each symbol table once.
fn held(batches: &[CompactBatch]) -> u64 {
    let arrays = batches
        .iter()
        .flat_map(|b| b.columns.iter().map(Column::array));
    let tables: HashSet<*const text::SymbolTable> = batches
        .iter()
        .flat_map(|b| b.columns.iter().filter_map(Column::fsst))
        .map(|f| Arc::as_ptr(f.table()))
        .collect();
    (arrays_memory_size(arrays) + tables.len() * SYMBOL_TABLE_BYTES) as u64
}

/// The report of `batches`, which all have `schema`.
fn report(batches: &[CompactBatch], schema: &SchemaRef, trainings: &[u64]) -> CompactReport {
    let columns = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let cols: Vec<&Column> = batches.iter().filter_map(|b| b.columns.get(i)).collect();
            let fsst: Vec<&FsstColumn> = cols.iter().filter_map(|c| c.fsst()).collect();
            let tables: HashSet<*const text::SymbolTable> =
                fsst.iter().map(|f| Arc::as_ptr(f.table())).collect();
            let symbol_table_bytes = (tables.len() * SYMBOL_TABLE_BYTES) as u64;
            let arrays = arrays_memory_size(cols.iter().map(|c| c.array())) as u64;
            let encoding = match (fsst.len(), cols.len()) {
                (0, _) => CompactEncoding::Arrow,
                (f, n) if f == n => CompactEncoding::Fsst,
                _ => CompactEncoding::Mixed,
            };
            CompactColumnReport {
                name: field.name().clone(),
                data_type: field.data_type().clone(),
                stored_type: cols
                    .first()
                    .map_or_else(|| field.data_type().clone(), |c| c.stored_type().clone()),
                encoding,
                arrow_bytes: batches.iter().filter_map(|b| b.arrow_bytes.get(i)).sum(),
                compact_bytes: arrays + symbol_table_bytes,
                symbol_table_bytes,
                text_bytes: fsst.iter().map(|f| f.plain_bytes() as u64).sum(),
                code_bytes: fsst.iter().map(|f| f.code_bytes() as u64).sum(),
                trainings: trainings.get(i).copied().unwrap_or(0),
            }
        })
        .collect();
    CompactReport {
        rows: batches.iter().map(|b| b.rows as u64).sum(),
        columns,
        arrow_bytes: batches.iter().map(|b| b.arrow_total).sum(),
        compact_bytes: held(batches),
    }
}

fn not_text(array: &dyn Array) -> OptimizeError {
    OptimizeError::Unsupported {
        from: array.data_type().clone(),
        to: DataType::Utf8,
        reason: "not a text column",
    }
}

/// Row `row` (in range) of a plain or dictionary-encoded text array.
fn arrow_text(array: &dyn Array, row: usize) -> Result<Option<&str>, OptimizeError> {
    if let Some(text) = Text::of(array) {
        return Ok(text.get(row));
    }
    let dict = array
        .as_any_dictionary_opt()
        .ok_or_else(|| not_text(array))?;
    let values = Text::of(dict.values().as_ref()).ok_or_else(|| not_text(array))?;
    Ok(key_at(dict.keys(), row).and_then(|k| values.get(k)))
}

/// The dictionary key at `row` as an index, `None` for a null key.
fn key_at(keys: &dyn Array, row: usize) -> Option<usize> {
    macro_rules! key {
        ($($t:ty),*) => {
            $(if let Some(k) = keys.as_primitive_opt::<$t>() {
                return k.is_valid(row).then(|| usize::try_from(k.value(row)).ok()).flatten();
            })*
        };
    }
    key!(
        Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type
    );
    None
}
