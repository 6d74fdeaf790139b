//! The crate's error type.

/// Why a memory sample or a monitor operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The OS does not report this figure on this platform.
    #[error("memory statistics unavailable: the OS does not report {0}")]
    Unavailable(&'static str),
    /// The monitor's sampling thread could not be started.
    #[error("could not start the memory monitor thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// A builder setting is out of range.
    #[error("invalid monitor setting: {0}")]
    InvalidConfig(String),
}
