//! Under `cfg(test)` a leaf holds 8 runs and an inner node 10 children, so a few dozen
//! values already make a tree three or four levels deep: these tests split, merge and
//! rebalance nodes at every level. `check` is the oracle the model checks and proptests
//! trust: each broken shape must be named, and every well-formed set must pass.

use super::arena::grow;
use super::*;
use alloc::collections::BTreeSet;
use alloc::vec;

/// The runs of a plain set, for comparison.
fn runs_of(model: &BTreeSet<u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &k in model {
        match out.last_mut() {
            Some((_, e)) if *e + 1 == k => *e = k,
            _ => out.push((k, k)),
        }
    }
    out
}

/// xorshift64*: a fixed, seedable stream, so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as u32 % n
    }
}

/// Every query agrees with the plain set at every key of `0..=hi` and just past it.
fn agrees(r: &Runs, model: &BTreeSet<u32>, hi: u32) {
    assert_eq!(r.check(), Ok(()));
    assert_eq!(r.len(), model.len());
    let runs = runs_of(model);
    assert_eq!(r.iter_runs().collect::<Vec<_>>(), runs);
    for k in 0..=hi + 1 {
        assert_eq!(r.contains(k), model.contains(&k), "contains({k})");
        assert_eq!(
            r.first_at_or_after(k),
            model.range(k..).next().copied(),
            "first_at_or_after({k})"
        );
        let run = runs.iter().copied().find(|&(s, e)| s <= k && k <= e);
        assert_eq!(r.run_of(k), run, "run_of({k})");
        let at = runs.iter().position(|&(s, _)| s == k);
        let want = at.map(|i| (runs[i].1, runs.get(i + 1).map(|&(s, _)| s)));
        for hint in [0, 1, 5, 17, usize::MAX] {
            let got = r.run_starting_at(k, hint).map(|(e, n, _)| (e, n));
            assert_eq!(got, want, "run_starting_at({k}, {hint})");
        }
    }
}

#[test]
fn random_inserts_and_removals_agree_with_a_plain_set_through_splits_and_merges() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let hi = 20 + rng.below(180);
        let (mut r, mut model) = (Runs::default(), BTreeSet::new());
        for _ in 0..600 {
            let k = 1 + rng.below(hi);
            if rng.below(3) == 0 {
                assert_eq!(r.remove(k), model.remove(&k), "remove({k})");
            } else {
                assert_eq!(r.insert(k), Ok(model.insert(k)), "insert({k})");
            }
            assert_eq!(r.check(), Ok(()), "seed {seed} after {k}");
        }
        agrees(&r, &model, hi);
        // Empty it in random order: merges all the way back to a single leaf.
        let mut left: Vec<u32> = model.iter().copied().collect();
        while !left.is_empty() {
            let k = left.swap_remove(rng.below(left.len() as u32) as usize);
            assert!(r.remove(k));
            model.remove(&k);
            assert_eq!(r.check(), Ok(()));
        }
        agrees(&r, &model, hi);
        assert_eq!(r.height, 0);
    }
}

#[test]
fn a_deep_tree_under_random_edits_stays_valid_at_every_step() {
    // Three or four levels: inner nodes whose arena slots coincide with leaves' slots,
    // so an edit that took one kind of node for the other would break `check`.
    for seed in 1..=4u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let (mut r, mut model) = (Runs::default(), BTreeSet::new());
        for _ in 0..4000 {
            let k = 1 + rng.below(3000);
            if rng.below(4) == 0 {
                assert_eq!(r.remove(k), model.remove(&k), "remove({k})");
            } else {
                assert_eq!(r.insert(k), Ok(model.insert(k)), "insert({k})");
            }
            assert_eq!(r.check(), Ok(()), "seed {seed} after {k}");
        }
        assert!(r.height >= 2, "height {}", r.height);
        assert_eq!(r.iter_runs().collect::<Vec<_>>(), runs_of(&model));
    }
}

