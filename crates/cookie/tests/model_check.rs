//! Exhaustive model check of the cycle rule at tiny widths.
//!
//! A breadth-first search from the fresh state (current 0, nothing pending) visits every
//! reachable state `(current, P)` and fires every transition out of it: `next()`,
//! `insert_pending(k)`, `remove_pending(k)` and `observe_sealed(k)` for every `k` from 0 to
//! one above the ceiling. Each transition's result is compared with a plain reference model
//! (a bitmask and a bounded linear walk) and checked against the invariants of the rule:
//! never 0, never above the ceiling, never a pending cookie, `Busy` exactly when no cookie
//! the walk can reach is free (and then nothing changes), equality with upstream's
//! `next_cookie()` in every state sd-bus can reach, and the allocator's internal invariants.

use std::collections::VecDeque;

use sdbus_cookie::{next_cookie, Allocator, Config, Error};

/// The state space explored: every cookie in `lo..=ceiling` may be pending.
struct Space {
    cfg: Config,
    lo: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    current: u32,
    /// bit k set: cookie k pending
    mask: u64,
}

#[derive(Default, Debug)]
struct Counts {
    states: u64,
    transitions: u64,
    busy: u64,
    skipped: u64,
}

impl Space {
    fn ceiling(&self) -> u32 {
        self.cfg.ceiling()
    }

    fn cycled(&self) -> u32 {
        self.cfg.cycled()
    }

    fn pending_bits(&self) -> u32 {
        self.ceiling() - self.lo + 1
    }

    fn index(&self, s: State) -> usize {
        ((s.current as usize) << self.pending_bits()) | (s.mask >> self.lo) as usize
    }

    fn inc(&self, x: u32) -> u32 {
        if x >= self.ceiling() {
            self.cycled()
        } else {
            x + 1
        }
    }

    fn build(&self, s: State) -> Allocator {
        let mut a = Allocator::with_config(self.cfg);
        if s.current > 0 {
            a.observe_sealed(u64::from(s.current)).unwrap();
        }
        for k in self.lo..=self.ceiling() {
            if s.mask & (1 << k) != 0 {
                a.insert_pending(u64::from(k)).unwrap();
            }
        }
        assert_eq!(self.read(&a), s, "building the state went wrong");
        a
    }

    fn read(&self, a: &Allocator) -> State {
        let mut mask = 0u64;
        for (first, last) in a.pending_runs() {
            for k in first.get()..=last.get() {
                mask |= 1 << k;
            }
        }
        State {
            current: a.current() as u32,
            mask,
        }
    }

    /// The obviously-correct rule: walk with `inc` until a cookie is not pending; give up
    /// after visiting every cookie once.
    fn reference_next(&self, s: State) -> Option<u32> {
        let mut n = self.inc(s.current);
        for _ in 0..=self.ceiling() {
            if s.mask & (1 << n) == 0 {
                return Some(n);
            }
            n = self.inc(n);
        }
        None
    }

    /// upstream v242+ `next_cookie()`: looks at P only once bit (width-1) is set.
    fn upstream_next(&self, s: State) -> Option<u32> {
        let mut n = self.inc(s.current);
        if n >= self.cycled() {
            for _ in 0..self.cfg.cycled_len() {
                if s.mask & (1 << n) == 0 {
                    return Some(n);
                }
                n = self.inc(n);
            }
            return None;
        }
        Some(n)
    }

    /// States sd-bus can reach: nothing pending between `current` and `cycled`.
    fn sd_bus_reachable(&self, s: State) -> bool {
        (s.current + 1..self.cycled()).all(|k| s.mask & (1 << k) == 0)
    }

    fn all_pending(&self, s: State, ks: impl IntoIterator<Item = u32>) -> bool {
        ks.into_iter().all(|k| s.mask & (1 << k) != 0)
    }

