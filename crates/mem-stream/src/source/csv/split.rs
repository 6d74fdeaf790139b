//! Cutting a CSV byte stream into blocks of whole records, so blocks can be parsed in parallel.
//!
//! A record ends at a line feed outside quotes. Inside a quoted field every quote toggles the
//! state, and a doubled quote toggles it twice, so counting quote parity from a record boundary is
//! enough to know whether a line feed ends a record. (A quote in the middle of an unquoted field
//! breaks this, as it does for every parallel CSV reader; `max_record_bytes` bounds the damage.)

use std::io::Read;

/// Bytes read from the source per refill.
const READ_SIZE: usize = 1 << 20;

/// A run of whole records cut from the stream.
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// The records' bytes, the last one possibly without a line break at end of file.
    pub data: Vec<u8>,
    /// 1-based physical line where the block starts.
    pub first_line: u64,
    /// Records counted by the splitter (blank lines included; the parser skips them).
    pub records: usize,
}

/// Reads a byte stream and cuts it at record boundaries.
pub(crate) struct Splitter {
    reader: Box<dyn Read + Send>,
    quote: u8,
    max_record_bytes: usize,
    buf: Vec<u8>,
    eof: bool,
    /// Bytes of `buf` already scanned, all before `scanned` are classified.
    scanned: usize,
    in_quotes: bool,
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
}

impl Splitter {
    pub(crate) fn new(reader: Box<dyn Read + Send>, quote: u8, max_record_bytes: usize) -> Self {
        Self {
            reader,
            quote,
            max_record_bytes,
            buf: Vec::new(),
            eof: false,
            scanned: 0,
            in_quotes: false,
            boundary: 0,
            records: 0,
            newlines_scanned: 0,
            newlines_at_boundary: 0,
            line: 1,
            started: false,
        }
    }

    /// The buffered, not yet consumed bytes.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Complete records buffered, and whether the buffer already holds the rest of the input.
    pub(crate) fn buffered_records(&self) -> (usize, bool) {
        (self.records, self.eof)
    }

    /// The physical line at the start of the buffered bytes.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Buffers at least `n` complete records (or the whole input, if shorter).
    pub(crate) fn fill_records(&mut self, n: usize) -> std::io::Result<()> {
        loop {
            self.scan(n);
            if self.records >= n || self.eof {
                return Ok(());
            }
            self.check_record_size()?;
            self.refill()?;
        }
    }

    /// Drops the first `bytes` buffered bytes, which hold `lines` line feeds (the header).
    pub(crate) fn consume(&mut self, bytes: usize, lines: u64) {
        let bytes = bytes.min(self.buf.len());
        self.buf.drain(..bytes);
        self.line += lines;
        self.reset_scan();
    }

