//! Big-endian Arrow IPC files, which arrow-rs refuses: each message body's fixed-width buffers are
//! byte-swapped in place (the layout comes from the schema), then decoded as little-endian.
//!
//! Supported: primitive, boolean, (large) string/binary, fixed-size binary, decimal, dates,
//! times, timestamps, durations, lists, structs and maps of those. Anything else (dictionaries,
//! views, unions, run-end encoding, compressed bodies) is a clean error.

use arrow::datatypes::{DataType, IntervalUnit, SchemaRef};
use arrow::ipc::Block;
use arrow::record_batch::RecordBatch;

use super::file::{FooterInfo, IpcFile};
use super::message::{MessageDecoder, check_batch, parse_message};
use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::source::batches::Decode;

/// Byte width to swap for each buffer of a field, in IPC order (0: leave as is).
fn plan(dt: &DataType, out: &mut Vec<usize>) -> std::result::Result<(), String> {
    let w = |out: &mut Vec<usize>, widths: &[usize]| out.extend_from_slice(widths);
    match dt {
        DataType::Null => {}
        DataType::Boolean | DataType::FixedSizeBinary(_) => w(out, &[0, 0]),
        DataType::Int8 | DataType::UInt8 => w(out, &[0, 0]),
        DataType::Int16 | DataType::UInt16 | DataType::Float16 => w(out, &[0, 2]),
        DataType::Int32
        | DataType::UInt32
        | DataType::Float32
        | DataType::Date32
        | DataType::Time32(_)
        | DataType::Interval(IntervalUnit::YearMonth | IntervalUnit::DayTime) => w(out, &[0, 4]),
        DataType::Int64
        | DataType::UInt64
        | DataType::Float64
        | DataType::Date64
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Duration(_) => w(out, &[0, 8]),
        DataType::Decimal32(_, _) => w(out, &[0, 4]),
        DataType::Decimal64(_, _) => w(out, &[0, 8]),
        DataType::Decimal128(_, _) => w(out, &[0, 16]),
        DataType::Decimal256(_, _) => w(out, &[0, 32]),
        DataType::Utf8 | DataType::Binary => w(out, &[0, 4, 0]),
        DataType::LargeUtf8 | DataType::LargeBinary => w(out, &[0, 8, 0]),
        DataType::List(f) | DataType::Map(f, _) => {
            w(out, &[0, 4]);
            plan(f.data_type(), out)?;
        }
        DataType::LargeList(f) => {
            w(out, &[0, 8]);
            plan(f.data_type(), out)?;
        }
        DataType::FixedSizeList(f, _) => {
            w(out, &[0]);
            plan(f.data_type(), out)?;
        }
        DataType::Struct(fields) => {
            w(out, &[0]);
            for f in fields {
                plan(f.data_type(), out)?;
            }
        }
        other => {
            return Err(format!(
                "big-endian IPC files with {other} columns are not supported"
            ));
        }
    }
    Ok(())
}

/// A big-endian Arrow IPC file, swapped to little-endian batch by batch.
pub(crate) struct BigEndianIpcSource {
    ipc: IpcFile,
    decoder: MessageDecoder,
    widths: Vec<usize>,
    blocks: Vec<Block>,
    next: usize,
    schema: SchemaRef,
    full_schema: SchemaRef,
}

impl BigEndianIpcSource {
    /// Readies an opened big-endian file whose footer says `info`.
    pub(crate) fn new(
        ipc: IpcFile,
        info: FooterInfo,
        projection: Option<Vec<usize>>,
        budget: Budget,
    ) -> Result<Self> {
        let path = ipc.path().to_path_buf();
        let bad = |m: String| StreamError::malformed(&path, None, m);
        if !info.dictionaries.is_empty() {
            return Err(bad(
                "big-endian IPC files with dictionaries are not supported".to_owned(),
            ));
        }
        let mut widths = Vec::new();
        for f in info.schema.fields() {
            plan(f.data_type(), &mut widths).map_err(bad)?;
        }
        let projected = match &projection {
            Some(p) => std::sync::Arc::new(
                info.schema
                    .project(p)
                    .map_err(|e| StreamError::arrow(&path, "projecting columns", e))?,
            ),
            None => info.schema.clone(),
        };
        tracing::debug!(path = %path.display(), "reading a big-endian IPC file by byte-swapping");
        Ok(Self {
            ipc,
            decoder: MessageDecoder::new(&path, info.schema.clone(), projection, budget),
            full_schema: info.schema,
            widths,
            blocks: info.batches,
            next: 0,
            schema: projected,
        })
    }

    fn read(&mut self, index: usize, block: &Block) -> Result<Option<RecordBatch>> {
        let path = self.ipc.path().to_path_buf();
        let bad = |m: String| StreamError::malformed(&path, None, m);
        let (meta, mut body) = self
            .ipc
            .read_block(block, &format!("Arrow IPC record batch {index}"))?;
        let message = parse_message(&path, &meta)?;
        let Some(rb) = message.header_as_record_batch() else {
            return Ok(None);
        };
        if rb.compression().is_some() {
            return Err(bad(
                "compressed big-endian IPC files are not supported".to_owned()
            ));
        }
        check_batch(&path, &rb, body.as_slice(), &self.full_schema)?;
        let buffers: Vec<(usize, usize)> = rb
            .buffers()
            .iter()
            .flatten()
            .map(|b| {
                (
                    usize::try_from(b.offset()).unwrap_or(usize::MAX),
                    usize::try_from(b.length()).unwrap_or(usize::MAX),
                )
            })
            .collect();
        if buffers.len() != self.widths.len() {
            return Err(bad(format!(
                "IPC batch has {} buffers, the schema needs {}",
                buffers.len(),
                self.widths.len()
            )));
        }
        let slice = body.as_slice_mut();
        for ((off, blen), &width) in buffers.iter().zip(&self.widths) {
            if width < 2 {
                continue;
            }
            let region = off
                .checked_add(*blen)
                .and_then(|end| slice.get_mut(*off..end))
                .ok_or_else(|| bad("an IPC buffer runs past its message body".to_owned()))?;
            for value in region.chunks_exact_mut(width) {
                value.reverse();
            }
        }
        self.decoder.decode(&message, &body.into())
    }
}

impl Decode for BigEndianIpcSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, _target: usize) -> Result<Option<RecordBatch>> {
        while let Some(block) = self.blocks.get(self.next).copied() {
            let index = self.next;
            self.next += 1;
            if let Some(b) = self.read(index, &block)? {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    fn position(&self, _rows: u64) -> u64 {
        super::file::block_position(self.next, self.blocks.len(), self.ipc.total())
    }

    fn total(&self) -> u64 {
        self.ipc.total()
    }
}
