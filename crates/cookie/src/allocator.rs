//! The stateful allocator: current cookie, pending set, quarantine.
//!
//! Besides `current` and the pending runs it caches `fast_limit`, the smallest pending
//! cookie above `current` (or `ceiling + 1` if there is none). Every cookie strictly between
//! `current` and `fast_limit` is free and within the ceiling, so while `current + 1 <
//! fast_limit` the next cookie is `current + 1` — one add and one compare. Every mutation
//! that could move the smallest pending cookie above `current` updates the cache.
//!
//! Memory: only [`Allocator::insert_pending`] and [`Allocator::quarantine`] allocate, and
//! both report an exhausted heap as [`Error::OutOfMemory`] with nothing changed; removals,
//! `next()` and `release_quarantined` never allocate (see `runs/mod.rs` for the invariant that
//! guarantees it), so no operation aborts the process. The quarantine is a second set of
//! runs with the same guarantees, so every operation is O(log n) in the worst case.
//! Memory goes back after a burst: an insert shrinks storage that holds more than twice
//! what the set needs (plus 16 nodes), and the removal that empties a large set frees it.

use crate::runs::Runs;
use crate::{Config, Cookie, Error};

/// Hands out the cookies of one connection by the cycle rule (see the crate docs).
#[derive(Clone, Debug)]
pub struct Allocator {
    config: Config,
    current: u32,
    /// Smallest pending cookie > `current`, else `ceiling + 1`.
    fast_limit: u64,
    pending: Runs,
    /// Where in `pending` the run starting at `fast_limit` probably is: a hint only (any
    /// value is correct), kept by `next_slow`'s run skip so that walking through many runs
    /// needs no search while nothing is inserted or removed in between.
    run_hint: usize,
    /// Pending cookies whose caller gave up; a subset of `pending`.
    quarantined: Runs,
    wraps: u64,
}

impl Default for Allocator {
    fn default() -> Allocator {
        Allocator::new()
    }
}

impl Allocator {
    /// A fresh connection's allocator in upstream's 32-bit space; the first cookie is 1.
    pub fn new() -> Allocator {
        Allocator::with_config(Config::DEFAULT)
    }

    /// A fresh allocator for the given width and ceiling.
    pub fn with_config(config: Config) -> Allocator {
        Allocator {
            config,
            current: 0,
            fast_limit: u64::from(config.ceiling()) + 1,
            pending: Runs::default(),
            run_hint: 0,
            quarantined: Runs::default(),
            wraps: 0,
        }
    }

    /// The width and ceiling in force.
    pub fn config(&self) -> Config {
        self.config
    }

    /// The next cookie by the cycle rule, or [`Error::Busy`] (state unchanged) when every
    /// cookie the walk can reach is pending.
    #[inline]
    #[allow(clippy::should_implement_trait)] // `next()` is the contract's name (docs/ARCHITECTURE.md §3); not an iterator: it fails
    pub fn next(&mut self) -> Result<Cookie, Error> {
        let n = u64::from(self.current) + 1;
        if n < self.fast_limit {
            // n <= ceiling <= u32::MAX and n >= 1, by the fast_limit invariant.
            self.current = n as u32;
            return Cookie::new(n).ok_or(Error::ZeroCookie);
        }
        self.next_slow()
    }

    #[cold]
    fn next_slow(&mut self) -> Result<Cookie, Error> {
        let cfg = self.config;
        let ceiling = cfg.ceiling();
        // Commonest slow case: `current + 1` is `fast_limit`, the start of a run that ends
        // below the ceiling. The cookie after the run is free and the next run's start is the
        // new `fast_limit`, both from one lookup.
        if self.current < ceiling {
            if let Some((end, next_start, next)) = self
                .pending
                .run_starting_at(self.current + 1, self.run_hint)
            {
                if end < ceiling {
                    self.current = end + 1;
                    self.fast_limit = next_start.map_or(u64::from(ceiling) + 1, u64::from);
                    self.run_hint = next;
                    return cfg.cookie(u64::from(self.current));
                }
            }
        }
        let mut n = cfg.inc(self.current);
        let mut wrapped = self.current >= ceiling;
        // Runs are maximal, so the cookie after a run's end is free unless that end is the
        // ceiling and the walk wraps to `cycled`. Hence at most two runs are met.
        if let Some((_, end)) = self.pending.run_of(n) {
            if end < ceiling {
                n = end + 1;
            } else {
                wrapped = true;
                n = cfg.cycled();
                if let Some((_, end)) = self.pending.run_of(n) {
                    if end >= ceiling {
                        return Err(Error::Busy);
                    }
                    n = end + 1;
                }
            }
        }
        if wrapped {
            self.wraps += 1;
        }
        self.current = n;
        self.refresh_fast_limit();
        cfg.cookie(u64::from(n))
    }

    fn refresh_fast_limit(&mut self) {
        self.fast_limit = self.computed_fast_limit();
    }

    fn computed_fast_limit(&self) -> u64 {
        let beyond = u64::from(self.config.ceiling()) + 1;
        self.current
            .checked_add(1)
            .and_then(|k| self.pending.first_at_or_after(k))
            .map_or(beyond, u64::from)
    }

