//! Repairs of column-chunk byte ranges that a Parquet footer provably gets wrong, so files other
//! readers accept (pyarrow works around the same writer bugs) also read here.
//!
//! Two repairs, each applied only when the footer contradicts the file itself:
//! - a dictionary page offset inside the leading `PAR1` magic (some writers store 0 for "none")
//!   is dropped, so the chunk starts at its first data page;
//! - a chunk whose declared bytes do not hold its pages (old parquet-mr left the dictionary page
//!   header out of `total_compressed_size`, PARQUET-816), but whose pages exactly fill the space
//!   up to the next chunk (or the footer) and hold all its values, gets that size.
//!
//! The check walks page headers only (no page is decompressed), and never beyond the footer.

use std::fs::File;
use std::sync::Arc;

use parquet::column::page::PageReader;
use parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData, RowGroupMetaData};
use parquet::file::serialized_reader::SerializedPageReader;

/// Bytes of the `PAR1` magic at the start of every Parquet file.
const MAGIC_LEN: u64 = 4;

/// Page headers walked at most per chunk; a chunk with more pages is left as declared.
const MAX_PAGES: usize = 1 << 20;

/// The row groups with repaired column chunks, or `None` when every chunk is consistent (or
/// the file cannot be checked, in which case the reader reports what it finds).
pub(crate) fn repair_column_chunks(
    file: &File,
    md: &ParquetMetaData,
) -> Option<Vec<RowGroupMetaData>> {
    let (footer_start, _) = super::parquet_footer::footer_range(file)?;
    let mut starts: Vec<u64> = md
        .row_groups()
        .iter()
        .flat_map(RowGroupMetaData::columns)
        .filter_map(|c| chunk_start(c, valid_dictionary_offset(c)))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let reader = Arc::new(file.try_clone().ok()?);
    let mut changed = false;
    let mut groups = Vec::with_capacity(md.num_row_groups());
    for rg in md.row_groups() {
        let mut fixed_any = false;
        let columns: Vec<ColumnChunkMetaData> = rg
            .columns()
            .iter()
            .map(
                |c| match repair_chunk(&reader, c, rg.num_rows(), &starts, footer_start) {
                    Some(fixed) => {
                        fixed_any = true;
                        fixed
                    }
                    None => c.clone(),
                },
            )
            .collect();
        if fixed_any {
            changed = true;
            groups.push(
                rg.clone()
                    .into_builder()
                    .set_column_metadata(columns)
                    .build()
                    .ok()?,
            );
        } else {
            groups.push(rg.clone());
        }
    }
    changed.then_some(groups)
}

/// The dictionary page offset, unless it points into the leading magic (where no page can be).
fn valid_dictionary_offset(c: &ColumnChunkMetaData) -> Option<i64> {
    c.dictionary_page_offset()
        .filter(|&o| u64::try_from(o).is_ok_and(|o| o >= MAGIC_LEN))
}

/// First byte of the chunk, as the page reader computes it.
fn chunk_start(c: &ColumnChunkMetaData, dictionary_offset: Option<i64>) -> Option<u64> {
    u64::try_from(dictionary_offset.unwrap_or(c.data_page_offset())).ok()
}

/// The repaired chunk, or `None` when nothing about it is provably wrong.
fn repair_chunk(
    reader: &Arc<File>,
    c: &ColumnChunkMetaData,
    rows: i64,
    starts: &[u64],
    footer_start: u64,
) -> Option<ColumnChunkMetaData> {
    let dictionary = valid_dictionary_offset(c);
    let mut fixed = None;
    if dictionary != c.dictionary_page_offset() {
        tracing::debug!(
            column = %c.column_path(),
            offset = ?c.dictionary_page_offset(),
            "Parquet dictionary page offset inside the magic ignored"
        );
        fixed = Some(
            c.clone()
                .into_builder()
                .set_dictionary_page_offset(None)
                .build()
                .ok()?,
        );
    }
    let current = fixed.as_ref().unwrap_or(c);
    match extend_to_pages(reader, current, rows, starts, footer_start) {
        Some(extended) => Some(extended),
        None => fixed,
    }
}

