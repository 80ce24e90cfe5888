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
//! per level. A leaf is searched by counting the starts at or below `k` (and the ends
//! below it) over its live chunks of eight rather than by a binary search: the loads do
//! not wait for each other, so a leaf that is not in cache costs one miss, not four.
//! Arena growth (in steps of an eighth, so at most about an eighth is ever unused) copies
//! the arena, amortized O(1) per insert; removals never grow anything.
//!
//! Memory: 8 bytes per run in a leaf; leaves are at least half full, about 70 % full after
//! random inserts, so a scattered set costs about 12–15 bytes per value. The worst shape
//! the tree allows is every leaf half full (520 bytes for 32 runs): 16.25 bytes per run,
//! plus inner nodes (about 3 % of that) and the growth step; scattered cookies inserted in
//! ascending order come close, since a leaf that splits at its end keeps half. A long run costs little in the tree but its reserve does
//! not: any subset of a run of `k` cookies can be reached by removals, so a set that
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

#[derive(Clone)]
struct Leaf {
    len: u32,
    /// The leaf to the right, or the next free leaf while this one is free.
    next: u32,
    /// Run `i` is `starts[i]..=ends[i]`, sorted; the first `len` are live, and the other
    /// starts and ends are `u32::MAX` (so a search can count over the whole arrays).
    /// Starts and ends apart, so that a search reads all of them at once.
    starts: [u32; LEAF],
    ends: [u32; LEAF],
}

impl Leaf {
    const EMPTY: Leaf = Leaf {
        len: 0,
        next: NIL,
        starts: [u32::MAX; LEAF],
        ends: [u32::MAX; LEAF],
    };

    fn run(&self, i: usize) -> (u32, u32) {
        (self.starts[i], self.ends[i])
    }

    /// How many live runs start at or before `k`: a count, not a binary search, so that
    /// the loads do not depend on each other (and vectorize).
    fn rank(&self, k: u32) -> usize {
        // The padding counts only when `k` is `u32::MAX`, and then every live run counts.
        count(&self.starts, self.len as usize, |s| s <= k).min(self.len as usize)
    }

    /// `rank(k)`, and whether the run before that rank holds `k`. Both from counts over
    /// whole arrays: every cache line of the leaf is asked for at once, instead of one
    /// miss waiting for another.
    fn find(&self, k: u32) -> (usize, bool) {
        let n = self.len as usize;
        if n <= SMALL {
            // A leaf this small fits in a cache line or two: a binary search costs fewer
            // instructions than the counts.
            let rank = self.starts[..n].partition_point(|&s| s <= k);
            return (rank, rank > 0 && self.ends[rank - 1] >= k);
        }
        let rank = self.rank(k);
        // Runs ending before `k`: all those before the rank's run, and that run too
        // unless it holds `k` (the padding never ends before `k`).
        let ended = count(&self.ends, self.len as usize, |e| e < k);
        (rank, ended < rank)
    }

    /// Restores the padding after `len` went down.
    fn pad(&mut self) {
        self.starts[self.len as usize..].fill(u32::MAX);
        self.ends[self.len as usize..].fill(u32::MAX);
    }

    /// Index of the run starting exactly at `start`; the caller knows it is here.
    fn index_of(&self, start: u32) -> usize {
        let i = self.rank(start) - 1;
        debug_assert_eq!(self.starts[i], start, "routed to a leaf without the run");
        i
    }

    /// Puts `run` at `i`, moving the runs from `i` on one place up; `len < LEAF`.
    fn insert_at(&mut self, i: usize, run: (u32, u32)) {
        let n = self.len as usize;
        self.starts.copy_within(i..n, i + 1);
        self.ends.copy_within(i..n, i + 1);
        (self.starts[i], self.ends[i]) = run;
        self.len += 1;
    }

    /// Drops run `i`, moving the runs after it one place down.
    fn remove_at(&mut self, i: usize) {
        let n = self.len as usize;
        self.starts.copy_within(i + 1..n, i);
        self.ends.copy_within(i + 1..n, i);
        self.len -= 1;
        self.pad();
    }

