//! Options for delimited text files.

use std::collections::HashMap;

use arrow::datatypes::{DataType, SchemaRef};

/// How to read CSV / TSV files.
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
        Ok(())
    }
}
