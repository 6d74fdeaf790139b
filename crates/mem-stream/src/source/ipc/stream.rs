//! The Arrow IPC stream format, read message by message; each length is checked against the rest
//! of the file and the memory budget before it is read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::buffer::MutableBuffer;
use arrow::datatypes::SchemaRef;
use arrow::ipc::MessageHeader;
use arrow::record_batch::RecordBatch;

use super::message::{MessageDecoder, parse_flatbuffer, read_body};
use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::guard::contain;
use crate::source::{BatchSource, OpenRequest};

/// Reads whole messages from the file, keeping count of the position.
struct Framer {
    path: PathBuf,
    reader: BufReader<File>,
    pos: u64,
    total: u64,
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

    /// The next message's flatbuffer and body; `None` at the end of the stream.
    fn next(&mut self) -> Result<Option<(Vec<u8>, MutableBuffer)>> {
        let bad = |path: &Path, m: String| StreamError::malformed(path, None, m);
        if self.total - self.pos < 4 {
            if self.pos == self.total {
                return Ok(None);
            }
            return Err(bad(
                &self.path,
                "the Arrow IPC stream ends inside a message header".to_owned(),
            ));
        }
        let mut word = [0u8; 4];
        self.read_exact(&mut word)?;
        if word == [0xFF; 4] {
            if self.total - self.pos < 4 {
                return Err(bad(
                    &self.path,
                    "the Arrow IPC stream ends inside a message header".to_owned(),
                ));
            }
            self.read_exact(&mut word)?;
        }
        let meta_len = i32::from_le_bytes(word);
        if meta_len == 0 {
            return Ok(None);
        }
        let left = self.total - self.pos;
        let meta_len = u64::try_from(meta_len)
            .ok()
            .filter(|&l| l <= left)
            .ok_or_else(|| {
                bad(
                    &self.path,
                    format!(
                        "an Arrow IPC message at byte {} claims {meta_len} bytes of metadata, but {left} bytes are left",
                        self.pos - 4
                    ),
                )
            })?;
        let mut meta = vec![0u8; usize::try_from(meta_len).unwrap_or(usize::MAX)];
        self.read_exact(&mut meta)?;
        let body_len = parse_flatbuffer(&self.path, &meta)?.bodyLength();
        let left = self.total - self.pos;
        let body_len = u64::try_from(body_len)
            .ok()
            .filter(|&l| l <= left)
            .ok_or_else(|| {
                bad(
                    &self.path,
                    format!(
                        "an Arrow IPC message claims a body of {body_len} bytes, but {left} bytes are left"
                    ),
                )
            })?;
        let allowed = self.budget.batch_max();
        if body_len > allowed {
            return Err(self.budget.over(
                &self.path,
                None,
                "an Arrow IPC message body",
                body_len,
                allowed,
                crate::budget::RAISE_LIMIT,
            ));
        }
        let body = read_body(
            &self.path,
            &mut self.reader,
            usize::try_from(body_len).unwrap_or(usize::MAX),
        )?;
        self.pos += body_len;
        Ok(Some((meta, body)))
    }
}

/// An Arrow IPC stream (read front to back).
pub(crate) struct IpcStreamSource {
    framer: Framer,
    decoder: MessageDecoder,
    schema: SchemaRef,
    done: bool,
}

impl IpcStreamSource {
    pub(crate) fn open(req: &OpenRequest<'_>) -> Result<Self> {
        let path = req.path;
        let file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        let mut framer = Framer {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
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
        Ok(Self {
            decoder: MessageDecoder::new(path, full, projection, req.budget),
            framer,
            schema,
            done: false,
        })
    }

    fn read(&mut self) -> Result<Option<RecordBatch>> {
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
}

impl BatchSource for IpcStreamSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        match self.read() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        if self.done {
            self.framer.total
        } else {
            self.framer.pos.min(self.framer.total)
        }
    }

    fn total_bytes(&self) -> u64 {
        self.framer.total
    }
}
