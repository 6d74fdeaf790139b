//! The counting global allocator: [`TrackingAllocator`], [`heap_stats`] and the per-thread
//! counters behind them.
//!
//! Design (why it is cheap): every thread owns one slot (128 bytes, its own cache lines) of a
//! static table and is its only writer, so the allocation path does plain loads and stores on
//! its own lines instead of atomic read-modify-writes on a shared one. Readers fold all slots.
//! A slot is released when its thread exits and the next thread continues adding to the same
//! sums, so no count is ever lost.
//! The process-wide peak needs a global view: each thread batches its net growth and publishes it
//! to one shared counter only every [`PEAK_GRANULARITY`] bytes (or at once for a large block), so
//! the shared line is touched once per ~64 KiB of net growth, not once per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// How far the process-wide peak may lag the truth, per thread allocating concurrently: a
/// thread publishes its net growth once it reaches this many bytes.
pub const PEAK_GRANULARITY: u64 = 64 * 1024;

/// Slots in the static table; threads beyond this share one atomic overflow slot (correct, slower).
const SLOTS: usize = 512;

/// One thread's counters. Only the owning thread writes (load + store), anyone reads.
/// 128-byte aligned: two cache lines, so neither a neighbour's line nor the adjacent-line
/// prefetcher makes two threads' slots share.
#[repr(align(128))]
struct Slot {
    in_use: AtomicBool,
    allocated: AtomicU64,
    freed: AtomicU64,
    allocs: AtomicU64,
    deallocs: AtomicU64,
    reallocs: AtomicU64,
    /// `allocated - freed` of this slot, kept to avoid recomputing it per call.
    net: AtomicI64,
    /// `net` when this slot last published to [`PUBLISHED`].
    mark: AtomicI64,
    /// Highest `allocated - freed` this slot has seen since the last scope reset (see `measure`).
    scope_peak: AtomicI64,
}

impl Slot {
    const fn new() -> Self {
        Self {
            in_use: AtomicBool::new(false),
            allocated: AtomicU64::new(0),
            freed: AtomicU64::new(0),
            allocs: AtomicU64::new(0),
            deallocs: AtomicU64::new(0),
            reallocs: AtomicU64::new(0),
            net: AtomicI64::new(0),
            mark: AtomicI64::new(0),
            scope_peak: AtomicI64::new(0),
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
/// Shared by threads that found no free slot and by threads whose slot was already released
/// during thread teardown. Written with atomic read-modify-writes.
static OVERFLOW: Slot = Slot::new();
/// Net bytes published by all threads: the process-wide live heap as the peak tracker sees it.
static PUBLISHED: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);
static NEXT_HINT: AtomicUsize = AtomicUsize::new(0);

/// Slot index of this thread: `UNCLAIMED` before its first allocation, `DEAD` after release.
const UNCLAIMED: usize = usize::MAX;
const DEAD: usize = usize::MAX - 1;

thread_local! {
    // A const-initialised Cell without a destructor: the fast path is one TLS load.
    static SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
    // Separate value whose destructor releases the slot when the thread exits.
    static RELEASE: SlotRelease = const { SlotRelease };
}

struct SlotRelease;

impl Drop for SlotRelease {
    fn drop(&mut self) {
        let _ = SLOT.try_with(|s| {
            let idx = s.replace(DEAD);
            if let Some(slot) = TABLE.get(idx) {
                flush(slot, slot.net.load(Relaxed));
                slot.in_use
                    .store(false, std::sync::atomic::Ordering::Release);
            }
        });
    }
}

/// The slot this thread writes, claiming one on first use. `None` means "use the overflow slot".
///
/// Only the allocator's own calls (`from_alloc`) mark the allocator as installed; readers claim
/// a slot only once it is.
#[inline]
fn my_slot(from_alloc: bool) -> Option<&'static Slot> {
    match SLOT.try_with(Cell::get) {
        Ok(idx) if idx < SLOTS => TABLE.get(idx),
        Ok(UNCLAIMED) if from_alloc || is_tracking() => claim(from_alloc),
        _ => None,
    }
}

#[cold]
fn claim(from_alloc: bool) -> Option<&'static Slot> {
    if from_alloc {
        INSTALLED.store(true, Relaxed);
    }
    let start = NEXT_HINT.fetch_add(1, Relaxed);
    for k in 0..SLOTS {
        let idx = (start + k) % SLOTS;
        let slot = TABLE.get(idx)?;
        if slot
            .in_use
            .compare_exchange(false, true, std::sync::atomic::Ordering::Acquire, Relaxed)
            .is_ok()
        {
            let _ = SLOT.try_with(|s| s.set(idx));
            // Registering the destructor may allocate; by now SLOT is set, so that allocation
            // takes the fast path instead of recursing here.
            if RELEASE.try_with(|_| ()).is_err() {
                slot.in_use
                    .store(false, std::sync::atomic::Ordering::Release);
                let _ = SLOT.try_with(|s| s.set(DEAD));
                return None;
            }
            return Some(slot);
        }
    }
    let _ = SLOT.try_with(|s| s.set(DEAD));
    None
}

