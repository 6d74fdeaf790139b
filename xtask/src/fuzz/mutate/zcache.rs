//! zcache entry files (`\x89ZCACHE\n`, an 80-byte header, the key, the payload): lying header
//! fields and damaged payloads, re-sealed with a valid header CRC32 and payload xxh3 so they get
//! past the checksums to the code that trusts them.
//!
//! The layout (see `crates/zcache/src/disk/format.rs`): key_len u32 at 20, raw_len u64 at 24,
//! stored_len u64 at 32, payload xxh3-64 at 64, header crc32 (bytes 0..72 and the key) at 72.

use super::{bit_flips, lie, put_word, set_bytes};
use crate::fuzz::rng::Rng;

const MAGIC: &[u8] = b"\x89ZCACHE\n";
const HEADER_LEN: usize = 80;

/// The header fields worth lying in: (offset, width, name).
const FIELDS: [(usize, usize, &str); 9] = [
    (9, 1, "codec tag"),
    (10, 1, "inner codec tag"),
    (11, 1, "shuffle width"),
    (12, 4, "level"),
    (16, 1, "kind tag"),
    (17, 1, "element tag"),
    (20, 4, "key_len"),
    (24, 8, "raw_len"),
    (32, 8, "stored_len"),
];

/// One re-sealed mutation of a zcache entry, or `None` when `data` is not one.
pub(super) fn entry(data: &mut Vec<u8>, rng: &mut Rng) -> Option<String> {
    if !data.starts_with(MAGIC) || data.len() < HEADER_LEN {
        return None;
    }
    let key_len = usize::try_from(u32::from_le_bytes(data.get(20..24)?.try_into().ok()?)).ok()?;
    let payload_at = HEADER_LEN
        .checked_add(key_len)
        .filter(|&p| p <= data.len())?;
    let what = match rng.below(3) {
        0 => {
            let &(at, width, name) = rng.pick(&FIELDS)?;
            let v = if width == 1 {
                u64::from(rng.byte())
            } else {
                lie(rng, data.len(), width)
            };
            put_word(data, at, width, v);
            format!("{name} = {v:#x}")
        }
        _ if payload_at < data.len() => {
            let end = data.len();
            let what = match rng.below(4) {
                0 => bit_flips(data, payload_at, end, rng),
                1 => set_bytes(data, payload_at, end, rng),
                2 => {
                    let at = payload_at + rng.below(end - payload_at);
                    data.truncate(at);
                    format!("payload truncated at {at:#x}")
                }
                _ => {
                    let from = payload_at + rng.below(end - payload_at);
                    let len = rng.short_len(end - from);
                    let copy = data.get(from..from + len)?.to_vec();
                    let to = payload_at + rng.below(end - payload_at);
                    data.splice(to..to, copy);
                    format!("inserted {len} payload bytes from {from:#x} at {to:#x}")
                }
            };
            if rng.percent(70) {
                // Keep the declared stored length true to the file, so only the content lies.
                let stored = (data.len() - payload_at) as u64;
                put_word(data, 32, 8, stored);
            }
            format!("payload: {what}")
        }
        _ => return None,
    };
    reseal(data);
    Some(format!("zcache entry, re-sealed: {what}"))
}

/// Writes the payload's xxh3 and the header's CRC32 for the key length the header now declares.
fn reseal(data: &mut [u8]) {
    let Some(key_len) = data
        .get(20..24)
        .and_then(|w| w.try_into().ok())
        .map(u32::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
    else {
        return;
    };
    let payload_at = HEADER_LEN.saturating_add(key_len).min(data.len());
    let hash = xxhash_rust::xxh3::xxh3_64(data.get(payload_at..).unwrap_or_default());
    put_word(data, 64, 8, hash);
    let mut crc = crc32fast::Hasher::new();
    crc.update(data.get(..72).unwrap_or_default());
    crc.update(data.get(HEADER_LEN..payload_at).unwrap_or_default());
    put_word(data, 72, 4, u64::from(crc.finalize()));
}
