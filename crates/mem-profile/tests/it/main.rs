//! Integration tests without the tracking allocator: RSS-based sessions, reports, child processes.

mod process;
mod reports;
mod sessions;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Tests that read this process's RSS run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}
