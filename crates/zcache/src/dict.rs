//! Trained zstd dictionaries for small values.
//!
//! The background pass ([`crate::recompress`]) samples the values the cache holds per family
//! (value kind and key prefix), trains a dictionary for a family once it has enough samples,
//! and recompresses that family's cold entries with it. A dictionary is named by the id zstd
//! writes into it (derived from its content), which every payload compressed with it also
//! carries in its frame header; payloads are compressed with zstd's content checksum, so a
//! missing or wrong dictionary is an error (a miss), never wrong bytes.
//!
//! With a disk tier, each dictionary is written to `DIR/dicts/ID.zdict` before any entry that
//! needs it can reach the disk; another process opening the directory loads it on first use.
//!
//! ```text
//! 0  magic "\x89ZCDICT\n"   16 dictionary length u32
//! 8  version u8 (1)         20 reserved u32 (0)
//! 9  reserved [u8; 3] (0)   24 xxh3-64 of the dictionary u64
//! 12 id u32                 32 the dictionary
//! ```
//! Without the `zstd` feature no dictionary is ever trained, and entries that name one are
//! misses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::CacheError;

/// Magic of a dictionary file.
pub(crate) const DICT_MAGIC: [u8; 8] = *b"\x89ZCDICT\n";
const DICT_VERSION: u8 = 1;
const DICT_HEADER: usize = 32;
/// Largest dictionary accepted (trained ones are 64 KiB at most).
pub(crate) const MAX_DICT_BYTES: usize = 1 << 20;
/// Dictionaries kept at most; past this the oldest that is no family's current one is
/// dropped (entries that still name it become misses).
pub(crate) const MAX_DICTS: usize = 16;

/// One trained dictionary.
#[derive(Debug)]
pub(crate) struct Dict {
    pub id: u32,
    pub bytes: Box<[u8]>,
}

/// The dictionaries of one cache: in memory, and in `DIR/dicts` with a disk tier.
#[derive(Debug, Default)]
pub(crate) struct Dicts {
    by_id: RwLock<HashMap<u32, Arc<Dict>>>,
    /// The family -> dictionary used for new recompressions.
    current: RwLock<HashMap<String, u32>>,
    /// Install order, for the bound on how many are kept.
    order: Mutex<Vec<u32>>,
    dir: Option<PathBuf>,
    #[cfg_attr(not(feature = "zstd"), allow(dead_code))] // used by zstd dictionaries only
    read_only: bool,
}

/// The id zstd wrote into a dictionary (0 when it has none).
#[cfg(feature = "zstd")]
pub(crate) fn dict_id_of(bytes: &[u8]) -> u32 {
    zstd::zstd_safe::get_dict_id_from_dict(bytes).map_or(0, std::num::NonZeroU32::get)
}

/// The id zstd wrote into a dictionary (0 when it has none).
#[cfg(not(feature = "zstd"))]
pub(crate) fn dict_id_of(_bytes: &[u8]) -> u32 {
    0
}

/// Serializes a dictionary file.
#[cfg_attr(not(feature = "zstd"), allow(dead_code))] // used by zstd dictionaries only
pub(crate) fn encode_dict_file(d: &Dict) -> Vec<u8> {
    let mut out = Vec::with_capacity(DICT_HEADER + d.bytes.len());
    out.extend_from_slice(&DICT_MAGIC);
    out.extend_from_slice(&[DICT_VERSION, 0, 0, 0]);
    out.extend_from_slice(&d.id.to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(d.bytes.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&d.bytes).to_le_bytes());
    out.extend_from_slice(&d.bytes);
    out
}

/// Parses and checks a dictionary file that should hold dictionary `id`.
pub(crate) fn decode_dict_file(bytes: &[u8], id: u32) -> Result<Dict, CacheError> {
    use crate::disk::format::{u32_at, u64_at};
    let bad = |why: &str| CacheError::Corrupt(format!("dictionary {id:08x}: {why}"));
    if bytes.len() < DICT_HEADER || bytes.get(..8) != Some(&DICT_MAGIC[..]) {
        return Err(bad("bad magic or short header"));
    }
    if bytes.get(8..12) != Some(&[DICT_VERSION, 0, 0, 0][..]) || u32_at(bytes, 20) != 0 {
        return Err(bad("unsupported version"));
    }
    let len = u32_at(bytes, 16) as usize;
    if len > MAX_DICT_BYTES || bytes.len() != DICT_HEADER + len {
        return Err(bad("length mismatch"));
    }
    let body = bytes.get(DICT_HEADER..).unwrap_or_default();
    if xxhash_rust::xxh3::xxh3_64(body) != u64_at(bytes, 24) {
        return Err(bad("checksum mismatch"));
    }
    if u32_at(bytes, 12) != id || dict_id_of(body) != id {
        return Err(bad("another dictionary"));
    }
    Ok(Dict {
        id,
        bytes: body.into(),
    })
}

