//! LZ4-compressed record batches decompressed straight into one plain body.
//!
//! arrow-rs decompresses an LZ4 buffer through a streaming frame decoder that zero-fills a
//! block-sized scratch buffer for every buffer and then copies the output out of it; on a
//! Feather file of small batches that is a third of the reader's time. Here each frame's blocks
//! are decompressed in place into their final position of one body allocated at once, and the
//! batch's metadata is rewritten to describe the uncompressed body, which arrow-rs then decodes
//! zero-copy. Frames with features this path does not read (dictionary ids, checksums,
//! concatenated frames) are left to arrow-rs, which reads them all.

use std::path::Path;

use arrow::buffer::Buffer;
use arrow::ipc::{CompressionType, FieldNode, RecordBatch as IpcBatch, RecordBatchBuilder};

use super::message::PREFIX;
use crate::error::{Result, StreamError};

/// `04 22 4D 18`: an LZ4 frame.
const FRAME_MAGIC: u32 = 0x184D_2204;
/// The prefix of a buffer stored uncompressed.
const STORED: i64 = -1;
/// How far back a linked block's matches reach.
const WINDOW: usize = 64 * 1024;

/// A record batch's metadata and body, without compression.
pub(super) struct Plain {
    /// The rewritten `RecordBatch` flatbuffer.
    pub(super) meta: Vec<u8>,
    pub(super) body: Buffer,
}

impl Plain {
    /// The rewritten batch header.
    pub(super) fn batch(&self) -> Option<IpcBatch<'_>> {
        flatbuffers::root::<IpcBatch<'_>>(&self.meta).ok()
    }
}

/// Why a frame is not read here.
enum Skip {
    /// A feature this decoder leaves to arrow-rs.
    Unsupported,
    /// Corrupt data, with what is wrong.
    Corrupt(String),
}

/// Decompresses the batch `rb` (its buffers already checked to lie in `body`) when its buffers
/// are LZ4 frames this module reads; `Ok(None)` leaves the batch to arrow-rs. `decoded` is the
/// uncompressed size the caller checked against the budget.
pub(super) fn decompress(
    path: &Path,
    index: usize,
    rb: &IpcBatch<'_>,
    body: &[u8],
    decoded: u64,
) -> Result<Option<Plain>> {
    let Some(compression) = rb.compression() else {
        return Ok(None);
    };
    if compression.codec() != CompressionType::LZ4_FRAME {
        return Ok(None);
    }
    let buffers: Vec<arrow::ipc::Buffer> = rb.buffers().into_iter().flatten().copied().collect();
    // Every buffer starts 8-byte aligned, as a writer lays them out.
    let padding = (buffers.len() as u64).saturating_mul(7);
    let Ok(size) = usize::try_from(decoded.saturating_add(padding)) else {
        return Ok(None);
    };
    let mut out = vec![0u8; size];
    let mut placed = Vec::with_capacity(buffers.len());
    let mut pos = 0usize;
    for (i, b) in buffers.iter().enumerate() {
        let corrupt = |m: String| {
            StreamError::malformed(
                path,
                None,
                format!("Arrow IPC record batch {index}: LZ4 buffer {i} {m}"),
            )
        };
        // The caller checked that every buffer lies in the body.
        let (Ok(offset), Ok(len)) = (usize::try_from(b.offset()), usize::try_from(b.length()))
        else {
            return Ok(None);
        };
        let bytes = body
            .get(offset..offset.saturating_add(len))
            .unwrap_or_default();
        if bytes.is_empty() {
            placed.push(arrow::ipc::Buffer::new(0, 0));
            continue;
        }
        let (prefix, data) = bytes
            .split_at_checked(PREFIX)
            .ok_or_else(|| corrupt(format!("is {} bytes, shorter than its prefix", bytes.len())))?;
        let prefix = i64::from_le_bytes(prefix.try_into().unwrap_or_default());
        let n = if prefix == STORED {
            data.len()
        } else {
            usize::try_from(prefix)
                .map_err(|_| corrupt(format!("claims a decompressed length of {prefix}")))?
        };
        let end = pos
            .checked_add(n)
            .filter(|&e| e <= out.len())
            .ok_or_else(|| corrupt("decompresses past its batch's stated size".to_owned()))?;
        let target = out.get_mut(pos..end).unwrap_or_default();
        if prefix == STORED {
            target.copy_from_slice(data);
        } else {
            match frame_into(data, &mut out, pos, end) {
                Ok(()) => {}
                Err(Skip::Unsupported) => return Ok(None),
                Err(Skip::Corrupt(m)) => return Err(corrupt(m)),
            }
        }
        placed.push(arrow::ipc::Buffer::new(pos as i64, n as i64));
        pos = end.next_multiple_of(8).min(out.len());
    }
    out.truncate(pos);
    Ok(Some(Plain {
        meta: rewrite(rb, &placed),
        body: Buffer::from_vec(out),
    }))
}