#[test]
fn the_tree_grows_and_shrinks_in_height_and_stays_balanced() {
    let mut r = Runs::default();
    // 1,000 one-value runs: over 125 leaves, so three levels of inner nodes.
    for k in (1..=2000).step_by(2) {
        assert_eq!(r.insert(k), Ok(true));
    }
    assert!(r.height >= 3, "height {}", r.height);
    assert_eq!(r.check(), Ok(()));
    // Filling every gap joins all runs into one.
    for k in (2..2000).step_by(2) {
        assert_eq!(r.insert(k), Ok(true));
        assert_eq!(r.check(), Ok(()));
    }
    assert_eq!(r.iter_runs().collect::<Vec<_>>(), [(1, 1999)]);
    assert_eq!(r.height, 0);
}

#[test]
fn removals_never_grow_the_arenas_whatever_they_split() {
    for order in 0..3u64 {
        let mut r = Runs::default();
        for k in 1..=301 {
            r.insert(k).unwrap();
        }
        let caps = (r.leaves.capacity(), r.inners.capacity());
        let ptrs = (r.leaves.as_ptr(), r.inners.as_ptr());
        // Every second value first (the most runs removals can make: 151 of one value),
        // then the rest in an order that merges and splits nodes along the way.
        let mut ks: Vec<u32> = (2..=300).step_by(2).collect();
        let mut rest: Vec<u32> = (1..=301).step_by(2).collect();
        let mut rng = Rng(order + 7);
        while !rest.is_empty() {
            ks.push(rest.swap_remove(rng.below(rest.len() as u32) as usize));
        }
        let last = ks.pop().unwrap();
        for k in ks {
            assert!(r.remove(k));
            assert_eq!(r.check(), Ok(()));
            assert_eq!((r.leaves.capacity(), r.inners.capacity()), caps);
            assert_eq!(
                (r.leaves.as_ptr(), r.inners.as_ptr()),
                ptrs,
                "no reallocation"
            );
        }
        // The removal that empties the set only frees the arenas.
        assert!(r.remove(last));
        assert_eq!(r.len(), 0);
        assert_eq!((r.leaves.capacity(), r.inners.capacity()), (0, 0));
    }
}

