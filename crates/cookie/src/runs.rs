//! A set of `u32` kept as maximal runs of consecutive values.
//!
//! Invariants: runs are disjoint, each `start <= end`, and no two runs touch
//! (`end + 1 < next.start`), so the value after a run's end is never in the set. That is
//! what lets the allocator skip any number of consecutive pending cookies with one lookup.

use alloc::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub(crate) struct Runs {
    /// start -> end (inclusive)
    runs: BTreeMap<u32, u32>,
    len: usize,
}

impl Runs {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The run holding `k`, as `(start, end)`.
    pub(crate) fn run_of(&self, k: u32) -> Option<(u32, u32)> {
        let (&s, &e) = self.runs.range(..=k).next_back()?;
        (e >= k).then_some((s, e))
    }

    pub(crate) fn contains(&self, k: u32) -> bool {
        self.run_of(k).is_some()
    }

    /// The smallest member `>= k`.
    pub(crate) fn first_at_or_after(&self, k: u32) -> Option<u32> {
        if self.contains(k) {
            return Some(k);
        }
        self.runs.range(k..).next().map(|(&s, _)| s)
    }

    /// If a run starts exactly at `k`: its end, and the start of the run after it.
    pub(crate) fn run_starting_at(&self, k: u32) -> Option<(u32, Option<u32>)> {
        let mut after = self.runs.range(k..);
        match after.next() {
            Some((&s, &e)) if s == k => Some((e, after.next().map(|(&s, _)| s))),
            _ => None,
        }
    }

    /// Adds `k`; false if it was there already.
    pub(crate) fn insert(&mut self, k: u32) -> bool {
        // A run starting at k + 1 exists only if k is free (a run holding k would hold
        // k + 1 too, or end at k with k + 1 free), so taking it first is safe.
        let right_end = k.checked_add(1).and_then(|n| self.runs.remove(&n));
        // One walk for the last run starting at or before k: it holds k (a duplicate), ends
        // at k - 1 (extend it in place) or lies further left.
        if let Some((_, e)) = self.runs.range_mut(..=k).next_back() {
            if *e >= k {
                return false;
            }
            if *e + 1 == k {
                *e = right_end.unwrap_or(k);
                self.len += 1;
                return true;
            }
        }
        self.runs.insert(k, right_end.unwrap_or(k));
        self.len += 1;
        true
    }

    /// Removes `k`; false if it was not there.
    pub(crate) fn remove(&mut self, k: u32) -> bool {
        // One walk finds the run and, when k is not its start, shortens it in place.
        let (s, e) = match self.runs.range_mut(..=k).next_back() {
            Some((&s, e)) if *e >= k => {
                let old = *e;
                if s < k {
                    *e = k - 1;
                }
                (s, old)
            }
            _ => return false,
        };
        if s == k {
            self.runs.remove(&s);
        }
        if k < e {
            self.runs.insert(k + 1, e);
        }
        self.len -= 1;
        true
    }

    pub(crate) fn iter_runs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.runs.iter().map(|(&s, &e)| (s, e))
    }

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let mut prev: Option<u32> = None;
        let mut len = 0usize;
        for (s, e) in self.iter_runs() {
            if s > e {
                return Err("run with start > end");
            }
            if let Some(p) = prev {
                if u64::from(p) + 1 >= u64::from(s) {
                    return Err("runs overlap or touch");
                }
            }
            len += (e - s) as usize + 1;
            prev = Some(e);
        }
        if len != self.len {
            return Err("cached length disagrees with the runs");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! `check` is the oracle the model checks and proptests trust: each broken shape must
    //! be named, and every well-formed set, down to one-cookie runs and one-cookie gaps,
    //! must pass.

    use super::*;

    fn runs(pairs: &[(u32, u32)], len: usize) -> Runs {
        Runs {
            runs: pairs.iter().copied().collect(),
            len,
        }
    }

    #[test]
    fn check_accepts_maximal_runs_with_one_cookie_runs_and_one_cookie_gaps() {
        // {1, 2, 3} {5} {7, 8}: 6 cookies, gaps of exactly one (4 and 6).
        assert_eq!(runs(&[(1, 3), (5, 5), (7, 8)], 6).check(), Ok(()));
        assert_eq!(runs(&[], 0).check(), Ok(()));
    }

    #[test]
    fn check_rejects_a_run_whose_start_is_above_its_end() {
        assert_eq!(runs(&[(5, 3)], 0).check(), Err("run with start > end"));
    }

    #[test]
    fn check_rejects_touching_and_overlapping_runs() {
        // {1..=3} {4..=6} touch: one run, stored as two.
        assert_eq!(
            runs(&[(1, 3), (4, 6)], 6).check(),
            Err("runs overlap or touch")
        );
        assert_eq!(
            runs(&[(1, 5), (3, 8)], 8).check(),
            Err("runs overlap or touch")
        );
    }

    #[test]
    fn check_rejects_a_cached_length_that_disagrees_with_the_runs() {
        assert_eq!(
            runs(&[(1, 3)], 2).check(),
            Err("cached length disagrees with the runs")
        );
        assert_eq!(
            runs(&[(1, 3)], 4).check(),
            Err("cached length disagrees with the runs")
        );
    }
}
