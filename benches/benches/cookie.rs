//! The time of `next()`, ours vs upstream's C algorithm, in one run.
//! See `benches/README.md` for the scenarios, the floor and the results.

use criterion::{criterion_group, criterion_main, Criterion};
use sdbus_cookie_benches::group::group;
use sdbus_cookie_benches::measure::Target;
use sdbus_cookie_benches::{cdriver, scenario};

/// The fast path from Rust: `Allocator::next()` before the first cycle vs the C model.
fn fast_path_rust(c: &mut Criterion) {
    group(
        c,
        "fast_path_rust",
        &mut [
            ("ours_next", Box::new(scenario::fast_ours)),
            ("reference_c_model", Box::new(scenario::fast_reference)),
            (
                "ours_next_cookie_stateless",
                Box::new(scenario::fast_ours_stateless),
            ),
            ("floor_add_compare", Box::new(scenario::fast_floor)),
        ],
        &[
            ("ours_next", "reference_c_model", Target::AtMost(1.0)),
            (
                "ours_next_cookie_stateless",
                "reference_c_model",
                Target::None,
            ),
            ("ours_next", "floor_add_compare", Target::None),
        ],
    );
}

/// The fast path from C: `sdbus_cookie_next()` and the header's `sdbus_cookie_next_inline()`
/// through the C ABI vs the C model inlined in C.
fn fast_path_c_abi(c: &mut Criterion) {
    group(
        c,
        "fast_path_c_abi",
        &mut [
            ("ours_c_abi", Box::new(cdriver::c_abi)),
            ("reference_c_inline", Box::new(cdriver::c_inline)),
            ("reference_c_call", Box::new(cdriver::c_call)),
            ("ours_c_abi_inline", Box::new(cdriver::c_abi_inline)),
        ],
        &[
            ("ours_c_abi", "reference_c_inline", Target::AtMost(1.2)),
            ("ours_c_abi", "reference_c_call", Target::None),
            (
                "ours_c_abi_inline",
                "reference_c_inline",
                Target::AtMost(1.2),
            ),
        ],
    );
}

/// Scattered pending cookies: after the cycle, 1,000 pending cookies scattered ahead of the counter.
fn scattered(c: &mut Criterion) {
    let (sparse_o, sparse_r) = scenario::steady(&scenario::scattered_sparse());
    let (dense_o, dense_r) = scenario::steady(&scenario::scattered_dense());
    let (churn_o, churn_r) = scenario::churn();
    group(
        c,
        "scattered_1000",
        &mut [
            ("ours_sparse", Box::new(sparse_o)),
            ("reference_sparse", Box::new(sparse_r)),
            ("ours_dense", Box::new(dense_o)),
            ("reference_dense", Box::new(dense_r)),
            ("ours_churn", Box::new(churn_o)),
            ("reference_churn", Box::new(churn_r)),
        ],
        &[
            ("ours_sparse", "reference_sparse", Target::AtMost(0.5)),
            ("ours_dense", "reference_dense", Target::AtMost(0.5)),
            ("ours_churn", "reference_churn", Target::None),
        ],
    );
}

/// A run of pending cookies: after the cycle, a run of 100,000 pending cookies right after the current one.
fn run(c: &mut Criterion) {
    let (o, r) = scenario::steady(&scenario::run_ring());
    group(
        c,
        "run_100000",
        &mut [("ours", Box::new(o)), ("reference", Box::new(r))],
        &[("ours", "reference", Target::FasterBy(1000.0))],
    );
}

criterion_group!(benches, fast_path_rust, fast_path_c_abi, scattered, run);
criterion_main!(benches);
