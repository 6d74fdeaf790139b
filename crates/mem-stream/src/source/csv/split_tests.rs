//! Tests of the block splitter: boundaries where csv-core (the `csv` crate) has them.

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
    let texts: Vec<&[u8]> = bs.iter().map(|b| b.data()).collect();
    assert_eq!(
        texts,
        vec![&b"1,\"a\nb\"\n"[..], b"2,\"c\"\"\n\"\n", b"3,x\n", b"4,y"]
    );
    let lines: Vec<u64> = bs.iter().map(|b| b.first_line).collect();
    assert_eq!(lines, vec![1, 3, 5, 6]);
    let joined: Vec<u8> = bs.iter().flat_map(|b| b.data().to_vec()).collect();
    assert_eq!(joined, input);
}

#[test]
fn strips_bom_and_groups_records() {
    let bs = blocks(b"\xEF\xBB\xBFa\r\nb\r\nc\r\n", 2);
    assert_eq!(bs.len(), 2);
    assert_eq!(bs[0].data(), b"a\r\nb\r\n");
    assert_eq!(bs[0].records, 2);
    assert_eq!(bs[1].data(), b"c\r\n");
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
    let texts: Vec<&[u8]> = bs.iter().map(|b| b.data()).collect();
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
    csv_records_with(data, None, None)
}

/// Records of `data` as csv-core reads them with an escape and a comment character.
fn csv_records_with(data: &[u8], escape: Option<u8>, comment: Option<u8>) -> Vec<csv::ByteRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .escape(escape)
        .comment(comment)
        .from_reader(data)
        .byte_records()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The scan state after `input`, fed first up to `split` and then whole, as two refills
/// would: it must not depend on where the bytes were cut.
fn scan_in_two(input: &[u8], split: usize) -> (usize, usize, u64, bool) {
    scan_in_two_with(input, split, None, None)
}

fn scan_in_two_with(
    input: &[u8],
    split: usize,
    escape: Option<u8>,
    comment: Option<u8>,
) -> (usize, usize, u64, bool) {
    let mut s = Splitter::new(Box::new(std::io::empty()), b'"', b',', 1 << 20);
    s.set_dialect(escape, comment);
    s.set_buffered(input[..split.min(input.len())].to_vec());
    s.scan(usize::MAX);
    s.set_buffered(input.to_vec());
    s.eof = true;
    s.scan(usize::MAX);
    (s.boundary, s.records, s.newlines_scanned, s.in_quotes)
}

/// Every record boundary the splitter finds in `input`.
fn all_boundaries(input: &[u8]) -> Vec<usize> {
    all_boundaries_with(input, None, None)
}

/// Every record boundary the splitter finds in `input` with an escape and a comment character.
fn all_boundaries_with(input: &[u8], escape: Option<u8>, comment: Option<u8>) -> Vec<usize> {
    let mut s = Splitter::new(Box::new(std::io::empty()), b'"', b',', 1 << 20);
    s.set_dialect(escape, comment);
    s.set_buffered(input.to_vec());
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

/// Hands out the input a few bytes per read.
struct Trickle(Vec<u8>, usize, usize);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.2.min(buf.len()).min(self.0.len() - self.1);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

proptest::proptest! {
    /// Small buffers and short reads: records move between buffers all the time, blocks stay
    /// exactly csv-core's records.
    #[test]
    fn small_buffers_cut_the_same_blocks(input in proptest::collection::vec(proptest::prop_oneof![
        proptest::strategy::Just(b'"'), proptest::strategy::Just(b'\n'), proptest::strategy::Just(b','),
        proptest::strategy::Just(b'a')], 0..300), target in 1usize..5, size in 1usize..40,
        step in 1usize..9) {
        let whole = blocks(&input, target);
        let mut s = Splitter::new(Box::new(Trickle(input.clone(), 0, step)), b'"', b',', 1 << 20);
        s.set_buffer_size(size);
        let mut small = Vec::new();
        while let Some(b) = s.next_block(target).unwrap() {
            small.push(b);
        }
        let texts = |bs: &[Block]| bs.iter().map(|b| (b.data().to_vec(), b.first_line, b.records)).collect::<Vec<_>>();
        proptest::prop_assert_eq!(texts(&small), texts(&whole));
    }

    #[test]
    fn blocks_rejoin_to_input(input in proptest::collection::vec(proptest::prop_oneof![
        proptest::strategy::Just(b'"'), proptest::strategy::Just(b'\n'), proptest::strategy::Just(b','),
        proptest::strategy::Just(b'a')], 0..200), target in 1usize..5) {
        let mut s = Splitter::new(Box::new(std::io::Cursor::new(input.clone())), b'"', b',', 1 << 20);
        let mut joined = Vec::new();
        while let Some(b) = s.next_block(target).unwrap() {
            joined.extend_from_slice(b.data());
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

    #[test]
    fn cuts_where_csv_core_is_with_escape_and_comment(
        input in proptest::collection::vec(proptest::prop_oneof![
            proptest::strategy::Just(b'"'), proptest::strategy::Just(b'\n'),
            proptest::strategy::Just(b'\r'), proptest::strategy::Just(b','),
            proptest::strategy::Just(b'\\'), proptest::strategy::Just(b'#'),
            proptest::strategy::Just(b'a')], 0..64),
        split in 0usize..64,
        escape in proptest::option::of(proptest::strategy::Just(b'\\')),
        comment in proptest::option::of(proptest::strategy::Just(b'#')),
    ) {
        proptest::prop_assert_eq!(
            scan_in_two_with(&input, split, escape, comment),
            scan_in_two_with(&input, input.len(), escape, comment)
        );
        let whole = csv_records_with(&input, escape, comment);
        let mut start = 0;
        let mut pieces = Vec::new();
        for b in all_boundaries_with(&input, escape, comment) {
            pieces.extend(csv_records_with(&input[start..b], escape, comment));
            start = b;
        }
        pieces.extend(csv_records_with(&input[start..], escape, comment));
        proptest::prop_assert_eq!(pieces, whole);
    }
}

#[test]
fn comments_and_escapes_do_not_cut_records() {
    let input = b"#c,\"\n1,\"a\\\"\nb\"\n#x\n2,y\n";
    let mut s = Splitter::new(
        Box::new(std::io::Cursor::new(input.to_vec())),
        b'"',
        b',',
        1 << 20,
    );
    s.set_dialect(Some(b'\\'), Some(b'#'));
    let mut texts = Vec::new();
    while let Some(b) = s.next_block(1).unwrap() {
        texts.push(b.data().to_vec());
    }
    assert_eq!(
        texts,
        vec![
            b"#c,\"\n".to_vec(),
            b"1,\"a\\\"\nb\"\n".to_vec(),
            b"#x\n".to_vec(),
            b"2,y\n".to_vec()
        ]
    );
}
