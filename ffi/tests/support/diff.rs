//! Differential driver shared by the fuzz target (ffi/fuzz) and the stable regression
//! harness (ffi/tests/fuzz_regressions.rs): decodes bytes into a sequence of operations,
//! runs each through the C ABI (the `extern "C"` exports, with raw pointers exactly as C
//! passes them) and through the Rust allocator, and panics at the first disagreement.
//!
//! What must agree: every return code (0 / count / negative errno), every value written
//! through an out-pointer, and the observable state (current, ceiling, counts) after
//! every step. Independently of the Rust side, the C side must keep the contract of
//! docs/ARCHITECTURE.md §3: a cookie handed out is never 0, never above the ceiling, never pending,
//! and out-pointers are untouched on failure.
//!
//! Any input is valid; an exhausted input reads as zeros and ends the sequence.

#![allow(dead_code)]

use core::ffi::c_void;
use core::ptr;

use cookie::{Allocator, Config, Error};
use sdbus_cookie_ffi as capi;

const SENTINEL: u64 = 0x5eed_5eed_5eed_5eed;

/// What one input exercised, so tests can prove they reached the cases they name.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Operations run.
    pub steps: usize,
    /// Cookies handed out by the handle.
    pub handed_out: usize,
    /// ... of which at or above the cycled bit.
    pub handed_out_cycled: usize,
    /// `sdbus_cookie_allocator_next` answered -EBUSY.
    pub busy: usize,
    /// The stateless functions answered -EBUSY.
    pub stateless_busy: usize,
    /// Negative returns of any function, NULL checks excluded.
    pub errors: usize,
}

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
}

fn errno(r: Result<(), Error>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => -e.errno(),
    }
}

/// A cookie argument, biased towards the interesting places of the cookie space.
fn arg(input: &mut Input<'_>, model: &Allocator) -> u64 {
    let cfg = model.config();
    let ceiling = u64::from(cfg.ceiling());
    let small = u64::from(input.byte() % 16);
    match input.byte() % 8 {
        0 => small, // includes 0 (invalid)
        1 => u64::from(cfg.cycled()) + small,
        2 => ceiling.saturating_sub(small),
        3 => ceiling + 1 + small % 4, // above the ceiling (invalid)
        4 => (model.current() + small).saturating_sub(4),
        5 => input.u32().into(),
        6 => input.u64(),
        _ => {
            let n = usize::from(input.byte() % 4);
            match model.pending_runs().nth(n) {
                Some((s, e)) => (u64::from(s) + small).min(u64::from(e)),
                None => small,
            }
        }
    }
}

/// `in_use` for the stateless functions: "is it pending in this allocator?".
unsafe extern "C" fn pending_in(cookie: u64, userdata: *mut c_void) -> bool {
    // SAFETY: every caller in this file passes a pointer to a live `Allocator` that is not
    // mutated during the call.
    let model = unsafe { &*userdata.cast::<Allocator>() };
    model.is_pending(cookie)
}

fn assert_same_state(h: *mut capi::sdbus_cookie_allocator, model: &Allocator, step: usize) {
    // SAFETY: `h` is the live handle created in `run` and used by this thread only.
    unsafe {
        assert_eq!(
            capi::sdbus_cookie_allocator_current(h),
            model.current(),
            "current after step {step}"
        );
        assert_eq!(
            capi::sdbus_cookie_allocator_ceiling(h),
            u64::from(model.config().ceiling()),
            "ceiling after step {step}"
        );
        assert_eq!(
            capi::sdbus_cookie_allocator_pending_count(h),
            model.pending_len(),
            "pending after step {step}"
        );
        assert_eq!(
            capi::sdbus_cookie_allocator_quarantined_count(h),
            model.quarantined_len(),
            "quarantined after step {step}"
        );
    }
    model
        .check_invariants()
        .unwrap_or_else(|e| panic!("invariant broken after step {step}: {e}"));
}

