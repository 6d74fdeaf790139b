//! What a Parquet file is checked for before it is read: byte ranges inside the file, and
//! footer, column readers and column chunks within the memory budget.

use std::fs::File;

use parquet::file::metadata::ParquetMetaData;

use crate::budget::Budget;
use crate::error::Result;

/// Memory of the decoded footer per footer byte (measured: a 3.6 MB footer of 20,000 columns
/// decodes to about 37 MB), rounded up.
const FOOTER_EXPANSION: u64 = 12;

/// Memory of the reader of one leaf column, whatever the batch size (measured: 20,000 columns
/// take 560 MB, 28 KB each), rounded up.
const COLUMN_READER_BYTES: u64 = 32 << 10;

/// Refuses a footer whose decoding would take more than a batch's share of the memory limit.
pub(super) fn check_footer_size(
    path: &std::path::Path,
    file: &File,
    budget: &Budget,
) -> Result<()> {
    let footer = super::parquet_footer::footer_range(file).map_or(0, |(_, len)| len);
    let needed = footer.saturating_mul(FOOTER_EXPANSION);
    if needed > budget.batch_max() {
        return Err(budget.over(
            path,
            None,
            format!(
                "decoding a Parquet footer of {}",
                mem_monitor::format_bytes(footer)
            ),
            needed,
            budget.batch_max(),
            crate::budget::RAISE_LIMIT,
        ));
    }
    Ok(())
}

/// Refuses more column readers than a batch's share of the memory limit holds (`projection`
/// holds root column names).
pub(super) fn check_column_readers(
    path: &std::path::Path,
    md: &ParquetMetaData,
    projection: Option<&[String]>,
    budget: &Budget,
) -> Result<()> {
    let leaves = md
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .filter(|c| {
            let root = c.path().parts().first().cloned().unwrap_or_default();
            projection.is_none_or(|p| p.contains(&root))
        })
        .count();
    let needed = (leaves as u64).saturating_mul(COLUMN_READER_BYTES);
    if needed > budget.batch_max() {
        return Err(budget.over(
            path,
            None,
            format!("reading {leaves} Parquet columns"),
            needed,
            budget.batch_max(),
            "read fewer columns (--columns) or raise the memory limit (--memory-limit-mb)",
        ));
    }
    Ok(())
}

/// Refuses column chunks whose byte ranges are negative or lie outside the file, which the
/// reader would panic on (`ColumnChunkMetaData::byte_range` asserts) or trust.
pub(super) fn check_layout(file: &File, md: &ParquetMetaData) -> parquet::errors::Result<()> {
    use parquet::file::reader::Length;
    let len = file.len();
    for (g, rg) in md.row_groups().iter().enumerate() {
        if rg.num_rows() < 0 {
            return Err(parquet::errors::ParquetError::General(format!(
                "row group {g} claims {} rows",
                rg.num_rows()
            )));
        }
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let fits = u64::try_from(start)
                .ok()
                .zip(u64::try_from(c.compressed_size()).ok())
                .and_then(|(s, n)| s.checked_add(n))
                .is_some_and(|end| end <= len)
                && c.data_page_offset() >= 0
                && c.uncompressed_size() >= 0
                && c.num_values() >= 0;
            if !fits {
                return Err(parquet::errors::ParquetError::General(format!(
                    "row group {g}, column {}: its pages (offset {start}, {} bytes) lie outside the {len}-byte file",
                    c.column_path(),
                    c.compressed_size()
                )));
            }
        }
    }
    Ok(())
}

/// Parquet decompresses a column chunk's pages whole: one that would not fit a batch's share of
/// the memory limit is refused up front instead of exhausting memory (a 4 KB file can hold 2 GB
/// of strings).
pub(super) fn check_chunk_sizes(
    path: &std::path::Path,
    md: &ParquetMetaData,
    projection: Option<&[String]>,
    budget: &Budget,
) -> Result<()> {
    let limit = budget.batch_max();
    for (g, rg) in md.row_groups().iter().enumerate() {
        for c in rg.columns() {
            let root = c.column_path().parts().first().cloned().unwrap_or_default();
            if projection.is_some_and(|p| !p.contains(&root)) {
                continue;
            }
            let size = u64::try_from(c.uncompressed_size()).unwrap_or(0);
            if size > limit {
                return Err(budget.over(
                    path,
                    None,
                    format!(
                        "row group {g}, column {}, decompressed,",
                        c.column_path().string()
                    ),
                    size,
                    limit,
                    crate::budget::RAISE_LIMIT,
                ));
            }
        }
    }
    Ok(())
}
