//! Runs one side of one allocator scenario for `scripts/bench-instructions`, which counts
//! the instructions under `valgrind --tool=callgrind --toggle-collect=*instr_measured*`:
//! only [`instr_measured`] and what it calls are counted, not the setup (building the
//! state, drawing cookies), so the count divided by the operations is the cost of one.
//!
//! Usage: `instructions <case> <ours|reference>`; prints the number of operations run.
//! `instructions --libsystemd-worker` prints the path of the `libsystemd` bench's worker as
//! `build.rs` compiled it, so that the script counts the very program the bench times.
//! The cases are the allocator groups of benches/README.md:
//!
//! | case | one operation |
//! |---|---|
//! | `fast_path` | `next()` before the first cycle |
//! | `scattered_sparse`, `scattered_dense` | `next()` with 1,000 scattered pending cookies ahead (questions 2) |
//! | `churn` | `next()`, insert the new cookie, remove the oldest of 1,000 in flight |
//! | `run_100000` | `next()` skipping a run of 100,000 pending cookies |
//! | `build_scattered_100000`, `build_scattered_1000000` | one insert while building that many scattered cookies in random order |
//! | `build_run_100000` | one insert while building a run of 100,000 |
//! | `remove_scattered_1000000` | one removal while emptying 1,000,000 scattered cookies in another random order |

use std::hint::black_box;
use std::process::ExitCode;

use sdbus_cookie::Allocator;
use sdbus_cookie_benches::scenario::{self, State, CYCLED, RUN};
use sdbus_cookie_upstream::UpstreamV242;

/// The only function whose instructions are counted; `op(i)` is operation `i`.
#[inline(never)]
fn instr_measured(op: &mut dyn FnMut(u64), n: u64) {
    for i in 0..n {
        op(black_box(i));
    }
}

fn fresh(pending: Vec<u64>) -> State {
    State {
        ceiling: 0xffff_ffff,
        current: CYCLED,
        pending,
    }
}

