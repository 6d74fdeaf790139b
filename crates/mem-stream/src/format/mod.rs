//! Which format a file is in: from its extension (or as forced), checked against its first bytes.

mod name;

pub use name::ParseFormatError;

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Result, StreamError};

/// A file format this crate reads.
///
/// Usually detected from the extension ([`detect_format`]); a program can also name one, to read
/// a file without an extension or from a pipe
/// ([`StreamingLoaderBuilder::format`](crate::StreamingLoaderBuilder::format),
/// [`StreamingLoader::stream_reader`](crate::StreamingLoader::stream_reader)). It parses from the
/// names a `--format` flag takes:
///
/// ```
/// use mem_stream::FileFormat;
/// assert_eq!("tsv".parse::<FileFormat>()?, FileFormat::Csv { delimiter: b'\t', gzip: false });
/// assert_eq!("feather".parse::<FileFormat>()?, FileFormat::ArrowFile);
/// assert_eq!("ipc-stream".parse::<FileFormat>()?, FileFormat::ArrowStream);
/// assert_eq!(FileFormat::CSV, "csv".parse()?);
/// assert!("png".parse::<FileFormat>().is_err());
/// # Ok::<(), mem_stream::ParseFormatError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileFormat {
    /// Delimited text; `gzip` when the file is gzip-compressed (`.csv.gz`).
    Csv {
        /// The field delimiter implied by the extension (`,` or tab).
        delimiter: u8,
        /// Whether the bytes are gzip-compressed.
        gzip: bool,
    },
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (Feather v2).
    ArrowFile,
    /// Arrow IPC stream format.
    ArrowStream,
    /// A workbook read with calamine: `.xlsx`, `.xlsm`, `.xlsb`, `.xls` or `.ods`.
    Workbook,
}

impl FileFormat {
    /// Comma-separated text, not compressed (gzip is still recognised by its magic bytes).
    pub const CSV: Self = Self::Csv {
        delimiter: b',',
        gzip: false,
    };

    /// Tab-separated text, not compressed (gzip is still recognised by its magic bytes).
    pub const TSV: Self = Self::Csv {
        delimiter: b'\t',
        gzip: false,
    };

    /// Whether the format can be read front to back from a pipe (CSV/TSV, Arrow IPC stream);
    /// the others need to seek.
    #[must_use]
    pub fn is_streamable(&self) -> bool {
        matches!(self, Self::Csv { .. } | Self::ArrowStream)
    }

    /// A short name for messages and the CLI.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Csv { gzip: true, .. } => "gzip CSV",
            Self::Csv {
                delimiter: b'\t', ..
            } => "TSV",
            Self::Csv { .. } => "CSV",
            Self::Parquet => "Parquet",
            Self::ArrowFile => "Arrow IPC file",
            Self::ArrowStream => "Arrow IPC stream",
            Self::Workbook => "workbook",
        }
    }

    /// The Cargo feature of mem-stream that provides this format's reader.
    #[must_use]
    pub fn feature(&self) -> &'static str {
        match self {
            Self::Csv { .. } => "csv",
            Self::Parquet => "parquet",
            Self::ArrowFile | Self::ArrowStream => "ipc",
            Self::Workbook => "excel",
        }
    }
}

const PARQUET_MAGIC: &[u8] = b"PAR1";
const ARROW_MAGIC: &[u8] = b"ARROW1";
const STREAM_CONTINUATION: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0];
pub(crate) const GZIP_MAGIC: &[u8] = &[0x1F, 0x8B];

/// Detects the format of `path` from its extension and verifies the first bytes.
///
/// # Errors
/// A missing file, a directory, a FIFO, socket or device, an empty file, an unknown extension,
/// or content whose magic bytes contradict the extension (e.g. a PNG named `.parquet`).
pub fn detect_format(path: &Path) -> Result<FileFormat> {
    detect(path, None)
}

