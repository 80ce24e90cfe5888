//! Changes to the set: insert and remove, the edit of one leaf they route to, and the
//! splits, merges and rebalancing that keep every node but the root at least half full.

use super::arena::{grow, oversized, SLACK};
use super::inner::Inner;
use super::leaf::Leaf;
use super::{
    capacity, half, inners_required, leaves_required, Edit, OutOfMemory, Runs, Split, FANOUT, LEAF,
};

impl Runs {
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
        let inners = inners_required(leaves, FANOUT);
        if (oversized(self.leaves.capacity(), leaves) || oversized(self.inners.capacity(), inners))
            && self.compact().is_ok()
        {
            // The set is unchanged and the nodes moved: route again. The arenas now hold
            // about what the set requires, so this does not come back here.
            return self.insert(k);
        }
        grow(&mut self.leaves, leaves)?;
        grow(&mut self.inners, inners)?;
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
    pub(super) fn keeps_min(&self, i: usize) -> bool {
        i > 0 || self.height == 0
    }

    /// Whether `leaf` can lose a run without falling below half full.
    pub(super) fn can_shrink(&self, leaf: u32) -> bool {
        self.height == 0 || self.leaves[leaf as usize].len as usize > LEAF / 2
    }

    /// The insert of `k` done inside the leaf that `locate` found, at `rank`, when that
    /// needs no split, no merge and no change of a smallest start: the common case, one
    /// walk from the root instead of two. False (nothing done) otherwise.
    pub(super) fn insert_in_leaf(
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
    /// Inlined up to the lookup, so that asking an empty set (the quarantine, almost
    /// always) costs a load and a branch rather than a call.
    #[inline]
    pub(crate) fn remove(&mut self, k: u32) -> bool {
        match self.find(k) {
            Some((leaf, rank, true)) => {
                self.remove_found(leaf, rank - 1, k);
                true
            }
            _ => false,
        }
    }

    /// Removes `k`, found in run `i` of `leaf`.
    fn remove_found(&mut self, leaf: u32, i: usize, k: u32) {
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
                if self.len == 0 && self.leaves.capacity() > SLACK {
                    // The burst is over: give the arenas back (a deallocation, which
                    // cannot fail). Small arenas stay, so that one call coming and going
                    // does not allocate.
                    *self = Runs::default();
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
    }

    /// Applies `edit` at key `at`, then fixes the root: a new root above a split one, or
    /// an inner root left with one child replaced by that child.
    pub(super) fn edit(&mut self, at: u32, edit: Edit) {
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
    pub(super) fn min_of(&self, node: u32, height: u32) -> u32 {
        if height == 0 {
            self.leaves[node as usize].starts[0]
        } else {
            self.inners[node as usize].mins[0]
        }
    }

    pub(super) fn edit_in(&mut self, node: u32, height: u32, at: u32, edit: Edit) -> Split {
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
    pub(super) fn spills_left(&self, node: u32, i: usize) -> bool {
        let p = &self.inners[node as usize];
        let len = |k: usize| self.leaves[p.kids[k] as usize].len as usize;
        len(i) == LEAF && len(i - 1) + 2 <= LEAF
    }

    pub(super) fn len_of(&self, node: u32, height: u32) -> usize {
        if height == 0 {
            self.leaves[node as usize].len as usize
        } else {
            self.inners[node as usize].len as usize
        }
    }

    pub(super) fn edit_leaf(&mut self, leaf: u32, at: u32, edit: Edit) -> Split {
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
    pub(super) fn inner_insert(&mut self, node: u32, i: usize, min: u32, kid: u32) -> Split {
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
    pub(super) fn rebalance(&mut self, node: u32, i: usize, height: u32) {
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
}

/// Two distinct leaves, mutably.
pub(super) fn two_leaves(v: &mut [Leaf], a: u32, b: u32) -> (&mut Leaf, &mut Leaf) {
    two(v, a as usize, b as usize)
}

pub(super) fn two_inners(v: &mut [Inner], a: u32, b: u32) -> (&mut Inner, &mut Inner) {
    two(v, a as usize, b as usize)
}

pub(super) fn two<T>(v: &mut [T], a: usize, b: usize) -> (&mut T, &mut T) {
    debug_assert_ne!(a, b);
    if a < b {
        let (x, y) = v.split_at_mut(b);
        (&mut x[a], &mut y[0])
    } else {
        let (x, y) = v.split_at_mut(a);
        (&mut y[0], &mut x[b])
    }
}
