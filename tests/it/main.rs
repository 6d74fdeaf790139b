//! Cross-crate end-to-end tests: one binary, one module per area.
#![expect(
    clippy::print_stdout,
    reason = "a child test process reports to its parent on stdout"
)]

mod config;
mod conformance;
mod embeddings_real;
mod facade;
mod manager;

/// Tests that measure this process's memory hold this lock so they do not disturb each other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