/// `c` with its size extended up to the next chunk (or the footer), when the declared bytes do
/// not hold its values and the extended ones hold exactly its pages.
fn extend_to_pages(
    reader: &Arc<File>,
    c: &ColumnChunkMetaData,
    rows: i64,
    starts: &[u64],
    footer_start: u64,
) -> Option<ColumnChunkMetaData> {
    let start = chunk_start(c, c.dictionary_page_offset())?;
    let end = start.checked_add(u64::try_from(c.compressed_size()).ok()?)?;
    let next = starts
        .iter()
        .copied()
        .find(|&s| s > start)
        .map_or(footer_start, |s| s.min(footer_start));
    if start < MAGIC_LEN || end >= next || pages_hold_values(reader, c, rows) {
        return None;
    }
    let missing = i64::try_from(next - end).ok()?;
    let extended = c
        .clone()
        .into_builder()
        .set_total_compressed_size(c.compressed_size().checked_add(missing)?)
        // The missing bytes are page headers, counted in both totals; this keeps the
        // uncompressed size (the memory guard's measure) at least as large as the truth.
        .set_total_uncompressed_size(c.uncompressed_size().saturating_add(missing))
        .build()
        .ok()?;
    if !pages_hold_values(reader, &extended, rows) {
        return None;
    }
    tracing::debug!(
        column = %c.column_path(),
        declared = c.compressed_size(),
        actual = extended.compressed_size(),
        "Parquet column chunk size repaired from its page headers"
    );
    Some(extended)
}

/// Whether the chunk's declared bytes are exactly a run of pages holding all its values.
fn pages_hold_values(reader: &Arc<File>, c: &ColumnChunkMetaData, rows: i64) -> bool {
    let walk = || -> Option<i64> {
        let rows = usize::try_from(rows).ok()?;
        let mut pages = SerializedPageReader::new(reader.clone(), c, rows, None).ok()?;
        let mut values: i64 = 0;
        for _ in 0..MAX_PAGES {
            let Some(page) = pages.peek_next_page().ok()? else {
                return Some(values);
            };
            if !page.is_dict {
                values = values.checked_add(i64::try_from(page.num_levels?).ok()?)?;
            }
            pages.skip_next_page().ok()?;
        }
        None
    };
    // Malformed headers are the case being checked: a panic deep in the reader means "no".
    crate::guard::contain_probe(walk) == Some(c.num_values())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ArrowReaderMetadata;

    fn conformance(name: &str) -> File {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/parquet")
            .join(name);
        File::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The footer as `open_builder` reads it, before chunk repairs.
    fn metadata(file: &File) -> Arc<ParquetMetaData> {
        let options = super::super::parquet::reader_options();
        ArrowReaderMetadata::load(file, options.clone())
            .ok()
            .or_else(|| super::super::parquet_footer::load_sanitized(file, &options))
            .unwrap()
            .metadata()
            .clone()
    }

    #[test]
    fn dictionary_offset_in_magic_is_dropped() {
        let file = conformance("dict-page-offset-zero.parquet");
        let md = metadata(&file);
        let groups = repair_column_chunks(&file, &md).unwrap();
        let c = &groups[0].columns()[0];
        assert_eq!(c.dictionary_page_offset(), None);
        assert_eq!(c.byte_range(), (4, 40));
    }

    #[test]
    fn short_chunks_grow_to_their_pages() {
        let file = conformance("nation.dict-malformed.parquet");
        let md = metadata(&file);
        let groups = repair_column_chunks(&file, &md).unwrap();
        let sizes: Vec<i64> = groups[0]
            .columns()
            .iter()
            .map(|c| c.compressed_size())
            .collect();
        // Dictionary columns were 15 bytes (their dictionary page header) short.
        assert_eq!(sizes, [125, 337, 125, 2017]);
    }

    #[test]
    fn consistent_files_are_left_alone() {
        for name in [
            "alltypes_plain.parquet",
            "alltypes_dictionary.parquet",
            "datapage_v2.snappy.parquet",
        ] {
            let file = conformance(name);
            let md = metadata(&file);
            assert!(repair_column_chunks(&file, &md).is_none(), "{name}");
        }
    }
}
