//! release_memory: hooks run, and freed heap memory goes back to the OS.

use std::sync::Arc;

use mem_optimize::{LruCache, PurgeRegistry, register_purge_hook, release_memory};

#[test]
fn cache_registered_globally_is_purged() {
    let cache: Arc<LruCache<u32, Arc<Vec<u8>>>> = Arc::new(
        LruCache::builder()
            .name("release-test")
            .max_bytes(1 << 30)
            .weigher(|_k, v: &Arc<Vec<u8>>| v.len())
            .build()
            .unwrap(),
    );
    for k in 0..16 {
        cache.put(k, Arc::new(vec![1; 1 << 16]));
    }
    let handle = register_purge_hook(&cache);
    let report = release_memory();
    assert!(report.hooks_run >= 1);
    assert!(report.bytes_purged >= 16 << 16, "{report:?}");
    assert!(cache.is_empty());
    assert!(handle.unregister());
}

/// glibc keeps small freed blocks in its heap; `malloc_trim` gives the pages back. Blocks below
/// the mmap threshold, each pinned by a small live allocation after it, cannot be returned by
/// `free` alone (they are not at the top of the heap).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_heap_memory_goes_back_to_the_os() {
    let rss = || mem_monitor::memory_stats().unwrap().process_rss_bytes;
    const BLOCK: usize = 64 * 1024;
    const TOTAL: usize = 300 << 20;
    let mut blocks = Vec::with_capacity(TOTAL / BLOCK);
    let mut pins = Vec::with_capacity(TOTAL / BLOCK);
    for i in 0..TOTAL / BLOCK {
        blocks.push(vec![(i % 251) as u8 + 1; BLOCK]);
        pins.push(Box::new(i));
    }
    let touched: u64 = blocks.iter().map(|b| u64::from(b[BLOCK / 2])).sum();
    assert!(touched > 0);
    let full = rss();
    drop(blocks);
    let report = PurgeRegistry::new().release_memory();
    assert!(report.trimmed, "{report:?}");
    assert!(report.rss_after < report.rss_before, "{report:?}");
    let after = rss();
    assert!(
        full.saturating_sub(after) > 200 << 20,
        "rss {full} -> {after}, {report:?}"
    );
    drop(pins);
}
