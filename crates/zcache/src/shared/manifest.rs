//! The head of a chunked value: which chunks make up one version of a frame.
//!
//! ```text
//! 0  magic "\x89ZCHUNK\n"      32 version id u64 (names the chunk keys)
//! 8  format version u8 (1)     40 xxh3-64 of the whole frame u64
//! 9  reserved [u8; 3]          48 xxh3-128 of the cache key u128
//! 12 chunk count u32           64 crc32 of bytes 0..64 u32
//! 16 frame length u64          68 reserved u32
//! 24 chunk length u64 (all but the last)
//! ```
//! A small value is stored as its frame alone under the head key (it starts with the disk
//! entry magic); a large one as this manifest under the head key and the chunks under
//! `HEAD:<version id in hex>:<n>`. The chunks are written before the head in one transaction,
//! so a reader that finds a head finds its chunks, unless Redis evicted or a later write
//! replaced them: then a chunk is missing and the read is a miss.

#![cfg_attr(not(feature = "redis"), allow(dead_code))]

use crate::disk::format::{u32_at, u64_at};

pub(crate) const MAGIC: [u8; 8] = *b"\x89ZCHUNK\n";
const VERSION: u8 = 1;
pub(crate) const LEN: usize = 72;
/// Most chunks a value may have (64 GiB at the smallest chunk size: never the binding limit).
const MAX_CHUNKS: u64 = 1 << 24;

/// A decoded manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub chunks: u32,
    pub frame_len: u64,
    pub chunk_len: u64,
    pub version: u64,
    pub frame_hash: u64,
    pub key_hash: u128,
}

impl Manifest {
    /// The manifest of `frame` cut into chunks of `chunk_len` bytes (`chunk_len` > 0).
    pub(crate) fn for_frame(frame: &[u8], chunk_len: u64, version: u64, key_hash: u128) -> Self {
        let chunk_len = chunk_len.max(1);
        Self {
            chunks: u32::try_from((frame.len() as u64).div_ceil(chunk_len)).unwrap_or(u32::MAX),
            frame_len: frame.len() as u64,
            chunk_len,
            version,
            frame_hash: xxhash_rust::xxh3::xxh3_64(frame),
            key_hash,
        }
    }

    pub(crate) fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8] = VERSION;
        out[12..16].copy_from_slice(&self.chunks.to_le_bytes());
        out[16..24].copy_from_slice(&self.frame_len.to_le_bytes());
        out[24..32].copy_from_slice(&self.chunk_len.to_le_bytes());
        out[32..40].copy_from_slice(&self.version.to_le_bytes());
        out[40..48].copy_from_slice(&self.frame_hash.to_le_bytes());
        out[48..64].copy_from_slice(&self.key_hash.to_le_bytes());
        let crc = crc32fast::hash(&out[..64]);
        out[64..68].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and checks a manifest; `max_frame` bounds the declared frame length, checked
    /// here before anyone allocates from it. `Err` names what is wrong.
    pub(crate) fn decode(b: &[u8], max_frame: u64) -> Result<Self, ManifestError> {
        if b.len() != LEN || b[..8] != MAGIC {
            return Err(ManifestError::Corrupt("bad chunk header length or magic"));
        }
        if crc32fast::hash(&b[..64]) != u32_at(b, 64) || u32_at(b, 68) != 0 {
            return Err(ManifestError::Corrupt("chunk header checksum mismatch"));
        }
        if b[8] != VERSION || b[9..12] != [0, 0, 0] {
            return Err(ManifestError::Corrupt("unsupported chunk header version"));
        }
        let key_hash = b[48..64]
            .try_into()
            .map(u128::from_le_bytes)
            .map_err(|_| ManifestError::Corrupt("short chunk header"))?;
        let m = Self {
            chunks: u32_at(b, 12),
            frame_len: u64_at(b, 16),
            chunk_len: u64_at(b, 24),
            version: u64_at(b, 32),
            frame_hash: u64_at(b, 40),
            key_hash,
        };
        if m.frame_len > max_frame {
            return Err(ManifestError::TooLarge);
        }
        if m.chunk_len == 0
            || m.frame_len == 0
            || u64::from(m.chunks) > MAX_CHUNKS
            || m.frame_len.div_ceil(m.chunk_len) != u64::from(m.chunks)
        {
            return Err(ManifestError::Corrupt("inconsistent chunk lengths"));
        }
        Ok(m)
    }

    /// Bytes of chunk `i` (the last one may be shorter).
    pub(crate) fn chunk_size(&self, i: u32) -> u64 {
        let start = u64::from(i) * self.chunk_len;
        self.chunk_len.min(self.frame_len.saturating_sub(start))
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManifestError {
    Corrupt(&'static str),
    /// Well-formed, but the frame is larger than this cache reads.
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_detects_every_flip() {
        let frame = vec![7u8; 10_000];
        let m = Manifest::for_frame(&frame, 4096, 0xABCD, 42);
        assert_eq!(m.chunks, 3);
        assert_eq!(
            (m.chunk_size(0), m.chunk_size(2)),
            (4096, 10_000 - 2 * 4096)
        );
        let bytes = m.encode();
        assert_eq!(Manifest::decode(&bytes, 1 << 20), Ok(m));
        assert_eq!(
            Manifest::decode(&bytes, 9_999),
            Err(ManifestError::TooLarge)
        );
        for i in 0..LEN {
            let mut b = bytes;
            b[i] ^= 0x10;
            assert!(
                Manifest::decode(&b, 1 << 20).is_err(),
                "flip at {i} undetected"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..80)) {
            let mut b = MAGIC.to_vec();
            b.extend_from_slice(&tail);
            let _ = Manifest::decode(&b, 1 << 30);
        }
    }
}
