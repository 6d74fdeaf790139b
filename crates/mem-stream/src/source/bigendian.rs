//! Big-endian Arrow IPC files, which arrow-rs refuses: each message body's fixed-width buffers are
//! byte-swapped in place (the layout comes from the schema), then decoded as little-endian.
//!
//! Supported: primitive, boolean, (large) string/binary, fixed-size binary, decimal, dates,
//! times, timestamps, durations, lists, structs and maps of those. Anything else (dictionaries,
//! views, unions, run-end encoding, compressed bodies) is a clean error.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::buffer::Buffer;
use arrow::datatypes::{DataType, IntervalUnit, SchemaRef};
use arrow::ipc::reader::FileDecoder;
use arrow::ipc::{Block, MetadataVersion};
use arrow::record_batch::RecordBatch;

use super::BatchSource;
use crate::error::{Result, StreamError};

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
    path: PathBuf,
    file: File,
    decoder: FileDecoder,
    widths: Vec<usize>,
    blocks: Vec<Block>,
    next: usize,
    schema: SchemaRef,
    total: u64,
}

impl BigEndianIpcSource {
    pub(crate) fn open(path: &Path, projection: Option<Vec<usize>>) -> Result<Self> {
        let bad = |m: String| StreamError::malformed(path, None, m);
        let mut file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        let mut tail = [0u8; 10];
        file.seek(SeekFrom::End(-10))
            .and_then(|_| file.read_exact(&mut tail))
            .map_err(|e| StreamError::io(path, "cannot read", e))?;
        let footer_len = arrow::ipc::reader::read_footer_length(tail)
            .map_err(|e| StreamError::arrow(path, "reading the IPC footer", e))?;
        let footer_len_u64 = footer_len as u64;
        if footer_len_u64.saturating_add(10) > total {
            return Err(bad("the IPC footer is longer than the file".to_owned()));
        }
        let mut footer = vec![0u8; footer_len];
        file.seek(SeekFrom::End(-10 - footer_len as i64))
            .and_then(|_| file.read_exact(&mut footer))
            .map_err(|e| StreamError::io(path, "cannot read", e))?;
        let fb =
            arrow::ipc::root_as_footer(&footer).map_err(|e| bad(format!("IPC footer: {e}")))?;
        let ipc_schema = fb
            .schema()
            .ok_or_else(|| bad("IPC footer without a schema".to_owned()))?;
        if fb.dictionaries().is_some_and(|d| !d.is_empty()) {
            return Err(bad(
                "big-endian IPC files with dictionaries are not supported".to_owned(),
            ));
        }
        let schema = Arc::new(
            arrow::ipc::convert::try_fb_to_schema(ipc_schema)
                .map_err(|e| StreamError::arrow(path, "reading the IPC schema", e))?,
        );
        let mut widths = Vec::new();
        for f in schema.fields() {
            plan(f.data_type(), &mut widths).map_err(bad)?;
        }
        let blocks: Vec<Block> = fb
            .recordBatches()
            .map(|b| b.iter().copied().collect())
            .unwrap_or_default();
        let version: MetadataVersion = fb.version();
        let mut decoder = FileDecoder::new(schema.clone(), version);
        let projected = match projection {
            Some(p) => {
                let s = Arc::new(
                    schema
                        .project(&p)
                        .map_err(|e| StreamError::arrow(path, "projecting columns", e))?,
                );
                decoder = decoder.with_projection(p);
                s
            }
            None => schema,
        };
        tracing::debug!(path = %path.display(), "reading a big-endian IPC file by byte-swapping");
        Ok(Self {
            path: path.to_path_buf(),
            file,
            decoder,
            widths,
            blocks,
            next: 0,
            schema: projected,
            total,
        })
    }

    fn read(&mut self, block: &Block) -> Result<Option<RecordBatch>> {
        let path = self.path.clone();
        let bad = |m: String| StreamError::malformed(&path, None, m);
        let meta_len = usize::try_from(block.metaDataLength())
            .map_err(|_| bad("negative IPC metadata length".to_owned()))?;
        let body_len = usize::try_from(block.bodyLength())
            .map_err(|_| bad("negative IPC body length".to_owned()))?;
        let offset = u64::try_from(block.offset())
            .map_err(|_| bad("negative IPC block offset".to_owned()))?;
        let len = meta_len
            .checked_add(body_len)
            .filter(|l| offset.saturating_add(*l as u64) <= self.total);
        let len =
            len.ok_or_else(|| bad("an IPC block runs past the end of the file".to_owned()))?;
        let mut bytes = vec![0u8; len];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut bytes))
            .map_err(|e| StreamError::io(&self.path, "cannot read", e))?;
        let start = if bytes.get(..4) == Some(&[0xFF; 4]) {
            8
        } else {
            4
        };
        let meta = bytes
            .get(start..meta_len)
            .ok_or_else(|| bad("truncated IPC message".to_owned()))?;
        let message =
            arrow::ipc::root_as_message(meta).map_err(|e| bad(format!("IPC message: {e}")))?;
        let Some(rb) = message.header_as_record_batch() else {
            return Ok(None);
        };
        if rb.compression().is_some() {
            return Err(bad(
                "compressed big-endian IPC files are not supported".to_owned()
            ));
        }
        let buffers: Vec<(usize, usize)> = rb
            .buffers()
            .map(|b| {
                b.iter()
                    .map(|b| {
                        (
                            usize::try_from(b.offset()).unwrap_or(usize::MAX),
                            usize::try_from(b.length()).unwrap_or(usize::MAX),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if buffers.len() != self.widths.len() {
            return Err(bad(format!(
                "IPC batch has {} buffers, the schema needs {}",
                buffers.len(),
                self.widths.len()
            )));
        }
        let body = bytes.get_mut(meta_len..).unwrap_or_default();
        for ((off, blen), &width) in buffers.iter().zip(&self.widths) {
            if width < 2 {
                continue;
            }
            let region = off
                .checked_add(*blen)
                .and_then(|end| body.get_mut(*off..end))
                .ok_or_else(|| bad("an IPC buffer runs past its message body".to_owned()))?;
            for value in region.chunks_exact_mut(width) {
                value.reverse();
            }
        }
        let buf = Buffer::from_vec(bytes);
        self.decoder
            .read_record_batch(block, &buf)
            .map_err(|e| StreamError::arrow(&self.path, "decoding a big-endian IPC batch", e))
    }
}

impl BatchSource for BigEndianIpcSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        while let Some(block) = self.blocks.get(self.next).copied() {
            self.next += 1;
            match self.read(&block) {
                Ok(Some(b)) => return Some(Ok(b)),
                Ok(None) => {}
                Err(e) => {
                    self.next = self.blocks.len();
                    return Some(Err(e));
                }
            }
        }
        None
    }

    fn bytes_read(&self) -> u64 {
        if self.blocks.is_empty() {
            return self.total;
        }
        (self.next as f64 / self.blocks.len() as f64 * self.total as f64) as u64
    }

    fn total_bytes(&self) -> u64 {
        self.total
    }
}