    /// Copies `count` runs from `src` at `from` to `dst` at `to`.
    fn copy(src: &Leaf, from: usize, dst: &mut Leaf, to: usize, count: usize) {
        dst.starts[to..to + count].copy_from_slice(&src.starts[from..from + count]);
        dst.ends[to..to + count].copy_from_slice(&src.ends[from..from + count]);
    }

    /// Moves runs `from..len` to `to..`, within this leaf (len unchanged).
    fn slide(&mut self, from: usize, to: usize) {
        let n = self.len as usize;
        self.starts.copy_within(from..n, to);
        self.ends.copy_within(from..n, to);
    }
}

/// Entries counted together: a fixed-length inner loop the compiler unrolls and
/// vectorizes.
#[cfg(not(test))]
const CHUNK: usize = 8;
#[cfg(test)]
const CHUNK: usize = 2;

/// Leaves of at most this many runs are searched by a binary search instead.
#[cfg(not(test))]
const SMALL: usize = 8;
#[cfg(test)]
const SMALL: usize = 2;

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

#[derive(Clone)]
struct Inner {
    len: u32,
    /// `mins[i]` is the smallest start in `kids[i]`'s subtree, `u32::MAX` from `len` on;
    /// while this node is free, `kids[0]` is the next free inner node.
    mins: [u32; FANOUT],
    kids: [u32; FANOUT],
}

impl Inner {
    const EMPTY: Inner = Inner {
        len: 0,
        mins: [u32::MAX; FANOUT],
        kids: [NIL; FANOUT],
    };

    /// The child whose subtree holds the last run starting at or before `k` (the first
    /// child if there is none).
    fn route(&self, k: u32) -> usize {
        // A binary search: inner nodes are few and stay in cache, where it costs fewer
        // instructions than a count.
        self.mins[1..self.len as usize].partition_point(|&s| s <= k)
    }

    /// Restores the padding after `len` went down.
    fn pad(&mut self) {
        self.mins[self.len as usize..].fill(u32::MAX);
    }
}

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

