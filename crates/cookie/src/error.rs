//! The one error type of the crate, with the errno sd-bus would return for each case.

use core::fmt;

use crate::Cookie;

/// What can go wrong when allocating or tracking cookies.
///
/// Each variant maps to the negative errno that systemd's C code uses for the same
/// situation ([`Error::errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Every cookie `next()` could hand out is awaiting a reply (`EBUSY`). Nothing changed.
    Busy,
    /// Cookie 0 is not a valid D-Bus serial (`EINVAL`).
    ZeroCookie,
    /// The cookie lies above the configured ceiling (`EINVAL`).
    AboveCeiling {
        /// The cookie that was passed.
        cookie: u64,
        /// The ceiling in force.
        ceiling: u32,
    },
    /// The cookie is already pending (`EEXIST`).
    AlreadyPending(Cookie),
    /// The cookie is not pending (`ENOENT`).
    NotPending(Cookie),
    /// The width is outside `2..=32` (`EINVAL`).
    InvalidWidth(u32),
    /// The ceiling is not in `cycled + 1 ..= max` (`EINVAL`).
    InvalidCeiling {
        /// The ceiling that was asked for.
        ceiling: u64,
        /// The first cycled cookie of this width.
        cycled: u32,
        /// The largest cookie of this width.
        max: u64,
    },
    /// The heap could not grow the pending set or the quarantine (`ENOMEM`). Nothing
    /// changed.
    OutOfMemory,
    /// Legacy (pre-v242) mode only: the 64-bit counter passed `0xffffffff`, and sealing a
    /// classic D-Bus message with it fails (`EOPNOTSUPP`). The counter has still advanced.
    Overflow {
        /// The counter value that could not be used.
        cookie: u64,
    },
}

impl Error {
    /// The positive Linux errno value for this error; C callers return its negation.
    pub const fn errno(&self) -> i32 {
        // Linux values (asm-generic/errno-base.h, errno.h); the crate is no_std, so no libc.
        const ENOENT: i32 = 2;
        const ENOMEM: i32 = 12;
        const EBUSY: i32 = 16;
        const EEXIST: i32 = 17;
        const EINVAL: i32 = 22;
        const EOPNOTSUPP: i32 = 95;
        match self {
            Error::Busy => EBUSY,
            Error::ZeroCookie
            | Error::AboveCeiling { .. }
            | Error::InvalidWidth(_)
            | Error::InvalidCeiling { .. } => EINVAL,
            Error::AlreadyPending(_) => EEXIST,
            Error::NotPending(_) => ENOENT,
            Error::Overflow { .. } => EOPNOTSUPP,
            Error::OutOfMemory => ENOMEM,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Busy => f.write_str("every cycled cookie is awaiting a reply"),
            Error::ZeroCookie => f.write_str("cookie 0 is not a valid D-Bus serial"),
            Error::AboveCeiling { cookie, ceiling } => {
                write!(f, "cookie {cookie:#x} is above the ceiling {ceiling:#x}")
            }
            Error::AlreadyPending(c) => write!(f, "cookie {:#x} is already pending", c.get()),
            Error::NotPending(c) => write!(f, "cookie {:#x} is not pending", c.get()),
            Error::InvalidWidth(w) => write!(f, "cookie width {w} is outside 2..=32"),
            Error::InvalidCeiling {
                ceiling,
                cycled,
                max,
            } => write!(
                f,
                "ceiling {ceiling:#x} must lie in {:#x}..={max:#x}",
                u64::from(*cycled) + 1
            ),
            Error::OutOfMemory => f.write_str("out of memory for the pending set"),
            Error::Overflow { cookie } => write!(
                f,
                "cookie {cookie:#x} does not fit a 32-bit D-Bus serial (pre-v242 overflow)"
            ),
        }
    }
}

impl core::error::Error for Error {}
