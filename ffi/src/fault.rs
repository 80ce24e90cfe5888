//! Test-only behaviour of [`sdbus_cookie_next`](crate::sdbus_cookie_next), for reproducing
//! the cookie-overflow incident (DESIGN.md §1, issue 9) in a real systemd in seconds
//! instead of months. Compiled only with the cargo features below, both off by default;
//! `scripts/install-ffi` never enables them, so no shipped library contains this module
//! (`scripts/test-reproduce` checks that the default build has no trace of it).
//!
//! - `fault-injection`: if `SDBUS_COOKIE_FAULT_START=N` (decimal or `0x` hex, 1..=0xffffffff)
//!   is set in the process environment, the cookie of ONE connection is moved forward so
//!   that the next cookie it hands out is `N`. Once per process, on the first call after
//!   `Hello` (which must keep cookie 1) from a connection to a bus broker (`sd_bus_is_bus_client()` > 0), i.e. in systemd PID 1 the
//!   API bus: its direct connections on `/run/systemd/private` keep their own low cookies,
//!   which is what the incident looked like (the API bus dead, systemctl over the private
//!   socket still working) and what lets `sdcookie doctor` diagnose it.
//!   This relies on the systemd patch (systemd-patch/252) passing the `sd_bus *` as the
//!   predicate's `userdata`; `sd_bus_is_bus_client` is looked up with `dlsym` in the process
//!   (libsystemd exports it). If the process has no such symbol, the first connection that
//!   asks is moved, whatever it is. The environment is read once, at the first call.
//! - `legacy`: the pre-v242 rule (systemd ≤ v241, `bus_seal_message()`: `++b->cookie`): a
//!   64-bit increment that never cycles and never consults `in_use`. Past `0xffffffff`
//!   sd-bus's `sd_bus_message_seal()` then fails with `-EOPNOTSUPP`, exactly as in v241.
//!   Only `sdbus_cookie_next` changes; the ceiling variant and the handle API do not.

use core::ffi::{c_int, c_void};

use crate::error::{Errno, EINVAL};
use crate::ptr::{self, InUseFn};

/// The body of `sdbus_cookie_next` in a test build.
pub(crate) fn next(
    cookie: *mut u64,
    in_use: Option<InUseFn>,
    userdata: *mut c_void,
) -> Result<c_int, Errno> {
    #[cfg(feature = "fault-injection")]
    injection::apply(cookie, userdata)?;
    #[cfg(feature = "legacy")]
    {
        let _ = userdata;
        legacy_next(cookie, in_use)
    }
    #[cfg(not(feature = "legacy"))]
    crate::stateless_next(cookie, &crate::api::Config::DEFAULT, in_use, userdata)
}

/// v241's `++b->cookie`: 64 bits, no cycle, no lookup. In C the increment wraps at 2^64;
/// so does this one (unreachable in practice).
#[cfg(feature = "legacy")]
fn legacy_next(cookie: *mut u64, in_use: Option<InUseFn>) -> Result<c_int, Errno> {
    // SAFETY: `sdbus_cookie_next`'s `# Safety`: NULL or a valid, exclusive `uint64_t *`.
    let cookie = unsafe { ptr::slot(cookie) }.ok_or(EINVAL)?;
    // Same argument contract as the fixed build, so a caller cannot tell them apart by errors.
    in_use.ok_or(EINVAL)?;
    *cookie = cookie.wrapping_add(1);
    Ok(0)
}

#[cfg(feature = "fault-injection")]
mod injection {
    use super::*;
    use core::ffi::c_char;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;

    /// Name of the environment variable that arms the jump.
    pub(crate) const ENV: &str = "SDBUS_COOKIE_FAULT_START";

    /// Set once the one connection has been chosen (moved or not).
    static DONE: AtomicBool = AtomicBool::new(false);

