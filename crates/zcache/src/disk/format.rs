//! The on-disk entry format: a fixed header, the key, the payload.
//!
//! ```text
//! 0  magic "\x89ZCACHE\n"     40 created_ms u64
//! 8  version u8 (1)           48 expires_ms u64 (0 = never)
//! 9  codec tag u8             56 serde type hash u64
//! 10 inner codec tag u8       64 payload xxh3-64 u64
//! 11 shuffle width u8         72 header crc32 u32 (bytes 0..72 and the key)
//! 12 level i32                76 reserved u32
//! 16 kind tag u8, 17 elem u8, 18 reserved u16
//! 20 key_len u32
//! 24 raw_len u64
//! 32 stored_len u64
//! 80 key bytes, then stored_len payload bytes
//! ```
//! Version 2 is the same layout for an entry compressed with a trained dictionary (codec
//! zstd): bytes 76..80 hold the dictionary's id (never 0) instead of the reserved zero, and the
//! header checksum covers them too (bytes 0..72, 76..80, the key). Version 1 entries stay
//! exactly as they were, so older readers keep reading them; an older reader meets a version 2
//! entry as an unsupported version (a miss). A version 2 entry whose dictionary is missing or
//! is not the one its payload names is a miss as well, never wrong bytes (see
//! [`crate::dict`]).
//! All integers little endian. The header checksum makes every length trustworthy before
//! anything is allocated from it; the payload checksum is verified before decoding.

use crate::codec::{codec_from_parts, codec_to_parts};
use crate::entry::{ON_DISK, Stored};
use crate::error::CacheError;
use crate::value::ValueKind;

pub(crate) const MAGIC: [u8; 8] = *b"\x89ZCACHE\n";
pub(crate) const VERSION: u8 = 1;
/// The version of entries that need a trained dictionary.
pub(crate) const VERSION_DICT: u8 = 2;
pub(crate) const HEADER_LEN: usize = 80;
/// Longest key accepted (bytes of UTF-8).
pub(crate) const MAX_KEY_LEN: usize = 64 * 1024;

/// A decoded header with its key.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub kind: ValueKind,
    pub codec: crate::Codec,
    pub key: String,
    pub raw_len: u64,
    pub stored_len: u64,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub payload_hash: u64,
    /// The dictionary the payload needs (0: none; version 2 entries only).
    pub dict: u32,
}

impl Header {
    /// Bytes of the whole file this header describes.
    pub(crate) fn file_len(&self) -> u64 {
        HEADER_LEN as u64 + self.key.len() as u64 + self.stored_len
    }
}

/// Serializes an entry to the bytes of its file.
pub(crate) fn encode_file(key: &str, s: &Stored) -> Vec<u8> {
    let (ctag, itag, width, level) = codec_to_parts(s.codec);
    let (ktag, elem, hash) = s.kind.to_parts();
    let mut out = Vec::with_capacity(HEADER_LEN + key.len() + s.payload.len());
    out.extend_from_slice(&MAGIC);
    let version = if s.dict == 0 { VERSION } else { VERSION_DICT };
    out.extend_from_slice(&[version, ctag, itag, width]);
    out.extend_from_slice(&level.to_le_bytes());
    out.extend_from_slice(&[ktag, elem, 0, 0]);
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&s.raw_len.to_le_bytes());
    out.extend_from_slice(&(s.payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&s.created_ms.to_le_bytes());
    out.extend_from_slice(&s.expires_ms.to_le_bytes());
    out.extend_from_slice(&hash.to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&s.payload).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out);
    if s.dict != 0 {
        crc.update(&s.dict.to_le_bytes());
    }
    crc.update(key.as_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&s.dict.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&s.payload);
    out
}

/// The little-endian `u32` at `at` (0 past the end: callers check lengths first).
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}
/// The little-endian `u64` at `at` (0 past the end: callers check lengths first).
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}
fn byte_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// The key length declared by a fixed header (to know how much more to read).
pub(crate) fn declared_key_len(fixed: &[u8]) -> Result<usize, CacheError> {
    if fixed.len() < HEADER_LEN || fixed.get(..8) != Some(&MAGIC[..]) {
        return Err(CacheError::Corrupt("bad magic or short header".into()));
    }
    let n = u32_at(fixed, 20) as usize;
    if n > MAX_KEY_LEN {
        return Err(CacheError::Corrupt(format!(
            "key length {n} above the maximum"
        )));
    }
    Ok(n)
}

