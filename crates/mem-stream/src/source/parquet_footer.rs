//! A second chance for Parquet footers that arrow-rs refuses because an optional field of a
//! column's metadata has a wire type the Parquet spec does not allow there (Dremio wrote a list
//! as field 15, `bloom_filter_length: i32`). Thrift-generated readers (pyarrow's among them) skip
//! such a field; arrow-rs decodes by field id and fails. This copies the footer's Thrift compact
//! encoding, leaving out exactly those fields, and decodes the copy.
//!
//! Only optional `ColumnMetaData` fields are dropped; any other inconsistency leaves the footer
//! to the normal decoder's error.
//!
//! The same Thrift reader gives [`page_header_sizes`], which the page checks
//! ([`parquet_pages`](super::parquet_pages)) use.

use std::fs::File;
use std::sync::Arc;

use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::reader::{ChunkReader, Length};

/// Footer length (4 bytes) and the closing magic (4 bytes).
const TAIL_LEN: u64 = 8;

/// Footers larger than this are not copied (real ones are kilobytes to a few megabytes).
const MAX_FOOTER: u64 = 256 << 20;

/// Nesting deeper than this is not a Parquet footer.
const MAX_DEPTH: usize = 64;

// Thrift compact protocol type codes.
const STOP: u8 = 0;
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// The footer's byte range `(start, length)`, for an unencrypted (`PAR1`) file.
pub(crate) fn footer_range(file: &File) -> Option<(u64, u64)> {
    let len = file.len();
    let tail = file.get_bytes(len.checked_sub(TAIL_LEN)?, 8).ok()?;
    let (footer_len, magic) = tail.as_ref().split_at_checked(4)?;
    if magic != b"PAR1" {
        return None;
    }
    let footer_len = u64::from(u32::from_le_bytes(footer_len.try_into().ok()?));
    Some((
        len.checked_sub(TAIL_LEN.checked_add(footer_len)?)?,
        footer_len,
    ))
}

/// The reader metadata from a footer with its ill-typed optional column fields left out, or
/// `None` when there are none (or the copy does not decode either).
pub(crate) fn load_sanitized(
    file: &File,
    options: &ArrowReaderOptions,
) -> Option<ArrowReaderMetadata> {
    let (start, len) = footer_range(file)?;
    if len > MAX_FOOTER {
        return None;
    }
    let footer = file.get_bytes(start, usize::try_from(len).ok()?).ok()?;
    let (fixed, dropped) = sanitize(&footer)?;
    if dropped == 0 {
        return None;
    }
    let md = ParquetMetaDataReader::decode_metadata_with_options(
        &fixed,
        Some(options.metadata_options()),
    )
    .ok()?;
    tracing::debug!(
        dropped,
        "Parquet footer read without column metadata fields of the wrong type"
    );
    ArrowReaderMetadata::try_new(Arc::new(md), options.clone()).ok()
}

/// The footer re-encoded without ill-typed optional `ColumnMetaData` fields, and how many were
/// left out; `None` if it is not well-formed Thrift.
fn sanitize(footer: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut c = Copier {
        input: footer,
        pos: 0,
        out: Vec::with_capacity(footer.len()),
        dropped: 0,
    };
    c.copy_struct(Place::FileMetaData, 0)?;
    Some((c.out, c.dropped))
}

/// What a page header states, as far as the page walk needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageSizes {
    /// Bytes of the header itself.
    pub header: usize,
    pub uncompressed: i32,
    pub compressed: i32,
    /// Values in a data page (`num_values` of a v1 or v2 data page header), when stated.
    pub values: Option<i32>,
}

/// The sizes a page header states; `None` unless `bytes` starts with a whole, well-formed
/// `PageHeader` holding both sizes (fields 2 and 3, `i32`).
pub(crate) fn page_header_sizes(bytes: &[u8]) -> Option<PageSizes> {
    let mut c = Copier {
        input: bytes,
        pos: 0,
        out: Vec::new(),
        dropped: 0,
    };
    let int = |c: &mut Copier<'_>| {
        let z = c.varint()?;
        i32::try_from((z >> 1) as i64 ^ -((z & 1) as i64)).ok()
    };
    let (mut last, mut uncompressed, mut compressed, mut values) = (0i16, None, None, None);
    while let Some((id, ty)) = c.field_header(last)? {
        last = id;
        match (id, ty) {
            (2, I32) => uncompressed = Some(int(&mut c)?),
            (3, I32) => compressed = Some(int(&mut c)?),
            // `data_page_header` and `data_page_header_v2`: field 1 is `num_values`.
            (5 | 8, STRUCT) => {
                let mut inner = 0i16;
                while let Some((id, ty)) = c.field_header(inner)? {
                    inner = id;
                    if (id, ty) == (1, I32) {
                        values = Some(int(&mut c)?);
                    } else {
                        c.copy_value(ty, Place::Other, 2, true)?;
                        c.out.clear();
                    }
                }
            }
            _ => {
                c.copy_value(ty, Place::Other, 1, true)?;
                c.out.clear();
            }
        }
    }
    Some(PageSizes {
        header: c.pos,
        uncompressed: uncompressed?,
        compressed: compressed?,
        values,
    })
}

