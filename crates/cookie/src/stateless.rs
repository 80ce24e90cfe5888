//! The stateless drop-in for upstream's `next_cookie()`: the caller owns the pending set
//! and answers `in_use(cookie)`.

use crate::{Config, Cookie, Error};

/// The cookie after `current` by the cycle rule, asking `in_use` about candidates.
///
/// Exactly upstream's `next_cookie()` (systemd PR #11818): `in_use` is consulted only for
/// candidates at or above `cycled`, so before the first cycle it is never called; after it,
/// at most [`Config::cycled_len`] times, then [`Error::Busy`]. `current` may be 0 (no cookie
/// yet) and must not exceed the ceiling ([`Error::AboveCeiling`]).
///
/// The worst case is linear in the number of consecutive cookies in use, because a
/// predicate cannot be asked about runs; [`crate::Allocator`] owns its pending set and
/// avoids that.
pub fn next_cookie(
    current: u64,
    config: &Config,
    mut in_use: impl FnMut(u32) -> bool,
) -> Result<Cookie, Error> {
    let ceiling = config.ceiling();
    let current = match u32::try_from(current) {
        Ok(c) if c <= ceiling => c,
        _ => {
            return Err(Error::AboveCeiling {
                cookie: current,
                ceiling,
            })
        }
    };
    let mut n = config.inc(current);
    if n >= config.cycled() {
        let mut left = config.cycled_len();
        while in_use(n) {
            left -= 1;
            if left == 0 {
                return Err(Error::Busy);
            }
            n = config.inc(n);
        }
    }
    config.cookie(u64::from(n))
}
