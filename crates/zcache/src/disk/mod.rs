//! The disk tier: one checksummed file per entry, named by the xxh3-128 of the key (a key is
//! never a path), written atomically (temp file, fsync, rename), bounded with LRU eviction.
//!
//! Several processes may share a directory: reads always go to the file named by the key, so an
//! entry another process committed is found even though this process's index does not know it.

pub(crate) mod format;
mod index;

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::entry::{Stored, now_ms};
use crate::error::CacheError;
use format::{
    HEADER_LEN, Header, MAX_KEY_LEN, declared_key_len, decode_file, decode_header, encode_file,
    max_stored,
};
use index::Index;

const ENTRY_EXT: &str = "zc";
const TMP_PREFIX: &str = ".tmp.";
/// A temp file whose writer may still be alive is only removed once it is this old.
const STALE_TMP: Duration = Duration::from_secs(600);

/// What reading one entry found.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    Hit(Stored),
    Miss,
    Expired,
    /// Damaged: it has been removed (and the reason logged).
    Corrupt,
}

/// What opening a directory found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OpenReport {
    pub entries: u64,
    pub temp_removed: u64,
    pub corrupt_removed: u64,
    pub expired_removed: u64,
}

/// Counts of a full verification pass.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct VerifyCounts {
    pub good: u64,
    pub corrupt: u64,
    pub expired: u64,
}

/// The disk tier.
#[derive(Debug)]
pub(crate) struct DiskStore {
    dir: PathBuf,
    max_bytes: u64,
    max_raw: u64,
    sync: bool,
    index: Mutex<Index>,
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

#[cfg(unix)]
fn inode(meta: &fs::Metadata) -> u64 {
    meta.ino()
}
#[cfg(not(unix))]
fn inode(_meta: &fs::Metadata) -> u64 {
    0
}

fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks whether the process exists; it sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

impl DiskStore {
    /// Opens (creating) `dir`, removes stale temp files and damaged entries, rebuilds the index.
    pub(crate) fn open(
        dir: &Path,
        max_bytes: u64,
        max_raw: u64,
        sync: bool,
    ) -> Result<(Self, OpenReport), CacheError> {
        fs::create_dir_all(dir).map_err(|e| CacheError::io(dir, e))?;
        let store = Self {
            dir: dir.to_owned(),
            max_bytes,
            max_raw,
            sync,
            index: Mutex::new(Index::default()),
            seq: AtomicU64::new(0),
        };
        let mut report = OpenReport::default();
        let mut found: Vec<(u128, Header)> = Vec::new();
        let now = now_ms();
        for item in fs::read_dir(dir).map_err(|e| CacheError::io(dir, e))? {
            let item = item.map_err(|e| CacheError::io(dir, e))?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = item.path();
            if let Some(rest) = name.strip_prefix(TMP_PREFIX) {
                if store.tmp_is_stale(rest, &path) && fs::remove_file(&path).is_ok() {
                    report.temp_removed += 1;
                }
                continue;
            }
            let Some(hash) = parse_entry_name(name) else {
                continue;
            };
            match store.read_header(&path) {
                Ok(h) if key_hash(&h.key) == hash => {
                    if h.expires_ms != 0 && h.expires_ms <= now {
                        let _ = fs::remove_file(&path);
                        report.expired_removed += 1;
                    } else {
                        found.push((hash, h));
                    }
                }
                Ok(_) | Err(_) => {
                    tracing::warn!(path = %path.display(), "removing a damaged cache entry");
                    let _ = fs::remove_file(&path);
                    report.corrupt_removed += 1;
                }
            }
        }
        // Oldest first, so the LRU order starts as creation order.
        found.sort_by_key(|(_, h)| h.created_ms);
        {
            let mut index = store.index.lock();
            for (hash, h) in found {
                index.upsert(hash, &h.key, h.file_len(), h.raw_len, h.expires_ms);
                report.entries += 1;
            }
        }
        Ok((store, report))
    }

