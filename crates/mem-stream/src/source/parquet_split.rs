//! Parquet columns decoded on several threads at once. One Parquet reader decodes its columns
//! one after the other on one core; the columns of a file are independent, so the projected root
//! columns are dealt to up to `available_parallelism` groups (by the bytes they decompress), each
//! group read by a reader of its own on a thread of its own, with the same batch size, and the
//! groups' batches are put back together in schema order. Each thread decodes at most one batch
//! ahead of the consumer (a channel of one), so memory stays bounded as with one reader.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use crossbeam_channel::{Receiver, bounded};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReader};
use parquet::file::metadata::ColumnChunkMetaData;

use crate::error::{Result, StreamError};
use crate::guard::contain;

/// The projected root columns dealt to groups.
#[derive(Debug, Clone)]
pub(crate) struct ColumnGroups {
    /// Root columns of the file.
    pub roots: usize,
    /// The projected root columns, in schema order.
    pub wanted: Vec<usize>,
    /// Each group's root columns, ascending; at least two groups.
    pub groups: Vec<Vec<usize>>,
}

impl ColumnGroups {
    /// Deals the projected root columns (all of them without a `mask`) to up to
    /// `available_parallelism` groups, largest first to the lightest group, by `cost` summed over
    /// their leaves in the first `row_groups` row groups. `None` when there is nothing to split
    /// (one column, one core).
    pub(crate) fn new(
        meta: &ArrowReaderMetadata,
        mask: Option<&ProjectionMask>,
        row_groups: usize,
        cost: impl Fn(&ColumnChunkMetaData) -> i64,
    ) -> Option<Self> {
        let schema = meta.parquet_schema();
        let roots = schema.root_schema().get_fields().len();
        let mut root_cost = vec![0i64; roots];
        for rg in meta.metadata().row_groups().iter().take(row_groups) {
            for (leaf, chunk) in rg.columns().iter().enumerate() {
                let root = schema.get_column_root_idx(leaf);
                if let Some(c) = root_cost.get_mut(root) {
                    *c = c.saturating_add(cost(chunk).max(0));
                }
            }
        }
        let wanted: Vec<usize> = (0..roots)
            .filter(|&r| {
                mask.is_none_or(|m| {
                    (0..schema.num_columns())
                        .any(|leaf| schema.get_column_root_idx(leaf) == r && m.leaf_included(leaf))
                })
            })
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(wanted.len());
        if threads < 2 {
            return None;
        }
        let mut order = wanted.clone();
        order.sort_by_key(|&r| std::cmp::Reverse(root_cost.get(r).copied().unwrap_or(0)));
        let mut groups: Vec<(i64, Vec<usize>)> = vec![(0, Vec::new()); threads];
        for r in order {
            let lightest = groups.iter_mut().min_by_key(|(c, _)| *c)?;
            lightest.0 = lightest
                .0
                .saturating_add(root_cost.get(r).copied().unwrap_or(0));
            lightest.1.push(r);
        }
        let groups: Vec<Vec<usize>> = groups
            .into_iter()
            .map(|(_, mut g)| {
                g.sort_unstable();
                g
            })
            .collect();
        Some(Self {
            roots,
            wanted,
            groups,
        })
    }

    /// The projection of group `g`.
    pub(crate) fn mask(&self, meta: &ArrowReaderMetadata, g: usize) -> Option<ProjectionMask> {
        let roots = self.groups.get(g)?;
        Some(ProjectionMask::roots(
            meta.parquet_schema(),
            roots.iter().copied(),
        ))
    }

