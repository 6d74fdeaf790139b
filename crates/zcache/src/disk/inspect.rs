//! Reading one entry file and saying what it is, without changing anything: the single place
//! that decides "entry", "damaged", "too large" or "foreign". Callers decide what to do about it
//! (remove, count, skip), so inspection and repair share one judgement.

use std::io::{ErrorKind, Read};
use std::path::Path;

use super::files::{Opened, open_regular};
use super::format::{HEADER_LEN, Header, declared_key_len, decode_file, decode_header};
use crate::entry::Stored;
use crate::error::CacheError;

/// What a file named like an entry holds.
#[derive(Debug)]
pub(crate) enum Found {
    /// Nothing there.
    Missing,
    /// Not a regular file: never read, never removed.
    Foreign(&'static str),
    /// A well-formed entry declaring more than this cache reads: skipped, left in place.
    TooLarge {
        /// The raw size it declares.
        declared: u64,
    },
    /// Damaged (the reason says how); `ino` identifies the file read.
    Corrupt { reason: String, ino: u64 },
    /// A checked header (and, when asked for, the checksum-verified payload).
    Entry {
        header: Header,
        stored: Option<Stored>,
        ino: u64,
    },
}

#[cfg(unix)]
pub(super) fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}
#[cfg(not(unix))]
pub(super) fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// A short read means a truncated file: damage, not an I/O failure.
fn read_or_corrupt(
    file: &mut std::fs::File,
    buf: &mut [u8],
    path: &Path,
) -> Result<Result<(), String>, CacheError> {
    match file.read_exact(buf) {
        Ok(()) => Ok(Ok(())),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(Err("truncated file".into())),
        Err(e) => Err(CacheError::io(path, e)),
    }
}

/// Inspects `path`: the header and key always, the whole payload (checksum verified, nothing
/// decompressed) when `full`. Reads at most what the checked header declares, and allocates
/// nothing before the header's checksum and sizes have passed.
///
/// # Errors
/// I/O errors other than a short read (which is damage).
pub(crate) fn inspect(path: &Path, max_raw: u64, full: bool) -> Result<Found, CacheError> {
    let (mut file, meta) = match open_regular(path).map_err(|e| CacheError::io(path, e))? {
        Opened::File(f, m) => (f, m),
        Opened::Missing => return Ok(Found::Missing),
        Opened::Foreign(kind) => return Ok(Found::Foreign(kind)),
    };
    let ino = inode(&meta);
    let corrupt = |reason: String| Ok(Found::Corrupt { reason, ino });
    let mut buf = vec![0u8; HEADER_LEN];
    if let Err(reason) = read_or_corrupt(&mut file, &mut buf, path)? {
        return corrupt(reason);
    }
    let key_len = match declared_key_len(&buf) {
        Ok(n) => n,
        Err(e) => return corrupt(e.to_string()),
    };
    buf.resize(HEADER_LEN + key_len, 0);
    if let Err(reason) = read_or_corrupt(&mut file, &mut buf[HEADER_LEN..], path)? {
        return corrupt(reason);
    }
    let header = match decode_header(&buf, max_raw) {
        Ok(h) => h,
        Err(CacheError::EntryTooLarge { size, .. }) => {
            return Ok(Found::TooLarge { declared: size });
        }
        Err(e) => return corrupt(e.to_string()),
    };
    if meta.len() != header.file_len() {
        return corrupt(format!(
            "{} bytes, its header says {}",
            meta.len(),
            header.file_len()
        ));
    }
    if !full {
        return Ok(Found::Entry {
            header,
            stored: None,
            ino,
        });
    }
    // The length is checked against a header that passed its checksum and size bounds.
    let Ok(total) = usize::try_from(header.file_len()) else {
        return corrupt("entry larger than the address space".into());
    };
    let start = buf.len();
    buf.resize(total, 0);
    if let Err(reason) = read_or_corrupt(&mut file, &mut buf[start..], path)? {
        return corrupt(reason);
    }
    match decode_file(&buf, max_raw) {
        Ok((header, stored)) => Ok(Found::Entry {
            header,
            stored: Some(stored),
            ino,
        }),
        Err(CacheError::EntryTooLarge { size, .. }) => Ok(Found::TooLarge { declared: size }),
        Err(e) => corrupt(e.to_string()),
    }
}
