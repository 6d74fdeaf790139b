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

use super::batches::{Batches, Decode};
use super::parquet_checks::{
    check_chunk_sizes, check_column_readers, check_footer_size, check_layout,
};
use super::parquet_split::{ColumnGroups, SplitReader};
use super::{OpenRequest, projection_indices};
use crate::error::{Result, StreamError};
use crate::guard::contain;

/// Opens the reader, working around kinds of odd but readable files:
/// - a footer with optional column fields of the wrong wire type is read without them (see
///   [`parquet_footer`](super::parquet_footer));
/// - column chunks whose footer byte ranges are provably wrong are repaired first (see
///   [`parquet_repair`](super::parquet_repair));
/// - statistics are never decoded (this reader does not use them), so a file whose optional
///   statistics are malformed still reads;
/// - a row group whose metadata claims 0 rows while its flat columns hold values gets its row
///   count from those columns, and the file's count is the sum of its row groups' (some writers
///   leave `num_rows` unset);
/// - an embedded Arrow schema (`ARROW:schema`) that does not decode is ignored: the types then
///   come from the Parquet schema alone.
pub(crate) fn open_builder(
    file: File,
) -> parquet::errors::Result<ParquetRecordBatchReaderBuilder<File>> {
    let meta = open_metadata(&file)?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        file, meta,
    ))
}

