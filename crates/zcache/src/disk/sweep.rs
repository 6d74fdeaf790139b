//! Passes over many entries: eviction for the budget, the expiry purge, clear and verify.
//!
//! Counts report only what happened: an entry whose file could not be removed is not counted
//! as removed, stays in the index (it is still on disk), and the failure is recorded.

use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use super::files::{is_regular, remove_file};
use super::inspect::{Found, inspect};
use super::{DiskStore, Removal, key_hash, parse_entry_name};
use crate::entry::now_ms;
use crate::error::CacheError;
use crate::stats::Counters;

/// Counts of a full verification pass.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct VerifyCounts {
    pub good: u64,
    pub corrupt: u64,
    pub expired: u64,
    /// Too large for this cache, or of a codec this build lacks: left in place.
    pub skipped: u64,
    /// Not regular files: left in place.
    pub foreign: u64,
    /// Files removed (damaged or expired; never in read-only mode).
    pub removed: u64,
    /// Removals that failed.
    pub remove_failed: u64,
}

impl VerifyCounts {
    fn removal(&mut self, r: Removal) {
        match r {
            Removal::Removed => self.removed += 1,
            Removal::Failed => self.remove_failed += 1,
            Removal::Absent | Removal::Kept => {}
        }
    }
}

impl DiskStore {
    /// The hashes of every name in the directory that looks like an entry.
    fn entry_names(&self) -> Result<Vec<(u128, PathBuf)>, CacheError> {
        let mut names = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(|e| CacheError::io(&self.dir, e))? {
            let item = item.map_err(|e| CacheError::io(&self.dir, e))?;
            if let Some(hash) = item.file_name().to_str().and_then(parse_entry_name) {
                names.push((hash, item.path()));
            }
        }
        Ok(names)
    }

    /// Evicts least-recently-used entries until the tier fits its budget; returns how many
    /// files were really removed (none in read-only mode).
    pub(crate) fn evict_to_fit(&self) -> u64 {
        if self.read_only {
            return 0;
        }
        let mut index = self.index.lock();
        let mut evicted = 0;
        let mut kept = Vec::new();
        while index.bytes > self.max_bytes {
            let Some((_, hash)) = index.lru.pop_first() else {
                break;
            };
            // pop_first took the LRU slot; remove the rest without touching lru again.
            let Some(m) = index.map.remove(&hash) else {
                continue;
            };
            index.bytes = index.bytes.saturating_sub(m.file_len);
            index.raw = index.raw.saturating_sub(m.raw_len);
            match self.discard(&self.path_for(hash), None) {
                Removal::Removed => evicted += 1,
                // Gone already (another process), or no longer an entry file: nothing to hold.
                Removal::Absent | Removal::Kept => {}
                Removal::Failed => kept.push((hash, m)),
            }
        }
        // Still on disk: still counted against the budget.
        for (hash, m) in kept {
            index.restore(hash, m);
        }
        evicted
    }

    /// Removes expired entries known to the index; adds their count to `expirations` before
    /// their files are deleted (so whoever sees a file gone also sees it counted), then takes
    /// back those that could not be removed. Returns how many were removed.
    pub(crate) fn purge_expired(&self, expirations: &AtomicU64) -> u64 {
        if self.read_only {
            return 0;
        }
        let now = now_ms();
        let mut index = self.index.lock();
        let expired: Vec<u128> = index
            .map
            .iter()
            .filter(|(_, m)| m.expires_ms != 0 && m.expires_ms <= now)
            .map(|(h, _)| *h)
            .collect();
        let taken: Vec<_> = expired
            .into_iter()
            .filter_map(|h| index.remove(h).map(|m| (h, m)))
            .collect();
        Counters::add(expirations, taken.len() as u64);
        let mut removed = 0;
        for (hash, m) in taken {
            match self.discard(&self.path_for(hash), None) {
                Removal::Removed | Removal::Absent => removed += 1,
                Removal::Kept => Counters::sub(expirations, 1),
                Removal::Failed => {
                    Counters::sub(expirations, 1);
                    index.restore(hash, m);
                }
            }
        }
        removed
    }