/// Runs one input. Panics (with the step number) at the first disagreement.
pub fn run(data: &[u8]) -> Stats {
    let mut stats = Stats::default();
    let mut input = Input { data, pos: 0 };

    // The configuration: the default, a tiny cycled space (so -EBUSY is reachable), the
    // xdg-dbus-proxy ceiling, or an arbitrary (often invalid) ceiling.
    let sel = input.byte();
    let ceiling = match sel % 4 {
        0 => None,
        1 => Some(0x8000_0000 + 1 + u64::from(input.byte() % 16)),
        2 => Some(0xfffe_ffff),
        _ => Some(input.u64() >> (input.byte() % 64)),
    };
    let (h, mut model) = match ceiling {
        None => (capi::sdbus_cookie_allocator_new(), Allocator::new()),
        Some(ceiling) => {
            let mut h = ptr::null_mut();
            // SAFETY: `&mut h` is a valid out-pointer.
            let r = unsafe { capi::sdbus_cookie_allocator_new_with_ceiling(ceiling, &mut h) };
            match Config::DEFAULT.with_ceiling(ceiling) {
                Ok(cfg) => {
                    assert_eq!(r, 0, "new_with_ceiling({ceiling:#x})");
                    (h, Allocator::with_config(cfg))
                }
                Err(e) => {
                    assert_eq!(r, -e.errno(), "new_with_ceiling({ceiling:#x})");
                    assert!(h.is_null(), "out-pointer written on failure");
                    stats.errors += 1;
                    return stats;
                }
            }
        }
    };
    assert!(!h.is_null());
    let config = model.config();

    let mut step = 0;
    while !input.done() {
        step += 1;
        stats.steps = step;
        let op = input.byte();
        // SAFETY: for every call below, `h` is the live handle created above, used by this
        // thread only; out-pointers point to locals; `pending_in` gets a pointer to `model`,
        // which is not mutated during that call.
        unsafe {
            match op % 12 {
                0 | 1 => {
                    let mut got = SENTINEL;
                    let r = capi::sdbus_cookie_allocator_next(h, &mut got);
                    match model.next() {
                        Ok(c) => {
                            assert_eq!((r, got), (0, u64::from(c)), "next at step {step}");
                            assert!(got != 0 && got <= u64::from(config.ceiling()));
                            assert_eq!(
                                capi::sdbus_cookie_allocator_is_pending(h, got),
                                0,
                                "handed out a pending cookie"
                            );
                            stats.handed_out += 1;
                            stats.handed_out_cycled +=
                                usize::from(got >= u64::from(config.cycled()));
                        }
                        Err(e) => {
                            assert_eq!(r, -e.errno(), "next at step {step}");
                            assert_eq!(got, SENTINEL, "out-pointer written on failure");
                            stats.busy += usize::from(r == -16);
                            stats.errors += 1;
                        }
                    }
                }
                2 => {
                    let k = arg(&mut input, &model);
                    let r = capi::sdbus_cookie_allocator_pending_add(h, k);
                    assert_eq!(
                        r,
                        errno(model.insert_pending(k)),
                        "pending_add({k:#x}) at step {step}"
                    );
                    stats.errors += usize::from(r < 0);
                }
                3 => {
                    let k = arg(&mut input, &model);
                    let r = capi::sdbus_cookie_allocator_pending_remove(h, k);
                    assert_eq!(
                        r,
                        errno(model.remove_pending(k)),
                        "pending_remove({k:#x}) at step {step}"
                    );
                    stats.errors += usize::from(r < 0);
                }
                4 => {
                    let k = arg(&mut input, &model);
                    let r = capi::sdbus_cookie_allocator_quarantine(h, k);
                    assert_eq!(
                        r,
                        errno(model.quarantine(k)),
                        "quarantine({k:#x}) at step {step}"
                    );
                    stats.errors += usize::from(r < 0);
                }
                5 => {
                    let mut n = usize::MAX;
                    let out = if input.byte().is_multiple_of(2) {
                        &mut n as *mut usize
                    } else {
                        ptr::null_mut()
                    };
                    let r = capi::sdbus_cookie_allocator_release_quarantined(h, out);
                    let want = model.release_quarantined();
                    assert_eq!(r, 0, "release_quarantined at step {step}");
                    if !out.is_null() {
                        assert_eq!(n, want, "release_quarantined count at step {step}");
                    }
                }
                6 => {
                    let k = arg(&mut input, &model);
                    let r = capi::sdbus_cookie_allocator_observe_sealed(h, k);
                    assert_eq!(
                        r,
                        errno(model.observe_sealed(k)),
                        "observe_sealed({k:#x}) at step {step}"
                    );
                    stats.errors += usize::from(r < 0);
                }
                7 => {
                    let k = arg(&mut input, &model);
                    assert_eq!(
                        capi::sdbus_cookie_allocator_is_pending(h, k),
                        i32::from(model.is_pending(k))
                    );
                    assert_eq!(
                        capi::sdbus_cookie_allocator_is_quarantined(h, k),
                        i32::from(model.is_quarantined(k))
                    );
                }
                8 => {
                    // a run of pending cookies, the allocator's O(log n) case
                    let start = arg(&mut input, &model);
                    let len = u64::from(input.byte() % 32) + 1;
                    for k in start..start.saturating_add(len) {
                        let r = capi::sdbus_cookie_allocator_pending_add(h, k);
                        assert_eq!(
                            r,
                            errno(model.insert_pending(k)),
                            "pending_add({k:#x}) in a run at step {step}"
                        );
                        stats.errors += usize::from(r < 0);
                    }
                }
                9 => {
                    // the stateless drop-in, with this allocator's pending set as in_use
                    let start = arg(&mut input, &model);
                    let ud = (&model as *const Allocator).cast_mut().cast::<c_void>();
                    let want = cookie::next_cookie(start, &config, |k| model.is_pending(k.into()));
                    let mut c = start;
                    let r = capi::sdbus_cookie_next_with_ceiling(
                        &mut c,
                        config.ceiling().into(),
                        Some(pending_in),
                        ud,
                    );
                    let mut c_default = start;
                    let r_default = (config.ceiling() == u32::MAX)
                        .then(|| capi::sdbus_cookie_next(&mut c_default, Some(pending_in), ud));
                    match want {
                        Ok(k) => {
                            assert_eq!(
                                (r, c),
                                (0, u64::from(k)),
                                "next_with_ceiling({start:#x}) at step {step}"
                            );
                            if let Some(r_default) = r_default {
                                assert_eq!(
                                    (r_default, c_default),
                                    (0, u64::from(k)),
                                    "next({start:#x})"
                                );
                            }
                        }
                        Err(e) => {
                            assert_eq!(
                                (r, c),
                                (-e.errno(), start),
                                "next_with_ceiling({start:#x}) at step {step}"
                            );
                            stats.stateless_busy += usize::from(r == -16);
                            stats.errors += 1;
                            if let Some(r_default) = r_default {
                                assert_eq!(
                                    (r_default, c_default),
                                    (-e.errno(), start),
                                    "next({start:#x})"
                                );
                            }
                        }
                    }
                }
                10 => {
                    // NULL where an object is required: -EINVAL, never a crash
                    let k = arg(&mut input, &model);
                    let null = ptr::null_mut();
                    let mut c = k;
                    assert_eq!(capi::sdbus_cookie_allocator_next(null, &mut c), -22);
                    assert_eq!(capi::sdbus_cookie_allocator_next(h, ptr::null_mut()), -22);
                    assert_eq!(capi::sdbus_cookie_allocator_pending_add(null, k), -22);
                    assert_eq!(capi::sdbus_cookie_allocator_pending_remove(null, k), -22);
                    assert_eq!(capi::sdbus_cookie_allocator_quarantine(null, k), -22);
                    assert_eq!(capi::sdbus_cookie_allocator_observe_sealed(null, k), -22);
                    assert_eq!(
                        capi::sdbus_cookie_allocator_release_quarantined(null, ptr::null_mut()),
                        -22
                    );
                    assert_eq!(capi::sdbus_cookie_allocator_is_pending(null, k), -22);
                    assert_eq!(capi::sdbus_cookie_allocator_is_quarantined(null, k), -22);
                    assert_eq!(
                        capi::sdbus_cookie_next(ptr::null_mut(), Some(pending_in), null.cast()),
                        -22
                    );
                    assert_eq!(capi::sdbus_cookie_next(&mut c, None, null.cast()), -22);
                    assert_eq!(c, k);
                }
                _ => {
                    // a second, independent handle must not see this one's state
                    let other = capi::sdbus_cookie_allocator_new();
                    let mut c = SENTINEL;
                    assert_eq!(capi::sdbus_cookie_allocator_next(other, &mut c), 0);
                    assert_eq!(c, 1);
                    assert_eq!(capi::sdbus_cookie_allocator_pending_count(other), 0);
                    capi::sdbus_cookie_allocator_free(other);
                }
            }
        }
        assert_same_state(h, &model, step);
    }
    // SAFETY: `h` is live and not used afterwards.
    unsafe { capi::sdbus_cookie_allocator_free(h) };
    stats
}
