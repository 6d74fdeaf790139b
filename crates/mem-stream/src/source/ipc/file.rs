//! The Arrow IPC file format (Feather v2): the footer and the blocks it points to, every length
//! checked against the file and the memory budget before anything is allocated for it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::buffer::{Buffer, MutableBuffer};
use arrow::datatypes::SchemaRef;
use arrow::ipc::Block;
use arrow::record_batch::RecordBatch;
use crossbeam_channel::{Receiver, SendError, Sender, bounded};

use super::message::{MessageDecoder, describe_flatbuffer_error, parse_message, read_body};
use crate::budget::Budget;
use crate::error::{Result, StreamError};
use crate::guard::contain;
use crate::source::batches::Decode;

/// `ARROW1` and its padding at the start of the file.
const LEADING_MAGIC: u64 = 8;
/// The footer length (4 bytes) and `ARROW1` at the end of the file.
const TRAILER: u64 = 10;

/// An open IPC file: its footer bytes and where the data ends.
pub(crate) struct IpcFile {
    path: PathBuf,
    file: BufReader<File>,
    total: u64,
    footer: Vec<u8>,
    /// First byte of the footer: blocks must end before it.
    data_end: u64,
    budget: Budget,
}

/// What the footer says.
pub(crate) struct FooterInfo {
    /// The full schema (with dictionary ids).
    pub schema: SchemaRef,
    /// Whether the file's byte order is this machine's.
    pub native: bool,
    pub dictionaries: Vec<Block>,
    pub batches: Vec<Block>,
}

impl IpcFile {
    /// Opens `path` and reads its footer, refusing lengths the file cannot hold.
    pub(crate) fn open(path: &Path, budget: Budget) -> Result<Self> {
        let bad = |m: String| StreamError::malformed(path, None, m);
        let mut file = File::open(path).map_err(|e| StreamError::io(path, "cannot open", e))?;
        let total = file
            .metadata()
            .map_err(|e| StreamError::io(path, "cannot read", e))?
            .len();
        if total < LEADING_MAGIC + TRAILER {
            return Err(bad(format!(
                "an Arrow IPC file of {total} bytes is too short to hold its footer"
            )));
        }
        let mut tail = [0u8; TRAILER as usize];
        file.seek(SeekFrom::Start(total - TRAILER))
            .and_then(|_| file.read_exact(&mut tail))
            .map_err(|e| StreamError::io(path, "cannot read", e))?;
        let (len, magic) = tail.split_at(4);
        if magic != b"ARROW1" {
            return Err(bad(
                "the Arrow IPC file does not end with ARROW1 (truncated, or a stream named .arrow?)"
                    .to_owned(),
            ));
        }
        let footer_len = i32::from_le_bytes(len.try_into().unwrap_or_default());
        let room = total - TRAILER - LEADING_MAGIC;
        let footer_len = u64::try_from(footer_len)
            .ok()
            .filter(|&l| l > 0 && l <= room)
            .ok_or_else(|| {
                bad(format!(
                    "the Arrow IPC footer claims {footer_len} bytes, but the file has room for {room}"
                ))
            })?;
        let data_end = total - TRAILER - footer_len;
        let mut footer = vec![0u8; usize::try_from(footer_len).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::Start(data_end))
            .and_then(|_| file.read_exact(&mut footer))
            .map_err(|e| StreamError::io(path, "cannot read", e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: BufReader::new(file),
            total,
            footer,
            data_end,
            budget,
        })
    }

    /// The file size.
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Parses the footer: schema, byte order and blocks.
    pub(crate) fn footer(&self) -> Result<FooterInfo> {
        let path = &self.path;
        let bad = |m: String| StreamError::malformed(path, None, m);
        let fb = arrow::ipc::root_as_footer(&self.footer).map_err(|e| {
            bad(format!(
                "malformed Arrow IPC footer: {}",
                describe_flatbuffer_error(&e)
            ))
        })?;
        let ipc_schema = fb
            .schema()
            .ok_or_else(|| bad("the Arrow IPC footer has no schema".to_owned()))?;
        let native = ipc_schema.endianness().equals_to_target_endianness();
        let schema = contain(path, "Arrow IPC", || {
            arrow::ipc::convert::try_fb_to_schema(ipc_schema)
                .map_err(|e| StreamError::arrow(path, "reading the Arrow IPC schema", e))
        })?;
        Ok(FooterInfo {
            schema: Arc::new(schema),
            native,
            dictionaries: fb
                .dictionaries()
                .map(|b| b.iter().copied().collect())
                .unwrap_or_default(),
            batches: fb
                .recordBatches()
                .map(|b| b.iter().copied().collect())
                .unwrap_or_default(),
        })
    }

