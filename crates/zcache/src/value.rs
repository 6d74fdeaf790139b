//! Value kinds: what a cache entry holds, so that reading it as another type is an error.

use std::borrow::Cow;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::CacheError;

/// The element type of a typed numeric slice (the `T` of `[T]`), stored in each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
#[expect(missing_docs, reason = "the variants are the Rust primitive names")]
pub enum ElemType {
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    U64 = 6,
    I64 = 7,
    F32 = 8,
    F64 = 9,
    F16 = 10,
    BF16 = 11,
}

impl ElemType {
    /// Bytes per element.
    #[must_use]
    pub fn width(self) -> u8 {
        match self {
            Self::I8 => 1,
            Self::U16 | Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 => 8,
        }
    }

    /// The Rust name of the type (`"f32"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
        }
    }
}

impl TryFrom<u8> for ElemType {
    type Error = CacheError;
    fn try_from(v: u8) -> Result<Self, CacheError> {
        Ok(match v {
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::U64,
            7 => Self::I64,
            8 => Self::F32,
            9 => Self::F64,
            10 => Self::F16,
            11 => Self::BF16,
            other => return Err(CacheError::Corrupt(format!("unknown element type {other}"))),
        })
    }
}

/// What kind of value an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// Opaque bytes (`[u8]`, `Vec<u8>`).
    Bytes,
    /// UTF-8 text (`str`, `String`).
    Text,
    /// A typed numeric slice (`[f32]`, `Vec<i64>`, ...).
    Numeric(ElemType),
    /// A serde value stored as JSON; the number identifies the Rust type
    /// (xxh3 of its `std::any::type_name`), so another type cannot read it.
    Serde(u64),
}

impl ValueKind {
    pub(crate) fn to_parts(self) -> (u8, u8, u64) {
        match self {
            Self::Bytes => (0, 0, 0),
            Self::Text => (1, 0, 0),
            Self::Numeric(e) => (2, e as u8, 0),
            Self::Serde(h) => (3, 0, h),
        }
    }

