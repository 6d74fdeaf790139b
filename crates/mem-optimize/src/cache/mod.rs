//! `LruCache`: the seed's `LRUCache(max_size, cleanup_callback)` on `moka`.
//!
//! moka does the concurrent bookkeeping (with its pure-LRU eviction policy, not its default
//! TinyLFU admission, so the least recently used entry is the one that goes). It applies
//! evictions lazily; [`LruCache::run_pending_tasks`] forces them, and [`LruCache::stats`]
//! calls it so the figures it returns are settled.

use std::cell::Cell;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mem_monitor::{PressureHook, PressureLevel};
use moka::Equivalent;
use serde::{Deserialize, Serialize};

use crate::error::OptimizeError;

mod builder;

pub use builder::LruCacheBuilder;

/// Why an entry left the cache (passed to the cleanup callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictionCause {
    /// Pushed out by the entry or byte limit (least recently used first).
    Evicted,
    /// Its time to live passed.
    Expired,
    /// Removed with [`LruCache::remove`].
    Removed,
    /// Dropped by [`LruCache::clear`] (or a purge).
    Cleared,
    /// Overwritten by a [`put`](LruCache::put) with the same key.
    Replaced,
}

thread_local! {
    // moka reports both `remove` and our `clear` as `Explicit`; the listener runs synchronously
    // in the thread that removes, so this says which of ours it was.
    static EXPLICIT_CAUSE: Cell<Option<EvictionCause>> = const { Cell::new(None) };
}

thread_local! {
    // Set while this thread runs a cleanup callback. moka calls the listener from inside its
    // maintenance (with its maintenance lock held); a callback that uses the cache must not
    // start maintenance again on the same thread, which would wait for that lock forever.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Runs a cleanup callback with [`IN_CALLBACK`] set (restored on unwind too).
pub(super) fn in_callback<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_CALLBACK.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(IN_CALLBACK.with(|c| c.replace(true)));
    f()
}

fn with_explicit_cause<R>(cause: EvictionCause, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<EvictionCause>);
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPLICIT_CAUSE.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(EXPLICIT_CAUSE.with(|c| c.replace(Some(cause))));
    f()
}

type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> usize + Send + Sync>;
type Cleanup<K, V> = Arc<dyn Fn(&K, V, EvictionCause) + Send + Sync>;

/// Hit, miss and removal counts of an [`LruCache`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CacheStats {
    /// `get` calls that found the key.
    pub hits: u64,
    /// `get` calls that did not.
    pub misses: u64,
    /// Entries pushed out by a limit.
    pub evictions: u64,
    /// Entries whose time to live passed.
    pub expirations: u64,
    /// Entries removed with `remove`.
    pub removals: u64,
    /// Entries dropped by `clear` or a purge.
    pub cleared: u64,
    /// Entries now held.
    pub entries: u64,
    /// Bytes now held by the weigher's measure (0 without a weigher).
    pub bytes: u64,
    /// `hits / (hits + misses)`, 0 before any `get`.
    pub hit_rate: f64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    removals: AtomicU64,
    cleared: AtomicU64,
    bytes: AtomicU64,
}

/// A bounded cache that evicts the least recently used entries, calling a cleanup callback
/// for every entry that leaves (the seed's `LRUCache`).
///
/// Values are cloned out on `get`; store `Arc<T>` for large values. Thread-safe (`&self`
/// everywhere). As a [`PressureHook`]: `purge` clears it, `on_pressure(High)` clears it, and
/// `on_pressure(Medium)` applies pending evictions; register it with
/// [`register_purge_hook`](crate::register_purge_hook) so
/// [`release_memory`](crate::release_memory) clears it.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use mem_optimize::{EvictionCause, LruCache};
///
/// let evicted = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&evicted);
/// let cache = LruCache::builder()
///     .max_entries(2)
///     .on_evict(move |k: &String, _v: Arc<Vec<u8>>, cause| log.lock().unwrap().push((k.clone(), cause)))
///     .build()?;
/// cache.put("a".to_string(), Arc::new(vec![1]));
/// cache.put("b".to_string(), Arc::new(vec![2]));
/// cache.get("a");                                  // "a" is now the most recently used
/// cache.put("c".to_string(), Arc::new(vec![3]));   // evicts "b"
/// cache.run_pending_tasks();
/// assert_eq!(*evicted.lock().unwrap(), vec![("b".to_string(), EvictionCause::Evicted)]);
/// assert_eq!(cache.stats().hits, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LruCache<K, V> {
    inner: moka::sync::Cache<K, V>,
    counters: Arc<Counters>,
    weigher: Option<Weigher<K, V>>,
    name: String,
}

