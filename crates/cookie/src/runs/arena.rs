//! The two arenas' free lists and their growth, which only an insert asks for.

use alloc::vec::Vec;

use super::inner::Inner;
use super::leaf::Leaf;
use super::{OutOfMemory, Runs, NIL};

impl Runs {
    /// A leaf from the free list, or a new one within the reserved capacity.
    pub(super) fn alloc_leaf(&mut self) -> u32 {
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

    pub(super) fn free_leaf(&mut self, i: u32) {
        self.leaves_used -= 1;
        let l = &mut self.leaves[i as usize];
        // A stale hint must never find a run in a free leaf.
        l.len = 0;
        l.pad();
        l.next = self.free_leaf.unwrap_or(NIL);
        self.free_leaf = Some(i);
    }

    pub(super) fn alloc_inner(&mut self) -> u32 {
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

    pub(super) fn free_inner(&mut self, i: u32) {
        self.inners_used -= 1;
        let n = &mut self.inners[i as usize];
        n.len = 0;
        n.pad();
        n.kids[0] = self.free_inner.unwrap_or(NIL);
        self.free_inner = Some(i);
    }
}

/// Grows `v`'s capacity to at least `need`, by at least an eighth so that growth is
/// amortized O(1) while no more than about an eighth of the capacity is ever unused.
pub(super) fn grow<T>(v: &mut Vec<T>, need: usize) -> Result<(), OutOfMemory> {
    if v.capacity() >= need {
        return Ok(());
    }
    let step = need.max(target(v.capacity()));
    v.try_reserve_exact(step - v.len()).map_err(|_| OutOfMemory)
}

/// Nodes an arena may hold beyond twice what the set requires before an insert gives the
/// rest back: with the factor two, the set must lose about half its reserve after a
/// compaction before the next one, so churn at any size does not compact over and over.
pub(super) const SLACK: usize = 16;

/// Whether an arena of `capacity` nodes holds more than the shrink bound allows for a
/// set that requires `need`.
pub(super) fn oversized(capacity: usize, need: usize) -> bool {
    capacity > 2 * need + SLACK
}

/// The capacity a growth aims at for `need` nodes: an eighth more, and at least 4 more so
/// that a small set does not grow one node at a time.
pub(super) fn target(need: usize) -> usize {
    need + need / 8 + 4
}

/// The capacity a compaction leaves for `need` nodes: an eighth more, so that the next
/// inserts do not grow it at once; without the growth step's 4, which in a set of a few
/// hundred cookies left after a burst would be 2 KiB of the few it keeps.
pub(super) fn compacted(need: usize) -> usize {
    need + need / 8
}

impl Runs {
    /// Copies the live nodes into arenas sized for [`Runs::required`] plus an eighth,
    /// leaves in key order, and frees the old ones. Only an insert calls it, before it
    /// changes the set; the copy's allocation is fallible and on failure nothing changes.
    /// O(nodes), paid for by the removals that emptied the old arenas.
    pub(super) fn compact(&mut self) -> Result<(), OutOfMemory> {
        let (need_leaves, need_inners) = self.required();
        let mut leaves = Vec::new();
        leaves
            .try_reserve_exact(compacted(need_leaves))
            .map_err(|_| OutOfMemory)?;
        let mut inners = Vec::new();
        inners
            .try_reserve_exact(compacted(need_inners))
            .map_err(|_| OutOfMemory)?;
        if let Some(root) = self.root {
            let root = self.copy_node(root, self.height, &mut leaves, &mut inners);
            self.root = Some(root);
        }
        // Leaves went in in key order, so each one's right neighbour is the next index.
        let n = leaves.len();
        for (i, l) in leaves.iter_mut().enumerate() {
            l.next = if i + 1 < n { (i + 1) as u32 } else { NIL };
        }
        self.leaves = leaves;
        self.inners = inners;
        self.free_leaf = None;
        self.free_inner = None;
        Ok(())
    }

    /// Copies the subtree of `node` at `height` into the new arenas, depth first; returns
    /// the new index of `node`. The recursion is as deep as the tree.
    fn copy_node(
        &self,
        node: u32,
        height: u32,
        leaves: &mut Vec<Leaf>,
        inners: &mut Vec<Inner>,
    ) -> u32 {
        if height == 0 {
            leaves.push(self.leaves[node as usize].clone());
            return (leaves.len() - 1) as u32;
        }
        let mut copy = self.inners[node as usize].clone();
        for kid in &mut copy.kids[..copy.len as usize] {
            *kid = self.copy_node(*kid, height - 1, leaves, inners);
        }
        inners.push(copy);
        (inners.len() - 1) as u32
    }
}
