//! One stored entry (compressed payload plus what is needed to decode and expire it), and the
//! choice of codec for a value.

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::codec::Codec;
use crate::dict::Dicts;
use crate::error::CacheError;
use crate::value::{CacheValue, ValueKind};

/// Values smaller than this are never compressed: the codec's framing would eat the gain.
pub(crate) const TINY: usize = 64;

/// Bytes of bookkeeping per memory entry on top of key and payload, weighed against the budget.
/// Measured in the small-value budget test (tests/it/budget.rs, 25,000 entries of 64 B-1 KiB
/// after four budgets' worth of puts): about 265 B are live (the `Stored` struct in its `Arc`,
/// the key's `Arc<str>`, the shard's slot with its vector's slack, index and frequency
/// sketch, the payload's allocator header) and about 300 B more are free heap between them,
/// the fragmentation that eviction churn leaves (glibc's `mallinfo2`). With this figure RSS
/// grows by 1.03 of the budget there (1.06 with 1-16 KiB values); with 320 it overshot by 27 %.
/// Moka's tier needed 640 (470 B live per entry, 255 B with this tier).
pub(crate) const ENTRY_OVERHEAD: usize = 576;

/// Milliseconds since the Unix epoch (wall clock, so expiry survives restarts).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// An entry as held in the memory tier and written to disk.
#[derive(Debug)]
pub(crate) struct Stored {
    pub kind: ValueKind,
    /// The concrete codec used (never `Auto`).
    pub codec: Codec,
    pub raw_len: u64,
    pub created_ms: u64,
    /// Expiry in ms since the epoch; 0 = never.
    pub expires_ms: u64,
    pub payload: Box<[u8]>,
    /// The trained zstd dictionary the payload needs (0: none), see [`crate::dict`].
    pub dict: u32,
    /// [`ON_DISK`], [`AUTO`], [`COLD`], [`SETTLED`].
    pub flags: AtomicU8,
    /// Memory-tier hits since the background pass last looked (saturates at [`HOT`]).
    pub heat: AtomicU32,
}

/// A current copy of this very entry is known to be on disk (spilling it again is skipped).
pub(crate) const ON_DISK: u8 = 1;
/// Put under `Codec::Auto`: the background pass may change its codec.
pub(crate) const AUTO: u8 = 2;
/// Recompressed by the background pass because it stayed cold.
pub(crate) const COLD: u8 = 4;
/// Never to be recompressed again (hot when the pass looked, or already restored once).
pub(crate) const SETTLED: u8 = 8;
/// Hits that make an entry hot (the counter stops there: no write on the hit path after it).
pub(crate) const HOT: u32 = 4;

impl Stored {
    pub(crate) fn is_expired(&self, now: u64) -> bool {
        self.expires_ms != 0 && self.expires_ms <= now
    }

    /// Memory-tier weight: what this entry really costs in RAM.
    pub(crate) fn weight(&self, key_len: usize) -> u32 {
        u32::try_from(self.payload.len() + key_len + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
    }

    /// A new entry (cold, `flags` as given).
    #[expect(clippy::too_many_arguments, reason = "one per field of the entry")]
    pub(crate) fn new(
        kind: ValueKind,
        codec: Codec,
        raw_len: u64,
        created_ms: u64,
        expires_ms: u64,
        payload: Box<[u8]>,
        dict: u32,
        flags: u8,
    ) -> Self {
        Self {
            kind,
            codec,
            raw_len,
            created_ms,
            expires_ms,
            payload,
            dict,
            flags: AtomicU8::new(flags),
            heat: AtomicU32::new(0),
        }
    }

    /// The same value stored again: another codec, payload, dictionary and flags; kind, sizes
    /// and times are this entry's.
    pub(crate) fn recoded(&self, codec: Codec, payload: Box<[u8]>, dict: u32, flags: u8) -> Self {
        Self::new(
            self.kind,
            codec,
            self.raw_len,
            self.created_ms,
            self.expires_ms,
            payload,
            dict,
            flags,
        )
    }

    pub(crate) fn mark_on_disk(&self) {
        self.flags.fetch_or(ON_DISK, Ordering::Relaxed);
    }

    #[cfg_attr(
        not(feature = "redis"),
        expect(dead_code, reason = "the shared tier's")
    )]
    pub(crate) fn clear_on_disk(&self) {
        self.flags.fetch_and(!ON_DISK, Ordering::Relaxed);
    }

    pub(crate) fn is_on_disk(&self) -> bool {
        self.has(ON_DISK)
    }

    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags.load(Ordering::Relaxed) & flag != 0
    }

    /// Counts a memory-tier hit: one relaxed load, and a store only until the entry is hot.
    #[inline]
    pub(crate) fn touch(&self) {
        let h = self.heat.load(Ordering::Relaxed);
        if h < HOT {
            self.heat.store(h + 1, Ordering::Relaxed);
        }
    }

    /// Decodes the entry as `V`, refusing another kind.
    pub(crate) fn decode<V: CacheValue + ?Sized>(
        &self,
        key: &str,
        dicts: &Dicts,
    ) -> Result<V::Output, CacheError> {
        let want = V::kind();
        if want != self.kind {
            return Err(CacheError::KindMismatch {
                key: key.to_owned(),
                stored: self.kind.to_string(),
                requested: want.to_string(),
            });
        }
        let raw_len = usize::try_from(self.raw_len)
            .map_err(|_| CacheError::Corrupt("raw length overflow".into()))?;
        V::from_raw(key, raw_len, &mut |out| self.decompress_into(out, dicts))
    }

    fn decompress_into(&self, out: &mut [u8], dicts: &Dicts) -> Result<(), CacheError> {
        if self.dict == 0 {
            self.codec.decompress_into(&self.payload, out)
        } else {
            dicts.decompress_into(self.dict, &self.payload, out)
        }
    }

    /// Decodes to raw bytes whatever the kind (for verify and recompression).
    pub(crate) fn raw_bytes(&self, dicts: &Dicts) -> Result<Vec<u8>, CacheError> {
        let raw_len = usize::try_from(self.raw_len)
            .map_err(|_| CacheError::Corrupt("raw length overflow".into()))?;
        let mut out = vec![0u8; raw_len];
        self.decompress_into(&mut out, dicts)?;
        Ok(out)
    }
}