    /// Removes every entry file (regular files named like entries; anything else is left
    /// alone); returns how many.
    ///
    /// # Errors
    /// [`CacheError::ReadOnly`]; an I/O error listing the directory;
    /// [`CacheError::RemoveFailed`] when some files could not be removed (they stay indexed).
    pub(crate) fn clear(&self) -> Result<u64, CacheError> {
        if self.read_only {
            return Err(self.read_only_error());
        }
        let names = self.entry_names()?;
        let mut index = self.index.lock();
        let mut old = std::mem::take(&mut *index);
        let (mut removed, mut failed) = (0u64, 0u64);
        let mut first = None;
        for (hash, path) in names {
            if !is_regular(&path) {
                continue;
            }
            match remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    self.note_failure(&path, &e);
                    failed += 1;
                    if let Some(m) = old.remove(hash) {
                        index.restore(hash, m);
                    }
                    first.get_or_insert((path, e));
                }
            }
        }
        self.removed.fetch_add(removed, Ordering::Relaxed);
        match first {
            None => Ok(removed),
            Some((path, source)) => Err(CacheError::RemoveFailed {
                dir: self.dir.clone(),
                path,
                source,
                failed,
                removed,
            }),
        }
    }

    /// Reads every entry file, fully decoding each. Damaged and expired entries are removed
    /// unless read-only; too large, undecodable-here and foreign files are counted and kept.
    ///
    /// # Errors
    /// An I/O error listing the directory or reading an entry.
    pub(crate) fn verify(&self, dicts: &crate::dict::Dicts) -> Result<VerifyCounts, CacheError> {
        let mut counts = VerifyCounts::default();
        let now = now_ms();
        for (hash, path) in self.entry_names()? {
            let (header, stored, ino) = match inspect(&path, self.max_raw, true)? {
                Found::Missing | Found::Entry { stored: None, .. } => continue,
                Found::Foreign(_) => {
                    counts.foreign += 1;
                    continue;
                }
                Found::TooLarge { .. } => {
                    counts.skipped += 1;
                    continue;
                }
                Found::Corrupt { reason, ino } => {
                    counts.corrupt += 1;
                    self.index.lock().remove(hash);
                    counts.removal(self.damaged(&path, &reason, ino));
                    continue;
                }
                Found::Entry {
                    header,
                    stored: Some(stored),
                    ino,
                } => (header, stored, ino),
            };
            if key_hash(&header.key) != hash {
                counts.corrupt += 1;
                counts.removal(self.damaged(&path, "named for another key", ino));
                continue;
            }
            if stored.is_expired(now) {
                counts.expired += 1;
                self.index.lock().remove(hash);
                counts.removal(self.discard(&path, Some(ino)));
                continue;
            }
            if stored.dict != 0 && dicts.get(stored.dict).is_none() {
                // Its dictionary is not here (another cache may have it): a miss, not damage.
                counts.skipped += 1;
                continue;
            }
            match stored.raw_bytes(dicts) {
                Ok(_) => {
                    counts.good += 1;
                    let mut index = self.index.lock();
                    if !index.map.contains_key(&hash) {
                        index.upsert(
                            hash,
                            &header.key,
                            header.file_len(),
                            header.raw_len,
                            header.expires_ms,
                        );
                    }
                }
                // Another build (with the feature) reads it: not damage.
                Err(CacheError::CodecUnavailable { .. }) => counts.skipped += 1,
                Err(e) => {
                    counts.corrupt += 1;
                    self.index.lock().remove(hash);
                    counts.removal(self.damaged(&path, &e.to_string(), ino));
                }
            }
        }
        Ok(counts)
    }
}