/// Grows `v`'s capacity to at least `need`, by at least an eighth so that growth is
/// amortized O(1) while no more than about an eighth of the capacity is ever unused.
fn grow<T>(v: &mut Vec<T>, need: usize) -> Result<(), OutOfMemory> {
    if v.capacity() >= need {
        return Ok(());
    }
    let step = need.max(v.capacity() + v.capacity() / 8 + 4);
    v.try_reserve_exact(step - v.len()).map_err(|_| OutOfMemory)
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

    /// Adds `k`; `Ok(false)` if it was there already; `Err(OutOfMemory)` (set unchanged) if
    /// the arenas could not grow to keep the reserve removals need.
    pub(crate) fn insert(&mut self, k: u32) -> Result<bool, OutOfMemory> {
        let (at, pred, succ) = match self.find(k) {
            None => (None, None, None),
            Some((_, _, true)) => return Ok(false),
            Some((leaf, rank, false)) => {
                let pred = rank
                    .checked_sub(1)
                    .map(|i| self.leaves[leaf as usize].run(i));
                let succ = self.at_or_right(leaf, rank).map(|(r, _)| r);
                (Some((leaf, rank)), pred, succ)
            }
        };
        let joins_left = pred.filter(|&(_, e)| e + 1 == k);
        let joins_right = succ.filter(|&(s, _)| k.checked_add(1) == Some(s));
        // Reserve for the state after this insert before changing anything: one more
        // value, the run count it will have, and a leaf more if a new run splits one.
        let (runs_after, leaves_after) = match (joins_left, joins_right) {
            (Some(_), Some(_)) => (self.run_count - 1, self.leaves_used),
            (None, None) => (self.run_count + 1, self.leaves_used + 1),
            _ => (self.run_count, self.leaves_used),
        };
        let leaves = leaves_required(self.len + 1, runs_after, leaves_after).max(1);
        grow(&mut self.leaves, leaves)?;
        grow(&mut self.inners, inners_required(leaves, FANOUT))?;
        self.run_count = runs_after;
        self.len += 1;
        if let Some((leaf, rank)) = at {
            if self.insert_in_leaf(leaf, rank, k, joins_left.is_some(), joins_right) {
                return Ok(true);
            }
        }
        match (joins_left, joins_right) {
            (Some((s, _)), Some((t, e))) => {
                self.edit(t, Edit::Delete);
                self.edit(s, Edit::SetEnd(e));
            }
            (Some((s, _)), None) => self.edit(s, Edit::SetEnd(k)),
            (None, Some((t, _))) => self.edit(t, Edit::SetStart(k)),
            (None, None) => self.edit(k, Edit::Insert((k, k))),
        }
        Ok(true)
    }

    /// Whether a change at position `i` of `leaf` leaves every inner node as it is: it
    /// does not touch the leaf's smallest start (or the leaf is the root).
    fn keeps_min(&self, i: usize) -> bool {
        i > 0 || self.height == 0
    }

    /// Whether `leaf` can lose a run without falling below half full.
    fn can_shrink(&self, leaf: u32) -> bool {
        self.height == 0 || self.leaves[leaf as usize].len as usize > LEAF / 2
    }

    /// The insert of `k` done inside the leaf that `locate` found, at `rank`, when that
    /// needs no split, no merge and no change of a smallest start: the common case, one
    /// walk from the root instead of two. False (nothing done) otherwise.
    fn insert_in_leaf(
        &mut self,
        leaf: u32,
        rank: usize,
        k: u32,
        joins_left: bool,
        joins_right: Option<(u32, u32)>,
    ) -> bool {
        let n = self.leaves[leaf as usize].len as usize;
        let keeps_min = self.keeps_min(rank);
        let can_shrink = self.can_shrink(leaf);
        let l = &mut self.leaves[leaf as usize];
        match (joins_left, joins_right) {
            // The run before `k` is always in this leaf, at `rank - 1`.
            (true, None) => l.ends[rank - 1] = k,
            (true, Some((_, e))) if rank < n && can_shrink => {
                l.ends[rank - 1] = e;
                l.remove_at(rank);
            }
            (false, Some(_)) if rank < n && keeps_min => l.starts[rank] = k,
            (false, None) if n < LEAF && keeps_min => l.insert_at(rank, (k, k)),
            _ => return false,
        }
        true
    }

    /// Removes `k`; false if it was not there. Never allocates (see the module docs).
    pub(crate) fn remove(&mut self, k: u32) -> bool {
        let Some((leaf, rank, true)) = self.find(k) else {
            return false;
        };
        let i = rank - 1;
        let (s, e) = self.leaves[leaf as usize].run(i);
        self.len -= 1;
        let n = self.leaves[leaf as usize].len as usize;
        let keeps_min = self.keeps_min(i);
        let can_shrink = self.can_shrink(leaf);
        let l = &mut self.leaves[leaf as usize];
        match (s == k, e == k) {
            (true, true) => {
                self.run_count -= 1;
                if keeps_min && can_shrink {
                    l.remove_at(i);
                } else {
                    self.edit(s, Edit::Delete);
                }
            }
            (true, false) if keeps_min => l.starts[i] = k + 1,
            (true, false) => self.edit(s, Edit::SetStart(k + 1)),
            (false, true) => l.ends[i] = k - 1,
            (false, false) => {
                // A split: one more run, and perhaps more nodes, within the reserve.
                self.run_count += 1;
                l.ends[i] = k - 1;
                if n < LEAF {
                    l.insert_at(i + 1, (k + 1, e));
                } else {
                    self.edit(k + 1, Edit::Insert((k + 1, e)));
                }
            }
        }
        true
    }

    /// Applies `edit` at key `at`, then fixes the root: a new root above a split one, or
    /// an inner root left with one child replaced by that child.
    fn edit(&mut self, at: u32, edit: Edit) {
        let root = match self.root {
            Some(r) => r,
            None => {
                let r = self.alloc_leaf();
                self.root = Some(r);
                r
            }
        };
        if let Some((min, right)) = self.edit_in(root, self.height, at, edit) {
            let top = self.alloc_inner();
            let left_min = self.min_of(root, self.height);
            let node = &mut self.inners[top as usize];
            node.len = 2;
            node.mins[..2].copy_from_slice(&[left_min, min]);
            node.kids[..2].copy_from_slice(&[root, right]);
            self.root = Some(top);
            self.height += 1;
        } else if self.height > 0 && self.inners[root as usize].len == 1 {
            self.root = Some(self.inners[root as usize].kids[0]);
            self.free_inner(root);
            self.height -= 1;
        }
    }

    /// Smallest start in the subtree of `node` at `height` (a non-empty one).
    fn min_of(&self, node: u32, height: u32) -> u32 {
        if height == 0 {
            self.leaves[node as usize].starts[0]
        } else {
            self.inners[node as usize].mins[0]
        }
    }

    fn edit_in(&mut self, node: u32, height: u32, at: u32, edit: Edit) -> Split {
        if height == 0 {
            return self.edit_leaf(node, at, edit);
        }
        let mut i = self.inners[node as usize].route(at);
        if height == 1 && matches!(edit, Edit::Insert(_)) && i > 0 && self.spills_left(node, i) {
            // A full leaf with room on its left: even the two out instead of splitting, so
            // that cookies pending in ascending order (a leaf that fills at its end) leave
            // full leaves behind rather than half-full ones.
            self.rebalance(node, i, 0);
            i = self.inners[node as usize].route(at);
        }
        let kid = self.inners[node as usize].kids[i];
        let split = self.edit_in(kid, height - 1, at, edit);
        // A child is never empty: only the root can lose its last run.
        let kid_len = self.len_of(kid, height - 1);
        self.inners[node as usize].mins[i] = self.min_of(kid, height - 1);
        if let Some((min, right)) = split {
            return self.inner_insert(node, i + 1, min, right);
        }
        if kid_len < half(height - 1) {
            self.rebalance(node, i, height - 1);
        }
        None
    }

    /// Whether leaf `i` of `node` is full and its left sibling has room for two runs.
    fn spills_left(&self, node: u32, i: usize) -> bool {
        let p = &self.inners[node as usize];
        let len = |k: usize| self.leaves[p.kids[k] as usize].len as usize;
        len(i) == LEAF && len(i - 1) + 2 <= LEAF
    }

    fn len_of(&self, node: u32, height: u32) -> usize {
        if height == 0 {
            self.leaves[node as usize].len as usize
        } else {
            self.inners[node as usize].len as usize
        }
    }

    fn edit_leaf(&mut self, leaf: u32, at: u32, edit: Edit) -> Split {
        let l = &mut self.leaves[leaf as usize];
        let n = l.len as usize;
        match edit {
            Edit::Insert(run) => {
                let i = l.rank(at);
                if n < LEAF {
                    l.insert_at(i, run);
                    return None;
                }
                let right = self.alloc_leaf();
                let (l, r) = two_leaves(&mut self.leaves, leaf, right);
                let keep = LEAF / 2;
                Leaf::copy(l, keep, r, 0, LEAF - keep);
                r.len = (LEAF - keep) as u32;
                l.len = keep as u32;
                l.pad();
                r.next = l.next;
                l.next = right;
                let right_min = r.starts[0];
                let target = if i <= keep { l } else { r };
                let i = if i <= keep { i } else { i - keep };
                target.insert_at(i, run);
                // An insert at the front of the right half cannot happen: `i <= keep`
                // goes left, so the right half's smallest start is unchanged.
                Some((right_min, right))
            }
            Edit::Delete => {
                let i = l.index_of(at);
                l.remove_at(i);
                None
            }
            Edit::SetStart(s) => {
                let i = l.index_of(at);
                l.starts[i] = s;
                None
            }
            Edit::SetEnd(e) => {
                let i = l.index_of(at);
                l.ends[i] = e;
                None
            }
        }
    }

    /// Inserts child `kid` with smallest start `min` at position `i` of inner `node`,
    /// splitting `node` if it is full.
    fn inner_insert(&mut self, node: u32, i: usize, min: u32, kid: u32) -> Split {
        let n = self.inners[node as usize].len as usize;
        if n < FANOUT {
            let p = &mut self.inners[node as usize];
            p.mins.copy_within(i..n, i + 1);
            p.kids.copy_within(i..n, i + 1);
            p.mins[i] = min;
            p.kids[i] = kid;
            p.len += 1;
            return None;
        }
        let right = self.alloc_inner();
        let (l, r) = two_inners(&mut self.inners, node, right);
        let keep = FANOUT / 2;
        r.mins[..FANOUT - keep].copy_from_slice(&l.mins[keep..]);
        r.kids[..FANOUT - keep].copy_from_slice(&l.kids[keep..]);
        r.len = (FANOUT - keep) as u32;
        l.len = keep as u32;
        l.pad();
        let right_min = r.mins[0];
        let (target, i) = if i <= keep { (l, i) } else { (r, i - keep) };
        let m = target.len as usize;
        target.mins.copy_within(i..m, i + 1);
        target.kids.copy_within(i..m, i + 1);
        target.mins[i] = min;
        target.kids[i] = kid;
        target.len += 1;
        Some((right_min, right))
    }

    /// Child `i` of `node` (at `height`) is below half full: take entries from a sibling,
    /// or merge with it when both fit in one node.
    fn rebalance(&mut self, node: u32, i: usize, height: u32) {
        let p = &self.inners[node as usize];
        let (a, b) = if i > 0 { (i - 1, i) } else { (i, i + 1) };
        let (left, right) = (p.kids[a], p.kids[b]);
        let total = self.len_of(left, height) + self.len_of(right, height);
        if total <= capacity(height) {
            if height == 0 {
                let (l, r) = two_leaves(&mut self.leaves, left, right);
                let (n, m) = (l.len as usize, r.len as usize);
                Leaf::copy(r, 0, l, n, m);
                l.len += m as u32;
                l.next = r.next;
                self.free_leaf(right);
            } else {
                let (l, r) = two_inners(&mut self.inners, left, right);
                let (n, m) = (l.len as usize, r.len as usize);
                l.mins[n..n + m].copy_from_slice(&r.mins[..m]);
                l.kids[n..n + m].copy_from_slice(&r.kids[..m]);
                l.len += m as u32;
                self.free_inner(right);
            }
            let p = &mut self.inners[node as usize];
            let n = p.len as usize;
            p.mins.copy_within(b + 1..n, b);
            p.kids.copy_within(b + 1..n, b);
            p.len -= 1;
            p.pad();
            return;
        }
        // Even the two out: the left keeps half (rounded down), the right the rest.
        let want = total / 2;
        if height == 0 {
            let (l, r) = two_leaves(&mut self.leaves, left, right);
            let n = l.len as usize;
            if n > want {
                let k = n - want;
                r.slide(0, k);
                Leaf::copy(l, want, r, 0, k);
            } else {
                let k = want - n;
                Leaf::copy(r, 0, l, n, k);
                r.slide(k, 0);
            }
            l.len = want as u32;
            r.len = (total - want) as u32;
            l.pad();
            r.pad();
        } else {
            let (l, r) = two_inners(&mut self.inners, left, right);
            let (n, m) = (l.len as usize, r.len as usize);
            if n > want {
                let k = n - want;
                r.mins.copy_within(..m, k);
                r.kids.copy_within(..m, k);
                r.mins[..k].copy_from_slice(&l.mins[want..n]);
                r.kids[..k].copy_from_slice(&l.kids[want..n]);
            } else {
                let k = want - n;
                l.mins[n..want].copy_from_slice(&r.mins[..k]);
                l.kids[n..want].copy_from_slice(&r.kids[..k]);
                r.mins.copy_within(k..m, 0);
                r.kids.copy_within(k..m, 0);
            }
            l.len = want as u32;
            r.len = (total - want) as u32;
            l.pad();
            r.pad();
        }
        let right_min = self.min_of(right, height);
        self.inners[node as usize].mins[b] = right_min;
    }

    /// A leaf from the free list, or a new one within the reserved capacity.
    fn alloc_leaf(&mut self) -> u32 {
        self.leaves_used += 1;
        if let Some(i) = self.free_leaf {
            let l = &mut self.leaves[i as usize];
            self.free_leaf = (l.next != NIL).then_some(l.next);
            l.next = NIL;
            return i;
        }
        debug_assert!(self.leaves.len() < self.leaves.capacity(), "leaf reserve");
        self.leaves.push(Leaf::EMPTY);
        (self.leaves.len() - 1) as u32
    }

    fn free_leaf(&mut self, i: u32) {
        self.leaves_used -= 1;
        let l = &mut self.leaves[i as usize];
        // A stale hint must never find a run in a free leaf.
        l.len = 0;
        l.pad();
        l.next = self.free_leaf.unwrap_or(NIL);
        self.free_leaf = Some(i);
    }

    fn alloc_inner(&mut self) -> u32 {
        self.inners_used += 1;
        if let Some(i) = self.free_inner {
            let n = &mut self.inners[i as usize];
            self.free_inner = (n.kids[0] != NIL).then_some(n.kids[0]);
            return i;
        }
        debug_assert!(self.inners.len() < self.inners.capacity(), "inner reserve");
        self.inners.push(Inner::EMPTY);
        (self.inners.len() - 1) as u32
    }

    fn free_inner(&mut self, i: u32) {
        self.inners_used -= 1;
        let n = &mut self.inners[i as usize];
        n.len = 0;
        n.pad();
        n.kids[0] = self.free_inner.unwrap_or(NIL);
        self.free_inner = Some(i);
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

    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let mut prev: Option<u32> = None;
        let mut len = 0usize;
        let mut count = 0usize;
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
            count += 1;
            prev = Some(e);
        }
        if len != self.len {
            return Err("cached length disagrees with the runs");
        }
        if count != self.run_count {
            return Err("cached run count disagrees with the runs");
        }
        if let Some(root) = self.root {
            let mut seen = Seen {
                leaves: 0,
                inners: 0,
                chain: self.leftmost(),
            };
            self.check_node(root, self.height, true, &mut seen)?;
            if seen.leaves != self.leaves_used || seen.inners != self.inners_used {
                return Err("node counts disagree with the tree");
            }
            if seen.chain != NIL {
                return Err("leaf chain and tree disagree");
            }
        }
        let (leaves, inners) = self.required();
        if self.leaves.capacity() < leaves || self.inners.capacity() < inners {
            return Err("reserve below what removals may need");
        }
        Ok(())
    }

    fn leftmost(&self) -> u32 {
        self.root.map_or(NIL, |mut node| {
            for _ in 0..self.height {
                node = self.inners[node as usize].kids[0];
            }
            node
        })
    }

    fn check_node(
        &self,
        node: u32,
        height: u32,
        root: bool,
        seen: &mut Seen,
    ) -> Result<(), &'static str> {
        let n = self.len_of(node, height);
        let too_few = if root {
            height > 0 && n < 2
        } else {
            n < half(height)
        };
        if too_few || n > capacity(height) {
            return Err("node below half full or over capacity");
        }
        let padded = if height == 0 {
            let l = &self.leaves[node as usize];
            l.starts[n..]
                .iter()
                .chain(&l.ends[n..])
                .all(|&s| s == u32::MAX)
        } else {
            self.inners[node as usize].mins[n..]
                .iter()
                .all(|&s| s == u32::MAX)
        };
        if !padded {
            return Err("a node's unused starts are not u32::MAX");
        }
        if height == 0 {
            if node != seen.chain {
                return Err("leaf chain and tree disagree");
            }
            seen.leaves += 1;
            seen.chain = self.leaves[node as usize].next;
            return Ok(());
        }
        seen.inners += 1;
        let p = &self.inners[node as usize];
        for i in 0..n {
            if p.mins[i] != self.min_of(p.kids[i], height - 1) {
                return Err("stale smallest start in an inner node");
            }
            self.check_node(p.kids[i], height - 1, false, seen)?;
        }
        Ok(())
    }
}

/// What `check_node` has met so far: node counts, and the leaf the chain says comes next.
struct Seen {
    leaves: usize,
    inners: usize,
    chain: u32,
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

/// Two distinct leaves, mutably.
fn two_leaves(v: &mut [Leaf], a: u32, b: u32) -> (&mut Leaf, &mut Leaf) {
    two(v, a as usize, b as usize)
}

fn two_inners(v: &mut [Inner], a: u32, b: u32) -> (&mut Inner, &mut Inner) {
    two(v, a as usize, b as usize)
}

fn two<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    debug_assert_ne!(a, b);
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}

#[cfg(test)]
mod tests;
