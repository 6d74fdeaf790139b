//! One cached item as bytes: a self-describing blob holding metadata, texts and matrix.
//!
//! Layout: `magic [8] | meta_len u32 LE | meta (JSON) | texts section | matrix section`.
//! Each section is compressed on its own with the codec named in the metadata (zcache's codecs:
//! the matrix byte-shuffled by element width, the texts with a general-purpose codec), and the
//! blob is handed to zcache as it is. One zcache entry per item means a save or an eviction can
//! never leave half an item behind, and zcache's checksum covers all of it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use zcache::Codec;

use crate::embeddings::{Embeddings, EmbeddingsRef};
use crate::error::{Result, ServiceError};
use crate::fidelity::{Fidelity, fidelity};
use crate::key::ModelInfo;
use crate::precision::{self, Precision};
use crate::texts;

const MAGIC: &[u8; 8] = b"MKEMB\x00\x01\x00";
/// Version of [`EntryMeta`]'s layout; a blob of another version is a miss.
pub(crate) const FORMAT: u32 = 1;
/// The JSON metadata is small; anything bigger than this is corrupt.
const MAX_META: usize = 1 << 20;

/// Everything known about one cached item except its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// Layout version of the blob.
    pub format: u32,
    /// The service-level cache key.
    pub key: String,
    /// The model that produced the embeddings.
    pub model: ModelInfo,
    /// The caller's data hash at save time.
    pub data_hash: String,
    /// The precision the matrix is stored at.
    pub precision: Precision,
    /// Number of vectors (and of texts).
    pub rows: u64,
    /// Length of each vector.
    pub dim: u64,
    /// How faithful the stored matrix is to what was saved.
    pub fidelity: Fidelity,
    /// Save time, milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// Identifies the save that wrote the entry (unique per save, across processes).
    pub save_id: u64,
    /// Codec of the texts section.
    pub texts_codec: Codec,
    /// Uncompressed size of the texts section.
    pub texts_raw_len: u64,
    /// Stored size of the texts section.
    pub texts_stored_len: u64,
    /// Codec of the matrix section.
    pub matrix_codec: Codec,
    /// Size of the encoded matrix before compression (depends on the precision).
    pub matrix_encoded_len: u64,
    /// Stored size of the matrix section.
    pub matrix_stored_len: u64,
}

impl EntryMeta {
    /// The matrix as float32 (`rows * dim * 4`): what ratios are measured against.
    #[must_use]
    pub fn matrix_raw_bytes(&self) -> u64 {
        self.rows.saturating_mul(self.dim).saturating_mul(4)
    }

    /// The stored matrix over [`matrix_raw_bytes`](Self::matrix_raw_bytes) (1.0 for an empty
    /// matrix): the embedding compression ratio.
    #[must_use]
    pub fn matrix_ratio(&self) -> f64 {
        crate::stats::ratio(self.matrix_stored_len, self.matrix_raw_bytes())
    }
}

/// What to store and how.
pub(crate) struct EntryInput<'a> {
    pub(crate) key: &'a str,
    pub(crate) embeddings: EmbeddingsRef<'a>,
    pub(crate) model: &'a ModelInfo,
    pub(crate) data_hash: &'a str,
    pub(crate) precision: Precision,
    pub(crate) texts_codec: Codec,
    pub(crate) matrix_codec: Codec,
}

/// Compresses `raw` with `codec`, keeping it raw when that is not smaller.
fn squeeze<'r>(codec: Codec, raw: &'r [u8], key: &str) -> Result<(Codec, Cow<'r, [u8]>)> {
    if codec == Codec::None || raw.is_empty() {
        return Ok((Codec::None, Cow::Borrowed(raw)));
    }
    let packed = codec.compress(raw).map_err(|source| ServiceError::Cache {
        key: key.to_owned(),
        source,
    })?;
    if packed.len() < raw.len() {
        Ok((codec, Cow::Owned(packed)))
    } else {
        Ok((Codec::None, Cow::Borrowed(raw)))
    }
}

