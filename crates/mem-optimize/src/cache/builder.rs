//! Building an [`LruCache`]: limits, weigher, cleanup callback, and the moka listener that
//! maps moka's removal causes to ours and keeps the counters.

use std::cell::Cell;
use std::fmt;
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;

use super::{Cleanup, Counters, EXPLICIT_CAUSE, EvictionCause, LruCache, Weigher, in_callback};
use crate::error::OptimizeError;

/// Builds an [`LruCache`]; at least one of [`max_entries`](Self::max_entries) and
/// [`max_bytes`](Self::max_bytes) is required.
pub struct LruCacheBuilder<K, V> {
    name: String,
    max_entries: Option<u64>,
    max_bytes: Option<u64>,
    weigher: Option<Weigher<K, V>>,
    cleanup: Option<Cleanup<K, V>>,
    time_to_live: Option<Duration>,
}

impl<K, V> fmt::Debug for LruCacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LruCacheBuilder")
            .field("name", &self.name)
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("weigher", &self.weigher.is_some())
            .field("cleanup", &self.cleanup.is_some())
            .field("time_to_live", &self.time_to_live)
            .finish()
    }
}

impl<K, V> LruCacheBuilder<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(super) fn new() -> Self {
        Self {
            name: "lru-cache".into(),
            max_entries: None,
            max_bytes: None,
            weigher: None,
            cleanup: None,
            time_to_live: None,
        }
    }

    /// A name for logs and for [`PressureHook::name`](mem_monitor::PressureHook::name) (default `"lru-cache"`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// At most this many entries (the seed's `max_size`).
    #[must_use]
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = Some(n);
        self
    }

    /// At most this many bytes, as measured by the [`weigher`](Self::weigher) (required with
    /// this limit). Entries over 4 GiB count as 4 GiB. With both limits, an entry's share is the
    /// larger of its byte share and its entry share, so both hold (the cache may then evict
    /// slightly before either limit alone would).
    #[must_use]
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// How many bytes an entry holds (e.g. `|_, v: &Vec<u8>| v.len()`). Also lets
    /// [`LruCache::purge`](mem_monitor::PressureHook::purge) report the bytes it released.
    #[must_use]
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> usize + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Called with the key, the value and the cause whenever an entry leaves the cache, on the
    /// thread that caused it. A panic in it is caught and logged. It may use the cache (get,
    /// put, remove other keys); evictions that causes are applied once it returns.
    #[must_use]
    pub fn on_evict(
        mut self,
        cleanup: impl Fn(&K, V, EvictionCause) + Send + Sync + 'static,
    ) -> Self {
        self.cleanup = Some(Arc::new(cleanup));
        self
    }

    /// Entries expire this long after they were put.
    #[must_use]
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = Some(ttl);
        self
    }

    /// Builds the cache.
    ///
    /// # Errors
    /// [`OptimizeError::InvalidConfig`] when no limit is set, a limit is 0, `max_bytes` lacks
    /// a weigher, or the time to live is zero or over 1000 years.
    pub fn build(self) -> Result<LruCache<K, V>, OptimizeError> {
        let invalid = |m: &str| {
            Err(OptimizeError::InvalidConfig(format!(
                "LruCache {:?}: {m}",
                self.name
            )))
        };
        if self.max_entries.is_none() && self.max_bytes.is_none() {
            return invalid("set max_entries and/or max_bytes");
        }
        if self.max_entries == Some(0) || self.max_bytes == Some(0) {
            return invalid("limits must be greater than 0");
        }
        if self.max_bytes.is_some() && self.weigher.is_none() {
            return invalid("max_bytes needs a weigher");
        }
        if let Some(ttl) = self.time_to_live
            && (ttl.is_zero() || ttl > Duration::from_secs(1000 * 365 * 24 * 3600))
        {
            return invalid("time_to_live must be between 0 and 1000 years");
        }
        let counters = Arc::new(Counters::default());
        let mut builder = moka::sync::Cache::builder()
            .name(&self.name)
            .eviction_policy(EvictionPolicy::lru());
        builder = match (self.max_entries, self.max_bytes, self.weigher.clone()) {
            (Some(n), None, _) => builder.max_capacity(n),
            (None, Some(b), Some(w)) => builder
                .max_capacity(b)
                .weigher(move |k, v| u32::try_from(w(k, v)).unwrap_or(u32::MAX)),
            (Some(n), Some(b), Some(w)) => {
                // Scale both limits to a common capacity; an entry weighs its larger share.
                const SCALE: u128 = u32::MAX as u128;
                builder
                    .max_capacity(u64::from(u32::MAX))
                    .weigher(move |k, v| {
                        let by_bytes = (w(k, v) as u128 * SCALE).div_ceil(u128::from(b));
                        let by_count = SCALE.div_ceil(u128::from(n));
                        u32::try_from(by_bytes.max(by_count)).unwrap_or(u32::MAX)
                    })
            }
            (None, _, _) | (_, Some(_), None) => return invalid("max_bytes needs a weigher"),
        };
        if let Some(ttl) = self.time_to_live {
            builder = builder.time_to_live(ttl);
        }
        let listener_counters = Arc::clone(&counters);
        let weigher = self.weigher.clone();
        let cleanup = self.cleanup.clone();
        let name = self.name.clone();
        builder = builder.eviction_listener(move |key: Arc<K>, value: V, cause: RemovalCause| {
            let cause = match cause {
                RemovalCause::Size => EvictionCause::Evicted,
                RemovalCause::Expired => EvictionCause::Expired,
                RemovalCause::Replaced => EvictionCause::Replaced,
                RemovalCause::Explicit => EXPLICIT_CAUSE
                    .with(Cell::get)
                    .unwrap_or(EvictionCause::Removed),
            };
            let c = &listener_counters;
            let counter = match cause {
                EvictionCause::Evicted => Some(&c.evictions),
                EvictionCause::Expired => Some(&c.expirations),
                EvictionCause::Removed => Some(&c.removals),
                EvictionCause::Cleared => Some(&c.cleared),
                EvictionCause::Replaced => None,
            };
            if let Some(counter) = counter {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(w) = &weigher {
                let bytes = w(&key, &value) as u64;
                // Saturating: a weigher whose answer changed must not wrap the figure.
                let _ = c
                    .bytes
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                        Some(b.saturating_sub(bytes))
                    });
            }
            if let Some(cleanup) = &cleanup
                && catch_unwind(AssertUnwindSafe(|| {
                    in_callback(|| cleanup(&key, value, cause))
                }))
                .is_err()
            {
                tracing::error!(cache = %name, ?cause, "LruCache cleanup callback panicked");
            }
        });
        Ok(LruCache {
            inner: builder.build(),
            counters,
            weigher: self.weigher,
            name: self.name,
        })
    }
}
