//! The real libsystemd: stock and patched builds of one systemd release, optimised with
//! the same flags from the same source (`systemd-patch/build-bench-libs`), in one run.
//! Each build runs in a worker process of its own, on a real sd-bus connection to a peer
//! that drains (see `c/libsystemd_worker.c`). See `benches/README.md` for the scenarios and
//! the results.

use criterion::{Criterion, SamplingMode};
use sdbus_cookie_benches::group::{group, group_with};
use sdbus_cookie_benches::libsystemd::{routine, Build, Lab, Scenario, SharedLab};
use sdbus_cookie_benches::measure::{paired_wanted, Target};

const STOCK_252: Build = Build {
    release: "252",
    variant: "stock",
};
const PATCHED_252: Build = Build {
    release: "252",
    variant: "patched",
};
const STOCK_241: Build = Build {
    release: "241",
    variant: "stock",
};
const PATCHED_241: Build = Build {
    release: "241",
    variant: "patched",
};
const BUILDS: &[Build] = &[STOCK_252, PATCHED_252, STOCK_241, PATCHED_241];

/// 252, before the cycle: seal and send one signal (the bus picks the cookie); and one
/// async call, its slot freed.
fn fast_path_252(c: &mut Criterion, lab: &SharedLab) {
    group(
        c,
        "libsystemd_252_fast_path",
        &mut [
            ("stock", routine(lab, STOCK_252, Scenario::Fast)),
            ("patched", routine(lab, PATCHED_252, Scenario::Fast)),
            ("stock_call", routine(lab, STOCK_252, Scenario::FastCall)),
            (
                "patched_call",
                routine(lab, PATCHED_252, Scenario::FastCall),
            ),
        ],
        &[
            ("patched", "stock", Target::AtMost(1.02)),
            ("patched_call", "stock_call", Target::AtMost(1.02)),
        ],
    );
}

/// 252, after the cycle, 1,000 async calls pending, scattered ahead: one new async call.
fn scattered_252(c: &mut Criterion, lab: &SharedLab) {
    group(
        c,
        "libsystemd_252_scattered_1000",
        &mut [
            ("stock", routine(lab, STOCK_252, Scenario::Scattered)),
            ("patched", routine(lab, PATCHED_252, Scenario::Scattered)),
        ],
        &[("patched", "stock", Target::AtMost(1.0))],
    );
}

/// 252, after the cycle, a run of 100,000 async calls pending right after the current
/// cookie: one new async call, against the same call with nothing pending.
fn run_252(c: &mut Criterion, lab: &SharedLab) {
    group_with(
        c,
        "libsystemd_252_run_100000",
        &mut [
            ("stock_run", routine(lab, STOCK_252, Scenario::Run)),
            ("stock_empty", routine(lab, STOCK_252, Scenario::Empty)),
            ("patched_run", routine(lab, PATCHED_252, Scenario::Run)),
            ("patched_empty", routine(lab, PATCHED_252, Scenario::Empty)),
        ],
        &[
            ("stock_run", "stock_empty", Target::None),
            ("patched_run", "stock_run", Target::None),
            ("patched_empty", "stock_empty", Target::None),
        ],
        // stock pays one reply_callbacks lookup per pending cookie: milliseconds per call.
        |g| {
            g.sample_size(10).sampling_mode(SamplingMode::Flat);
        },
    );
}

/// 241 (the vulnerable release), before the cycle: seal and send one signal; then the
/// first call after 0xffffffff on both builds (stock has no number there: it fails).
fn fast_path_241(c: &mut Criterion, lab: &SharedLab) {
    let name = "libsystemd_241_fast_path";
    group(
        c,
        name,
        &mut [
            ("stock", routine(lab, STOCK_241, Scenario::Fast)),
            ("patched", routine(lab, PATCHED_241, Scenario::Fast)),
        ],
        &[("patched", "stock", Target::AtMost(1.02))],
    );
    if !paired_wanted(name, "patched", "stock") {
        return;
    }
    let mut lab = lab.borrow_mut();
    let stock = lab.run(STOCK_241, Scenario::Empty, 1);
    let patched = lab.run(PATCHED_241, Scenario::Empty, 1);
    match (&stock, &patched) {
        (Err(e), Ok((_, cookie))) if e.message.contains("Operation not supported") => println!(
            "EDGE {name}: stock: {} (no number across the edge); patched: the first call \
             after 0xffffffff got {cookie:#x}",
            e.message
        ),
        _ => panic!(
            "across the edge 241 stock must fail with EOPNOTSUPP and patched must go on: \
             stock {stock:?}, patched {patched:?}"
        ),
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let lab = Lab::new(BUILDS);
    fast_path_252(&mut c, &lab);
    scattered_252(&mut c, &lab);
    run_252(&mut c, &lab);
    fast_path_241(&mut c, &lab);
    // Ends the workers (each reaped by its pid) before criterion's summary.
    drop(lab);
    c.final_summary();
}