    fn tmp_is_stale(&self, rest: &str, path: &Path) -> bool {
        let pid = rest
            .split('.')
            .next()
            .and_then(|p| p.parse::<i32>().ok())
            .unwrap_or(0);
        let old = fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age > STALE_TMP);
        // Our own pid: another cache in this process may be writing it right now.
        let ours = pid == i32::try_from(std::process::id()).unwrap_or(-1);
        old || (!ours && !pid_alive(pid))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_for(&self, hash: u128) -> PathBuf {
        self.dir.join(format!("{hash:032x}.{ENTRY_EXT}"))
    }

    /// Reads and checks only the header and key of an entry file.
    fn read_header(&self, path: &Path) -> Result<Header, CacheError> {
        let mut file = File::open(path).map_err(|e| CacheError::io(path, e))?;
        let mut fixed = [0u8; HEADER_LEN];
        file.read_exact(&mut fixed)
            .map_err(|e| CacheError::io(path, e))?;
        let key_len = declared_key_len(&fixed)?;
        let mut buf = Vec::with_capacity(HEADER_LEN + key_len);
        buf.extend_from_slice(&fixed);
        buf.resize(HEADER_LEN + key_len, 0);
        file.read_exact(&mut buf[HEADER_LEN..])
            .map_err(|e| CacheError::io(path, e))?;
        let h = decode_header(&buf, self.max_raw)?;
        let len = file.metadata().map_err(|e| CacheError::io(path, e))?.len();
        if len != h.file_len() {
            return Err(CacheError::Corrupt(format!(
                "{} is {len} bytes, its header says {}",
                path.display(),
                h.file_len()
            )));
        }
        Ok(h)
    }

    /// Removes `path` if it is still the file we read (same inode), so a damaged file is not
    /// confused with a good one another process just renamed into place.
    fn remove_if_same(path: &Path, ino: u64) {
        if fs::metadata(path).is_ok_and(|m| inode(&m) == ino) {
            let _ = fs::remove_file(path);
        }
    }