    fn explore(&self) -> Counts {
        let mut visited = vec![false; (self.ceiling() as usize + 1) << self.pending_bits()];
        let mut queue = VecDeque::new();
        let start = State {
            current: 0,
            mask: 0,
        };
        visited[self.index(start)] = true;
        queue.push_back(start);
        let mut counts = Counts::default();
        let ceiling = u64::from(self.ceiling());

        while let Some(s) = queue.pop_front() {
            counts.states += 1;
            let base = self.build(s);
            let mut successors = Vec::with_capacity(64);

            // next()
            {
                let mut a = base.clone();
                let got = a.next();
                let want = self.reference_next(s);
                check(&a, s, "next");
                match (got, want) {
                    (Ok(c), Some(n)) => {
                        let c = c.get();
                        assert_eq!(c, n, "next from {s:?}: ours {c:#x}, reference {n:#x}");
                        assert!(c != 0 && c <= self.ceiling(), "next out of range: {c}");
                        assert_eq!(s.mask & (1 << c), 0, "next handed out pending {c}");
                        assert_eq!(
                            self.read(&a),
                            State {
                                current: c,
                                mask: s.mask
                            }
                        );
                        if c != self.inc(s.current) {
                            counts.skipped += 1;
                        }
                    }
                    (Err(Error::Busy), None) => {
                        counts.busy += 1;
                        assert_eq!(self.read(&a), s, "Busy changed the state");
                        // Busy exactly when every cycled cookie is pending and, before
                        // the first cycle, every cookie up to `cycled` as well.
                        assert!(self.all_pending(s, self.cycled()..=self.ceiling()));
                        assert!(self.all_pending(s, s.current + 1..self.cycled()));
                    }
                    (got, want) => panic!("next from {s:?}: ours {got:?}, reference {want:?}"),
                }
                if self.sd_bus_reachable(s) {
                    let ours = got.ok().map(|c| c.get());
                    assert_eq!(
                        ours,
                        self.upstream_next(s),
                        "differs from upstream at {s:?}"
                    );
                }
                // The stateless drop-in, with the mask as its `in_use` predicate, is upstream.
                let stateless = next_cookie(u64::from(s.current), &self.cfg, |k| {
                    assert!(
                        k >= self.cycled(),
                        "in_use asked about {k} before the cycle"
                    );
                    s.mask & (1 << k) != 0
                });
                assert_eq!(stateless.ok().map(|c| c.get()), self.upstream_next(s));
                counts.transitions += 1;
                successors.push(self.read(&a));
            }

            for k in 0..=ceiling + 1 {
                let valid = k != 0 && k <= ceiling;
                let bit = if valid { 1u64 << k } else { 0 };
                let in_space = valid && k >= u64::from(self.lo);

                // insert_pending(k)
                if in_space || !valid {
                    let mut a = base.clone();
                    let r = a.insert_pending(k);
                    check(&a, s, "insert_pending");
                    let want = if !valid {
                        assert!(matches!(
                            r,
                            Err(Error::ZeroCookie | Error::AboveCeiling { .. })
                        ));
                        s
                    } else if s.mask & bit != 0 {
                        assert!(matches!(r, Err(Error::AlreadyPending(c)) if u64::from(c) == k));
                        s
                    } else {
                        assert_eq!(r, Ok(()));
                        State {
                            mask: s.mask | bit,
                            ..s
                        }
                    };
                    assert_eq!(self.read(&a), want, "insert_pending({k}) from {s:?}");
                    counts.transitions += 1;
                    successors.push(want);
                }

                // remove_pending(k)
                if in_space || !valid {
                    let mut a = base.clone();
                    let r = a.remove_pending(k);
                    check(&a, s, "remove_pending");
                    let want = if !valid {
                        assert!(matches!(
                            r,
                            Err(Error::ZeroCookie | Error::AboveCeiling { .. })
                        ));
                        s
                    } else if s.mask & bit == 0 {
                        assert!(matches!(r, Err(Error::NotPending(c)) if u64::from(c) == k));
                        s
                    } else {
                        assert_eq!(r, Ok(()));
                        State {
                            mask: s.mask & !bit,
                            ..s
                        }
                    };
                    assert_eq!(self.read(&a), want, "remove_pending({k}) from {s:?}");
                    counts.transitions += 1;
                    successors.push(want);
                }

                // observe_sealed(k)
                {
                    let mut a = base.clone();
                    let r = a.observe_sealed(k);
                    check(&a, s, "observe_sealed");
                    let want = if valid {
                        assert_eq!(r, Ok(()));
                        State {
                            current: s.current.max(k as u32),
                            ..s
                        }
                    } else {
                        assert!(matches!(
                            r,
                            Err(Error::ZeroCookie | Error::AboveCeiling { .. })
                        ));
                        s
                    };
                    assert_eq!(self.read(&a), want, "observe_sealed({k}) from {s:?}");
                    counts.transitions += 1;
                    successors.push(want);
                }
            }

            for t in successors {
                let i = self.index(t);
                if !visited[i] {
                    visited[i] = true;
                    queue.push_back(t);
                }
            }
        }
        counts
    }
}

fn check(a: &Allocator, from: State, op: &str) {
    if let Err(e) = a.check_invariants() {
        panic!("{op} from {from:?} broke an invariant: {e}");
    }
}

fn run(name: &str, space: Space, expected_states: u64) {
    let c = space.explore();
    println!(
        "{name}: {} states, {} transitions checked ({} Busy, {} next() calls skipped pending)",
        c.states, c.transitions, c.busy, c.skipped
    );
    // Every (current, P) of the space is reachable, so the search must have seen them all.
    assert_eq!(
        c.states, expected_states,
        "{name}: unexpected number of reachable states"
    );
    assert!(
        c.busy > 0 && c.skipped > 0,
        "{name}: the search never hit Busy or a skip"
    );
}

#[test]
fn cycle_rule_holds_in_every_state_at_width_4_with_any_pending_set() {
    let cfg = Config::new(4).unwrap();
    // current in 0..=15, P any subset of 1..=15
    run("width 4", Space { cfg, lo: 1 }, 16 << 15);
}

#[test]
fn cycle_rule_holds_in_every_state_at_width_4_with_ceiling_12() {
    let cfg = Config::new(4).unwrap().with_ceiling(12).unwrap();
    run("width 4, ceiling 12", Space { cfg, lo: 1 }, 13 << 12);
}

#[test]
fn cycle_rule_holds_in_every_state_at_width_5_with_cycled_pending_sets() {
    let cfg = Config::new(5).unwrap();
    // current in 0..=31, P any subset of the cycled half 16..=31
    run("width 5, cycled half", Space { cfg, lo: 16 }, 32 << 16);
}
