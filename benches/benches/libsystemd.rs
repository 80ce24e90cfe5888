//! The real libsystemd: stock and patched builds of one systemd release, optimised with
//! the same flags from the same source (`systemd-patch/build-bench-libs`), in one run.
//! Each build runs in a worker process of its own, on a real sd-bus connection to a peer
//! that drains (see `c/libsystemd_worker.c`). The opt-in stateful patch's build joins
//! every group of a release that has one. See `benches/README.md` for the scenarios and
//! the results.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode};
use sdbus_cookie_benches::group::group_with;
use sdbus_cookie_benches::libsystemd::{routine, routine_again, Build, Lab, Scenario, SharedLab};
use sdbus_cookie_benches::measure::{paired_wanted, Target};

const STOCK_252: Build = Build::new("252", "stock");
const PATCHED_252: Build = Build::new("252", "patched");
const STATEFUL_252: Build = Build::new("252", "stateful");
const STOCK_241: Build = Build::new("241", "stock");
const PATCHED_241: Build = Build::new("241", "patched");
const STATEFUL_241: Build = Build::new("241", "stateful");

/// Whether the repository has the opt-in stateful patch for `release` (systemd-patch/lib.sh
/// builds the `stateful` variant only for a release with a `stateful/` folder).
fn has_stateful(release: &str) -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../systemd-patch")
        .join(release)
        .join("stateful")
        .is_dir()
}

type Rows = Vec<(&'static str, &'static str, Target)>;

/// Paired rounds of 50 ms a side: an operation here is microseconds of syscalls (or, for
/// stock after a run, milliseconds), and on 2 shared cores one scheduling hiccup takes
/// milliseconds, so rounds longer than the C-model's 20 ms.
const ROUND: Option<(Duration, usize)> = Some((Duration::from_millis(50), 41));

/// 252, before the cycle: seal and send one signal (the bus picks the cookie); and one
/// async call, its slot freed.
fn fast_path_252(c: &mut Criterion, lab: &SharedLab, stateful: bool) {
    let mut routines = vec![
        ("stock", routine(lab, STOCK_252, Scenario::Fast)),
        ("patched", routine(lab, PATCHED_252, Scenario::Fast)),
        ("stock_call", routine(lab, STOCK_252, Scenario::FastCall)),
        (
            "patched_call",
            routine(lab, PATCHED_252, Scenario::FastCall),
        ),
        ("stock_again", routine_again(lab, STOCK_252, Scenario::Fast)),
    ];
    let mut rows: Rows = vec![
        ("patched", "stock", Target::AtMost(1.02)),
        ("patched_call", "stock_call", Target::AtMost(1.02)),
        // A/A: two processes of the same build; how far from 1.0 a ratio lands by itself.
        ("stock_again", "stock", Target::None),
    ];
    if stateful {
        routines.push(("stateful", routine(lab, STATEFUL_252, Scenario::Fast)));
        routines.push((
            "stateful_call",
            routine(lab, STATEFUL_252, Scenario::FastCall),
        ));
        rows.push(("stateful", "stock", Target::AtMost(1.02)));
        rows.push(("stateful_call", "stock_call", Target::None));
    }
    group_with(
        c,
        "libsystemd_252_fast_path",
        &mut routines,
        &rows,
        ROUND,
        |_| {},
    );
}

/// 252, after the cycle, 1,000 async calls pending, scattered ahead: one new async call.
fn scattered_252(c: &mut Criterion, lab: &SharedLab, stateful: bool) {
    let mut routines = vec![
        ("stock", routine(lab, STOCK_252, Scenario::Scattered)),
        ("patched", routine(lab, PATCHED_252, Scenario::Scattered)),
        (
            "stock_again",
            routine_again(lab, STOCK_252, Scenario::Scattered),
        ),
    ];
    let mut rows: Rows = vec![
        ("patched", "stock", Target::AtMost(1.0)),
        ("stock_again", "stock", Target::None),
    ];
    if stateful {
        routines.push(("stateful", routine(lab, STATEFUL_252, Scenario::Scattered)));
        rows.push(("stateful", "stock", Target::AtMost(1.0)));
    }
    group_with(
        c,
        "libsystemd_252_scattered_1000",
        &mut routines,
        &rows,
        ROUND,
        |_| {},
    );
}

