//! Options for delimited text files, and the type names a `--schema` flag takes.

use std::collections::HashMap;

use arrow::datatypes::{DataType, SchemaRef};

/// How to read CSV / TSV files.
///
/// ```
/// use arrow::datatypes::DataType;
/// use mem_stream::{CsvOptions, Encoding};
///
/// let opts = CsvOptions::new()
///     .delimiter(b';')
///     .null_values(["N/A", "-"])
///     .comment(b'#')
///     .escape(b'\\')
///     .encoding(Encoding::Latin1)
///     .column_type("zip", DataType::Utf8);
/// # let _ = opts;
/// ```
///
/// The delimiter defaults to the one implied by the extension (`,` for `.csv`, tab for `.tsv`).
/// Column types are inferred from the first [`inference_rows`](Self::inference_rows) rows;
/// a value later in the file that does not fit its column's type is an error naming the line and
/// column. Raising the inference rows costs a slower start; overriding types costs nothing.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub(crate) delimiter: Option<u8>,
    pub(crate) has_header: bool,
    pub(crate) quote: u8,
    pub(crate) inference_rows: usize,
    pub(crate) inference_bytes: usize,
    pub(crate) schema: Option<SchemaRef>,
    pub(crate) column_types: HashMap<String, DataType>,
    pub(crate) max_record_bytes: usize,
    pub(crate) null_values: Vec<String>,
    pub(crate) escape: Option<u8>,
    pub(crate) comment: Option<u8>,
    pub(crate) encoding: Encoding,
}

/// The text encoding of a CSV/TSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// UTF-8 (a leading byte-order mark is skipped). Invalid UTF-8 is an error naming its line
    /// ([`StreamError::InvalidUtf8`](crate::StreamError::InvalidUtf8)).
    #[default]
    Utf8,
    /// ISO-8859-1 (Latin-1): every byte is one character, transcoded to UTF-8 block by block.
    /// Windows-1252 files read as Latin-1 except for the characters in 0x80-0x9F.
    Latin1,
}

impl std::str::FromStr for Encoding {
    type Err = String;

    /// `utf-8` / `utf8`, or `latin-1` / `latin1` / `iso-8859-1`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" => Ok(Self::Latin1),
            _ => Err(format!("unknown encoding {s:?}; expected utf-8 or latin-1")),
        }
    }
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: None,
            has_header: true,
            quote: b'"',
            inference_rows: 10_000,
            inference_bytes: 16 << 20,
            schema: None,
            column_types: HashMap::new(),
            max_record_bytes: 64 << 20,
            null_values: Vec::new(),
            escape: None,
            comment: None,
            encoding: Encoding::Utf8,
        }
    }
}