/// Parses and checks the header at the start of `bytes` (which must hold the key too).
/// `max_raw` bounds the declared raw length: anything above is refused before any allocation,
/// with [`CacheError::EntryTooLarge`] (every other refusal is [`CacheError::Corrupt`]).
pub(crate) fn decode_header(bytes: &[u8], max_raw: u64) -> Result<Header, CacheError> {
    let key_len = declared_key_len(bytes)?;
    let version = byte_at(bytes, 8);
    if version != VERSION && version != VERSION_DICT {
        return Err(CacheError::Corrupt(format!(
            "unsupported format version {}",
            byte_at(bytes, 8)
        )));
    }
    let key_bytes = bytes
        .get(HEADER_LEN..HEADER_LEN + key_len)
        .ok_or_else(|| CacheError::Corrupt("truncated key".into()))?;
    let fixed = bytes
        .get(..72)
        .ok_or_else(|| CacheError::Corrupt("short header".into()))?;
    let dict = u32_at(bytes, 76);
    let mut crc = crc32fast::Hasher::new();
    crc.update(fixed);
    if version == VERSION_DICT {
        crc.update(&dict.to_le_bytes());
    }
    crc.update(key_bytes);
    if crc.finalize() != u32_at(bytes, 72) || (version == VERSION) != (dict == 0) {
        return Err(CacheError::Corrupt("header checksum mismatch".into()));
    }
    let level = i32::from_le_bytes(u32_at(bytes, 12).to_le_bytes());
    let codec = codec_from_parts(
        byte_at(bytes, 9),
        byte_at(bytes, 10),
        byte_at(bytes, 11),
        level,
    )?;
    let kind = ValueKind::from_parts(byte_at(bytes, 16), byte_at(bytes, 17), u64_at(bytes, 56))?;
    let key = String::from_utf8(key_bytes.to_vec())
        .map_err(|_| CacheError::Corrupt("key is not UTF-8".into()))?;
    let raw_len = u64_at(bytes, 24);
    let stored_len = u64_at(bytes, 32);
    if raw_len > max_raw {
        // A well-formed header (its checksum passed) of an entry larger than this cache reads:
        // not damage, so it is skipped and left for a cache with a larger limit.
        return Err(CacheError::EntryTooLarge {
            key,
            size: raw_len,
            max: max_raw,
        });
    }
    if stored_len > max_stored(max_raw) {
        return Err(CacheError::Corrupt(format!(
            "declared stored length {stored_len} above the maximum"
        )));
    }
    if dict != 0 && !matches!(codec, crate::Codec::Zstd(_)) {
        return Err(CacheError::Corrupt(
            "a dictionary with a codec other than zstd".into(),
        ));
    }
    if codec == crate::Codec::None && stored_len != raw_len {
        return Err(CacheError::Corrupt("raw entry whose lengths differ".into()));
    }
    Ok(Header {
        kind,
        codec,
        key,
        raw_len,
        stored_len,
        created_ms: u64_at(bytes, 40),
        expires_ms: u64_at(bytes, 48),
        payload_hash: u64_at(bytes, 64),
        dict,
    })
}

/// The largest payload a value of `max_raw` bytes can compress to (codec worst cases: lz4
/// n/255+16, zstd n/128+..., shuffle 5 bytes per plane per 256 KiB block).
pub(crate) fn max_stored(max_raw: u64) -> u64 {
    max_raw
        .saturating_add(max_raw / 64)
        .saturating_add(64 * 1024)
}