/// The batch header of `rb` with `buffers` in place of its own and no compression.
fn rewrite(rb: &IpcBatch<'_>, buffers: &[arrow::ipc::Buffer]) -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let nodes: Vec<FieldNode> = rb.nodes().into_iter().flatten().copied().collect();
    let nodes = fbb.create_vector(&nodes);
    let buffers = fbb.create_vector(buffers);
    let variadic = rb
        .variadicBufferCounts()
        .map(|v| v.iter().collect::<Vec<i64>>())
        .map(|v| fbb.create_vector(&v));
    let mut b = RecordBatchBuilder::new(&mut fbb);
    b.add_length(rb.length());
    b.add_nodes(nodes);
    b.add_buffers(buffers);
    if let Some(v) = variadic {
        b.add_variadicBufferCounts(v);
    }
    let root = b.finish();
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

/// Decompresses the one LZ4 frame `data` into `out[start..end]`, which it must fill exactly.
fn frame_into(data: &[u8], out: &mut [u8], start: usize, end: usize) -> Result<(), Skip> {
    let bad = |m: &str| Skip::Corrupt(m.to_owned());
    let magic = data
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .map(u32::from_le_bytes);
    if magic != Some(FRAME_MAGIC) {
        return Err(Skip::Unsupported);
    }
    let (&flg, &bd) = data
        .get(4)
        .zip(data.get(5))
        .ok_or_else(|| bad("has a truncated frame header"))?;
    // Version 01, no block or content checksum, no dictionary id, reserved bits clear.
    if flg >> 6 != 1 || flg & 0b0001_0111 != 0 || bd & 0b1000_1111 != 0 {
        return Err(Skip::Unsupported);
    }
    let linked = flg & 0x20 == 0;
    let max_block = match (bd >> 4) & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return Err(bad("names an unknown block size")),
    };
    // Magic, FLG, BD, the content size when present, the header checksum.
    let mut at = 6 + if flg & 0x08 != 0 { 8 } else { 0 } + 1;
    let mut pos = start;
    loop {
        let word = data
            .get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| bad("ends inside its frame"))?;
        at += 4;
        if word == 0 {
            break;
        }
        let stored = word & 0x8000_0000 != 0;
        let len = (word & 0x7FFF_FFFF) as usize;
        if len > max_block {
            return Err(bad("holds a block larger than its frame's block size"));
        }
        let block = data
            .get(at..at + len)
            .ok_or_else(|| bad("ends inside a block"))?;
        at += len;
        let room = end - pos;
        let written = if stored {
            let dst = out
                .get_mut(pos..end)
                .and_then(|room| room.get_mut(..len))
                .ok_or_else(|| bad("decompresses to more bytes than its prefix says"))?;
            dst.copy_from_slice(block);
            len
        } else {
            let (head, tail) = out.split_at_mut(pos);
            let dst = tail.get_mut(..room.min(max_block)).unwrap_or_default();
            let result = if linked && pos > start {
                let dict = head
                    .get(pos.saturating_sub(WINDOW).max(start)..)
                    .unwrap_or_default();
                lz4_flex::block::decompress_into_with_dict(block, dst, dict)
            } else {
                lz4_flex::block::decompress_into(block, dst)
            };
            result.map_err(|e| Skip::Corrupt(format!("is corrupt: {e}")))?
        };
        pos += written;
    }
    if at != data.len() {
        // Another frame follows: arrow-rs reads concatenated frames.
        return Err(Skip::Unsupported);
    }
    if pos != end {
        return Err(Skip::Corrupt(format!(
            "decompresses to {} bytes, not the {} its prefix says",
            pos - start,
            end - start
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn frame(data: &[u8], info: lz4_flex::frame::FrameInfo) -> Vec<u8> {
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn sample(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| ((i * 7919) % 251) as u8 ^ (i / 3000) as u8)
            .collect()
    }

    fn decode(data: &[u8], n: usize) -> Result<Vec<u8>, Skip> {
        let mut out = vec![0u8; n + 5];
        frame_into(data, &mut out, 5, 5 + n)?;
        Ok(out[5..].to_vec())
    }

    #[test]
    fn reads_independent_and_linked_frames_of_every_block_size() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        for n in [0, 1, 100, 70_000, 300_000] {
            let data = sample(n);
            for mode in [BlockMode::Independent, BlockMode::Linked] {
                for size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max1MB] {
                    for content_size in [None, Some(n as u64)] {
                        let mut info = FrameInfo::new().block_mode(mode).block_size(size);
                        info.content_size = content_size;
                        let f = frame(&data, info);
                        let got = decode(&f, n).unwrap_or_else(|_| panic!("{n} {mode:?} {size:?}"));
                        assert_eq!(got, data, "{n} bytes, {mode:?}, {size:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn leaves_checksummed_frames_to_arrow_and_rejects_wrong_lengths() {
        use lz4_flex::frame::FrameInfo;
        let data = sample(5000);
        let f = frame(&data, FrameInfo::new().content_checksum(true));
        assert!(matches!(decode(&f, 5000), Err(Skip::Unsupported)));
        let f = frame(&data, FrameInfo::new());
        assert!(matches!(decode(&f, 4999), Err(Skip::Corrupt(_))));
        // An incompressible block is stored: it must not spill past its buffer either.
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let stored = frame(&noise, FrameInfo::new());
        assert_eq!(decode(&stored, 5000).ok(), Some(noise.clone()));
        let mut out = vec![0u8; 6000];
        assert!(matches!(
            frame_into(&stored, &mut out, 0, 4000),
            Err(Skip::Corrupt(_))
        ));
        assert!(out[4000..].iter().all(|&b| b == 0));
        assert!(matches!(decode(&f, 5001), Err(Skip::Corrupt(_))));
        assert!(matches!(
            decode(&f[..f.len() - 3], 5000),
            Err(Skip::Corrupt(_))
        ));
        let mut twice = f.clone();
        twice.extend_from_slice(&f);
        assert!(matches!(decode(&twice, 5000), Err(Skip::Unsupported)));
    }

    #[test]
    fn mutated_frames_never_panic() {
        let data = sample(200_000);
        let f = frame(&data, lz4_flex::frame::FrameInfo::new());
        for i in (0..f.len()).step_by(97) {
            for bit in [1u8, 0x80] {
                let mut m = f.clone();
                m[i] ^= bit;
                let _ = decode(&m, 200_000);
            }
        }
    }
}
