//! The states each bench group measures, built the same way for ours (`sdbus_cookie`) and the
//! reference (`sdbus_cookie_upstream`, our C model of systemd v242+), and their routines.
//!
//! Steady states: a routine may be called billions of times, so every scenario is built so
//! that calling `next()` again and again keeps measuring the same thing:
//! * fast path: a fresh state every 2^30 calls, long before the counter reaches the cycled
//!   half (2^31), where upstream would start looking cookies up;
//! * scattered, run: a lowered ceiling (both implementations support it with the same
//!   cycle rule) makes the cycled half a ring the counter laps, so the pending cookies stay
//!   ahead of it forever.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sdbus_cookie::{Allocator, Config};
use sdbus_cookie_upstream::{Params, UpstreamV242};

/// Upstream's `COOKIE_CYCLED`.
pub const CYCLED: u64 = 0x8000_0000;
/// Calls per fresh state on the fast path: far below the 2^31 calls that reach `CYCLED`.
pub const FAST_CHUNK: u64 = 1 << 30;
/// Scattered pending cookies: how many scattered pending cookies.
pub const SCATTERED: usize = 1_000;
/// Scattered pending cookies, dense variant: the cycled ring the 1,000 cookies are scattered over.
pub const DENSE_RING: u64 = 4_096;
/// A run of pending cookies: the length of the run of consecutive pending cookies.
pub const RUN: u64 = 100_000;

/// A deterministic xorshift64* stream, so every run scatters the same cookies.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream from a non-zero seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `n` distinct cookies drawn uniformly from `lo..=hi`, in the order drawn.
pub fn scattered(n: usize, lo: u64, hi: u64, seed: u64) -> Vec<u64> {
    assert!(hi >= lo && (hi - lo + 1) as usize >= n);
    let mut rng = Rng::new(seed);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let k = lo + rng.next_u64() % (hi - lo + 1);
        if seen.insert(k) {
            out.push(k);
        }
    }
    out
}

/// A state both implementations are put in: ceiling, current cookie, pending cookies.
#[derive(Clone, Debug)]
pub struct State {
    /// The last cookie before the jump back to `CYCLED`.
    pub ceiling: u64,
    /// The current cookie (`observe_sealed`).
    pub current: u64,
    /// The cookies awaiting a reply.
    pub pending: Vec<u64>,
}

impl State {
    /// Ours, in this state.
    pub fn ours(&self) -> Allocator {
        let config = Config::DEFAULT
            .with_ceiling(self.ceiling)
            .expect("valid ceiling");
        let mut a = Allocator::with_config(config);
        if self.current != 0 {
            a.observe_sealed(self.current).expect("valid current");
        }
        for &k in &self.pending {
            a.insert_pending(k).expect("distinct valid cookies");
        }
        a
    }

    /// The C model, in this state.
    pub fn reference(&self) -> UpstreamV242 {
        let params = Params::with_width(32, Some(self.ceiling)).expect("valid ceiling");
        let mut b = UpstreamV242::with_params(params);
        b.observe_sealed(self.current).expect("valid current");
        for &k in &self.pending {
            assert!(b.pending_add(k), "distinct cookies");
        }
        b
    }
}

/// Scattered pending cookies, sparse: 1,000 pending cookies scattered over the whole cycled half, the
/// counter just past the cycle (`0x80000000`). Each `next()` rarely meets one; upstream
/// still looks every candidate up.
pub fn scattered_sparse() -> State {
    State {
        ceiling: 0xffff_ffff,
        current: CYCLED,
        pending: scattered(SCATTERED, CYCLED + 1, 0xffff_ffff, 0x5eed_0001),
    }
}

/// Scattered pending cookies, dense: 1,000 pending cookies scattered over a 4,096-cookie cycled ring
/// (ceiling `0x80000fff`), so about one `next()` in three meets a pending cookie.
pub fn scattered_dense() -> State {
    let ceiling = CYCLED + DENSE_RING - 1;
    State {
        ceiling,
        current: CYCLED,
        pending: scattered(SCATTERED, CYCLED, ceiling, 0x5eed_0002),
    }
}

