//! Compression codecs: what [`Codec`] means, its names, and the byte-level encode/decode.

mod block;
pub(crate) mod shuffle;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::CacheError;

pub(crate) use block::{compress_block, decompress_block_into};

/// A codec that runs on plain bytes: the inner codec of [`Codec::Shuffle`].
///
/// Levels: gzip 0-9 (clamped), zstd 1-22 (negative levels are zstd's fast modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnerCodec {
    /// Bytes stored as they are.
    None,
    /// LZ4 block format (`lz4_flex`): fastest, modest ratio.
    Lz4,
    /// DEFLATE in a gzip frame (`flate2`) at the given level.
    Gzip(u32),
    /// Zstandard (`zstd`) at the given level.
    Zstd(i32),
}

/// How a value is compressed. Parse one from a name with [`FromStr`] (the seed's
/// `BERTOPIC_COMPRESSION_METHOD`) and print it with [`Display`](fmt::Display); both use the same
/// grammar, so a printed codec parses back to itself:
///
/// | text | codec |
/// |---|---|
/// | `none` | [`Codec::None`] |
/// | `lz4` | [`Codec::Lz4`] |
/// | `gzip`, `gzip:9` | [`Codec::Gzip`] (default level 6) |
/// | `zstd`, `zstd:19` | [`Codec::Zstd`] (default level 3) |
/// | `shuffle`, `shuffle:8`, `shuffle:4:lz4`, `shuffle:4:zstd:3` | [`Codec::Shuffle`] (default width 4, inner `zstd:1`) |
/// | `auto` | [`Codec::Auto`] |
///
/// Names are case-insensitive; `numpy` and `numpy_compressed` are accepted for `shuffle`.
/// Serialized with serde as that same string.
///
/// ```
/// use zcache::{Codec, InnerCodec};
/// let c: Codec = "zstd:5".parse()?;
/// assert_eq!(c, Codec::Zstd(5));
/// assert_eq!("shuffle".parse::<Codec>()?, Codec::Shuffle { width: 4, inner: InnerCodec::Zstd(1) });
/// assert_eq!(Codec::Gzip(9).to_string(), "gzip:9");
/// assert!("brotli".parse::<Codec>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Codec {
    /// Stored as is.
    None,
    /// LZ4 (`lz4_flex` block format): the seed's default, fast.
    Lz4,
    /// Gzip at a level 0-9.
    Gzip(u32),
    /// Zstandard at a level (1-22; negative levels are faster).
    Zstd(i32),
    /// Byte-shuffle of `width`-byte elements (2, 4 or 8) before `inner`, as blosc does, so the
    /// sign/exponent bytes of numbers sit together and compress. Each byte plane of each block
    /// is compressed on its own and kept raw when it does not shrink (noise mantissa bytes).
    Shuffle {
        /// Element width in bytes: 2, 4 or 8.
        width: u8,
        /// The codec applied to each byte plane.
        inner: InnerCodec,
    },
    /// Pick per value kind: typed numeric slices -> `Shuffle` with the element width, text and
    /// serialized values -> `Lz4` (`Zstd(3)` when compressing harder), tiny values (< 64 B) ->
    /// `None`; a value whose compressed form is not clearly smaller (5 % saved, 20 % below
    /// 4 KiB where decoding would dominate the read) is stored raw.
    #[default]
    Auto,
}

/// The default shuffle codec: 4-byte elements, each plane through zstd level 1 (lz4 in a
/// build without the `zstd` feature).
pub const DEFAULT_SHUFFLE: Codec = Codec::Shuffle {
    width: 4,
    inner: DEFAULT_SHUFFLE_INNER,
};

/// The inner codec of shuffled numeric planes: zstd-1, or lz4 without the `zstd` feature.
#[cfg(feature = "zstd")]
pub const DEFAULT_SHUFFLE_INNER: InnerCodec = InnerCodec::Zstd(1);
/// The inner codec of shuffled numeric planes: zstd-1, or lz4 without the `zstd` feature.
#[cfg(not(feature = "zstd"))]
pub const DEFAULT_SHUFFLE_INNER: InnerCodec = InnerCodec::Lz4;