    /// `int sd_bus_is_bus_client(sd_bus *)`, libsystemd's public API.
    type IsBusClient = unsafe extern "C" fn(bus: *mut c_void) -> c_int;

    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }

    /// The first cookie to hand out, from the environment; `None` if unset or invalid
    /// (an invalid value is reported on stderr once: a test build may be noisy).
    fn start() -> Option<u64> {
        static START: OnceLock<Option<u64>> = OnceLock::new();
        *START.get_or_init(|| {
            let raw = std::env::var(ENV).ok()?;
            let parsed = match raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => raw.parse().ok(),
            };
            match parsed {
                Some(n @ 1..=0xffff_ffff) => Some(n),
                _ => {
                    eprintln!("sdbus-cookie: fault injection: ignoring {ENV}={raw:?} (want 1..=0xffffffff)");
                    None
                }
            }
        })
    }

    /// Whether `userdata` (sd-bus's `sd_bus *`) is a connection to a bus broker; `true` if
    /// the process has no `sd_bus_is_bus_client` to ask.
    fn is_bus_client(userdata: *mut c_void) -> bool {
        // RTLD_DEFAULT is ((void *) 0) in glibc's <dlfcn.h>: search the global scope.
        // SAFETY: dlsym with a NUL-terminated name only reads it.
        let f = unsafe { dlsym(core::ptr::null_mut(), c"sd_bus_is_bus_client".as_ptr()) };
        if f.is_null() || userdata.is_null() {
            return true;
        }
        // SAFETY: the symbol is libsystemd's `int sd_bus_is_bus_client(sd_bus *)`, and the
        // patched sd-bus passes its `sd_bus *` as `userdata` (systemd-patch/252); the
        // function only reads `bus->bus_client` (after its own NULL/pid checks).
        let f = unsafe { core::mem::transmute::<*mut c_void, IsBusClient>(f) };
        // SAFETY: see above.
        unsafe { f(userdata) > 0 }
    }

    pub(crate) fn apply(cookie: *mut u64, userdata: *mut c_void) -> Result<(), Errno> {
        if DONE.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(start) = start() else {
            DONE.store(true, Ordering::Release);
            return Ok(());
        };
        // SAFETY: `sdbus_cookie_next`'s `# Safety`: NULL or a valid, exclusive `uint64_t *`;
        // the reference ends with this function, before the real allocation runs.
        let cookie = unsafe { ptr::slot(cookie) }.ok_or(EINVAL)?;
        // A bus connection's first message is Hello, and sd-bus insists on its cookie being
        // 1 (process_hello(): a reply with reply_cookie != 1 fails the connection with
        // -EIO), so the jump waits for the second message.
        if *cookie == 0 || !is_bus_client(userdata) {
            return Ok(());
        }
        if DONE.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if *cookie < start - 1 {
            eprintln!(
                "sdbus-cookie: fault injection: bus connection {userdata:p}: cookie {:#x} -> {:#x}, next {start:#x}",
                *cookie,
                start - 1
            );
            *cookie = start - 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn never(_: u64, _: *mut c_void) -> bool {
        false
    }

    // No SDBUS_COOKIE_FAULT_START in the test environment: only the rule itself shows.
    #[cfg(feature = "legacy")]
    #[test]
    fn legacy_counts_past_0xffffffff_like_v241_instead_of_cycling() {
        let mut c: u64 = 0xffff_fffe;
        for want in [0xffff_ffffu64, 0x1_0000_0000, 0x1_0000_0001] {
            assert_eq!(next(&mut c, Some(never), core::ptr::null_mut()), Ok(0));
            assert_eq!(c, want);
        }
    }

    #[cfg(not(feature = "legacy"))]
    #[test]
    fn fixed_test_build_still_cycles_to_0x80000000() {
        let mut c: u64 = 0xffff_ffff;
        assert_eq!(next(&mut c, Some(never), core::ptr::null_mut()), Ok(0));
        assert_eq!(c, 0x8000_0000);
    }

    #[test]
    fn null_cookie_is_einval_in_test_builds_too() {
        assert_eq!(
            next(core::ptr::null_mut(), Some(never), core::ptr::null_mut()),
            Err(EINVAL)
        );
    }
}
