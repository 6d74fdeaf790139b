//! The `.npy` preamble and header dict: building and checking them.

use std::path::{Path, PathBuf};

use super::{NPY_ALIGN, NPY_MAGIC};
use crate::error::{Result, ServiceError};

/// A header larger than this is refused before it is read (NumPy itself caps it at 10,000 bytes
/// by default; structured dtypes are not supported here, so real headers are about 100 bytes).
pub(super) const MAX_HEADER_LEN: usize = 1 << 20;

/// Which `.npy` format version a file uses or should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyVersion {
    /// 1.0: header length as u16 (headers up to 65,535 bytes); what NumPy writes by default.
    V1,
    /// 2.0: header length as u32.
    V2,
    /// 3.0: like 2.0 with a UTF-8 header (read only; the writer never needs it).
    V3,
}

/// What the header of a `.npy` file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// The format version of the file.
    pub version: NpyVersion,
    /// The `descr` string, e.g. `<f4`.
    pub descr: String,
    /// The `fortran_order` flag.
    pub fortran_order: bool,
    /// The `shape` tuple.
    pub shape: Vec<usize>,
    /// Bytes before the data (magic, version, length field and header text).
    pub data_offset: usize,
}

/// Parses only the header of `.npy` bytes (useful to inspect a file or to test a writer).
///
/// # Errors
/// [`ServiceError::Npy`] when the bytes do not start with a well-formed header (any dtype and
/// shape are accepted here; [`read_npy`](super::read_npy) is stricter).
pub fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader> {
    let name = PathBuf::from("<bytes>");
    let short = || ServiceError::npy("<bytes>", "shorter than its preamble");
    let first = bytes.get(..10).ok_or_else(short)?;
    let mut prefix = [0u8; 12];
    prefix[..10].copy_from_slice(first);
    let (_, header_len, preamble) = parse_preamble(&prefix, &name, |rest| {
        let more = bytes.get(10..12).ok_or_else(short)?;
        rest.copy_from_slice(more);
        Ok(())
    })?;
    let end = preamble.checked_add(header_len).ok_or_else(short)?;
    let text = bytes
        .get(preamble..end)
        .ok_or_else(|| ServiceError::npy("<bytes>", "truncated in the header"))?;
    let version = version_of(prefix[6], prefix[7], &name)?;
    parse_header_text(text, version, preamble, &name)
}

