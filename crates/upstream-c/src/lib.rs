//! Our own C re-implementation of sd-bus's two message-cookie algorithms, the
//! reference that `sdbus-cookie` is differentially tested and benched against.
//!
//! * [`UpstreamV242`]: systemd v242+ (commit
//!   `1f82f5bb4237ed5f015daf93f818e9db95e764b8`, PR #11818 "sd-bus: deal with
//!   cookie overruns"): `cookie_inc()` maps `>= 0xffffffff` to
//!   `COOKIE_CYCLED = 0x80000000`, otherwise adds one; `next_cookie()` consults
//!   `reply_callbacks` only for candidates with bit 31 set, skips the pending
//!   ones for at most one lap of the cycled half and then fails with `-EBUSY`.
//! * [`UpstreamLegacy`]: before v242, `++b->cookie` on a 64-bit counter, and
//!   `sd_bus_message_seal()` refuses cookies above `0xffffffff` with
//!   `-EOPNOTSUPP` — after the increment, so the connection never recovers.
//! * Both: sending a message the caller sealed itself sets
//!   `b->cookie = MAX(b->cookie, cookie)` ([`UpstreamV242::observe_sealed`]).
//!
//! The C lives in `c/upstream_cookie.{h,c}` (written for this project from the
//! upstream behaviour, cited there); `build.rs` compiles it with `cc` and binds
//! it with `bindgen`. Errors are returned the way sd-bus returns them: as
//! *negative* errno values (see [`errno`]).
//!
//! [`Params`] generalises the width (`cycled = 1 << (w - 1)`, a ceiling in
//! `(cycled, 2^w - 1]`) so that small widths can be model-checked; the default
//! is exactly upstream's 32-bit constants.
//!
//! ```
//! use sdbus_cookie_upstream::{errno, UpstreamLegacy, UpstreamV242};
//!
//! let mut v242 = UpstreamV242::new();
//! v242.observe_sealed(0xffff_ffff).unwrap();
//! v242.pending_add(0x8000_0000);
//! assert_eq!(v242.next(), Ok(0x8000_0001));
//!
//! let mut legacy = UpstreamLegacy::new();
//! legacy.observe_sealed(0xffff_ffff).unwrap();
//! assert_eq!(legacy.next(), Err(-errno::EOPNOTSUPP));
//! ```

use core::ffi::{c_int, c_void};
use core::fmt;
use core::ptr::NonNull;
use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    missing_docs,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod sys {
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

/// Upstream's `COOKIE_CYCLED`: `1 << 31`.
pub const COOKIE_CYCLED: u64 = 0x8000_0000;
/// The last cookie before upstream jumps back to [`COOKIE_CYCLED`] (`UINT32_MAX`).
pub const COOKIE_CEILING: u64 = 0xffff_ffff;

/// The (positive) errno values the C code returns negated, taken from the C
/// side's `<errno.h>` so they are exactly what sd-bus would return.
pub mod errno {
    use super::sys::uc_errno;
    /// Every cookie of the cycled range is awaiting a reply.
    pub const EBUSY: i32 = uc_errno::UC_EBUSY as i32;
    /// Bad parameters.
    pub const EINVAL: i32 = uc_errno::UC_EINVAL as i32;
    /// Allocation failure.
    pub const ENOMEM: i32 = uc_errno::UC_ENOMEM as i32;
    /// A cookie that a dbus1 message cannot carry (above `0xffffffff`).
    pub const EOPNOTSUPP: i32 = uc_errno::UC_EOPNOTSUPP as i32;
    /// A Rust `in_use` callback panicked (the panic is resumed afterwards).
    pub const ECANCELED: i32 = uc_errno::UC_ECANCELED as i32;
}

/// The cookie space: the cycled bit, the ceiling and the largest sealable cookie.
#[derive(Clone, Copy)]
pub struct Params {
    raw: sys::uc_params,
}

impl Params {
    /// Upstream's parameters: cycled `0x80000000`, ceiling and max `0xffffffff`.
    pub fn upstream() -> Params {
        // SAFETY: a pure C function without arguments returning a plain struct.
        let raw = unsafe { sys::uc_params_default() };
        Params { raw }
    }

    /// A width in `2..=32` (cycled = `1 << (width - 1)`) and a ceiling in
    /// `(cycled, 2^width - 1]` (`None`: `2^width - 1`). `Err(-EINVAL)` otherwise.
    pub fn with_width(width: u32, ceiling: Option<u64>) -> Result<Params, i32> {
        // C reads ceiling 0 as "the default"; an explicit Some(0) is a bad ceiling.
        if ceiling == Some(0) {
            return Err(-errno::EINVAL);
        }
        let mut raw = sys::uc_params::default();
        // SAFETY: `raw` is a valid, exclusively borrowed uc_params for the call;
        // the C function only writes it.
        let r = unsafe { sys::uc_params_width(width, ceiling.unwrap_or(0), &mut raw) };
        if r < 0 {
            return Err(r);
        }
        Ok(Params { raw })
    }

    /// The cycled bit, `1 << (width - 1)`.
    pub fn cycled(&self) -> u64 {
        self.raw.cycled
    }

    /// The last cookie before the jump back to [`Params::cycled`].
    pub fn ceiling(&self) -> u64 {
        self.raw.ceiling
    }

    /// The largest cookie a seal accepts, `2^width - 1`.
    pub fn max(&self) -> u64 {
        self.raw.max
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::upstream()
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Self) -> bool {
        (self.raw.cycled, self.raw.ceiling, self.raw.max)
            == (other.raw.cycled, other.raw.ceiling, other.raw.max)
    }
}

impl Eq for Params {}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("cycled", &format_args!("{:#x}", self.raw.cycled))
            .field("ceiling", &format_args!("{:#x}", self.raw.ceiling))
            .field("max", &format_args!("{:#x}", self.raw.max))
            .finish()
    }
}