    /// The next block of up to `target` records; `None` at the end of the input.
    pub(crate) fn next_block(&mut self, target: usize) -> std::io::Result<Option<Block>> {
        let target = target.max(1);
        loop {
            self.scan(target);
            if self.records >= target {
                return Ok(Some(self.cut(self.boundary)));
            }
            if self.eof {
                if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                    self.buf.clear();
                    self.reset_scan();
                    return Ok(None);
                }
                let len = self.buf.len();
                let mut block = self.cut(len);
                // The last record has no line break: count it.
                if block.data.last() != Some(&b'\n') {
                    block.records += 1;
                }
                return Ok(Some(block));
            }
            self.check_record_size()?;
            self.refill()?;
        }
    }

    fn check_record_size(&self) -> std::io::Result<()> {
        if self.buf.len().saturating_sub(self.boundary) > self.max_record_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a record starting at line {} is longer than {} bytes; is a quote left open?",
                    self.line + self.newlines_at_boundary,
                    self.max_record_bytes
                ),
            ));
        }
        Ok(())
    }

    fn cut(&mut self, at: usize) -> Block {
        let rest = self.buf.split_off(at);
        let data = std::mem::replace(&mut self.buf, rest);
        let newlines = if at == self.boundary {
            self.newlines_at_boundary
        } else {
            memchr::memchr_iter(b'\n', &data).count() as u64
        };
        let block = Block {
            data,
            first_line: self.line,
            records: self.records,
        };
        self.line += newlines;
        self.reset_scan();
        block
    }

    fn reset_scan(&mut self) {
        self.scanned = 0;
        self.in_quotes = false;
        self.boundary = 0;
        self.records = 0;
        self.newlines_scanned = 0;
        self.newlines_at_boundary = 0;
    }

    /// Classifies `buf[scanned..]`, stopping early once `target` records are complete.
    fn scan(&mut self, target: usize) {
        if self.records >= target {
            return;
        }
        let start = self.scanned;
        let Some(rest) = self.buf.get(start..) else {
            return;
        };
        for i in memchr::memchr2_iter(self.quote, b'\n', rest) {
            let pos = start + i;
            if rest.get(i) == Some(&self.quote) {
                self.in_quotes = !self.in_quotes;
                continue;
            }
            self.newlines_scanned += 1;
            if !self.in_quotes {
                self.boundary = pos + 1;
                self.newlines_at_boundary = self.newlines_scanned;
                self.records += 1;
                if self.records >= target {
                    self.scanned = pos + 1;
                    return;
                }
            }
        }
        self.scanned = self.buf.len();
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let read = (&mut self.reader)
            .take(READ_SIZE as u64)
            .read_to_end(&mut self.buf)?;
        if read == 0 {
            self.eof = true;
        }
        if !self.started && (self.buf.len() >= 3 || self.eof) {
            self.started = true;
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
                self.reset_scan();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(input: &[u8], target: usize) -> Vec<Block> {
        let mut s = Splitter::new(
            Box::new(std::io::Cursor::new(input.to_vec())),
            b'"',
            1 << 20,
        );
        let mut out = Vec::new();
        while let Some(b) = s.next_block(target).unwrap() {
            out.push(b);
        }
        out
    }

    #[test]
    fn cuts_only_outside_quotes() {
        let input = b"1,\"a\nb\"\n2,\"c\"\"\n\"\n3,x\n4,y";
        let bs = blocks(input, 1);
        let texts: Vec<&[u8]> = bs.iter().map(|b| b.data.as_slice()).collect();
        assert_eq!(
            texts,
            vec![&b"1,\"a\nb\"\n"[..], b"2,\"c\"\"\n\"\n", b"3,x\n", b"4,y"]
        );
        let lines: Vec<u64> = bs.iter().map(|b| b.first_line).collect();
        assert_eq!(lines, vec![1, 3, 5, 6]);
        let joined: Vec<u8> = bs.iter().flat_map(|b| b.data.clone()).collect();
        assert_eq!(joined, input);
    }

    #[test]
    fn strips_bom_and_groups_records() {
        let bs = blocks(b"\xEF\xBB\xBFa\r\nb\r\nc\r\n", 2);
        assert_eq!(bs.len(), 2);
        assert_eq!(bs[0].data, b"a\r\nb\r\n");
        assert_eq!(bs[0].records, 2);
        assert_eq!(bs[1].data, b"c\r\n");
    }

    #[test]
    fn open_quote_is_bounded() {
        let mut input = b"a,\"never closed\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 5000));
        let mut s = Splitter::new(Box::new(std::io::Cursor::new(input)), b'"', 1024);
        // Either a clean error or the whole rest as one last block; never unbounded growth.
        let r = s.next_block(10);
        assert!(r.is_err() || r.unwrap().is_some());
    }

    proptest::proptest! {
        #[test]
        fn blocks_rejoin_to_input(input in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b'"'), proptest::strategy::Just(b'\n'), proptest::strategy::Just(b','),
            proptest::strategy::Just(b'a')], 0..200), target in 1usize..5) {
            let mut s = Splitter::new(Box::new(std::io::Cursor::new(input.clone())), b'"', 1 << 20);
            let mut joined = Vec::new();
            while let Some(b) = s.next_block(target).unwrap() {
                joined.extend_from_slice(&b.data);
            }
            let trimmed_len = joined.len();
            proptest::prop_assert_eq!(&joined[..], &input[..trimmed_len]);
            proptest::prop_assert!(input[trimmed_len..].iter().all(u8::is_ascii_whitespace));
        }
    }
}
