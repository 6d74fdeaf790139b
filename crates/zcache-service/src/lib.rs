//! Embeddings cache on zcache: lossless or f16/int8 precision, texts alongside, `.npy` interop.
//!
//! Sentence embeddings (float32, N x 384 and up) are expensive to compute and cheap to keep.
//! [`CacheService`] stores a matrix with its texts under a key derived from the model and the
//! texts ([`cache_key_for`]), in a compressed memory tier over a checksummed disk tier
//! ([`zcache`]). An entry saved for another model or data hash is stale: a miss, never data.
//!
//! ```
//! use zcache_service::{cache_key_for, data_hash_for, CacheService, Embeddings, ModelInfo, Precision};
//!
//! let dir = tempfile::tempdir()?;
//! let service = CacheService::builder()
//!     .cache_dir(dir.path())
//!     .max_cache_size(1 << 30)
//!     .precision(Precision::F32) // lossless, the default
//!     .build()?;
//!
//! let texts = ["first passage", "second passage"];
//! let model = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2");
//! let embeddings = Embeddings::new(vec![0.6, 0.8, 0.0, 1.0], 2, 2)?;
//! let key = cache_key_for(&texts, &model);
//! let data_hash = data_hash_for(&texts);
//!
//! assert!(service.save_embeddings_compressed(&key, &embeddings, &texts, &model, &data_hash)?);
//! let (back, back_texts) = service.get_cached_embeddings_fast(&key)?.expect("a hit");
//! assert_eq!(back, embeddings);           // bit-identical at f32
//! assert_eq!(back_texts, texts);
//!
//! // Another model under the same key is stale: a miss.
//! let other = ModelInfo::new("another-model");
//! assert!(service.get_cached_embeddings_checked(&key, &other, &data_hash)?.is_none());
//!
//! let stats = service.get_enhanced_cache_stats();
//! assert_eq!(stats.entry_count, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Precision and size
//!
//! | [`Precision`] | stored / raw on real MiniLM embeddings | fidelity |
//! |---|---|---|
//! | `F32` (default) | ~0.84 (byte shuffle + zstd) | bit-identical |
//! | `F16` | ~0.42 | min cosine >= 0.99999 |
//! | `Int8` (per-row scale) | ~0.25 | min cosine >= 0.9999, recall@10 ~0.99 |
//!
//! The seed guide's "Embedding Cache 800 MB -> 240 MB" (0.30) is reachable **only with
//! `Int8`**: the three low bytes of each float32 of a real embedding are noise, so no lossless
//! method gets much below 0.84. Every save reports the fidelity kept ([`SaveReport`]) and the
//! stats list it per entry ([`EnhancedCacheStats`]).
//!
//! # Interop
//!
//! [`read_npy`] and [`write_npy`] read and write NumPy `.npy` files (2-D `<f4`, C order;
//! versions 1.0, 2.0 and 3.0 on read), so Python code can load the same matrices with
//! `numpy.load`.
//!
//! # Features
//!
//! - `ndarray`: conversions between [`Embeddings`] and `ndarray::Array2<f32>` /
//!   `ArrayView2<f32>`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod builder;
mod embeddings;
mod entry;
mod error;
mod fidelity;
mod index;
mod input;
mod jsonl;
mod key;
mod lookup;
mod maintenance;
#[cfg(feature = "ndarray")]
mod ndarray_conv;
pub mod npy;
pub mod precision;
mod service;
mod stats;
mod texts;

pub use builder::CacheServiceBuilder;
pub use embeddings::{Embeddings, EmbeddingsRef};
pub use entry::EntryMeta;
pub use error::{Result, ServiceError};
pub use fidelity::{Fidelity, cosine_similarity, fidelity, recall_at_k};
pub use jsonl::{
    MAX_TEXT_LINE_BYTES, MAX_TEXTS_BYTES, TextsLimits, read_texts_jsonl, read_texts_jsonl_with,
};
pub use key::{ModelInfo, cache_key_for, data_hash_for};
pub use maintenance::ServiceOptimizeReport;
/// Byte-size units (re-exported from `mem-monitor`): sizes in this crate's APIs are bytes.
pub use mem_monitor::{GIB, KIB, MIB};
pub use npy::{read_npy, write_npy};
pub use precision::Precision;
pub use service::{CacheService, SaveReport};
pub use stats::{EnhancedCacheStats, EntryStats, PRECISION_NOTE};
pub use zcache::{Codec, InnerCodec, RedisTier, SharedTierStats};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
