//! The crate's error type.

use std::path::PathBuf;

/// Why a profiling operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// `start_profiling` was called with the name of a session that is already running.
    #[error("profiling session `{0}` is already running")]
    AlreadyRunning(String),
    /// `stop_profiling` was called with a name that no running session has.
    #[error("no running profiling session named `{0}`")]
    NotRunning(String),
    /// A configuration value is out of range.
    #[error("invalid profiler setting: {0}")]
    InvalidConfig(String),
    /// The sampling thread could not be started.
    #[error("could not start the snapshot thread for session `{name}`: {source}")]
    Spawn {
        /// The session.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Reading memory figures failed.
    #[error("reading memory figures: {0}")]
    Monitor(#[from] mem_monitor::MonitorError),
    /// A process to sample does not exist or cannot be read.
    #[error("reading memory of process {pid}: {source}")]
    Process {
        /// The process id.
        pid: u32,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a report failed.
    #[error("writing report {path}: {source}")]
    Write {
        /// The report file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Drawing the chart failed.
    #[error("drawing the memory chart: {0}")]
    Chart(String),
    /// Serialising a report to JSON failed.
    #[error("serialising the profile to JSON: {0}")]
    Json(#[from] serde_json::Error),
}