impl CsvOptions {
    /// The default options: header row, `"` quotes, 10,000 inference rows.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Field delimiter (default: from the extension).
    #[must_use]
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = Some(delimiter);
        self
    }

    /// Whether the first record holds the column names (default `true`); without one, columns
    /// are named `column_1`, `column_2`, ...
    #[must_use]
    pub fn header(mut self, has_header: bool) -> Self {
        self.has_header = has_header;
        self
    }

    /// Quote character (default `"`); a doubled quote inside a quoted field is one quote.
    #[must_use]
    pub fn quote(mut self, quote: u8) -> Self {
        self.quote = quote;
        self
    }

    /// Rows read to infer column types (default 10,000; at least 1).
    #[must_use]
    pub fn inference_rows(mut self, rows: usize) -> Self {
        self.inference_rows = rows;
        self
    }

    /// Bytes of text read at most to infer column types (default 16 MiB, and never more than
    /// the memory limit allows one record): inference stops at whichever of the rows and the
    /// bytes comes first, but reads at least one record. More bytes cost memory at the start;
    /// fewer risk types that a later value does not fit.
    #[must_use]
    pub fn inference_bytes(mut self, bytes: usize) -> Self {
        self.inference_bytes = bytes;
        self
    }

    /// Use this schema instead of inferring one; it must have one field per column of the file.
    #[must_use]
    pub fn schema(mut self, schema: SchemaRef) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Override the inferred type of one column (by header name).
    #[must_use]
    pub fn column_type(mut self, column: impl Into<String>, data_type: DataType) -> Self {
        self.column_types.insert(column.into(), data_type);
        self
    }

    /// Largest record accepted, in bytes (default 64 MiB, and never more than the memory limit
    /// allows one record: a sixteenth of it, less the record's decoding). A record is held whole
    /// in memory, so this bounds memory on a file with an unbalanced quote, where a "record"
    /// would run to the end.
    #[must_use]
    pub fn max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Values read as null in every column, besides the empty field (default: only the empty
    /// field). Matched whole and case-sensitively, after unquoting: `null_values(["N/A", "NA",
    /// "-"])`. A column type is inferred from its other values, so a column of numbers with
    /// `N/A` for missing ones is numeric.
    #[must_use]
    pub fn null_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.null_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Escape character inside quoted fields (default: none; a doubled quote is always one
    /// quote): with `escape(b'\\')`, `"a \"b\" c"` reads as `a "b" c`.
    #[must_use]
    pub fn escape(mut self, escape: u8) -> Self {
        self.escape = Some(escape);
        self
    }

    /// Comment character (default: none): a line that starts with it is skipped (it is not a
    /// record, and it is not the header).
    #[must_use]
    pub fn comment(mut self, comment: u8) -> Self {
        self.comment = Some(comment);
        self
    }

    /// Text encoding of the file (default [`Encoding::Utf8`]).
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Whether `value` is read as null.
    pub(crate) fn is_null(&self, value: &[u8]) -> bool {
        value.is_empty() || self.null_values.iter().any(|n| n.as_bytes() == value)
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.inference_rows == 0 {
            return Err("CSV inference rows must be at least 1".to_owned());
        }
        if matches!(self.delimiter, Some(b'\n' | b'\r')) || self.delimiter == Some(self.quote) {
            return Err("CSV delimiter must differ from the quote and from line breaks".to_owned());
        }
        if matches!(self.quote, b'\n' | b'\r') {
            return Err("CSV quote cannot be a line break".to_owned());
        }
        if self.max_record_bytes < 1024 {
            return Err("CSV max record bytes must be at least 1024".to_owned());
        }
        let line_break = |b: u8| matches!(b, b'\n' | b'\r');
        if let Some(e) = self.escape
            && (line_break(e) || e == self.quote || Some(e) == self.delimiter)
        {
            return Err(
                "CSV escape must differ from the quote, the delimiter and line breaks".to_owned(),
            );
        }
        if let Some(c) = self.comment
            && (line_break(c)
                || c == self.quote
                || Some(c) == self.delimiter
                || Some(c) == self.escape)
        {
            return Err(
                "CSV comment character must differ from the quote, the delimiter, the escape \
                 and line breaks"
                    .to_owned(),
            );
        }
        if let Some(n) = self.null_values.iter().find(|n| {
            n.bytes().any(|b| line_break(b) || b == self.quote)
                || self.delimiter.is_some_and(|d| n.as_bytes().contains(&d))
        }) {
            return Err(format!(
                "CSV null value {n:?} holds a delimiter, quote or line break; it could never match a field"
            ));
        }
        if self.null_values.iter().map(String::len).sum::<usize>() > 64 << 10 {
            return Err("CSV null values take more than 64 KiB".to_owned());
        }
        Ok(())
    }
}

/// Parses an Arrow type from the names a `--schema 'col:type,...'` flag takes, in any case:
/// `int8`..`int64` (`i8`..`i64`), `uint8`..`uint64` (`u8`..`u64`), `float32` / `float64`
/// (`f32`, `f64`, `float`, `double`), `bool` / `boolean`, `utf8` / `string` / `str` / `text`,
/// `date32` / `date`, `timestamp` (microseconds, no time zone). `None` for anything else.
///
/// ```
/// use arrow::datatypes::DataType;
/// assert_eq!(mem_stream::parse_data_type("Int32"), Some(DataType::Int32));
/// assert_eq!(mem_stream::parse_data_type("str"), Some(DataType::Utf8));
/// assert_eq!(mem_stream::parse_data_type("decimal"), None);
/// ```
#[must_use]
pub fn parse_data_type(s: &str) -> Option<DataType> {
    use arrow::datatypes::TimeUnit;
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "int8" | "i8" => DataType::Int8,
        "int16" | "i16" => DataType::Int16,
        "int32" | "i32" => DataType::Int32,
        "int64" | "i64" | "int" | "integer" => DataType::Int64,
        "uint8" | "u8" => DataType::UInt8,
        "uint16" | "u16" => DataType::UInt16,
        "uint32" | "u32" => DataType::UInt32,
        "uint64" | "u64" => DataType::UInt64,
        "float32" | "f32" | "float" => DataType::Float32,
        "float64" | "f64" | "double" => DataType::Float64,
        "bool" | "boolean" => DataType::Boolean,
        "utf8" | "string" | "str" | "text" => DataType::Utf8,
        "date32" | "date" => DataType::Date32,
        "timestamp" | "datetime" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        for (s, t) in [
            ("int8", DataType::Int8),
            ("INT64", DataType::Int64),
            ("uint16", DataType::UInt16),
            ("f32", DataType::Float32),
            ("float64", DataType::Float64),
            ("boolean", DataType::Boolean),
            ("bool", DataType::Boolean),
            ("string", DataType::Utf8),
            ("date", DataType::Date32),
        ] {
            assert_eq!(parse_data_type(s), Some(t), "{s}");
        }
        assert!(matches!(
            parse_data_type(" timestamp "),
            Some(DataType::Timestamp(_, None))
        ));
        assert_eq!(parse_data_type("blob"), None);
    }

    #[test]
    fn validation_names_the_clash() {
        assert!(CsvOptions::new().escape(b'"').validate().is_err());
        assert!(CsvOptions::new().escape(b'\\').validate().is_ok());
        assert!(CsvOptions::new().comment(b'\n').validate().is_err());
        assert!(
            CsvOptions::new()
                .delimiter(b'#')
                .comment(b'#')
                .validate()
                .is_err()
        );
        assert!(
            CsvOptions::new()
                .delimiter(b';')
                .null_values(["a;b"])
                .validate()
                .is_err()
        );
        assert!(CsvOptions::new().null_values(["N/A"]).validate().is_ok());
        assert_eq!("Latin-1".parse::<Encoding>(), Ok(Encoding::Latin1));
        assert_eq!("utf8".parse::<Encoding>(), Ok(Encoding::Utf8));
        assert!("ebcdic".parse::<Encoding>().is_err());
    }

    #[test]
    fn nulls_match_whole_values() {
        let o = CsvOptions::new().null_values(["N/A"]);
        assert!(o.is_null(b"") && o.is_null(b"N/A"));
        assert!(!o.is_null(b"n/a") && !o.is_null(b"N/A "));
    }
}
