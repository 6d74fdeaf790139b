//! The crate's error type.

use std::path::PathBuf;

/// Why an embeddings-cache, `.npy` or precision operation failed.
///
/// A cache *miss* (absent, stale or corrupt entry) is never an error: the getters return
/// `Ok(None)`. Errors are for bad input, bad configuration and I/O that could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The shape does not match the data (`rows * dim != len`), or a dimension is zero.
    #[error("invalid embeddings shape: {0}")]
    Shape(String),
    /// Input the operation cannot accept (e.g. texts count differs from rows, non-finite value
    /// for a lossy precision).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A builder setting is out of range.
    #[error("invalid cache service setting: {0}")]
    InvalidConfig(String),
    /// A `.npy` file is malformed or holds something other than a 2-D little-endian float32 C-order array.
    #[error("{path}: not a supported .npy file: {reason}")]
    Npy {
        /// The file (or `<reader>` for an anonymous stream).
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// An input or output path that is not a regular file (a FIFO, device, socket, directory
    /// or, for outputs, a symbolic link): refused, since it cannot be read in bounded time and
    /// memory, or must not be replaced.
    #[error("{path}: {kind}, not a regular file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead ("a FIFO", "a character device", ...).
        kind: &'static str,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The underlying compressed cache failed (disk error, full disk, ...).
    #[error("cache entry {key:?}: {source}")]
    Cache {
        /// The service-level cache key involved.
        key: String,
        /// The zcache error.
        #[source]
        source: zcache::CacheError,
    },
    /// Opening the underlying compressed cache failed.
    #[error("opening the compressed cache: {0}")]
    Open(#[source] zcache::CacheError),
    /// An unknown precision name.
    #[error("unknown precision {0:?}: expected f32, f16 or int8")]
    UnknownPrecision(String),
}

impl ServiceError {
    pub(crate) fn npy(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Npy {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
