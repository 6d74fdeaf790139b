//! Latin-1 (ISO-8859-1) to UTF-8, block by block: every byte is one character, so the splitter
//! cuts the raw bytes (the structural bytes are ASCII either way) and each block is transcoded
//! before it is parsed.

use std::borrow::Cow;

/// `raw` transcoded to UTF-8; borrowed when it is all ASCII.
pub(super) fn to_utf8(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.is_ascii() {
        return Cow::Borrowed(raw);
    }
    let extra = raw.iter().filter(|b| !b.is_ascii()).count();
    let mut out = Vec::with_capacity(raw.len() + extra);
    for &b in raw {
        if b.is_ascii() {
            out.push(b);
        } else {
            // U+0080..U+00FF in two bytes: 110000xx 10xxxxxx.
            out.push(0xC0 | (b >> 6));
            out.push(0x80 | (b & 0x3F));
        }
    }
    Cow::Owned(out)
}

/// How many bytes of `raw` transcode to the first `utf8_len` bytes of its UTF-8 form.
pub(super) fn raw_len(raw: &[u8], utf8_len: usize) -> usize {
    let mut seen = 0;
    for (i, &b) in raw.iter().enumerate() {
        if seen >= utf8_len {
            return i;
        }
        seen += if b.is_ascii() { 1 } else { 2 };
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn transcodes_the_upper_half() {
        assert_eq!(&*to_utf8(b"caf\xE9 \xFF"), "café ÿ".as_bytes());
        assert!(matches!(to_utf8(b"plain"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn every_byte_is_its_code_point(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
            let utf8 = to_utf8(&raw);
            let text = std::str::from_utf8(&utf8).unwrap();
            let expected: String = raw.iter().map(|&b| char::from(b)).collect();
            prop_assert_eq!(text, expected.as_str());
            for cut in 0..=raw.len() {
                let len = to_utf8(&raw[..cut]).len();
                prop_assert_eq!(raw_len(&raw, len), cut);
            }
        }
    }
}
