//! One shard of the memory tier: its entries in a dense vector (so that eviction can sample
//! them uniformly), an index from key hash to position, and the frequency sketch of the keys
//! that hash here.

use std::sync::Arc;

use hashbrown::HashTable;

use super::sketch::Sketch;
use crate::entry::Stored;

/// One entry of a shard.
#[derive(Debug)]
pub(super) struct Slot {
    pub key: Arc<str>,
    pub hash: u64,
    pub value: Arc<Stored>,
    /// What the entry weighs against the budget (kept: the value's weight may not be
    /// recomputed from a replaced value).
    pub weight: u64,
}

/// Entries, index and sketch of one shard.
#[derive(Debug)]
pub(super) struct Shard {
    /// Positions in `slots`, hashed by the slot's key hash.
    index: HashTable<u32>,
    pub slots: Vec<Slot>,
    pub sketch: Sketch,
    /// State of the xorshift generator that picks eviction samples.
    rng: u64,
}

impl Shard {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            index: HashTable::new(),
            slots: Vec::new(),
            sketch: Sketch::new(),
            rng: seed | 1,
        }
    }

    /// The position of `key`.
    pub(super) fn find(&self, hash: u64, key: &str) -> Option<usize> {
        let slots = &self.slots;
        self.index
            .find(hash, |&i| {
                slots.get(i as usize).is_some_and(|s| &*s.key == key)
            })
            .map(|&i| i as usize)
    }

    /// Adds an entry whose key is not in the shard.
    pub(super) fn push(&mut self, slot: Slot) {
        let pos = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        let slots = &self.slots;
        self.index.insert_unique(slot.hash, pos, |&i| {
            slots.get(i as usize).map_or(0, |s| s.hash)
        });
        self.slots.push(slot);
        self.sketch.fit(self.slots.len());
    }

    /// Removes the entry at `pos`; the last entry moves into its place.
    pub(super) fn remove_at(&mut self, pos: usize) -> Slot {
        let hash = self.slots[pos].hash;
        let at = u32::try_from(pos).unwrap_or(u32::MAX);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == at) {
            entry.remove();
        }
        let slot = self.slots.swap_remove(pos);
        if let Some(moved) = self.slots.get(pos) {
            let last = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
            if let Some(i) = self.index.find_mut(moved.hash, |&i| i == last) {
                *i = at;
            }
        }
        slot
    }

    /// Takes every entry out.
    pub(super) fn drain(&mut self) -> Vec<Slot> {
        self.index.clear();
        std::mem::take(&mut self.slots)
    }

    /// The eviction victim among `samples` entries picked at random: the one with the fewest
    /// recent requests per byte weighed (a large cold entry goes before a small one asked for
    /// as often). Its position and request count; `None` when the shard is empty.
    pub(super) fn coldest_of(&mut self, samples: usize) -> Option<(usize, u8)> {
        let n = self.slots.len();
        if n == 0 {
            return None;
        }
        let mut best: Option<(usize, u8, u64)> = None;
        for _ in 0..samples.min(n) {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let pos = (self.rng % n as u64) as usize;
            let slot = &self.slots[pos];
            let freq = self.sketch.estimate(slot.hash);
            // freq / weight < best_freq / best_weight, without division (both fit in u128).
            let colder = best.is_none_or(|(_, f, w)| {
                u128::from(freq) * u128::from(w) < u128::from(f) * u128::from(slot.weight)
            });
            if colder {
                best = Some((pos, freq, slot.weight));
            }
        }
        best.map(|(pos, freq, _)| (pos, freq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::value::ValueKind;

    fn slot(key: &str) -> Slot {
        let value = Arc::new(Stored::new(
            ValueKind::Bytes,
            Codec::None,
            1,
            0,
            0,
            Box::new([1]),
            0,
            0,
        ));
        Slot {
            key: key.into(),
            hash: xxhash_rust::xxh3::xxh3_64(key.as_bytes()),
            value,
            weight: 1,
        }
    }

    #[test]
    fn every_key_stays_findable_through_swap_removes() {
        let mut s = Shard::new(7);
        let keys: Vec<String> = (0..500).map(|i| format!("k{i}")).collect();
        for k in &keys {
            s.push(slot(k));
        }
        // Remove every third key, from the front, so that moved entries get re-indexed.
        for k in keys.iter().step_by(3) {
            let h = xxhash_rust::xxh3::xxh3_64(k.as_bytes());
            let pos = s.find(h, k).unwrap();
            assert_eq!(&*s.remove_at(pos).key, k.as_str());
        }
        for (i, k) in keys.iter().enumerate() {
            let h = xxhash_rust::xxh3::xxh3_64(k.as_bytes());
            match s.find(h, k) {
                Some(pos) => {
                    assert!(i % 3 != 0);
                    assert_eq!(&*s.slots[pos].key, k.as_str());
                }
                None => assert_eq!(i % 3, 0),
            }
        }
        assert_eq!(s.slots.len(), 500 - 167);
        assert_eq!(s.drain().len(), 333);
        assert!(s.coldest_of(8).is_none());
    }

    #[test]
    fn the_sampled_victim_is_the_least_asked_for() {
        let mut s = Shard::new(3);
        for i in 0..4 {
            let k = format!("k{i}");
            let sl = slot(&k);
            for _ in 0..(if i == 2 { 1 } else { 9 }) {
                s.sketch.increment(sl.hash);
            }
            s.push(sl);
        }
        // 64 samples of 4 entries see them all.
        let (pos, freq) = s.coldest_of(64).unwrap();
        assert_eq!(&*s.slots[pos].key, "k2");
        assert_eq!(freq, 1);
    }

    #[test]
    fn among_equally_asked_for_entries_the_heaviest_goes_first() {
        let mut s = Shard::new(5);
        for (i, weight) in [100, 900, 300].into_iter().enumerate() {
            let mut sl = slot(&format!("k{i}"));
            sl.weight = weight;
            s.sketch.increment(sl.hash);
            s.push(sl);
        }
        let (pos, _) = s.coldest_of(64).unwrap();
        assert_eq!(&*s.slots[pos].key, "k1");
    }
}