/// Parses a whole file: header, key, checksum-verified payload. Nothing is decompressed.
pub(crate) fn decode_file(bytes: &[u8], max_raw: u64) -> Result<(Header, Stored), CacheError> {
    let h = decode_header(bytes, max_raw)?;
    if bytes.len() as u64 != h.file_len() {
        return Err(CacheError::Corrupt(format!(
            "file is {} bytes, header says {}",
            bytes.len(),
            h.file_len()
        )));
    }
    let start = HEADER_LEN + h.key.len();
    let payload = bytes
        .get(start..)
        .ok_or_else(|| CacheError::Corrupt("truncated payload".into()))?;
    if xxhash_rust::xxh3::xxh3_64(payload) != h.payload_hash {
        return Err(CacheError::Corrupt("payload checksum mismatch".into()));
    }
    let stored = Stored::new(
        h.kind,
        h.codec,
        h.raw_len,
        h.created_ms,
        h.expires_ms,
        payload.into(),
        h.dict,
        ON_DISK,
    );
    Ok((h, stored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, InnerCodec};
    use crate::value::ElemType;
    use proptest::prelude::*;

    fn sample() -> Stored {
        Stored::new(
            ValueKind::Numeric(ElemType::F32),
            Codec::Shuffle {
                width: 4,
                inner: InnerCodec::Zstd(1),
            },
            12,
            5,
            9,
            vec![1, 2, 3].into(),
            0,
            0,
        )
    }

    fn with_dict() -> Stored {
        Stored::new(
            ValueKind::Text,
            Codec::Zstd(6),
            12,
            5,
            9,
            vec![1, 2, 3].into(),
            0xABCD_1234,
            0,
        )
    }

    #[test]
    fn dictionary_entries_are_version_2_and_name_their_dictionary() {
        let bytes = encode_file("k", &with_dict());
        assert_eq!(bytes[8], VERSION_DICT);
        let (h, s) = decode_file(&bytes, 1 << 20).unwrap();
        assert_eq!((h.dict, s.dict), (0xABCD_1234, 0xABCD_1234));
        // Plain entries are unchanged version 1 files with a zero reserved word.
        let plain = encode_file("k", &sample());
        assert_eq!((plain[8], &plain[76..80]), (VERSION, &[0u8; 4][..]));
        // Changing the dictionary id, or turning a version 2 entry into version 1 (or back),
        // fails the header checksum.
        for (at, value) in [(76, 0u8), (76, 0x35), (79, 0xFF), (8, VERSION)] {
            let mut b = bytes.clone();
            b[at] = value;
            assert!(decode_file(&b, 1 << 20).is_err(), "byte {at} = {value}");
        }
        let mut b = plain.clone();
        b[8] = VERSION_DICT;
        assert!(decode_file(&b, 1 << 20).is_err());
    }

    #[test]
    fn every_single_byte_flip_of_a_dictionary_entry_is_detected() {
        let bytes = encode_file("key", &with_dict());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode_file(&b, 1 << 20).is_err(), "flip at {i} undetected");
        }
    }

    #[test]
    fn file_round_trips() {
        let bytes = encode_file("a/../key", &sample());
        let (h, s) = decode_file(&bytes, 1 << 20).unwrap();
        assert_eq!(h.key, "a/../key");
        assert_eq!(
            (s.raw_len, s.expires_ms, &s.payload[..]),
            (12, 9, &[1u8, 2, 3][..])
        );
        assert_eq!(s.codec, sample().codec);
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        let bytes = encode_file("key", &sample());
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode_file(&b, 1 << 20).is_err(), "flip at {i} undetected");
        }
        for n in 0..bytes.len() {
            assert!(
                decode_file(&bytes[..n], 1 << 20).is_err(),
                "truncation to {n} undetected"
            );
        }
    }

    #[test]
    fn oversized_raw_length_is_refused() {
        let mut s = sample();
        s.raw_len = 1 << 40;
        let bytes = encode_file("k", &s);
        let err = decode_file(&bytes, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("above the maximum"), "{err}");
        assert!(
            matches!(err, CacheError::EntryTooLarge { size, .. } if size == 1 << 40),
            "too large is not damage: {err:?}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode_file(&bytes, 1 << 20);
        }

        #[test]
        fn version_2_garbage_never_panics(tail in proptest::collection::vec(any::<u8>(), 72..300)) {
            let mut bytes = MAGIC.to_vec();
            bytes.push(VERSION_DICT);
            bytes.extend_from_slice(&tail);
            let _ = decode_file(&bytes, 1 << 20);
        }

        #[test]
        fn arbitrary_bytes_behind_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&tail);
            let _ = decode_file(&bytes, 1 << 20);
        }
    }
}