/// The complete preamble and header NumPy writes for a `rows x dim` little-endian f32 C-order
/// array: version 1.0 (the dict of a 2-D shape is far below the u16 limit), padded with spaces
/// and ended by `\n` so that its total length is a multiple of [`NPY_ALIGN`].
#[must_use]
pub fn npy_header_bytes(rows: usize, dim: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let preamble = NPY_MAGIC.len() + 4;
    // At least the final '\n' after the dict, then up to the next multiple of 64.
    let total = (preamble + dict.len() + 1).div_ceil(NPY_ALIGN) * NPY_ALIGN;
    let header_len = u16::try_from(total - preamble).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

pub(super) fn version_of(major: u8, minor: u8, name: &Path) -> Result<NpyVersion> {
    match (major, minor) {
        (1, 0) => Ok(NpyVersion::V1),
        (2, 0) => Ok(NpyVersion::V2),
        (3, 0) => Ok(NpyVersion::V3),
        _ => Err(ServiceError::npy(
            name,
            format!("unsupported format version {major}.{minor} (expected 1.0, 2.0 or 3.0)"),
        )),
    }
}

/// Checks magic and version in `prefix[..10]`, fetching two more bytes through `more` for
/// versions 2 and 3; returns the version, the header length and the preamble length.
pub(super) fn parse_preamble(
    prefix: &[u8; 12],
    name: &Path,
    more: impl FnOnce(&mut [u8]) -> Result<()>,
) -> Result<(NpyVersion, usize, usize)> {
    if &prefix[..6] != NPY_MAGIC {
        return Err(ServiceError::npy(name, "bad magic: expected \\x93NUMPY"));
    }
    let version = version_of(prefix[6], prefix[7], name)?;
    match version {
        NpyVersion::V1 => Ok((
            version,
            usize::from(u16::from_le_bytes([prefix[8], prefix[9]])),
            10,
        )),
        NpyVersion::V2 | NpyVersion::V3 => {
            let mut rest = [0u8; 2];
            more(&mut rest)?;
            let len = u32::from_le_bytes([prefix[8], prefix[9], rest[0], rest[1]]);
            Ok((version, usize::try_from(len).unwrap_or(usize::MAX), 12))
        }
    }
}

pub(super) fn parse_header_text(
    text: &[u8],
    version: NpyVersion,
    preamble: usize,
    name: &Path,
) -> Result<NpyHeader> {
    let text = match version {
        NpyVersion::V3 => {
            std::str::from_utf8(text).map_err(|_| ServiceError::npy(name, "header is not UTF-8"))?
        }
        _ => {
            if !text.is_ascii() {
                return Err(ServiceError::npy(name, "header is not ASCII"));
            }
            std::str::from_utf8(text).map_err(|_| ServiceError::npy(name, "header is not ASCII"))?
        }
    };
    let dict = super::dict::parse(text)
        .map_err(|why| ServiceError::npy(name, format!("bad header dict: {why}")))?;
    Ok(NpyHeader {
        version,
        descr: dict.descr,
        fortran_order: dict.fortran_order,
        shape: dict.shape,
        data_offset: preamble + text.len(),
    })
}

/// Accepts only what the cache stores: 2-D, `<f4`, C order. Returns `(rows, dim)`.
pub(super) fn check_header(h: &NpyHeader, name: &Path) -> Result<(usize, usize)> {
    match h.descr.as_str() {
        "<f4" => {}
        ">f4" => {
            return Err(ServiceError::npy(
                name,
                "big-endian float32 ('>f4') is not supported; convert with arr.astype('<f4') before saving",
            ));
        }
        other => {
            return Err(ServiceError::npy(
                name,
                format!(
                    "unsupported dtype {other:?}: only little-endian float32 ('<f4') is supported"
                ),
            ));
        }
    }
    if h.fortran_order {
        return Err(ServiceError::npy(
            name,
            "Fortran-ordered arrays are not supported; save np.ascontiguousarray(arr) instead",
        ));
    }
    match h.shape.as_slice() {
        [rows, dim] if *dim > 0 => Ok((*rows, *dim)),
        [_, _] => Err(ServiceError::npy(name, "shape has zero columns")),
        other => Err(ServiceError::npy(
            name,
            format!("expected a 2-D array (rows, dim), found shape {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_follows_the_published_rules() {
        for (rows, dim) in [(0, 1), (5000, 384), (1, 1), (usize::MAX, usize::MAX)] {
            let h = npy_header_bytes(rows, dim);
            assert_eq!(&h[..6], NPY_MAGIC);
            assert_eq!(h[6..8], [1, 0]);
            let len = usize::from(u16::from_le_bytes([h[8], h[9]]));
            assert_eq!(10 + len, h.len());
            assert_eq!(h.len() % 64, 0);
            assert_eq!(h.last(), Some(&b'\n'));
            let text = std::str::from_utf8(&h[10..]).expect("ascii");
            assert!(text.starts_with(&format!(
                "{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
            )));
            assert!(
                text.trim_end_matches('\n')
                    .trim_end_matches(' ')
                    .ends_with('}')
            );
            let parsed = parse_npy_header(&h).expect("own header parses");
            assert_eq!(parsed.shape, vec![rows, dim]);
            assert_eq!(parsed.data_offset, h.len());
        }
        // The reference file's header is exactly what NumPy wrote for this shape.
        assert_eq!(npy_header_bytes(5000, 384).len(), 128);
    }
}
