//! Model identity, deterministic cache keys and data hashes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

/// Identity of the model that produced the embeddings. Two saves with different identities
/// never share an entry: the identity is part of [`cache_key_for`] and is checked on read.
///
/// ```
/// use zcache_service::ModelInfo;
/// let m = ModelInfo::new("sentence-transformers/all-MiniLM-L6-v2")
///     .revision("0.1.0")
///     .param("pooling", "mean")
///     .param("normalize", "true");
/// assert_eq!(m.identity_hash(), m.clone().identity_hash());
/// assert_ne!(m.identity_hash(), ModelInfo::new("other").identity_hash());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub name: String,
    /// Version, revision or weights checksum, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Anything else that changes the output (pooling, normalisation, max sequence length, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

impl ModelInfo {
    /// A model known by name only.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            revision: None,
            params: BTreeMap::new(),
        }
    }

    /// Sets the revision.
    #[must_use]
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = Some(revision.into());
        self
    }

    /// Adds a parameter that changes the model's output.
    #[must_use]
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    fn hash_into(&self, h: &mut Xxh3) {
        field(h, self.name.as_bytes());
        match &self.revision {
            Some(r) => {
                h.update(&[1]);
                field(h, r.as_bytes());
            }
            None => h.update(&[0]),
        }
        h.update(&(self.params.len() as u64).to_le_bytes());
        // BTreeMap iterates in key order, so the hash does not depend on insertion order.
        for (k, v) in &self.params {
            field(h, k.as_bytes());
            field(h, v.as_bytes());
        }
    }

    /// A 32-hex-digit xxh3-128 digest of the whole identity (name, revision, params).
    #[must_use]
    pub fn identity_hash(&self) -> String {
        let mut h = Xxh3::new();
        h.update(b"membound-model-v1");
        self.hash_into(&mut h);
        format!("{:032x}", h.digest128())
    }
}

/// Length-prefixed, so that `["ab", "c"]` and `["a", "bc"]` hash differently.
fn field(h: &mut Xxh3, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The deterministic cache key for embedding `texts` with `model`: 32 hex digits of xxh3-128
/// over a domain tag, the model identity and every text, each length-prefixed.
///
/// The same texts in the same order with the same model always give the same key, on any
/// machine and across versions of this crate (the layout is versioned by the domain tag).
///
/// ```
/// use zcache_service::{cache_key_for, ModelInfo};
/// let m = ModelInfo::new("all-MiniLM-L6-v2");
/// let k = cache_key_for(&["a b", "c"], &m);
/// assert_eq!(k.len(), 32);
/// assert_eq!(k, cache_key_for(&["a b".to_string(), "c".to_string()], &m));
/// assert_ne!(k, cache_key_for(&["a", "b c"], &m));
/// ```
#[must_use]
pub fn cache_key_for<S: AsRef<str>>(texts: &[S], model: &ModelInfo) -> String {
    let mut h = Xxh3::new();
    h.update(b"membound-embeddings-key-v1");
    model.hash_into(&mut h);
    h.update(&(texts.len() as u64).to_le_bytes());
    for t in texts {
        field(&mut h, t.as_ref().as_bytes());
    }
    format!("{:032x}", h.digest128())
}

/// A content hash of `texts` alone (32 hex digits of xxh3-128, length-prefixed), for callers
/// that have no data hash of their own to pass as `data_hash`.
#[must_use]
pub fn data_hash_for<S: AsRef<str>>(texts: &[S]) -> String {
    let mut h = Xxh3::new();
    h.update(b"membound-data-v1");
    h.update(&(texts.len() as u64).to_le_bytes());
    for t in texts {
        field(&mut h, t.as_ref().as_bytes());
    }
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_is_stable_across_builds() {
        // Pinned: a change to the key layout must be deliberate (and bump the domain tag).
        let m = ModelInfo::new("all-MiniLM-L6-v2");
        let k = cache_key_for(&["hello", "world"], &m);
        assert_eq!(k, "14795a59309ff65e2389566ba62b9cdc");
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            k,
            cache_key_for(&["hello", "world"], &m.clone().revision("2"))
        );
        assert_ne!(k, cache_key_for(&["world", "hello"], &m));
        assert_ne!(k, cache_key_for(&["hello", "world", ""], &m));
        assert_ne!(cache_key_for::<&str>(&[], &m), cache_key_for(&[""], &m));
        assert_ne!(data_hash_for(&["hello"]), cache_key_for(&["hello"], &m));
    }

    #[test]
    fn params_do_not_depend_on_insertion_order() {
        let a = ModelInfo::new("m").param("x", "1").param("y", "2");
        let b = ModelInfo::new("m").param("y", "2").param("x", "1");
        assert_eq!(a.identity_hash(), b.identity_hash());
        assert_ne!(
            a.identity_hash(),
            ModelInfo::new("m").param("x", "12").identity_hash()
        );
        // Revision `None` and `Some("")` are different identities.
        assert_ne!(
            ModelInfo::new("m").identity_hash(),
            ModelInfo::new("m").revision("").identity_hash()
        );
    }

    proptest! {
        #[test]
        fn splitting_texts_differently_changes_the_key(a in ".{0,20}", b in ".{0,20}", cut in 0usize..40) {
            let joined = format!("{a}{b}");
            let cut = (0..=joined.len()).filter(|&i| joined.is_char_boundary(i)).nth(cut).unwrap_or(joined.len());
            let (x, y) = joined.split_at(cut);
            let m = ModelInfo::new("m");
            if (x, y) != (a.as_str(), b.as_str()) {
                prop_assert_ne!(cache_key_for(&[a.as_str(), b.as_str()], &m), cache_key_for(&[x, y], &m));
            }
        }
    }
}