/// Adds `v` to a counter only this thread writes: a plain load and store, no lock prefix.
#[inline]
fn bump(c: &AtomicU64, v: u64) {
    c.store(c.load(Relaxed).wrapping_add(v), Relaxed);
}

/// Publishes `delta` net bytes to the process-wide live figure and raises the peak if needed.
#[inline]
fn publish(delta: i64, grew: bool) {
    if delta == 0 {
        return;
    }
    let now = PUBLISHED.fetch_add(delta, Relaxed).wrapping_add(delta);
    if grew {
        let now = u64::try_from(now).unwrap_or(0);
        // Read first: the peak's line stays shared (cheap) until a new peak is really reached.
        if now > PEAK.load(Relaxed) {
            PEAK.fetch_max(now, Relaxed);
        }
    }
}

/// Which call an overflow-slot update counts.
#[derive(Clone, Copy)]
enum Call {
    Alloc,
    Dealloc,
    Realloc,
}

/// The hot path of an allocation: plain loads and stores on this thread's slot.
#[inline(always)]
fn on_alloc(size: u64) {
    let Some(slot) = my_slot(true) else {
        return overflow(size, 0, Call::Alloc);
    };
    bump(&slot.allocs, 1);
    bump(&slot.allocated, size);
    grow(slot, size as i64);
}

/// The hot path of a free.
#[inline(always)]
fn on_dealloc(size: u64) {
    let Some(slot) = my_slot(true) else {
        return overflow(0, size, Call::Dealloc);
    };
    bump(&slot.deallocs, 1);
    bump(&slot.freed, size);
    let net = slot.net.load(Relaxed).wrapping_sub(size as i64);
    slot.net.store(net, Relaxed);
    if slot.mark.load(Relaxed).wrapping_sub(net) >= PEAK_GRANULARITY as i64 {
        flush(slot, net);
    }
}

/// A realloc: the old block freed, the new one allocated, one call.
#[inline]
fn on_realloc(old: u64, new: u64) {
    let Some(slot) = my_slot(true) else {
        return overflow(new, old, Call::Realloc);
    };
    bump(&slot.reallocs, 1);
    bump(&slot.allocated, new);
    bump(&slot.freed, old);
    let delta = (new as i64).wrapping_sub(old as i64);
    if delta >= 0 {
        grow(slot, delta);
    } else {
        let net = slot.net.load(Relaxed).wrapping_add(delta);
        slot.net.store(net, Relaxed);
        if slot.mark.load(Relaxed).wrapping_sub(net) >= PEAK_GRANULARITY as i64 {
            flush(slot, net);
        }
    }
}