/// What `Auto` uses for text and serialized values when compressing harder: zstd-3, else
/// gzip-6, else lz4, by the codecs compiled in.
#[cfg(feature = "zstd")]
pub(crate) const HARDER: Codec = Codec::Zstd(3);
/// What `Auto` uses for text and serialized values when compressing harder: zstd-3, else
/// gzip-6, else lz4, by the codecs compiled in.
#[cfg(all(not(feature = "zstd"), feature = "gzip"))]
pub(crate) const HARDER: Codec = Codec::Gzip(6);
/// What `Auto` uses for text and serialized values when compressing harder: zstd-3, else
/// gzip-6, else lz4, by the codecs compiled in.
#[cfg(not(any(feature = "zstd", feature = "gzip")))]
pub(crate) const HARDER: Codec = Codec::Lz4;

impl Codec {
    /// Compresses `data` with this codec (`Auto` treats it as plain bytes).
    ///
    /// # Errors
    /// [`CacheError::Compress`] when the codec library fails, or [`CacheError::InvalidConfig`]
    /// for a shuffle width other than 2, 4 or 8.
    pub fn compress(&self, data: &[u8]) -> Result<Vec<u8>, CacheError> {
        match *self {
            Self::None | Self::Auto => Ok(data.to_vec()),
            Self::Lz4 => compress_block(InnerCodec::Lz4, data),
            Self::Gzip(level) => compress_block(InnerCodec::Gzip(level), data),
            Self::Zstd(level) => compress_block(InnerCodec::Zstd(level), data),
            Self::Shuffle { width, inner } => shuffle::compress(width, inner, data),
        }
    }

    /// Decompresses `payload` into exactly `out.len()` bytes. `out` is sized by the caller from
    /// the entry's declared raw length (which the caller has bounded), so decoding never
    /// allocates more than that, whatever the payload says.
    ///
    /// # Errors
    /// [`CacheError::Corrupt`] when the payload does not decode to exactly `out.len()` bytes.
    pub fn decompress_into(&self, payload: &[u8], out: &mut [u8]) -> Result<(), CacheError> {
        match *self {
            Self::None | Self::Auto => decompress_block_into(InnerCodec::None, payload, out),
            Self::Lz4 => decompress_block_into(InnerCodec::Lz4, payload, out),
            Self::Gzip(level) => decompress_block_into(InnerCodec::Gzip(level), payload, out),
            Self::Zstd(level) => decompress_block_into(InnerCodec::Zstd(level), payload, out),
            Self::Shuffle { .. } => shuffle::decompress_into(payload, out),
        }
    }

    /// Decompresses `payload` into a new vector of `raw_len` bytes.
    ///
    /// # Errors
    /// As [`decompress_into`](Self::decompress_into).
    pub fn decompress(&self, payload: &[u8], raw_len: usize) -> Result<Vec<u8>, CacheError> {
        let mut out = vec![0u8; raw_len];
        self.decompress_into(payload, &mut out)?;
        Ok(out)
    }

    /// A rough rank of how hard the codec compresses, for `optimize`: higher is stronger.
    pub(crate) fn strength(&self) -> i32 {
        match *self {
            Self::None | Self::Auto => 0,
            Self::Lz4 => 1,
            Self::Gzip(_) => 2,
            Self::Zstd(l) => 2 + l.clamp(0, 22),
            Self::Shuffle { .. } => 10,
        }
    }

    /// Checks levels, shuffle widths and that the codec is compiled in: what `build()` and
    /// `put_with` check before any value is stored.
    ///
    /// # Errors
    /// [`CacheError::InvalidConfig`] for a level or width out of range,
    /// [`CacheError::CodecUnavailable`] for gzip/zstd in a build without that feature.
    ///
    /// ```
    /// use zcache::Codec;
    /// assert!(Codec::Lz4.validate().is_ok());
    /// assert!(Codec::Zstd(99).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), CacheError> {
        match *self {
            #[cfg(not(feature = "gzip"))]
            Self::Gzip(l) => Err(block::unavailable(InnerCodec::Gzip(l))),
            #[cfg(not(feature = "zstd"))]
            Self::Zstd(l) => Err(block::unavailable(InnerCodec::Zstd(l))),
            #[cfg(feature = "gzip")]
            Self::Gzip(l) if l > 9 => Err(CacheError::InvalidConfig(format!(
                "gzip level {l} is above 9"
            ))),
            #[cfg(feature = "zstd")]
            Self::Zstd(l) if !(-7..=22).contains(&l) => Err(CacheError::InvalidConfig(format!(
                "zstd level {l} is outside -7..=22"
            ))),
            Self::Shuffle { width, inner } => {
                if !matches!(width, 2 | 4 | 8) {
                    return Err(CacheError::InvalidConfig(format!(
                        "shuffle width {width} is not 2, 4 or 8"
                    )));
                }
                Codec::from(inner).validate()
            }
            _ => Ok(()),
        }
    }
}

