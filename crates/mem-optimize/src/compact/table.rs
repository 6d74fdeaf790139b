//! `CompactTable`: a sequence of compact batches with one schema, each text column's symbol
//! table trained once and reused while it keeps compressing as well.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::text::ColumnState;
use super::{CompactBatch, CompactOptions, CompactReport};
use crate::error::OptimizeError;

/// A table held as [`CompactBatch`]es with one schema: the form to keep a whole file in memory
/// with its text compressed (see `mem_stream::StreamingLoader::load_compact`).
///
/// Each text column's symbol table is trained on the first chunk and reused by the next ones
/// while their sample compresses within [`CompactOptions::retrain_drift`] of the trained ratio;
/// past that the column is retrained (and a reused table counts once in
/// [`memory_size`](Self::memory_size)). A column where FSST did not pay is tried again on the
/// next chunk. Other columns are optimised chunk by chunk, so their stored types may differ
/// between chunks; every chunk decodes back to the table's schema.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{RecordBatch, StringArray};
/// use mem_optimize::{CompactOptions, CompactTable};
///
/// let chunk = |from: usize| RecordBatch::try_from_iter([(
///     "text",
///     Arc::new(StringArray::from_iter_values(
///         (from..from + 1000).map(|i| format!("row {i} of the compact table, row {i}")),
///     )) as _,
/// )]);
/// let first = chunk(0)?;
/// let mut table = CompactTable::new(first.schema(), CompactOptions::default())?;
/// table.push(&first)?;
/// table.push(&chunk(1000)?)?;
/// assert_eq!(table.num_rows(), 2000);
/// assert_eq!(table.value(0, 1500)?.as_deref(), Some("row 1500 of the compact table, row 1500"));
/// assert_eq!(table.report().columns[0].trainings, 1); // the second chunk reused the table
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CompactTable {
    schema: SchemaRef,
    options: CompactOptions,
    batches: Vec<CompactBatch>,
    /// First row of each batch.
    starts: Vec<usize>,
    rows: usize,
    states: Vec<ColumnState>,
}

impl std::fmt::Debug for ColumnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnState")
            .field("trainings", &self.trainings)
            .finish_non_exhaustive()
    }
}

impl CompactTable {
    /// An empty table of `schema`.
    ///
    /// # Errors
    /// [`OptimizeError::InvalidConfig`] for invalid options.
    pub fn new(schema: SchemaRef, options: CompactOptions) -> Result<Self, OptimizeError> {
        options.validate()?;
        let states = vec![ColumnState::default(); schema.fields().len()];
        Ok(Self {
            schema,
            options,
            batches: Vec::new(),
            starts: Vec::new(),
            rows: 0,
            states,
        })
    }

    /// Compacts `batch` and appends it.
    ///
    /// # Errors
    /// [`OptimizeError::SchemaMismatch`] when the batch's column names or types differ from
    /// the table's; otherwise as [`CompactBatch::try_new`].
    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), OptimizeError> {
        let given = batch.schema();
        let detail = if given.fields().len() == self.schema.fields().len() {
            given
                .fields()
                .iter()
                .zip(self.schema.fields())
                .find(|(g, s)| g.name() != s.name() || g.data_type() != s.data_type())
                .map(|(g, s)| {
                    format!(
                        "column {:?} {} where the table has {:?} {}",
                        g.name(),
                        g.data_type(),
                        s.name(),
                        s.data_type()
                    )
                })
        } else {
            Some(format!(
                "{} columns where the table has {}",
                given.fields().len(),
                self.schema.fields().len()
            ))
        };
        if let Some(detail) = detail {
            return Err(OptimizeError::SchemaMismatch {
                chunk_index: self.batches.len(),
                detail,
            });
        }
        let compact = CompactBatch::build(
            batch,
            Arc::clone(&self.schema),
            &self.options,
            &mut self.states,
        )?;
        self.starts.push(self.rows);
        self.rows += compact.num_rows();
        self.batches.push(compact);
        Ok(())
    }

    /// The table's schema, which every chunk decodes back to.
    #[must_use]
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows held.
    #[must_use]
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// The chunks, in the order pushed.
    #[must_use]
    pub fn batches(&self) -> &[CompactBatch] {
        &self.batches
    }

    /// The chunk holding table row `row` and the row's index within it.
    fn locate(&self, row: usize) -> Result<(&CompactBatch, usize), OptimizeError> {
        let out_of_range = OptimizeError::OutOfRange {
            what: "row",
            index: row,
            len: self.rows,
        };
        if row >= self.rows {
            return Err(out_of_range);
        }
        let i = self.starts.partition_point(|&s| s <= row).saturating_sub(1);
        match (self.batches.get(i), self.starts.get(i)) {
            (Some(b), Some(&start)) => Ok((b, row - start)),
            _ => Err(out_of_range),
        }
    }

    /// Table row `row` of text column `column` (see [`CompactBatch::value`]).
    ///
    /// # Errors
    /// As [`CompactBatch::value`].
    pub fn value(&self, column: usize, row: usize) -> Result<Option<Cow<'_, str>>, OptimizeError> {
        let (batch, row) = self.locate(row)?;
        batch.value(column, row)
    }

    /// Table row `row` of text column `column` into `out` (see [`CompactBatch::value_into`]).
    ///
    /// # Errors
    /// As [`CompactBatch::value`].
    pub fn value_into(
        &self,
        column: usize,
        row: usize,
        out: &mut String,
    ) -> Result<bool, OptimizeError> {
        let (batch, row) = self.locate(row)?;
        batch.value_into(column, row, out)
    }

    /// The chunks decoded back to Arrow one at a time, in the table's schema (only the chunk
    /// being read is decoded).
    pub fn record_batches(&self) -> impl Iterator<Item = Result<RecordBatch, OptimizeError>> + '_ {
        self.batches.iter().map(CompactBatch::to_record_batch)
    }

    /// Column `column` of every chunk, decoded back to its type.
    ///
    /// # Errors
    /// As [`CompactBatch::column`].
    pub fn column(&self, column: usize) -> Result<Vec<ArrayRef>, OptimizeError> {
        self.batches.iter().map(|b| b.column(column)).collect()
    }

    /// Bytes held by all chunks: every buffer and every symbol table once.
    #[must_use]
    pub fn memory_size(&self) -> u64 {
        super::held(&self.batches)
    }

    /// Per-column encoding and bytes over all chunks.
    #[must_use]
    pub fn report(&self) -> CompactReport {
        let trainings: Vec<u64> = self.states.iter().map(|s| s.trainings as u64).collect();
        super::report(&self.batches, &self.schema, &trainings)
    }
}