    /// One batch of the projected schema from one batch per group (in group order); `None`
    /// when they disagree on the rows.
    pub(crate) fn join(
        &self,
        schema: &SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> std::result::Result<RecordBatch, String> {
        let mut columns: Vec<Option<ArrayRef>> = vec![None; self.roots];
        let mut rows = None;
        for (roots, b) in self.groups.iter().zip(&batches) {
            if *rows.get_or_insert(b.num_rows()) != b.num_rows() {
                return Err(format!(
                    "the column readers disagree on the rows of a batch ({} and {})",
                    rows.unwrap_or(0),
                    b.num_rows()
                ));
            }
            for (&r, column) in roots.iter().zip(b.columns()) {
                if let Some(slot) = columns.get_mut(r) {
                    *slot = Some(column.clone());
                }
            }
        }
        let columns: Vec<ArrayRef> = self
            .wanted
            .iter()
            .filter_map(|&r| columns.get_mut(r).and_then(Option::take))
            .collect();
        let options = RecordBatchOptions::new().with_row_count(rows);
        RecordBatch::try_new_with_options(schema.clone(), columns, &options)
            .map_err(|e| format!("joining the columns: {e}"))
    }
}

/// What a group's thread sends: a batch, the end, or why it stopped.
type Item = Result<Option<RecordBatch>>;

/// Readers of the column groups, each on its own thread.
pub(crate) struct SplitReader {
    path: PathBuf,
    groups: ColumnGroups,
    schema: SchemaRef,
    rx: Vec<Receiver<Item>>,
    done: bool,
}

impl SplitReader {
    /// Starts one thread per group, reading with the reader `build` makes for its file (a file
    /// of its own, from `reopen`) and projection.
    pub(crate) fn spawn(
        path: &Path,
        file: &File,
        meta: &ArrowReaderMetadata,
        groups: ColumnGroups,
        schema: SchemaRef,
        reopen: impl Fn(&Path, &File) -> Result<File>,
        build: impl Fn(&File, &ProjectionMask) -> Result<ParquetRecordBatchReader>,
    ) -> Result<Self> {
        let mut rx = Vec::with_capacity(groups.groups.len());
        for g in 0..groups.groups.len() {
            let mask = groups.mask(meta, g).ok_or_else(|| {
                StreamError::malformed(path, None, "a Parquet column group is missing")
            })?;
            let own = reopen(path, file)?;
            let mut reader = build(&own, &mask)?;
            let (tx, group_rx) = bounded::<Item>(1);
            let thread_path = path.to_path_buf();
            std::thread::Builder::new()
                .name(format!("mem-stream-parquet-{g}"))
                .spawn(move || {
                    loop {
                        let item = contain(&thread_path, "Parquet", || match reader.next() {
                            None => Ok(None),
                            Some(Ok(b)) => Ok(Some(b)),
                            Some(Err(e)) => {
                                Err(StreamError::arrow(&thread_path, "decoding Parquet", e))
                            }
                        });
                        let more = matches!(item, Ok(Some(_)));
                        // The consumer may be gone: nothing to do then.
                        if tx.send(item).is_err() || !more {
                            return;
                        }
                    }
                })
                .map_err(|e| StreamError::io(path, "cannot start a Parquet decoding thread", e))?;
            rx.push(group_rx);
        }
        Ok(Self {
            path: path.to_path_buf(),
            groups,
            schema,
            rx,
            done: false,
        })
    }

    /// The next batch of all projected columns, `None` at the end.
    pub(crate) fn next(&mut self) -> Result<Option<RecordBatch>> {
        if self.done {
            return Ok(None);
        }
        let mut batches = Vec::with_capacity(self.rx.len());
        let mut ended = 0usize;
        for rx in &self.rx {
            match rx.recv() {
                Ok(Ok(Some(b))) => batches.push(b),
                Ok(Ok(None)) => ended += 1,
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(StreamError::malformed(
                        &self.path,
                        None,
                        "a Parquet decoding thread stopped unexpectedly",
                    ));
                }
            }
        }
        if ended == self.rx.len() {
            self.done = true;
            return Ok(None);
        }
        let joined = if ended > 0 {
            Err("some column readers ended before the others".to_owned())
        } else {
            self.groups.join(&self.schema, batches)
        };
        joined.map(Some).map_err(|message| {
            self.done = true;
            StreamError::malformed(&self.path, None, message)
        })
    }
}
