//! One output schema for a whole stream of chunks: chosen from the first chunk, only widened.

use arrow::array::RecordBatch;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::batch::{apply, assemble, cast_batch, output_schema};
use crate::dict::Encoded;
use crate::error::OptimizeError;
use crate::options::OptimizeOptions;
use crate::plan::{Need, analyze_with_base, int_target, int_type_range, target_type};

/// A column whose output type had to widen because a later chunk did not fit.
///
/// With serde the types are their `Display` strings (`"UInt8"`, `"Int16"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SchemaWidening {
    /// Index (0-based) of the chunk that needed the wider type.
    pub chunk_index: usize,
    /// The column name.
    pub column: String,
    /// The output type before this chunk.
    #[serde(with = "crate::serde_arrow::data_type")]
    pub from: DataType,
    /// The output type from this chunk on; it holds every value `from` can hold.
    #[serde(with = "crate::serde_arrow::data_type")]
    pub to: DataType,
}

impl std::fmt::Display for SchemaWidening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chunk {}: column {:?} widened from {} to {}",
            self.chunk_index, self.column, self.from, self.to
        )
    }
}

#[derive(Debug, Clone)]
struct ColumnState {
    need: Need,
    target: DataType,
    /// Most non-null values seen in one chunk: the base of a ratio dictionary threshold.
    max_non_null: usize,
}

/// Optimizes a stream of chunks to ONE output schema.
///
/// The first chunk decides each column's type (as [`optimize_batch`](crate::optimize_batch)
/// would). A later chunk that does not fit widens the column: `Int8 -> Int16`, `UInt8 ->
/// Int16` when negatives appear, dictionary keys `Int8 -> Int16`, dictionary -> plain string
/// when the cardinality passes the threshold, `Float32 -> Float64`. A ratio dictionary
/// threshold is applied to the largest chunk seen so far, so a short last chunk does not undo
/// a dictionary. Each widening is returned
/// by [`push`](Self::push), kept in [`widenings`](Self::widenings) and logged as a `tracing`
/// event; the schema never changes silently and never narrows. Batches returned before a
/// widening can be brought to the final schema with [`conform`](Self::conform) (the casts are
/// exact). Dictionary values differ from chunk to chunk; only the type is shared. All output
/// fields are nullable, so chunks that differ only in nullability share the schema.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int64Array, RecordBatch};
/// use arrow::datatypes::DataType;
/// use mem_optimize::{OptimizeOptions, StreamOptimizer};
///
/// let chunk = |v: Vec<i64>| RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(v)) as _)]);
/// let mut stream = StreamOptimizer::new(OptimizeOptions::default());
/// let (first, widened) = stream.push(&chunk(vec![1, 2, 3])?)?;
/// assert!(widened.is_none());
/// assert_eq!(first.schema().field(0).data_type(), &DataType::UInt8);
/// let (_second, widened) = stream.push(&chunk(vec![-1, 1000])?)?;
/// let w = widened.expect("-1 and 1000 need a wider type");
/// assert_eq!((w.from, w.to), (DataType::UInt8, DataType::Int16));
/// // Bring the first output to the final schema.
/// let first = stream.conform(&first)?;
/// assert_eq!(first.schema(), stream.schema().unwrap());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StreamOptimizer {
    opts: OptimizeOptions,
    input_schema: Option<SchemaRef>,
    output: Option<SchemaRef>,
    columns: Vec<ColumnState>,
    chunks: usize,
    widenings: Vec<SchemaWidening>,
    last_widenings: usize,
}

impl StreamOptimizer {
    /// A stream optimizer with these options (validated at the first [`push`](Self::push)).
    #[must_use]
    pub fn new(opts: OptimizeOptions) -> Self {
        Self {
            opts,
            input_schema: None,
            output: None,
            columns: Vec::new(),
            chunks: 0,
            widenings: Vec::new(),
            last_widenings: 0,
        }
    }

