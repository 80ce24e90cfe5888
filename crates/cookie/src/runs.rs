//! A set of `u32` kept as maximal runs of consecutive values, in a sorted `Vec`.
//!
//! Invariants:
//! - runs are disjoint, each `start <= end`, sorted, and no two runs touch
//!   (`end + 1 < next.start`), so the value after a run's end is never in the set. That is
//!   what lets the allocator skip any number of consecutive pending cookies with one lookup.
//! - `runs.capacity() >= len` (the number of values). Every run holds at least one value, so
//!   no sequence of removals can ever need more than `len` runs: removing a value (which
//!   may split a run in two) never allocates and cannot fail. Only [`Runs::insert`] grows
//!   the storage, with `try_reserve`; when the heap is exhausted it returns
//!   [`OutOfMemory`] and leaves the set as it was, never aborting.
//!
//! Cost: lookups are a binary search, O(log r) in the number r of runs; an insert or a
//! removal that adds or drops a run moves the runs above it (O(r) `memmove`), one that
//! extends or shortens a run in place does not. Memory is 8 bytes per value of capacity
//! (`Vec` growth may double it), whatever the shape of the set.

use alloc::vec::Vec;

/// The heap could not grow the storage; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfMemory;

#[derive(Debug, Default)]
pub(crate) struct Runs {
    /// (start, end), both inclusive, sorted by start.
    runs: Vec<(u32, u32)>,
    len: usize,
}

impl Clone for Runs {
    fn clone(&self) -> Runs {
        // A derived clone would allocate only `runs.len()` slots and break
        // `capacity >= len`; keep the clone's storage as large as the value count.
        let mut runs = Vec::with_capacity(self.len);
        runs.extend_from_slice(&self.runs);
        Runs {
            runs,
            len: self.len,
        }
    }
}

impl Runs {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Index of the last run starting at or before `k`.
    fn last_at_or_before(&self, k: u32) -> Option<usize> {
        self.runs.partition_point(|&(s, _)| s <= k).checked_sub(1)
    }

    /// The run holding `k`, as `(start, end)`.
    pub(crate) fn run_of(&self, k: u32) -> Option<(u32, u32)> {
        let (s, e) = self.runs[self.last_at_or_before(k)?];
        (e >= k).then_some((s, e))
    }

    pub(crate) fn contains(&self, k: u32) -> bool {
        self.run_of(k).is_some()
    }

    /// The smallest member `>= k`.
    pub(crate) fn first_at_or_after(&self, k: u32) -> Option<u32> {
        let i = self.runs.partition_point(|&(_, e)| e < k);
        self.runs.get(i).map(|&(s, _)| s.max(k))
    }

    /// If a run starts exactly at `k`: its end, and the start of the run after it.
    pub(crate) fn run_starting_at(&self, k: u32) -> Option<(u32, Option<u32>)> {
        let i = self.runs.partition_point(|&(s, _)| s < k);
        match self.runs.get(i) {
            Some(&(s, e)) if s == k => Some((e, self.runs.get(i + 1).map(|&(s, _)| s))),
            _ => None,
        }
    }

    /// Adds `k`; `Ok(false)` if it was there already; `Err(OutOfMemory)` (set unchanged) if
    /// the storage could not grow to keep `capacity >= len`.
    pub(crate) fn insert(&mut self, k: u32) -> Result<bool, OutOfMemory> {
        // Index of the first run starting after k; the run before it may hold k.
        let i = self.runs.partition_point(|&(s, _)| s <= k);
        if i > 0 && self.runs[i - 1].1 >= k {
            return Ok(false);
        }
        // Reserve before changing anything: after this, `capacity >= len + 1`, enough for
        // this insert's new run (if any) and for the invariant once `len` has grown.
        if self.runs.capacity() <= self.len {
            self.runs
                .try_reserve(self.len + 1 - self.runs.len())
                .map_err(|_| OutOfMemory)?;
        }
        let joins_left = i > 0 && self.runs[i - 1].1 + 1 == k;
        let joins_right = self
            .runs
            .get(i)
            .is_some_and(|&(s, _)| k.checked_add(1) == Some(s));
        match (joins_left, joins_right) {
            (true, true) => {
                self.runs[i - 1].1 = self.runs[i].1;
                self.runs.remove(i);
            }
            (true, false) => self.runs[i - 1].1 = k,
            (false, true) => self.runs[i].0 = k,
            (false, false) => self.runs.insert(i, (k, k)),
        }
        self.len += 1;
        Ok(true)
    }