/// A run of pending cookies: the cycled ring `A, run1, B, run2` with `A = 0x80000000`, two runs of
/// 100,000 pending cookies and the ceiling at the end of `run2`. From `A` the next cookie is
/// `B` (upstream probes run1: 100,000 lookups); from `B` it is `A` (run2, then the jump
/// from the ceiling to `A`: 100,001 lookups). Every call skips a run of 100,000
/// consecutive pending cookies right after the current one.
pub fn run_ring() -> State {
    let a = CYCLED;
    let b = a + RUN + 1;
    let ceiling = b + RUN;
    State {
        ceiling,
        current: a,
        pending: ((a + 1)..b).chain((b + 1)..=ceiling).collect(),
    }
}

/// Times `iters` calls of `next()` on ours, the state kept in memory.
pub fn time_ours(a: &mut Allocator, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let a = black_box(&mut *a);
        black_box(a.next().expect("not busy"));
    }
    start.elapsed()
}

/// Times `iters` calls of `next()` on the C model (one FFI call each).
pub fn time_reference(b: &mut UpstreamV242, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let b = black_box(&mut *b);
        black_box(b.next().expect("not busy"));
    }
    start.elapsed()
}

/// Runs `iters` fast-path operations in chunks of [`FAST_CHUNK`], each on a fresh state
/// made by `fresh` (untimed), so the counter never reaches the cycled half.
pub fn fast_chunks<S>(
    iters: u64,
    mut fresh: impl FnMut() -> S,
    mut time: impl FnMut(&mut S, u64) -> Duration,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(FAST_CHUNK);
        let mut s = fresh();
        total += time(&mut s, n);
        left -= n;
    }
    total
}

/// The fast path, ours from Rust: `Allocator::next()` before the first cycle.
pub fn fast_ours(iters: u64) -> Duration {
    fast_chunks(iters, Allocator::new, time_ours)
}

/// The fast path, the reference from Rust: the C model's `next()` before the first cycle.
pub fn fast_reference(iters: u64) -> Duration {
    fast_chunks(iters, UpstreamV242::new, time_reference)
}

/// The fast path, ours stateless: `sdbus_cookie::next_cookie` (what the C ABI's
/// `sdbus_cookie_next` wraps) with a predicate that is never asked before the cycle.
pub fn fast_ours_stateless(iters: u64) -> Duration {
    let config = Config::DEFAULT;
    fast_chunks(
        iters,
        || 0u64,
        |cookie, n| {
            let start = Instant::now();
            for _ in 0..n {
                let c = black_box(&mut *cookie);
                let k = sdbus_cookie::next_cookie(*c, &config, |_| false).expect("not busy");
                *c = u64::from(k);
            }
            start.elapsed()
        },
    )
}

/// The physical floor of the fast path in the same harness: one add and one compare on a
/// counter kept in memory, nothing else.
pub fn fast_floor(iters: u64) -> Duration {
    fast_chunks(
        iters,
        || 0u64,
        |cookie, n| {
            let limit = black_box(0x1_0000_0000u64);
            let start = Instant::now();
            for _ in 0..n {
                let c = black_box(&mut *cookie);
                let next = *c + 1;
                if next < limit {
                    *c = next;
                }
            }
            start.elapsed()
        },
    )
}

/// A steady-state routine pair on `state`: each keeps its own object across calls.
pub fn steady(state: &State) -> (impl FnMut(u64) -> Duration, impl FnMut(u64) -> Duration) {
    let mut ours = state.ours();
    let mut reference = state.reference();
    (
        move |iters| time_ours(&mut ours, iters),
        move |iters| time_reference(&mut reference, iters),
    )
}

