//! The crate's error type.

use std::path::PathBuf;

/// Why opening, reading or decoding a file failed.
///
/// Every variant names the file; decoding errors also name the line (1-based, physical lines of
/// the file, counting the header) and the column where they are known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The file could not be opened or read.
    #[error("{path}: {action}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. "cannot open".
        action: &'static str,
        /// The OS error.
        error: std::io::Error,
    },
    /// The path names a directory, not a file.
    #[error("{path}: is a directory, not a file")]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The path names something that cannot be read in bounded memory and time: a FIFO, a
    /// socket or a device.
    #[error("{path}: is a {kind}, not a regular file; copy its content to a file first")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is, e.g. "FIFO (named pipe)".
        kind: &'static str,
    },
    /// The file has no bytes at all.
    #[error("{path}: the file is empty")]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The extension names no format this crate reads.
    #[error(
        "{path}: unsupported file type {extension:?}; expected .csv, .tsv (optionally .gz), .parquet, .arrow, .feather, .ipc, .arrows, .xlsx, .xlsm, .xlsb, .xls or .ods"
    )]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The extension found (empty when there is none).
        extension: String,
    },
    /// The content does not start with the magic bytes of the format its extension names.
    #[error("{path}: not a valid {expected} file ({found})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The format the extension promised.
        expected: &'static str,
        /// What the first bytes look like instead.
        found: String,
    },
    /// A CSV value does not parse as its column's type (inferred from the first rows, or
    /// declared with `CsvOptions::column_type` / `CsvOptions::schema`).
    ///
    /// Typed, so that a program can give its own advice (a CLI names its flags); the message
    /// gives the library's: list the value in `CsvOptions::null_values` if it marks a missing
    /// value, or declare the column's type (`CsvOptions::column_type`), or infer from more rows
    /// (`CsvOptions::inference_rows`).
    #[error(
        "{path}: line {line}, column {column:?}: value {value:?} is not a valid {expected} \
         (the type was inferred from the first {inference_rows} rows or declared); if it marks a \
         missing value, list it in CsvOptions::null_values; otherwise declare the column's type \
         (CsvOptions::column_type) or infer from more rows (CsvOptions::inference_rows)"
    )]
    CsvValue {
        /// The file.
        path: PathBuf,
        /// 1-based physical line of the file.
        line: u64,
        /// Column name.
        column: String,
        /// The offending value (cut to 80 characters).
        value: String,
        /// The column's type, which the value does not parse as.
        expected: arrow::datatypes::DataType,
        /// How many rows the inference looked at.
        inference_rows: usize,
    },
    /// A CSV line is not valid UTF-8 (read with `Encoding::Utf8`).
    #[error(
        "{path}: line {line}: the text is not valid UTF-8; if the file is Latin-1 (ISO-8859-1), \
         read it with CsvOptions::encoding(Encoding::Latin1)"
    )]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based physical line of the file where the record with the invalid bytes starts.
        line: u64,
    },
    /// The content is malformed at a known place.
    #[error("{path}: {}{message}", location(*.line, .column.as_deref()))]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line (CSV) or row (other formats), when known.
        line: Option<u64>,
        /// Column name, when known.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Reading the file as asked would take more memory than the limit allows (one record, one
    /// batch, one column chunk, or the number of columns).
    #[error(
        "{path}: {}{what} needs about {}, more than the {} the {limit_mb:.0} MB memory limit allows \
         for it; {advice}",
        location(*.line, None),
        mem_monitor::format_bytes(*.needed_bytes),
        mem_monitor::format_bytes(*.allowed_bytes)
    )]
    OverBudget {
        /// The file.
        path: PathBuf,
        /// 1-based line (CSV) when known.
        line: Option<u64>,
        /// What needs the memory, e.g. "a record of 3 MiB".
        what: String,
        /// Bytes it needs (an estimate, on the safe side).
        needed_bytes: u64,
        /// Bytes the limit grants it.
        allowed_bytes: u64,
        /// The configured limit, MB.
        limit_mb: f64,
        /// What the user can do, e.g. "raise the memory limit (--memory-limit-mb)".
        advice: &'static str,
    },
    /// A third-party decoder (Arrow IPC, Parquet, CSV, workbook) panicked on malformed data;
    /// the panic was caught and the stream ended.
    #[error("{path}: the {decoder} decoder failed on malformed data: {message}")]
    DecoderPanic {
        /// The file.
        path: PathBuf,
        /// Which decoder, e.g. "Parquet".
        decoder: &'static str,
        /// The panic message, on one line.
        message: String,
    },
    /// A requested column does not exist.
    #[error("{path}: no column named {column:?}; columns are: {available}")]
    UnknownColumn {
        /// The file.
        path: PathBuf,
        /// The requested name.
        column: String,
        /// The file's columns, comma-separated.
        available: String,
    },
    /// A requested sheet does not exist in the workbook.
    #[error("{path}: no sheet named {sheet:?}; sheets are: {available}")]
    UnknownSheet {
        /// The file.
        path: PathBuf,
        /// The requested sheet.
        sheet: String,
        /// The workbook's sheets, comma-separated.
        available: String,
    },
    /// `load` refused: the whole table would not fit in the memory limit.
    #[error(
        "{path}: loading it whole needs about {estimated_mb:.0} MB, over the {limit_mb:.0} MB memory limit; \
         stream it in chunks with StreamingLoader::stream (or `membound stream`) instead"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Estimated in-memory size, MB.
        estimated_mb: f64,
        /// The configured limit, MB.
        limit_mb: f64,
    },
    /// The file's format needs a reader this build was compiled without.
    #[error(
        "{path}: {} files need the `{feature}` feature of mem-stream, which this build lacks",
        .format.name()
    )]
    FormatDisabled {
        /// The file.
        path: PathBuf,
        /// The detected format.
        format: crate::FileFormat,
        /// The Cargo feature that provides the reader.
        feature: &'static str,
    },
    /// A Parquet decoding error.
    #[cfg(feature = "parquet")]
    #[error("{path}: Parquet: {error}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        error: parquet::errors::ParquetError,
    },
    /// An Arrow decoding or compute error.
    #[error("{path}: {context}: {error}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The Arrow error.
        error: arrow::error::ArrowError,
    },
    /// A workbook (Excel / ODS) could not be read.
    #[error("{path}: workbook: {message}")]
    Workbook {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },
    /// Optimising a chunk failed.
    #[error("{path}: optimising chunk {chunk}: {error}")]
    Optimize {
        /// The file.
        path: PathBuf,
        /// Index of the chunk.
        chunk: usize,
        /// The optimizer's error.
        error: mem_optimize::OptimizeError,
    },
    /// The input is a pipe (or another `Read`) in a format that can only be read from a file,
    /// because its reader seeks (Parquet and Arrow IPC files keep their index at the end,
    /// workbooks are zip archives).
    #[error(
        "{path}: {} input cannot be read from a pipe, its reader needs to seek; save it to a file \
         first (CSV, TSV and Arrow IPC streams can be read from a pipe)",
        .format.name()
    )]
    NeedsSeek {
        /// The input's name.
        path: PathBuf,
        /// The format asked for.
        format: crate::FileFormat,
    },
    /// A builder setting is out of range.
    #[error("invalid loader setting: {0}")]
    InvalidConfig(String),
}

