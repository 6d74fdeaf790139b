//! mem-monitor against the real OS: allocations, threads, the global monitor.

mod global;
mod rss;
mod threads;

/// Tests that measure this process (threads, RSS) hold this lock so they do not disturb each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