fn shuffled(mut v: Vec<u64>, seed: u64) -> Vec<u64> {
    let mut rng = scenario::Rng::new(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    v
}

/// `next()` `n` times on the state, ours or the C model.
fn nexts(state: &State, ours: bool, n: u64) -> u64 {
    if ours {
        let mut a = state.ours();
        instr_measured(
            &mut |_| {
                black_box(black_box(&mut a).next().expect("not busy"));
            },
            n,
        );
    } else {
        let mut b = state.reference();
        instr_measured(
            &mut |_| {
                black_box(black_box(&mut b).next().expect("not busy"));
            },
            n,
        );
    }
    n
}

/// Inserts every cookie of `pending` into a fresh set (counter at `CYCLED`).
fn build(pending: Vec<u64>, ours: bool) -> u64 {
    let state = fresh(Vec::new());
    let n = pending.len() as u64;
    if ours {
        let mut a = state.ours();
        instr_measured(
            &mut |i| {
                black_box(&mut a)
                    .insert_pending(pending[i as usize])
                    .expect("fresh")
            },
            n,
        );
        assert_eq!(a.pending_len(), pending.len());
    } else {
        let mut b = state.reference();
        instr_measured(
            &mut |i| assert!(black_box(&mut b).pending_add(pending[i as usize])),
            n,
        );
    }
    n
}

/// Builds `pending` (not counted), then removes it in the order of `removal`.
fn remove(pending: Vec<u64>, removal: Vec<u64>, ours: bool) -> u64 {
    let state = fresh(pending);
    let n = removal.len() as u64;
    if ours {
        let mut a = state.ours();
        instr_measured(
            &mut |i| {
                black_box(&mut a)
                    .remove_pending(removal[i as usize])
                    .expect("pending")
            },
            n,
        );
        assert_eq!(a.pending_len(), 0);
    } else {
        let mut b: UpstreamV242 = state.reference();
        instr_measured(
            &mut |i| assert!(black_box(&mut b).pending_remove(removal[i as usize])),
            n,
        );
    }
    n
}

/// `scenario::churn` without its clock: 1,000 calls in flight after the cycle; each
/// operation hands out a cookie, marks it pending and retires the oldest.
fn churn(ours: bool, n: u64) -> u64 {
    const IN_FLIGHT: usize = scenario::SCATTERED;
    let state = fresh(Vec::new());
    if ours {
        let mut a = state.ours();
        let mut ring: Vec<u64> = (0..IN_FLIGHT)
            .map(|_| {
                let k = u64::from(a.next().expect("free"));
                a.insert_pending(k).expect("fresh");
                k
            })
            .collect();
        instr_measured(
            &mut |i| {
                let a = black_box(&mut a);
                let k = u64::from(a.next().expect("free"));
                a.insert_pending(k).expect("fresh");
                let slot = &mut ring[i as usize % IN_FLIGHT];
                a.remove_pending(*slot).expect("pending");
                *slot = k;
            },
            n,
        );
    } else {
        let mut b = state.reference();
        let mut ring: Vec<u64> = (0..IN_FLIGHT)
            .map(|_| {
                let k = b.next().expect("free");
                assert!(b.pending_add(k));
                k
            })
            .collect();
        instr_measured(
            &mut |i| {
                let b = black_box(&mut b);
                let k = b.next().expect("free");
                b.pending_add(k);
                let slot = &mut ring[i as usize % IN_FLIGHT];
                b.pending_remove(*slot);
                *slot = k;
            },
            n,
        );
    }
    n
}

/// `next()` before the first cycle, on a fresh connection's state.
fn fast_path(ours: bool, n: u64) -> u64 {
    if ours {
        let mut a = Allocator::new();
        instr_measured(
            &mut |_| {
                black_box(black_box(&mut a).next().expect("not busy"));
            },
            n,
        );
    } else {
        let mut b = UpstreamV242::new();
        instr_measured(
            &mut |_| {
                black_box(black_box(&mut b).next().expect("not busy"));
            },
            n,
        );
    }
    n
}

fn run(case: &str, ours: bool) -> Option<u64> {
    let scattered = |n: usize, seed| scenario::scattered(n, CYCLED + 1, 0xffff_ffff, seed);
    Some(match case {
        "fast_path" => fast_path(ours, 1_000_000),
        "scattered_sparse" => nexts(&scenario::scattered_sparse(), ours, 1_000_000),
        "scattered_dense" => nexts(&scenario::scattered_dense(), ours, 1_000_000),
        "churn" => churn(ours, 200_000),
        "run_100000" => nexts(&scenario::run_ring(), ours, if ours { 100_000 } else { 10 }),
        "build_scattered_100000" => build(scattered(RUN as usize, 0x5eed_0005), ours),
        "build_scattered_1000000" => build(scattered(10 * RUN as usize, 0x5eed_0008), ours),
        "build_run_100000" => build((CYCLED + 1..=CYCLED + RUN).collect(), ours),
        "remove_scattered_1000000" => {
            let pending = scattered(10 * RUN as usize, 0x5eed_0006);
            let removal = shuffled(pending.clone(), 0x5eed_0007);
            remove(pending, removal, ours)
        }
        _ => return None,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (case, side) = match args.as_slice() {
        [flag] if flag == "--libsystemd-worker" => {
            println!("{}", env!("SDBENCH_LIBSYSTEMD_WORKER"));
            return ExitCode::SUCCESS;
        }
        [case, side] if side == "ours" || side == "reference" => (case, side == "ours"),
        _ => {
            eprintln!("usage: instructions <case> <ours|reference> | --libsystemd-worker");
            return ExitCode::from(2);
        }
    };
    match run(case, side) {
        Some(n) => {
            println!("{n}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("instructions: unknown case {case}");
            ExitCode::from(2)
        }
    }
}