#[inline(always)]
fn grow(slot: &Slot, by: i64) {
    let net = slot.net.load(Relaxed).wrapping_add(by);
    slot.net.store(net, Relaxed);
    if net > slot.scope_peak.load(Relaxed) {
        slot.scope_peak.store(net, Relaxed);
    }
    if net.wrapping_sub(slot.mark.load(Relaxed)) >= PEAK_GRANULARITY as i64 {
        flush(slot, net);
    }
}

/// Publishes this slot's net change since its last publication.
#[cold]
#[inline(never)]
fn flush(slot: &Slot, net: i64) {
    let delta = net.wrapping_sub(slot.mark.load(Relaxed));
    slot.mark.store(net, Relaxed);
    publish(delta, delta > 0);
}

/// Threads without a slot share the overflow slot through atomic read-modify-writes.
#[cold]
#[inline(never)]
fn overflow(added: u64, removed: u64, call: Call) {
    INSTALLED.store(true, Relaxed);
    match call {
        Call::Alloc => OVERFLOW.allocs.fetch_add(1, Relaxed),
        Call::Dealloc => OVERFLOW.deallocs.fetch_add(1, Relaxed),
        Call::Realloc => OVERFLOW.reallocs.fetch_add(1, Relaxed),
    };
    OVERFLOW.allocated.fetch_add(added, Relaxed);
    OVERFLOW.freed.fetch_add(removed, Relaxed);
    let delta = (added as i64).wrapping_sub(removed as i64);
    publish(delta, delta > 0);
}

/// A global allocator that counts what it hands out, wrapping another allocator (the system
/// allocator by default).
///
/// Install it in a binary (or a test file) to make [`heap_stats`], [`measure`](crate::measure),
/// the live-heap column of profiling snapshots and `#[profile_function]` byte counts exact:
///
/// ```no_run
/// use mem_profile::TrackingAllocator;
///
/// #[global_allocator]
/// static ALLOC: TrackingAllocator = TrackingAllocator::new();
/// ```
///
/// All instances share one set of counters (a process has one global allocator). Overhead is a
/// few plain stores on a per-thread cache line per call; see the crate's benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct TrackingAllocator<A: GlobalAlloc = System> {
    inner: A,
}

impl TrackingAllocator<System> {
    /// Counts allocations made by the system allocator.
    #[must_use]
    pub const fn new() -> Self {
        Self { inner: System }
    }
}

impl<A: GlobalAlloc> TrackingAllocator<A> {
    /// Counts allocations made by `inner` (for example jemalloc or mimalloc).
    #[must_use]
    pub const fn with_allocator(inner: A) -> Self {
        Self { inner }
    }

    /// The wrapped allocator.
    #[must_use]
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged and only
// updates counters afterwards; the counting code never allocates (the slot table is static).
unsafe impl<A: GlobalAlloc> GlobalAlloc for TrackingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded under the caller's contract.
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            on_alloc(layout.size() as u64);
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded under the caller's contract.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            on_alloc(layout.size() as u64);
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded under the caller's contract.
        unsafe { self.inner.dealloc(ptr, layout) };
        on_dealloc(layout.size() as u64);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded under the caller's contract.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as freeing the old block and allocating the new one: that is the traffic.
            on_realloc(layout.size() as u64, new_size as u64);
        }
        p
    }
}

/// Process-wide heap figures from the [`TrackingAllocator`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocStats {
    /// Bytes currently allocated and not yet freed.
    pub live_bytes: u64,
    /// Highest live bytes since start (or [`reset_peak`]), exact to [`PEAK_GRANULARITY`] per
    /// concurrently allocating thread.
    pub peak_bytes: u64,
    /// Bytes ever allocated (a realloc counts its new size).
    pub total_allocated_bytes: u64,
    /// Bytes ever freed (a realloc counts its old size).
    pub total_freed_bytes: u64,
    /// Calls to `alloc`/`alloc_zeroed`.
    pub allocations: u64,
    /// Calls to `dealloc`.
    pub deallocations: u64,
    /// Calls to `realloc`.
    pub reallocations: u64,
}

