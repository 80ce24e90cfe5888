//! The panic boundary: every exported function runs its whole body through exactly one of
//! these guards, so no Rust panic ever unwinds into C (that would be undefined behaviour).
//!
//! A caught panic is a bug in this library. `int` functions then return `-EIO`, value
//! queries their documented neutral value, constructors NULL. A handle whose operation
//! panicked is poisoned (see `with_alloc_mut` in lib.rs) and answers `-EIO` from then on,
//! because its invariants may be broken.

use core::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Errno, EIO};

/// Guard for functions returning `0`/a count or a negative errno.
pub(crate) fn guard_int(f: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    // AssertUnwindSafe: state that a panic may leave half-updated lives behind a handle,
    // which the handle's poison flag covers; nothing else is shared.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(Errno(e))) => -e,
        Err(_) => -EIO.0,
    }
}

/// Guard for functions that return a plain value; `on_panic` is what C gets after a panic.
pub(crate) fn guard_value<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_int_turns_a_panic_into_eio() {
        assert_eq!(guard_int(|| panic!("boom")), -5);
    }

    #[test]
    fn guard_int_negates_errno_and_passes_values() {
        assert_eq!(guard_int(|| Err(Errno(22))), -22);
        assert_eq!(guard_int(|| Ok(3)), 3);
    }

    #[test]
    fn guard_value_returns_the_fallback_on_panic() {
        assert_eq!(guard_value(7u64, || panic!("boom")), 7);
        assert_eq!(guard_value(7u64, || 9), 9);
    }
}
