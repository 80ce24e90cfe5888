//! The fast path from C: the loops of `c/fast_path.c` (built by `build.rs`), timed from Rust.
//! One FFI call per chunk, so its cost is spread over up to 2^30 C-side iterations.

use std::time::{Duration, Instant};

use crate::scenario::FAST_CHUNK;

// Links the C ABI's exports (`sdbus_cookie_next`) that `c/fast_path.c` calls; nothing in
// Rust uses it directly.
use sdbus_cookie_ffi as _;

extern "C" {
    fn sdbench_c_abi_next(start: u64, n: u64) -> u64;
    fn sdbench_c_inline_next(start: u64, n: u64) -> u64;
    fn sdbench_c_call_next(start: u64, n: u64) -> u64;
    fn sdbench_c_abi_inline_next(start: u64, n: u64) -> u64;
}

fn chunked(iters: u64, f: unsafe extern "C" fn(u64, u64) -> u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(FAST_CHUNK);
        let start = Instant::now();
        // SAFETY: the driver functions take plain integers, touch only their locals and
        // call sdbus_cookie_next / the C model with valid pointers.
        let last = unsafe { f(0, n) };
        total += start.elapsed();
        assert_eq!(last, n, "the fast path from 0 must end at cookie n");
        left -= n;
    }
    total
}

/// C calling `sdbus_cookie_next()` (our C ABI, static link) `iters` times.
pub fn c_abi(iters: u64) -> Duration {
    chunked(iters, sdbench_c_abi_next)
}

/// C running the C model's `next_cookie()` inlined, `iters` times.
pub fn c_inline(iters: u64) -> Duration {
    chunked(iters, sdbench_c_inline_next)
}

/// C calling the C model's `next_cookie()` in its own library, `iters` times.
pub fn c_call(iters: u64) -> Duration {
    chunked(iters, sdbench_c_call_next)
}

/// C calling the header's `sdbus_cookie_next_inline()` (the fast path inline, the library
/// only near and after the cycle) `iters` times.
pub fn c_abi_inline(iters: u64) -> Duration {
    chunked(iters, sdbench_c_abi_inline_next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_c_loop_hands_out_1_to_n() {
        for f in [
            sdbench_c_abi_next,
            sdbench_c_inline_next,
            sdbench_c_call_next,
            sdbench_c_abi_inline_next,
        ] {
            // SAFETY: as in `chunked`.
            assert_eq!(unsafe { f(0, 1000) }, 1000);
            // From just below the cycle, all agree on the jump rule's first steps too.
            // SAFETY: as in `chunked`.
            assert_eq!(unsafe { f(0x7fff_fff0, 0x20) }, 0x8000_0010);
        }
    }
}
