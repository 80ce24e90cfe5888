//! An exhausted heap is an error, never an abort: `insert_pending` and `quarantine` return
//! `Error::OutOfMemory` with the allocator unchanged, and removals — which can split a run —
//! never allocate, so they succeed with the heap still refusing.
//!
//! The heap is this test binary's global allocator, which refuses every allocation and
//! reallocation on a thread while that thread's `REFUSE` flag is set.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sdbus_cookie::{Allocator, Error};

struct Refusing;

thread_local! {
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

fn refusing() -> bool {
    REFUSE.with(Cell::get)
}

// SAFETY: forwards to `System`, or returns null (allowed by `GlobalAlloc`) when refusing.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static HEAP: Refusing = Refusing;

/// Runs `f` with every allocation on this thread refused.
fn with_heap_exhausted<R>(f: impl FnOnce() -> R) -> R {
    REFUSE.with(|r| r.set(true));
    let out = f();
    REFUSE.with(|r| r.set(false));
    out
}

fn snapshot(a: &Allocator) -> (u64, usize, usize, Vec<(u64, u64)>) {
    let runs = a
        .pending_runs()
        .map(|(s, e)| (s.get().into(), e.get().into()))
        .collect();
    (a.current(), a.pending_len(), a.quarantined_len(), runs)
}

#[test]
fn insert_pending_with_the_heap_exhausted_is_out_of_memory_and_changes_nothing() {
    let mut a = Allocator::new();
    // Fill the storage to its capacity, so the next new cookie needs to grow it.
    let mut k = 1u64;
    a.insert_pending(k).unwrap();
    let before = loop {
        let s = snapshot(&a);
        k += 2; // scattered: each insert adds a run
        let r = with_heap_exhausted(|| a.insert_pending(k));
        if r.is_err() {
            break s;
        }
    };
    assert_eq!(
        with_heap_exhausted(|| a.insert_pending(k)),
        Err(Error::OutOfMemory)
    );
    assert_eq!(snapshot(&a), before, "a refused insert changes nothing");
    assert!(!a.is_pending(k));
    assert_eq!(a.check_invariants(), Ok(()));
    // With the heap back, the same insert works.
    a.insert_pending(k).unwrap();
    assert!(a.is_pending(k));
}

#[test]
fn removals_that_split_runs_succeed_with_the_heap_exhausted() {
    let mut a = Allocator::new();
    for k in 1..=1001 {
        a.insert_pending(k).unwrap();
    }
    assert_eq!(a.pending_runs().count(), 1);
    // Every second cookie of the run: 500 splits, 501 runs of one cookie, no allocation.
    with_heap_exhausted(|| {
        for k in (2..=1000).step_by(2) {
            a.remove_pending(k).unwrap();
        }
    });
    assert_eq!(a.pending_runs().count(), 501);
    assert_eq!(a.pending_len(), 501);
    assert_eq!(a.check_invariants(), Ok(()));
}

#[test]
fn quarantine_with_the_heap_exhausted_is_out_of_memory_and_release_still_works() {
    let mut a = Allocator::new();
    // Scattered, so each quarantined cookie is a run of its own and the quarantine's
    // storage has to grow after a while.
    for k in (1..=999).step_by(2) {
        a.insert_pending(k).unwrap();
    }
    a.quarantine(3).unwrap();
    a.quarantine(5).unwrap();
    let mut refused = None;
    for k in (7..=999).step_by(2) {
        let before = snapshot(&a);
        match with_heap_exhausted(|| a.quarantine(k)) {
            Ok(()) => continue,
            Err(e) => {
                assert_eq!(snapshot(&a), before, "a refused quarantine changes nothing");
                refused = Some((k, e));
                break;
            }
        }
    }
    let (k, e) = refused.expect("the quarantine never had to grow");
    assert_eq!(e, Error::OutOfMemory);
    assert!(!a.is_quarantined(k));
    assert!(a.is_pending(k));
    assert_eq!(a.check_invariants(), Ok(()));
    let quarantined = a.quarantined_len();
    let n = with_heap_exhausted(|| a.release_quarantined());
    assert_eq!(n, quarantined);
    assert!(n >= 2);
    assert_eq!(a.quarantined_len(), 0);
    assert_eq!(a.pending_len(), 500 - n);
    assert_eq!(a.check_invariants(), Ok(()));
}

#[test]
fn after_a_burst_inserts_succeed_with_the_heap_exhausted_and_keep_the_storage_they_cannot_shrink() {
    let mut a = Allocator::new();
    for k in (1..=200_001).step_by(2) {
        a.insert_pending(k).unwrap();
    }
    // The burst is over; the storage would shrink on the next insert, but the heap
    // cannot give it the smaller copy: the insert goes ahead in the storage it has.
    with_heap_exhausted(|| {
        for k in (21..=200_001).step_by(2) {
            a.remove_pending(k).unwrap();
        }
        for k in (300_001..=300_101).step_by(2) {
            a.insert_pending(k).unwrap();
        }
    });
    assert_eq!(a.pending_len(), 10 + 51);
    assert_eq!(a.check_invariants(), Ok(()));
}

#[test]
fn the_removal_that_empties_a_burst_succeeds_with_the_heap_exhausted() {
    let mut a = Allocator::new();
    for k in (1..=20_001).step_by(2) {
        a.insert_pending(k).unwrap();
    }
    with_heap_exhausted(|| {
        for k in (1..=20_001).step_by(2) {
            a.remove_pending(k).unwrap();
        }
    });
    assert_eq!(a.pending_len(), 0);
    assert_eq!(a.check_invariants(), Ok(()));
    a.insert_pending(5).unwrap();
    assert!(a.is_pending(5));
}
