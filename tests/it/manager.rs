//! The manager end to end: a real allocation crosses thresholds set just above the baseline and
//! each automatic action happens, to real caches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use membound::monitor::{MIB, PressureLevel, PressureSource, Thresholds, memory_stats};
use membound::optimize::LruCache;
use membound::{Action, Config, MemoryManager};

/// Allocates `mb` MiB and touches every page so it is resident.
fn touched(mb: u64) -> Vec<u8> {
    let mut v = vec![0u8; (mb * MIB) as usize];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    v
}

fn wait_for(manager: &MemoryManager, level: PressureLevel) {
    let start = Instant::now();
    while manager.level() != level {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "level {level} not reached; stats: {:?}",
            manager.stats()
        );
        manager.check_now().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn count(manager: &MemoryManager, action: Action) -> u64 {
    manager.stats().actions.get(&action).copied().unwrap_or(0)
}

#[test]
fn every_automatic_action_happens() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(
        membound::cache::CompressedCache::builder()
            .max_memory(64 << 20)
            .enable_disk_cache(dir.path())
            .max_disk(64 << 20)
            .build()
            .unwrap(),
    );
    for i in 0..20 {
        cache
            .put_str(
                &format!("doc-{i}"),
                &"some text that compresses well ".repeat(100),
            )
            .unwrap();
    }
    let lru: Arc<LruCache<u32, Arc<Vec<u8>>>> = Arc::new(LruCache::with_max_entries(100).unwrap());
    for i in 0..10 {
        lru.put(i, Arc::new(vec![7; 4096]));
    }

    let base = memory_stats().unwrap().process_rss_bytes;
    let thresholds = Thresholds {
        process_medium_bytes: base + 100 * MIB,
        process_high_bytes: base + 200 * MIB,
        system_medium_percent: 100.0,
        system_high_percent: 100.0,
    };
    let manager = MemoryManager::builder(Config::default())
        .thresholds(thresholds)
        .interval(Duration::from_millis(10))
        .build()
        .unwrap();
    manager.register_hook(&cache);
    manager.register_hook(&lru);
    assert_eq!(manager.level(), PressureLevel::Low);
    // A stream that follows the manager's level (a real one in `manager_drives_streams`).
    let follower = manager.pressure();

    // Medium: caches compress harder, following streams stop growing, tighter types advised.
    let first = touched(140);
    wait_for(&manager, PressureLevel::Medium);
    assert_eq!(count(&manager, Action::CompressHarder), 1);
    assert_eq!(count(&manager, Action::SmallerChunks), 1);
    assert_eq!(follower.level(), PressureLevel::Medium);
    assert!(manager.advice().tighter_types);

    // High: memory released, caches moved to disk and purged, profiling started.
    let second = touched(120);
    wait_for(&manager, PressureLevel::High);
    assert_eq!(count(&manager, Action::ReleaseMemory), 1);
    assert_eq!(count(&manager, Action::DiskOnlyCaching), 1);
    assert_eq!(count(&manager, Action::StartProfiling), 1);
    assert_eq!(count(&manager, Action::SmallerChunks), 2);
    assert_eq!(follower.level(), PressureLevel::High);
    assert!(manager.advice().disk_only_caching);
    assert!(lru.is_empty(), "the LRU cache was purged by release_memory");
    let stats = cache.get_stats();
    assert_eq!(stats.memory_entries, 0, "the memory tier moved to disk");
    assert_eq!(
        stats.disk_entries, 20,
        "nothing was lost: every entry is on disk"
    );
    assert!(
        cache.get_string("doc-3").unwrap().is_some(),
        "served from disk"
    );
    assert!(cache.get_stats().disk_hits >= 1);
    assert!(
        membound::profile::get_memory_profiler().is_profiling(membound::PRESSURE_PROFILE_SESSION)
    );

    // Back to Low: everything undone, the profiling session's result kept.
    drop(first);
    drop(second);
    membound::optimize::release_memory();
    wait_for(&manager, PressureLevel::Low);
    assert_eq!(count(&manager, Action::Restore), 1);
    assert_eq!(count(&manager, Action::StopProfiling), 1);
    assert_eq!(follower.level(), PressureLevel::Low);
    assert!(!manager.advice().tighter_types);
    let profile = manager
        .last_profile()
        .expect("the pressure session's result");
    assert!(profile.peak_memory_mb > 0.0);
    assert!(
        !membound::profile::get_memory_profiler().is_profiling(membound::PRESSURE_PROFILE_SESSION)
    );
    let recent = manager.stats().recent;
    assert!(
        recent
            .iter()
            .any(|r| r.action == Action::ReleaseMemory && r.detail.contains("RSS"))
    );
    manager.stop();
}

#[test]
fn manager_drives_streams() {
    let _serial = crate::serial();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rows.csv");
    let mut text = String::from("id,word\n");
    for i in 0..40_000 {
        text.push_str(&format!("{i},w{}\n", i % 13));
    }
    std::fs::write(&csv, text).unwrap();
    let config = Config {
        streaming_chunk_size: 4000,
        memory_profile: false,
        // No thread: the level changes at `check_now`, after the stream is open.
        memory_monitoring: false,
        ..Config::default()
    };
    // Thresholds this process is always over: the manager goes High at its first sample.
    let manager = MemoryManager::builder(config)
        .thresholds(Thresholds {
            process_medium_bytes: 1,
            process_high_bytes: 2,
            system_medium_percent: 100.0,
            system_high_percent: 100.0,
        })
        .interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let loader = manager.streaming_loader().build().unwrap();
    let stream = loader.stream(&csv).unwrap();
    wait_for(&manager, PressureLevel::High);
    let sizes: Vec<usize> = stream.map(|c| c.unwrap().1.rows).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 40_000);
    assert!(
        sizes.iter().rev().take(3).all(|&n| n < 4000),
        "chunks shrink once the manager is High: {sizes:?}"
    );
    // The stream was open at the change: the manager recorded that it followed.
    assert!(count(&manager, Action::SmallerChunks) >= 1);
    manager.stop();
}