    /// Reads the entry for `key`, verifying everything before returning it.
    pub(crate) fn read(&self, key: &str) -> Result<ReadOutcome, CacheError> {
        let hash = key_hash(key);
        let path = self.path_for(hash);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.index.lock().remove(hash);
                return Ok(ReadOutcome::Miss);
            }
            Err(e) => return Err(CacheError::io(&path, e)),
        };
        let meta = file.metadata().map_err(|e| CacheError::io(&path, e))?;
        let ino = inode(&meta);
        let limit = HEADER_LEN as u64 + MAX_KEY_LEN as u64 + max_stored(self.max_raw);
        let outcome = if meta.len() > limit {
            Err(CacheError::Corrupt(format!(
                "file of {} bytes is above any entry's size",
                meta.len()
            )))
        } else {
            let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
            Read::by_ref(&mut file)
                .take(limit)
                .read_to_end(&mut buf)
                .map_err(|e| CacheError::io(&path, e))?;
            decode_file(&buf, self.max_raw)
        };
        let (h, stored) = match outcome {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "removing a corrupt cache entry");
                Self::remove_if_same(&path, ino);
                self.index.lock().remove(hash);
                return Ok(ReadOutcome::Corrupt);
            }
        };
        if h.key != key {
            // A 128-bit hash collision (or a file copied by hand): not ours, leave it.
            return Ok(ReadOutcome::Miss);
        }
        if stored.is_expired(now_ms()) {
            Self::remove_if_same(&path, ino);
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

    /// Writes an entry atomically; returns how many entries were evicted to make room.
    pub(crate) fn write(&self, key: &str, stored: &Stored) -> Result<u64, CacheError> {
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

    /// Evicts least-recently-used entries until the tier fits its budget.
    pub(crate) fn evict_to_fit(&self) -> u64 {
        let mut index = self.index.lock();
        let mut evicted = 0;
        while index.bytes > self.max_bytes {
            let Some((_, hash)) = index.lru.pop_first() else {
                break;
            };
            // pop_first took the LRU slot; remove the rest without touching lru again.
            if let Some(m) = index.map.remove(&hash) {
                index.bytes = index.bytes.saturating_sub(m.file_len);
                index.raw = index.raw.saturating_sub(m.raw_len);
            }
            let _ = fs::remove_file(self.path_for(hash));
            evicted += 1;
        }
        evicted
    }

    /// Removes the entry of `key`; true if a file was removed.
    pub(crate) fn remove(&self, key: &str) -> Result<bool, CacheError> {
        let hash = key_hash(key);
        let path = self.path_for(hash);
        self.index.lock().remove(hash);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CacheError::io(&path, e)),
        }
    }

    /// True when the index knows the key (unexpired) or its file exists with a valid header.
    pub(crate) fn contains(&self, key: &str) -> bool {
        let hash = key_hash(key);
        let now = now_ms();
        if let Some(m) = self.index.lock().map.get(&hash) {
            return m.expires_ms == 0 || m.expires_ms > now;
        }
        let path = self.path_for(hash);
        self.read_header(&path)
            .is_ok_and(|h| h.key == key && (h.expires_ms == 0 || h.expires_ms > now))
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

    /// Removes expired entries known to the index, calling `removed` with their count before
    /// their files are deleted; returns how many.
    pub(crate) fn purge_expired(&self, removed: impl FnOnce(u64)) -> u64 {
        let now = now_ms();
        let mut index = self.index.lock();
        let expired: Vec<u128> = index
            .map
            .iter()
            .filter(|(_, m)| m.expires_ms != 0 && m.expires_ms <= now)
            .map(|(h, _)| *h)
            .collect();
        for h in &expired {
            index.remove(*h);
        }
        // Report before the files go, so whoever sees a file gone also sees it counted.
        removed(expired.len() as u64);
        for h in &expired {
            let _ = fs::remove_file(self.path_for(*h));
        }
        expired.len() as u64
    }

    /// Removes every entry file (and this process's index).
    pub(crate) fn clear(&self) -> Result<u64, CacheError> {
        let mut index = self.index.lock();
        *index = Index::default();
        let mut removed = 0;
        for item in fs::read_dir(&self.dir).map_err(|e| CacheError::io(&self.dir, e))? {
            let item = item.map_err(|e| CacheError::io(&self.dir, e))?;
            if item
                .file_name()
                .to_str()
                .and_then(parse_entry_name)
                .is_some()
                && fs::remove_file(item.path()).is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Reads every entry file, fully decoding each; removes the damaged and the expired.
    pub(crate) fn verify(&self) -> Result<VerifyCounts, CacheError> {
        let mut counts = VerifyCounts::default();
        let mut names = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(|e| CacheError::io(&self.dir, e))? {
            let item = item.map_err(|e| CacheError::io(&self.dir, e))?;
            if let Some(hash) = item.file_name().to_str().and_then(parse_entry_name) {
                names.push(hash);
            }
        }
        for hash in names {
            let path = self.path_for(hash);
            let key = match self.read_header(&path) {
                Ok(h) if key_hash(&h.key) == hash => h.key,
                Ok(_) | Err(_) => {
                    if path.exists() {
                        let _ = fs::remove_file(&path);
                        self.index.lock().remove(hash);
                        counts.corrupt += 1;
                    }
                    continue;
                }
            };
            match self.read(&key)? {
                ReadOutcome::Hit(s) => match s.raw_bytes() {
                    Ok(_) => counts.good += 1,
                    Err(_) => {
                        let _ = self.remove(&key);
                        counts.corrupt += 1;
                    }
                },
                ReadOutcome::Corrupt => counts.corrupt += 1,
                ReadOutcome::Expired => counts.expired += 1,
                ReadOutcome::Miss => {}
            }
        }
        Ok(counts)
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
