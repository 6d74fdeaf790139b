//! Opening a directory: checking it, clearing stale temp files, judging every file named like
//! an entry and rebuilding the index from the good ones.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use parking_lot::Mutex;

use super::format::Header;
use super::index::Index;
use super::inspect::{Found, inspect};
use super::{DiskStore, OpenReport, RemoveFailures, TMP_PREFIX, key_hash, parse_entry_name};
use crate::entry::now_ms;
use crate::error::CacheError;

/// A temp file whose writer may still be alive is only removed once it is this old.
const STALE_TMP: Duration = Duration::from_secs(600);

#[cfg(unix)]
fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks whether the process exists; it sends nothing.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}
/// Without a portable liveness check, a temp file's writer is assumed alive (its file is kept).
#[cfg(not(unix))]
fn pid_alive(pid: i32) -> bool {
    pid > 0
}

/// Checks that `dir` is a directory, creating it (unless `read_only`) when missing.
fn prepare_dir(dir: &Path, read_only: bool) -> Result<(), CacheError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(CacheError::NotADirectory {
            path: dir.to_owned(),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound && !read_only => {
            fs::create_dir_all(dir).map_err(|e| CacheError::io(dir, e))
        }
        Err(e) => Err(CacheError::io(dir, e)),
    }
}

impl DiskStore {
    /// Opens `dir` (creating it unless `read_only`), removes stale temp files and damaged or
    /// expired entries (unless `read_only`), and rebuilds the index.
    pub(crate) fn open(
        dir: &Path,
        max_bytes: u64,
        max_raw: u64,
        sync: bool,
        read_only: bool,
    ) -> Result<(Self, OpenReport), CacheError> {
        prepare_dir(dir, read_only)?;
        let store = Self {
            dir: dir.to_owned(),
            max_bytes,
            max_raw,
            sync,
            read_only,
            index: Mutex::new(Index::default()),
            failures: Mutex::new(RemoveFailures::default()),
            removed: AtomicU64::new(0),
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
                if !read_only && store.tmp_is_stale(rest, &path) && fs::remove_file(&path).is_ok() {
                    report.temp_removed += 1;
                }
                continue;
            }
            let Some(hash) = parse_entry_name(name) else {
                continue;
            };
            let found_here = match inspect(&path, max_raw, false) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "unreadable cache entry skipped");
                    report.skipped += 1;
                    continue;
                }
            };
            match found_here {
                Found::Missing => {}
                Found::Foreign(kind) => {
                    tracing::warn!(path = %path.display(), kind, "not a regular file: not a cache entry, left alone");
                    report.foreign += 1;
                }
                Found::TooLarge { declared } => {
                    tracing::info!(path = %path.display(), declared, max = max_raw,
                        "cache entry above the maximum entry size skipped");
                    report.skipped += 1;
                }
                Found::Corrupt { reason, ino } => {
                    store.damaged(&path, &reason, ino);
                    report.corrupt += 1;
                }
                Found::Entry { header, ino, .. } => {
                    if key_hash(&header.key) != hash {
                        store.damaged(&path, "named for another key", ino);
                        report.corrupt += 1;
                    } else if header.expires_ms != 0 && header.expires_ms <= now {
                        store.discard(&path, Some(ino));
                        report.expired += 1;
                    } else {
                        found.push((hash, header));
                    }
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
        let Ok(meta) = fs::symlink_metadata(path) else {
            return false;
        };
        if !meta.file_type().is_file() {
            // Ours are regular files; anything else carrying the prefix is not ours to remove.
            return false;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_none_or(|age| age > STALE_TMP);
        // Our own pid: another cache in this process may be writing it right now.
        let ours = pid == i32::try_from(std::process::id()).unwrap_or(-1);
        old || (!ours && !pid_alive(pid))
    }
}