impl From<InnerCodec> for Codec {
    fn from(inner: InnerCodec) -> Self {
        match inner {
            InnerCodec::None => Self::None,
            InnerCodec::Lz4 => Self::Lz4,
            InnerCodec::Gzip(l) => Self::Gzip(l),
            InnerCodec::Zstd(l) => Self::Zstd(l),
        }
    }
}

impl fmt::Display for InnerCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Codec::from(*self), f)
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Lz4 => f.write_str("lz4"),
            Self::Gzip(l) => write!(f, "gzip:{l}"),
            Self::Zstd(l) => write!(f, "zstd:{l}"),
            Self::Shuffle { width, inner } => write!(f, "shuffle:{width}:{inner}"),
            Self::Auto => f.write_str("auto"),
        }
    }
}

fn parse_level<T: FromStr>(text: &str, part: Option<&str>, default: T) -> Result<T, CacheError> {
    match part {
        None => Ok(default),
        Some(p) => p.trim().parse().map_err(|_| CacheError::UnknownCodec {
            name: text.to_owned(),
        }),
    }
}

fn parse_inner(text: &str, name: &str, level: Option<&str>) -> Result<InnerCodec, CacheError> {
    match name {
        "none" => Ok(InnerCodec::None),
        "lz4" => Ok(InnerCodec::Lz4),
        "gzip" => Ok(InnerCodec::Gzip(parse_level(text, level, 6)?)),
        "zstd" => Ok(InnerCodec::Zstd(parse_level(text, level, 3)?)),
        _ => Err(CacheError::UnknownCodec {
            name: text.to_owned(),
        }),
    }
}

impl FromStr for Codec {
    type Err = CacheError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let mut parts = lower.split(':');
        let name = parts.next().unwrap_or_default();
        let codec = match name {
            "auto" => Self::Auto,
            "shuffle" | "numpy" | "numpy_compressed" => {
                let width = parse_level(text, parts.next(), 4u8)?;
                let inner = match parts.next() {
                    None => InnerCodec::Zstd(1),
                    Some(inner) => parse_inner(text, inner, parts.next())?,
                };
                Self::Shuffle { width, inner }
            }
            other => Self::from(parse_inner(text, other, parts.next())?),
        };
        if parts.next().is_some() {
            return Err(CacheError::UnknownCodec {
                name: text.to_owned(),
            });
        }
        codec.validate().map_err(|_| CacheError::UnknownCodec {
            name: text.to_owned(),
        })?;
        Ok(codec)
    }
}

impl TryFrom<String> for Codec {
    type Error = CacheError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Codec> for String {
    fn from(value: Codec) -> Self {
        value.to_string()
    }
}

/// The codec's identity as stored in a disk entry header (one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum CodecTag {
    None = 0,
    Lz4 = 1,
    Gzip = 2,
    Zstd = 3,
    Shuffle = 4,
}

impl TryFrom<u8> for CodecTag {
    type Error = CacheError;
    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Ok(match value {
            0 => Self::None,
            1 => Self::Lz4,
            2 => Self::Gzip,
            3 => Self::Zstd,
            4 => Self::Shuffle,
            other => return Err(CacheError::Corrupt(format!("unknown codec tag {other}"))),
        })
    }
}

/// Packs a concrete codec into (tag, inner tag, width, level) for a header.
pub(crate) fn codec_to_parts(codec: Codec) -> (u8, u8, u8, i32) {
    fn inner_parts(inner: InnerCodec) -> (u8, i32) {
        match inner {
            InnerCodec::None => (CodecTag::None as u8, 0),
            InnerCodec::Lz4 => (CodecTag::Lz4 as u8, 0),
            InnerCodec::Gzip(l) => (CodecTag::Gzip as u8, i32::try_from(l).unwrap_or(i32::MAX)),
            InnerCodec::Zstd(l) => (CodecTag::Zstd as u8, l),
        }
    }
    match codec {
        Codec::None | Codec::Auto => (CodecTag::None as u8, 0, 0, 0),
        Codec::Lz4 => (CodecTag::Lz4 as u8, 0, 0, 0),
        Codec::Gzip(l) => (
            CodecTag::Gzip as u8,
            0,
            0,
            i32::try_from(l).unwrap_or(i32::MAX),
        ),
        Codec::Zstd(l) => (CodecTag::Zstd as u8, 0, 0, l),
        Codec::Shuffle { width, inner } => {
            let (it, level) = inner_parts(inner);
            (CodecTag::Shuffle as u8, it, width, level)
        }
    }
}