/// Upstream `cookie_inc()` under `params`.
pub fn cookie_inc(params: &Params, cookie: u64) -> u64 {
    // SAFETY: `params.raw` is a valid uc_params borrowed for the call.
    unsafe { sys::uc_cookie_inc(&params.raw, cookie) }
}

struct InUse<'a> {
    f: &'a mut dyn FnMut(u64) -> bool,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

unsafe extern "C" fn in_use_trampoline(cookie: u64, userdata: *mut c_void) -> c_int {
    // SAFETY: `userdata` is the `&mut InUse` that `next_cookie` passed to
    // uc_next_cookie, which calls us synchronously while that borrow is live
    // and holds no other reference to it.
    let ctx = unsafe { &mut *userdata.cast::<InUse<'_>>() };
    if ctx.panic.is_some() {
        return -errno::ECANCELED;
    }
    // A panic must not unwind through C: catch it, stop the search, and let
    // `next_cookie` resume it on the Rust side.
    match catch_unwind(AssertUnwindSafe(|| (ctx.f)(cookie))) {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(payload) => {
            ctx.panic = Some(payload);
            -errno::ECANCELED
        }
    }
}

/// Stateless upstream `next_cookie()`: the cookie after `current`, asking
/// `in_use` only about candidates with the cycled bit set. `Err(-EBUSY)` after a
/// full lap of the cycled range. A panic in `in_use` is resumed here.
pub fn next_cookie(
    params: &Params,
    current: u64,
    mut in_use: impl FnMut(u64) -> bool,
) -> Result<u64, i32> {
    let mut ctx = InUse {
        f: &mut in_use,
        panic: None,
    };
    let mut cookie = 0u64;
    // SAFETY: all pointers are valid for the duration of the call; the
    // trampoline matches uc_in_use_fn and is only given `ctx` as userdata.
    let r = unsafe {
        sys::uc_next_cookie(
            &params.raw,
            current,
            Some(in_use_trampoline),
            (&mut ctx as *mut InUse<'_>).cast::<c_void>(),
            &mut cookie,
        )
    };
    if let Some(payload) = ctx.panic {
        resume_unwind(payload);
    }
    if r < 0 {
        Err(r)
    } else {
        Ok(cookie)
    }
}

/// One sd-bus connection under the v242+ rule: `b->cookie` plus a hash set
/// standing in for `b->reply_callbacks`.
pub struct UpstreamV242 {
    raw: NonNull<sys::uc_v242>,
}

impl UpstreamV242 {
    /// A fresh connection with upstream's 32-bit parameters (cookie 0, nothing pending).
    pub fn new() -> UpstreamV242 {
        UpstreamV242::with_params(Params::upstream())
    }

    /// A fresh connection under `params`. Panics if the C allocation fails.
    pub fn with_params(params: Params) -> UpstreamV242 {
        // SAFETY: `params.raw` is valid for the call; C copies it.
        let raw = unsafe { sys::uc_v242_new(&params.raw) };
        let raw = NonNull::new(raw).expect("uc_v242_new: out of memory");
        UpstreamV242 { raw }
    }

    fn ptr(&self) -> *const sys::uc_v242 {
        self.raw.as_ptr()
    }

    fn ptr_mut(&mut self) -> *mut sys::uc_v242 {
        self.raw.as_ptr()
    }

    /// `bus_seal_message()` for an unsealed message: the next cookie, or
    /// `Err(-EBUSY)` with the state unchanged.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<u64, i32> {
        let mut cookie = 0u64;
        // SAFETY: `raw` is a live uc_v242 we own exclusively (`&mut self`);
        // `cookie` is a valid out-pointer for the call.
        let r = unsafe { sys::uc_v242_next(self.ptr_mut(), &mut cookie) };
        if r < 0 {
            Err(r)
        } else {
            Ok(cookie)
        }
    }

    /// Sending a message sealed with `cookie`: `b->cookie = MAX(b->cookie, cookie)`.
    /// `Err(-EOPNOTSUPP)` (no change) for a cookie above [`Params::max`], which
    /// `sd_bus_message_seal()` would have refused. Cookie 0 is accepted (a no-op),
    /// as upstream does.
    pub fn observe_sealed(&mut self, cookie: u64) -> Result<(), i32> {
        // SAFETY: `raw` is a live uc_v242 we own exclusively.
        let r = unsafe { sys::uc_v242_observe_sealed(self.ptr_mut(), cookie) };
        if r < 0 {
            Err(r)
        } else {
            Ok(())
        }
    }

    /// Registers a reply callback for `cookie`; `false` if one already was.
    /// Panics if the C allocation fails.
    pub fn pending_add(&mut self, cookie: u64) -> bool {
        // SAFETY: `raw` is a live uc_v242 we own exclusively.
        let r = unsafe { sys::uc_v242_pending_add(self.ptr_mut(), cookie) };
        assert!(r >= 0, "uc_v242_pending_add: errno {}", -r);
        r == 1
    }

    /// Drops the reply callback for `cookie`; `false` if there was none.
    pub fn pending_remove(&mut self, cookie: u64) -> bool {
        // SAFETY: `raw` is a live uc_v242 we own exclusively.
        let r = unsafe { sys::uc_v242_pending_remove(self.ptr_mut(), cookie) };
        r == 1
    }

    /// Is `cookie` awaiting a reply?
    pub fn is_pending(&self, cookie: u64) -> bool {
        // SAFETY: `raw` is a live uc_v242; the call only reads it.
        unsafe { sys::uc_v242_pending_contains(self.ptr(), cookie) }
    }

    /// How many cookies await a reply.
    pub fn pending_len(&self) -> usize {
        // SAFETY: `raw` is a live uc_v242; the call only reads it.
        unsafe { sys::uc_v242_pending_len(self.ptr()) }
    }

    /// `b->cookie`: the last cookie handed out or observed, 0 before any.
    pub fn current(&self) -> u64 {
        // SAFETY: `raw` is a live uc_v242; the call only reads it.
        unsafe { sys::uc_v242_current(self.ptr()) }
    }

    /// The parameters this connection was made with.
    pub fn params(&self) -> Params {
        // SAFETY: `raw` is a live uc_v242; the call only reads it.
        let raw = unsafe { sys::uc_v242_params(self.ptr()) };
        Params { raw }
    }
}

impl Default for UpstreamV242 {
    fn default() -> Self {
        UpstreamV242::new()
    }
}

impl Drop for UpstreamV242 {
    fn drop(&mut self) {
        // SAFETY: `raw` came from uc_v242_new, is owned by us alone and is
        // never used again after this.
        unsafe { sys::uc_v242_free(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for UpstreamV242 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamV242")
            .field("params", &self.params())
            .field("current", &format_args!("{:#x}", self.current()))
            .field("pending_len", &self.pending_len())
            .finish()
    }
}

/// One sd-bus connection before v242: a bare 64-bit counter.
#[derive(Clone, Copy, Default)]
pub struct UpstreamLegacy {
    raw: sys::uc_legacy,
}

impl UpstreamLegacy {
    /// A fresh connection (cookie 0).
    pub fn new() -> UpstreamLegacy {
        UpstreamLegacy::default()
    }

    /// `++b->cookie`, then the seal: the cookie, or `Err(-EOPNOTSUPP)` once it
    /// is above `0xffffffff`. The counter advances either way (see [`Self::current`]).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<u64, i32> {
        let mut cookie = 0u64;
        // SAFETY: `raw` and `cookie` are valid, exclusively borrowed for the call.
        let r = unsafe { sys::uc_legacy_next(&mut self.raw, &mut cookie) };
        if r < 0 {
            Err(r)
        } else {
            Ok(cookie)
        }
    }

    /// MAX rule for a caller-sealed message; `Err(-EOPNOTSUPP)` (no change) above
    /// `0xffffffff`, which could not have been sealed.
    pub fn observe_sealed(&mut self, cookie: u64) -> Result<(), i32> {
        // SAFETY: `raw` is valid and exclusively borrowed for the call.
        let r = unsafe { sys::uc_legacy_observe_sealed(&mut self.raw, cookie) };
        if r < 0 {
            Err(r)
        } else {
            Ok(())
        }
    }

    /// `b->cookie`: the last cookie tried or observed, 0 before any.
    pub fn current(&self) -> u64 {
        self.raw.cookie
    }
}

impl fmt::Debug for UpstreamLegacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamLegacy")
            .field("current", &format_args!("{:#x}", self.raw.cookie))
            .finish()
    }
}

#[cfg(test)]
mod tests;