    /// The last cookie handed out or observed; 0 before the first.
    pub fn current(&self) -> u64 {
        u64::from(self.current)
    }

    /// Whether bit `width - 1` of the current cookie is set, i.e. the counter has cycled
    /// (or counted past `cycled`, which upstream treats alike): from here on pending
    /// cookies are skipped.
    pub fn has_cycled(&self) -> bool {
        self.current >= self.config.cycled()
    }

    /// How many times the counter wrapped from the ceiling back to `cycled`.
    pub fn wraps(&self) -> u64 {
        self.wraps
    }

    /// A message sealed by the caller with cookie `k` was sent: `current = max(current, k)`.
    pub fn observe_sealed(&mut self, k: u64) -> Result<(), Error> {
        let k = self.config.cookie(k)?.get();
        if k > self.current {
            self.current = k;
            if u64::from(k) >= self.fast_limit {
                self.refresh_fast_limit();
            }
        }
        Ok(())
    }

    /// Marks `k` as awaiting a reply; `next()` will not hand it out until it is removed.
    ///
    /// [`Error::OutOfMemory`] if the pending set could not grow (nothing changed).
    pub fn insert_pending(&mut self, k: u64) -> Result<(), Error> {
        let c = self.config.cookie(k)?;
        let k = c.get();
        if !self.pending.insert(k).map_err(|_| Error::OutOfMemory)? {
            return Err(Error::AlreadyPending(c));
        }
        if k > self.current && u64::from(k) < self.fast_limit {
            self.fast_limit = u64::from(k);
        }
        Ok(())
    }

    /// The reply for `k` arrived (or its late reply, if it was quarantined): `k` is free again.
    pub fn remove_pending(&mut self, k: u64) -> Result<(), Error> {
        let c = self.config.cookie(k)?;
        let k = c.get();
        if !self.pending.remove(k) {
            return Err(Error::NotPending(c));
        }
        self.quarantined.remove(k);
        if u64::from(k) == self.fast_limit {
            self.refresh_fast_limit();
        }
        Ok(())
    }

    /// The call on `k` timed out locally, but the broker may still route a reply to it:
    /// keep `k` reserved until [`remove_pending`](Self::remove_pending) (its late reply) or
    /// [`release_quarantined`](Self::release_quarantined) (the connection went away).
    /// Quarantining a quarantined cookie is a no-op. [`Error::OutOfMemory`] if the
    /// quarantine could not grow (nothing changed).
    pub fn quarantine(&mut self, k: u64) -> Result<(), Error> {
        let c = self.config.cookie(k)?;
        if !self.pending.contains(c.get()) {
            return Err(Error::NotPending(c));
        }
        self.quarantined
            .insert(c.get())
            .map_err(|_| Error::OutOfMemory)?;
        Ok(())
    }

    /// Frees every quarantined cookie (the connection they belonged to is gone); returns
    /// how many there were.
    pub fn release_quarantined(&mut self) -> usize {
        let released = core::mem::take(&mut self.quarantined);
        for (s, e) in released.iter_runs() {
            for k in s..=e {
                self.pending.remove(k);
            }
        }
        self.refresh_fast_limit();
        released.len()
    }

    /// Whether `k` is reserved (awaiting a reply, or quarantined).
    pub fn is_pending(&self, k: u64) -> bool {
        u32::try_from(k).is_ok_and(|k| self.pending.contains(k))
    }

    /// Whether `k` is quarantined.
    pub fn is_quarantined(&self, k: u64) -> bool {
        u32::try_from(k).is_ok_and(|k| self.quarantined.contains(k))
    }

    /// Reserved cookies, quarantined ones included.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Quarantined cookies.
    pub fn quarantined_len(&self) -> usize {
        self.quarantined.len()
    }

