//! The uncompressed layout of a list of texts: `count u64 | len u32 x count | UTF-8 bytes`.
//!
//! A length table up front (rather than JSON) makes decoding a single pass of UTF-8 checks and
//! copies, with no escaping, and lets the decoder verify every length before allocating.

/// Encodes `texts`; `None` when a text is longer than `u32::MAX` bytes.
pub(crate) fn encode<S: AsRef<str>>(texts: &[S]) -> Option<Vec<u8>> {
    let body: usize = texts.iter().map(|t| t.as_ref().len()).sum();
    let mut out = Vec::with_capacity(8 + 4 * texts.len() + body);
    out.extend_from_slice(&(texts.len() as u64).to_le_bytes());
    for t in texts {
        out.extend_from_slice(&u32::try_from(t.as_ref().len()).ok()?.to_le_bytes());
    }
    for t in texts {
        out.extend_from_slice(t.as_ref().as_bytes());
    }
    Some(out)
}

/// Decodes what [`encode`] wrote; `None` on any inconsistency (bad lengths, bad UTF-8).
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<String>> {
    let (count, rest) = bytes.split_first_chunk::<8>()?;
    let count = usize::try_from(u64::from_le_bytes(*count)).ok()?;
    // The table alone must fit in what is there: bounds the allocation below by the input.
    let table_len = count.checked_mul(4)?;
    if table_len > rest.len() {
        return None;
    }
    let (table, mut body) = rest.split_at(table_len);
    let mut out = Vec::with_capacity(count);
    for len in table.chunks_exact(4) {
        let len = usize::try_from(u32::from_le_bytes([len[0], len[1], len[2], len[3]])).ok()?;
        let (text, tail) = body.split_at_checked(len)?;
        out.push(std::str::from_utf8(text).ok()?.to_owned());
        body = tail;
    }
    body.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_and_bad_inputs() {
        let none: [&str; 0] = [];
        assert_eq!(decode(&encode(&none).unwrap_or_default()), Some(vec![]));
        assert_eq!(decode(&[]), None);
        let mut b = encode(&["ab", "c"]).unwrap_or_default();
        assert_eq!(decode(&b), Some(vec!["ab".to_owned(), "c".to_owned()]));
        b.push(0);
        assert_eq!(decode(&b), None, "trailing byte");
        let huge = u64::MAX.to_le_bytes();
        assert_eq!(decode(&huge), None);
        let bad_utf8 = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0xff];
        assert_eq!(decode(&bad_utf8), None);
    }

    proptest! {
        #[test]
        fn round_trips(texts in proptest::collection::vec(".{0,40}", 0..30)) {
            let bytes = encode(&texts).expect("short texts");
            prop_assert_eq!(decode(&bytes), Some(texts));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
