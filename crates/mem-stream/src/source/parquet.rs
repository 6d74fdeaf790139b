//! Parquet through `parquet::arrow`: row groups decoded in batches of the target size, only the
//! projected columns read.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::{
    FileMetaData, ParquetMetaData, ParquetStatisticsPolicy, RowGroupMetaData,
};

use super::{BatchSource, OpenRequest, projection_indices};
use crate::error::{Result, StreamError};

/// Opens the reader, working around kinds of odd but readable files:
/// - a footer with optional column fields of the wrong wire type is read without them (see
///   [`parquet_footer`](super::parquet_footer));
/// - column chunks whose footer byte ranges are provably wrong are repaired first (see
///   [`parquet_repair`](super::parquet_repair));
/// - statistics are never decoded (this reader does not use them), so a file whose optional
///   statistics are malformed still reads;
/// - a row group whose metadata claims 0 rows while its flat columns hold values gets its row
///   count from those columns, and the file's count is the sum of its row groups' (some writers
///   leave `num_rows` unset).
pub(crate) fn open_builder(
    file: File,
) -> parquet::errors::Result<ParquetRecordBatchReaderBuilder<File>> {
    let options = reader_options();
    let meta = match ArrowReaderMetadata::load(&file, options.clone()) {
        Ok(meta) => meta,
        Err(e) => super::parquet_footer::load_sanitized(&file, &options).ok_or(e)?,
    };
    let md = meta.metadata();
    let repaired = super::parquet_repair::repair_column_chunks(&file, md);
    let groups_in = repaired.as_deref().unwrap_or(md.row_groups());
    let rows = |rg: &RowGroupMetaData| match flat_values(rg) {
        Some(v) if rg.num_rows() == 0 && v > 0 => v,
        _ => rg.num_rows(),
    };
    let group_rows: i64 = groups_in.iter().map(rows).sum();
    let groups_need_fix = groups_in.iter().any(|rg| rows(rg) != rg.num_rows());
    if repaired.is_none() && !groups_need_fix && md.file_metadata().num_rows() == group_rows {
        return Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
            file, meta,
        ));
    }
    if groups_need_fix || md.file_metadata().num_rows() != group_rows {
        tracing::debug!(
            stated = md.file_metadata().num_rows(),
            counted = group_rows,
            "Parquet row counts repaired from column chunks"
        );
    }
    let fm = md.file_metadata();
    let file_md = FileMetaData::new(
        fm.version(),
        group_rows,
        fm.created_by().map(str::to_owned),
        fm.key_value_metadata().cloned(),
        fm.schema_descr_ptr(),
        fm.column_orders().cloned(),
    );
    let groups = groups_in
        .iter()
        .map(|rg| {
            if rows(rg) == rg.num_rows() {
                Ok(rg.clone())
            } else {
                rg.clone().into_builder().set_num_rows(rows(rg)).build()
            }
        })
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    let fixed = ParquetMetaData::new(file_md, groups);
    let meta = ArrowReaderMetadata::try_new(std::sync::Arc::new(fixed), options)?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        file, meta,
    ))
}

/// Footer decoding without statistics, which this reader does not use (and some files garble).
pub(crate) fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new()
        .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_column_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
}

/// Parquet decompresses a column chunk's pages whole: one that would not fit in the memory limit
/// is refused up front instead of exhausting memory (a 4 KB file can hold 2 GB of strings).
fn check_chunk_sizes(
    path: &std::path::Path,
    md: &ParquetMetaData,
    projection: Option<&[String]>,
    limit: u64,
) -> Result<()> {
    for (g, rg) in md.row_groups().iter().enumerate() {
        for c in rg.columns() {
            let root = c.column_path().parts().first().cloned().unwrap_or_default();
            if projection.is_some_and(|p| !p.contains(&root)) {
                continue;
            }
            let size = u64::try_from(c.uncompressed_size()).unwrap_or(0);
            if size > limit {
                return Err(StreamError::Malformed {
                    path: path.to_path_buf(),
                    line: None,
                    column: Some(c.column_path().string()),
                    message: format!(
                        "row group {g} holds {:.0} MB uncompressed in this column, over the {:.0} MB memory limit; raise the limit to read it",
                        mem_monitor::bytes_to_mb(size),
                        mem_monitor::bytes_to_mb(limit)
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Values in a column that is not repeated: one per row.
fn flat_values(rg: &RowGroupMetaData) -> Option<i64> {
    rg.columns()
        .iter()
        .find(|c| c.column_descr().max_rep_level() == 0)
        .map(|c| c.num_values())
}

/// A Parquet reader.
pub(crate) struct ParquetSource {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    rows_total: u64,
    rows_read: u64,
    total: u64,
    done: bool,
}

impl ParquetSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Self> {
        let path = req.path;
        let file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        let builder = open_builder(file).map_err(|e| StreamError::parquet(path, e))?;
        let rows_total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        check_chunk_sizes(
            path,
            builder.metadata(),
            req.projection,
            req.memory_limit_bytes,
        )?;
        let batch = req.target_rows.load(Ordering::Relaxed).max(1);
        let batch = req.limit.map_or(batch, |l| batch.min(l.max(1)));
        let mut builder = builder.with_batch_size(batch);
        if let Some(wanted) = req.projection {
            let names: Vec<String> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let idx = projection_indices(path, &names, wanted)?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
            builder = builder.with_projection(mask);
        }
        if let Some(limit) = req.limit {
            builder = builder.with_limit(limit);
        }
        let reader = builder.build().map_err(|e| StreamError::parquet(path, e))?;
        let schema = arrow::array::RecordBatchReader::schema(&reader);
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            schema,
            rows_total,
            rows_read: 0,
            total,
            done: false,
        })
    }
}

impl BatchSource for ParquetSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        match self.reader.next() {
            None => {
                self.done = true;
                None
            }
            Some(Ok(b)) => {
                self.rows_read += b.num_rows() as u64;
                Some(Ok(b))
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(StreamError::arrow(&self.path, "decoding Parquet", e)))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        if self.done || self.rows_total == 0 {
            return if self.done { self.total } else { 0 };
        }
        let frac = (self.rows_read as f64 / self.rows_total as f64).min(1.0);
        (frac * self.total as f64) as u64
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}
