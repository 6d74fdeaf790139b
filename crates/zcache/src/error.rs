//! The crate's error type.

use std::path::PathBuf;

/// Why a cache operation failed.
///
/// A corrupt disk entry is *not* an error for `get`: it is counted, removed and reported as a
/// miss. The corruption variants surface only from the lower-level decoders and `verify`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A builder setting is out of range.
    #[error("invalid cache setting: {0}")]
    InvalidConfig(String),
    /// A codec name that `Codec::from_str` does not know.
    #[error(
        "unknown compression method {name:?}: expected one of none, lz4, gzip, zstd, shuffle, auto"
    )]
    UnknownCodec {
        /// The name as given.
        name: String,
    },
    /// A codec this build was compiled without (the `gzip` / `zstd` features of mem-zcache).
    /// On `get` such an entry is a miss; it is left in place for builds that can read it.
    #[error("codec {codec} is not compiled in: enable the `{feature}` feature of mem-zcache")]
    CodecUnavailable {
        /// The codec as text (e.g. `zstd:3`).
        codec: String,
        /// The Cargo feature that provides it.
        feature: &'static str,
    },
    /// A key that cannot be stored (too long).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key (its first 64 characters).
        key: String,
        /// Why.
        reason: String,
    },
    /// A value larger than the configured maximum entry size.
    #[error("value for key {key:?} is {size} bytes, above the maximum entry size of {max} bytes")]
    EntryTooLarge {
        /// The key.
        key: String,
        /// The value's raw size in bytes.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The stored value is of another kind than the one asked for (e.g. stored as `[f32]`,
    /// read as `str`).
    #[error("key {key:?} holds a {stored} value, not a {requested}")]
    KindMismatch {
        /// The key.
        key: String,
        /// What is stored.
        stored: String,
        /// What was asked for.
        requested: String,
    },
    /// Compressing a value failed.
    #[error("compressing with {codec} failed: {reason}")]
    Compress {
        /// The codec's name.
        codec: String,
        /// What the codec library said.
        reason: String,
    },
    /// Stored bytes do not decode: a bad payload, wrong length or bad UTF-8.
    #[error("corrupt entry: {0}")]
    Corrupt(String),
    /// A disk entry's checksum does not match its content.
    #[error("checksum mismatch in {path}")]
    ChecksumMismatch {
        /// The entry file.
        path: PathBuf,
    },
    /// A file in the cache directory does not start with the entry magic.
    #[error("bad magic in {path}: not a zcache entry")]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The disk is full (ENOSPC or EDQUOT) while writing an entry.
    #[error("no space left on device while writing {path}")]
    NoSpace {
        /// The file being written.
        path: PathBuf,
    },
    /// Any other I/O failure, with the path concerned.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A serde value could not be (de)serialized.
    #[error("serializing the value for key {key:?} failed: {source}")]
    Serde {
        /// The key.
        key: String,
        /// The serde_json error.
        #[source]
        source: serde_json::Error,
    },
    /// The disk directory given is something else than a directory (e.g. a regular file).
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path given as the directory.
        path: PathBuf,
    },
    /// A write or removal on a cache opened with
    /// [`read_only`](crate::CacheBuilder::read_only).
    #[error("{path}: the cache was opened read-only")]
    ReadOnly {
        /// The cache directory.
        path: PathBuf,
    },
    /// Files that had to be removed could not be (e.g. a read-only directory). Whatever was
    /// removed is gone; `failed` files are still there.
    #[error(
        "{dir}: could not remove {failed} file(s) ({removed} removed); first: {path}: {source}"
    )]
    RemoveFailed {
        /// The cache directory.
        dir: PathBuf,
        /// The first file that could not be removed.
        path: PathBuf,
        /// Why the first one failed.
        #[source]
        source: std::io::Error,
        /// How many removals failed.
        failed: u64,
        /// How many files were removed.
        removed: u64,
    },
    /// The shared tier refused the connection's settings at `build()`: a wrong password or
    /// user, a database that does not exist, a URL the client cannot parse. (A server that
    /// cannot be reached is not an error: the cache starts without it and retries.) The
    /// password never appears in `endpoint` or `reason`.
    #[error("shared tier {endpoint}: {reason}")]
    SharedTier {
        /// The server's URL, password replaced by `***`.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The background cleanup thread could not be started.
    #[error("could not start the cache cleanup thread: {0}")]
    Spawn(#[source] std::io::Error),
}

impl CacheError {
    /// Wraps an I/O error with its path, mapping a full disk to [`CacheError::NoSpace`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        match source.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Self::NoSpace { path }
            }
            _ => Self::Io { path, source },
        }
    }

    /// True for the variants that mean "the stored bytes are damaged".
    #[must_use]
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Self::Corrupt(_) | Self::ChecksumMismatch { .. } | Self::BadMagic { .. }
        )
    }
}
