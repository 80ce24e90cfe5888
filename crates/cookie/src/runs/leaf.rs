//! A leaf of the tree: up to [`LEAF`] runs, sorted, searched by counting over chunks.

use super::{LEAF, NIL};

#[derive(Clone)]
pub(super) struct Leaf {
    pub(super) len: u32,
    /// The leaf to the right, or the next free leaf while this one is free.
    pub(super) next: u32,
    /// Run `i` is `starts[i]..=ends[i]`, sorted; the first `len` are live, and the other
    /// starts and ends are `u32::MAX` (so a search can count over the whole arrays).
    /// Starts and ends apart, so that a search reads all of them at once.
    pub(super) starts: [u32; LEAF],
    pub(super) ends: [u32; LEAF],
}

impl Leaf {
    pub(super) const EMPTY: Leaf = Leaf {
        len: 0,
        next: NIL,
        starts: [u32::MAX; LEAF],
        ends: [u32::MAX; LEAF],
    };

    pub(super) fn run(&self, i: usize) -> (u32, u32) {
        (self.starts[i], self.ends[i])
    }

    /// How many live runs start at or before `k`: a count, not a binary search, so that
    /// the loads do not depend on each other.
    pub(super) fn rank(&self, k: u32) -> usize {
        // The padding counts only when `k` is `u32::MAX`, and then every live run counts.
        count(&self.starts, self.len as usize, |s| s <= k).min(self.len as usize)
    }

    /// `rank(k)`, and whether the run before that rank holds `k`. Both from counts over
    /// the live chunks: every cache line of the leaf is asked for at once, instead of one
    /// miss waiting for another, which is what a leaf out of cache costs (a branch-free
    /// binary search took a fifth of the instructions but built 1,000,000 scattered
    /// cookies 4.05× the C model against 3.10× for the counts, back to back;
    /// benches/README.md). Inner nodes, which stay in cache, use the binary search.
    pub(super) fn find(&self, k: u32) -> (usize, bool) {
        let n = self.len as usize;
        if n <= SMALL {
            // A leaf this small fits in a cache line or two: the search costs fewer
            // instructions than the counts.
            let rank = rank_in(&self.starts, n, k);
            return (rank, rank > 0 && self.ends[rank - 1] >= k);
        }
        let rank = self.rank(k);
        // Runs ending before `k`: all those before the rank's run, and that run too
        // unless it holds `k` (the padding never ends before `k`).
        let ended = count(&self.ends, n, |e| e < k);
        (rank, ended < rank)
    }

    /// Restores the padding after `len` went down.
    pub(super) fn pad(&mut self) {
        self.starts[self.len as usize..].fill(u32::MAX);
        self.ends[self.len as usize..].fill(u32::MAX);
    }

    /// Index of the run starting exactly at `start`; the caller knows it is here.
    pub(super) fn index_of(&self, start: u32) -> usize {
        let i = self.rank(start) - 1;
        debug_assert_eq!(self.starts[i], start, "routed to a leaf without the run");
        i
    }

    /// Puts `run` at `i`, moving the runs from `i` on one place up; `len < LEAF`.
    pub(super) fn insert_at(&mut self, i: usize, run: (u32, u32)) {
        let n = self.len as usize;
        self.starts.copy_within(i..n, i + 1);
        self.ends.copy_within(i..n, i + 1);
        (self.starts[i], self.ends[i]) = run;
        self.len += 1;
    }

    /// Drops run `i`, moving the runs after it one place down.
    pub(super) fn remove_at(&mut self, i: usize) {
        let n = self.len as usize;
        self.starts.copy_within(i + 1..n, i);
        self.ends.copy_within(i + 1..n, i);
        self.len -= 1;
        // Only the slot the last run left needs the padding back.
        (self.starts[n - 1], self.ends[n - 1]) = (u32::MAX, u32::MAX);
    }

    /// Copies `count` runs from `src` at `from` to `dst` at `to`.
    pub(super) fn copy(src: &Leaf, from: usize, dst: &mut Leaf, to: usize, count: usize) {
        dst.starts[to..to + count].copy_from_slice(&src.starts[from..from + count]);
        dst.ends[to..to + count].copy_from_slice(&src.ends[from..from + count]);
    }

    /// Moves runs `from..len` to `to..`, within this leaf (len unchanged).
    pub(super) fn slide(&mut self, from: usize, to: usize) {
        let n = self.len as usize;
        self.starts.copy_within(from..n, to);
        self.ends.copy_within(from..n, to);
    }
}

/// How many entries of the sorted `v` are at or below `k`: a binary search over the whole
/// fixed-size array (padding included) whose steps add instead of branch, so that its
/// length and its loads do not depend on `k` and no step is a mispredicted branch.
/// Measured against counting every entry with vector compares (one batch of loads, but
/// two full passes over 64 starts and 64 ends): about a fifth of the instructions, and no
/// slower on a leaf out of cache (benches/README.md, instruction counts).
pub(super) fn at_or_below<const N: usize>(v: &[u32; N], k: u32) -> usize {
    let mut base = 0;
    let mut size = N;
    while size > 1 {
        let half = size / 2;
        base += half * usize::from(v[base + half - 1] <= k);
        size -= half;
    }
    base + usize::from(size == 1 && v[base] <= k)
}

/// Nodes of at most this many entries are searched over their first `SMALL` only: a set
/// of a few runs (calls in flight as one run, a ring of two runs) takes three steps, not
/// seven.
#[cfg(not(test))]
const SMALL: usize = 8;
#[cfg(test)]
const SMALL: usize = 4;

/// How many of the first `len` entries of the sorted, `u32::MAX`-padded `v` are at or
/// below `k`.
pub(super) fn rank_in<const N: usize>(v: &[u32; N], len: usize, k: u32) -> usize {
    // Two calls with lengths known at compile time, so that each search is unrolled.
    let count = match v.first_chunk::<SMALL>() {
        Some(small) if len <= SMALL => at_or_below(small, k),
        _ => at_or_below(v, k),
    };
    // The padding counts only when `k` is `u32::MAX`, and then every live entry counts.
    count.min(len)
}

/// Entries counted together: a fixed-length inner loop the compiler unrolls and
/// vectorizes.
#[cfg(not(test))]
const CHUNK: usize = 8;
#[cfg(test)]
const CHUNK: usize = 2;

/// How many entries of `v` satisfy `f`, counted over the chunks that hold the first `live`
/// ones: the rest of the last chunk is padding (`u32::MAX`), which the caller allows for.
fn count(v: &[u32], live: usize, f: impl Fn(u32) -> bool) -> usize {
    let mut lanes = [0u32; CHUNK];
    for c in v.chunks_exact(CHUNK).take(live.div_ceil(CHUNK)) {
        for (lane, &x) in lanes.iter_mut().zip(c) {
            *lane += u32::from(f(x));
        }
    }
    lanes.iter().sum::<u32>() as usize
}
