//! The invariant check every test runs after every change: ordering, disjoint runs, the
//! tree's shape and fill, the routing minimums, the leaf chain and the reserve.

use super::{capacity, half, Runs, NIL};

impl Runs {
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

    pub(super) fn leftmost(&self) -> u32 {
        self.root.map_or(NIL, |mut node| {
            for _ in 0..self.height {
                node = self.inners[node as usize].kids[0];
            }
            node
        })
    }

    pub(super) fn check_node(
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
pub(super) struct Seen {
    leaves: usize,
    inners: usize,
    chain: u32,
}
