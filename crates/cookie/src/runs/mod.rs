//! A set of `u32` kept as maximal runs of consecutive values, in a B+tree whose nodes live
//! in two arenas (`Vec`s indexed by `u32`) with room reserved for what removals may need.
//!
//! Invariants:
//! - runs are disjoint, each `start <= end`, sorted, and no two runs touch
//!   (`end + 1 < next.start`), so the value after a run's end is never in the set. That is
//!   what lets the allocator skip any number of consecutive pending cookies with one lookup.
//! - B+tree shape: every leaf is at depth `height`; a leaf holds up to [`LEAF`] runs and an
//!   inner node up to [`FANOUT`] children; every node but the root is at least half full;
//!   an inner node's `mins[i]` is the exact smallest start in child `i`'s subtree (so the
//!   last run starting at or before `k` is always in the leaf that routing by `k` reaches);
//!   leaves are chained left to right by `next`.
//! - The arenas' capacities are at least [`Runs::required`] for the current set: enough
//!   nodes for every state that *removals alone* can reach from it. A removal adds at most
//!   one run, so from `len` values in `r` runs removals reach at most
//!   `r + ⌊(len − r)/2⌋` runs and need at most `⌊(len − r)/2⌋` more leaves than now, and
//!   half-full nodes bound the count of nodes by the count of runs. So a removal, which may
//!   split a run and then a node, never allocates and cannot fail. Only [`Runs::insert`]
//!   grows the arenas, before it changes anything, with `try_reserve_exact`; when the heap
//!   is exhausted it returns [`OutOfMemory`] and leaves the set as it was, never aborting.
//!
//! Cost: every operation is O(log r) in the number r of runs — one walk from the root to a
//! leaf in the common case (two or three when a node splits or merges, or a run joins one
//! in the next leaf), a shift of at most 64 entries inside one node, and a split or a merge
//! per level. An inner node (they stay in cache) is searched by a binary search over its
//! whole fixed-size array whose steps add instead of branch (`leaf::at_or_below`; a node
//! of at most 8 entries over its first 8). A leaf is searched by counting the starts at or
//! below `k` (and the ends below it) over its live chunks of eight: more instructions than
//! the binary search, but the loads do not wait for each other, so a leaf out of cache
//! costs one miss, not four (measured: benches/README.md, instructions). Arena growth (in
//! steps of an eighth, so at most about an eighth is ever unused) copies the arena,
//! amortized O(1) per insert; removals never grow anything.
//!
//! Giving memory back: the arenas would otherwise keep a burst's size for good. An insert
//! that finds an arena above `2 × required + 16` nodes first copies the live nodes into
//! arenas of `required` plus an eighth (leaves in key order), then inserts; the copy's
//! allocation is fallible, and when the heap refuses it the insert goes ahead in the old
//! arenas. So after every insert that succeeds, each arena holds at most
//! `2 × required + 16` nodes (tests: `the_shrink_bound_holds_after_every_insert_...`). The
//! factor two is the hysteresis: after a compaction the requirement must fall by about half
//! again before the next one, so a compaction's O(nodes) copy is paid for by the removals
//! before it, and churn at a steady size never compacts twice. A removal never shrinks
//! (`Vec::shrink_to` reallocates, and may abort), except that the removal that empties
//! a set whose arenas exceed 16 leaves drops them: a deallocation, which cannot fail.
//!
//! Memory: 8 bytes per run in a leaf; leaves are at least half full, about 70 % full after
//! random inserts, so a scattered set costs about 12–15 bytes per value. The worst shape
//! the tree allows is every leaf half full (520 bytes for 32 runs): 16.25 bytes per run,
//! plus inner nodes (about 3 % of that) and the growth step; scattered cookies inserted in
//! ascending order come close, since a leaf that splits at its end keeps half. A long run
//! costs little in the tree but its reserve does not: any subset of a run of `k` cookies can be reached by removals, so a set that
//! promises allocation-free removals must hold at least `k` bits in reserve for it (here
//! ⌈k/2⌉ runs in half-full leaves: 8 bytes per cookie). O(1) memory for a run and removals
//! that cannot fail exclude each other.
//!
//! Why a B+tree: it was measured against the sorted vector it replaces (benches/README.md,
//! question 4): building 100,000 scattered pending cookies in random order went from 68×
//! the C model's hash set to about 2×, because an insert between runs no longer moves the
//! runs above it. Wide leaves keep the vector's 8 bytes per run and put a lookup in one or
//! two cache misses. A binary tree with one node per run was not built: with two child
//! links its nodes are 16 bytes, so the reserve alone would reach the 16-byte bound, and
//! every level is a miss that waits for the one above.

