//! Cutting a CSV byte stream into blocks of whole records, so blocks can be parsed in parallel.
//!
//! A block may only be cut where Arrow's decoder (csv-core) would itself be between records, so the
//! scan follows csv-core's state machine, restricted to what decides record boundaries:
//! - a quote opens a quoted field only at the start of a field (first byte of the input, or right
//!   after a delimiter, CR or LF outside quotes); anywhere else in an unquoted field it is data;
//! - inside a quoted field a doubled quote is one literal quote, and any other quote closes it;
//! - after the closing quote the field goes on unquoted (csv-core's `InDoubleEscapedQuote` ->
//!   `InField`), so quotes there are data until the next delimiter or line break;
//! - a line feed outside quotes ends a record (CR ends one too, but cutting only after LF is
//!   enough: csv-core skips the line breaks at the start of a record).
//!
//! - with an escape character, inside a quoted field the escape and the byte after it are data
//!   (csv-core's `InEscapedQuote`); outside quoted fields it is data;
//! - with a comment character, a line that starts with it (at a record start: the first byte, or
//!   right after CR or LF outside quotes) runs to the next LF and is no record.
//!
//! Only quotes, line feeds and the escape (inside quotes) or comment (outside) are searched for
//! (memchr); the byte before a quote or comment tells whether it is at a field or record start,
//! because outside quotes that byte cannot belong to a quoted section.

use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

/// The size of a read buffer until the block size is known (and the least it ever is).
const READ_SIZE: usize = 1 << 20;

/// The largest read buffer the block size asks for (a longer record still gets one its size).
const MAX_BUFFER: usize = 16 << 20;

/// Retired read buffers kept to be filled again once their blocks are decoded.
const SPARE_BUFFERS: usize = 4;

/// What a block costs to decode: `bytes * per_byte + records * per_record`, an upper bound of
/// the memory the block and its decoding hold at once (see `DecodeConfig::cost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    pub per_byte: u64,
    pub per_record: u64,
}

impl Cost {
    /// Counts bytes only: what holding the raw text costs.
    pub(crate) const RAW: Cost = Cost {
        per_byte: 1,
        per_record: 0,
    };

    pub(crate) fn of(&self, bytes: usize, records: usize) -> u64 {
        (bytes as u64)
            .saturating_mul(self.per_byte)
            .saturating_add((records as u64).saturating_mul(self.per_record))
    }
}

/// Why the splitter stopped.
#[derive(Debug)]
pub(crate) enum SplitError {
    /// Reading (or gunzipping) the input failed.
    Io(std::io::Error),
    /// One record is longer than `max_record_bytes`.
    RecordTooLong {
        /// 1-based physical line where the record starts.
        line: u64,
        /// Bytes of it buffered so far.
        bytes: usize,
    },
}

impl From<std::io::Error> for SplitError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// A run of whole records cut from the stream: a range of a shared read buffer, so cutting
/// copies nothing.
#[derive(Debug, Default)]
pub(crate) struct Block {
    buf: Arc<Vec<u8>>,
    range: Range<usize>,
    /// 1-based physical line where the block starts.
    pub first_line: u64,
    /// Records counted by the splitter (blank lines included; the parser skips them).
    pub records: usize,
}

impl Block {
    /// The records' bytes, the last one possibly without a line break at end of file.
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(self.range.clone()).unwrap_or_default()
    }
}

/// Reads a byte stream and cuts it at record boundaries.
///
/// The stream is read into buffers filled whole (or to the end of the input) and then shared
/// read-only with the blocks cut from them. When the scan reaches a buffer's end inside a record,
/// the unconsumed bytes move to the next buffer, a retired one whose blocks were all decoded when
/// there is one: steady state allocates nothing and copies only those bytes.
pub(crate) struct Splitter {
    reader: Box<dyn Read + Send>,
    quote: u8,
    delimiter: u8,
    escape: Option<u8>,
    comment: Option<u8>,
    max_record_bytes: usize,
    /// What a block costs, and the cost at which one is cut.
    cost: Cost,
    max_block_cost: u64,
    /// The read buffer: all of it initialised, `buf[start..end]` the bytes not yet cut off,
    /// `buf[start]` a record start. Positions below are relative to `start`.
    buf: Arc<Vec<u8>>,
    start: usize,
    end: usize,
    /// The size of the next buffer.
    buffer_size: usize,
    /// Retired buffers, reused once no block holds them.
    spare: VecDeque<Arc<Vec<u8>>>,
    eof: bool,
    /// Bytes of `buf` already scanned, all before `scanned` are classified.
    scanned: usize,
    in_quotes: bool,
    /// Inside a comment line (which ends at the next LF).
    in_comment: bool,
    /// End of the last complete record found in `buf`.
    boundary: usize,
    /// Complete records in `buf[..boundary]`.
    records: usize,
    /// Line feeds in `buf[..scanned]` and in `buf[..boundary]`.
    newlines_scanned: u64,
    newlines_at_boundary: u64,
    /// 1-based physical line at `buf[0]`.
    line: u64,
    started: bool,
    /// The block in `buf[..boundary]` reached the maximum cost.
    full: bool,
    /// A complete record longer than `max_record_bytes`: its line and length.
    too_long: Option<(u64, usize)>,
}

