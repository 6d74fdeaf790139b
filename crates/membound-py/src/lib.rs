//! `membound` for Python: the workspace's crates behind a PyO3 extension module.
//!
//! The compiled module is `membound._native`; the Python package `membound` (in `python/`)
//! re-exports it with its exception classes, stubs and `py.typed`. Everything here is a thin
//! wrapper: each function converts its arguments (MB at this edge, bytes inside), releases the
//! GIL around the crate call (I/O, decoding, compression), and converts the result. Arrow data
//! crosses the boundary through the Arrow C stream interface (PyCapsule protocol, no copy),
//! arrays through NumPy (vectors are moved into arrays, not copied).
//!
//! Errors become the exception classes of `membound._errors` (`membound.Error` and its
//! subclasses) with the crates' own messages; bad arguments are `TypeError`/`ValueError`. No
//! Rust panic reaches Python: PyO3 turns one into `pyo3_runtime.PanicException`, and the crates
//! contain their decoders' panics themselves.

use pyo3::prelude::*;

mod arrow_ffi;
mod cache;
mod convert;
mod errors;
mod monitor;
mod optimize;
mod profile;
mod service;
mod stream;

/// The compiled part of the `membound` package (import `membound`, not this module).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    stream::register(m)?;
    optimize::register(m)?;
    monitor::register(m)?;
    profile::register(m)?;
    cache::register(m)?;
    service::register(m)?;
    arrow_ffi::register(m)?;
    Ok(())
}