use alloc::vec::Vec;
use core::fmt;

mod arena;
mod check;
mod edit;
mod inner;
mod leaf;

use inner::Inner;
use leaf::Leaf;

/// Runs per leaf. Small under `cfg(test)` so that the unit tests split and merge nodes
/// with a handful of values; there the sizes differ from each other and from their
/// halves' quotients, so that no mistaken formula gives the right number by chance.
#[cfg(not(test))]
const LEAF: usize = 64;
#[cfg(test)]
const LEAF: usize = 8;
/// Children per inner node.
#[cfg(not(test))]
const FANOUT: usize = 64;
#[cfg(test)]
const FANOUT: usize = 10;

/// No node.
const NIL: u32 = u32::MAX;

/// The heap could not grow the storage; nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutOfMemory;

/// One change at the run found by routing.
#[derive(Clone, Copy)]
enum Edit {
    /// Add this run; it touches no other run.
    Insert((u32, u32)),
    /// Drop the run starting at the key.
    Delete,
    /// The run starting at the key now starts here (still touching no other run).
    SetStart(u32),
    /// The run starting at the key now ends here.
    SetEnd(u32),
}

/// A node split in two: the new right sibling and its smallest start.
type Split = Option<(u32, u32)>;

#[derive(Default)]
pub(crate) struct Runs {
    leaves: Vec<Leaf>,
    inners: Vec<Inner>,
    free_leaf: Option<u32>,
    free_inner: Option<u32>,
    /// The root, a leaf when `height == 0`; `None` until the first insert.
    root: Option<u32>,
    height: u32,
    len: usize,
    run_count: usize,
    leaves_used: usize,
    inners_used: usize,
}

impl Clone for Runs {
    fn clone(&self) -> Runs {
        // A derived clone would allocate only the arenas' lengths and could break
        // `capacity >= required`; keep the clone's reserve as large as the original's.
        let mut leaves = Vec::with_capacity(self.leaves.capacity());
        leaves.extend_from_slice(&self.leaves);
        let mut inners = Vec::with_capacity(self.inners.capacity());
        inners.extend_from_slice(&self.inners);
        Runs {
            leaves,
            inners,
            ..*self
        }
    }
}

impl fmt::Debug for Runs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter_runs()).finish()
    }
}

/// Leaves needed by every state that removals can reach from `len` values in `runs` runs
/// held in `leaves` leaves: removals add at most `⌊(len − runs)/2⌋` runs (one each, and
/// each costs a value that a later split needs), hence at most that many leaf splits; and
/// with every non-root leaf at least half full, `r` runs never need more than
/// `max(1, 2r / LEAF)` leaves.
fn leaves_required(len: usize, runs: usize, leaves: usize) -> usize {
    if len == 0 {
        return leaves;
    }
    let more = (len - runs) / 2;
    let most_runs = runs + more;
    (leaves + more)
        .min((2 * most_runs / LEAF).max(1))
        .max(leaves)
}

/// Inner nodes for `leaves` leaves when every non-root inner node has at least
/// `fanout / 2` children: at most `leaves / (fanout/2 − 1)` below the root, plus the root.
fn inners_required(leaves: usize, fanout: usize) -> usize {
    if leaves <= 1 {
        0
    } else {
        leaves / (fanout / 2 - 1) + 1
    }
}

