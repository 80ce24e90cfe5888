//! Every conversion between a raw pointer that crossed the C boundary and a Rust value
//! lives here, and nowhere else. Each function states what the C caller must have
//! guaranteed; lib.rs documents the same contract in each exported function's `# Safety`.
//!
//! NULL and misaligned pointers are detected here and become `None` (the caller turns that
//! into `-EINVAL`); dangling or wrongly typed pointers cannot be detected and are the C
//! caller's responsibility, exactly as with any C library.

use alloc::alloc::{alloc, Layout};
use alloc::boxed::Box;
use core::ffi::c_void;

use crate::sdbus_cookie_allocator;

/// The `in_use` predicate of `sdbus_cookie_next()`, as C declares it.
pub type InUseFn = unsafe extern "C" fn(cookie: u64, userdata: *mut c_void) -> bool;

/// Moves `h` to the heap and hands ownership to C. Returns NULL if memory is exhausted
/// (instead of aborting the process, which `Box::new` would do).
pub(crate) fn into_raw(h: sdbus_cookie_allocator) -> *mut sdbus_cookie_allocator {
    let layout = Layout::new::<sdbus_cookie_allocator>();
    // SAFETY: the layout is that of a sized, non-zero-sized type.
    let p = unsafe { alloc(layout) }.cast::<sdbus_cookie_allocator>();
    if p.is_null() {
        return p;
    }
    // SAFETY: `p` is non-null, freshly allocated with the layout of the type, so valid
    // and aligned for one write; nothing was there to drop.
    unsafe { p.write(h) };
    p
}

/// Takes ownership back from C and drops the allocator. NULL is a no-op.
///
/// # Safety
/// `p` is NULL or was returned by [`into_raw`] and not freed since; C must not use it again.
pub(crate) unsafe fn free(p: *mut sdbus_cookie_allocator) {
    if p.is_null() {
        return;
    }
    // SAFETY: per this function's contract `p` came from `into_raw`, i.e. from the global
    // allocator with `Layout::new::<sdbus_cookie_allocator>()`, which is exactly what
    // `Box::from_raw` requires, and it is owned by nobody else any more.
    drop(unsafe { Box::from_raw(p) });
}

/// Borrows the allocator behind a handle mutably; `None` for NULL or misaligned.
///
/// # Safety
/// `p` is NULL or a live handle from [`into_raw`], and no other reference to it exists
/// for `'a` (the header requires callers to serialise access to one handle).
pub(crate) unsafe fn handle_mut<'a>(
    p: *mut sdbus_cookie_allocator,
) -> Option<&'a mut sdbus_cookie_allocator> {
    if !p.is_aligned() {
        return None;
    }
    // SAFETY: aligned; NULL gives None; otherwise live and unaliased per the contract.
    unsafe { p.as_mut() }
}

/// Borrows the allocator behind a handle; `None` for NULL or misaligned.
///
/// # Safety
/// `p` is NULL or a live handle from [`into_raw`], not mutated by anyone during `'a`.
pub(crate) unsafe fn handle_ref<'a>(
    p: *const sdbus_cookie_allocator,
) -> Option<&'a sdbus_cookie_allocator> {
    if !p.is_aligned() {
        return None;
    }
    // SAFETY: aligned; NULL gives None; otherwise live and not mutated per the contract.
    unsafe { p.as_ref() }
}

/// A caller-provided `T` slot to read and/or write (`uint64_t *`, `size_t *`,
/// `sdbus_cookie_allocator **`); `None` for NULL or misaligned.
///
/// # Safety
/// `p` is NULL or points to a `T` that C owns, that stays valid for `'a`, and that
/// nothing else accesses meanwhile. If the caller reads it, C must have initialised it.
pub(crate) unsafe fn slot<'a, T>(p: *mut T) -> Option<&'a mut T> {
    if !p.is_aligned() {
        return None;
    }
    // SAFETY: aligned; NULL gives None; otherwise valid and exclusive per the contract.
    unsafe { p.as_mut() }
}

/// The `in_use` callback together with its `userdata`, callable from safe code.
pub(crate) struct InUse {
    f: InUseFn,
    userdata: *mut c_void,
}

impl InUse {
    /// # Safety
    /// Calling `f(cookie, userdata)` must be sound for any cookie, any number of times,
    /// for as long as this value lives, and `f` must not unwind.
    pub(crate) unsafe fn new(f: InUseFn, userdata: *mut c_void) -> Self {
        InUse { f, userdata }
    }

    pub(crate) fn call(&mut self, cookie: u32) -> bool {
        // SAFETY: guaranteed by the contract of `InUse::new`; `userdata` is passed through
        // untouched, Rust never dereferences it.
        unsafe { (self.f)(cookie.into(), self.userdata) }
    }
}
