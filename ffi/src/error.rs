//! Error codes of the C ABI: systemd's dialect, a negative errno.
//!
//! Everything that can fail inside the library is an [`Errno`] (a positive Linux errno
//! value); [`c_return`] negates it at the boundary. The numeric values are
//! Linux's (asm-generic/errno-base.h, errno.h); the C tests compare every returned code with
//! `<errno.h>`'s macros, so a wrong value here fails them.

use core::ffi::c_int;

/// A positive errno value; returned to C as its negation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Errno(pub(crate) c_int);

pub(crate) const ENOMEM: Errno = Errno(12);
pub(crate) const EINVAL: Errno = Errno(22);

/// Runs an exported function's body and gives C its return value: the body's value, or
/// the negated errno.
pub(crate) fn c_return(body: impl FnOnce() -> Result<c_int, Errno>) -> c_int {
    match body() {
        Ok(v) => v,
        Err(Errno(e)) => -e,
    }
}

impl From<crate::api::Error> for Errno {
    fn from(e: crate::api::Error) -> Self {
        // The allocator owns the mapping (Busy -> EBUSY, AlreadyPending -> EEXIST, ...),
        // so the Rust and the C side cannot disagree about it.
        Errno(e.errno())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_return_negates_errno_and_passes_values() {
        assert_eq!(c_return(|| Err(Errno(22))), -22);
        assert_eq!(c_return(|| Ok(3)), 3);
    }

    #[test]
    fn not_pending_maps_to_enoent_like_the_header_says() {
        let mut a = crate::api::Allocator::new();
        let e = a.remove_pending(7).unwrap_err();
        assert_eq!(Errno::from(e), Errno(2)); // ENOENT
    }
}
