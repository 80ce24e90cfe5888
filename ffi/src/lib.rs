//! The C ABI of sdbus-cookie: `libsdbus_cookie.a` / `libsdbus_cookie.so.0`, declared for C in
//! `ffi/include/sdbus-cookie.h` (the contract C users read; keep the two in step — the
//! `abi-check` crate's bindgen pass fails the build when they drift).
//!
//! It speaks systemd's dialect: functions return 0 (or a count) on success and a negative
//! errno on failure; NULL arguments are `-EINVAL`; `_free(NULL)` is a no-op; no Rust panic
//! crosses the boundary: a panic is a bug in this library and aborts the process, as a
//! failed `assert()` does in systemd (see "The panic boundary" below).
//!
//! Two ways in (docs/ARCHITECTURE.md §4):
//! 1. [`sdbus_cookie_next`], a stateless drop-in for upstream sd-bus's `next_cookie()`
//!    (systemd v242+, PR #11818, src/libsystemd/sd-bus/sd-bus.c): the caller keeps its
//!    cookie and passes an `in_use` predicate, consulted only for candidates
//!    `>= 0x80000000`, exactly like upstream.
//! 2. An opaque [`sdbus_cookie_allocator`] handle that owns the pending set and gives the
//!    O(log n) worst case, a configurable ceiling and quarantine.
//!
//! Layout of this crate: `ptr.rs` holds every raw-pointer conversion, `error.rs` the errno
//! values and their conversion to C's return value. This file only states the contracts and
//! glues the two to the allocator. The crate is `no_std` and an `rlib`: Rust tests, the ABI
//! check, the benches and the fuzz target link it directly; the C library itself (the
//! archive and the shared object) is `ffi/lib`, which adds what only a final C artifact
//! may define: the panic handler and the global allocator.
//!
//! # The panic boundary
//!
//! Every exported function is `extern "C"`, which cannot unwind: a panic reaching one
//! aborts the process (guaranteed since Rust 1.81, below this crate's MSRV). In the C
//! library the panic strategy is `abort` and the handler writes one line and calls
//! `abort()`. Earlier versions caught panics and returned `-EIO`; that needs `std`'s unwinder,
//! which costs every program linking the library `libgcc_s.so.1` and about 300 KiB (stripped,
//! -O2) of panic and backtrace machinery, for a path only a bug can take.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

use core::ffi::{c_char, c_int, c_void};

mod error;
mod ptr;

// The allocator crate (crates/cookie); every use in this crate goes through `api::`.
pub(crate) use cookie as api;

use api::{Allocator, Config};
use error::{c_return, Errno, EINVAL, ENOMEM};
pub use ptr::InUseFn;

/// Largest cookie of the 32-bit D-Bus serial space (`SDBUS_COOKIE_MAX` in C).
pub const SDBUS_COOKIE_MAX: u64 = 0xffff_ffff;

/// An allocator handle, opaque to C (`sdbus_cookie_allocator` in the header).
///
/// Created by [`sdbus_cookie_allocator_new`] or [`sdbus_cookie_allocator_new_with_ceiling`],
/// owned by the C caller, released with [`sdbus_cookie_allocator_free`].
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct sdbus_cookie_allocator {
    inner: Allocator,
}

/// Runs `f` on the allocator behind `a`; `-EINVAL` for NULL.
///
/// # Safety
/// As [`ptr::handle_mut`].
unsafe fn with_alloc_mut<R>(
    a: *mut sdbus_cookie_allocator,
    f: impl FnOnce(&mut Allocator) -> Result<R, Errno>,
) -> Result<R, Errno> {
    // SAFETY: forwarded to this function's own contract.
    let h = unsafe { ptr::handle_mut(a) }.ok_or(EINVAL)?;
    f(&mut h.inner)
}

/// Runs `f` on the allocator behind `a` for a query; `None` for NULL.
///
/// # Safety
/// As [`ptr::handle_ref`].
unsafe fn with_alloc<R>(
    a: *const sdbus_cookie_allocator,
    f: impl FnOnce(&Allocator) -> R,
) -> Option<R> {
    // SAFETY: forwarded to this function's own contract.
    let h = unsafe { ptr::handle_ref(a) }?;
    Some(f(&h.inner))
}