/// The reader metadata of [`open_builder`], from which readers are built (and rebuilt).
pub(crate) fn open_metadata(file: &File) -> parquet::errors::Result<ArrowReaderMetadata> {
    let options = reader_options();
    let load = |options: &ArrowReaderOptions| match ArrowReaderMetadata::load(file, options.clone())
    {
        Ok(meta) => Ok(meta),
        Err(e) => super::parquet_footer::load_sanitized(file, options).ok_or(e),
    };
    let (meta, options) = match load(&options) {
        Err(e) if e.to_string().contains("ARROW:schema") => {
            tracing::warn!(error = %e, "Parquet: the embedded Arrow schema is unreadable; using the Parquet schema");
            let options = options.with_skip_arrow_metadata(true);
            (load(&options)?, options)
        }
        other => (other?, options),
    };
    check_layout(file, meta.metadata())?;
    let md = meta.metadata();
    let repaired = super::parquet_repair::repair_column_chunks(file, md);
    let groups_in = repaired.as_deref().unwrap_or(md.row_groups());
    let rows = |rg: &RowGroupMetaData| match flat_values(rg) {
        Some(v) if rg.num_rows() == 0 && v > 0 => v,
        _ => rg.num_rows(),
    };
    let group_rows: i64 = groups_in.iter().map(rows).sum();
    let groups_need_fix = groups_in.iter().any(|rg| rows(rg) != rg.num_rows());
    if repaired.is_none() && !groups_need_fix && md.file_metadata().num_rows() == group_rows {
        return Ok(meta);
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
    ArrowReaderMetadata::try_new(std::sync::Arc::new(fixed), options)
}

/// Footer decoding without statistics, which this reader does not use (and some files garble).
pub(crate) fn reader_options() -> ArrowReaderOptions {
    ArrowReaderOptions::new()
        .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_column_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
}

/// Rows per batch so that a batch holds about `target` bytes: the largest row group's
/// uncompressed bytes per row of the projected columns (dictionary-encoded strings can decode
/// larger; the chunker cuts those batches again).
fn rows_for_bytes(md: &ParquetMetaData, projection: Option<&[String]>, target: u64) -> usize {
    let widest = md
        .row_groups()
        .iter()
        .filter(|rg| rg.num_rows() > 0)
        .map(|rg| {
            let bytes: i64 = rg
                .columns()
                .iter()
                .filter(|c| {
                    let root = c.column_path().parts().first().cloned().unwrap_or_default();
                    projection.is_none_or(|p| p.contains(&root))
                })
                .map(|c| c.uncompressed_size().max(0))
                .fold(0i64, i64::saturating_add);
            bytes as f64 / rg.num_rows() as f64
        })
        .fold(0.0f64, f64::max);
    if widest <= 0.0 {
        return usize::MAX;
    }
    ((target as f64 / widest) as usize).max(1)
}

/// Values in a column that is not repeated: one per row.
fn flat_values(rg: &RowGroupMetaData) -> Option<i64> {
    rg.columns()
        .iter()
        .find(|c| c.column_descr().max_rep_level() == 0)
        .map(|c| c.num_values())
}

/// A Parquet reader. arrow-rs fixes a reader's batch size when it is built, so when the target
/// rows change the reader is rebuilt at the next row (its row group, skipping the rows already
/// read) with the new batch size: under pressure smaller batches are decoded, not only sliced.
/// With a steady target, the common case, that costs one comparison per batch.
pub(crate) struct ParquetSource {
    path: PathBuf,
    file: File,
    meta: ArrowReaderMetadata,
    mask: Option<ProjectionMask>,
    reader: Reader,
    /// The column groups a stream decodes on threads of their own (none for a sample, one
    /// column or one core).
    split: Option<ColumnGroups>,
    /// The batch size `reader` was built with.
    batch: usize,
    /// Rows per batch that hold about a chunk's bytes.
    by_bytes: usize,
    /// Rows wanted in all (a sample), if limited.
    limit: Option<usize>,
    schema: SchemaRef,
    rows_total: u64,
    /// Rows decoded so far: where a rebuilt reader starts.
    rows_read: u64,
    total: u64,
}

/// One reader, or one per column group on threads of their own.
enum Reader {
    One(ParquetRecordBatchReader),
    Split(SplitReader),
}

impl ParquetSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Batches<Self>> {
        let path = req.path;
        let source = contain(path, "Parquet", || Self::open_contained(req))?;
        Ok(Batches::new(source, req.target_rows.clone()))
    }

    fn open_contained(req: &OpenRequest<'_>) -> Result<Self> {
        let path = req.path;
        let file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        check_footer_size(path, &file, &req.budget)?;
        let meta = open_metadata(&file).map_err(|e| StreamError::parquet(path, e))?;
        let md = meta.metadata();
        let rows_total = u64::try_from(md.file_metadata().num_rows()).unwrap_or(0);
        check_column_readers(path, md, req.projection, &req.budget)?;
        check_chunk_sizes(path, md, req.projection, &req.budget)?;
        super::parquet_pages::check_page_sizes(
            path,
            &file,
            md,
            req.projection,
            req.limit,
            &req.budget,
        )?;
        let by_bytes = rows_for_bytes(md, req.projection, req.budget.chunk_target());
        let mask = match req.projection {
            Some(wanted) => {
                let names: Vec<String> = meta
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                let idx = projection_indices(path, &names, wanted)?;
                Some(ProjectionMask::roots(meta.parquet_schema(), idx))
            }
            None => None,
        };
        let limit = req.limit;
        let batch = batch_size(req.target_rows.load(Ordering::Relaxed), by_bytes, limit);
        let reader = build_reader(path, &file, &meta, mask.as_ref(), 0, limit, batch)?;
        let schema = arrow::array::RecordBatchReader::schema(&reader);
        // A stream decodes its columns on all cores; a sample splits its first batch itself.
        let split = match limit {
            None => ColumnGroups::new(&meta, mask.as_ref(), usize::MAX, |c| c.uncompressed_size()),
            Some(_) => None,
        };
        let reader = match &split {
            Some(groups) => Reader::Split(spawn_split(
                path,
                &file,
                &meta,
                groups.clone(),
                schema.clone(),
                0,
                batch,
            )?),
            None => Reader::One(reader),
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
            meta,
            mask,
            reader,
            split,
            batch,
            by_bytes,
            limit,
            schema,
            rows_total,
            rows_read: 0,
            total,
        })
    }

    /// The next batch, checked in full: the Parquet reader builds some arrays without
    /// validating them, and invalid offsets or keys would panic later, far from the decoder.
    fn read(&mut self) -> Result<Option<RecordBatch>> {
        let path = self.path.clone();
        let next = match &mut self.reader {
            Reader::One(reader) => contain(&path, "Parquet", || match reader.next() {
                None => Ok(None),
                Some(Err(e)) => Err(StreamError::arrow(&path, "decoding Parquet", e)),
                Some(Ok(b)) => Ok(Some(b)),
            })?,
            Reader::Split(reader) => reader.next()?,
        };
        match next {
            Some(b) => {
                contain(&path, "Parquet", || check_batch(&path, &b))?;
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }
}

impl ParquetSource {
    /// A sample's first batch with its columns decoded on several threads at once: a preview's
    /// time goes into each column chunk's dictionary page and first data pages (decompressed
    /// and decoded whole whatever the rows wanted), one column independent of the next. The
    /// root columns are dealt to up to `available_parallelism` readers by their size in the
    /// first row group; each reader decodes `batch` rows of its columns, and the columns are put
    /// back in schema order. `None` when there is nothing to split (one column, one core), and
    /// the ordinary reader decodes the batch.
    fn sample_split(&self, batch: usize) -> Result<Option<RecordBatch>> {
        let Some(groups) = ColumnGroups::new(&self.meta, self.mask.as_ref(), 1, sample_cost) else {
            return Ok(None);
        };
        tracing::debug!(path = %self.path.display(), groups = ?groups.groups, "Parquet sample: columns decoded on threads");
        // What the threads share (the source's reader is not `Sync`).
        let (path, file, meta) = (self.path.as_path(), &self.file, &self.meta);
        let decode_group = |file: &File, g: usize| -> Result<Option<RecordBatch>> {
            let Some(mask) = groups.mask(meta, g) else {
                return Ok(None);
            };
            let mut reader = build_reader(path, file, meta, Some(&mask), 0, Some(batch), batch)?;
            match reader.next() {
                None => Ok(None),
                Some(Err(e)) => Err(StreamError::arrow(path, "decoding Parquet", e)),
                Some(Ok(b)) => Ok(Some(b)),
            }
        };
        let results: Vec<Result<Option<RecordBatch>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..groups.groups.len())
                .map(|g| {
                    let decode_group = &decode_group;
                    scope.spawn(move || {
                        contain(path, "Parquet", || {
                            // A file of its own: clones of one `File` share its offset, which
                            // the Parquet reader seeks.
                            let own = reopen(path, file)?;
                            decode_group(&own, g)
                        })
                    })
                })
                .collect();
            let mut out = vec![contain(path, "Parquet", || decode_group(file, 0))];
            out.extend(handles.into_iter().map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StreamError::malformed(
                        path,
                        None,
                        "a Parquet decoding thread panicked",
                    ))
                })
            }));
            out
        });
        let mut batches = Vec::with_capacity(results.len());
        for result in results {
            let Some(b) = result? else {
                return Ok(None);
            };
            batches.push(b);
        }
        // Readers that disagree on the rows: leave it to the ordinary reader.
        let Ok(b) = groups.join(&self.schema, batches) else {
            return Ok(None);
        };
        check_batch(path, &b)?;
        Ok(Some(b))
    }
}