impl Dicts {
    /// The dictionaries of a cache whose disk tier is `disk_dir` (if any).
    pub(crate) fn new(disk_dir: Option<&Path>, read_only: bool) -> Self {
        Self {
            dir: disk_dir.map(|d| d.join("dicts")),
            read_only,
            ..Self::default()
        }
    }

    fn path_for(dir: &Path, id: u32) -> PathBuf {
        dir.join(format!("{id:08x}.zdict"))
    }

    /// Dictionary `id`, from memory or else from the disk tier; `None` when it is nowhere
    /// (or its file is damaged).
    pub(crate) fn get(&self, id: u32) -> Option<Arc<Dict>> {
        if id == 0 {
            return None;
        }
        if let Some(d) = self.by_id.read().get(&id) {
            return Some(Arc::clone(d));
        }
        let path = Self::path_for(self.dir.as_ref()?, id);
        let bytes = match crate::disk::read_small_regular(&path, DICT_HEADER + MAX_DICT_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => return None,
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "zcache dictionary unreadable");
                return None;
            }
        };
        match decode_dict_file(&bytes, id) {
            Ok(d) => {
                let d = Arc::new(d);
                self.remember(Arc::clone(&d));
                Some(d)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "zcache dictionary damaged: its entries are misses");
                None
            }
        }
    }

    fn remember(&self, d: Arc<Dict>) {
        let id = d.id;
        let mut order = self.order.lock();
        if self.by_id.write().insert(id, d).is_none() {
            order.push(id);
        }
        while order.len() > MAX_DICTS {
            let current = self.current.read();
            let Some(pos) = order.iter().position(|i| !current.values().any(|c| c == i)) else {
                break;
            };
            let gone = order.remove(pos);
            self.by_id.write().remove(&gone);
        }
    }

    /// The dictionary new recompressions of `family` use.
    pub(crate) fn current(&self, family: &str) -> Option<Arc<Dict>> {
        let id = *self.current.read().get(family)?;
        self.by_id.read().get(&id).cloned()
    }

    /// Makes `bytes` the dictionary of `family`: written to disk first (with a disk tier),
    /// then usable. `None` when it has no id, collides with another dictionary's id, or cannot
    /// be written.
    #[cfg_attr(not(feature = "zstd"), allow(dead_code))] // used by zstd dictionaries only
    pub(crate) fn install(&self, family: &str, bytes: Vec<u8>) -> Option<Arc<Dict>> {
        let id = dict_id_of(&bytes);
        if id == 0 || bytes.len() > MAX_DICT_BYTES {
            return None;
        }
        if let Some(old) = self.get(id) {
            if *old.bytes != *bytes {
                tracing::debug!(id, "zcache dictionary id collision: not installed");
                return None;
            }
            self.current.write().insert(family.to_owned(), id);
            return Some(old);
        }
        let d = Arc::new(Dict {
            id,
            bytes: bytes.into_boxed_slice(),
        });
        if let Some(dir) = &self.dir {
            if self.read_only {
                return None;
            }
            if let Err(e) =
                crate::disk::write_atomic(dir, &Self::path_for(dir, id), &encode_dict_file(&d))
            {
                tracing::warn!(dir = %dir.display(), error = %e, "zcache could not write a dictionary");
                return None;
            }
        }
        self.remember(Arc::clone(&d));
        self.current.write().insert(family.to_owned(), id);
        Some(d)
    }

    /// How many dictionaries are held in memory, and their bytes.
    pub(crate) fn usage(&self) -> (u64, u64) {
        let m = self.by_id.read();
        (
            m.len() as u64,
            m.values().map(|d| d.bytes.len() as u64).sum(),
        )
    }

    /// Decodes a payload compressed with dictionary `id` into exactly `out.len()` bytes.
    ///
    /// # Errors
    /// [`CacheError::Corrupt`] when the dictionary is missing, is not the one the payload
    /// names, or the payload does not decode to exactly `out` (its checksum included).
    pub(crate) fn decompress_into(
        &self,
        id: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<(), CacheError> {
        let dict = self
            .get(id)
            .ok_or_else(|| CacheError::Corrupt(format!("dictionary {id:08x} is missing")))?;
        decompress_with(&dict, payload, out)
    }
}