/// The matrix as little-endian bytes at `precision`, borrowed when the memory layout already is.
fn matrix_bytes(precision: Precision, e: EmbeddingsRef<'_>) -> Result<Cow<'_, [u8]>> {
    #[cfg(target_endian = "little")]
    if precision == Precision::F32 {
        return Ok(Cow::Borrowed(bytemuck::cast_slice(e.as_slice())));
    }
    precision::encode(precision, e).map(Cow::Owned)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A save id: the key, the process, the time in nanoseconds and a counter, hashed.
fn next_save_id(key: &str) -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(key.as_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&nanos.to_le_bytes());
    h.update(&n.to_le_bytes());
    h.digest()
}

/// Builds the blob for one item; also returns its metadata.
pub(crate) fn build<S: AsRef<str>>(
    input: &EntryInput<'_>,
    texts: &[S],
) -> Result<(Vec<u8>, EntryMeta)> {
    let e = input.embeddings;
    if texts.len() != e.rows() {
        return Err(ServiceError::InvalidInput(format!(
            "key {:?}: {} texts for {} embedding rows; they must match one to one",
            input.key,
            texts.len(),
            e.rows()
        )));
    }
    let encoded = matrix_bytes(input.precision, e)?;
    let fidelity = if input.precision.is_lossless() {
        Fidelity::EXACT
    } else {
        let back = precision::decode(input.precision, e.rows(), e.dim(), &encoded)
            .ok_or_else(|| ServiceError::InvalidInput("encoded matrix did not decode".into()))?;
        fidelity(e, back.view())?
    };
    let raw_texts = texts::encode(texts).ok_or_else(|| {
        ServiceError::InvalidInput(format!("key {:?}: a text is longer than 4 GiB", input.key))
    })?;
    let (texts_codec, packed_texts) = squeeze(input.texts_codec, &raw_texts, input.key)?;
    let (matrix_codec, packed_matrix) = squeeze(input.matrix_codec, &encoded, input.key)?;
    let meta = EntryMeta {
        format: FORMAT,
        key: input.key.to_owned(),
        model: input.model.clone(),
        data_hash: input.data_hash.to_owned(),
        precision: input.precision,
        rows: e.rows() as u64,
        dim: e.dim() as u64,
        fidelity,
        created_unix_ms: now_ms(),
        save_id: next_save_id(input.key),
        texts_codec,
        texts_raw_len: raw_texts.len() as u64,
        texts_stored_len: packed_texts.len() as u64,
        matrix_codec,
        matrix_encoded_len: encoded.len() as u64,
        matrix_stored_len: packed_matrix.len() as u64,
    };
    let meta_json = serde_json::to_vec(&meta).map_err(|e| {
        ServiceError::InvalidInput(format!(
            "key {:?}: metadata does not serialize: {e}",
            input.key
        ))
    })?;
    let meta_len = u32::try_from(meta_json.len())
        .ok()
        .filter(|&n| (n as usize) <= MAX_META)
        .ok_or_else(|| {
            ServiceError::InvalidInput(format!(
                "key {:?}: metadata above {MAX_META} bytes",
                input.key
            ))
        })?;
    let mut blob =
        Vec::with_capacity(12 + meta_json.len() + packed_texts.len() + packed_matrix.len());
    blob.extend_from_slice(MAGIC);
    blob.extend_from_slice(&meta_len.to_le_bytes());
    blob.extend_from_slice(&meta_json);
    blob.extend_from_slice(&packed_texts);
    blob.extend_from_slice(&packed_matrix);
    Ok((blob, meta))
}

/// A parsed blob: metadata and the still-compressed sections.
pub(crate) struct Parsed<'a> {
    pub(crate) meta: EntryMeta,
    texts: &'a [u8],
    matrix: &'a [u8],
}

/// Splits a blob; `None` when it is not a well-formed blob of this format whose declared sizes
/// stay under `max_raw` bytes (so that decoding never allocates beyond that).
pub(crate) fn parse(blob: &[u8], max_raw: u64) -> Option<Parsed<'_>> {
    let rest = blob.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len))
        .ok()
        .filter(|&n| n <= MAX_META)?;
    let (meta_json, rest) = rest.split_at_checked(len)?;
    let meta: EntryMeta = serde_json::from_slice(meta_json).ok()?;
    if meta.format != FORMAT || meta.dim == 0 {
        return None;
    }
    let rows = usize::try_from(meta.rows).ok()?;
    let dim = usize::try_from(meta.dim).ok()?;
    let encoded = meta.precision.encoded_len(rows, dim)?;
    if encoded as u64 != meta.matrix_encoded_len
        || meta.matrix_raw_bytes() > max_raw
        || meta.texts_raw_len > max_raw
    {
        return None;
    }
    let (texts, rest) = rest.split_at_checked(usize::try_from(meta.texts_stored_len).ok()?)?;
    let (matrix, rest) = rest.split_at_checked(usize::try_from(meta.matrix_stored_len).ok()?)?;
    if !rest.is_empty() {
        return None;
    }
    Some(Parsed {
        meta,
        texts,
        matrix,
    })
}