/// The codec `Auto` picks for a value of `kind` and `len` bytes.
pub(crate) fn auto_codec(kind: ValueKind, len: usize, harder: bool) -> Codec {
    if len < TINY {
        return Codec::None;
    }
    match kind {
        ValueKind::Numeric(e) if matches!(e.width(), 2 | 4 | 8) => {
            // zstd-1 is also the strongest here: on real f32 embeddings level 3 gives a slightly
            // *worse* ratio (0.853 vs 0.846) at two thirds of the speed.
            Codec::Shuffle {
                width: e.width(),
                inner: crate::codec::DEFAULT_SHUFFLE_INNER,
            }
        }
        _ if harder => crate::codec::HARDER,
        _ => Codec::Lz4,
    }
}

/// Bytes `Auto` must save to keep a compressed form: 5 % of the value, but 20 % below
/// [`SMALL`] bytes, where decoding costs as much as the rest of a get (a 1 KiB JSON value that
/// lz4 shrinks by 13 % is not worth doubling its read time).
fn min_saving(len: usize) -> usize {
    if len < SMALL { len / 5 } else { len / 20 }
}

/// Below this size `Auto` asks more of a codec (see [`min_saving`]).
pub(crate) const SMALL: usize = 4096;

/// Compresses `raw` with `codec` (resolving `Auto`), returning the codec really used and the
/// payload. Under `Auto` a result not clearly smaller (see [`min_saving`]) is stored raw.
pub(crate) fn encode(
    raw: &[u8],
    kind: ValueKind,
    codec: Codec,
    harder: bool,
) -> Result<(Codec, Vec<u8>), CacheError> {
    let (chosen, auto) = match codec {
        Codec::Auto => (auto_codec(kind, raw.len(), harder), true),
        other => (other, false),
    };
    if chosen == Codec::None {
        return Ok((Codec::None, raw.to_vec()));
    }
    let packed = chosen.compress(raw)?;
    if auto && packed.len() > raw.len() - min_saving(raw.len()) {
        return Ok((Codec::None, raw.to_vec()));
    }
    Ok((chosen, packed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::InnerCodec;
    use crate::value::ElemType;

    #[test]
    fn auto_picks_per_kind() {
        assert_eq!(auto_codec(ValueKind::Text, 10, false), Codec::None);
        assert_eq!(auto_codec(ValueKind::Text, 1000, false), Codec::Lz4);
        assert_eq!(auto_codec(ValueKind::Text, 1000, true), Codec::Zstd(3));
        assert_eq!(
            auto_codec(ValueKind::Numeric(ElemType::F64), 1000, false),
            Codec::Shuffle {
                width: 8,
                inner: InnerCodec::Zstd(1)
            }
        );
        assert_eq!(
            auto_codec(ValueKind::Numeric(ElemType::I8), 1000, false),
            Codec::Lz4
        );
    }

    #[test]
    fn incompressible_is_stored_raw_under_auto_only() {
        let mut x = 0x1234_5678_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let (c, p) = encode(&noise, ValueKind::Bytes, Codec::Auto, false).unwrap();
        assert_eq!((c, p.len()), (Codec::None, noise.len()));
        let (c, _) = encode(&noise, ValueKind::Bytes, Codec::Zstd(3), false).unwrap();
        assert_eq!(c, Codec::Zstd(3));
    }
}
