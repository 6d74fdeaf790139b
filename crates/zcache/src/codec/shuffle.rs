//! Blosc-style byte shuffle: the k-th byte of every element goes to plane k, so the
//! sign/exponent bytes of numbers sit together and compress, while the noisy low mantissa bytes
//! are stored raw instead of wasting time in an entropy coder.
//!
//! Payload layout (little endian):
//! `version u8 | width u8 | inner tag u8 | 0 u8 | block_elems u32 | n_elems u64`, then for each
//! block and each plane `mode u8 (0 raw, 1 inner) | len u32 | bytes`, then `tail_len u32 | tail`
//! (the `len % width` trailing bytes). Blocks are independent, so both directions run them in
//! parallel on rayon's pool.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::codec::{CodecTag, InnerCodec, compress_block, decompress_block_into};
use crate::error::CacheError;

const VERSION: u8 = 1;
const HEADER: usize = 16;
/// Bytes per block: large enough for the entropy coder's tables to pay off, small enough that a
/// block's planes stay in L2 cache while (un)shuffling.
const BLOCK_BYTES: usize = 256 * 1024;
/// A plane is kept compressed only when it saves at least this fraction (1/32, about 3 %);
/// otherwise decoding it would cost time for next to nothing.
const KEEP_SHIFT: u32 = 5;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn inner_tag(inner: InnerCodec) -> u8 {
    match inner {
        InnerCodec::None => CodecTag::None as u8,
        InnerCodec::Lz4 => CodecTag::Lz4 as u8,
        InnerCodec::Gzip(_) => CodecTag::Gzip as u8,
        InnerCodec::Zstd(_) => CodecTag::Zstd as u8,
    }
}

fn inner_from_tag(tag: u8) -> Result<InnerCodec, CacheError> {
    // The level does not matter for decoding.
    Ok(match CodecTag::try_from(tag)? {
        CodecTag::None => InnerCodec::None,
        CodecTag::Lz4 => InnerCodec::Lz4,
        CodecTag::Gzip => InnerCodec::Gzip(6),
        CodecTag::Zstd => InnerCodec::Zstd(1),
        CodecTag::Shuffle => {
            return Err(CacheError::Corrupt(
                "nested shuffle in a shuffle payload".into(),
            ));
        }
    })
}

/// Splits `input` (`width`-byte elements) into `width` planes laid end to end in `planes`.
pub(crate) fn shuffle_into(width: usize, input: &[u8], planes: &mut [u8]) {
    let n = input.len() / width;
    match width {
        4 => {
            let (p0, rest) = planes.split_at_mut(n);
            let (p1, rest) = rest.split_at_mut(n);
            let (p2, p3) = rest.split_at_mut(n);
            for ((((e, a), b), c), d) in input.chunks_exact(4).zip(p0).zip(p1).zip(p2).zip(p3) {
                *a = e[0];
                *b = e[1];
                *c = e[2];
                *d = e[3];
            }
        }
        _ => {
            for (i, e) in input.chunks_exact(width).enumerate() {
                for (k, byte) in e.iter().enumerate() {
                    if let Some(slot) = planes.get_mut(k * n + i) {
                        *slot = *byte;
                    }
                }
            }
        }
    }
}

/// The inverse of [`shuffle_into`]: interleaves `width` planes of equal length into `out`.
pub(crate) fn unshuffle_into(planes: &[&[u8]], out: &mut [u8]) {
    match planes {
        [p0, p1, p2, p3] => {
            for ((((o, a), b), c), d) in out.chunks_exact_mut(4).zip(*p0).zip(*p1).zip(*p2).zip(*p3)
            {
                o.copy_from_slice(&[*a, *b, *c, *d]);
            }
        }
        [p0, p1] => {
            for ((o, a), b) in out.chunks_exact_mut(2).zip(*p0).zip(*p1) {
                o.copy_from_slice(&[*a, *b]);
            }
        }
        _ => {
            let width = planes.len();
            for (i, o) in out.chunks_exact_mut(width.max(1)).enumerate() {
                for (slot, plane) in o.iter_mut().zip(planes) {
                    if let Some(b) = plane.get(i) {
                        *slot = *b;
                    }
                }
            }
        }
    }
}

