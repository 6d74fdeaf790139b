//! The process-wide monitor, under the seed's names.

use std::sync::OnceLock;

use crate::MonitorError;
use crate::monitor::MemoryMonitor;
use crate::stats::{MemoryStats, memory_stats};

static GLOBAL: OnceLock<MemoryMonitor> = OnceLock::new();

/// The process-wide monitor (built with the defaults on first use, not started).
pub fn get_memory_monitor() -> &'static MemoryMonitor {
    GLOBAL.get_or_init(|| {
        MemoryMonitor::builder()
            .build()
            .unwrap_or_else(|_| unreachable!("the default monitor settings are valid"))
    })
}

/// Starts the process-wide monitor and returns it.
///
/// ```
/// let monitor = mem_monitor::start_memory_monitoring()?;
/// let stats = mem_monitor::get_memory_stats()?;
/// println!("Memory usage: {:.1} MB ({})", stats.process_mb(), stats.level);
/// mem_monitor::stop_memory_monitoring();
/// assert!(!monitor.is_running());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`MemoryMonitor::start`].
pub fn start_memory_monitoring() -> Result<&'static MemoryMonitor, MonitorError> {
    let monitor = get_memory_monitor();
    monitor.start()?;
    Ok(monitor)
}

/// Stops the process-wide monitor's thread, if it runs.
pub fn stop_memory_monitoring() {
    if let Some(m) = GLOBAL.get() {
        m.stop();
    }
}

/// The latest sample of the running process-wide monitor, or a fresh sample when it is not
/// running.
///
/// # Errors
/// As [`memory_stats`].
pub fn get_memory_stats() -> Result<MemoryStats, MonitorError> {
    match GLOBAL.get() {
        Some(m) if m.is_running() => m.current_stats().map_or_else(memory_stats, Ok),
        _ => memory_stats(),
    }
}
