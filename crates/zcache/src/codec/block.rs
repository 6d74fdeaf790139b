//! The plain byte codecs (none, lz4, gzip, zstd) with exact-size, bounded decoding.

#[cfg(feature = "zstd")]
use std::cell::RefCell;
#[cfg(feature = "gzip")]
use std::io::{Read, Write};

use crate::codec::InnerCodec;
use crate::error::CacheError;

#[cfg(feature = "zstd")]
thread_local! {
    // zstd contexts are costly to create (hundreds of KB); keeping one per thread makes a small
    // get cost microseconds instead of tens of microseconds.
    static ZSTD_C: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static ZSTD_D: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

#[cfg(any(feature = "gzip", feature = "zstd"))]
fn compress_err(codec: InnerCodec, reason: impl ToString) -> CacheError {
    CacheError::Compress {
        codec: codec.to_string(),
        reason: reason.to_string(),
    }
}

/// Compresses `data` with a plain codec.
pub(crate) fn compress_block(codec: InnerCodec, data: &[u8]) -> Result<Vec<u8>, CacheError> {
    match codec {
        InnerCodec::None => Ok(data.to_vec()),
        InnerCodec::Lz4 => Ok(lz4_flex::block::compress(data)),
        #[cfg(feature = "gzip")]
        InnerCodec::Gzip(level) => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 2 + 64),
                flate2::Compression::new(level.min(9)),
            );
            enc.write_all(data).map_err(|e| compress_err(codec, e))?;
            enc.finish().map_err(|e| compress_err(codec, e))
        }
        #[cfg(feature = "zstd")]
        InnerCodec::Zstd(level) => ZSTD_C.with(|cell| {
            let mut slot = cell.borrow_mut();
            let reuse = matches!(&*slot, Some((l, _)) if *l == level);
            if !reuse {
                let c = zstd::bulk::Compressor::new(level).map_err(|e| compress_err(codec, e))?;
                *slot = Some((level, c));
            }
            match slot.as_mut() {
                Some((_, c)) => c.compress(data).map_err(|e| compress_err(codec, e)),
                None => Err(compress_err(codec, "no zstd context")),
            }
        }),
        #[cfg(not(all(feature = "gzip", feature = "zstd")))]
        other => Err(unavailable(other)),
    }
}

/// The error for a codec this build was compiled without (a miss on read, never "corrupt":
/// another build of the same cache may well decode the entry).
#[cfg(not(all(feature = "gzip", feature = "zstd")))]
pub(crate) fn unavailable(codec: InnerCodec) -> CacheError {
    let feature = match codec {
        InnerCodec::Gzip(_) => "gzip",
        _ => "zstd",
    };
    CacheError::CodecUnavailable {
        codec: codec.to_string(),
        feature,
    }
}

fn corrupt(codec: InnerCodec, what: impl std::fmt::Display) -> CacheError {
    CacheError::Corrupt(format!("{codec} payload: {what}"))
}

/// Decodes `payload` into exactly `out.len()` bytes; any other outcome is corruption.
pub(crate) fn decompress_block_into(
    codec: InnerCodec,
    payload: &[u8],
    out: &mut [u8],
) -> Result<(), CacheError> {
    match codec {
        InnerCodec::None => {
            if payload.len() != out.len() {
                return Err(corrupt(
                    codec,
                    format!("{} bytes where {} were declared", payload.len(), out.len()),
                ));
            }
            out.copy_from_slice(payload);
            Ok(())
        }
        InnerCodec::Lz4 => {
            let n =
                lz4_flex::block::decompress_into(payload, out).map_err(|e| corrupt(codec, e))?;
            if n != out.len() {
                return Err(corrupt(
                    codec,
                    format!("decoded {n} bytes, expected {}", out.len()),
                ));
            }
            Ok(())
        }
        #[cfg(feature = "gzip")]
        InnerCodec::Gzip(_) => {
            let mut dec = flate2::read::GzDecoder::new(payload);
            dec.read_exact(out).map_err(|e| corrupt(codec, e))?;
            // The stream must end exactly here: more output means the header lied.
            let mut extra = [0u8; 1];
            match dec.read(&mut extra) {
                Ok(0) => Ok(()),
                Ok(_) => Err(corrupt(codec, "more data than declared")),
                Err(e) => Err(corrupt(codec, e)),
            }
        }
        #[cfg(feature = "zstd")]
        InnerCodec::Zstd(_) => ZSTD_D.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(zstd::bulk::Decompressor::new().map_err(|e| corrupt(codec, e))?);
            }
            let d = slot
                .as_mut()
                .ok_or_else(|| corrupt(codec, "no zstd context"))?;
            let n = d
                .decompress_to_buffer(payload, out)
                .map_err(|e| corrupt(codec, e))?;
            if n != out.len() {
                return Err(corrupt(
                    codec,
                    format!("decoded {n} bytes, expected {}", out.len()),
                ));
            }
            Ok(())
        }),
        #[cfg(not(all(feature = "gzip", feature = "zstd")))]
        other => Err(unavailable(other)),
    }
}