/// The inverse of [`codec_to_parts`], rejecting anything that is not a valid codec.
pub(crate) fn codec_from_parts(
    tag: u8,
    inner: u8,
    width: u8,
    level: i32,
) -> Result<Codec, CacheError> {
    let inner_of = |t: u8| -> Result<InnerCodec, CacheError> {
        Ok(match CodecTag::try_from(t)? {
            CodecTag::None => InnerCodec::None,
            CodecTag::Lz4 => InnerCodec::Lz4,
            CodecTag::Gzip => InnerCodec::Gzip(u32::try_from(level).unwrap_or(0).min(9)),
            CodecTag::Zstd => InnerCodec::Zstd(level.clamp(-7, 22)),
            CodecTag::Shuffle => return Err(CacheError::Corrupt("nested shuffle codec".into())),
        })
    };
    let codec = match CodecTag::try_from(tag)? {
        CodecTag::Shuffle => Codec::Shuffle {
            width,
            inner: inner_of(inner)?,
        },
        _ => Codec::from(inner_of(tag)?),
    };
    codec
        .validate()
        .map_err(|e| CacheError::Corrupt(e.to_string()))?;
    Ok(codec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_parse_and_print_back() {
        for text in [
            "none",
            "lz4",
            "gzip:6",
            "zstd:3",
            "zstd:-1",
            "shuffle:4:zstd:1",
            "shuffle:8:lz4",
            "auto",
        ] {
            let codec: Codec = text.parse().unwrap();
            assert_eq!(codec.to_string(), text);
        }
        assert_eq!("GZIP".parse::<Codec>().unwrap(), Codec::Gzip(6));
        assert_eq!(
            "numpy_compressed".parse::<Codec>().unwrap(),
            DEFAULT_SHUFFLE
        );
        for bad in [
            "",
            "brotli",
            "zstd:x",
            "gzip:12",
            "shuffle:3",
            "shuffle:4:shuffle",
            "lz4:1:2",
        ] {
            let err = bad.parse::<Codec>().unwrap_err();
            assert!(err.to_string().contains("expected one of"), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_uses_the_name() {
        let json = serde_json::to_string(&Codec::Zstd(7)).unwrap();
        assert_eq!(json, "\"zstd:7\"");
        assert_eq!(
            serde_json::from_str::<Codec>(&json).unwrap(),
            Codec::Zstd(7)
        );
        assert!(serde_json::from_str::<Codec>("\"nope\"").is_err());
    }

    fn any_codec() -> impl Strategy<Value = Codec> {
        let inner = prop_oneof![
            Just(InnerCodec::None),
            Just(InnerCodec::Lz4),
            (0u32..=9).prop_map(InnerCodec::Gzip),
            (-3i32..=9).prop_map(InnerCodec::Zstd),
        ];
        prop_oneof![
            Just(Codec::None),
            Just(Codec::Lz4),
            (0u32..=9).prop_map(Codec::Gzip),
            (-3i32..=9).prop_map(Codec::Zstd),
            (prop_oneof![Just(2u8), Just(4), Just(8)], inner)
                .prop_map(|(width, inner)| Codec::Shuffle { width, inner }),
        ]
    }

    proptest! {
        #[test]
        fn every_codec_round_trips(codec in any_codec(), data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let packed = codec.compress(&data).unwrap();
            prop_assert_eq!(codec.decompress(&packed, data.len()).unwrap(), data);
        }

        #[test]
        fn decoding_garbage_never_panics(codec in any_codec(), payload in proptest::collection::vec(any::<u8>(), 0..600), len in 0usize..5000) {
            let _ = codec.decompress(&payload, len);
        }

        #[test]
        fn header_parts_round_trip(codec in any_codec()) {
            let (t, i, w, l) = codec_to_parts(codec);
            prop_assert_eq!(codec_from_parts(t, i, w, l).unwrap(), codec);
        }

        #[test]
        fn parts_never_panic(t: u8, i: u8, w: u8, l: i32) {
            let _ = codec_from_parts(t, i, w, l);
        }
    }
}