/// Where in the footer a struct sits; only the path down to `ColumnMetaData` matters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    FileMetaData,
    RowGroup,
    ColumnChunk,
    ColumnMetaData,
    Other,
}

impl Place {
    /// The place of the struct(s) in field `id` of a struct at `self`.
    fn child(self, id: i16) -> Place {
        match (self, id) {
            (Place::FileMetaData, 4) => Place::RowGroup,
            (Place::RowGroup, 1) => Place::ColumnChunk,
            (Place::ColumnChunk, 3) => Place::ColumnMetaData,
            _ => Place::Other,
        }
    }
}

/// The spec's wire type of a `ColumnMetaData` field, and whether the field is optional.
fn column_meta_field(id: i16) -> Option<(u8, bool)> {
    Some(match id {
        1 | 4 => (I32, false),
        2 | 3 => (LIST, false),
        5..=7 | 9 => (I64, false),
        8 | 13 => (LIST, true),
        10 | 11 | 14 => (I64, true),
        12 | 16 | 17 => (STRUCT, true),
        15 => (I32, true),
        _ => return None,
    })
}

struct Copier<'a> {
    input: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    dropped: usize,
}

impl Copier<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.input.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn write_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    /// Copies a struct, re-encoding field headers (their id deltas change when a field is left
    /// out).
    fn copy_struct(&mut self, place: Place, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (mut last_in, mut last_out) = (0i16, 0i16);
        loop {
            let Some((id, ty)) = self.field_header(last_in)? else {
                self.out.push(STOP);
                return Some(());
            };
            last_in = id;
            if place == Place::ColumnMetaData
                && let Some((want, optional)) = column_meta_field(id)
                && ty != want
            {
                if !optional {
                    return None;
                }
                // Skip the value: copy it into a scratch position and cut it off again.
                let mark = self.out.len();
                self.copy_value(ty, Place::Other, depth + 1, true)?;
                self.out.truncate(mark);
                self.dropped += 1;
                continue;
            }
            match id.checked_sub(last_out) {
                Some(d @ 1..=15) => self.out.push(((d as u8) << 4) | ty),
                _ => {
                    self.out.push(ty);
                    let id = i32::from(id);
                    self.write_varint(u64::from(((id << 1) ^ (id >> 31)) as u32));
                }
            }
            last_out = id;
            self.copy_value(ty, place.child(id), depth + 1, true)?;
        }
    }

    /// The next field's id and type, `Some(None)` at the struct's end; `last` is the previous
    /// field's id (ids are delta-encoded).
    fn field_header(&mut self, last: i16) -> Option<Option<(i16, u8)>> {
        let header = self.byte()?;
        let ty = header & 0x0f;
        if ty == STOP {
            return Some(None);
        }
        let delta = header >> 4;
        let id = if delta == 0 {
            let z = self.varint()?;
            i16::try_from((z >> 1) as i64 ^ -((z & 1) as i64)).ok()?
        } else {
            last.checked_add(i16::from(delta))?
        };
        Some(Some((id, ty)))
    }

    /// Copies one value of type `ty`; `in_field` says whether a bool is carried by the field
    /// header (struct field) or is a byte of its own (collection element).
    fn copy_value(&mut self, ty: u8, place: Place, depth: usize, in_field: bool) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match ty {
            BOOL_TRUE | BOOL_FALSE if in_field => {}
            BOOL_TRUE | BOOL_FALSE | BYTE => self.copy_bytes(1)?,
            I16 | I32 | I64 => {
                let v = self.varint()?;
                self.write_varint(v);
            }
            DOUBLE => self.copy_bytes(8)?,
            BINARY => {
                let n = self.varint()?;
                self.write_varint(n);
                self.copy_bytes(usize::try_from(n).ok()?)?;
            }
            LIST | SET => {
                let header = self.byte()?;
                self.out.push(header);
                let elem = header & 0x0f;
                let mut n = u64::from(header >> 4);
                if n == 15 {
                    n = self.varint()?;
                    self.write_varint(n);
                }
                self.check_count(n)?;
                for _ in 0..n {
                    self.copy_value(elem, place, depth + 1, false)?;
                }
            }
            MAP => {
                let n = self.varint()?;
                self.write_varint(n);
                if n > 0 {
                    self.check_count(n)?;
                    let kinds = self.byte()?;
                    self.out.push(kinds);
                    for _ in 0..n {
                        self.copy_value(kinds >> 4, Place::Other, depth + 1, false)?;
                        self.copy_value(kinds & 0x0f, Place::Other, depth + 1, false)?;
                    }
                }
            }
            STRUCT => self.copy_struct(place, depth + 1)?,
            _ => return None,
        }
        Some(())
    }

    /// Every element takes at least one byte: a count past the input is malformed.
    fn check_count(&self, n: u64) -> Option<()> {
        (n <= (self.input.len().saturating_sub(self.pos)) as u64).then_some(())
    }

    fn copy_bytes(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.input.get(self.pos..end)?;
        self.out.extend_from_slice(bytes);
        self.pos = end;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ColumnMetaData`-shaped struct inside the path the copier follows.
    fn footer(column_meta: &[u8]) -> Vec<u8> {
        // FileMetaData { 4: list<RowGroup>[1] { 1: list<ColumnChunk>[1] { 3: <column_meta> } } }
        let mut f = vec![0x49, 0x1c, 0x19, 0x1c, 0x3c];
        f.extend_from_slice(column_meta);
        f.extend_from_slice(&[STOP, STOP, STOP]);
        f
    }

    #[test]
    fn drops_only_ill_typed_optional_fields() {
        // 5: i64 = 3, 15: list<i32>[1] {7} (ill-typed), 16: struct {} (well-typed), stop.
        let input = footer(&[0x56, 0x06, 0xa9, 0x15, 0x0e, 0x1c, STOP, STOP]);
        let (out, dropped) = sanitize(&input).unwrap();
        assert_eq!(dropped, 1);
        // 16 follows 5 directly: delta 11.
        assert_eq!(out, footer(&[0x56, 0x06, 0xbc, STOP, STOP]));
    }

    #[test]
    fn well_typed_footers_copy_unchanged() {
        let input = footer(&[0x56, 0x06, 0x46, 0x02, 0x7c, STOP, STOP]);
        assert_eq!(sanitize(&input).unwrap(), (input.clone(), 0));
    }

    #[test]
    fn required_field_of_wrong_type_is_not_repaired() {
        // 5 (num_values, required i64) as a string.
        assert!(sanitize(&footer(&[0x58, 0x01, b'x', STOP])).is_none());
    }

    #[test]
    fn dremio_footer_reads_without_its_list_field() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/parquet/dict-page-offset-zero.parquet");
        let file = File::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let options = crate::source::parquet::reader_options();
        assert!(ArrowReaderMetadata::load(&file, options.clone()).is_err());
        let meta = load_sanitized(&file, &options).unwrap();
        assert_eq!(meta.metadata().file_metadata().num_rows(), 39);
        let c = meta.metadata().row_group(0).column(0);
        assert_eq!((c.num_values(), c.data_page_offset()), (39, 4));
    }

    #[test]
    fn page_header_sizes_are_read_and_other_fields_skipped() {
        // 1: type = 0 (DATA_PAGE), 2: 300 (zigzag 600), 3: -1 (zigzag 1),
        // 5: struct { 1: i32 = 4 }, stop; then page bytes.
        let header = [
            0x15, 0x00, 0x15, 0xd8, 0x04, 0x15, 0x01, 0x2c, 0x15, 0x08, STOP, STOP,
        ];
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(b"page data");
        let sizes = PageSizes {
            header: header.len(),
            uncompressed: 300,
            compressed: -1,
            values: Some(4),
        };
        assert_eq!(page_header_sizes(&bytes), Some(sizes));
        assert_eq!(page_header_sizes(&header[..6]), None);
        // Without the compressed size it is no page header.
        assert_eq!(page_header_sizes(&[0x15, 0x00, 0x15, 0x02, STOP]), None);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = sanitize(&bytes);
            let _ = page_header_sizes(&bytes);
        }
    }
}
