//! Parquet metadata is Thrift compact protocol: integers are (zigzag) varints after a field
//! header byte, and binary lengths and list sizes are varints too. This mutator finds such a
//! field, mostly in the footer, and replaces its varint with a lying one (huge, negative, or
//! near the file size), fixing the footer length so the footer still parses up to the lie.

use super::put_word;
use crate::fuzz::rng::Rng;

/// Thrift compact type ids of the fields whose varints are worth lying in.
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const BINARY: u8 = 8;
const LIST: u8 = 9;

/// A varint field found in the file.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// Where the varint starts.
    at: usize,
    /// Its length in bytes.
    len: usize,
    /// Zigzag-encoded (a signed integer) or plain (a length or a size).
    zigzag: bool,
    /// For a list: the offset of its size-and-type byte (a short size must become `0xF_`).
    list_header: Option<usize>,
}

/// The length of the varint at `at`, if one ends within 10 bytes.
fn varint_len(data: &[u8], at: usize) -> Option<usize> {
    (0..10).find_map(|i| match data.get(at + i) {
        Some(b) if b & 0x80 == 0 => Some(Some(i + 1)),
        Some(_) => None,
        None => Some(None),
    })?
}

/// The varint encoding of `v`.
fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = u8::try_from(v & 0x7F).unwrap_or(0);
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// The zigzag encoding of `v`.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The varint fields that follow a short-form field header in `data[lo..hi]`.
fn candidates(data: &[u8], lo: usize, hi: usize) -> Vec<Candidate> {
    let mut found = Vec::new();
    for p in lo..hi {
        let Some(&b) = data.get(p) else { break };
        let (delta, kind) = (b >> 4, b & 0x0F);
        if delta == 0 {
            continue;
        }
        let c = match kind {
            I16 | I32 | I64 | BINARY => varint_len(data, p + 1).map(|len| Candidate {
                at: p + 1,
                len,
                zigzag: kind != BINARY,
                list_header: None,
            }),
            LIST => {
                let n = data.get(p + 1).copied().unwrap_or(0);
                if n >> 4 == 0xF {
                    varint_len(data, p + 2).map(|len| Candidate {
                        at: p + 2,
                        len,
                        zigzag: false,
                        list_header: None,
                    })
                } else {
                    Some(Candidate {
                        at: p + 2,
                        len: 0,
                        zigzag: false,
                        list_header: Some(p + 1),
                    })
                }
            }
            _ => None,
        };
        found.extend(c.filter(|c| c.at + c.len <= hi));
    }
    found
}

/// Replaces one Thrift varint of a Parquet file with a lie; `None` if there is none to find.
pub(super) fn lie(data: &mut Vec<u8>, rng: &mut Rng) -> Option<String> {
    if !data.ends_with(b"PAR1") || data.len() < 12 {
        return None;
    }
    let len_at = data.len() - 8;
    let footer_len = usize::try_from(u32::from_le_bytes(
        data.get(len_at..len_at + 4)?.try_into().ok()?,
    ))
    .ok()?;
    let footer_start = len_at.checked_sub(footer_len)?;
    // The footer (pure Thrift), or the pages, whose headers are Thrift too (the sizes of
    // the page that follows).
    let in_footer = rng.percent(50);
    let (lo, hi) = if in_footer {
        (footer_start, len_at)
    } else {
        (4, footer_start)
    };
    let found = candidates(data, lo, hi);
    let c = *rng.pick(&found)?;
    let file_len = data.len() as i64;
    let signed = [
        -1,
        i64::from(i32::MIN),
        i64::from(i32::MAX),
        i64::MAX,
        i64::MIN,
        file_len,
        file_len + 1,
        file_len * 2,
        1 << 31,
        1 << 40,
        0,
    ];
    let value = *rng.pick(&signed)?;
    let mut encoded = if c.zigzag {
        varint(zigzag(value))
    } else {
        varint(value as u64)
    };
    if let Some(b) = c.list_header.and_then(|h| data.get_mut(h)) {
        *b |= 0xF0;
    }
    if encoded.len() < c.len {
        // Pad with continuation bytes so nothing after the lie moves (page offsets stay true).
        let last = encoded.len() - 1;
        if let Some(b) = encoded.get_mut(last) {
            *b |= 0x80;
        }
        encoded.resize(c.len - 1, 0x80);
        encoded.push(0);
    }
    let grown = encoded.len() as i64 - c.len as i64;
    data.splice(c.at..c.at + c.len, encoded);
    if in_footer {
        let new_len = u64::try_from(footer_len as i64 + grown).unwrap_or(0);
        let at = data.len() - 8;
        put_word(data, at, 4, new_len);
    }
    let what = match (c.zigzag, c.list_header.is_some() || c.len == 0) {
        (true, _) => "integer",
        (false, true) => "list size",
        (false, false) => "length or list size",
    };
    let place = if in_footer { "footer" } else { "page header" };
    Some(format!(
        "Thrift {what} at {:#x} in the {place} = {value}",
        c.at
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(varint(1), vec![1]);
        assert_eq!(varint(300), vec![0xAC, 0x02]);
        assert_eq!(varint_len(&[0xAC, 0x02], 0), Some(2));
        assert_eq!(varint_len(&[0xAC], 0), None);
        assert_eq!(varint_len(&[0x81, 0x80, 0x00], 0), Some(3));
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn lies_in_a_footer_and_keeps_its_length_true() {
        // A footer of one struct: field 1 i32 = 150 (zigzag 300), then stop.
        let footer = [0x15, 0xAC, 0x02, 0x00];
        let mut data = b"PAR1".to_vec();
        data.extend_from_slice(&footer);
        data.extend_from_slice(&4u32.to_le_bytes());
        data.extend_from_slice(b"PAR1");
        for case in 0..20 {
            let mut d = data.clone();
            if lie(&mut d, &mut Rng::for_case(9, case)).is_some() {
                let n = d.len();
                let declared = u32::from_le_bytes(d[n - 8..n - 4].try_into().expect("4 bytes"));
                assert_eq!(declared as usize, n - 12);
            }
        }
    }
}