/// Churn, informational: a window of 1,000 calls in flight after the cycle. Each
/// operation hands out a cookie, marks it pending and retires the oldest pending one —
/// `next()` plus the bookkeeping a connection does per call. This is the cost of keeping
/// `P` as sorted runs (ours) vs a hash set (the C model) under churn.
pub fn churn() -> (impl FnMut(u64) -> Duration, impl FnMut(u64) -> Duration) {
    let init = State {
        ceiling: 0xffff_ffff,
        current: CYCLED,
        pending: Vec::new(),
    };
    let mut ours = init.ours();
    let mut reference = init.reference();
    let mut ring_o: Vec<u64> = (0..SCATTERED)
        .map(|_| {
            let k = u64::from(ours.next().expect("free"));
            ours.insert_pending(k).expect("fresh");
            k
        })
        .collect();
    let mut ring_r: Vec<u64> = (0..SCATTERED)
        .map(|_| {
            let k = reference.next().expect("free");
            assert!(reference.pending_add(k));
            k
        })
        .collect();
    let mut i_o = 0usize;
    let mut i_r = 0usize;
    (
        move |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let a = black_box(&mut ours);
                let k = u64::from(a.next().expect("free"));
                a.insert_pending(k).expect("fresh");
                a.remove_pending(ring_o[i_o]).expect("pending");
                ring_o[i_o] = k;
                i_o = (i_o + 1) % SCATTERED;
            }
            start.elapsed()
        },
        move |iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let b = black_box(&mut reference);
                let k = b.next().expect("free");
                b.pending_add(k);
                b.pending_remove(ring_r[i_r]);
                ring_r[i_r] = k;
                i_r = (i_r + 1) % SCATTERED;
            }
            start.elapsed()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scattered_cookies_are_distinct_and_in_range() {
        let v = scattered(SCATTERED, CYCLED + 1, 0xffff_ffff, 7);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), SCATTERED);
        assert!(v.iter().all(|&k| (CYCLED + 1..=0xffff_ffff).contains(&k)));
    }

    #[test]
    fn run_ring_skips_a_run_of_100000_on_every_call_in_both_implementations() {
        let state = run_ring();
        let (a, b) = (CYCLED, CYCLED + RUN + 1);
        let mut ours = state.ours();
        let mut reference = state.reference();
        for expected in [b, a, b, a] {
            assert_eq!(u64::from(ours.next().unwrap()), expected);
            assert_eq!(reference.next().unwrap(), expected);
        }
        assert_eq!(ours.pending_len() as u64, 2 * RUN);
    }

    #[test]
    fn steady_states_give_both_implementations_the_same_cookies() {
        // The run ring costs upstream 100,000 probes per call: fewer calls there.
        for (state, calls) in [
            (scattered_sparse(), 10_000),
            (scattered_dense(), 10_000),
            (run_ring(), 6),
        ] {
            let mut ours = state.ours();
            let mut reference = state.reference();
            for _ in 0..calls {
                assert_eq!(u64::from(ours.next().unwrap()), reference.next().unwrap());
            }
        }
    }

    #[test]
    fn the_dense_ring_meets_a_pending_cookie_on_about_a_third_of_the_calls() {
        let state = scattered_dense();
        let mut ours = state.ours();
        let mut met = 0;
        let calls = 3 * (DENSE_RING - SCATTERED as u64);
        let mut last = ours.current();
        for _ in 0..calls {
            let k = u64::from(ours.next().unwrap());
            if k != last + 1 {
                met += 1;
            }
            last = k;
        }
        let share = met as f64 / calls as f64;
        assert!((0.15..0.45).contains(&share), "share {share}");
    }

    #[test]
    fn fast_path_routines_never_reach_the_cycled_half() {
        const { assert!(FAST_CHUNK < CYCLED) };
        let mut a = Allocator::new();
        time_ours(&mut a, 1000);
        assert_eq!(a.current(), 1000);
        assert!(!a.has_cycled());
    }
}