impl Parsed<'_> {
    /// Decompresses and decodes the texts; `None` when they are damaged or not one per row.
    pub(crate) fn texts(&self) -> Option<Vec<String>> {
        let raw = self
            .meta
            .texts_codec
            .decompress(self.texts, usize::try_from(self.meta.texts_raw_len).ok()?)
            .ok()?;
        let texts = texts::decode(&raw)?;
        (texts.len() as u64 == self.meta.rows).then_some(texts)
    }

    /// Decompresses and decodes the matrix to f32; `None` when it is damaged.
    pub(crate) fn matrix(&self) -> Option<Embeddings> {
        let rows = usize::try_from(self.meta.rows).ok()?;
        let dim = usize::try_from(self.meta.dim).ok()?;
        let codec = self.meta.matrix_codec;
        match self.meta.precision {
            // Decompress straight into the f32 buffer: no second pass over 4 bytes per value.
            #[cfg(target_endian = "little")]
            Precision::F32 => {
                let mut values = vec![0.0f32; rows.checked_mul(dim)?];
                codec
                    .decompress_into(self.matrix, bytemuck::cast_slice_mut(&mut values))
                    .ok()?;
                Embeddings::new(values, rows, dim).ok()
            }
            // Decompress into the f16 buffer, then widen with the CPU's f16 conversion.
            #[cfg(target_endian = "little")]
            Precision::F16 => {
                use half::slice::HalfFloatSliceExt;
                let n = rows.checked_mul(dim)?;
                let mut halves = vec![half::f16::ZERO; n];
                codec
                    .decompress_into(self.matrix, bytemuck::cast_slice_mut(&mut halves))
                    .ok()?;
                let mut values = vec![0.0f32; n];
                halves.convert_to_f32_slice(&mut values);
                Embeddings::new(values, rows, dim).ok()
            }
            p => {
                let len = usize::try_from(self.meta.matrix_encoded_len).ok()?;
                let raw = codec.decompress(self.matrix, len).ok()?;
                precision::decode(p, rows, dim, &raw)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use zcache::InnerCodec;

    fn input<'a>(
        e: EmbeddingsRef<'a>,
        model: &'a ModelInfo,
        precision: Precision,
    ) -> EntryInput<'a> {
        EntryInput {
            key: "k",
            embeddings: e,
            model,
            data_hash: "d",
            precision,
            texts_codec: Codec::Lz4,
            matrix_codec: Codec::Shuffle {
                width: 4,
                inner: InnerCodec::Zstd(1),
            },
        }
    }

    #[test]
    fn every_precision_round_trips() -> Result<()> {
        let model = ModelInfo::new("m");
        let data: Vec<f32> = (0..64 * 16)
            .map(|i| ((i * 37 % 19) as f32 - 9.0) / 10.0)
            .collect();
        let e = Embeddings::new(data, 64, 16)?;
        let texts: Vec<String> = (0..64).map(|i| format!("text number {i}")).collect();
        for p in Precision::ALL {
            let mut inp = input(e.view(), &model, p);
            if p != Precision::F32 {
                inp.matrix_codec = Codec::Shuffle {
                    width: 2,
                    inner: InnerCodec::Zstd(1),
                };
            }
            let (blob, meta) = build(&inp, &texts)?;
            let parsed = parse(&blob, u64::MAX).expect("parses");
            // JSON keeps f64 to within an ulp; everything else exactly.
            let f = parsed.meta.fidelity;
            assert!((f.min_cosine - meta.fidelity.min_cosine).abs() < 1e-12);
            assert_eq!(
                EntryMeta {
                    fidelity: meta.fidelity,
                    ..parsed.meta.clone()
                },
                meta
            );
            assert_eq!(parsed.texts().as_ref(), Some(&texts));
            let back = parsed.matrix().expect("matrix");
            assert_eq!(back, p.round_trip(e.view())?);
            assert_eq!(meta.fidelity.exact, p == Precision::F32);
            // Any truncation is a clean miss.
            assert!(parse(&blob[..blob.len() - 1], u64::MAX).is_none());
            // A size cap below the matrix refuses the blob before decoding.
            assert!(parse(&blob, 100).is_none());
        }
        let bad = build(&input(e.view(), &model, Precision::F32), &texts[..3]);
        assert!(bad.is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn any_entry_round_trips(
            rows in 0usize..12,
            dim in 1usize..20,
            seed in proptest::collection::vec(-2.0f32..2.0, 1..64),
            texts in proptest::collection::vec(".{0,12}", 12),
            p in 0usize..3,
        ) {
            let precision = Precision::ALL[p];
            let model = ModelInfo::new("m").param("k", "v");
            let e = Embeddings::new((0..rows * dim).map(|i| seed[i % seed.len()]).collect(), rows, dim).expect("shape");
            let texts = &texts[..rows];
            let (blob, meta) = build(&input(e.view(), &model, precision), texts).expect("build");
            let parsed = parse(&blob, u64::MAX).expect("parses");
            prop_assert_eq!(&parsed.meta.model, &meta.model);
            let back = parsed.texts();
            prop_assert_eq!(back.as_deref(), Some(texts));
            prop_assert_eq!(parsed.matrix(), Some(precision.round_trip(e.view()).expect("finite")));
        }

        #[test]
        fn damaged_blobs_never_panic(flip in 0usize..4000, bit in 0u8..8, cut in 0usize..4000) {
            let model = ModelInfo::new("m");
            let e = Embeddings::new((0..40).map(|i| i as f32 / 7.0).collect(), 10, 4).expect("shape");
            let texts: Vec<String> = (0..10).map(|i| "x".repeat(i)).collect();
            let (mut blob, _) = build(&input(e.view(), &model, Precision::F16), &texts).expect("build");
            let i = flip % blob.len();
            blob[i] ^= 1 << bit;
            blob.truncate(blob.len() - cut % blob.len());
            if let Some(p) = parse(&blob, 1 << 20) {
                let _ = p.texts();
                let _ = p.matrix();
            }
        }
    }
}
