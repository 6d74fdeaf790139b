//! [`FileFormat`] from the names people type (`--format csv`).

use std::str::FromStr;

use super::FileFormat;

/// A format name that [`FileFormat::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown format {0:?}; expected csv, tsv, parquet, arrow (ipc, feather), arrows (ipc-stream) or xlsx (excel, ods)"
)]
pub struct ParseFormatError(pub String);

impl FromStr for FileFormat {
    type Err = ParseFormatError;

    /// Parses a format name, in any case: `csv`, `tsv`, `parquet` (`pq`), `arrow` / `ipc` /
    /// `feather` (the IPC file format; a stream is recognised by its bytes), `arrows` /
    /// `ipc-stream`, `xlsx` / `excel` / `ods` (any workbook calamine reads).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Self::CSV,
            "tsv" | "tab" => Self::TSV,
            "parquet" | "pq" => Self::Parquet,
            "arrow" | "ipc" | "feather" => Self::ArrowFile,
            "arrows" | "ipc-stream" | "ipc_stream" => Self::ArrowStream,
            "xlsx" | "excel" | "ods" | "xls" | "xlsm" | "xlsb" | "workbook" => Self::Workbook,
            _ => return Err(ParseFormatError(s.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case() {
        for (name, f) in [
            ("csv", FileFormat::CSV),
            ("TSV", FileFormat::TSV),
            ("parquet", FileFormat::Parquet),
            ("arrow", FileFormat::ArrowFile),
            ("ipc", FileFormat::ArrowFile),
            ("Feather", FileFormat::ArrowFile),
            ("arrows", FileFormat::ArrowStream),
            ("ipc-stream", FileFormat::ArrowStream),
            ("xlsx", FileFormat::Workbook),
            ("excel", FileFormat::Workbook),
            ("ods", FileFormat::Workbook),
        ] {
            assert_eq!(name.parse::<FileFormat>().unwrap(), f, "{name}");
        }
        let e = "json".parse::<FileFormat>().unwrap_err();
        assert!(e.to_string().contains("\"json\"") && e.to_string().contains("ipc-stream"));
    }
}