impl<K, V> fmt::Debug for LruCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LruCache")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<K, V> LruCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder; set [`max_entries`](LruCacheBuilder::max_entries) and/or
    /// [`max_bytes`](LruCacheBuilder::max_bytes).
    #[must_use]
    pub fn builder() -> LruCacheBuilder<K, V> {
        LruCacheBuilder::new()
    }

    /// A cache of at most `max_entries` entries with no callback.
    ///
    /// # Errors
    /// [`OptimizeError::InvalidConfig`] when `max_entries` is 0.
    pub fn with_max_entries(max_entries: u64) -> Result<Self, OptimizeError> {
        Self::builder().max_entries(max_entries).build()
    }

    /// Inserts or replaces (the old value goes to the callback as `Replaced`), evicting the
    /// least recently used entries if a limit is passed.
    ///
    /// moka records reads and writes in buffers it applies later, reads first; applying them
    /// right after each insert keeps the recency order exact (a `get` between two puts counts),
    /// at the cost of taking the cache's maintenance lock once per `put`.
    pub fn put(&self, key: K, value: V) {
        if let Some(w) = &self.weigher {
            self.counters
                .bytes
                .fetch_add(w(&key, &value) as u64, Ordering::Relaxed);
        }
        self.inner.insert(key, value);
        self.settle();
    }

    /// The value for `key`, marking it most recently used; counts a hit or a miss.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        let got = self.inner.get(key);
        let counter = if got.is_some() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        got
    }

    /// Whether `key` is present (does not count as a use, a hit or a miss).
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        self.inner.contains_key(key)
    }

    /// Removes `key`, returning its value (the callback sees `Removed`).
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Equivalent<K> + Hash + ?Sized,
    {
        with_explicit_cause(EvictionCause::Removed, || self.inner.remove(key))
    }

    /// Removes every entry now (the callback sees `Cleared` for each), returning how many bytes
    /// they held by the weigher's measure (0 without a weigher).
    pub fn clear(&self) -> u64 {
        with_explicit_cause(EvictionCause::Cleared, || {
            let mut bytes = 0u64;
            for (key, value) in &self.inner {
                if let Some(w) = &self.weigher {
                    bytes = bytes.saturating_add(w(&key, &value) as u64);
                }
                self.inner.invalidate(key.as_ref());
            }
            self.settle();
            bytes
        })
    }

    /// Applies pending evictions and expirations now (moka applies them lazily). Inside a
    /// cleanup callback this does nothing: the maintenance that called the callback applies
    /// them when it resumes.
    pub fn run_pending_tasks(&self) {
        self.settle();
    }

    /// moka's maintenance, unless this thread is already inside it (in a cleanup callback).
    fn settle(&self) {
        if !IN_CALLBACK.with(Cell::get) {
            self.inner.run_pending_tasks();
        }
    }

    /// Entries held (after applying pending evictions).
    pub fn len(&self) -> u64 {
        self.settle();
        self.inner.entry_count()
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by the weigher's measure (0 without a weigher).
    pub fn bytes(&self) -> u64 {
        self.settle();
        self.counters.bytes.load(Ordering::Relaxed)
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hit, miss and removal counts, after applying pending evictions.
    pub fn stats(&self) -> CacheStats {
        self.settle();
        let c = &self.counters;
        let hits = c.hits.load(Ordering::Relaxed);
        let misses = c.misses.load(Ordering::Relaxed);
        #[expect(clippy::cast_precision_loss, reason = "a ratio of counts")]
        let hit_rate = if hits + misses == 0 {
            0.0
        } else {
            hits as f64 / (hits + misses) as f64
        };
        CacheStats {
            hits,
            misses,
            evictions: c.evictions.load(Ordering::Relaxed),
            expirations: c.expirations.load(Ordering::Relaxed),
            removals: c.removals.load(Ordering::Relaxed),
            cleared: c.cleared.load(Ordering::Relaxed),
            entries: self.inner.entry_count(),
            bytes: c.bytes.load(Ordering::Relaxed),
            hit_rate,
        }
    }
}

impl<K, V> PressureHook for LruCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    /// `High`: clear (the seed's "clear non-essential caches"); `Medium`: apply pending
    /// evictions; `Low`: nothing. moka cannot shrink a cache's capacity in place, so a
    /// smaller limit means building a new cache.
    fn on_pressure(&self, level: PressureLevel) {
        match level {
            PressureLevel::High => {
                let bytes = self.clear();
                tracing::info!(cache = %self.name, bytes, "cleared under high memory pressure");
            }
            PressureLevel::Medium => self.run_pending_tasks(),
            PressureLevel::Low => {}
        }
    }

    fn purge(&self) -> u64 {
        self.clear()
    }
}
