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
//! Only quotes and line feeds are searched for (memchr); the byte before a quote tells whether it
//! is at a field start, because outside quotes that byte cannot belong to a quoted section.

use std::io::Read;

/// Bytes read from the source per refill.
const READ_SIZE: usize = 1 << 20;

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
    delimiter: u8,
    max_record_bytes: usize,
    /// What a block costs, and the cost at which one is cut.
    cost: Cost,
    max_block_cost: u64,
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
            max_record_bytes,
            cost: Cost::RAW,
            max_block_cost: u64::MAX,
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
            full: false,
            too_long: None,
        }
    }

    /// Cuts blocks once they cost `max_block_cost` (after the record that reaches it), and
    /// refuses records longer than `max_record_bytes`.
    pub(crate) fn set_limits(&mut self, cost: Cost, max_block_cost: u64, max_record_bytes: usize) {
        self.cost = cost;
        self.max_block_cost = max_block_cost;
        self.max_record_bytes = max_record_bytes;
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

    /// Buffers `n` complete records, or fewer when they pass `max_bytes` (at least one, unless
    /// the input ends first).
    pub(crate) fn fill_records(&mut self, n: usize, max_bytes: usize) -> Result<(), SplitError> {
        loop {
            self.scan(n);
            if self.records >= n || self.eof || (self.records > 0 && self.buf.len() >= max_bytes) {
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

    /// Refuses a complete record the scan found too long.
    fn check_scanned(&self) -> Result<(), SplitError> {
        match self.too_long {
            Some((line, bytes)) => Err(SplitError::RecordTooLong { line, bytes }),
            None => Ok(()),
        }
    }

    /// Refuses the incomplete record at the end of the buffer once it is too long.
    fn check_record_size(&self) -> Result<(), SplitError> {
        let bytes = self.buf.len().saturating_sub(self.boundary);
        if bytes > self.max_record_bytes {
            return Err(SplitError::RecordTooLong {
                line: self.line + self.newlines_at_boundary,
                bytes,
            });
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
        self.full = false;
        self.too_long = None;
        self.scanned = 0;
        self.in_quotes = false;
        self.boundary = 0;
        self.records = 0;
        self.newlines_scanned = 0;
        self.newlines_at_boundary = 0;
    }

    /// Classifies `buf[scanned..]`, stopping early once `target` records are complete.
    ///
    /// `buf[0]` is always a record start (the scan restarts there after every cut), and
    /// `in_quotes` carries the state at `scanned` across refills.
    fn scan(&mut self, target: usize) {
        if self.records >= target || self.full || self.too_long.is_some() {
            return;
        }
        let (quote, delimiter) = (self.quote, self.delimiter);
        let buf = &self.buf;
        let mut i = self.scanned;
        while let Some(found) = buf
            .get(i..)
            .and_then(|rest| memchr::memchr2(quote, b'\n', rest))
        {
            let pos = i + found;
            i = pos + 1;
            if buf.get(pos) == Some(&b'\n') {
                self.newlines_scanned += 1;
                if !self.in_quotes {
                    if i - self.boundary > self.max_record_bytes {
                        self.too_long =
                            Some((self.line + self.newlines_at_boundary, i - self.boundary));
                        self.scanned = i;
                        return;
                    }
                    self.boundary = i;
                    self.newlines_at_boundary = self.newlines_scanned;
                    self.records += 1;
                    if self.records >= target {
                        self.scanned = i;
                        return;
                    }
                    if self.cost.of(i, self.records) >= self.max_block_cost {
                        // Full by cost: the caller cuts here, as if `target` were reached.
                        self.scanned = i;
                        self.full = true;
                        return;
                    }
                }
            } else if self.in_quotes {
                match buf.get(i) {
                    // A doubled quote is one literal quote; the field stays quoted.
                    Some(&c) if c == quote => i += 1,
                    // The byte after this quote decides; it has not been read yet.
                    None if !self.eof => {
                        self.scanned = pos;
                        return;
                    }
                    // Closing quote: the field goes on unquoted up to a delimiter or line break.
                    _ => self.in_quotes = false,
                }
            } else {
                let field_start = match pos.checked_sub(1).and_then(|p| buf.get(p)) {
                    None => true,
                    Some(&c) => c == delimiter || c == b'\n' || c == b'\r',
                };
                // Elsewhere in an unquoted field a quote is data (RFC 4180, csv-core).
                self.in_quotes = field_start;
            }
        }
        self.scanned = buf.len();
    }

    fn refill(&mut self) -> Result<(), SplitError> {
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
            b',',
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
        let mut s = Splitter::new(Box::new(std::io::Cursor::new(input)), b'"', b',', 1024);
        // Either a clean error or the whole rest as one last block; never unbounded growth.
        let r = s.next_block(10);
        assert!(r.is_err() || r.unwrap().is_some());
    }

    #[test]
    fn blocks_are_cut_at_their_cost_and_long_records_refused() {
        let mut input = Vec::new();
        for i in 0..20 {
            input.extend_from_slice(format!("{i},{}\n", "v".repeat(50)).as_bytes());
        }
        input.extend_from_slice(format!("x,{}\ny\n", "w".repeat(500)).as_bytes());
        let mut s = Splitter::new(Box::new(std::io::Cursor::new(input)), b'"', b',', 1 << 20);
        // 10 per byte and 100 per record: a record of ~54 bytes costs ~640, a block is full
        // after the record that reaches 2000.
        s.set_limits(
            Cost {
                per_byte: 10,
                per_record: 100,
            },
            2000,
            400,
        );
        let mut sizes = Vec::new();
        let err = loop {
            match s.next_block(1000) {
                Ok(Some(b)) => sizes.push(b.records),
                Ok(None) => panic!("the long record was accepted"),
                Err(e) => break e,
            }
        };
        assert_eq!(sizes, [4, 4, 4, 4, 4]);
        assert!(
            matches!(
                err,
                SplitError::RecordTooLong {
                    line: 21,
                    bytes: 503
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn inference_fill_stops_at_its_bytes() {
        let input: Vec<u8> = (0..10_000)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut s = Splitter::new(Box::new(std::io::Cursor::new(input)), b'"', b',', 1 << 20);
        s.fill_records(1_000_000, 100).unwrap();
        let (records, _) = s.buffered_records();
        // One refill is read whole (up to 1 MiB); the records in it are what inference sees.
        assert!(records >= 1 && s.buffered().len() <= READ_SIZE, "{records}");
    }

    #[test]
    fn mid_field_quotes_are_data() {
        // `12" pipe` and `b"c` hold literal quotes; `"x"y"` is a quoted x followed by data.
        let input = b"1,12\" pipe,\"a\nb\"\n2,b\"c,d\n3,\"x\"y\",z\n\"4\"\r\"q\nq\",5\n";
        let bs = blocks(input, 1);
        let texts: Vec<&[u8]> = bs.iter().map(|b| b.data.as_slice()).collect();
        assert_eq!(
            texts,
            vec![
                &b"1,12\" pipe,\"a\nb\"\n"[..],
                b"2,b\"c,d\n",
                b"3,\"x\"y\",z\n",
                b"\"4\"\r\"q\nq\",5\n"
            ]
        );
        assert_eq!(
            bs.iter().map(|b| b.first_line).collect::<Vec<_>>(),
            [1, 3, 4, 5]
        );
    }

    /// Records of `data` as the `csv` crate (csv-core) reads them.
    fn csv_records(data: &[u8]) -> Vec<csv::ByteRecord> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(data)
            .byte_records()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The scan state after `input`, fed first up to `split` and then whole, as two refills
    /// would: it must not depend on where the bytes were cut.
    fn scan_in_two(input: &[u8], split: usize) -> (usize, usize, u64, bool) {
        let mut s = Splitter::new(Box::new(std::io::empty()), b'"', b',', 1 << 20);
        s.buf = input[..split.min(input.len())].to_vec();
        s.scan(usize::MAX);
        s.buf = input.to_vec();
        s.eof = true;
        s.scan(usize::MAX);
        (s.boundary, s.records, s.newlines_scanned, s.in_quotes)
    }

    /// Every record boundary the splitter finds in `input`.
    fn all_boundaries(input: &[u8]) -> Vec<usize> {
        let mut s = Splitter::new(Box::new(std::io::empty()), b'"', b',', 1 << 20);
        s.buf = input.to_vec();
        s.eof = true;
        let mut out = Vec::new();
        for target in 1.. {
            s.scan(target);
            if s.records < target {
                break;
            }
            out.push(s.boundary);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn blocks_rejoin_to_input(input in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b'"'), proptest::strategy::Just(b'\n'), proptest::strategy::Just(b','),
            proptest::strategy::Just(b'a')], 0..200), target in 1usize..5) {
            let mut s = Splitter::new(Box::new(std::io::Cursor::new(input.clone())), b'"', b',', 1 << 20);
            let mut joined = Vec::new();
            while let Some(b) = s.next_block(target).unwrap() {
                joined.extend_from_slice(&b.data);
            }
            let trimmed_len = joined.len();
            proptest::prop_assert_eq!(&joined[..], &input[..trimmed_len]);
            proptest::prop_assert!(input[trimmed_len..].iter().all(u8::is_ascii_whitespace));
        }

        #[test]
        fn cuts_where_csv_core_is_between_records(
            input in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b'"'), proptest::strategy::Just(b'\n'),
                proptest::strategy::Just(b'\r'), proptest::strategy::Just(b','),
                proptest::strategy::Just(b'a')], 0..64),
            split in 0usize..64,
        ) {
            proptest::prop_assert_eq!(scan_in_two(&input, split), scan_in_two(&input, input.len()));
            let whole = csv_records(&input);
            let mut start = 0;
            let mut pieces = Vec::new();
            for b in all_boundaries(&input) {
                pieces.extend(csv_records(&input[start..b]));
                start = b;
            }
            pieces.extend(csv_records(&input[start..]));
            proptest::prop_assert_eq!(pieces, whole);
        }
    }
}