    /// The reserved cookies in ascending order, as inclusive `(first, last)` runs.
    pub fn pending_runs(&self) -> impl Iterator<Item = (Cookie, Cookie)> + '_ {
        self.pending
            .iter_runs()
            .filter_map(|(s, e)| Some((Cookie::new(u64::from(s))?, Cookie::new(u64::from(e))?)))
    }

    /// Checks every internal invariant; for tests and model checks.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        self.pending.check()?;
        if self.current > self.config.ceiling() {
            return Err("current above the ceiling");
        }
        if self.pending.contains(0) {
            return Err("0 is pending");
        }
        if let Some((_, e)) = self.pending.iter_runs().last() {
            if e > self.config.ceiling() {
                return Err("pending cookie above the ceiling");
            }
        }
        self.quarantined.check()?;
        let mut quarantined = self.quarantined.iter_runs();
        if quarantined.any(|(s, e)| self.pending.run_of(s).is_none_or(|(_, pe)| pe < e)) {
            return Err("quarantined cookie not pending");
        }
        if self.computed_fast_limit() != self.fast_limit {
            return Err("stale fast_limit");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! `check_invariants` is the oracle the model checks and proptests trust: each broken
    //! state must be named, and every reachable one, up to the edges, must pass.

    use super::*;
    use alloc::vec::Vec;

    const XDG_CEILING: u32 = 0xfffe_ffff;

    fn broken(
        ceiling: u32,
        current: u32,
        fast_limit: u64,
        pending: &[u32],
        quarantined: &[u32],
    ) -> Allocator {
        let config = Config::DEFAULT.with_ceiling(ceiling.into()).unwrap();
        let set = |ks: &[u32]| {
            let mut runs = Runs::default();
            for &k in ks {
                assert_eq!(runs.insert(k), Ok(true));
            }
            runs
        };
        Allocator {
            config,
            current,
            fast_limit,
            pending: set(pending),
            run_hint: 0,
            quarantined: set(quarantined),
            wraps: 0,
        }
    }

    #[test]
    fn a_fresh_allocator_satisfies_every_invariant() {
        assert_eq!(Allocator::new().check_invariants(), Ok(()));
        let xdg = Config::DEFAULT.with_ceiling(0xfffe_ffff).unwrap();
        assert_eq!(Allocator::with_config(xdg).check_invariants(), Ok(()));
    }

    #[test]
    fn invariants_hold_at_the_ceiling_with_pending_and_quarantined_cookies() {
        let xdg = Config::DEFAULT.with_ceiling(0xfffe_ffff).unwrap();
        let mut a = Allocator::with_config(xdg);
        a.insert_pending(0xfffe_ffff).unwrap();
        a.insert_pending(0x8000_0005).unwrap();
        a.quarantine(0x8000_0005).unwrap();
        a.observe_sealed(0xfffe_ffff).unwrap();
        assert_eq!(a.current(), 0xfffe_ffff);
        assert_eq!(a.check_invariants(), Ok(()));
    }

    #[test]
    fn check_invariants_names_a_current_cookie_above_the_ceiling() {
        let a = broken(XDG_CEILING, 0xffff_0000, 0xffff_0000, &[], &[]);
        assert_eq!(a.check_invariants(), Err("current above the ceiling"));
    }

    #[test]
    fn check_invariants_names_cookie_0_in_the_pending_set() {
        let a = broken(XDG_CEILING, 0, 0xffff_0000, &[0], &[]);
        assert_eq!(a.check_invariants(), Err("0 is pending"));
    }

    #[test]
    fn check_invariants_names_a_pending_cookie_above_the_ceiling() {
        let a = broken(XDG_CEILING, 0, 0xffff_0000, &[0xffff_0000], &[]);
        assert_eq!(
            a.check_invariants(),
            Err("pending cookie above the ceiling")
        );
    }

    #[test]
    fn check_invariants_names_a_quarantined_cookie_that_is_not_pending() {
        let a = broken(XDG_CEILING, 0, 0xffff_0000, &[], &[5]);
        assert_eq!(a.check_invariants(), Err("quarantined cookie not pending"));
    }

    #[test]
    fn check_invariants_names_a_stale_fast_path_limit() {
        // Cookie 9 is pending above current 1, so the fast path must stop at 9, not at
        // ceiling + 1 where it would hand 9 out.
        let a = broken(XDG_CEILING, 1, 0xffff_0000, &[9], &[]);
        assert_eq!(a.check_invariants(), Err("stale fast_limit"));
    }

    #[test]
    fn check_invariants_names_a_quarantined_run_that_reaches_past_a_pending_run() {
        // 5 and 6 are quarantined, only 5 is pending.
        let a = broken(XDG_CEILING, 9, 0xffff_0000, &[5], &[5, 6]);
        assert_eq!(a.check_invariants(), Err("quarantined cookie not pending"));
    }

    #[test]
    fn quarantine_keeps_its_cookies_sorted_whatever_the_order_they_come_in() {
        let mut a = Allocator::new();
        for k in [7, 3, 5] {
            a.insert_pending(k).unwrap();
        }
        for k in [7, 3, 5, 3] {
            a.quarantine(k).unwrap();
        }
        let quarantined = |a: &Allocator| a.quarantined.iter_runs().collect::<Vec<_>>();
        assert_eq!(quarantined(&a), [(3, 3), (5, 5), (7, 7)]);
        assert_eq!(a.check_invariants(), Ok(()));
        a.remove_pending(5).unwrap();
        assert_eq!(quarantined(&a), [(3, 3), (7, 7)]);
        assert!(a.is_quarantined(7) && !a.is_quarantined(5));
    }

    #[test]
    fn release_quarantined_frees_every_quarantined_cookie_and_counts_them() {
        let mut a = Allocator::new();
        for k in 1..=9 {
            a.insert_pending(k).unwrap();
        }
        for k in [2, 3, 4, 8] {
            a.quarantine(k).unwrap();
        }
        assert_eq!(a.release_quarantined(), 4);
        assert_eq!(a.pending_len(), 5);
        assert!([2, 3, 4, 8].iter().all(|&k| !a.is_pending(k)));
        assert!([1, 5, 6, 7, 9].iter().all(|&k| a.is_pending(k)));
        assert_eq!(a.quarantined_len(), 0);
        assert_eq!(a.release_quarantined(), 0);
        assert_eq!(a.check_invariants(), Ok(()));
    }
}