fn stateless_next(
    cookie: *mut u64,
    config: &Config,
    in_use: Option<InUseFn>,
    userdata: *mut c_void,
) -> Result<c_int, Errno> {
    // SAFETY: the exported callers' `# Safety` require `cookie` to be NULL or a valid,
    // exclusive `uint64_t *` initialised by C for the duration of the call.
    let cookie = unsafe { ptr::slot(cookie) }.ok_or(EINVAL)?;
    let in_use = in_use.ok_or(EINVAL)?;
    // SAFETY: the exported callers' `# Safety` require `in_use(cookie, userdata)` to be
    // callable for any cookie during the call and not to unwind; `pred` dies with this call.
    let mut pred = unsafe { ptr::InUse::new(in_use, userdata) };
    // next_cookie rejects a current cookie above the ceiling (AboveCeiling -> EINVAL)
    // before consulting the predicate.
    let next = api::next_cookie(*cookie, config, |k| pred.call(k))?;
    *cookie = next.into();
    Ok(0)
}

/// Stateless drop-in for upstream sd-bus `next_cookie()` (v242+): advances `*cookie` to the
/// next cookie by the cycle rule, skipping cycled candidates for which `in_use` says yes.
///
/// Returns 0 on success; `-EBUSY` when all 2^31 cycled cookies are in use (`*cookie`
/// unchanged); `-EINVAL` if `cookie` or `in_use` is NULL or `*cookie > 0xffffffff`.
///
/// # Safety
/// `cookie` is NULL or points to an initialised `uint64_t` nobody else accesses during the
/// call; `in_use` is NULL or a function that may be called with `userdata` during the call
/// and does not unwind (no C++ exception, no longjmp out of it).
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_next(
    cookie: *mut u64,
    in_use: Option<InUseFn>,
    userdata: *mut c_void,
) -> c_int {
    c_return(|| stateless_next(cookie, &Config::DEFAULT, in_use, userdata))
}

/// As [`sdbus_cookie_next`] with a lower ceiling: cookies cycle from `ceiling` back to
/// `0x80000000` (e.g. `0xfffeffff`, the limit xdg-dbus-proxy enforces).
///
/// Additional error: `-EINVAL` if `ceiling` is not in `(0x80000000, 0xffffffff]` or
/// `*cookie > ceiling`.
///
/// # Safety
/// As [`sdbus_cookie_next`].
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_next_with_ceiling(
    cookie: *mut u64,
    ceiling: u64,
    in_use: Option<InUseFn>,
    userdata: *mut c_void,
) -> c_int {
    c_return(|| {
        let config = Config::DEFAULT.with_ceiling(ceiling)?;
        stateless_next(cookie, &config, in_use, userdata)
    })
}

/// A new allocator with the default ceiling `0xffffffff`, current cookie 0, nothing
/// pending. The caller owns it and releases it with [`sdbus_cookie_allocator_free`].
/// Returns NULL if memory is exhausted.
#[no_mangle]
pub extern "C" fn sdbus_cookie_allocator_new() -> *mut sdbus_cookie_allocator {
    ptr::into_raw(sdbus_cookie_allocator {
        inner: Allocator::new(),
    })
}

/// A new allocator whose cookies cycle from `ceiling` back to `0x80000000`; stored in `*ret`.
///
/// Returns 0; `-EINVAL` if `ret` is NULL or `ceiling` is not in `(0x80000000, 0xffffffff]`;
/// `-ENOMEM` if memory is exhausted. `*ret` is written only on
/// success.
///
/// # Safety
/// `ret` is NULL or points to writable storage for one pointer that nobody else accesses
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_new_with_ceiling(
    ceiling: u64,
    ret: *mut *mut sdbus_cookie_allocator,
) -> c_int {
    c_return(|| {
        // SAFETY: per this function's `# Safety`; only written, never read.
        let ret = unsafe { ptr::slot(ret) }.ok_or(EINVAL)?;
        let config = Config::DEFAULT.with_ceiling(ceiling)?;
        let p = ptr::into_raw(sdbus_cookie_allocator {
            inner: Allocator::with_config(config),
        });
        if p.is_null() {
            return Err(ENOMEM);
        }
        *ret = p;
        Ok(0)
    })
}