fn location(line: Option<u64>, column: Option<&str>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c:?}: "),
        (Some(l), None) => format!("line {l}: "),
        (None, Some(c)) => format!("column {c:?}: "),
        (None, None) => String::new(),
    }
}

/// The crate's result type.
pub type Result<T, E = StreamError> = std::result::Result<T, E>;

impl StreamError {
    pub(crate) fn io(path: &std::path::Path, action: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            action,
            error: source,
        }
    }

    pub(crate) fn malformed(
        path: &std::path::Path,
        line: Option<u64>,
        message: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            path: path.to_path_buf(),
            line,
            column: None,
            message: message.into(),
        }
    }

    pub(crate) fn arrow(
        path: &std::path::Path,
        context: &'static str,
        source: arrow::error::ArrowError,
    ) -> Self {
        Self::Arrow {
            path: path.to_path_buf(),
            context,
            error: source,
        }
    }

    #[cfg(not(all(
        feature = "csv",
        feature = "parquet",
        feature = "ipc",
        feature = "excel"
    )))]
    pub(crate) fn disabled(path: &std::path::Path, format: crate::FileFormat) -> Self {
        Self::FormatDisabled {
            path: path.to_path_buf(),
            format,
            feature: format.feature(),
        }
    }

    #[cfg(feature = "parquet")]
    pub(crate) fn parquet(path: &std::path::Path, source: parquet::errors::ParquetError) -> Self {
        Self::Parquet {
            path: path.to_path_buf(),
            error: source,
        }
    }
}
