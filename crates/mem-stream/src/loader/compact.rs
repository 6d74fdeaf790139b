//! `StreamingLoader::load_compact`: a whole file kept in memory with its text columns as FSST
//! codes (mem-optimize's `CompactTable`).

use std::path::Path;

use mem_optimize::{CompactOptions, CompactTable};

use super::StreamingLoader;
use crate::error::{Result, StreamError};

impl StreamingLoader {
    /// Streams `path` and keeps the whole file as a [`CompactTable`]: each chunk's text columns
    /// compressed with FSST (the symbol table trained on the first chunk and reused while it
    /// compresses the next ones as well), its other columns optimised with the loader's
    /// [`optimize`](super::StreamingLoaderBuilder::optimize) options (kept as read when
    /// optimisation is off).
    ///
    /// Chunks are read in the file's own types and each decodes back to them
    /// ([`CompactTable::record_batches`], [`CompactTable::value`]); each chunk is dropped once
    /// compacted. The table may hold at most the loader's
    /// [`memory_limit`](Self::memory_limit); past it loading stops with
    /// [`StreamError::TooLarge`].
    ///
    /// ```
    /// # #[cfg(feature = "csv")] {
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("notes.csv");
    /// let mut csv = String::from("id,note\n");
    /// for i in 0..5_000 {
    ///     csv.push_str(&format!("{i},the note of row {i} says the stream kept its memory budget\n"));
    /// }
    /// std::fs::write(&path, csv)?;
    /// let table = mem_stream::StreamingLoader::builder().build()?.load_compact(&path)?;
    /// assert_eq!(table.num_rows(), 5_000);
    /// assert_eq!(
    ///     table.value(1, 42)?.as_deref(),
    ///     Some("the note of row 42 says the stream kept its memory budget")
    /// );
    /// assert!(table.report().ratio() < 0.6);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`stream`](Self::stream); [`StreamError::Optimize`] when a chunk cannot be compacted;
    /// [`StreamError::TooLarge`] past the memory limit.
    pub fn load_compact(&self, path: impl AsRef<Path>) -> Result<CompactTable> {
        let path = path.as_ref();
        let compacting = |chunk: usize| {
            move |error| StreamError::Optimize {
                path: path.to_path_buf(),
                chunk,
                error,
            }
        };
        // Chunks in the file's own types: each compact chunk optimises itself, so no chunk
        // needs bringing to a wider type later.
        let mut raw = self.clone();
        let options = CompactOptions::default().optimize(raw.optimize.take());
        let mut stream = raw.stream(path)?;
        let mut table =
            CompactTable::new(stream.source_schema(), options).map_err(compacting(0))?;
        let mut held = 0u64;
        for (index, item) in stream.by_ref().enumerate() {
            let (batch, _) = item?;
            table.push(&batch).map_err(compacting(index))?;
            drop(batch);
            held = held.saturating_add(table.batches().last().map_or(0, |b| b.memory_size()));
            if held > self.memory_limit {
                return Err(StreamError::TooLarge {
                    path: path.to_path_buf(),
                    estimated_mb: mem_monitor::bytes_to_mb(held),
                    limit_mb: mem_monitor::bytes_to_mb(self.memory_limit),
                });
            }
        }
        tracing::debug!(
            path = %path.display(),
            rows = table.num_rows(),
            bytes = table.memory_size(),
            "loaded in compact form"
        );
        Ok(table)
    }
}

#[cfg(all(test, feature = "csv"))]
mod tests {
    use std::fmt::Write as _;

    use arrow::array::RecordBatch;
    use mem_optimize::CompactEncoding;

    use crate::StreamingLoader;

    fn notes_csv(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
        let path = dir.join("notes.csv");
        let mut csv = String::from("id,kind,note\n");
        for i in 0..rows {
            let kind = ["a", "b", "c"][i % 3];
            let note = if i % 10 == 3 {
                String::new()
            } else {
                format!("note {i}: the loader kept chunk {} of the file", i / 100)
            };
            writeln!(csv, "{i},{kind},{note}").unwrap();
        }
        std::fs::write(&path, csv).unwrap();
        path
    }

    #[test]
    fn a_compact_file_decodes_to_what_load_reads_in_the_files_own_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = notes_csv(dir.path(), 3_000);
        let plain = StreamingLoader::builder()
            .optimize(false)
            .chunk_size(500)
            .build()
            .unwrap();
        let whole = plain.load(&path).unwrap();
        for optimize in [true, false] {
            let loader = StreamingLoader::builder()
                .optimize(optimize)
                .chunk_size(500)
                .build()
                .unwrap();
            let table = loader.load_compact(&path).unwrap();
            assert_eq!(table.num_rows(), 3_000);
            assert!(table.batches().len() >= 6);
            let decoded: Vec<RecordBatch> =
                table.record_batches().collect::<Result<_, _>>().unwrap();
            let joined = arrow::compute::concat_batches(&table.schema(), &decoded).unwrap();
            assert_eq!(joined, whole);
            let report = table.report();
            assert_eq!(report.columns[2].encoding, CompactEncoding::Fsst);
            assert_eq!(report.columns[2].trainings, 1);
            assert!(report.columns[2].ratio() < 0.5, "{report}");
            assert!(report.compact_bytes < report.arrow_bytes, "{report}");
            assert_eq!(
                table.value(2, 2_501).unwrap().as_deref(),
                Some("note 2501: the loader kept chunk 25 of the file")
            );
        }
    }

    #[test]
    fn a_table_past_the_memory_limit_stops_loading() {
        let dir = tempfile::tempdir().unwrap();
        let path = notes_csv(dir.path(), 3_000);
        let loader = StreamingLoader::builder()
            .memory_limit(64 * mem_monitor::KIB)
            .chunk_size(500)
            .build();
        // A limit this small may be refused by the builder itself; either way no table.
        if let Ok(loader) = loader {
            let err = loader.load_compact(&path).unwrap_err();
            assert!(matches!(err, crate::StreamError::TooLarge { .. }), "{err}");
        }
    }
}
