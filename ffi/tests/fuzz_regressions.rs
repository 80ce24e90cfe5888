//! The fuzz target's differential driver (tests/support/diff.rs) on stable, without
//! libFuzzer: every saved input under ffi/fuzz/regressions/ (crashes the fuzzer found, each
//! named after what it broke), a few hand-written sequences, and a fixed pseudo-random
//! sweep. A failure names the step at which the C ABI and the Rust allocator disagreed.

#[path = "support/diff.rs"]
mod diff;

use std::fs;
use std::path::Path;

#[test]
fn every_saved_fuzz_regression_input_still_agrees() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        let data = fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        diff::run(&data);
        n += 1;
    }
    eprintln!("{n} regression input(s) replayed");
}

#[test]
fn tiny_ceiling_every_cycled_cookie_pending_next_is_ebusy_then_reuses_a_freed_one() {
    let seq = [
        1, 3, // ceiling 0x80000001 + 3 = 0x80000004: five cycled cookies
        6, 0, 2, // observe_sealed(ceiling)
        8, 0, 1, 7, // pending_add 0x80000000..=0x80000007 (the last three: -EINVAL)
        0, // next: -EBUSY
        3, 2, 1, // pending_remove(0x80000002)
        0, // next: 0x80000002
    ];
    let stats = diff::run(&seq);
    assert_eq!(stats.busy, 1, "{stats:?}");
    assert_eq!(
        (stats.handed_out, stats.handed_out_cycled),
        (1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.errors, 3 + 1, "{stats:?}");
}

#[test]
fn stateless_next_from_the_ceiling_skips_a_pending_run() {
    let seq = [
        0, // default config
        8, 0, 1, 19, // pending_add 0x80000000..=0x80000013
        9, 0, 2, // stateless next from 0xffffffff: skips the run, 20 in_use calls
    ];
    let stats = diff::run(&seq);
    assert_eq!((stats.steps, stats.errors), (2, 0), "{stats:?}");
}

#[test]
fn stateless_next_with_ceiling_is_ebusy_when_the_cycled_space_is_pending() {
    let seq = [
        1, 0, // ceiling 0x80000001: two cycled cookies
        8, 0, 1, 1, // pending_add 0x80000000, 0x80000001
        9, 0, 2, // stateless next from the ceiling: -EBUSY
    ];
    let stats = diff::run(&seq);
    assert_eq!(stats.stateless_busy, 1, "{stats:?}");
}

#[test]
fn pseudo_random_sequences_agree() {
    // xorshift64*, fixed seed: the same inputs on every run.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut total = diff::Stats::default();
    // Miri (cargo +nightly miri test) interprets every step; a smaller sweep suffices there.
    let inputs = if cfg!(miri) { 40 } else { 3000 };
    for _ in 0..inputs {
        let len = (next() % 512) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let s = diff::run(&data);
        total.steps += s.steps;
        total.handed_out_cycled += s.handed_out_cycled;
        total.busy += s.busy;
        total.stateless_busy += s.stateless_busy;
        total.errors += s.errors;
    }
    eprintln!("{total:?}");
    if cfg!(miri) {
        return;
    }
    // the sweep must reach the cases it exists for, or it proves nothing
    assert!(total.handed_out_cycled > 0, "{total:?}");
    assert!(total.busy > 0, "{total:?}");
    assert!(total.stateless_busy > 0, "{total:?}");
    assert!(total.errors > 0, "{total:?}");
}
