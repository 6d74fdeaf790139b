//! Profiles a short session with exact heap figures, then writes the HTML and JSON reports.
//!
//! `cargo run -p mem-profile --example profile_session [OUT_DIR]`
#![expect(clippy::print_stdout, reason = "an example prints its findings")]

use std::hint::black_box;
use std::time::Duration;

use mem_profile::{
    QuickMemoryProfiler, TrackingAllocator, get_memory_profiler, measure, profile_function,
};

#[global_allocator]
static ALLOC: TrackingAllocator = TrackingAllocator::new();

/// Keeps what it parses in a cache that never forgets: a leak.
#[profile_function]
fn parse_batch(cache: &mut Vec<Vec<u8>>, i: usize) -> usize {
    let scratch = black_box(vec![i as u8; 256 * 1024]);
    cache.push(scratch[..64 * 1024].to_vec());
    scratch.len()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map_or_else(std::env::temp_dir, Into::into);
    let profiler = get_memory_profiler();
    profiler.set_snapshot_interval(Duration::from_millis(10))?;
    profiler.start_profiling("example")?;
    let mut cache = Vec::new();
    for i in 0..120 {
        parse_batch(&mut cache, i);
        std::thread::sleep(Duration::from_millis(4));
    }
    let result = profiler.stop_profiling("example")?;
    print!("{}", result.summary());

    let (_, m) = measure(|| black_box(vec![0u64; 1 << 16]).len());
    println!(
        "measure: allocated {} B, peak {} B",
        m.allocated_bytes, m.peak_bytes
    );
    let ctx = QuickMemoryProfiler::quick_context("sort");
    let mut v: Vec<u64> = (0..200_000).rev().collect();
    v.sort_unstable();
    let q = ctx.finish();
    println!(
        "quick: {:+.2} MB, peak {:.1} MB, {:?}",
        q.memory_change_mb,
        q.peak_mb,
        q.elapsed()
    );

    let html = out.join("membound-profile-example.html");
    result.write_html(&html)?;
    result.write_json(out.join("membound-profile-example.json"))?;
    println!("report: {}", html.display());
    Ok(())
}
