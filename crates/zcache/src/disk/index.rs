//! This process's index of the disk tier: sizes, expiry and least-recently-used order.

use std::collections::{BTreeMap, HashMap};

/// One indexed entry.
#[derive(Debug)]
pub(crate) struct Meta {
    pub key: String,
    pub file_len: u64,
    pub raw_len: u64,
    pub expires_ms: u64,
    pub tick: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub map: HashMap<u128, Meta>,
    pub lru: BTreeMap<u64, u128>,
    pub tick: u64,
    pub bytes: u64,
    pub raw: u64,
}

impl Index {
    pub(crate) fn upsert(
        &mut self,
        hash: u128,
        key: &str,
        file_len: u64,
        raw_len: u64,
        expires_ms: u64,
    ) {
        self.remove(hash);
        self.tick += 1;
        self.lru.insert(self.tick, hash);
        self.bytes += file_len;
        self.raw += raw_len;
        self.map.insert(
            hash,
            Meta {
                key: key.to_owned(),
                file_len,
                raw_len,
                expires_ms,
                tick: self.tick,
            },
        );
    }

    pub(crate) fn touch(&mut self, hash: u128) {
        if let Some(m) = self.map.get_mut(&hash) {
            self.lru.remove(&m.tick);
            self.tick += 1;
            m.tick = self.tick;
            self.lru.insert(self.tick, hash);
        }
    }

    /// Puts back an entry taken out (e.g. its file could not be removed) at its old place in
    /// the least-recently-used order.
    pub(crate) fn restore(&mut self, hash: u128, meta: Meta) {
        self.remove(hash);
        self.bytes += meta.file_len;
        self.raw += meta.raw_len;
        self.lru.insert(meta.tick, hash);
        self.map.insert(hash, meta);
    }

    pub(crate) fn remove(&mut self, hash: u128) -> Option<Meta> {
        let m = self.map.remove(&hash)?;
        self.lru.remove(&m.tick);
        self.bytes = self.bytes.saturating_sub(m.file_len);
        self.raw = self.raw.saturating_sub(m.raw_len);
        Some(m)
    }
}