/// 252, after the cycle, a run of 100,000 async calls pending right after the current
/// cookie: one new async call, against the same call with nothing pending.
fn run_252(c: &mut Criterion, lab: &SharedLab, stateful: bool) {
    let mut routines = vec![
        ("stock_run", routine(lab, STOCK_252, Scenario::Run)),
        ("stock_empty", routine(lab, STOCK_252, Scenario::Empty)),
        ("patched_run", routine(lab, PATCHED_252, Scenario::Run)),
        ("patched_empty", routine(lab, PATCHED_252, Scenario::Empty)),
    ];
    let mut rows: Rows = vec![
        ("stock_run", "stock_empty", Target::None),
        ("patched_run", "stock_run", Target::None),
        ("patched_empty", "stock_empty", Target::None),
    ];
    if stateful {
        routines.push(("stateful_run", routine(lab, STATEFUL_252, Scenario::Run)));
        routines.push((
            "stateful_empty",
            routine(lab, STATEFUL_252, Scenario::Empty),
        ));
        rows.push(("stateful_run", "stateful_empty", Target::AtMost(1.1)));
        rows.push(("stateful_run", "stock_run", Target::None));
        rows.push(("stateful_empty", "stock_empty", Target::None));
    }
    group_with(
        c,
        "libsystemd_252_run_100000",
        &mut routines,
        &rows,
        ROUND,
        // stock pays one reply_callbacks lookup per pending cookie: milliseconds per call.
        |g| {
            g.sample_size(10).sampling_mode(SamplingMode::Flat);
        },
    );
}

/// 241 (the vulnerable release), before the cycle: seal and send one signal; then the
/// first call after 0xffffffff on every build (stock has no number there: it fails).
fn fast_path_241(c: &mut Criterion, lab: &SharedLab, stateful: bool) {
    let name = "libsystemd_241_fast_path";
    let mut routines = vec![
        ("stock", routine(lab, STOCK_241, Scenario::Fast)),
        ("patched", routine(lab, PATCHED_241, Scenario::Fast)),
        ("stock_again", routine_again(lab, STOCK_241, Scenario::Fast)),
    ];
    let mut rows: Rows = vec![
        ("patched", "stock", Target::AtMost(1.02)),
        ("stock_again", "stock", Target::None),
    ];
    if stateful {
        routines.push(("stateful", routine(lab, STATEFUL_241, Scenario::Fast)));
        rows.push(("stateful", "stock", Target::AtMost(1.02)));
    }
    group_with(c, name, &mut routines, &rows, ROUND, |_| {});
    if !paired_wanted(name, "patched", "stock") {
        return;
    }
    let mut lab = lab.borrow_mut();
    let stock = lab.run(STOCK_241, Scenario::Empty, 1);
    let mut fixed = vec![(PATCHED_241, lab.run(PATCHED_241, Scenario::Empty, 1))];
    if stateful {
        fixed.push((STATEFUL_241, lab.run(STATEFUL_241, Scenario::Empty, 1)));
    }
    let Err(e) = &stock else {
        panic!("across the edge 241 stock must fail with EOPNOTSUPP, got {stock:?}");
    };
    assert!(
        e.message.contains("Operation not supported"),
        "across the edge 241 stock must fail with EOPNOTSUPP: {e}"
    );
    let mut line = format!(
        "EDGE {name}: stock: {} (no number across the edge)",
        e.message
    );
    for (b, r) in fixed {
        match r {
            Ok((_, cookie)) => line.push_str(&format!(
                "; {}: the first call after 0xffffffff got {cookie:#x}",
                b.variant
            )),
            Err(e) => panic!("across the edge {b} must go on: {e}"),
        }
    }
    println!("{line}");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let (s252, s241) = (has_stateful("252"), has_stateful("241"));
    let mut builds = vec![STOCK_252, PATCHED_252, STOCK_241, PATCHED_241];
    if s252 {
        builds.push(STATEFUL_252);
    }
    if s241 {
        builds.push(STATEFUL_241);
    }
    let lab = Lab::new(&builds);
    fast_path_252(&mut c, &lab, s252);
    scattered_252(&mut c, &lab, s252);
    run_252(&mut c, &lab, s252);
    fast_path_241(&mut c, &lab, s241);
    // Ends the workers (each reaped by its pid) before criterion's summary.
    drop(lab);
    c.final_summary();
}