#[test]
fn a_run_reserves_for_the_runs_its_removals_can_make_and_a_scattered_set_for_none() {
    let mut run = Runs::default();
    for k in 1..=400 {
        run.insert(k).unwrap();
    }
    // 400 values in one run: removals reach at most 200 runs, 50 leaves of 8 half full.
    assert_eq!(run.required().0, 50);
    let mut scattered = Runs::default();
    for k in (1..=800).step_by(2) {
        scattered.insert(k).unwrap();
    }
    // 400 one-value runs: removals cannot add a run, so no leaf beyond those in use.
    assert_eq!(scattered.required().0, scattered.leaves_used);
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
    let (end, next, hint) = r.run_starting_at(1, 0).unwrap();
    assert_eq!((end, next), (5, Some(u32::MAX)));
    // The hint returned leads to the next run without a search, and answers the same.
    assert_eq!(r.run_starting_at(u32::MAX, hint), Some((u32::MAX, None, 0)));
    assert_eq!(r.run_starting_at(2, 0), None);
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
fn a_stale_hint_into_a_freed_leaf_finds_nothing_there() {
    let mut r = Runs::default();
    for k in (1..=40).step_by(2) {
        r.insert(k).unwrap();
    }
    let hints: Vec<usize> = (0..r.leaves.len() * LEAF).collect();
    for k in (1..=37).step_by(2) {
        assert!(r.remove(k));
    }
    // Only 39 is left; every hint, into live or freed leaves, gives the true answer.
    for &h in &hints {
        assert_eq!(
            r.run_starting_at(39, h).map(|(e, n, _)| (e, n)),
            Some((39, None))
        );
        assert_eq!(r.run_starting_at(1, h), None);
    }
}

#[test]
fn a_clone_keeps_the_reserve() {
    let mut r = Runs::default();
    for k in 1..=100 {
        r.insert(k).unwrap();
    }
    let c = r.clone();
    assert!(c.leaves.capacity() >= c.required().0);
    assert_eq!(c.check(), Ok(()));
    assert_eq!(alloc::format!("{c:?}"), "[(1, 100)]");
}

/// A tree built by inserts, then broken by hand.
fn built(ks: impl IntoIterator<Item = u32>) -> Runs {
    let mut r = Runs::default();
    for k in ks {
        r.insert(k).unwrap();
    }
    assert_eq!(r.check(), Ok(()));
    r
}

#[test]
fn check_rejects_a_run_whose_start_is_above_its_end() {
    let mut r = built([5]);
    r.leaves[0].ends[0] = 3;
    assert_eq!(r.check(), Err("run with start > end"));
}

#[test]
fn check_rejects_touching_and_overlapping_runs() {
    let mut r = built([1, 2, 3, 5, 6]);
    (r.leaves[0].starts[1], r.leaves[0].ends[1]) = (4, 6);
    assert_eq!(r.check(), Err("runs overlap or touch"));
    (r.leaves[0].starts[1], r.leaves[0].ends[1]) = (3, 6);
    assert_eq!(r.check(), Err("runs overlap or touch"));
}

#[test]
fn check_rejects_cached_counts_that_disagree_with_the_runs() {
    let mut r = built([1, 2, 3, 7]);
    r.len = 3;
    assert_eq!(r.check(), Err("cached length disagrees with the runs"));
    r.len = 4;
    r.run_count = 1;
    assert_eq!(r.check(), Err("cached run count disagrees with the runs"));
}

#[test]
fn check_rejects_an_underfull_or_overfull_node() {
    let mut r = built((1..=40).step_by(2));
    assert!(r.height > 0);
    let leaf = r.leftmost() as usize;
    // Dropping runs from a leaf by hand (the counts kept true) leaves it below half.
    let mut under = r.clone();
    under.leaves[leaf].len = 1;
    under.len = under.iter_runs().count();
    under.run_count = under.len;
    assert_eq!(
        under.check().err(),
        Some("node below half full or over capacity")
    );
    r.height = 0;
    assert!(r.check().is_err());
}

#[test]
fn check_rejects_a_root_inner_node_with_one_child() {
    // A root inner node left with one child must have been replaced by that child (here
    // a leaf at least half full, so that only the root is wrong).
    let mut r = built([1, 3, 5, 7, 9]);
    assert_eq!(r.height, 0);
    let leaf = r.root.unwrap();
    let mut top = Inner::EMPTY;
    top.len = 1;
    top.mins[0] = 1;
    top.kids[0] = leaf;
    r.inners.push(top);
    r.root = Some(r.inners.len() as u32 - 1);
    r.height = 1;
    r.inners_used = 1;
    assert_eq!(r.check(), Err("node below half full or over capacity"));
}

#[test]
fn check_rejects_a_stale_smallest_start_and_a_broken_leaf_chain() {
    let mut r = built((1..=40).step_by(2));
    let root = r.root.unwrap() as usize;
    let mut stale = r.clone();
    stale.inners[root].mins[1] -= 1;
    assert_eq!(stale.check(), Err("stale smallest start in an inner node"));
    let leaf = r.leftmost() as usize;
    r.leaves[leaf].next = NIL;
    assert_eq!(r.check(), Err("cached length disagrees with the runs"));
}

#[test]
fn check_rejects_a_stale_start_past_a_nodes_live_entries() {
    let r = built((1..=40).step_by(2));
    let leaf = (0..r.leaves.len())
        .find(|&i| (1..LEAF).contains(&(r.leaves[i].len as usize)))
        .expect("a leaf with room");
    let n = r.leaves[leaf].len as usize;
    for end in [false, true] {
        let mut stale = r.clone();
        if end {
            stale.leaves[leaf].ends[n] = 0;
        } else {
            stale.leaves[leaf].starts[n] = 0;
        }
        assert_eq!(
            stale.check(),
            Err("a node's unused starts are not u32::MAX")
        );
    }
    let mut stale = r.clone();
    let inner = (0..r.inners.len())
        .find(|&i| (2..FANOUT).contains(&(r.inners[i].len as usize)))
        .expect("an inner node with room");
    let n = r.inners[inner].len as usize;
    stale.inners[inner].mins[n] = 7;
    assert_eq!(
        stale.check(),
        Err("a node's unused starts are not u32::MAX")
    );
}

#[test]
fn check_rejects_node_counts_that_disagree_with_the_tree() {
    let mut r = built((1..=40).step_by(2));
    r.leaves_used += 1;
    assert_eq!(r.check(), Err("node counts disagree with the tree"));
    r.leaves_used -= 1;
    r.inners_used += 1;
    assert_eq!(r.check(), Err("node counts disagree with the tree"));
}

#[test]
fn check_rejects_a_reserve_smaller_than_removals_may_need() {
    // A run of 40: removals can make 20 runs, 10 leaves; a tree with the storage of
    // one leaf would have to allocate on the way.
    let mut r = built(1..=40);
    r.leaves = vec![r.leaves[0].clone()];
    r.leaves.shrink_to_fit();
    assert_eq!(r.check(), Err("reserve below what removals may need"));
}

#[test]
fn required_counts_follow_the_reserve_rule() {
    // Nothing pending: nothing needed beyond what exists.
    assert_eq!(leaves_required(0, 0, 1), 1);
    // Scattered: no more runs reachable, so the leaves in use.
    assert_eq!(leaves_required(10, 10, 4), 4);
    // A run of 17: ⌊16/2⌋ = 8 more runs at most, 9 runs in half-full leaves of 8: 2 leaves.
    assert_eq!(leaves_required(17, 1, 1), 2);
    // Bounded by one new leaf per added run when that is fewer (22 < 2·98/8 = 24).
    assert_eq!(leaves_required(100, 96, 20), 22);
    // FANOUT is 10 under cfg(test): at least 5 children, at most leaves / 4 below the root.
    assert_eq!(inners_required(1, FANOUT), 0);
    assert_eq!(inners_required(2, FANOUT), 1);
    assert_eq!(inners_required(10, FANOUT), 3);
    // The real fanout, 64: at least 32 children, at most leaves / 31 below the root.
    assert_eq!(inners_required(1000, 64), 33);
    assert_eq!(inners_required(31, 64), 2);
}

#[test]
fn the_hint_returned_is_where_the_next_run_is() {
    let r = built((1..=60).step_by(3));
    let runs: Vec<(u32, u32)> = r.iter_runs().collect();
    for w in runs.windows(2) {
        let (_, next, hint) = r.run_starting_at(w[0].0, 0).unwrap();
        assert_eq!(next, Some(w[1].0));
        let leaf = &r.leaves[hint / LEAF];
        assert!(hint % LEAF < leaf.len as usize);
        assert_eq!(leaf.starts[hint % LEAF], w[1].0, "hint {hint}");
    }
}

#[test]
fn a_hint_into_unused_slots_never_finds_u32_max_there() {
    // Unused starts hold u32::MAX; only a live run may answer for it.
    let r = built([1, 3, 5]);
    for hint in 0..LEAF {
        assert_eq!(r.run_starting_at(u32::MAX, hint), None);
    }
    let r = built([1, 3, u32::MAX]);
    for hint in 0..LEAF {
        let got = r.run_starting_at(u32::MAX, hint).map(|(e, n, _)| (e, n));
        assert_eq!(got, Some((u32::MAX, None)));
    }
}

#[test]
fn runs_added_in_descending_order_split_and_spill_at_the_front() {
    // Every new run lands at the front of the first leaf: the leftmost path, where a
    // full leaf has no left sibling to spill into.
    let r = built((1..=600).rev().step_by(2));
    assert_eq!(r.run_count, 300);
    assert!(r.height >= 2);
    let runs: Vec<(u32, u32)> = r.iter_runs().collect();
    assert_eq!(runs.first(), Some(&(2, 2)));
    assert_eq!(runs.len(), 300);
}

#[test]
fn runs_added_in_ascending_order_leave_leaves_more_than_three_quarters_full() {
    // Each new run lands at the end of the last leaf; splitting it in halves every time
    // would leave every leaf half full. A full leaf first spills into its left sibling.
    let r = built((1..=2000).step_by(2));
    assert_eq!(r.run_count, 1000);
    assert!(
        r.leaves_used * LEAF * 3 <= r.run_count * 4,
        "{} leaves of {LEAF} for {} runs",
        r.leaves_used,
        r.run_count
    );
}

#[test]
fn the_arenas_grow_by_an_eighth_or_to_what_is_needed() {
    let mut v: Vec<u8> = Vec::new();
    // From nothing: what is needed, or the minimum step of 4.
    assert_eq!(grow(&mut v, 2), Ok(()));
    assert_eq!(v.capacity(), 4);
    assert_eq!(grow(&mut v, 3), Ok(()));
    assert_eq!(v.capacity(), 4, "enough room: no growth");
    // A step of an eighth (and 4) when that is more than needed...
    let mut v: Vec<u8> = Vec::with_capacity(800);
    assert_eq!(grow(&mut v, 801), Ok(()));
    assert_eq!(v.capacity(), 904);
    // ...and what is needed when that is more.
    assert_eq!(grow(&mut v, 2000), Ok(()));
    assert_eq!(v.capacity(), 2000);
    v.extend(core::iter::repeat_n(0, 1500));
    assert_eq!(grow(&mut v, 2001), Ok(()));
    assert_eq!(v.capacity(), 2254);
}

#[test]
fn at_or_below_counts_like_a_partition_point_for_every_length_and_key() {
    fn check<const N: usize>() {
        for n in 0..=N {
            // Sorted with repeats, padded with `u32::MAX`; keys between and on them.
            let mut v = [u32::MAX; N];
            for (i, x) in v[..n].iter_mut().enumerate() {
                *x = 2 * (i as u32 / 2) + 1;
            }
            for k in (0..=2 * N as u32 + 2).chain([u32::MAX - 1, u32::MAX]) {
                let want = v.partition_point(|&x| x <= k);
                assert_eq!(super::leaf::at_or_below(&v, k), want, "N {N} n {n} k {k}");
                let live = v[..n].partition_point(|&x| x <= k);
                assert_eq!(super::leaf::rank_in(&v, n, k), live, "N {N} n {n} k {k}");
            }
        }
    }
    check::<0>();
    check::<1>();
    check::<2>();
    check::<3>();
    check::<4>();
    check::<5>();
    check::<7>();
    check::<8>();
    check::<10>();
    check::<13>();
    check::<16>();
    check::<64>();
}

/// The shrink bound that holds after every insert: each arena holds at most twice what
/// removals from the current set may need, plus `SLACK` nodes.
fn assert_shrink_bound(r: &Runs) {
    let (leaves, inners) = r.required();
    assert!(
        r.leaves.capacity() <= 2 * leaves + super::arena::SLACK
            && r.inners.capacity() <= 2 * inners + super::arena::SLACK,
        "capacities ({}, {}) for required ({leaves}, {inners})",
        r.leaves.capacity(),
        r.inners.capacity()
    );
}

#[test]
fn after_a_burst_the_next_insert_gives_the_arenas_back_down_to_the_shrink_bound() {
    let mut rng = Rng(0x5eed_0001);
    let mut model = BTreeSet::new();
    let mut r = Runs::default();
    for _ in 0..3000 {
        let k = 2 * rng.below(100_000);
        r.insert(k).unwrap();
        model.insert(k);
    }
    let burst = r.leaves.capacity();
    // The burst is over: all but 20 replies arrive. Removals give nothing back...
    let keep: Vec<u32> = model.iter().copied().step_by(model.len() / 20).collect();
    for k in model.clone() {
        if !keep.contains(&k) {
            assert!(r.remove(k));
            model.remove(&k);
        }
    }
    assert_eq!(r.leaves.capacity(), burst, "a removal never reallocates");
    // ...the next insert does, and the set and the tree are as they were.
    r.insert(1).unwrap();
    model.insert(1);
    r.check().unwrap();
    assert_shrink_bound(&r);
    assert!(
        r.leaves.capacity() * 10 < burst,
        "{} of {burst}",
        r.leaves.capacity()
    );
    assert_eq!(r.iter_runs().collect::<Vec<_>>(), runs_of(&model));
    // Leaves were copied in key order, so the chain is the arena's order.
    let chain: Vec<u32> = (1..r.leaves_used as u32).chain([NIL]).collect();
    let mut leaf = r.leftmost();
    for want in chain {
        leaf = r.leaves[leaf as usize].next;
        assert_eq!(leaf, want);
    }
}

#[test]
fn the_shrink_bound_holds_after_every_insert_of_random_bursts() {
    let mut rng = Rng(0x5eed_0002);
    let mut model = BTreeSet::new();
    let mut r = Runs::default();
    for round in 0..40 {
        // Bursts of inserts and of removals of varying size, over runs and scattered values.
        let inserts = rng.below(400) + 1;
        for _ in 0..inserts {
            let k = if round % 2 == 0 {
                rng.below(500)
            } else {
                rng.below(50_000)
            };
            assert_eq!(r.insert(k).unwrap(), model.insert(k));
            r.check().unwrap();
            assert_shrink_bound(&r);
        }
        let removals = rng.below(model.len() as u32 + 1);
        for _ in 0..removals {
            let k = *model
                .iter()
                .nth(rng.below(model.len() as u32) as usize)
                .unwrap();
            assert!(r.remove(k));
            model.remove(&k);
            r.check().unwrap();
        }
        assert_eq!(r.iter_runs().collect::<Vec<_>>(), runs_of(&model));
    }
}

#[test]
fn the_removal_that_empties_a_large_set_frees_its_arenas_and_a_small_one_keeps_them() {
    let mut r = built((1..=2000).step_by(2));
    assert!(r.leaves.capacity() > super::arena::SLACK);
    for k in (1..=2000).step_by(2) {
        assert!(r.remove(k));
    }
    assert_eq!((r.leaves.capacity(), r.inners.capacity()), (0, 0));
    r.check().unwrap();
    assert_eq!(r.len(), 0);
    // One call coming and going keeps its one leaf.
    r.insert(7).unwrap();
    let small = r.leaves.capacity();
    assert!(r.remove(7));
    assert_eq!(r.leaves.capacity(), small);
    assert!(small > 0);
    r.insert(9).unwrap();
    assert_eq!(r.iter_runs().collect::<Vec<_>>(), vec![(9, 9)]);
}

#[test]
fn churn_just_below_the_shrink_bound_compacts_once_not_every_insert() {
    // A set that keeps its size: after one compaction, inserts and removals that keep the
    // required count steady must not copy the arenas again.
    let mut r = built((1..=4000).step_by(2));
    for k in (1..=3600).step_by(2) {
        assert!(r.remove(k));
    }
    r.insert(10_001).unwrap();
    let compacted = r.leaves.as_ptr();
    for i in 0..2000u32 {
        r.insert(20_001 + 2 * i).unwrap();
        assert!(r.remove(20_001 + 2 * i));
    }
    assert_eq!(r.leaves.as_ptr(), compacted, "the arenas were copied again");
    r.check().unwrap();
}

#[test]
fn an_arena_is_oversized_from_twice_the_need_plus_slack_and_one() {
    use super::arena::{oversized, SLACK};
    for need in [0, 1, 7, 100, 12_345] {
        assert!(!oversized(2 * need + SLACK, need), "need {need}");
        assert!(oversized(2 * need + SLACK + 1, need), "need {need}");
    }
}

#[test]
fn the_removal_that_empties_the_set_frees_arenas_above_slack_leaves_only() {
    use super::arena::SLACK;
    for (capacity, freed) in [(SLACK, false), (SLACK + 1, true)] {
        let mut r = built([7]);
        let len = r.leaves.len();
        r.leaves.reserve_exact(capacity - len);
        assert_eq!(r.leaves.capacity(), capacity);
        assert!(r.remove(7));
        let want = if freed { 0 } else { capacity };
        assert_eq!(r.leaves.capacity(), want, "capacity {capacity}");
        r.check().unwrap();
    }
}

#[test]
fn a_compaction_sizes_both_arenas_an_eighth_above_what_removals_need() {
    let mut r = Runs::default();
    for k in (1..=4001).step_by(2) {
        r.insert(k).unwrap();
    }
    for k in (1..=3801).step_by(2) {
        assert!(r.remove(k));
    }
    r.compact().unwrap();
    let (leaves, inners) = r.required();
    assert_eq!(
        (r.leaves.capacity(), r.inners.capacity()),
        (
            super::arena::compacted(leaves),
            super::arena::compacted(inners)
        )
    );
    assert_eq!(r.leaves.len(), r.leaves_used);
    assert_eq!(r.inners.len(), r.inners_used);
    r.check().unwrap();
}
