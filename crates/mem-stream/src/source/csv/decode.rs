//! Parsing one block of records with Arrow's CSV decoder, and what that may cost.

use std::path::PathBuf;

use arrow::csv::ReaderBuilder;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::infer;
use super::split::{Block, Cost, SplitError};
use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::guard::contain;
use crate::options::CsvOptions;

/// What a worker needs to parse a block.
pub(super) struct DecodeConfig {
    pub path: PathBuf,
    /// All columns of the file.
    pub schema: SchemaRef,
    pub projection: Option<Vec<usize>>,
    pub delimiter: u8,
    pub opts: CsvOptions,
    /// Rows the column types were inferred from.
    pub inferred_rows: usize,
    pub budget: Budget,
    /// The longest record accepted, bytes: the options' maximum or what the budget allows.
    pub record_cap: usize,
    /// The empty field or one of the options' null values, whole (none: only the empty field).
    pub null_regex: Option<regex::Regex>,
    /// The direct decoder's plan, when it reads this dialect and these column types.
    pub direct: Option<super::direct::Plan>,
}

/// The regex Arrow's decoder reads nulls with: the empty field or one of `values`, whole.
pub(super) fn null_regex(
    path: &std::path::Path,
    values: &[String],
) -> Result<Option<regex::Regex>> {
    if values.is_empty() {
        return Ok(None);
    }
    let alternatives: Vec<String> = values.iter().map(|v| regex::escape(v)).collect();
    regex::Regex::new(&format!("^(?:|{})$", alternatives.join("|")))
        .map(Some)
        .map_err(|e| {
            StreamError::InvalidConfig(format!("{}: CSV null values: {e}", path.display()))
        })
}

/// The error for a record the splitter refused (or a read error).
pub(super) fn record_error(
    path: &std::path::Path,
    opts: &CsvOptions,
    budget: &Budget,
    cap: usize,
    e: SplitError,
) -> StreamError {
    // `cap` is the options' maximum unless the budget allows less.
    match e {
        SplitError::Io(e) => StreamError::io(path, "cannot read", e),
        SplitError::RecordTooLong { line, bytes } if cap >= opts.max_record_bytes => {
            StreamError::malformed(
                path,
                Some(line),
                format!(
                    "a record is longer than {cap} bytes ({bytes} read so far); is a quote left \
                     open? (raise CsvOptions::max_record_bytes for longer records)"
                ),
            )
        }
        SplitError::RecordTooLong { line, bytes } => budget.over(
            path,
            Some(line),
            format!(
                "a record of more than {}",
                mem_monitor::format_bytes(bytes as u64)
            ),
            // Its text, the decoder's copy and the decoded values, at least.
            (bytes as u64).saturating_mul(3),
            budget.record_max(),
            "if a quote is left open, close it; otherwise raise the memory limit (--memory-limit-mb)",
        ),
    }
}

/// Decoded bytes per value of a column type beyond its text (which is counted per byte): the
/// fixed-width value or the offset of a string, rounded up to whole bytes.
fn fixed_width(t: &arrow::datatypes::DataType) -> u64 {
    use arrow::datatypes::DataType;
    match t {
        DataType::Boolean | DataType::Null => 1,
        DataType::Utf8 | DataType::Binary => 4,
        DataType::LargeUtf8 | DataType::LargeBinary => 8,
        other => other.primitive_width().map_or(16, |w| w as u64),
    }
}

impl DecodeConfig {
    /// An upper bound of the memory a block holds while it is decoded: its text, the decoder's
    /// copy of the fields (at least 8 bytes each, zero-filled up front) and their 8-byte end
    /// offsets, and the decoded arrays (strings' bytes plus each value's fixed width and
    /// validity bit). Blank lines count as records, which only overestimates.
    pub(super) fn cost(&self) -> Cost {
        let columns = self.schema.fields().len() as u64;
        let decoded = |i: usize| {
            self.schema
                .fields()
                .get(i)
                .map_or(0, |f| fixed_width(f.data_type()) + 1)
        };
        let values: u64 = match &self.projection {
            Some(p) => p.iter().map(|&i| decoded(i)).sum(),
            None => (0..self.schema.fields().len()).map(decoded).sum(),
        };
        Cost {
            // The text, the decoder's copy and the decoded strings; Latin-1 text is also
            // transcoded, to up to twice its bytes.
            per_byte: match self.opts.encoding {
                crate::options::Encoding::Latin1 => 5,
                _ => 3,
            },
            per_record: columns.saturating_mul(16).saturating_add(values),
        }
    }

    pub(super) fn decode(&self, block: &Block) -> Result<Option<RecordBatch>> {
        contain(&self.path, "CSV", || self.decode_checked(block))
    }

    pub(super) fn split_error(&self, e: SplitError) -> StreamError {
        record_error(&self.path, &self.opts, &self.budget, self.record_cap, e)
    }

    fn decode_checked(&self, block: &Block) -> Result<Option<RecordBatch>> {
        let text = match self.opts.encoding {
            crate::options::Encoding::Latin1 => super::latin1::to_utf8(block.data()),
            _ => std::borrow::Cow::Borrowed(block.data()),
        };
        if let Some(plan) = &self.direct
            && let Some(batch) = super::direct::decode(plan, self.null_regex.as_ref(), &text)
        {
            return Ok(batch);
        }
        self.decode_inner(&text, block.records).map_err(|e| {
            infer::locate_mismatch(
                &self.path,
                &text,
                block.first_line,
                &self.schema,
                self.delimiter,
                &self.opts,
                self.inferred_rows,
            )
            .unwrap_or_else(|| StreamError::Malformed {
                path: self.path.clone(),
                line: Some(block.first_line),
                column: None,
                message: format!("in the block of records starting here: {e}"),
            })
        })
    }

    fn decode_inner(
        &self,
        data: &[u8],
        records: usize,
    ) -> Result<Option<RecordBatch>, arrow::error::ArrowError> {
        let mut builder = ReaderBuilder::new(self.schema.clone())
            .with_header(false)
            .with_delimiter(self.delimiter)
            .with_quote(self.opts.quote)
            // The decoder zero-fills `batch size x columns` fields up front: exactly the block's
            // records, which its cost already counts.
            .with_batch_size(records.saturating_add(1).min(1 << 22));
        if let Some(p) = &self.projection {
            builder = builder.with_projection(p.clone());
        }
        if let Some(e) = self.opts.escape {
            builder = builder.with_escape(e);
        }
        if let Some(c) = self.opts.comment {
            builder = builder.with_comment(c);
        }
        if let Some(r) = &self.null_regex {
            builder = builder.with_null_regex(r.clone());
        }
        let mut decoder = builder.build_decoder();
        let mut batches = Vec::new();
        let mut pos = 0;
        loop {
            let rest = data.get(pos..).unwrap_or_default();
            let n = decoder.decode(rest)?;
            pos += n;
            if decoder.capacity() == 0 || rest.is_empty() {
                if let Some(b) = decoder.flush()? {
                    batches.push(b);
                }
            } else if n == 0 {
                return Err(arrow::error::ArrowError::CsvError(
                    "the CSV decoder made no progress".to_owned(),
                ));
            }
            if rest.is_empty() {
                break;
            }
        }
        match batches.len() {
            0 => Ok(None),
            1 => Ok(batches.pop()),
            _ => {
                let schema = batches
                    .first()
                    .map(RecordBatch::schema)
                    .unwrap_or_else(|| self.schema.clone());
                arrow::compute::concat_batches(&schema, &batches).map(Some)
            }
        }
    }
}
