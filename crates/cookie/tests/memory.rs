//! What the pending storage asks of the heap around a burst: a compaction gives memory
//! back and leaves an eighth of room, so the inserts right after it do not allocate again.
//!
//! The heap is this test binary's global allocator, which counts the allocations and
//! reallocations made on each thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sdbus_cookie::Allocator;

struct Counting;

thread_local! {
    static GROWS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        GROWS.with(|g| g.set(g.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        GROWS.with(|g| g.set(g.get() + 1));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

/// Allocations and reallocations on this thread while `f` runs.
fn grows_during(f: impl FnOnce()) -> usize {
    let before = GROWS.with(Cell::get);
    f();
    GROWS.with(Cell::get) - before
}

#[test]
fn a_compaction_after_a_burst_leaves_room_for_the_next_inserts() {
    let mut a = Allocator::new();
    // A burst of 64,000 single pending cookies (about 1,300 leaves of the storage) ...
    for k in (1..=128_000u64).step_by(2) {
        a.insert_pending(k).unwrap();
    }
    // ... of which three in four are answered: the storage holds about four times what
    // the set needs now.
    for k in (1..=128_000u64).step_by(2).filter(|k| k % 8 != 1) {
        a.remove_pending(k).unwrap();
    }
    assert_eq!(a.pending_len(), 16_000);
    // The next insert gives the rest back: it copies the set into smaller storage.
    let compaction = grows_during(|| a.insert_pending(1_000_001).unwrap());
    assert!(compaction > 0, "the insert after the burst did not compact");
    // The copy kept an eighth more than the set needs (about 40 leaves of 64 runs), so
    // 600 more single cookies (about 13 leaves once leaves are three quarters full) fit
    // without asking the heap again.
    let after = grows_during(|| {
        for k in (1_000_003..1_001_203u64).step_by(2) {
            a.insert_pending(k).unwrap();
        }
    });
    assert_eq!(
        after, 0,
        "inserts right after a compaction allocated {after} times"
    );
    assert_eq!(a.pending_len(), 16_601);
    assert_eq!(a.check_invariants(), Ok(()));
}