fn compress_one_block(
    width: usize,
    inner: InnerCodec,
    block: &[u8],
) -> Result<Vec<u8>, CacheError> {
    SCRATCH.with(|cell| {
        let mut planes = cell.borrow_mut();
        planes.clear();
        planes.resize(block.len(), 0);
        shuffle_into(width, block, &mut planes);
        let plane_len = block.len() / width;
        let mut out = Vec::with_capacity(block.len() + width * 5);
        for plane in planes.chunks_exact(plane_len.max(1)).take(width) {
            let packed = match inner {
                InnerCodec::None => None,
                _ => {
                    let c = compress_block(inner, plane)?;
                    (c.len() < plane.len() - (plane.len() >> KEEP_SHIFT)).then_some(c)
                }
            };
            let (mode, bytes): (u8, &[u8]) = match &packed {
                Some(c) => (1, c),
                None => (0, plane),
            };
            out.push(mode);
            out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        Ok(out)
    })
}

/// Shuffles and compresses `data` as `width`-byte elements.
pub(crate) fn compress(width: u8, inner: InnerCodec, data: &[u8]) -> Result<Vec<u8>, CacheError> {
    let w = usize::from(width);
    if !matches!(w, 2 | 4 | 8) {
        return Err(CacheError::InvalidConfig(format!(
            "shuffle width {width} is not 2, 4 or 8"
        )));
    }
    let n_elems = data.len() / w;
    let block_elems = BLOCK_BYTES / w;
    let body = &data[..n_elems * w];
    let tail = &data[n_elems * w..];
    // One block (a single embedding, a small array): stay on this thread, since handing work
    // to rayon's pool costs more than compressing it.
    let blocks: Vec<Vec<u8>> = if body.len() <= block_elems * w {
        body.chunks(block_elems * w)
            .map(|block| compress_one_block(w, inner, block))
            .collect::<Result<_, _>>()?
    } else {
        body.par_chunks(block_elems * w)
            .map(|block| compress_one_block(w, inner, block))
            .collect::<Result<_, _>>()?
    };
    let total: usize = blocks.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(HEADER + total + 4 + tail.len());
    out.extend_from_slice(&[VERSION, width, inner_tag(inner), 0]);
    out.extend_from_slice(&u32::try_from(block_elems).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&(n_elems as u64).to_le_bytes());
    for b in &blocks {
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&u32::try_from(tail.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(tail);
    Ok(out)
}

fn corrupt(what: impl Into<String>) -> CacheError {
    CacheError::Corrupt(format!("shuffle payload: {}", what.into()))
}

/// A little cursor that fails instead of panicking.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CacheError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| corrupt("length overflow"))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| corrupt("truncated"))?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, CacheError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u32(&mut self) -> Result<u32, CacheError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(
            b.try_into().map_err(|_| corrupt("truncated"))?,
        ))
    }
    fn u64(&mut self) -> Result<u64, CacheError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(
            b.try_into().map_err(|_| corrupt("truncated"))?,
        ))
    }
}

