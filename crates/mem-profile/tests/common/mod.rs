//! What the test binaries with the tracking allocator share (each is its own binary: a process
//! has one global allocator).

use std::sync::{Mutex, MutexGuard, PoisonError};

use mem_profile::TrackingAllocator;

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::new();

/// One mebibyte, as a length.
#[allow(
    dead_code,
    reason = "not every test binary sizes its buffers in mebibytes"
)]
pub const MIB: usize = 1 << 20;

/// The tests read process-wide figures: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the lock that runs the tests one at a time (a panicked test does not poison it).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}
