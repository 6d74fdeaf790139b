//! Crate errors -> Python exceptions, with the crates' own messages (those the CLI prints).
//!
//! The classes live in `membound/_errors.py` (so that `FileAccessError` can also be an
//! `OSError`); a setting out of range is a `ValueError`, as any bad argument.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The exception classes of `membound._errors`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// `membound.Error`: anything else the crates report.
    Base,
    /// `membound.FileFormatError`: the content is not what its format promises.
    FileFormat,
    /// `membound.FileAccessError` (also an `OSError`): cannot open, read or write a path.
    FileAccess,
    /// `membound.MemoryLimitError`: the work would exceed the memory limit.
    MemoryLimit,
    /// `membound.CacheError`: a cache or embeddings-cache operation failed.
    Cache,
    /// `membound.ProfileError`: a profiling session failed.
    Profile,
    /// `membound.MonitorError`: memory figures or the monitor thread are unavailable.
    Monitor,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Self::Base => "Error",
            Self::FileFormat => "FileFormatError",
            Self::FileAccess => "FileAccessError",
            Self::MemoryLimit => "MemoryLimitError",
            Self::Cache => "CacheError",
            Self::Profile => "ProfileError",
            Self::Monitor => "MonitorError",
        }
    }
}

/// A `membound` exception of `kind` with `message`.
pub(crate) fn error(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let class = py
            .import("membound._errors")
            .and_then(|m| m.getattr(kind.class_name()))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, message),
            // Only when the native module is imported without its package.
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

/// A bad argument value.
pub(crate) fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// `mem-stream` errors.
pub(crate) fn stream(e: mem_stream::StreamError) -> PyErr {
    use mem_stream::StreamError as E;
    let kind = match &e {
        E::InvalidConfig(_) => return value_error(e.to_string()),
        E::Io { .. } | E::IsDirectory { .. } | E::NotAFile { .. } => Kind::FileAccess,
        E::OverBudget { .. } | E::TooLarge { .. } => Kind::MemoryLimit,
        E::UnknownColumn { .. } | E::UnknownSheet { .. } => Kind::Base,
        _ => Kind::FileFormat,
    };
    error(kind, e.to_string())
}

/// `mem-optimize` errors.
pub(crate) fn optimize(e: mem_optimize::OptimizeError) -> PyErr {
    use mem_optimize::OptimizeError as E;
    match &e {
        E::InvalidConfig(_) | E::DoesNotFit { .. } | E::Unsupported { .. } => {
            value_error(e.to_string())
        }
        _ => error(Kind::Base, e.to_string()),
    }
}

/// `mem-monitor` errors.
pub(crate) fn monitor(e: mem_monitor::MonitorError) -> PyErr {
    match &e {
        mem_monitor::MonitorError::InvalidConfig(_) => value_error(e.to_string()),
        _ => error(Kind::Monitor, e.to_string()),
    }
}

/// `mem-profile` errors.
pub(crate) fn profile(e: mem_profile::ProfileError) -> PyErr {
    use mem_profile::ProfileError as E;
    match &e {
        E::InvalidConfig(_) => value_error(e.to_string()),
        E::Write { .. } => error(Kind::FileAccess, e.to_string()),
        _ => error(Kind::Profile, e.to_string()),
    }
}

/// `zcache` errors.
pub(crate) fn cache(e: zcache::CacheError) -> PyErr {
    use zcache::CacheError as E;
    match &e {
        E::InvalidConfig(_) | E::UnknownCodec { .. } | E::InvalidKey { .. } => {
            value_error(e.to_string())
        }
        _ => error(Kind::Cache, e.to_string()),
    }
}

/// `zcache-service` errors.
pub(crate) fn service(e: zcache_service::ServiceError) -> PyErr {
    use zcache_service::ServiceError as E;
    match &e {
        E::InvalidConfig(_) | E::UnknownPrecision(_) | E::Shape(_) | E::InvalidInput(_) => {
            value_error(e.to_string())
        }
        E::Io { .. } | E::NotAFile { .. } => error(Kind::FileAccess, e.to_string()),
        E::Npy { .. } => error(Kind::FileFormat, e.to_string()),
        _ => error(Kind::Cache, e.to_string()),
    }
}

/// Arrow errors while importing or exporting data.
pub(crate) fn arrow(context: &str, e: arrow::error::ArrowError) -> PyErr {
    error(Kind::Base, format!("{context}: {e}"))
}