/// Decodes a shuffle payload into exactly `out.len()` bytes.
pub(crate) fn decompress_into(payload: &[u8], out: &mut [u8]) -> Result<(), CacheError> {
    let mut cur = Cursor {
        bytes: payload,
        pos: 0,
    };
    if cur.u8()? != VERSION {
        return Err(corrupt("unknown version"));
    }
    let w = usize::from(cur.u8()?);
    if !matches!(w, 2 | 4 | 8) {
        return Err(corrupt(format!("bad width {w}")));
    }
    let inner = inner_from_tag(cur.u8()?)?;
    let _reserved = cur.u8()?;
    let block_elems = cur.u32()? as usize;
    let n_elems = usize::try_from(cur.u64()?).map_err(|_| corrupt("element count overflow"))?;
    let body_len = n_elems
        .checked_mul(w)
        .filter(|&b| b <= out.len())
        .ok_or_else(|| corrupt("element count above the declared length"))?;
    if block_elems == 0 || (n_elems > 0 && block_elems > BLOCK_BYTES.max(n_elems)) {
        return Err(corrupt(format!("bad block size {block_elems}")));
    }
    let n_blocks = n_elems.div_ceil(block_elems);
    // Every segment needs at least 5 bytes, so this bounds the table by the payload's size.
    if n_blocks.saturating_mul(w).saturating_mul(5) > payload.len() {
        return Err(corrupt("more blocks than the payload can hold"));
    }
    let mut segments: Vec<(u8, &[u8])> = Vec::with_capacity(n_blocks * w);
    for _ in 0..n_blocks * w {
        let mode = cur.u8()?;
        if mode > 1 {
            return Err(corrupt(format!("bad plane mode {mode}")));
        }
        let len = cur.u32()? as usize;
        segments.push((mode, cur.take(len)?));
    }
    let tail_len = cur.u32()? as usize;
    let tail = cur.take(tail_len)?;
    if cur.pos != payload.len() || body_len + tail_len != out.len() {
        return Err(corrupt("lengths do not add up"));
    }
    let (body, out_tail) = out.split_at_mut(body_len);
    out_tail.copy_from_slice(tail);
    if n_blocks <= 1 {
        return body
            .chunks_mut(block_elems * w)
            .zip(segments.chunks(w))
            .try_for_each(|(block, segs)| decode_block(w, inner, segs, block));
    }
    body.par_chunks_mut(block_elems * w)
        .zip(segments.par_chunks(w))
        .try_for_each(|(block, segs)| decode_block(w, inner, segs, block))
}

fn decode_block(
    w: usize,
    inner: InnerCodec,
    segs: &[(u8, &[u8])],
    block: &mut [u8],
) -> Result<(), CacheError> {
    let plane_len = block.len() / w;
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        scratch.clear();
        scratch.resize(block.len(), 0);
        let mut planes: Vec<&[u8]> = Vec::with_capacity(w);
        for ((mode, bytes), room) in segs.iter().zip(scratch.chunks_exact_mut(plane_len.max(1))) {
            if *mode == 0 {
                if bytes.len() != plane_len {
                    return Err(corrupt("raw plane of the wrong length"));
                }
                planes.push(bytes);
            } else {
                decompress_block_into(inner, bytes, room)?;
                planes.push(room);
            }
        }
        if planes.len() != w && plane_len > 0 {
            return Err(corrupt("missing planes"));
        }
        unshuffle_into(&planes, block);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn floats_compress_and_round_trip() {
        let data: Vec<f32> = (0..100_000)
            .map(|i| ((i as f32) * 0.001).sin() * 0.05)
            .collect();
        let bytes: &[u8] = bytemuck::cast_slice(&data);
        let packed = compress(4, InnerCodec::Zstd(1), bytes).unwrap();
        assert!(
            packed.len() < bytes.len() * 9 / 10,
            "{} vs {}",
            packed.len(),
            bytes.len()
        );
        let mut out = vec![0u8; bytes.len()];
        decompress_into(&packed, &mut out).unwrap();
        assert_eq!(out, bytes);
    }

    proptest! {
        #[test]
        fn shuffle_unshuffle_is_identity(w in prop_oneof![Just(2usize), Just(4), Just(8)], n in 0usize..200, seed: u8) {
            let data: Vec<u8> = (0..n * w).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let mut planes = vec![0u8; data.len()];
            shuffle_into(w, &data, &mut planes);
            let refs: Vec<&[u8]> = planes.chunks_exact(n.max(1)).take(w).collect();
            let mut back = vec![0u8; data.len()];
            if n > 0 { unshuffle_into(&refs, &mut back); }
            prop_assert_eq!(back, data);
        }
    }
}
