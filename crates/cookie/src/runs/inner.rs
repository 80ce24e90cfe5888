//! An inner node of the tree: up to [`FANOUT`] children and the smallest start in each.

use super::{FANOUT, NIL};

#[derive(Clone)]
pub(super) struct Inner {
    pub(super) len: u32,
    /// `mins[i]` is the smallest start in `kids[i]`'s subtree, `u32::MAX` from `len` on;
    /// while this node is free, `kids[0]` is the next free inner node.
    pub(super) mins: [u32; FANOUT],
    pub(super) kids: [u32; FANOUT],
}

impl Inner {
    pub(super) const EMPTY: Inner = Inner {
        len: 0,
        mins: [u32::MAX; FANOUT],
        kids: [NIL; FANOUT],
    };

    /// The child whose subtree holds the last run starting at or before `k` (the first
    /// child if there is none).
    pub(super) fn route(&self, k: u32) -> usize {
        // Counting `mins[0]` too: it is at or below `k` unless `k` sorts before every run,
        // and then child 0 is the answer anyway.
        super::leaf::rank_in(&self.mins, self.len as usize, k).saturating_sub(1)
    }

    /// Restores the padding after `len` went down.
    pub(super) fn pad(&mut self) {
        self.mins[self.len as usize..].fill(u32::MAX);
    }
}
