//! The Arrow IPC stream format, read message by message; each length is checked against the rest
//! of the file and the memory budget before it is read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::buffer::MutableBuffer;
use arrow::datatypes::SchemaRef;
use arrow::ipc::MessageHeader;
use arrow::record_batch::RecordBatch;

use super::message::{MessageDecoder, parse_flatbuffer, read_body};
use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::guard::contain;
use crate::source::OpenRequest;
use crate::source::batches::{Batches, Decode};

/// Reads whole messages from the input, keeping count of the position.
struct Framer {
    path: PathBuf,
    reader: BufReader<Box<dyn Read + Send>>,
    pos: u64,
    /// The input's size; `None` for a pipe, where only the memory limit bounds a length.
    total: Option<u64>,
    budget: Budget,
}

impl Framer {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.reader
            .read_exact(buf)
            .map_err(|e| StreamError::io(&self.path, "cannot read", e))?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// The next 4 bytes, or `None` at a clean end of the input.
    fn read_word(&mut self) -> Result<Option<[u8; 4]>> {
        let mut word = [0u8; 4];
        let mut filled = 0;
        while filled < word.len() {
            let rest = word.get_mut(filled..).unwrap_or_default();
            match self.reader.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StreamError::io(&self.path, "cannot read", e)),
            }
        }
        self.pos += filled as u64;
        match filled {
            0 => Ok(None),
            4 => Ok(Some(word)),
            _ => Err(StreamError::malformed(
                &self.path,
                None,
                "the Arrow IPC stream ends inside a message header",
            )),
        }
    }

    /// Bytes left in the input (unbounded for a pipe).
    fn left(&self) -> u64 {
        self.total.map_or(u64::MAX, |t| t.saturating_sub(self.pos))
    }

    /// Refuses a length longer than the input's rest or than a batch's share of the limit.
    fn check_len(&self, what: &str, len: i64) -> Result<u64> {
        let left = self.left();
        let len = u64::try_from(len)
            .ok()
            .filter(|&l| l <= left)
            .ok_or_else(|| {
                StreamError::malformed(
                    &self.path,
                    None,
                    format!(
                        "an Arrow IPC message at byte {} claims {len} bytes of {what}, but {left} bytes are left",
                        self.pos
                    ),
                )
            })?;
        let allowed = self.budget.batch_max();
        if len > allowed {
            return Err(self.budget.over(
                &self.path,
                None,
                format!("an Arrow IPC message's {what}"),
                len,
                allowed,
                crate::budget::RAISE_LIMIT,
            ));
        }
        Ok(len)
    }

    /// The next message's flatbuffer and body; `None` at the end of the stream.
    fn next(&mut self) -> Result<Option<(Vec<u8>, MutableBuffer)>> {
        let Some(mut word) = self.read_word()? else {
            return Ok(None);
        };
        if word == [0xFF; 4] {
            word = self.read_word()?.ok_or_else(|| {
                StreamError::malformed(
                    &self.path,
                    None,
                    "the Arrow IPC stream ends inside a message header",
                )
            })?;
        }
        let meta_len = i32::from_le_bytes(word);
        if meta_len == 0 {
            return Ok(None);
        }
        let meta_len = self.check_len("metadata", i64::from(meta_len))?;
        let mut meta = vec![0u8; usize::try_from(meta_len).unwrap_or(usize::MAX)];
        self.read_exact(&mut meta)?;
        let body_len = parse_flatbuffer(&self.path, &meta)?.bodyLength();
        let body_len = self.check_len("body", body_len)?;
        let body = read_body(
            &self.path,
            &mut self.reader,
            usize::try_from(body_len).unwrap_or(usize::MAX),
        )?;
        self.pos += body_len;
        Ok(Some((meta, body)))
    }
}

/// An Arrow IPC stream (read front to back), from a file or any reader.
pub(crate) struct IpcStreamSource {
    framer: Framer,
    decoder: MessageDecoder,
    schema: SchemaRef,
}

impl IpcStreamSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Batches<Self>> {
        let path = req.path;
        let file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        Self::from_reader(req, Box::new(file), Some(total))
    }

    /// Reads the stream from `reader` (of `total` bytes when known).
    pub(crate) fn from_reader(
        req: &OpenRequest<'_>,
        reader: Box<dyn Read + Send>,
        total: Option<u64>,
    ) -> Result<Batches<Self>> {
        let path = req.path;
        let mut framer = Framer {
            path: path.to_path_buf(),
            reader: BufReader::new(reader),
            pos: 0,
            total,
            budget: req.budget,
        };
        let (meta, _body) = framer.next()?.ok_or_else(|| {
            StreamError::malformed(path, None, "the Arrow IPC stream has no schema message")
        })?;
        let message = parse_flatbuffer(path, &meta)?;
        let ipc_schema = match message.header_type() {
            MessageHeader::Schema => message.header_as_schema(),
            _ => None,
        }
        .ok_or_else(|| {
            StreamError::malformed(
                path,
                None,
                "the Arrow IPC stream does not start with a schema message",
            )
        })?;
        let full = Arc::new(contain(path, "Arrow IPC", || {
            arrow::ipc::convert::try_fb_to_schema(ipc_schema)
                .map_err(|e| StreamError::arrow(path, "reading the Arrow IPC schema", e))
        })?);
        let projection = super::projection(req, &full)?;
        let schema = match &projection {
            Some(p) => Arc::new(
                full.project(p)
                    .map_err(|e| StreamError::arrow(path, "projecting columns", e))?,
            ),
            None => full.clone(),
        };
        let source = Self {
            decoder: MessageDecoder::new(path, full, projection, req.budget),
            framer,
            schema,
        };
        Ok(Batches::new(source, req.target_rows.clone()))
    }
}

impl Decode for IpcStreamSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, _target: usize) -> Result<Option<RecordBatch>> {
        loop {
            let Some((meta, body)) = self.framer.next()? else {
                return Ok(None);
            };
            let message = parse_flatbuffer(&self.framer.path, &meta)?;
            if let Some(batch) = self.decoder.decode(&message, &body.into())? {
                return Ok(Some(batch));
            }
        }
    }

    fn position(&self, _rows: u64) -> u64 {
        self.framer.pos
    }

    fn total(&self) -> u64 {
        // A pipe's size is what was read of it.
        self.framer.total.unwrap_or(0)
    }
}