/// Releases an allocator and everything it owns. NULL is a no-op.
///
/// # Safety
/// `a` is NULL or a handle from `sdbus_cookie_allocator_new*` not freed yet; it must not
/// be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_free(a: *mut sdbus_cookie_allocator) {
    // SAFETY: per this function's `# Safety`.
    unsafe { ptr::free(a) }
}

/// Hands out the next cookie (never 0, never above the ceiling, never a pending one) into
/// `*ret` and makes it the current cookie.
///
/// Returns 0; `-EBUSY` if every cycled cookie is pending (state unchanged); `-EINVAL` if
/// `a` or `ret` is NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody else uses during the call; `ret` is NULL or points
/// to a writable `uint64_t`.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_next(
    a: *mut sdbus_cookie_allocator,
    ret: *mut u64,
) -> c_int {
    c_return(|| {
        // SAFETY: per this function's `# Safety`; only written, never read.
        let ret = unsafe { ptr::slot(ret) }.ok_or(EINVAL)?;
        // SAFETY: per this function's `# Safety`.
        let c = unsafe { with_alloc_mut(a, |al| Ok(al.next()?)) }?;
        *ret = c.into();
        Ok(0)
    })
}

/// Marks `cookie` as awaiting a reply: `next` will not hand it out until it is removed.
///
/// Returns 0; `-ENOMEM` if the pending set could not grow (state unchanged); `-EEXIST` if
/// already pending; `-EINVAL` if `a` is NULL, `cookie` is 0 or above the ceiling.
///
/// # Safety
/// `a` is NULL or a live handle nobody else uses during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_pending_add(
    a: *mut sdbus_cookie_allocator,
    cookie: u64,
) -> c_int {
    // SAFETY: per this function's `# Safety`.
    c_return(|| unsafe { with_alloc_mut(a, |al| Ok(al.insert_pending(cookie)?)) }.map(|()| 0))
}

/// The reply for `cookie` arrived (or the call was abandoned): it may be handed out again.
/// Also ends its quarantine. Never allocates.
///
/// Returns 0; `-ENOENT` if not pending; `-EINVAL` if `a` is NULL, `cookie` is 0 or above the
/// ceiling.
///
/// # Safety
/// `a` is NULL or a live handle nobody else uses during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_pending_remove(
    a: *mut sdbus_cookie_allocator,
    cookie: u64,
) -> c_int {
    // SAFETY: per this function's `# Safety`.
    c_return(|| unsafe { with_alloc_mut(a, |al| Ok(al.remove_pending(cookie)?)) }.map(|()| 0))
}

/// Keeps the pending `cookie` reserved after its call timed out locally, until its late
/// reply (`pending_remove`) or `release_quarantined` (disconnect).
///
/// Returns 0; `-ENOMEM` if the quarantine could not grow (state unchanged); `-ENOENT` if
/// `cookie` is not pending; `-EINVAL` if `a` is NULL, `cookie` is 0 or above the ceiling.
///
/// # Safety
/// `a` is NULL or a live handle nobody else uses during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_quarantine(
    a: *mut sdbus_cookie_allocator,
    cookie: u64,
) -> c_int {
    // SAFETY: per this function's `# Safety`.
    c_return(|| unsafe { with_alloc_mut(a, |al| Ok(al.quarantine(cookie)?)) }.map(|()| 0))
}

/// Drops every quarantined cookie from the pending set (the connection went away); their
/// number is stored in `*ret_count` unless `ret_count` is NULL.
///
/// Returns 0; `-EINVAL` if `a` is NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody else uses during the call; `ret_count` is NULL or
/// points to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_release_quarantined(
    a: *mut sdbus_cookie_allocator,
    ret_count: *mut usize,
) -> c_int {
    c_return(|| {
        // SAFETY: per this function's `# Safety`.
        let n = unsafe { with_alloc_mut(a, |al| Ok(al.release_quarantined())) }?;
        // SAFETY: per this function's `# Safety`; only written, never read.
        if let Some(ret) = unsafe { ptr::slot(ret_count) } {
            *ret = n;
        }
        Ok(0)
    })
}

