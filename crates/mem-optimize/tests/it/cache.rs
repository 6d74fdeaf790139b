//! LruCache: limits, eviction order, callbacks with causes, stats, pressure hook, threads.

use std::sync::{Arc, Mutex};
use std::thread;

use mem_monitor::{PressureHook, PressureLevel};
use mem_optimize::{EvictionCause, LruCache, OptimizeError};

type Log = Arc<Mutex<Vec<(u32, EvictionCause)>>>;

fn logged(max_entries: u64) -> (LruCache<u32, Arc<Vec<u8>>>, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let cache = LruCache::builder()
        .max_entries(max_entries)
        .on_evict(move |k: &u32, _v, cause| sink.lock().unwrap().push((*k, cause)))
        .build()
        .unwrap();
    (cache, log)
}

#[test]
fn evicts_least_recently_used() {
    let (cache, log) = logged(3);
    for k in 0..3 {
        cache.put(k, Arc::new(vec![0; 10]));
    }
    assert!(cache.get(&0).is_some());
    cache.put(3, Arc::new(vec![])); // evicts 1 (0 was used)
    cache.put(4, Arc::new(vec![])); // evicts 2
    cache.run_pending_tasks();
    assert_eq!(
        *log.lock().unwrap(),
        [(1, EvictionCause::Evicted), (2, EvictionCause::Evicted)]
    );
    assert!(cache.contains_key(&0) && !cache.contains_key(&1));
    assert_eq!(cache.len(), 3);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.evictions, stats.entries), (1, 2, 3));
}

#[test]
fn callback_sees_every_cause() {
    let (cache, log) = logged(10);
    cache.put(1, Arc::new(vec![1]));
    cache.put(1, Arc::new(vec![2]));
    cache.put(2, Arc::new(vec![]));
    cache.put(3, Arc::new(vec![]));
    assert_eq!(cache.remove(&2).map(|v| v.len()), Some(0));
    assert!(cache.remove(&2).is_none());
    cache.clear();
    let mut got = log.lock().unwrap().clone();
    got[2..].sort_by_key(|e| e.0);
    assert_eq!(
        got,
        [
            (1, EvictionCause::Replaced),
            (2, EvictionCause::Removed),
            (1, EvictionCause::Cleared),
            (3, EvictionCause::Cleared)
        ]
    );
    assert!(cache.is_empty());
    let s = cache.stats();
    assert_eq!((s.removals, s.cleared, s.evictions, s.misses), (1, 2, 0, 0));
    assert!(cache.get(&1).is_none());
    assert_eq!(cache.stats().misses, 1);
    assert!((cache.stats().hit_rate - 0.0).abs() < f64::EPSILON);
}

#[test]
fn byte_limit_with_weigher() {
    let cache: LruCache<u32, Arc<Vec<u8>>> = LruCache::builder()
        .max_bytes(10_000)
        .weigher(|_k, v: &Arc<Vec<u8>>| v.len())
        .build()
        .unwrap();
    for k in 0..20 {
        cache.put(k, Arc::new(vec![0; 1_000]));
    }
    assert!(cache.bytes() <= 10_000, "{}", cache.bytes());
    assert!(cache.len() <= 10);
    assert!(cache.stats().evictions >= 10);
    assert!(cache.contains_key(&19));
    assert!(cache.purge() <= 10_000);
    assert_eq!(cache.bytes(), 0);
}

#[test]
fn both_limits_hold() {
    let cache: LruCache<u32, Vec<u8>> = LruCache::builder()
        .max_entries(5)
        .max_bytes(1_000)
        .weigher(|_k, v: &Vec<u8>| v.len())
        .build()
        .unwrap();
    for k in 0..20 {
        cache.put(k, vec![0; 10]);
    }
    assert!(cache.len() <= 5);
    for k in 100..120 {
        cache.put(k, vec![0; 300]);
    }
    assert!(
        cache.bytes() <= 1_000 && cache.len() <= 5,
        "{} bytes, {} entries",
        cache.bytes(),
        cache.len()
    );
    assert!(cache.len() >= 2);
}

