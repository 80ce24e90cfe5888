//! The worst single operation, ours vs the C model: among 1,000,000 scattered pending
//! cookies inserted in random order (counter at `0x80000000`), and then removed in another
//! random order, the slowest insert and the slowest removal (max), and the thousandth
//! slowest of each (p99.9), every operation timed on its own.
//!
//! A repetition builds and empties one set on each side, ours and the C model alternating
//! (ABBA); each row is the median over the repetitions of the per-repetition ratio
//! ours/reference, with its IQR, printed like every other group's ratios. The clock read
//! around each operation (about 20 ns here) is in both sides alike, so the medians of
//! single operations are only indicative; the tails are what this group is for.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use sdbus_cookie::Allocator;
use sdbus_cookie_benches::measure::{paired_wanted, quick_mode, Paired, Target};
use sdbus_cookie_benches::scenario::{self, State, CYCLED};
use sdbus_cookie_benches::{print_group_ratios, Row};
use sdbus_cookie_upstream::UpstreamV242;

const GROUP: &str = "latency_1000000";

/// Per-operation times of one repetition, in ns, sorted.
struct Times {
    insert: Vec<f64>,
    remove: Vec<f64>,
}

fn timed(mut op: impl FnMut()) -> f64 {
    let t = Instant::now();
    op();
    t.elapsed().as_nanos() as f64
}

fn ours(state: &State, removal: &[u64]) -> Times {
    let mut a = Allocator::new();
    a.observe_sealed(state.current).expect("valid current");
    let mut insert: Vec<f64> = state
        .pending
        .iter()
        .map(|&k| timed(|| black_box(&mut a).insert_pending(k).expect("fresh")))
        .collect();
    let mut remove: Vec<f64> = removal
        .iter()
        .map(|&k| timed(|| black_box(&mut a).remove_pending(k).expect("pending")))
        .collect();
    assert_eq!(a.pending_len(), 0);
    insert.sort_by(f64::total_cmp);
    remove.sort_by(f64::total_cmp);
    Times { insert, remove }
}

fn reference(state: &State, removal: &[u64]) -> Times {
    let mut b = UpstreamV242::new();
    b.observe_sealed(state.current).expect("valid current");
    let mut insert: Vec<f64> = state
        .pending
        .iter()
        .map(|&k| timed(|| assert!(black_box(&mut b).pending_add(k))))
        .collect();
    let mut remove: Vec<f64> = removal
        .iter()
        .map(|&k| timed(|| assert!(black_box(&mut b).pending_remove(k))))
        .collect();
    assert_eq!(b.pending_len(), 0);
    insert.sort_by(f64::total_cmp);
    remove.sort_by(f64::total_cmp);
    Times { insert, remove }
}

/// The value below which a fraction `q` of the sorted `v` lies.
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn summary(ratios: &mut [f64], ours: &mut [f64], reference: &mut [f64]) -> Paired {
    for v in [&mut *ratios, &mut *ours, &mut *reference] {
        v.sort_by(f64::total_cmp);
    }
    Paired {
        median: quantile(ratios, 0.5),
        q1: quantile(ratios, 0.25),
        q3: quantile(ratios, 0.75),
        rounds: ratios.len(),
        ours_ns: quantile(ours, 0.5),
        reference_ns: quantile(reference, 0.5),
    }
}

fn latency(_c: &mut Criterion) {
    if !paired_wanted(GROUP, "ours", "reference") {
        return;
    }
    let (n, reps) = if quick_mode() {
        (100_000, 2)
    } else {
        (1_000_000, 9)
    };
    let state = State {
        ceiling: 0xffff_ffff,
        current: CYCLED,
        pending: scenario::scattered(n, CYCLED + 1, 0xffff_ffff, 0x5eed_0006),
    };
    let mut removal = state.pending.clone();
    let mut rng = scenario::Rng::new(0x5eed_0007);
    for i in (1..removal.len()).rev() {
        removal.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    // (name, statistic of a repetition)
    type Stat = fn(&Times) -> f64;
    let stats: [(&str, &str, Stat); 6] = [
        ("ours_insert_max", "reference_insert_max", |t| {
            quantile(&t.insert, 1.0)
        }),
        ("ours_insert_p99.9", "reference_insert_p99.9", |t| {
            quantile(&t.insert, 0.999)
        }),
        ("ours_insert_p50", "reference_insert_p50", |t| {
            quantile(&t.insert, 0.5)
        }),
        ("ours_remove_max", "reference_remove_max", |t| {
            quantile(&t.remove, 1.0)
        }),
        ("ours_remove_p99.9", "reference_remove_p99.9", |t| {
            quantile(&t.remove, 0.999)
        }),
        ("ours_remove_p50", "reference_remove_p50", |t| {
            quantile(&t.remove, 0.5)
        }),
    ];
    let mut per: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); stats.len()];
    let started = Instant::now();
    for rep in 0..reps {
        let (o, r) = if rep % 2 == 0 {
            let o = ours(&state, &removal);
            (o, reference(&state, &removal))
        } else {
            let r = reference(&state, &removal);
            (ours(&state, &removal), r)
        };
        for ((_, _, stat), (ratios, os, rs)) in stats.iter().zip(&mut per) {
            let (x, y) = (stat(&o), stat(&r));
            ratios.push(x / y);
            os.push(x);
            rs.push(y);
        }
    }
    let rows: Vec<Row<'_>> = stats
        .iter()
        .zip(&mut per)
        .map(|(&(o, r, _), (ratios, os, rs))| Row {
            ours: o,
            reference: r,
            paired: summary(ratios, os, rs),
            target: Target::None,
        })
        .collect();
    println!(
        "{GROUP}: {reps} repetitions of {n} inserts and {n} removals a side in {:.1?}",
        started.elapsed()
    );
    print_group_ratios(GROUP, &rows);
}

criterion_group!(benches, latency);
criterion_main!(benches);