    /// Reads the message of `block`: its metadata bytes and its body, after checking that both
    /// lie in the file's data and that the body fits the budget.
    pub(crate) fn read_block(
        &mut self,
        block: &Block,
        what: &str,
    ) -> Result<(Vec<u8>, MutableBuffer)> {
        let path = self.path.clone();
        let bad = |m: String| StreamError::malformed(&path, None, m);
        let (offset, meta_len, body_len) =
            (block.offset(), block.metaDataLength(), block.bodyLength());
        let span = u64::try_from(offset)
            .ok()
            .filter(|&o| o >= LEADING_MAGIC)
            .zip(u64::try_from(meta_len).ok().filter(|&m| m > 0))
            .zip(u64::try_from(body_len).ok())
            .and_then(|((o, m), b)| Some((o, m, b, o.checked_add(m)?.checked_add(b)?)))
            .filter(|&(.., end)| end <= self.data_end);
        let Some((offset, meta_len, body_len, _)) = span else {
            return Err(bad(format!(
                "{what} (offset {offset}, metadata {meta_len} bytes, body {body_len} bytes) lies outside the file's {} bytes of data",
                self.data_end
            )));
        };
        let allowed = self.budget.batch_max();
        if body_len > allowed {
            return Err(self.budget.over(
                &path,
                None,
                what.to_owned(),
                body_len,
                allowed,
                crate::budget::RAISE_LIMIT,
            ));
        }
        let mut meta = vec![0u8; usize::try_from(meta_len).unwrap_or(usize::MAX)];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut meta))
            .map_err(|e| StreamError::io(&path, "cannot read", e))?;
        let body = read_body(
            &path,
            &mut self.file,
            usize::try_from(body_len).unwrap_or(usize::MAX),
        )?;
        Ok((meta, body))
    }
}

/// Record batches read from the file and being decoded (decompressed) on the workers: with the
/// one the consumer holds, the memory of a stream is about this many batches plus one.
const IN_FLIGHT: usize = 2;

/// A read message for a worker: the batch's number, its metadata and body, and where to answer.
type Job = (usize, Vec<u8>, Buffer, Sender<Result<Option<RecordBatch>>>);

/// A little-endian Arrow IPC file, batch by batch. This thread reads each block (every length
/// checked first); up to [`IN_FLIGHT`] read blocks are decoded at once on worker threads (LZ4 and
/// ZSTD buffers decompress there), and batches come back in file order.
pub(crate) struct IpcFileSource {
    ipc: IpcFile,
    decoder: Arc<MessageDecoder>,
    schema: SchemaRef,
    batches: Vec<Block>,
    next: usize,
    /// Started on the first batch, when the file has more than one.
    workers: Option<Sender<Job>>,
    pending: VecDeque<Receiver<Result<Option<RecordBatch>>>>,
}

impl IpcFileSource {
    /// Reads the dictionaries and readies the batches of an opened file.
    pub(crate) fn new(
        mut ipc: IpcFile,
        info: FooterInfo,
        projection: Option<Vec<usize>>,
        budget: Budget,
    ) -> Result<Self> {
        let path = ipc.path.clone();
        let schema = match &projection {
            Some(p) => Arc::new(
                info.schema
                    .project(p)
                    .map_err(|e| StreamError::arrow(&path, "projecting columns", e))?,
            ),
            None => info.schema.clone(),
        };
        let mut decoder = MessageDecoder::new(&path, info.schema, projection, budget);
        for (i, block) in info.dictionaries.iter().enumerate() {
            let (meta, body) = ipc.read_block(block, &format!("Arrow IPC dictionary block {i}"))?;
            let message = parse_message(&path, &meta)?;
            if message.header_type() != arrow::ipc::MessageHeader::DictionaryBatch {
                return Err(StreamError::malformed(
                    &path,
                    None,
                    format!("Arrow IPC dictionary block {i} holds no dictionary"),
                ));
            }
            decoder.decode(&message, &body.into())?;
        }
        Ok(Self {
            ipc,
            decoder: Arc::new(decoder),
            schema,
            batches: info.batches,
            next: 0,
            workers: None,
            pending: VecDeque::new(),
        })
    }