/// A stream's reader of the column groups from row `from`, in batches of `batch` rows.
fn spawn_split(
    path: &std::path::Path,
    file: &File,
    meta: &ArrowReaderMetadata,
    groups: ColumnGroups,
    schema: SchemaRef,
    from: u64,
    batch: usize,
) -> Result<SplitReader> {
    contain(path, "Parquet", || {
        SplitReader::spawn(path, file, meta, groups, schema, reopen, |own, mask| {
            build_reader(path, own, meta, Some(mask), from, None, batch)
        })
    })
}

/// The same file opened again, with an offset of its own: on Linux through `/proc/self/fd`
/// (the very file, even if its path was since replaced), elsewhere by its path.
fn reopen(path: &std::path::Path, file: &File) -> Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(f) = File::open(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            return Ok(f);
        }
    }
    let _ = file;
    File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))
}

/// The work of a sample's first rows in a column chunk: the bytes decompressed (the time of
/// zstd, snappy and friends follows their output more than their input): its dictionary page,
/// decoded whole, and about a first data page (1 MiB, the writers' usual page size, or the whole
/// chunk when it is smaller). The dictionary's uncompressed size is estimated from its
/// compressed bytes at the chunk's ratio.
fn sample_cost(chunk: &parquet::file::metadata::ColumnChunkMetaData) -> i64 {
    let compressed = chunk.compressed_size().max(1);
    let uncompressed = chunk.uncompressed_size().max(0);
    let dictionary = chunk
        .dictionary_page_offset()
        .map_or(0, |d| chunk.data_page_offset().saturating_sub(d).max(0));
    let ratio = (uncompressed as f64 / compressed as f64).clamp(1.0, 64.0);
    let dictionary = (dictionary as f64 * ratio) as i64;
    let data = uncompressed.saturating_sub(dictionary).clamp(0, 1 << 20);
    dictionary.saturating_add(data)
}