    pub(crate) fn from_parts(tag: u8, elem: u8, hash: u64) -> Result<Self, CacheError> {
        Ok(match tag {
            0 => Self::Bytes,
            1 => Self::Text,
            2 => Self::Numeric(ElemType::try_from(elem)?),
            3 => Self::Serde(hash),
            other => return Err(CacheError::Corrupt(format!("unknown value kind {other}"))),
        })
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes => f.write_str("bytes"),
            Self::Text => f.write_str("text"),
            Self::Numeric(e) => write!(f, "[{}]", e.name()),
            Self::Serde(h) => write!(f, "serde value (type {h:016x})"),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A type the cache can store and give back: `[u8]`/`Vec<u8>` (bytes), `str`/`String` (text),
/// `[T]`/`Vec<T>` for [`Element`] types (typed numeric slices), and [`Json<T>`] for any serde
/// type. Used by [`CompressedCache::put`](crate::CompressedCache::put) and
/// [`CompressedCache::get`](crate::CompressedCache::get).
///
/// Sealed: the set of kinds is part of the on-disk format. Wrap your own types in [`Json`].
pub trait CacheValue: sealed::Sealed {
    /// What `get` returns for this kind (`str` -> `String`, `[f32]` -> `Vec<f32>`).
    type Output;

    /// The kind recorded with the entry.
    fn kind() -> ValueKind;

    /// The value's raw bytes.
    #[doc(hidden)]
    fn to_raw(&self, key: &str) -> Result<Cow<'_, [u8]>, CacheError>;

    /// Builds the output from `raw_len` bytes produced by `fill` (which decompresses straight
    /// into the output's own buffer, so no intermediate copy is made for slices).
    #[doc(hidden)]
    fn from_raw(
        key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<Self::Output, CacheError>;
}

fn fill_vec(
    raw_len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
) -> Result<Vec<u8>, CacheError> {
    let mut v = vec![0u8; raw_len];
    fill(&mut v)?;
    Ok(v)
}

impl sealed::Sealed for [u8] {}
impl CacheValue for [u8] {
    type Output = Vec<u8>;
    fn kind() -> ValueKind {
        ValueKind::Bytes
    }
    fn to_raw(&self, _key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        Ok(Cow::Borrowed(self))
    }
    fn from_raw(
        _key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<Vec<u8>, CacheError> {
        fill_vec(raw_len, fill)
    }
}

impl sealed::Sealed for Vec<u8> {}
impl CacheValue for Vec<u8> {
    type Output = Vec<u8>;
    fn kind() -> ValueKind {
        ValueKind::Bytes
    }
    fn to_raw(&self, _key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        Ok(Cow::Borrowed(self))
    }
    fn from_raw(
        _key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<Vec<u8>, CacheError> {
        fill_vec(raw_len, fill)
    }
}

fn text_from(
    key: &str,
    raw_len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
) -> Result<String, CacheError> {
    String::from_utf8(fill_vec(raw_len, fill)?)
        .map_err(|e| CacheError::Corrupt(format!("text value of key {key:?} is not UTF-8: {e}")))
}

impl sealed::Sealed for str {}
impl CacheValue for str {
    type Output = String;
    fn kind() -> ValueKind {
        ValueKind::Text
    }
    fn to_raw(&self, _key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        Ok(Cow::Borrowed(self.as_bytes()))
    }
    fn from_raw(
        key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<String, CacheError> {
        text_from(key, raw_len, fill)
    }
}

impl sealed::Sealed for String {}
impl CacheValue for String {
    type Output = String;
    fn kind() -> ValueKind {
        ValueKind::Text
    }
    fn to_raw(&self, _key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        Ok(Cow::Borrowed(self.as_bytes()))
    }
    fn from_raw(
        key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<String, CacheError> {
        text_from(key, raw_len, fill)
    }
}

/// A numeric element type that can be cached as a typed slice (bytemuck `Pod`): `i8`, `u16`,
/// `i16`, `u32`, `i32`, `u64`, `i64`, `f32`, `f64`, `half::f16`, `half::bf16`. (`u8` slices are
/// plain bytes.)
pub trait Element: bytemuck::Pod + sealed::Sealed {
    /// The tag stored with the entry.
    const TYPE: ElemType;
}

macro_rules! element {
    ($($t:ty => $e:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t { const TYPE: ElemType = ElemType::$e; }
    )*};
}
element!(i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64, i64 => I64,
    f32 => F32, f64 => F64, half::f16 => F16, half::bf16 => BF16);

fn slice_from<T: Element>(
    key: &str,
    raw_len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
) -> Result<Vec<T>, CacheError> {
    let size = std::mem::size_of::<T>();
    if !raw_len.is_multiple_of(size) {
        return Err(CacheError::Corrupt(format!(
            "[{}] value of key {key:?} has {raw_len} bytes, not a multiple of {size}",
            T::TYPE.name()
        )));
    }
    let mut v = vec![T::zeroed(); raw_len / size];
    fill(bytemuck::cast_slice_mut(&mut v))?;
    Ok(v)
}

impl<T: Element> sealed::Sealed for [T] {}
impl<T: Element> CacheValue for [T] {
    type Output = Vec<T>;
    fn kind() -> ValueKind {
        ValueKind::Numeric(T::TYPE)
    }
    fn to_raw(&self, _key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        Ok(Cow::Borrowed(bytemuck::cast_slice(self)))
    }
    fn from_raw(
        key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<Vec<T>, CacheError> {
        slice_from(key, raw_len, fill)
    }
}

impl<T: Element> sealed::Sealed for Vec<T> {}
impl<T: Element> CacheValue for Vec<T> {
    type Output = Vec<T>;
    fn kind() -> ValueKind {
        ValueKind::Numeric(T::TYPE)
    }
    fn to_raw(&self, _key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        Ok(Cow::Borrowed(bytemuck::cast_slice(self)))
    }
    fn from_raw(
        key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<Vec<T>, CacheError> {
        slice_from(key, raw_len, fill)
    }
}

/// Any serde type, stored as JSON and tagged with its Rust type, so reading it back as another
/// type is a [`CacheError::KindMismatch`], not a best-effort parse.
///
/// ```
/// use zcache::{CompressedCache, Json};
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Doc { id: u32, title: String }
///
/// let cache = CompressedCache::builder().max_memory(8 << 20).build()?;
/// cache.put("d", &Json(Doc { id: 1, title: "x".into() }))?;
/// let back: Option<Doc> = cache.get::<Json<Doc>>("d")?;
/// assert_eq!(back, Some(Doc { id: 1, title: "x".into() }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

/// The kind tag of serde type `T`: a hash of its Rust type name with references removed and
/// `str` read as `String`, so `&T` and `T`, or `Vec<&str>` and `Vec<String>`, which serialize
/// identically, share a tag.
#[must_use]
pub fn serde_kind<T: ?Sized>() -> ValueKind {
    ValueKind::Serde(xxhash_rust::xxh3::xxh3_64(
        normalize_type_name(std::any::type_name::<T>()).as_bytes(),
    ))
}

fn normalize_type_name(name: &str) -> String {
    let no_refs = name.replace("&mut ", "").replace('&', "");
    // Whole-word `str` (not `alloc::string::String`, not `my::strange`).
    let mut out = String::with_capacity(no_refs.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word == "str" {
            out.push_str("alloc::string::String");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for ch in no_refs.chars() {
        if ch.is_alphanumeric() || ch == '_' || ch == ':' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

impl<T> sealed::Sealed for Json<T> {}
impl<T: Serialize + DeserializeOwned> CacheValue for Json<T> {
    type Output = T;
    fn kind() -> ValueKind {
        serde_kind::<T>()
    }
    fn to_raw(&self, key: &str) -> Result<Cow<'_, [u8]>, CacheError> {
        serde_json::to_vec(&self.0)
            .map(Cow::Owned)
            .map_err(|source| CacheError::Serde {
                key: key.to_owned(),
                source,
            })
    }
    fn from_raw(
        key: &str,
        raw_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), CacheError>,
    ) -> Result<T, CacheError> {
        let bytes = fill_vec(raw_len, fill)?;
        serde_json::from_slice(&bytes).map_err(|source| CacheError::Serde {
            key: key.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_tags_ignore_references_and_str() {
        assert_eq!(serde_kind::<&Vec<u8>>(), serde_kind::<Vec<u8>>());
        assert_eq!(serde_kind::<Vec<&str>>(), serde_kind::<Vec<String>>());
        assert_eq!(serde_kind::<(&str, u8)>(), serde_kind::<(String, u8)>());
        assert_ne!(serde_kind::<Vec<u8>>(), serde_kind::<Vec<u16>>());
        assert_ne!(serde_kind::<String>(), serde_kind::<u8>());
    }
}
