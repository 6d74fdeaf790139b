//! `release_memory`: the seed's `force_garbage_collection`, for a language without a GC.
//!
//! Rust frees memory when values drop; what stays is memory the allocator keeps for reuse
//! and caches that could rebuild their content. This runs every registered purge hook (caches
//! drop their entries), then asks glibc to give free pages back to the OS (`malloc_trim(0)`,
//! which also releases free pages in the middle of the heap and in every thread arena).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use mem_monitor::PressureHook;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// What [`release_memory`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseReport {
    /// Process resident bytes before (0 if the OS does not report it).
    pub rss_before: u64,
    /// Process resident bytes after (0 if the OS does not report it).
    pub rss_after: u64,
    /// Bytes the purge hooks said they released (their estimate).
    pub bytes_purged: u64,
    /// How many hooks ran (a hook that panicked is not counted).
    pub hooks_run: usize,
    /// Whether the allocator was trimmed and reported returning memory to the OS (always
    /// `false` off glibc Linux, where there is no such call).
    pub trimmed: bool,
    /// Time taken.
    pub elapsed: Duration,
}

impl ReleaseReport {
    /// Resident bytes given back, `rss_before - rss_after` (0 if RSS grew).
    #[must_use]
    pub fn rss_released(&self) -> u64 {
        self.rss_before.saturating_sub(self.rss_after)
    }
}

#[derive(Default)]
struct Inner {
    hooks: Mutex<Vec<(u64, Weak<dyn PressureHook>)>>,
    next_id: AtomicU64,
}

/// A set of purge hooks. [`release_memory`] uses the process-wide one
/// ([`PurgeRegistry::global`]); own registries are for libraries and tests that want theirs.
///
/// Hooks are held weakly: registering a cache does not keep it alive, and a dropped cache
/// simply stops being called.
#[derive(Clone, Default)]
pub struct PurgeRegistry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PurgeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeRegistry")
            .field("hooks", &self.len())
            .finish()
    }
}

/// Unregisters a purge hook. Dropping the handle does *not* unregister (the hook goes away
/// by itself when it is dropped); call [`unregister`](Self::unregister) to stop it earlier.
#[derive(Debug)]
#[must_use = "keep the handle to unregister the hook later, or drop it explicitly"]
pub struct PurgeHookHandle {
    id: u64,
    registry: Weak<Inner>,
}

impl PurgeHookHandle {
    /// Removes the hook; `false` if it was already gone.
    #[expect(
        clippy::must_use_candidate,
        reason = "callers rarely care whether it was still there"
    )]
    pub fn unregister(self) -> bool {
        let Some(inner) = self.registry.upgrade() else {
            return false;
        };
        let mut hooks = inner.hooks.lock();
        let before = hooks.len();
        hooks.retain(|(id, _)| *id != self.id);
        hooks.len() != before
    }
}

impl PurgeRegistry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry used by [`release_memory`] and [`register_purge_hook`].
    pub fn global() -> &'static Self {
        static GLOBAL: OnceLock<PurgeRegistry> = OnceLock::new();
        GLOBAL.get_or_init(Self::new)
    }

    /// Registers `hook` (held weakly).
    pub fn register<H: PressureHook + 'static>(&self, hook: &Arc<H>) -> PurgeHookHandle {
        let weak: Weak<dyn PressureHook> = Arc::downgrade(hook) as Weak<dyn PressureHook>;
        self.register_weak(weak)
    }

    /// Registers an already type-erased hook (held weakly).
    pub fn register_dyn(&self, hook: &Arc<dyn PressureHook>) -> PurgeHookHandle {
        self.register_weak(Arc::downgrade(hook))
    }

    fn register_weak(&self, hook: Weak<dyn PressureHook>) -> PurgeHookHandle {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.hooks.lock().push((id, hook));
        PurgeHookHandle {
            id,
            registry: Arc::downgrade(&self.inner),
        }
    }

    /// Live hooks registered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .hooks
            .lock()
            .iter()
            .filter(|(_, h)| h.strong_count() > 0)
            .count()
    }

    /// Whether no live hook is registered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs every live hook's `purge`, returning (bytes purged, hooks run). Dead hooks are
    /// dropped from the list; the lock is not held while hooks run, so a hook may register
    /// others. A panicking hook is logged and skipped.
    pub fn purge_all(&self) -> (u64, usize) {
        let live: Vec<Arc<dyn PressureHook>> = {
            let mut hooks = self.inner.hooks.lock();
            hooks.retain(|(_, h)| h.strong_count() > 0);
            hooks.iter().filter_map(|(_, h)| h.upgrade()).collect()
        };
        let mut bytes = 0u64;
        let mut run = 0;
        for hook in live {
            match catch_unwind(AssertUnwindSafe(|| hook.purge())) {
                Ok(b) => {
                    tracing::debug!(hook = hook.name(), bytes = b, "purge hook ran");
                    bytes = bytes.saturating_add(b);
                    run += 1;
                }
                Err(_) => tracing::error!(hook = hook.name(), "purge hook panicked"),
            }
        }
        (bytes, run)
    }

    /// Runs this registry's hooks, then trims the allocator; see [`release_memory`].
    pub fn release_memory(&self) -> ReleaseReport {
        let start = Instant::now();
        let rss_before = rss();
        let (bytes_purged, hooks_run) = self.purge_all();
        let trimmed = trim_allocator();
        let report = ReleaseReport {
            rss_before,
            rss_after: rss(),
            bytes_purged,
            hooks_run,
            trimmed,
            elapsed: start.elapsed(),
        };
        tracing::info!(
            rss_before = report.rss_before,
            rss_after = report.rss_after,
            bytes_purged,
            hooks_run,
            trimmed,
            elapsed_ms = report.elapsed.as_secs_f64() * 1e3,
            "released memory"
        );
        report
    }
}

