//! How the cache reacts to memory pressure (the facade calls this on every level change).

use std::sync::atomic::Ordering;

use mem_monitor::{PressureHook, PressureLevel};

use crate::cache::CompressedCache;

impl CompressedCache {
    fn set_cleanup_divisor(&self, divisor: u32) {
        let base = self.inner.config.cleanup_interval;
        let ms = u64::try_from((base / divisor.max(1)).as_millis()).unwrap_or(u64::MAX);
        self.inner
            .cleanup_every_ms
            .store(ms.max(1), Ordering::Relaxed);
        if let Some(c) = &self.cleaner {
            c.wake();
        }
    }
}

impl PressureHook for CompressedCache {
    fn name(&self) -> &str {
        "zcache"
    }

    /// `Low`: normal. `Medium`: `Auto` compresses harder (zstd-3 instead of lz4 for text and
    /// serialized values)
    /// and cleanup runs four times as often. `High`: as Medium, and with a disk tier the memory
    /// tier is written to disk and emptied, and the cache serves from disk only until the level
    /// falls; without a disk tier the memory tier is emptied.
    fn on_pressure(&self, level: PressureLevel) {
        let inner = &*self.inner;
        match level {
            PressureLevel::Low => {
                inner.harder.store(false, Ordering::Relaxed);
                inner.disk_only.store(false, Ordering::Relaxed);
                self.set_cleanup_divisor(1);
            }
            PressureLevel::Medium => {
                inner.harder.store(true, Ordering::Relaxed);
                inner.disk_only.store(false, Ordering::Relaxed);
                self.set_cleanup_divisor(4);
            }
            PressureLevel::High => {
                inner.harder.store(true, Ordering::Relaxed);
                if inner.disk.is_some() {
                    inner.disk_only.store(true, Ordering::Relaxed);
                }
                self.purge();
                self.set_cleanup_divisor(4);
            }
        }
        tracing::info!(%level, "zcache adapted to memory pressure");
    }

    /// Writes what is only in memory to the disk tier (if any) and empties the memory tier;
    /// returns the memory tier's accounted bytes released.
    fn purge(&self) -> u64 {
        let inner = &*self.inner;
        let bytes = inner.memory.weighted_size();
        inner.spill_all();
        inner.memory.clear();
        bytes
    }
}