/// Entries a node at `height` holds at most.
fn capacity(height: u32) -> usize {
    if height == 0 {
        LEAF
    } else {
        FANOUT
    }
}

/// Entries a non-root node at `height` holds at least.
fn half(height: u32) -> usize {
    capacity(height) / 2
}

impl Runs {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Arena sizes (leaves, inner nodes) that every removal-reachable state fits in.
    fn required(&self) -> (usize, usize) {
        let leaves = leaves_required(self.len, self.run_count, self.leaves_used);
        (leaves, inners_required(leaves, FANOUT))
    }

    /// The leaf holding the last run that starts at or before `k` (the first leaf if none
    /// does), and how many of its runs start at or before `k`.
    fn locate(&self, k: u32) -> Option<(u32, usize)> {
        self.find(k).map(|(leaf, rank, _)| (leaf, rank))
    }

    /// [`locate`](Self::locate), and whether `k` is in the set.
    #[inline]
    fn find(&self, k: u32) -> Option<(u32, usize, bool)> {
        let mut node = self.root?;
        for _ in 0..self.height {
            let inner = &self.inners[node as usize];
            node = inner.kids[inner.route(k)];
        }
        let (rank, holds) = self.leaves[node as usize].find(k);
        Some((node, rank, holds))
    }

    /// The run at position `i` of `leaf`, or the first run to its right.
    fn at_or_right(&self, leaf: u32, i: usize) -> Option<((u32, u32), usize)> {
        let l = &self.leaves[leaf as usize];
        if i < l.len as usize {
            return Some((l.run(i), leaf as usize * LEAF + i));
        }
        let next = l.next;
        (next != NIL).then(|| (self.leaves[next as usize].run(0), next as usize * LEAF))
    }

    /// The run holding `k`, as `(start, end)`.
    pub(crate) fn run_of(&self, k: u32) -> Option<(u32, u32)> {
        match self.find(k)? {
            (leaf, rank, true) => Some(self.leaves[leaf as usize].run(rank - 1)),
            _ => None,
        }
    }

    pub(crate) fn contains(&self, k: u32) -> bool {
        self.find(k).is_some_and(|(_, _, holds)| holds)
    }

    /// The smallest member `>= k`.
    pub(crate) fn first_at_or_after(&self, k: u32) -> Option<u32> {
        match self.find(k)? {
            (_, _, true) => Some(k),
            (leaf, rank, false) => self.at_or_right(leaf, rank).map(|((s, _), _)| s),
        }
    }

    /// If a run starts exactly at `k`: its end, the start of the run after it, and a hint
    /// for that run. `hint` is where to look first (any value gives the same answer: a
    /// hint is checked against a live leaf before it is believed; the right one saves the
    /// walk from the root, whose chain of dependent loads is what a walk over many pending
    /// runs costs).
    pub(crate) fn run_starting_at(&self, k: u32, hint: usize) -> Option<(u32, Option<u32>, usize)> {
        let (leaf, i) = (hint / LEAF, hint % LEAF);
        let (leaf, i) = match self.leaves.get(leaf) {
            Some(l) if i < l.len as usize && l.starts[i] == k => (leaf as u32, i),
            _ => {
                let (leaf, rank) = self.locate(k)?;
                (leaf, rank.checked_sub(1)?)
            }
        };
        let (s, e) = self.leaves[leaf as usize].run(i);
        if s != k {
            return None;
        }
        let after = self.at_or_right(leaf, i + 1);
        Some((e, after.map(|((s, _), _)| s), after.map_or(0, |(_, h)| h)))
    }

    /// The runs in ascending order, along the leaf chain.
    pub(crate) fn iter_runs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let mut leaf = self.leftmost();
        core::iter::from_fn(move || {
            let l = self.leaves.get(leaf as usize)?;
            leaf = l.next;
            Some((0..l.len as usize).map(move |i| l.run(i)))
        })
        .flatten()
    }
}

#[cfg(test)]
mod tests;