    /// Optimizes one chunk to the stream's schema; chooses types from the first chunk,
    /// afterwards only widens.
    ///
    /// Returns the chunk in the current output schema and, when this chunk widened the
    /// schema, the first widening (a chunk that widens several columns reports all of them in
    /// [`last_widenings`](Self::last_widenings) and [`widenings`](Self::widenings)).
    ///
    /// # Errors
    /// [`OptimizeError::SchemaMismatch`] when the chunk's columns (names or types; nullability
    /// may differ) differ from the first chunk's; [`OptimizeError::InvalidConfig`] for invalid options;
    /// [`OptimizeError::Arrow`] if a cast fails.
    pub fn push(
        &mut self,
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, Option<SchemaWidening>), OptimizeError> {
        let index = self.chunks;
        let before = self.widenings.len();
        let encodings = match &self.input_schema {
            None => self.start(batch)?,
            Some(input) => {
                check_same_schema(input, &batch.schema(), index)?;
                self.widen_for(batch, index)
            }
        };
        let Some(output) = self.output.clone() else {
            return Err(OptimizeError::InvalidConfig(
                "stream has no output schema".into(),
            ));
        };
        let columns = batch
            .columns()
            .iter()
            .zip(output.fields())
            .zip(encodings)
            .map(|((col, field), enc)| apply(col, field.data_type(), field.name(), enc))
            .collect::<Result<Vec<_>, _>>()?;
        let out = assemble(&output, columns, batch.num_rows())?;
        self.chunks += 1;
        self.last_widenings = self.widenings.len() - before;
        Ok((out, self.widenings.get(before).cloned()))
    }

