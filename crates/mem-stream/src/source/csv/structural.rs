//! Finding a CSV block's structural bytes (delimiter, quote, CR, LF) 64 bytes at a time.
//!
//! A window's structural bytes become one bit each of a `u64` mask (on x86_64 with SSE2, four
//! 16-byte compares per set; elsewhere byte by byte), so the tokenizer jumps from field end to
//! field end instead of looking at every byte. Windows are computed lazily, only where the
//! tokenizer asks: a long quoted field, searched with memchr, skips the windows it spans.

/// The structural bytes of one text, found window by window.
pub(super) struct Structural<'a> {
    text: &'a [u8],
    set: [u8; 4],
    /// Start of the window `mask` describes (a multiple of 64), `usize::MAX` before the first.
    base: usize,
    mask: u64,
}

impl<'a> Structural<'a> {
    pub(super) fn new(text: &'a [u8], delimiter: u8, quote: u8) -> Self {
        Self {
            text,
            set: [delimiter, quote, b'\n', b'\r'],
            base: usize::MAX,
            mask: 0,
        }
    }

    /// The position of the first structural byte at or after `i`, or the text's length.
    #[inline]
    pub(super) fn next(&mut self, mut i: usize) -> usize {
        let n = self.text.len();
        loop {
            if i >= n {
                return n;
            }
            let base = i & !63;
            if base != self.base {
                self.base = base;
                self.mask = self.window(base);
            }
            let m = self.mask & (u64::MAX << (i - base));
            if m != 0 {
                return base + m.trailing_zeros() as usize;
            }
            i = base + 64;
        }
    }

    /// The mask of the 64 bytes from `base` (bits past the text's end clear).
    fn window(&self, base: usize) -> u64 {
        let rest = self.text.get(base..).unwrap_or_default();
        match rest.first_chunk::<64>() {
            Some(chunk) => mask64(chunk, self.set),
            None => {
                let mut padded = [0u8; 64];
                if let Some(head) = padded.get_mut(..rest.len()) {
                    head.copy_from_slice(rest);
                }
                let valid = (1u64 << rest.len()) - 1;
                mask64(&padded, self.set) & valid
            }
        }
    }
}

/// One bit per byte of `chunk` that is one of `set`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn mask64(chunk: &[u8; 64], set: [u8; 4]) -> u64 {
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 processor has it.
    unsafe { mask64_sse2(chunk, set) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn mask64_sse2(chunk: &[u8; 64], set: [u8; 4]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let [a, b, c, d] = set.map(|s| _mm_set1_epi8(s as i8));
    let mut mask = 0u64;
    for (k, lane) in chunk.chunks_exact(16).enumerate() {
        let Ok(bytes) = <[u8; 16]>::try_from(lane) else {
            continue;
        };
        let v: __m128i = bytemuck::cast(bytes);
        let hits = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, b)),
            _mm_or_si128(_mm_cmpeq_epi8(v, c), _mm_cmpeq_epi8(v, d)),
        );
        let bits = u64::from(_mm_movemask_epi8(hits) as u16);
        mask |= bits << (16 * k);
    }
    mask
}

/// One bit per byte of `chunk` that is one of `set`.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn mask64(chunk: &[u8; 64], set: [u8; 4]) -> u64 {
    chunk.iter().enumerate().fold(0u64, |mask, (k, c)| {
        mask | (u64::from(set.contains(c)) << k)
    })
}

#[cfg(test)]
mod tests {
    use super::Structural;
    use proptest::prelude::*;

    /// Every structural position, the slow way.
    fn expected(text: &[u8]) -> Vec<usize> {
        text.iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, b',' | b'"' | b'\n' | b'\r'))
            .map(|(i, _)| i)
            .collect()
    }

    fn walk(text: &[u8]) -> Vec<usize> {
        let mut s = Structural::new(text, b',', b'"');
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let p = s.next(i);
            if p >= text.len() {
                return out;
            }
            out.push(p);
            i = p + 1;
        }
    }

    #[test]
    fn finds_every_structural_byte_across_windows() {
        let mut text = vec![b'x'; 200];
        for p in [0, 15, 16, 63, 64, 65, 127, 128, 190, 199] {
            text[p] = b',';
        }
        text[70] = b'\n';
        text[71] = b'\r';
        text[100] = b'"';
        assert_eq!(walk(&text), expected(&text));
        assert_eq!(walk(b""), Vec::<usize>::new());
        // A NUL delimiter does not match the padding of the last window.
        let mut s = Structural::new(b"ab\0c", 0, b'"');
        assert_eq!(s.next(0), 2);
        assert_eq!(s.next(3), 4);
    }

    #[test]
    fn jumps_forward_and_back_within_a_window() {
        let text = b"a,b,c\n\"d\",e";
        let mut s = Structural::new(text, b',', b'"');
        assert_eq!(s.next(7), 8);
        assert_eq!(s.next(0), 1);
        assert_eq!(s.next(100), text.len());
    }

    proptest! {
        #[test]
        fn agrees_with_a_byte_scan(text in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), any::<u8>()], 0..400)) {
            prop_assert_eq!(walk(&text), expected(&text));
        }
    }
}