/// Like [`detect_format`], but `forced` (when given) replaces what the extension says; the
/// content is still checked (an IPC file or stream, and gzip, are told apart by their magic).
pub(crate) fn detect(path: &Path, forced: Option<FileFormat>) -> Result<FileFormat> {
    let meta = std::fs::metadata(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
    if meta.is_dir() {
        return Err(StreamError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    // A FIFO would block the first read forever without a writer, and a device never ends:
    // neither has a size to bound the work by.
    if let Some(kind) = special_kind(&meta) {
        return Err(StreamError::NotAFile {
            path: path.to_path_buf(),
            kind,
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let (stem, gzip) = match name.strip_suffix(".gz") {
        Some(stem) => (stem.to_owned(), true),
        None => (name.clone(), false),
    };
    let extension = stem
        .rsplit_once('.')
        .map(|(_, e)| e.to_owned())
        .unwrap_or_default();
    let claimed = match (forced, extension.as_str(), gzip) {
        (Some(f), ..) => f,
        (None, ext, gzip) => match (ext, gzip) {
            ("csv" | "txt", _) => FileFormat::Csv {
                delimiter: b',',
                gzip,
            },
            ("tsv" | "tab", _) => FileFormat::Csv {
                delimiter: b'\t',
                gzip,
            },
            ("parquet" | "pq", false) => FileFormat::Parquet,
            ("arrow" | "feather" | "ipc", false) => FileFormat::ArrowFile,
            ("arrows", false) => FileFormat::ArrowStream,
            ("xlsx" | "xlsm" | "xlsb" | "xls" | "ods", false) => FileFormat::Workbook,
            _ => {
                let extension = if gzip {
                    format!("{extension}.gz")
                } else {
                    extension
                };
                return Err(StreamError::UnsupportedFormat {
                    path: path.to_path_buf(),
                    extension,
                });
            }
        },
    };
    if meta.len() == 0 {
        return Err(StreamError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut head = [0u8; 8];
    let n = read_head(path, &mut head)?;
    let head = head.get(..n).unwrap_or_default();
    let bad = |expected: &'static str| StreamError::BadMagic {
        path: path.to_path_buf(),
        expected,
        found: describe_magic(head),
    };
    match claimed {
        // A forced text format: gzip or not, as the bytes say.
        FileFormat::Csv { delimiter, .. } if forced.is_some() => {
            let gzip = head.starts_with(GZIP_MAGIC);
            if !gzip && looks_binary(head) {
                return Err(bad("text (CSV/TSV)"));
            }
            Ok(FileFormat::Csv { delimiter, gzip })
        }
        FileFormat::Csv { gzip: true, .. } if !head.starts_with(GZIP_MAGIC) => Err(bad("gzip")),
        FileFormat::Csv { gzip: false, .. } if looks_binary(head) => Err(bad("text (CSV/TSV)")),
        FileFormat::Parquet if !head.starts_with(PARQUET_MAGIC) => Err(bad("Parquet")),
        FileFormat::ArrowFile | FileFormat::ArrowStream => {
            if head.starts_with(ARROW_MAGIC) {
                Ok(FileFormat::ArrowFile)
            } else if head.starts_with(STREAM_CONTINUATION) {
                Ok(FileFormat::ArrowStream)
            } else if head.starts_with(b"FEA1") {
                Err(StreamError::BadMagic {
                    path: path.to_path_buf(),
                    expected: "Arrow IPC / Feather v2",
                    found: "Feather v1, which is not supported: rewrite it as Feather v2"
                        .to_owned(),
                })
            } else {
                Err(bad("Arrow IPC / Feather v2"))
            }
        }
        FileFormat::Workbook => {
            let xls = extension == "xls" || (forced.is_some() && head.starts_with(OLE_MAGIC));
            let ok = if xls {
                head.starts_with(OLE_MAGIC)
            } else {
                head.starts_with(ZIP_MAGIC)
            };
            // Some `.xls` files are really xlsx; calamine's auto-detection copes with that.
            if ok || (xls && head.starts_with(ZIP_MAGIC)) {
                Ok(claimed)
            } else {
                Err(bad("workbook"))
            }
        }
        other => Ok(other),
    }
}

/// What `meta` describes when it is neither a regular file nor a directory.
#[cfg(unix)]
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        Some("FIFO (named pipe)")
    } else if t.is_socket() {
        Some("socket")
    } else if t.is_char_device() {
        Some("character device")
    } else if t.is_block_device() {
        Some("block device")
    } else {
        None
    }
}

/// What `meta` describes when it is neither a regular file nor a directory.
#[cfg(not(unix))]
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    (!meta.is_file() && !meta.is_dir()).then_some("special file")
}

fn read_head(path: &Path, buf: &mut [u8]) -> Result<usize> {
    let mut file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or_default();
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StreamError::io(path, "cannot read", e)),
        }
    }
    Ok(filled)
}

/// Text files do not start with a NUL or with a known binary signature.
fn looks_binary(head: &[u8]) -> bool {
    head.contains(&0)
        || [
            PARQUET_MAGIC,
            ARROW_MAGIC,
            ZIP_MAGIC,
            OLE_MAGIC,
            GZIP_MAGIC,
            b"\x89PNG",
        ]
        .iter()
        .any(|m| head.starts_with(m))
}

fn describe_magic(head: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (b"\x89PNG", "it is a PNG image"),
        (b"\xFF\xD8\xFF", "it is a JPEG image"),
        (b"%PDF", "it is a PDF document"),
        (PARQUET_MAGIC, "it is a Parquet file"),
        (ARROW_MAGIC, "it is an Arrow IPC file"),
        (ZIP_MAGIC, "it is a zip archive"),
        (OLE_MAGIC, "it is an OLE2 document (e.g. .xls)"),
        (GZIP_MAGIC, "it is gzip-compressed"),
    ];
    for (magic, what) in known {
        if head.starts_with(magic) {
            return (*what).to_owned();
        }
    }
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("first bytes {}", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn extension_and_magic() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            detect_format(&write(d.path(), "a.csv", b"a,b\n")).unwrap(),
            FileFormat::Csv {
                delimiter: b',',
                gzip: false
            }
        );
        assert_eq!(
            detect_format(&write(d.path(), "a.TSV", b"a\tb\n")).unwrap(),
            FileFormat::Csv {
                delimiter: b'\t',
                gzip: false
            }
        );
        assert_eq!(
            detect_format(&write(d.path(), "a.parquet", b"PAR1xxxxPAR1")).unwrap(),
            FileFormat::Parquet
        );
        assert_eq!(
            detect_format(&write(d.path(), "a.arrow", b"\xFF\xFF\xFF\xFF\x10")).unwrap(),
            FileFormat::ArrowStream
        );
        assert_eq!(
            detect_format(&write(d.path(), "a.feather", b"ARROW1\0\0")).unwrap(),
            FileFormat::ArrowFile
        );
    }

    /// FIFOs, sockets and devices are refused before anything opens them: a FIFO without a
    /// writer would block the first read forever, `/dev/zero` never ends.
    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_without_opening_them() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe.csv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        let socket = d.path().join("sock.csv");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let zero = d.path().join("zero.csv");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let mut cases = vec![(socket, "socket"), (zero, "character device")];
        if made {
            cases.push((fifo, "FIFO (named pipe)"));
        }
        for (p, kind) in cases {
            let e = detect_format(&p).unwrap_err();
            assert!(
                matches!(&e, StreamError::NotAFile { kind: k, .. } if *k == kind),
                "{e}"
            );
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }

    #[test]
    fn clear_errors() {
        let d = tempfile::tempdir().unwrap();
        let png = write(d.path(), "img.parquet", b"\x89PNG\r\n\x1a\n0000");
        let e = detect_format(&png).unwrap_err().to_string();
        assert!(e.contains("img.parquet") && e.contains("PNG"), "{e}");
        let e = detect_format(&write(d.path(), "e.parquet", b""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let e = detect_format(d.path()).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
        let e = detect_format(&d.path().join("missing.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.csv"), "{e}");
        let e = detect_format(&write(d.path(), "x.xyz", b"a"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported") && e.contains("xyz"), "{e}");
        let e = detect_format(&write(d.path(), "x.csv.gz", b"a,b"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip"), "{e}");
    }
}