    /// Chooses the types from the first chunk; returns its string encodings.
    fn start(&mut self, batch: &RecordBatch) -> Result<Vec<Option<Encoded>>, OptimizeError> {
        self.opts.validate()?;
        let schema = batch.schema();
        let mut encodings = Vec::with_capacity(batch.num_columns());
        self.columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(col, field)| {
                let (need, encoded) = analyze_with_base(col.as_ref(), &self.opts, 0);
                encodings.push(encoded);
                let target = target_type(field.data_type(), &need, &self.opts);
                ColumnState {
                    need,
                    target,
                    max_non_null: col.len() - col.null_count(),
                }
            })
            .collect();
        self.input_schema = Some(nullable(&schema));
        self.output = Some(output_schema(&nullable(&schema), &self.target_types()));
        Ok(encodings)
    }

    /// Widens the columns this chunk does not fit; returns its string encodings.
    fn widen_for(&mut self, batch: &RecordBatch, index: usize) -> Vec<Option<Encoded>> {
        let Some(input) = self.input_schema.clone() else {
            return Vec::new();
        };
        let mut encodings = Vec::with_capacity(batch.num_columns());
        let mut changed = false;
        for ((state, col), field) in self
            .columns
            .iter_mut()
            .zip(batch.columns())
            .zip(input.fields())
        {
            // A column already at its widest (plain strings, Float64, the input's integer type)
            // cannot change any more: skip its analysis, which for free text is most of the
            // cost of a chunk.
            if state.target == *field.data_type() {
                encodings.push(None);
                continue;
            }
            let (chunk_need, encoded) =
                analyze_with_base(col.as_ref(), &self.opts, state.max_non_null);
            encodings.push(encoded);
            let need = state.need.merge(&chunk_need);
            state.max_non_null = state.max_non_null.max(col.len() - col.null_count());
            let mut target = target_type(field.data_type(), &need, &self.opts);
            // Integers: the union range may call for a type that does not hold the previous
            // one (UInt8 -> Int8 for [-1, 200]); take the narrowest holding both instead.
            if let (Need::Int(Some((lo, hi))), Some((plo, phi)), Some((tlo, thi))) = (
                &need,
                int_type_range(&state.target),
                int_type_range(&target),
            ) && (tlo > plo || thi < phi)
            {
                target = int_target(
                    field.data_type(),
                    ((*lo).min(plo), (*hi).max(phi)),
                    &self.opts,
                );
            }
            state.need = need;
            if target != state.target {
                let widening = SchemaWidening {
                    chunk_index: index,
                    column: field.name().clone(),
                    from: state.target.clone(),
                    to: target.clone(),
                };
                tracing::info!(
                    chunk_index = index,
                    column = %widening.column,
                    from = %widening.from,
                    to = %widening.to,
                    "stream schema widened"
                );
                self.widenings.push(widening);
                state.target = target;
                changed = true;
            }
        }
        if changed {
            self.output = Some(output_schema(&input, &self.target_types()));
        }
        encodings
    }

    fn target_types(&self) -> Vec<DataType> {
        self.columns.iter().map(|c| c.target.clone()).collect()
    }

    /// The current output schema (`None` before the first chunk).
    #[must_use]
    pub fn schema(&self) -> Option<SchemaRef> {
        self.output.clone()
    }

    /// The input schema fixed by the first chunk (`None` before it).
    #[must_use]
    pub fn input_schema(&self) -> Option<SchemaRef> {
        self.input_schema.clone()
    }

    /// Brings a batch returned by an earlier [`push`](Self::push) to the current (final)
    /// schema. Exact: every widening holds all values of the type it replaced.
    ///
    /// # Errors
    /// [`OptimizeError::SchemaMismatch`] if the batch's column names differ from the stream's,
    /// or before the first chunk; [`OptimizeError::Arrow`] if a cast fails.
    pub fn conform(&self, batch: &RecordBatch) -> Result<RecordBatch, OptimizeError> {
        let Some(output) = &self.output else {
            return Err(OptimizeError::SchemaMismatch {
                chunk_index: self.chunks,
                detail: "no chunk has been pushed yet".into(),
            });
        };
        let schema = batch.schema();
        if schema.fields().len() != output.fields().len()
            || schema
                .fields()
                .iter()
                .zip(output.fields())
                .any(|(a, b)| a.name() != b.name())
        {
            return Err(OptimizeError::SchemaMismatch {
                chunk_index: self.chunks,
                detail: format!(
                    "columns {:?} are not the stream's {:?}",
                    names(&schema),
                    names(output)
                ),
            });
        }
        if schema.as_ref() == output.as_ref() {
            return Ok(batch.clone());
        }
        cast_batch(batch, output)
    }

    /// Every widening so far, in order.
    #[must_use]
    pub fn widenings(&self) -> &[SchemaWidening] {
        &self.widenings
    }

    /// The widenings caused by the most recent chunk (empty if it widened nothing).
    #[must_use]
    pub fn last_widenings(&self) -> &[SchemaWidening] {
        let start = self.widenings.len().saturating_sub(self.last_widenings);
        self.widenings.get(start..).unwrap_or_default()
    }

    /// How many chunks have been pushed.
    #[must_use]
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// The options in use.
    #[must_use]
    pub fn options(&self) -> &OptimizeOptions {
        &self.opts
    }
}

/// `schema` with every field nullable. Nullability is not part of what a stream's schema
/// decides: a first chunk without nulls must not make a later chunk with nulls an error.
fn nullable(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn names(schema: &SchemaRef) -> Vec<String> {
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

fn check_same_schema(
    expected: &SchemaRef,
    got: &SchemaRef,
    chunk_index: usize,
) -> Result<(), OptimizeError> {
    if expected.fields().len() != got.fields().len() {
        return Err(OptimizeError::SchemaMismatch {
            chunk_index,
            detail: format!(
                "{} columns, the stream has {}",
                got.fields().len(),
                expected.fields().len()
            ),
        });
    }
    for (e, g) in expected.fields().iter().zip(got.fields()) {
        if e.name() != g.name() || e.data_type() != g.data_type() {
            return Err(OptimizeError::SchemaMismatch {
                chunk_index,
                detail: format!(
                    "column {:?} ({}) where the stream has {:?} ({})",
                    g.name(),
                    g.data_type(),
                    e.name(),
                    e.data_type()
                ),
            });
        }
    }
    Ok(())
}