/// Checks every column of a decoded batch in full: the Parquet reader builds some arrays
/// without validating them, and invalid offsets or keys would panic later, far from the decoder.
fn check_batch(path: &std::path::Path, b: &RecordBatch) -> Result<()> {
    for (field, column) in b.schema().fields().iter().zip(b.columns()) {
        column
            .to_data()
            .validate_full()
            .map_err(|e| StreamError::Malformed {
                path: path.to_path_buf(),
                line: None,
                column: Some(field.name().clone()),
                message: format!("the Parquet data decodes to invalid Arrow data: {e}"),
            })?;
    }
    Ok(())
}

/// Rows per batch for a target: within a chunk's bytes and the rows wanted.
fn batch_size(target: usize, by_bytes: usize, limit: Option<usize>) -> usize {
    let batch = target.max(1).min(by_bytes);
    limit.map_or(batch, |l| batch.min(l.max(1)))
}

/// A reader of batches of `batch` rows from row `from` on (and at most `limit` rows in all, of
/// which `from` were read).
fn build_reader(
    path: &std::path::Path,
    file: &File,
    meta: &ArrowReaderMetadata,
    mask: Option<&ProjectionMask>,
    from: u64,
    limit: Option<usize>,
    batch: usize,
) -> Result<ParquetRecordBatchReader> {
    let file = file
        .try_clone()
        .map_err(|e| StreamError::io(path, "cannot open", e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
        .with_batch_size(batch);
    if let Some(mask) = mask {
        builder = builder.with_projection(mask.clone());
    }
    if from > 0 {
        // The row group holding row `from`, and how many of its rows were read.
        let groups = meta.metadata().row_groups();
        let mut start = 0u64;
        let mut at = (groups.len(), 0u64);
        for (g, rg) in groups.iter().enumerate() {
            let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
            if from < start.saturating_add(rows) {
                at = (g, from - start);
                break;
            }
            start = start.saturating_add(rows);
        }
        builder = builder
            .with_row_groups((at.0..groups.len()).collect())
            .with_offset(usize::try_from(at.1).unwrap_or(usize::MAX));
    }
    if let Some(limit) = limit {
        let left = limit.saturating_sub(usize::try_from(from).unwrap_or(usize::MAX));
        builder = builder.with_limit(left);
    }
    builder.build().map_err(|e| StreamError::parquet(path, e))
}

impl Decode for ParquetSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, target: usize) -> Result<Option<RecordBatch>> {
        let batch = batch_size(target, self.by_bytes, self.limit);
        if let Some(limit) = self.limit {
            if self.rows_read >= limit as u64 {
                return Ok(None);
            }
            if self.rows_read == 0 {
                let path = self.path.clone();
                if let Some(b) = contain(&path, "Parquet", || self.sample_split(batch))? {
                    self.rows_read = b.num_rows() as u64;
                    // The rest, if asked for, from a reader rebuilt at the next row.
                    self.batch = 0;
                    return Ok(Some(b));
                }
            }
        }
        if batch != self.batch {
            tracing::debug!(path = %self.path.display(), from = self.batch, to = batch, row = self.rows_read, "Parquet batch size follows the chunk size");
            let path = self.path.clone();
            self.reader = match &self.split {
                Some(groups) => Reader::Split(spawn_split(
                    &path,
                    &self.file,
                    &self.meta,
                    groups.clone(),
                    self.schema.clone(),
                    self.rows_read,
                    batch,
                )?),
                None => Reader::One(contain(&path, "Parquet", || {
                    build_reader(
                        &self.path,
                        &self.file,
                        &self.meta,
                        self.mask.as_ref(),
                        self.rows_read,
                        self.limit,
                        batch,
                    )
                })?),
            };
            self.batch = batch;
        }
        let b = self.read()?;
        if let Some(b) = &b {
            self.rows_read += b.num_rows() as u64;
        }
        Ok(b)
    }

    fn position(&self, _rows: u64) -> u64 {
        if self.rows_total == 0 {
            return 0;
        }
        let frac = (self.rows_read as f64 / self.rows_total as f64).min(1.0);
        (frac * self.total as f64) as u64
    }

    fn total(&self) -> u64 {
        self.total
    }
}