    /// Decodes one read block: a record batch, or `None` for another message.
    fn decode_block(
        decoder: &MessageDecoder,
        index: usize,
        meta: &[u8],
        body: &Buffer,
    ) -> Result<Option<RecordBatch>> {
        let message = parse_message(decoder.path(), meta)?;
        if message.header_type() != arrow::ipc::MessageHeader::RecordBatch {
            return Ok(None);
        }
        decoder.record_batch(index, &message, body).map(Some)
    }

    /// The workers' queue, started when first needed: `None` when the file has a single batch
    /// or no thread could start (then this thread decodes).
    fn workers(&mut self) -> Option<&Sender<Job>> {
        if self.workers.is_none() && self.batches.len() > 1 {
            let (tx, rx) = bounded::<Job>(IN_FLIGHT);
            let mut started = 0;
            for i in 0..IN_FLIGHT {
                let (rx, decoder) = (rx.clone(), self.decoder.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("mem-stream-ipc-{i}"))
                    .spawn(move || {
                        for (index, meta, body, reply) in rx {
                            let decoded = Self::decode_block(&decoder, index, &meta, &body);
                            // The consumer may be gone; nothing to do then.
                            let _ = reply.send(decoded);
                        }
                    });
                match spawned {
                    Ok(_) => started += 1,
                    Err(e) => tracing::debug!(error = %e, "no Arrow IPC decoding thread"),
                }
            }
            if started > 0 {
                self.workers = Some(tx);
            }
        }
        self.workers.as_ref()
    }

    /// Reads the next block and hands it to a worker, or decodes it here without workers.
    fn start_next(&mut self) -> Result<()> {
        let Some(block) = self.batches.get(self.next).copied() else {
            return Ok(());
        };
        let index = self.next;
        self.next += 1;
        let (meta, body) = self
            .ipc
            .read_block(&block, &format!("Arrow IPC record batch {index}"))?;
        let body = Buffer::from(body);
        let (reply, rx) = bounded(1);
        match self.workers() {
            Some(tx) => {
                if let Err(SendError((index, meta, body, reply))) =
                    tx.send((index, meta, body, reply))
                {
                    // Every worker is gone: decode here.
                    let _ = reply.send(Self::decode_block(&self.decoder, index, &meta, &body));
                }
            }
            None => {
                let _ = reply.send(Self::decode_block(&self.decoder, index, &meta, &body));
            }
        }
        self.pending.push_back(rx);
        Ok(())
    }
}

impl Decode for IpcFileSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn decode(&mut self, _target: usize) -> Result<Option<RecordBatch>> {
        loop {
            while self.pending.len() < IN_FLIGHT && self.next < self.batches.len() {
                self.start_next()?;
            }
            let Some(rx) = self.pending.pop_front() else {
                return Ok(None);
            };
            let decoded = rx.recv().unwrap_or_else(|_| {
                Err(StreamError::malformed(
                    self.decoder.path(),
                    None,
                    "an Arrow IPC decoding thread stopped unexpectedly",
                ))
            })?;
            if let Some(batch) = decoded {
                return Ok(Some(batch));
            }
        }
    }

    fn position(&self, _rows: u64) -> u64 {
        let delivered = self.next - self.pending.len();
        block_position(delivered, self.batches.len(), self.ipc.total)
    }

    fn total(&self) -> u64 {
        self.ipc.total
    }
}

/// Progress through a file's record batch blocks, in bytes.
pub(crate) fn block_position(next: usize, blocks: usize, total: u64) -> u64 {
    if blocks == 0 {
        return 0;
    }
    (next as f64 / blocks as f64 * total as f64) as u64
}