impl Splitter {
    pub(crate) fn new(
        reader: Box<dyn Read + Send>,
        quote: u8,
        delimiter: u8,
        max_record_bytes: usize,
    ) -> Self {
        Self {
            reader,
            quote,
            delimiter,
            escape: None,
            comment: None,
            max_record_bytes,
            cost: Cost::RAW,
            max_block_cost: u64::MAX,
            buf: Arc::new(Vec::new()),
            start: 0,
            end: 0,
            buffer_size: READ_SIZE,
            spare: VecDeque::new(),
            eof: false,
            scanned: 0,
            in_quotes: false,
            in_comment: false,
            boundary: 0,
            records: 0,
            newlines_scanned: 0,
            newlines_at_boundary: 0,
            line: 1,
            started: false,
            full: false,
            too_long: None,
        }
    }

    /// Follows an escape character inside quoted fields and skips comment lines, as csv-core
    /// does with the same settings.
    pub(crate) fn set_dialect(&mut self, escape: Option<u8>, comment: Option<u8>) {
        self.escape = escape;
        self.comment = comment;
        self.reset_scan();
    }

    /// Cuts blocks once they cost `max_block_cost` (after the record that reaches it), and
    /// refuses records longer than `max_record_bytes`.
    pub(crate) fn set_limits(&mut self, cost: Cost, max_block_cost: u64, max_record_bytes: usize) {
        self.cost = cost;
        self.max_block_cost = max_block_cost;
        self.max_record_bytes = max_record_bytes;
        // Two blocks' bytes per buffer: a block split across buffers is copied at most once.
        let block_bytes = max_block_cost / cost.per_byte.max(1);
        self.buffer_size = usize::try_from(block_bytes.saturating_mul(2))
            .unwrap_or(usize::MAX)
            .clamp(READ_SIZE, MAX_BUFFER);
    }

    /// Reads into buffers of `bytes` from now on (tests: a small one moves records between
    /// buffers often).
    #[cfg(test)]
    pub(crate) fn set_buffer_size(&mut self, bytes: usize) {
        self.buffer_size = bytes.max(1);
    }

    /// The buffered, not yet consumed bytes.
    fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// How many bytes are buffered and not yet consumed.
    fn len(&self) -> usize {
        self.end - self.start
    }

    /// Replaces the buffered bytes, keeping the scan state.
    #[cfg(test)]
    pub(crate) fn set_buffered(&mut self, bytes: Vec<u8>) {
        self.end = bytes.len();
        self.start = 0;
        self.buf = Arc::new(bytes);
    }

