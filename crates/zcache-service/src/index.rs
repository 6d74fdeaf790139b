//! The service's in-memory index: what each entry is, how many bytes it holds, and recency for
//! least-recently-used eviction under `max_cache_size`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::entry::EntryMeta;

/// The record kept beside each blob (as its own small zcache entry) so that listing the cache
/// and computing stats never reads the blobs.
///
/// The blob and its record are two files, so a kill between their two writes can leave a new
/// blob beside an old record (or the reverse). The record therefore names the blob it belongs
/// to by `blob_checksum` (zcache's checksum of the blob, readable from the blob's header
/// alone); a record whose blob does not match is never believed, and the blob, which describes
/// itself, is the truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MetaRecord {
    pub(crate) meta: EntryMeta,
    /// Size of the blob handed to zcache.
    pub(crate) blob_bytes: u64,
    /// The zcache checksum of the blob this record describes (absent in records written before
    /// it existed: such a record is re-derived from its blob).
    #[serde(default)]
    pub(crate) blob_checksum: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) meta: EntryMeta,
    /// Blob plus metadata record: what the entry costs against the size limit.
    pub(crate) stored_bytes: u64,
    last_used: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    slots: HashMap<String, Slot>,
    tick: u64,
    total: u64,
}

impl Index {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Inserts or replaces an entry as the most recently used.
    pub(crate) fn insert(&mut self, meta: EntryMeta, stored_bytes: u64) {
        let last_used = self.next_tick();
        let key = meta.key.clone();
        self.total = self.total.saturating_add(stored_bytes);
        if let Some(old) = self.slots.insert(
            key,
            Slot {
                meta,
                stored_bytes,
                last_used,
            },
        ) {
            self.total = self.total.saturating_sub(old.stored_bytes);
        }
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Slot> {
        let old = self.slots.remove(key)?;
        self.total = self.total.saturating_sub(old.stored_bytes);
        Some(old)
    }

    /// Marks `key` as just used; false if it is not indexed.
    pub(crate) fn touch(&mut self, key: &str) -> bool {
        let tick = self.next_tick();
        match self.slots.get_mut(key) {
            Some(s) => {
                s.last_used = tick;
                true
            }
            None => false,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Slot> {
        self.slots.get(key)
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.slots.contains_key(key)
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.values()
    }

    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.slots.keys().cloned().collect();
        keys.sort_unstable();
        keys
    }

    /// The least recently used keys (never `keep`) to evict so that the entries left, plus
    /// `incoming` bytes replacing `keep`'s current entry, fit in `limit`.
    pub(crate) fn victims(&self, incoming: u64, limit: u64, keep: &str) -> Vec<String> {
        let replaced = self.slots.get(keep).map_or(0, |s| s.stored_bytes);
        let mut total = self.total.saturating_sub(replaced).saturating_add(incoming);
        if total <= limit {
            return Vec::new();
        }
        let mut order: Vec<(&String, &Slot)> = self
            .slots
            .iter()
            .filter(|(k, _)| k.as_str() != keep)
            .collect();
        order.sort_unstable_by_key(|(_, s)| s.last_used);
        let mut out = Vec::new();
        for (k, s) in order {
            if total <= limit {
                break;
            }
            total = total.saturating_sub(s.stored_bytes);
            out.push(k.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fidelity::Fidelity;
    use crate::key::ModelInfo;
    use crate::precision::Precision;
    use zcache::Codec;

    fn meta(key: &str) -> EntryMeta {
        EntryMeta {
            format: crate::entry::FORMAT,
            key: key.into(),
            model: ModelInfo::new("m"),
            data_hash: String::new(),
            precision: Precision::F32,
            rows: 1,
            dim: 1,
            fidelity: Fidelity::EXACT,
            created_unix_ms: 0,
            save_id: 0,
            texts_codec: Codec::None,
            texts_raw_len: 0,
            texts_stored_len: 0,
            matrix_codec: Codec::None,
            matrix_encoded_len: 4,
            matrix_stored_len: 4,
        }
    }

    #[test]
    fn evicts_least_recently_used_first() {
        let mut ix = Index::default();
        for k in ["a", "b", "c"] {
            ix.insert(meta(k), 10);
        }
        assert_eq!(ix.total(), 30);
        assert!(ix.touch("a"));
        assert!(!ix.touch("zz"));
        assert_eq!(ix.victims(10, 40, "d"), Vec::<String>::new());
        assert_eq!(ix.victims(10, 30, "d"), vec!["b".to_owned()]);
        assert_eq!(
            ix.victims(25, 30, "d"),
            vec!["b".to_owned(), "c".to_owned(), "a".to_owned()]
        );
        // Replacing an entry frees its old size first and never evicts itself.
        assert_eq!(ix.victims(15, 35, "b"), Vec::<String>::new());
        assert_eq!(ix.victims(25, 35, "b"), vec!["c".to_owned()]);
        ix.insert(meta("b"), 12);
        assert_eq!((ix.len(), ix.total()), (3, 32));
        assert!(ix.remove("b").is_some());
        assert_eq!((ix.len(), ix.total()), (2, 20));
        assert_eq!(ix.keys(), vec!["a".to_owned(), "c".to_owned()]);
    }
}