impl AllocStats {
    /// Live bytes in MB (MiB).
    #[must_use]
    pub fn live_mb(&self) -> f64 {
        mem_monitor::bytes_to_mb(self.live_bytes)
    }

    /// Peak live bytes in MB (MiB).
    #[must_use]
    pub fn peak_mb(&self) -> f64 {
        mem_monitor::bytes_to_mb(self.peak_bytes)
    }
}

/// Whether a [`TrackingAllocator`] is the global allocator of this process (it has counted at
/// least one allocation).
#[must_use]
pub fn is_tracking() -> bool {
    INSTALLED.load(Relaxed)
}

fn fold() -> (u64, u64, u64, u64, u64) {
    let (mut a, mut f, mut n, mut d, mut r) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for s in TABLE.iter().chain(std::iter::once(&OVERFLOW)) {
        a = a.wrapping_add(s.allocated.load(Relaxed));
        f = f.wrapping_add(s.freed.load(Relaxed));
        n = n.wrapping_add(s.allocs.load(Relaxed));
        d = d.wrapping_add(s.deallocs.load(Relaxed));
        r = r.wrapping_add(s.reallocs.load(Relaxed));
    }
    (a, f, n, d, r)
}

/// Folds every thread's counters into process-wide figures, or `None` when no
/// [`TrackingAllocator`] is installed.
///
/// Costs one pass over a 64 KiB table; call it per snapshot, not per allocation.
#[must_use]
pub fn heap_stats() -> Option<AllocStats> {
    if !is_tracking() {
        return None;
    }
    let (allocated, freed, allocations, deallocations, reallocations) = fold();
    // Threads race with the fold; a free counted before its allocation can make the difference
    // transiently negative, which means "about zero".
    let live = (allocated.wrapping_sub(freed) as i64).max(0) as u64;
    Some(AllocStats {
        live_bytes: live,
        peak_bytes: PEAK.load(Relaxed).max(live),
        total_allocated_bytes: allocated,
        total_freed_bytes: freed,
        allocations,
        deallocations,
        reallocations,
    })
}

/// Sets the peak to the current live bytes, so the next [`heap_stats`] reports the peak of what
/// follows. Process-wide: sessions that run at the same time should rather compare peaks.
pub fn reset_peak() {
    let live = heap_stats().map_or(0, |s| s.live_bytes);
    PEAK.store(live, Relaxed);
}

/// This thread's raw counters, for scoped measurement: `(allocated, freed, allocs, deallocs)`.
pub(crate) fn thread_counters() -> Option<(u64, u64, u64, u64)> {
    if !is_tracking() {
        return None;
    }
    let slot = my_slot(false)?;
    Some((
        slot.allocated.load(Relaxed),
        slot.freed.load(Relaxed),
        slot.allocs.load(Relaxed),
        slot.deallocs.load(Relaxed),
    ))
}

/// Starts a peak scope on this thread: returns the token to pass to [`end_peak_scope`].
pub(crate) fn begin_peak_scope() -> Option<(i64, i64)> {
    let slot = my_slot(false)?;
    let net = slot.net.load(Relaxed);
    let saved = slot.scope_peak.load(Relaxed);
    slot.scope_peak.store(net, Relaxed);
    Some((net, saved))
}

/// Ends a peak scope: the highest net growth above the scope's start, in bytes. Restores the
/// outer scope's peak so scopes nest.
pub(crate) fn end_peak_scope(token: Option<(i64, i64)>) -> u64 {
    let (Some((start, saved)), Some(slot)) = (token, my_slot(false)) else {
        return 0;
    };
    let peak = slot.scope_peak.load(Relaxed);
    slot.scope_peak.store(peak.max(saved), Relaxed);
    u64::try_from(peak.wrapping_sub(start)).unwrap_or(0)
}