#[test]
fn builder_validates() {
    let err = LruCache::<u32, u32>::builder().build().unwrap_err();
    assert!(
        matches!(err, OptimizeError::InvalidConfig(ref m) if m.contains("max_entries")),
        "{err}"
    );
    assert!(
        LruCache::<u32, u32>::builder()
            .max_bytes(10)
            .build()
            .is_err(),
        "needs a weigher"
    );
    assert!(LruCache::<u32, u32>::with_max_entries(0).is_err());
    assert!(
        LruCache::<u32, u32>::builder()
            .max_entries(1)
            .time_to_live(std::time::Duration::ZERO)
            .build()
            .is_err()
    );
}

#[test]
fn pressure_hook_clears_at_high() {
    let (cache, log) = logged(10);
    cache.put(1, Arc::new(vec![]));
    cache.on_pressure(PressureLevel::Medium);
    assert_eq!(cache.len(), 1);
    cache.on_pressure(PressureLevel::High);
    assert!(cache.is_empty());
    assert_eq!(*log.lock().unwrap(), [(1, EvictionCause::Cleared)]);
    assert_eq!(PressureHook::name(&cache), "lru-cache");
}

#[test]
fn panicking_callback_is_contained() {
    let cache: LruCache<u32, u32> = LruCache::builder()
        .max_entries(1)
        .on_evict(|_k: &u32, _v, _c| panic!("cleanup failed"))
        .build()
        .unwrap();
    cache.put(1, 1);
    cache.put(2, 2);
    cache.put(3, 3);
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().evictions, 2);
}

#[test]
fn concurrent_writers_and_readers_stay_within_limits() {
    let counted: Arc<Mutex<u64>> = Arc::default();
    let sink = Arc::clone(&counted);
    let cache: Arc<LruCache<u64, u64>> = Arc::new(
        LruCache::builder()
            .max_entries(100)
            .on_evict(move |_k: &u64, _v, _c| *sink.lock().unwrap() += 1)
            .build()
            .unwrap(),
    );
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let cache = Arc::clone(&cache);
            thread::spawn(move || {
                for i in 0..2_000u64 {
                    let k = t * 10_000 + i;
                    cache.put(k, k * 2);
                    if let Some(v) = cache.get(&k.saturating_sub(3)) {
                        assert_eq!(
                            v,
                            k.saturating_sub(3) * 2,
                            "a value never belongs to another key"
                        );
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = cache.stats();
    assert!(stats.entries <= 100, "{stats:?}");
    assert_eq!(stats.hits + stats.misses, 8_000);
    // Every entry put is either still held or went through the callback exactly once.
    assert_eq!(stats.entries + *counted.lock().unwrap(), 8_000);
}

#[test]
fn entries_expire_after_their_time_to_live() {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let cache: LruCache<u32, Arc<Vec<u8>>> = LruCache::builder()
        .max_entries(10)
        .time_to_live(std::time::Duration::from_millis(20))
        .on_evict(move |k: &u32, _v, cause| sink.lock().unwrap().push((*k, cause)))
        .build()
        .unwrap();
    cache.put(7, Arc::new(vec![]));
    thread::sleep(std::time::Duration::from_millis(60));
    assert!(
        cache.get(&7).is_none(),
        "expired entries are never returned"
    );
    cache.run_pending_tasks();
    assert_eq!(*log.lock().unwrap(), [(7, EvictionCause::Expired)]);
    assert_eq!(cache.stats().expirations, 1);
}

/// A cleanup callback may call back into its own cache (here: remove a companion entry)
/// without deadlocking.
#[test]
fn callback_may_use_its_own_cache() {
    use std::sync::{OnceLock, Weak};
    let me: Arc<OnceLock<Weak<LruCache<u32, u32>>>> = Arc::default();
    let me2 = Arc::clone(&me);
    let cache = Arc::new(
        LruCache::builder()
            .max_entries(2)
            .on_evict(move |k: &u32, _v, cause| {
                if let Some(c) = me2.get().and_then(Weak::upgrade)
                    && cause == EvictionCause::Evicted
                {
                    // Entries 1000+k are companions of k: drop them together.
                    c.remove(&(k + 1000));
                    c.put(k + 5000, 0);
                    let _ = c.stats();
                }
            })
            .build()
            .unwrap(),
    );
    me.set(Arc::downgrade(&cache)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let c = Arc::clone(&cache);
    thread::spawn(move || {
        for k in 0..50 {
            c.put(k, k);
            c.put(k + 1000, k);
        }
        c.clear();
        let _ = tx.send(c.len());
    });
    let len = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("no deadlock when the callback uses the cache");
    assert!(len <= 2);
}
