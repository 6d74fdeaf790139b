//! The disk tier: one checksummed file per entry, named by the xxh3-128 of the key (a key is
//! never a path), written atomically (temp file, fsync, rename), bounded with LRU eviction.
//!
//! Several processes may share a directory: reads always go to the file named by the key, so an
//! entry another process committed is found even though this process's index does not know it.
//!
//! Only regular files are entries ([`files`]); what one holds is judged in one place
//! ([`inspect`]). A store opened read-only never creates, writes or removes anything.

mod files;
pub(crate) mod format;
mod index;
mod inspect;
mod open;
mod sweep;
#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::entry::{Stored, now_ms};
use crate::error::CacheError;
use format::{Header, encode_file};
use index::Index;
use inspect::{Found, inspect};

const ENTRY_EXT: &str = "zc";
const TMP_PREFIX: &str = ".tmp.";

/// What reading one entry found.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    Hit(Stored),
    Miss,
    Expired,
    /// Damaged: removed (unless read-only) and the reason logged.
    Corrupt,
    /// A well-formed entry larger than this cache reads: left in place.
    TooLarge,
    /// Not a regular file where the entry should be: left in place.
    Foreign,
}

/// What opening a directory found. `corrupt` and `expired` were removed unless read-only;
/// `skipped` (too large or unreadable) and `foreign` (not regular files) never are.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OpenReport {
    pub entries: u64,
    pub temp_removed: u64,
    pub corrupt: u64,
    pub expired: u64,
    pub skipped: u64,
    pub foreign: u64,
}

/// What an attempt to remove one file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    Removed,
    /// Already gone.
    Absent,
    /// Left in place on purpose: read-only, not a regular file, or not the file that was read.
    Kept,
    /// The removal failed (counted and logged).
    Failed,
}

/// Removals that failed since the store was opened: how many, and the first one.
#[derive(Debug, Default, Clone)]
pub(crate) struct RemoveFailures {
    pub count: u64,
    pub first: Option<String>,
}

/// The disk tier.
#[derive(Debug)]
pub(crate) struct DiskStore {
    dir: PathBuf,
    max_bytes: u64,
    max_raw: u64,
    sync: bool,
    read_only: bool,
    index: Mutex<Index>,
    failures: Mutex<RemoveFailures>,
    /// Entry files this store removed (damaged, expired, evicted, removed, cleared).
    removed: AtomicU64,
    seq: AtomicU64,
}

pub(crate) fn key_hash(key: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key.as_bytes())
}