#[cfg(feature = "zstd")]
thread_local! {
    /// A few decompression contexts with their dictionary loaded, most recent last.
    static DICT_D: std::cell::RefCell<Vec<(u32, zstd::bulk::Decompressor<'static>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Decodes `payload` (compressed with `dict`) into exactly `out.len()` bytes.
#[cfg(feature = "zstd")]
pub(crate) fn decompress_with(
    dict: &Dict,
    payload: &[u8],
    out: &mut [u8],
) -> Result<(), CacheError> {
    let corrupt = |what: String| CacheError::Corrupt(format!("zstd+dictionary payload: {what}"));
    // The frame must name this dictionary (zstd also refuses a mismatch, and checks the
    // content checksum every dictionary payload carries).
    let named =
        zstd::zstd_safe::get_dict_id_from_frame(payload).map_or(0, std::num::NonZeroU32::get);
    if named != dict.id {
        return Err(corrupt(format!(
            "frame names dictionary {named:08x}, not {:08x}",
            dict.id
        )));
    }
    DICT_D.with(|cell| {
        let mut slots = cell.borrow_mut();
        let pos = match slots.iter().position(|(i, _)| *i == dict.id) {
            Some(p) => p,
            None => {
                let d = zstd::bulk::Decompressor::with_dictionary(&dict.bytes)
                    .map_err(|e| corrupt(e.to_string()))?;
                if slots.len() >= 4 {
                    slots.remove(0);
                }
                slots.push((dict.id, d));
                slots.len() - 1
            }
        };
        let (_, d) = slots
            .get_mut(pos)
            .ok_or_else(|| corrupt("no context".into()))?;
        let n = d
            .decompress_to_buffer(payload, out)
            .map_err(|e| corrupt(e.to_string()))?;
        if n != out.len() {
            return Err(corrupt(format!(
                "decoded {n} bytes, expected {}",
                out.len()
            )));
        }
        Ok(())
    })
}

/// Without zstd a dictionary payload cannot be read: a miss.
#[cfg(not(feature = "zstd"))]
pub(crate) fn decompress_with(
    dict: &Dict,
    _payload: &[u8],
    _out: &mut [u8],
) -> Result<(), CacheError> {
    Err(CacheError::Corrupt(format!(
        "dictionary {:08x} needs the zstd feature",
        dict.id
    )))
}

/// A compression context for `dict` at `level`, writing the content checksum.
#[cfg(feature = "zstd")]
pub(crate) fn compressor(dict: &Dict, level: i32) -> Option<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::with_dictionary(level, &dict.bytes).ok()?;
    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
        .ok()?;
    c.set_parameter(zstd::zstd_safe::CParameter::DictIdFlag(true))
        .ok()?;
    Some(c)
}

#[cfg(feature = "zstd")]
thread_local! {
    /// A few compression contexts with their dictionary and level loaded, most recent last
    /// (loading a dictionary costs more than compressing a small value with it).
    static DICT_C: std::cell::RefCell<Vec<(u32, i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Compresses `raw` with `dict` at `level` (content checksum and dictionary id written), on a
/// context kept per thread. `None` when zstd fails.
#[cfg(feature = "zstd")]
pub(crate) fn compress_with(dict: &Dict, level: i32, raw: &[u8]) -> Option<Vec<u8>> {
    DICT_C.with(|cell| {
        let mut slots = cell.borrow_mut();
        let pos = match slots
            .iter()
            .position(|(i, l, _)| *i == dict.id && *l == level)
        {
            Some(p) => p,
            None => {
                let c = compressor(dict, level)?;
                if slots.len() >= 4 {
                    slots.remove(0);
                }
                slots.push((dict.id, level, c));
                slots.len() - 1
            }
        };
        slots.get_mut(pos)?.2.compress(raw).ok()
    })
}

/// Without zstd nothing is compressed with a dictionary.
#[cfg(not(feature = "zstd"))]
pub(crate) fn compress_with(_dict: &Dict, _level: i32, _raw: &[u8]) -> Option<Vec<u8>> {
    None
}

/// Trains a dictionary of at most `max_size` bytes from `samples` (`None` if zstd cannot).
#[cfg(feature = "zstd")]
pub(crate) fn train(samples: &[Vec<u8>], max_size: usize) -> Option<Vec<u8>> {
    zstd::dict::from_samples(samples, max_size)
        .ok()
        .filter(|d| dict_id_of(d) != 0)
}

#[cfg(all(test, feature = "zstd"))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<Vec<u8>> {
        (0..400u32)
            .map(|i| {
                format!(
                    "{{\"id\":{i},\"title\":\"passage number {}\",\"lang\":\"en\",\"status\":\"published\",\"tags\":[\"alpha\",\"beta{}\"]}}",
                    i * 7919 % 1000,
                    i % 13
                )
                .into_bytes()
            })
            .collect()
    }

    fn trained() -> Dict {
        let bytes = train(&samples(), 8 << 10).expect("trained");
        Dict {
            id: dict_id_of(&bytes),
            bytes: bytes.into(),
        }
    }

    #[test]
    fn a_dictionary_round_trips_and_only_its_own_payloads_decode() {
        let d = trained();
        let mut c = compressor(&d, 6).unwrap();
        let raw = samples()[3].clone();
        let packed = c.compress(&raw).unwrap();
        let plain = zstd::bulk::compress(&raw, 6).unwrap();
        assert!(
            packed.len() < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        let mut out = vec![0u8; raw.len()];
        decompress_with(&d, &packed, &mut out).unwrap();
        assert_eq!(out, raw);
        // Another dictionary is refused (the frame names the one it needs)...
        let other_bytes = train(&samples()[200..], 4 << 10).unwrap();
        let other = Dict {
            id: dict_id_of(&other_bytes),
            bytes: other_bytes.clone().into(),
        };
        assert_ne!(other.id, d.id);
        assert!(decompress_with(&other, &packed, &mut out).is_err());
        // ...and even one forged to claim the same id never yields wrong bytes (zstd checks
        // the content checksum every dictionary payload carries).
        let forged = Dict {
            id: d.id,
            bytes: other_bytes.into(),
        };
        let mut out2 = vec![0u8; raw.len()];
        if decompress_with(&forged, &packed, &mut out2).is_ok() {
            assert_eq!(out2, raw);
        }
        // A payload without a dictionary is refused too.
        assert!(decompress_with(&d, &plain, &mut out).is_err());
    }

    #[test]
    fn dictionary_files_round_trip_and_refuse_damage() {
        let d = trained();
        let file = encode_dict_file(&d);
        assert_eq!(*decode_dict_file(&file, d.id).unwrap().bytes, *d.bytes);
        assert!(decode_dict_file(&file, d.id ^ 1).is_err());
        for n in 0..file.len() {
            assert!(
                decode_dict_file(&file[..n], d.id).is_err(),
                "truncated to {n}"
            );
        }
        for i in (0..file.len()).step_by(7) {
            let mut b = file.clone();
            b[i] ^= 0x10;
            assert!(decode_dict_file(&b, d.id).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn installed_dictionaries_are_found_on_disk_by_another_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path()).unwrap();
        let a = Dicts::new(Some(dir.path()), false);
        let bytes = train(&samples(), 8 << 10).unwrap();
        let d = a.install("text|doc", bytes).unwrap();
        assert_eq!(a.current("text|doc").unwrap().id, d.id);
        let b = Dicts::new(Some(dir.path()), true);
        assert_eq!(*b.get(d.id).unwrap().bytes, *d.bytes);
        assert!(b.get(d.id ^ 0x55).is_none());
        // A truncated file: no dictionary, not a panic.
        let path = Dicts::path_for(&dir.path().join("dicts"), d.id);
        let full = std::fs::read(&path).unwrap();
        std::fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert!(Dicts::new(Some(dir.path()), true).get(d.id).is_none());
    }

    proptest! {
        #[test]
        fn every_value_round_trips_through_a_dictionary(data in proptest::collection::vec(any::<u8>(), 0..3000), level in 1i32..=9) {
            let d = trained();
            let packed = compressor(&d, level).unwrap().compress(&data).unwrap();
            let mut out = vec![0u8; data.len()];
            decompress_with(&d, &packed, &mut out).unwrap();
            prop_assert_eq!(out, data);
        }

        #[test]
        fn garbage_never_panics_or_decodes_to_a_wrong_length(payload in proptest::collection::vec(any::<u8>(), 0..600), len in 0usize..3000) {
            let d = trained();
            let mut out = vec![0u8; len];
            let _ = decompress_with(&d, &payload, &mut out);
        }

        #[test]
        fn dictionary_file_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200), id: u32) {
            let _ = decode_dict_file(&bytes, id);
        }
    }
}
