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
    let step = need.max(v.capacity() + v.capacity() / 8 + 4);
    v.try_reserve_exact(step - v.len()).map_err(|_| OutOfMemory)
}