fn parse_entry_name(name: &str) -> Option<u128> {
    let hex = name.strip_suffix(".zc")?;
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

impl DiskStore {
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn read_only(&self) -> bool {
        self.read_only
    }

    fn path_for(&self, hash: u128) -> PathBuf {
        self.dir.join(format!("{hash:032x}.{ENTRY_EXT}"))
    }

    fn read_only_error(&self) -> CacheError {
        CacheError::ReadOnly {
            path: self.dir.clone(),
        }
    }

    /// Logs a damaged entry and removes it (unless read-only).
    fn damaged(&self, path: &Path, reason: &str, ino: u64) -> Removal {
        if self.read_only {
            tracing::warn!(path = %path.display(), reason, "damaged cache entry (read-only: left in place)");
            Removal::Kept
        } else {
            tracing::warn!(path = %path.display(), reason, "removing a damaged cache entry");
            self.discard(path, Some(ino))
        }
    }

    /// Removes `path` if it is still a regular file and, given `ino`, still the file that was
    /// read (so a damaged file is not confused with a good one another process just renamed
    /// into place). A failure is counted and logged. Never removes in read-only mode.
    fn discard(&self, path: &Path, ino: Option<u64>) -> Removal {
        if self.read_only {
            return Removal::Kept;
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Removal::Absent,
            Err(e) => {
                self.note_failure(path, &e);
                return Removal::Failed;
            }
        };
        if !meta.file_type().is_file() || ino.is_some_and(|i| i != inspect::inode(&meta)) {
            return Removal::Kept;
        }
        match files::remove_file(path) {
            Ok(()) => {
                self.removed.fetch_add(1, Ordering::Relaxed);
                Removal::Removed
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Removal::Absent,
            Err(e) => {
                self.note_failure(path, &e);
                Removal::Failed
            }
        }
    }

    fn note_failure(&self, path: &Path, e: &std::io::Error) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a cache file");
        let mut f = self.failures.lock();
        f.count += 1;
        f.first
            .get_or_insert_with(|| format!("{}: {e}", path.display()));
    }

    /// Entry files removed since the store was opened.
    pub(crate) fn removed_files(&self) -> u64 {
        self.removed.load(Ordering::Relaxed)
    }

    /// Removals that failed since the store was opened.
    pub(crate) fn remove_failures(&self) -> RemoveFailures {
        self.failures.lock().clone()
    }

    /// Reads the entry for `key`, verifying everything before returning it.
    pub(crate) fn read(&self, key: &str) -> Result<ReadOutcome, CacheError> {
        let hash = key_hash(key);
        let path = self.path_for(hash);
        let (h, stored, ino) = match inspect(&path, self.max_raw, true)? {
            Found::Entry {
                header,
                stored: Some(stored),
                ino,
            } => (header, stored, ino),
            Found::Entry { stored: None, .. } | Found::Missing => {
                self.index.lock().remove(hash);
                return Ok(ReadOutcome::Miss);
            }
            Found::Foreign(kind) => {
                tracing::debug!(path = %path.display(), kind, "not a regular file: a miss");
                self.index.lock().remove(hash);
                return Ok(ReadOutcome::Foreign);
            }
            Found::TooLarge { declared } => {
                tracing::debug!(path = %path.display(), declared, "entry above the maximum entry size: a miss");
                self.index.lock().remove(hash);
                return Ok(ReadOutcome::TooLarge);
            }
            Found::Corrupt { reason, ino } => {
                self.damaged(&path, &reason, ino);
                self.index.lock().remove(hash);
                return Ok(ReadOutcome::Corrupt);
            }
        };
        if h.key != key {
            // A 128-bit hash collision (or a file copied by hand): not ours, leave it.
            return Ok(ReadOutcome::Miss);
        }
        if stored.is_expired(now_ms()) {
            self.discard(&path, Some(ino));
            self.index.lock().remove(hash);
            return Ok(ReadOutcome::Expired);
        }
        let mut index = self.index.lock();
        if index
            .map
            .get(&hash)
            .is_some_and(|m| m.file_len == h.file_len() && m.expires_ms == h.expires_ms)
        {
            index.touch(hash);
        } else {
            index.upsert(hash, key, h.file_len(), h.raw_len, h.expires_ms);
        }
        Ok(ReadOutcome::Hit(stored))
    }

    /// The header of `key`'s entry, read without its payload (`None`: absent, damaged, too
    /// large or foreign). Changes nothing.
    pub(crate) fn peek(&self, key: &str) -> Result<Option<Header>, CacheError> {
        let path = self.path_for(key_hash(key));
        Ok(match inspect(&path, self.max_raw, false)? {
            Found::Entry { header, .. } if header.key == key => Some(header),
            _ => None,
        })
    }

    /// Writes an entry atomically; returns how many entries were evicted to make room.
    pub(crate) fn write(&self, key: &str, stored: &Stored) -> Result<u64, CacheError> {
        if self.read_only {
            return Err(self.read_only_error());
        }
        let hash = key_hash(key);
        let path = self.path_for(hash);
        let bytes = encode_file(key, stored);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self.dir.join(format!(
            "{TMP_PREFIX}{}.{seq}.{hash:032x}",
            std::process::id()
        ));
        let result = (|| -> std::io::Result<()> {
            let mut f = File::options().write(true).create_new(true).open(&tmp)?;
            f.write_all(&bytes)?;
            if self.sync {
                f.sync_all()?;
            }
            drop(f);
            fs::rename(&tmp, &path)?;
            if self.sync {
                // Make the rename itself durable.
                File::open(&self.dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(CacheError::io(&path, e));
        }
        stored.mark_on_disk();
        self.index.lock().upsert(
            hash,
            key,
            bytes.len() as u64,
            stored.raw_len,
            stored.expires_ms,
        );
        Ok(self.evict_to_fit())
    }

    /// Removes the entry of `key`; true if a file was removed. A file of another type under
    /// the entry's name is not an entry: it is left alone (false).
    pub(crate) fn remove(&self, key: &str) -> Result<bool, CacheError> {
        if self.read_only {
            return Err(self.read_only_error());
        }
        let hash = key_hash(key);
        let path = self.path_for(hash);
        self.index.lock().remove(hash);
        if !files::is_regular(&path) {
            return Ok(false);
        }
        match files::remove_file(&path) {
            Ok(()) => {
                self.removed.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => {
                self.note_failure(&path, &e);
                Err(CacheError::io(&path, e))
            }
        }
    }

    /// True when the index knows the key (unexpired) or its file exists with a valid header.
    pub(crate) fn contains(&self, key: &str) -> bool {
        let hash = key_hash(key);
        let now = now_ms();
        if let Some(m) = self.index.lock().map.get(&hash) {
            return m.expires_ms == 0 || m.expires_ms > now;
        }
        self.peek(key)
            .ok()
            .flatten()
            .is_some_and(|h| h.expires_ms == 0 || h.expires_ms > now)
    }

    /// True when this process's index knows the key.
    pub(crate) fn is_indexed(&self, key: &str) -> bool {
        self.index.lock().map.contains_key(&key_hash(key))
    }

    /// Known keys (unexpired).
    pub(crate) fn keys(&self) -> Vec<String> {
        let now = now_ms();
        self.index
            .lock()
            .map
            .values()
            .filter(|m| m.expires_ms == 0 || m.expires_ms > now)
            .map(|m| m.key.clone())
            .collect()
    }

    /// (entries, file bytes, raw bytes) known to the index.
    pub(crate) fn usage(&self) -> (u64, u64, u64) {
        let index = self.index.lock();
        (index.map.len() as u64, index.bytes, index.raw)
    }

    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
}

/// Reads a small regular file whole (`None` when missing, foreign or larger than `max`).
pub(crate) fn read_small_regular(path: &Path, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    match files::open_regular(path)? {
        files::Opened::File(f, meta) => {
            if meta.len() > max as u64 {
                return Ok(None);
            }
            let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            f.take(max as u64 + 1).read_to_end(&mut bytes)?;
            Ok((bytes.len() <= max).then_some(bytes))
        }
        files::Opened::Missing | files::Opened::Foreign(_) => Ok(None),
    }
}

/// Writes `bytes` to `path` in `dir` (created if missing) atomically: a temp file, fsync,
/// rename, fsync of the directory.
#[cfg_attr(not(feature = "zstd"), allow(dead_code))] // used by zstd dictionaries only
pub(crate) fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{}.{:x}",
        std::process::id(),
        xxhash_rust::xxh3::xxh3_64(bytes)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::options().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
