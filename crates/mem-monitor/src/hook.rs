//! The small trait through which memory holders (caches, loaders) react to pressure.

use crate::level::PressureLevel;

/// Something that holds memory and can give some back when asked.
///
/// Caches implement it; the facade's `MemoryManager` calls [`on_pressure`](Self::on_pressure)
/// on every level change, and `mem_optimize::release_memory` calls [`purge`](Self::purge) on
/// every registered hook before trimming the allocator.
pub trait PressureHook: Send + Sync {
    /// A short name for logs and reports (e.g. `"zcache"`).
    fn name(&self) -> &str;

    /// Adapts to a new pressure level: at `Medium` work harder to stay small, at `High` shed
    /// what is not essential, at `Low` undo both.
    fn on_pressure(&self, level: PressureLevel);

    /// Drops what can be rebuilt or re-read, returning an estimate of the bytes released.
    fn purge(&self) -> u64;
}