    /// Removes `k`; false if it was not there. Never allocates (`capacity >= len`).
    pub(crate) fn remove(&mut self, k: u32) -> bool {
        let Some(i) = self.last_at_or_before(k) else {
            return false;
        };
        let (s, e) = self.runs[i];
        if e < k {
            return false;
        }
        match (s == k, e == k) {
            (true, true) => {
                self.runs.remove(i);
            }
            (true, false) => self.runs[i].0 = k + 1,
            (false, true) => self.runs[i].1 = k - 1,
            (false, false) => {
                // A split: one more run, within the capacity the invariant keeps, since
                // runs.len() + 1 <= len (the run holds at least 3 values) <= capacity.
                self.runs[i].1 = k - 1;
                self.runs.insert(i + 1, (k + 1, e));
            }
        }
        self.len -= 1;
        true
    }

    pub(crate) fn iter_runs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.runs.iter().copied()
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
        if self.runs.capacity() < self.len {
            return Err("capacity below the value count");
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
        let mut v = Vec::with_capacity(len);
        v.extend_from_slice(pairs);
        Runs { runs: v, len }
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

    #[test]
    fn check_rejects_storage_smaller_than_the_value_count() {
        // {1..=4}: one run, but room for fewer than 4: removing 2 then 3... could need to
        // grow the storage, which a removal must never do.
        let r = Runs {
            runs: alloc::vec![(1, 4)],
            len: 4,
        };
        assert!(r.runs.capacity() < 4);
        assert_eq!(r.check(), Err("capacity below the value count"));
    }

    #[test]
    fn removals_that_split_runs_down_to_single_values_never_grow_the_storage() {
        // One run of 9 split by removing every second value: 5 runs of one value.
        let mut r = Runs::default();
        for k in 1..=9 {
            assert_eq!(r.insert(k), Ok(true));
        }
        assert_eq!(r.iter_runs().count(), 1);
        let (ptr, cap) = (r.runs.as_ptr(), r.runs.capacity());
        for k in [2, 4, 6, 8] {
            assert!(r.remove(k));
            assert_eq!(r.check(), Ok(()));
        }
        assert_eq!(
            r.iter_runs().collect::<Vec<_>>(),
            [(1, 1), (3, 3), (5, 5), (7, 7), (9, 9)]
        );
        assert_eq!(
            (r.runs.as_ptr(), r.runs.capacity()),
            (ptr, cap),
            "no reallocation"
        );
    }

    #[test]
    fn insert_joins_two_runs_and_remove_splits_one() {
        let mut r = Runs::default();
        for k in [1, 2, 4, 5, u32::MAX] {
            assert_eq!(r.insert(k), Ok(true));
        }
        assert_eq!(r.insert(2), Ok(false));
        assert_eq!(r.insert(3), Ok(true));
        assert_eq!(
            r.iter_runs().collect::<Vec<_>>(),
            [(1, 5), (u32::MAX, u32::MAX)]
        );
        assert_eq!(r.run_starting_at(1), Some((5, Some(u32::MAX))));
        assert_eq!(r.first_at_or_after(6), Some(u32::MAX));
        assert_eq!(r.first_at_or_after(3), Some(3));
        assert!(r.remove(3));
        assert!(!r.remove(3));
        assert_eq!(
            r.iter_runs().collect::<Vec<_>>(),
            [(1, 2), (4, 5), (u32::MAX, u32::MAX)]
        );
        assert_eq!(r.check(), Ok(()));
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn a_clone_keeps_room_for_every_value() {
        let mut r = Runs::default();
        for k in 1..=100 {
            r.insert(k).unwrap();
        }
        let c = r.clone();
        assert!(c.runs.capacity() >= 100);
        assert_eq!(c.check(), Ok(()));
    }
}
