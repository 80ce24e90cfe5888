//! One criterion group of routines and its paired rows: criterion measures every routine,
//! then each row takes its ratio with [`paired`] and the group prints them.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

use crate::measure::{paired, paired_long, paired_wanted, print_group_ratios, Row, Target};

/// A routine: runs `iters` operations, returns the time they took (criterion's `iter_custom`).
pub type Routine = Box<dyn FnMut(u64) -> Duration>;

/// Benches every `(id, routine)` in one criterion group, then takes each row's paired ratio.
pub fn group(
    c: &mut Criterion,
    name: &str,
    routines: &mut [(&'static str, Routine)],
    rows: &[(&'static str, &'static str, Target)],
) {
    group_with(c, name, routines, rows, None, |_| {});
}

/// [`group`], with paired rounds of `round` (length, count) instead of [`paired`]'s
/// default, and `configure` applied to the criterion group first (sample size, sampling
/// mode, for operations that take milliseconds).
pub fn group_with(
    c: &mut Criterion,
    name: &str,
    routines: &mut [(&'static str, Routine)],
    rows: &[(&'static str, &'static str, Target)],
    round: Option<(Duration, usize)>,
    configure: impl FnOnce(&mut BenchmarkGroup<'_, WallTime>),
) {
    let mut g = c.benchmark_group(name);
    configure(&mut g);
    for (id, routine) in routines.iter_mut() {
        g.bench_function(*id, |b| b.iter_custom(&mut *routine));
    }
    g.finish();

    let mut results = Vec::new();
    for &(ours, reference, target) in rows {
        if !paired_wanted(name, ours, reference) {
            continue;
        }
        let (o, r) = two_mut(routines, index(routines, ours), index(routines, reference));
        let p = match round {
            Some((length, count)) => paired_long(&mut **o, &mut **r, length, count),
            None => paired(&mut **o, &mut **r),
        };
        results.push(Row {
            ours,
            reference,
            paired: p,
            target,
        });
    }
    print_group_ratios(name, &results);
}

/// Both routines at once (`get_disjoint_mut` needs Rust 1.86; the MSRV is 1.85).
fn two_mut<'r>(
    rs: &'r mut [(&'static str, Routine)],
    i: usize,
    j: usize,
) -> (&'r mut Routine, &'r mut Routine) {
    assert_ne!(i, j, "a row compares two different routines");
    if i < j {
        let (a, b) = rs.split_at_mut(j);
        (&mut a[i].1, &mut b[0].1)
    } else {
        let (a, b) = rs.split_at_mut(i);
        (&mut b[0].1, &mut a[j].1)
    }
}

fn index(routines: &[(&'static str, Routine)], id: &str) -> usize {
    routines
        .iter()
        .position(|(n, _)| *n == id)
        .unwrap_or_else(|| panic!("no routine {id}"))
}
