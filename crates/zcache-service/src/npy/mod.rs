//! NumPy `.npy` import and export for 2-D little-endian float32 C-order arrays.
//!
//! The format (numpy.lib.format, "NEP 1"): the magic `\x93NUMPY`, a major and minor version byte,
//! the header length (u16 LE for version 1.0, u32 LE for 2.0 and 3.0), then an ASCII (3.0: UTF-8)
//! Python dict literal such as `{'descr': '<f4', 'fortran_order': False, 'shape': (5000, 384), }`
//! padded with spaces and ended by `\n` so that the data starts at a multiple of 64 bytes, then the
//! raw values. Writers of NumPy before 1.9 aligned to 16 bytes; the reader accepts any alignment.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

mod dict;
mod header;

use header::{MAX_HEADER_LEN, check_header, parse_header_text, parse_preamble};
pub use header::{NpyHeader, NpyVersion, npy_header_bytes, parse_npy_header};

use crate::embeddings::{Embeddings, EmbeddingsRef};
use crate::error::{Result, ServiceError};

/// The six magic bytes every `.npy` file starts with.
pub const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Alignment of the data section in files this crate writes (NumPy's since 1.9).
pub const NPY_ALIGN: usize = 64;

/// Reads a 2-D little-endian float32 C-order `.npy` file.
///
/// The data size the header promises (`rows * dim * 4`) is checked against the file's length
/// before anything is allocated for it, and nothing past it is read. Only regular files are
/// read: a FIFO or device cannot be bounded (use [`read_npy_from`] for a stream).
///
/// # Errors
/// [`ServiceError::Io`] when the file cannot be read; [`ServiceError::NotAFile`] for a FIFO,
/// device or directory; [`ServiceError::Npy`] naming the file when it is not such an array
/// (big-endian, another dtype, Fortran order, not 2-D, truncated, trailing bytes, ...).
pub fn read_npy(path: impl AsRef<Path>) -> Result<Embeddings> {
    let path = path.as_ref();
    let (file, len) = crate::input::open_regular(path)?;
    read_npy_impl(BufReader::new(file), path, Some(len))
}

/// Reads a `.npy` array from any reader; `name` is used in error messages.
///
/// Never allocates more than the reader actually delivers (plus the declared header, itself
/// capped), so a lying header cannot make it reserve memory without bound.
///
/// # Errors
/// As [`read_npy`].
pub fn read_npy_from(reader: impl Read, name: impl Into<PathBuf>) -> Result<Embeddings> {
    read_npy_impl(reader, &name.into(), None)
}

/// Reads an array; with `file_len` (a regular file's length) the data section's size is
/// checked against the header before it is read, so the buffer is allocated once, exactly.
fn read_npy_impl(mut reader: impl Read, name: &Path, file_len: Option<u64>) -> Result<Embeddings> {
    let mut prefix = [0u8; 12];
    read_exact_or(
        &mut reader,
        &mut prefix[..10],
        name,
        "shorter than the 10-byte preamble",
    )?;
    let (version, header_len, preamble) = parse_preamble(&prefix, name, |rest| {
        read_exact_or(&mut reader, rest, name, "truncated in the header length")
    })?;
    if header_len > MAX_HEADER_LEN {
        return Err(ServiceError::npy(
            name,
            format!("header length {header_len} exceeds {MAX_HEADER_LEN}"),
        ));
    }
    if let Some(len) = file_len
        && (preamble + header_len) as u64 > len
    {
        return Err(ServiceError::npy(name, "truncated in the header"));
    }
    let mut header = vec![0u8; header_len];
    read_exact_or(&mut reader, &mut header, name, "truncated in the header")?;
    let header = parse_header_text(&header, version, preamble, name)?;
    let (rows, dim) = check_header(&header, name)?;
    let overflow = || ServiceError::npy(name, format!("shape ({rows}, {dim}) overflows"));
    let count = rows.checked_mul(dim).ok_or_else(overflow)?;
    let expected = count.checked_mul(4).ok_or_else(overflow)?;
    let Some(file_len) = file_len else {
        return read_data_unsized(reader, name, rows, dim, expected);
    };
    let found = file_len.saturating_sub(header.data_offset as u64);
    if found != expected as u64 {
        return Err(data_size_error(name, rows, dim, expected, found));
    }
    let mut values = vec![0.0f32; count];
    read_exact_or(
        &mut reader,
        bytemuck::cast_slice_mut(&mut values),
        name,
        "data truncated while reading (the file shrank)",
    )?;
    #[cfg(target_endian = "big")]
    for v in &mut values {
        *v = f32::from_bits(u32::from_le(v.to_bits()));
    }
    Embeddings::new(values, rows, dim)
}

fn data_size_error(
    name: &Path,
    rows: usize,
    dim: usize,
    expected: usize,
    found: u64,
) -> ServiceError {
    if found < expected as u64 {
        ServiceError::npy(
            name,
            format!("data truncated: shape ({rows}, {dim}) needs {expected} bytes, found {found}"),
        )
    } else {
        ServiceError::npy(
            name,
            format!("trailing bytes after the {expected} data bytes of shape ({rows}, {dim})"),
        )
    }
}

/// The data of a stream of unknown length: read incrementally, at most one byte past what the
/// header declares (enough to detect trailing data), so memory follows what really arrives.
fn read_data_unsized(
    mut reader: impl Read,
    name: &Path,
    rows: usize,
    dim: usize,
    expected: usize,
) -> Result<Embeddings> {
    let mut data = Vec::new();
    let limit = u64::try_from(expected)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .by_ref()
        .take(limit)
        .read_to_end(&mut data)
        .map_err(|e| ServiceError::io(name, e))?;
    if data.len() != expected {
        return Err(data_size_error(
            name,
            rows,
            dim,
            expected,
            data.len() as u64,
        ));
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Embeddings::new(values, rows, dim)
}

/// Writes `embeddings` as a version 1.0 `.npy` file (the header of a 2-D array always fits),
/// atomically: a temporary file in the same directory is written, synced and renamed. Only a
/// regular file (or nothing) at `path` is replaced: a device, FIFO, symbolic link or directory
/// there is refused, never turned into a regular file.
///
/// # Errors
/// [`ServiceError::NotAFile`] when `path` exists and is not a regular file;
/// [`ServiceError::Io`] naming the file when it cannot be written.
pub fn write_npy<'a>(
    path: impl AsRef<Path>,
    embeddings: impl Into<EmbeddingsRef<'a>>,
) -> Result<()> {
    let path = path.as_ref();
    let embeddings = embeddings.into();
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => {
            return Err(ServiceError::NotAFile {
                path: path.to_owned(),
                kind: mem_monitor::file_kind(m.file_type()),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(ServiceError::io(path, e)),
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.{}.{seq}.tmp", std::process::id()));
    let result = (|| {
        let file = File::options().write(true).create_new(true).open(&tmp)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        write_npy_to(&mut out, embeddings)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file is garbage whatever happened.
        let _ = std::fs::remove_file(&tmp);
        return Err(ServiceError::io(path, e));
    }
    Ok(())
}

/// Writes `.npy` bytes (header, then little-endian f32 values) to any writer.
///
/// # Errors
/// Whatever the writer returns.
pub fn write_npy_to(mut out: impl Write, embeddings: EmbeddingsRef<'_>) -> std::io::Result<()> {
    out.write_all(&npy_header_bytes(embeddings.rows(), embeddings.dim()))?;
    // Convert in blocks so a large matrix does not need a second full-size buffer.
    let mut buf = Vec::with_capacity(64 * 1024);
    for block in embeddings.as_slice().chunks(16 * 1024) {
        buf.clear();
        for v in block {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        out.write_all(&buf)?;
    }
    out.flush()
}

pub(crate) fn read_exact_or(
    reader: &mut impl Read,
    buf: &mut [u8],
    name: &Path,
    what: &str,
) -> Result<()> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ServiceError::npy(name, what)
        } else {
            ServiceError::io(name, e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(e: &Embeddings) -> Vec<u8> {
        let mut out = Vec::new();
        write_npy_to(&mut out, e.view()).expect("writing to a Vec cannot fail");
        out
    }

    #[test]
    fn reads_version_2_and_16_byte_aligned_headers() -> Result<()> {
        let e = Embeddings::new(vec![1.5, -2.0, 0.25, 8.0, 0.0, -0.0], 3, 2)?;
        let body: Vec<u8> = e.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
        // Version 2.0 with a 16-byte alignment and double-quoted keys in another order.
        let dict = "{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f4\"}";
        let mut text = dict.to_owned();
        while !(12 + text.len() + 1).is_multiple_of(16) {
            text.push(' ');
        }
        text.push('\n');
        let mut file = b"\x93NUMPY\x02\x00".to_vec();
        file.extend_from_slice(&u32::try_from(text.len()).expect("small").to_le_bytes());
        file.extend_from_slice(text.as_bytes());
        file.extend_from_slice(&body);
        let back = read_npy_from(&file[..], "v2")?;
        assert_eq!(back, e);
        Ok(())
    }

    #[test]
    fn rejects_what_it_cannot_store() {
        let e = Embeddings::new(vec![1.0; 6], 3, 2).expect("shape");
        let good = bytes_of(&e);
        let swap = |from: &str, to: &str| {
            let mut b = good.clone();
            let s = String::from_utf8_lossy(&b[10..]).into_owned();
            let pos = s.find(from).expect("pattern present");
            assert_eq!(from.len(), to.len());
            b[10 + pos..10 + pos + to.len()].copy_from_slice(to.as_bytes());
            b
        };
        let cases = [
            (swap("<f4", ">f4"), "big-endian"),
            (swap("<f4", "<f8"), "only little-endian float32"),
            (swap("False", "True "), "Fortran"),
            (swap("(3, 2)", "(6,)  "), "2-D"),
            (swap("(3, 2)", "(4, 2)"), "truncated"),
            (swap("(3, 2)", "(2, 2)"), "trailing"),
        ];
        let mut bad_magic = good.clone();
        bad_magic[5] = b'Z';
        assert!(
            read_npy_from(&bad_magic[..], "m.npy")
                .expect_err("magic")
                .to_string()
                .contains("magic")
        );
        for (bytes, want) in cases {
            let err = read_npy_from(&bytes[..], "case.npy")
                .expect_err(want)
                .to_string();
            assert!(err.contains(want), "{err:?} should mention {want:?}");
            assert!(err.starts_with("case.npy"), "{err:?} should name the file");
        }
        assert!(read_npy_from(&good[..5], "short").is_err());
        assert!(read_npy_from(&[][..], "empty").is_err());
    }

    #[test]
    fn writes_atomically_and_reads_back() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| ServiceError::io("tempdir", e))?;
        let path = dir.path().join("e.npy");
        let e = Embeddings::new((0..12).map(|i| i as f32 * 0.5).collect(), 4, 3)?;
        write_npy(&path, &e)?;
        assert_eq!(read_npy(&path)?, e);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .map_err(|e| ServiceError::io("dir", e))?
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        let missing = read_npy(dir.path().join("nope.npy")).expect_err("missing file");
        assert!(missing.to_string().contains("nope.npy"));
        Ok(())
    }

    #[test]
    fn a_file_is_checked_against_its_header_before_the_data_is_read() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| ServiceError::io("tempdir", e))?;
        let path = dir.path().join("liar.npy");
        // A header promising 2^40 floats over 8 bytes of data: refused on the file's length,
        // before a buffer for the promise is allocated.
        let mut bytes = npy_header_bytes(1 << 20, 1 << 20);
        bytes.extend_from_slice(&[0u8; 8]);
        std::fs::write(&path, &bytes).map_err(|e| ServiceError::io(&path, e))?;
        let err = read_npy(&path).expect_err("truncated").to_string();
        assert!(err.contains("liar.npy") && err.contains("found 8"), "{err}");
        let mut bytes = npy_header_bytes(1, 2);
        bytes.extend_from_slice(&[0u8; 12]);
        std::fs::write(&path, &bytes).map_err(|e| ServiceError::io(&path, e))?;
        let err = read_npy(&path).expect_err("trailing").to_string();
        assert!(err.contains("trailing bytes"), "{err}");
        bytes.truncate(bytes.len() - 4);
        std::fs::write(&path, &bytes).map_err(|e| ServiceError::io(&path, e))?;
        assert_eq!(read_npy(&path)?.shape(), (1, 2));
        // Shorter than its own header.
        std::fs::write(&path, &bytes[..20]).map_err(|e| ServiceError::io(&path, e))?;
        assert!(read_npy(&path).is_err());
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn fifos_devices_and_directories_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("m.npy");
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("no NUL");
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_npy(&fifo).expect_err("a FIFO").to_string();
        assert!(err.ends_with("m.npy: a FIFO, not a regular file"), "{err}");
        let err = read_npy("/dev/zero").expect_err("a device").to_string();
        assert_eq!(err, "/dev/zero: a character device, not a regular file");
        assert!(read_npy(dir.path()).is_err());
        // Writing never replaces a FIFO, a device or a symlink.
        let e = Embeddings::new(vec![1.0; 2], 1, 2).expect("shape");
        assert!(matches!(
            write_npy(&fifo, &e),
            Err(ServiceError::NotAFile { .. })
        ));
        let link = dir.path().join("link.npy");
        std::os::unix::fs::symlink("/dev/null", &link).expect("symlink");
        assert!(matches!(
            write_npy(&link, &e),
            Err(ServiceError::NotAFile { .. })
        ));
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("still there")
                .file_type()
                .is_symlink()
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn round_trips_any_bits(rows in 0usize..12, dim in 1usize..40, seed in proptest::collection::vec(any::<u32>(), 0..480)) {
                let n = rows * dim;
                let data: Vec<f32> = (0..n).map(|i| f32::from_bits(seed.get(i % seed.len().max(1)).copied().unwrap_or(0).wrapping_add(i as u32))).collect();
                let e = Embeddings::new(data, rows, dim).expect("shape");
                let mut bytes = Vec::new();
                write_npy_to(&mut bytes, e.view()).expect("vec");
                prop_assert_eq!((bytes.len() - n * 4) % 64, 0);
                let back = read_npy_from(&bytes[..], "prop").expect("round trip");
                prop_assert_eq!(back.shape(), e.shape());
                let same = back.as_slice().iter().zip(e.as_slice()).all(|(a, b)| a.to_bits() == b.to_bits());
                prop_assert!(same);
            }

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = read_npy_from(&bytes[..], "fuzz");
                let _ = parse_npy_header(&bytes);
            }

            #[test]
            fn garbage_after_a_valid_preamble_never_panics(header in "[ -~]{0,120}", tail in proptest::collection::vec(any::<u8>(), 0..64)) {
                let mut b = b"\x93NUMPY\x01\x00".to_vec();
                b.extend_from_slice(&u16::try_from(header.len()).unwrap_or(0).to_le_bytes());
                b.extend_from_slice(header.as_bytes());
                b.extend_from_slice(&tail);
                let _ = read_npy_from(&b[..], "fuzz");
            }
        }
    }
}