    /// The buffered, not yet consumed bytes.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> &[u8] {
        self.data()
    }

    /// Complete records buffered, and whether the buffer already holds the rest of the input.
    #[cfg(test)]
    pub(crate) fn buffered_records(&self) -> (usize, bool) {
        (self.records, self.eof)
    }

    /// The buffered bytes that hold whole records (all of them once the input ended).
    pub(crate) fn buffered_complete(&self) -> &[u8] {
        if self.eof {
            self.data()
        } else {
            self.data().get(..self.boundary).unwrap_or_default()
        }
    }

    /// The physical line at the start of the buffered bytes.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Buffers `n` complete records, or fewer when they pass `max_bytes` (at least one, unless
    /// the input ends first).
    pub(crate) fn fill_records(&mut self, n: usize, max_bytes: usize) -> Result<(), SplitError> {
        loop {
            self.scan(n);
            if self.records >= n || self.eof || (self.records > 0 && self.len() >= max_bytes) {
                return Ok(());
            }
            self.check_record_size()?;
            self.refill()?;
        }
    }

    /// Drops the first `bytes` buffered bytes, which hold `lines` line feeds (the header).
    pub(crate) fn consume(&mut self, bytes: usize, lines: u64) {
        self.start += bytes.min(self.len());
        self.line += lines;
        self.reset_scan();
    }

    /// The next block of up to `target` records, cut early once it costs the block maximum;
    /// `None` at the end of the input.
    pub(crate) fn next_block(&mut self, target: usize) -> Result<Option<Block>, SplitError> {
        let target = target.max(1);
        loop {
            self.scan(target);
            self.check_scanned()?;
            if self.records >= target || self.full {
                return Ok(Some(self.cut(self.boundary)));
            }
            if self.eof {
                // The last record, without a line break, is bounded like the others.
                self.check_record_size()?;
                if self.data().iter().all(|b| b.is_ascii_whitespace()) {
                    self.start = self.end;
                    self.reset_scan();
                    return Ok(None);
                }
                let len = self.len();
                let mut block = self.cut(len);
                // The last record has no line break: count it.
                if block.data().last() != Some(&b'\n') {
                    block.records += 1;
                }
                return Ok(Some(block));
            }
            self.check_record_size()?;
            self.refill()?;
        }
    }

    /// Refuses a complete record the scan found too long.
    fn check_scanned(&self) -> Result<(), SplitError> {
        match self.too_long {
            Some((line, bytes)) => Err(SplitError::RecordTooLong { line, bytes }),
            None => Ok(()),
        }
    }

    /// Refuses the incomplete record at the end of the buffer once it is too long.
    fn check_record_size(&self) -> Result<(), SplitError> {
        let bytes = self.len().saturating_sub(self.boundary);
        if bytes > self.max_record_bytes {
            return Err(SplitError::RecordTooLong {
                line: self.line + self.newlines_at_boundary,
                bytes,
            });
        }
        Ok(())
    }

    fn cut(&mut self, at: usize) -> Block {
        let at = at.min(self.len());
        let block = Block {
            buf: Arc::clone(&self.buf),
            range: self.start..self.start + at,
            first_line: self.line,
            records: self.records,
        };
        let newlines = if at == self.boundary {
            self.newlines_at_boundary
        } else {
            memchr::memchr_iter(b'\n', block.data()).count() as u64
        };
        self.start += at;
        self.line += newlines;
        self.reset_scan();
        block
    }

    fn reset_scan(&mut self) {
        self.full = false;
        self.too_long = None;
        self.scanned = 0;
        self.in_quotes = false;
        self.in_comment = false;
        self.boundary = 0;
        self.records = 0;
        self.newlines_scanned = 0;
        self.newlines_at_boundary = 0;
    }

    /// Classifies `buf[scanned..]`, stopping early once `target` records are complete.
    ///
    /// `buf[0]` is always a record start (the scan restarts there after every cut), and
    /// `in_quotes` / `in_comment` carry the state at `scanned` across refills.
    fn scan(&mut self, target: usize) {
        if self.records >= target || self.full || self.too_long.is_some() {
            return;
        }
        let (quote, delimiter) = (self.quote, self.delimiter);
        // An absent escape or comment searches for the quote twice, which finds nothing new.
        let escape = self.escape.unwrap_or(quote);
        let comment = self.comment.unwrap_or(quote);
        let buf = Arc::clone(&self.buf);
        let data = buf.get(self.start..self.end).unwrap_or_default();
        let mut i = self.scanned;
        loop {
            let rest = data.get(i..).unwrap_or_default();
            let found = if self.in_comment {
                memchr::memchr(b'\n', rest)
            } else if self.in_quotes {
                memchr::memchr3(quote, b'\n', escape, rest)
            } else {
                memchr::memchr3(quote, b'\n', comment, rest)
            };
            let Some(found) = found else { break };
            let pos = i + found;
            i = pos + 1;
            let byte = data.get(pos).copied().unwrap_or(b'\n');
            if byte == b'\n' {
                self.newlines_scanned += 1;
                self.in_comment = false;
                if !self.in_quotes && self.end_record(i, target) {
                    return;
                }
            } else if self.in_quotes {
                let next = data.get(i).copied();
                if next.is_none() && !self.eof {
                    // The byte after this quote or escape decides; it has not been read yet.
                    self.scanned = pos;
                    return;
                }
                if byte == quote {
                    match next {
                        // A doubled quote is one literal quote; the field stays quoted.
                        Some(c) if c == quote => i += 1,
                        // Closing quote: the field goes on unquoted up to a delimiter or line break.
                        _ => self.in_quotes = false,
                    }
                } else if let Some(c) = next {
                    // An escape: the next byte is data, a line feed included.
                    if c == b'\n' {
                        self.newlines_scanned += 1;
                    }
                    i += 1;
                }
            } else {
                let before = pos.checked_sub(1).and_then(|p| data.get(p)).copied();
                let record_start = matches!(before, None | Some(b'\n' | b'\r'));
                if self.comment == Some(byte) && byte != quote {
                    // A comment runs to the next LF, but only from a record start.
                    self.in_comment = record_start;
                } else if byte == quote {
                    // Elsewhere in an unquoted field a quote is data (RFC 4180, csv-core).
                    self.in_quotes = record_start || before == Some(delimiter);
                }
            }
        }
        self.scanned = data.len();
    }

    /// Records a record boundary before `i` (just after an LF outside quotes); whether the scan
    /// stops there (the target reached, the block full, or the record too long).
    fn end_record(&mut self, i: usize, target: usize) -> bool {
        if i - self.boundary > self.max_record_bytes {
            self.too_long = Some((self.line + self.newlines_at_boundary, i - self.boundary));
            self.scanned = i;
            return true;
        }
        self.boundary = i;
        self.newlines_at_boundary = self.newlines_scanned;
        self.records += 1;
        if self.records >= target {
            self.scanned = i;
            return true;
        }
        if self.cost.of(i, self.records) >= self.max_block_cost {
            // Full by cost: the caller cuts here, as if `target` were reached.
            self.scanned = i;
            self.full = true;
            return true;
        }
        false
    }

    /// Reads more of the input: fills the buffer to its end, first moving the unconsumed bytes
    /// to a new buffer when this one is full or shared with blocks.
    fn refill(&mut self) -> Result<(), SplitError> {
        if self.end >= self.buf.len() || Arc::get_mut(&mut self.buf).is_none() {
            self.renew();
        }
        let before = self.end;
        if let Some(buf) = Arc::get_mut(&mut self.buf) {
            while let Some(free) = buf.get_mut(self.end..)
                && !free.is_empty()
            {
                match self.reader.read(free) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => self.end += n.min(free.len()),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if self.end == before {
            // Nothing could be read into the buffer: the input ended.
            self.eof = true;
        }
        if !self.started && (self.len() >= 3 || self.eof) {
            self.started = true;
            if self.data().starts_with(b"\xEF\xBB\xBF") {
                self.start += 3;
                self.reset_scan();
            }
        }
        Ok(())
    }

    /// Moves the unconsumed bytes to the start of a buffer of its own (a spare one nobody holds
    /// any more, or a new one), large enough to be filled further.
    fn renew(&mut self) {
        let keep = self.len();
        let size = self.buffer_size.max(keep.saturating_mul(2)).max(64);
        let reusable = self
            .spare
            .iter_mut()
            .position(|b| b.len() >= size && Arc::get_mut(b).is_some());
        let mut fresh = match reusable.and_then(|i| self.spare.remove(i)) {
            Some(b) => b,
            None => Arc::new(vec![0u8; size]),
        };
        if let (Some(to), Some(from)) = (
            Arc::get_mut(&mut fresh).and_then(|b| b.get_mut(..keep)),
            self.buf.get(self.start..self.end),
        ) {
            to.copy_from_slice(from);
        }
        let old = std::mem::replace(&mut self.buf, fresh);
        self.start = 0;
        self.end = keep;
        // Keep buffers of the usual size for reuse; one grown for a long record goes.
        if !old.is_empty() && old.len() <= self.buffer_size.saturating_mul(2) {
            self.spare.push_back(old);
            if self.spare.len() > SPARE_BUFFERS {
                self.spare.pop_front();
            }
        }
    }
}

#[cfg(test)]
#[path = "split_tests.rs"]
mod tests;
