//! Page headers checked before the Parquet reader trusts them: it allocates a page's
//! `uncompressed_page_size` (zero-filled, for snappy) before decompressing it, so one header in a
//! small file could claim 2 GB. The headers of every column chunk to be read are walked first (no
//! page is read or decompressed) and a page larger than a batch's share of the memory limit is
//! refused.
//!
//! Headers that do not parse are left to the reader, which reports them; this only looks for
//! sizes that parse and lie.

use std::fs::File;
use std::path::Path;

use parquet::file::metadata::ParquetMetaData;
#[cfg(not(unix))]
use parquet::file::reader::ChunkReader;

use super::parquet_footer::page_header_sizes;
use crate::budget::Budget;
use crate::error::{Result, StreamError};

/// Bytes read first for a page header; most are a few dozen bytes, statistics make some larger.
const FIRST_READ: u64 = 256;
/// Headers larger than this are left to the reader.
const MAX_HEADER: u64 = 16 << 20;
/// Pages walked at most per column chunk.
const MAX_PAGES: usize = 1 << 20;

/// Refuses a page of a projected column (`projection` holds root column names) whose stated
/// uncompressed size is over the budget's batch share, or negative, or whose stated compressed
/// size runs past its column chunk. With a `limit` (a sample), only the pages that hold its
/// first `limit` rows are walked: the row groups that hold them, and in the last one, for a
/// column without repetition (one value per row), the data pages up to those rows and one more;
/// the reader reads no other (a preview of a big file otherwise spends most of its time reading
/// the headers of pages it never reads).
pub(crate) fn check_page_sizes(
    path: &Path,
    file: &File,
    md: &ParquetMetaData,
    projection: Option<&[String]>,
    limit: Option<usize>,
    budget: &Budget,
) -> Result<()> {
    let allowed = budget.batch_max();
    let mut first_row = 0u64;
    for (g, rg) in md.row_groups().iter().enumerate() {
        if limit.is_some_and(|l| first_row >= l as u64) {
            break;
        }
        // Rows of this group the sample needs (all of them without a limit).
        let needed = limit.map_or(u64::MAX, |l| (l as u64).saturating_sub(first_row));
        first_row = first_row.saturating_add(u64::try_from(rg.num_rows()).unwrap_or(0));
        for c in rg.columns() {
            let root = c.column_path().parts().first().cloned().unwrap_or_default();
            if projection.is_some_and(|p| !p.contains(&root)) {
                continue;
            }
            // `check_layout` made sure the range is inside the file and not negative.
            let (start, len) = c.byte_range();
            let end = start.saturating_add(len);
            let flat = c.column_descr().max_rep_level() == 0;
            let (mut pos, mut values, mut past) = (start, 0u64, 0usize);
            for page in 0..MAX_PAGES {
                if pos >= end || (flat && past > 1) {
                    break;
                }
                let Some((header, uncompressed, compressed, page_values)) =
                    read_header(file, pos, end)
                else {
                    break;
                };
                values =
                    values.saturating_add(u64::try_from(page_values.unwrap_or(0)).unwrap_or(0));
                if values >= needed {
                    past += 1;
                }
                let what = || {
                    format!(
                        "row group {g}, column {}, page {page}",
                        c.column_path().string()
                    )
                };
                let (Ok(uncompressed), Ok(compressed)) =
                    (u64::try_from(uncompressed), u64::try_from(compressed))
                else {
                    return Err(StreamError::malformed(
                        path,
                        None,
                        format!(
                            "{}: the page header states negative sizes ({uncompressed} and {compressed} bytes)",
                            what()
                        ),
                    ));
                };
                if uncompressed > allowed {
                    return Err(budget.over(
                        path,
                        None,
                        format!("{}, decompressed,", what()),
                        uncompressed,
                        allowed,
                        crate::budget::RAISE_LIMIT,
                    ));
                }
                pos = pos.saturating_add(header).saturating_add(compressed);
            }
        }
    }
    Ok(())
}

/// The page header at `pos` (before `end`): its length, sizes and values, reading more of the
/// file while it is cut short.
fn read_header(file: &File, pos: u64, end: u64) -> Option<(u64, i32, i32, Option<i32>)> {
    let mut want = FIRST_READ;
    loop {
        let n = want.min(end - pos);
        let bytes = read_at(file, pos, usize::try_from(n).ok()?)?;
        if let Some(p) = page_header_sizes(&bytes) {
            return Some((p.header as u64, p.uncompressed, p.compressed, p.values));
        }
        if n < want || want >= MAX_HEADER {
            return None;
        }
        want *= 16;
    }
}

/// `len` bytes at `pos`: one positioned read where the platform has it (a walk reads hundreds
/// of headers, and `ChunkReader::get_bytes` on a `File` costs a dup, a seek, a read and a close
/// for each), else through the reader.
fn read_at(file: &File, pos: u64, len: usize) -> Option<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, pos).ok()?;
        Some(buf)
    }
    #[cfg(not(unix))]
    {
        file.get_bytes(pos, len).ok().map(|b| b.to_vec())
    }
}