/// Registers a purge hook (held weakly) in the process-wide registry that
/// [`release_memory`] runs. Returns a handle to unregister it.
///
/// ```
/// use std::sync::Arc;
/// use mem_optimize::{register_purge_hook, release_memory, LruCache};
///
/// let cache: Arc<LruCache<u32, Arc<Vec<u8>>>> = Arc::new(LruCache::with_max_entries(100)?);
/// cache.put(1, Arc::new(vec![0; 1024]));
/// let handle = register_purge_hook(&cache);
/// let report = release_memory();
/// assert!(report.hooks_run >= 1);
/// assert!(cache.is_empty());
/// assert!(handle.unregister());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn register_purge_hook<H: PressureHook + 'static>(hook: &Arc<H>) -> PurgeHookHandle {
    PurgeRegistry::global().register(hook)
}

/// [`register_purge_hook`] for an `Arc<dyn PressureHook>`.
pub fn register_purge_hook_dyn(hook: &Arc<dyn PressureHook>) -> PurgeHookHandle {
    PurgeRegistry::global().register_dyn(hook)
}

/// Gives memory back: runs the registered purge hooks, then trims the allocator
/// (`malloc_trim(0)` on glibc Linux), and reports RSS before and after, the bytes the hooks
/// released and the time taken. The seed's `force_garbage_collection`.
pub fn release_memory() -> ReleaseReport {
    PurgeRegistry::global().release_memory()
}

/// Asks the allocator to return free memory to the OS; `true` if it says it did.
///
/// glibc keeps freed memory in its heaps for reuse; `malloc_trim(0)` releases the free pages
/// of every arena. Other platforms and allocators have no such call: `false`.
#[must_use]
pub fn trim_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists; it is thread-safe and
        // takes no pointers from us.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

fn rss() -> u64 {
    match mem_monitor::memory_stats() {
        Ok(s) => s.process_rss_bytes,
        Err(e) => {
            tracing::warn!(error = %e, "process RSS unavailable");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counting(AtomicUsize);
    impl PressureHook for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        fn on_pressure(&self, _: mem_monitor::PressureLevel) {}
        fn purge(&self) -> u64 {
            self.0.fetch_add(1, Ordering::Relaxed);
            100
        }
    }

    struct Panics;
    impl PressureHook for Panics {
        fn name(&self) -> &str {
            "panics"
        }
        fn on_pressure(&self, _: mem_monitor::PressureLevel) {}
        fn purge(&self) -> u64 {
            panic!("boom")
        }
    }

    #[test]
    fn runs_live_hooks_and_unregisters() {
        let reg = PurgeRegistry::new();
        let a = Arc::new(Counting(AtomicUsize::new(0)));
        let b = Arc::new(Counting(AtomicUsize::new(0)));
        let ha = reg.register(&a);
        let _hb = reg.register(&b);
        let p: Arc<dyn PressureHook> = Arc::new(Panics);
        let _hp = reg.register_dyn(&p);
        let report = reg.release_memory();
        assert_eq!((report.bytes_purged, report.hooks_run), (200, 2));
        assert!(ha.unregister());
        drop(b);
        drop(p);
        assert_eq!(reg.purge_all(), (0, 0));
        assert_eq!(a.0.load(Ordering::Relaxed), 1);
        assert!(reg.is_empty());
    }

    #[test]
    fn report_serializes() {
        let r = PurgeRegistry::new().release_memory();
        let json = serde_json::to_value(r).unwrap();
        assert!(json.get("rss_before").is_some() && json.get("elapsed").is_some());
        assert!(r.rss_before > 0, "RSS is readable on Linux");
    }
}