/// A message sealed by the caller with `cookie` was sent: the current cookie becomes
/// `max(current, cookie)` (upstream's rule when the bus adopts a caller-set cookie).
///
/// Returns 0; `-EINVAL` if `a` is NULL, `cookie` is 0 or above the ceiling.
///
/// # Safety
/// `a` is NULL or a live handle nobody else uses during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_observe_sealed(
    a: *mut sdbus_cookie_allocator,
    cookie: u64,
) -> c_int {
    // SAFETY: per this function's `# Safety`.
    c_return(|| unsafe { with_alloc_mut(a, |al| Ok(al.observe_sealed(cookie)?)) }.map(|()| 0))
}

/// The current cookie (last handed out or observed; 0 before any). 0 for NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody mutates during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_current(a: *const sdbus_cookie_allocator) -> u64 {
    // SAFETY: per this function's `# Safety`.
    unsafe { with_alloc(a, Allocator::current) }.unwrap_or(0)
}

/// The ceiling the handle was created with. 0 for NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody mutates during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_ceiling(a: *const sdbus_cookie_allocator) -> u64 {
    // SAFETY: per this function's `# Safety`.
    unsafe { with_alloc(a, |al| al.config().ceiling().into()) }.unwrap_or(0)
}

/// Number of pending cookies, quarantined ones included. 0 for NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody mutates during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_pending_count(
    a: *const sdbus_cookie_allocator,
) -> usize {
    // SAFETY: per this function's `# Safety`.
    unsafe { with_alloc(a, Allocator::pending_len) }.unwrap_or(0)
}

/// Number of quarantined cookies. 0 for NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody mutates during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_quarantined_count(
    a: *const sdbus_cookie_allocator,
) -> usize {
    // SAFETY: per this function's `# Safety`.
    unsafe { with_alloc(a, Allocator::quarantined_len) }.unwrap_or(0)
}

/// 1 if `cookie` is pending (quarantined ones included), 0 if not (any value, also 0 or
/// above the ceiling); `-EINVAL` if `a` is NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody mutates during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_is_pending(
    a: *const sdbus_cookie_allocator,
    cookie: u64,
) -> c_int {
    // SAFETY: per this function's `# Safety`.
    c_return(|| unsafe { query_flag(a, |al| al.is_pending(cookie)) })
}

/// 1 if `cookie` is quarantined, 0 if not; `-EINVAL` if `a` is NULL.
///
/// # Safety
/// `a` is NULL or a live handle nobody mutates during the call.
#[no_mangle]
pub unsafe extern "C" fn sdbus_cookie_allocator_is_quarantined(
    a: *const sdbus_cookie_allocator,
    cookie: u64,
) -> c_int {
    // SAFETY: per this function's `# Safety`.
    c_return(|| unsafe { query_flag(a, |al| al.is_quarantined(cookie)) })
}

/// # Safety
/// As [`ptr::handle_ref`].
unsafe fn query_flag(
    a: *const sdbus_cookie_allocator,
    f: impl FnOnce(&Allocator) -> bool,
) -> Result<c_int, Errno> {
    // SAFETY: forwarded to this function's own contract.
    let h = unsafe { ptr::handle_ref(a) }.ok_or(EINVAL)?;
    Ok(f(&h.inner).into())
}

/// The library version, e.g. `"0.1.0"`: a static NUL-terminated string the caller must not
/// free. Never NULL.
#[no_mangle]
pub extern "C" fn sdbus_cookie_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misaligned_out_pointer_is_einval_not_undefined_behaviour() {
        let a = sdbus_cookie_allocator_new();
        let mut buf = [0u64; 2];
        // One byte into `buf`: in bounds, but not aligned for a u64.
        let misaligned = buf.as_mut_ptr().cast::<u8>().wrapping_add(1).cast::<u64>();
        // SAFETY: `a` is live and used by this thread only; the misaligned pointer is never
        // dereferenced, that is what this test checks.
        unsafe {
            assert_eq!(sdbus_cookie_allocator_next(a, misaligned), -22);
            assert_eq!(sdbus_cookie_allocator_current(a), 0, "state unchanged");
            sdbus_cookie_allocator_free(a);
        }
        assert_eq!(buf, [0, 0]);
    }

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: the function returns a static NUL-terminated string.
        let v = unsafe { core::ffi::CStr::from_ptr(sdbus_cookie_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
