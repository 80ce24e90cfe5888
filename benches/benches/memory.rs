//! Bytes per pending cookie, ours (sorted runs in a B-tree) vs the C
//! model (an open-addressing hash set of `uint64_t`, standing in for sd-bus's
//! `reply_callbacks`), for scattered and run-shaped pending sets.
//!
//! Two ways of counting, both printed:
//! * requested bytes: ours through the counting global allocator below (live heap bytes
//!   after building the set, plus the allocator struct itself); the C model's heap is not
//!   Rust's, so its requested bytes come from glibc's `mallinfo2()` like the next line —
//!   the difference between the two ways on our side is malloc's own overhead;
//! * malloc in use: glibc `mallinfo2()` (`uordblks + hblkhd`, i.e. including chunk headers
//!   and mmapped blocks) before and after, for both sides alike.
//!
//! The criterion group times building each set (one insert per cookie), for information.
//! Ours is measured through the counting allocator here, which adds two relaxed atomic
//! adds per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use sdbus_cookie::Allocator;
use sdbus_cookie_benches::measure::{criterion_home, paired_long, paired_wanted, Target};
use sdbus_cookie_benches::scenario::{self, State, CYCLED, RUN, SCATTERED};
use sdbus_cookie_benches::{paired, print_group_ratios, Row};

/// The system allocator, counting live bytes and allocations.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        // SAFETY: forwarded; `ptr` came from `alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        ALLOCATIONS.fetch_add(1, Relaxed);
        // SAFETY: forwarded; the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded; the caller upholds `GlobalAlloc::realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
            LIVE_BYTES.fetch_add(new_size, Relaxed);
            ALLOCATIONS.fetch_add(1, Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// glibc's `struct mallinfo2` (glibc >= 2.33; Debian 12 has 2.36).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

extern "C" {
    fn mallinfo2() -> Mallinfo2;
}

/// Bytes malloc has handed out and not got back (small chunks plus mmapped blocks).
fn malloc_in_use() -> usize {
    // SAFETY: mallinfo2 takes no arguments and returns a plain struct by value.
    let m = unsafe { mallinfo2() };
    m.uordblks + m.hblkhd
}

/// What one side's pending set of a given shape costs.
#[derive(Clone, Copy, Debug)]
struct Footprint {
    /// Heap bytes requested (ours: the counting allocator; reference: malloc in use).
    requested: usize,
    /// Heap bytes as malloc sees them (chunk headers and mmapped blocks included).
    malloc: usize,
    /// Heap allocations made while building (ours only; `None` for C).
    allocations: Option<usize>,
    /// The size of the handle/struct itself.
    inline: usize,
}

fn footprint_ours(state: &State) -> (Allocator, Footprint) {
    let (live, count, mal) = (
        LIVE_BYTES.load(Relaxed),
        ALLOCATIONS.load(Relaxed),
        malloc_in_use(),
    );
    let a = state.ours();
    let f = Footprint {
        requested: LIVE_BYTES.load(Relaxed) - live,
        malloc: malloc_in_use() - mal,
        allocations: Some(ALLOCATIONS.load(Relaxed) - count),
        inline: size_of::<Allocator>(),
    };
    (a, f)
}

fn footprint_reference(state: &State) -> (sdbus_cookie_upstream::UpstreamV242, Footprint) {
    let (live, mal) = (LIVE_BYTES.load(Relaxed), malloc_in_use());
    let b = state.reference();
    assert_eq!(
        LIVE_BYTES.load(Relaxed),
        live,
        "the C model allocates with malloc"
    );
    let m = malloc_in_use() - mal;
    let f = Footprint {
        requested: m,
        malloc: m,
        allocations: None,
        // The wrapper holds one pointer; the struct it points to is on the C heap above.
        inline: size_of::<sdbus_cookie_upstream::UpstreamV242>(),
    };
    (b, f)
}

/// Memory once a burst is over: 100,000 scattered cookies pending, then every reply but
/// one in a hundred arrives, then one new call (an insert is where ours gives memory
/// back). Bytes per cookie still pending, 1,001 of them.
fn after_burst() -> String {
    let shape = "after_burst_100000_to_1001";
    let burst = scenario::scattered(RUN as usize, CYCLED + 1, 0xffff_ffff, 0x5eed_0005);
    let state = State {
        ceiling: 0xffff_ffff,
        current: CYCLED,
        pending: burst.clone(),
    };
    let gone: Vec<u64> = burst
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 100 != 0)
        .map(|(_, &k)| k)
        .collect();
    let fresh = (CYCLED + 1..)
        .find(|k| !burst.contains(k))
        .expect("a free cookie");

    let (live, count, mal) = (
        LIVE_BYTES.load(Relaxed),
        ALLOCATIONS.load(Relaxed),
        malloc_in_use(),
    );
    let mut a = state.ours();
    for &k in &gone {
        a.remove_pending(k).expect("pending");
    }
    a.insert_pending(fresh).expect("free");
    let fo = Footprint {
        requested: LIVE_BYTES.load(Relaxed) - live,
        malloc: malloc_in_use() - mal,
        allocations: Some(ALLOCATIONS.load(Relaxed) - count),
        inline: size_of::<Allocator>(),
    };
    let before = malloc_in_use();
    let mut b = State {
        pending: Vec::new(),
        ..state
    }
    .reference();
    for &k in &burst {
        assert!(b.pending_add(k));
    }
    for &k in &gone {
        assert!(b.pending_remove(k));
    }
    assert!(b.pending_add(fresh));
    let m = malloc_in_use() - before;
    let fr = Footprint {
        requested: m,
        malloc: m,
        allocations: None,
        inline: size_of::<sdbus_cookie_upstream::UpstreamV242>(),
    };
    assert_eq!(a.pending_len(), b.pending_len());
    report(shape, a.pending_len(), fo, fr)
}

/// The pending sets measured: (name, state).
fn shapes() -> Vec<(&'static str, State)> {
    let at = |pending: Vec<u64>| State {
        ceiling: 0xffff_ffff,
        current: CYCLED,
        pending,
    };
    vec![
        (
            "scattered_1000",
            at(scenario::scattered(
                SCATTERED,
                CYCLED + 1,
                0xffff_ffff,
                0x5eed_0004,
            )),
        ),
        (
            "scattered_100000",
            at(scenario::scattered(
                RUN as usize,
                CYCLED + 1,
                0xffff_ffff,
                0x5eed_0005,
            )),
        ),
        (
            "run_1000",
            at((CYCLED + 1..=CYCLED + SCATTERED as u64).collect()),
        ),
        ("run_100000", at((CYCLED + 1..=CYCLED + RUN).collect())),
        (
            "scattered_1000000",
            at(scenario::scattered(
                10 * RUN as usize,
                CYCLED + 1,
                0xffff_ffff,
                0x5eed_0008,
            )),
        ),
        (
            "run_1000000",
            at((CYCLED + 1..=CYCLED + 10 * RUN).collect()),
        ),
        // Every second cookie, in ascending order: how a connection's pending calls look
        // when every other reply has come, added as the counter hands them out.
        (
            "alternate_ascending_100000",
            at((0..RUN).map(|i| CYCLED + 1 + 2 * i).collect()),
        ),
    ]
}

fn report(shape: &str, n: usize, ours: Footprint, reference: Footprint) -> String {
    let per = |b: usize, inline: usize| (b + inline) as f64 / n as f64;
    let (o_req, r_req) = (
        per(ours.requested, ours.inline),
        per(reference.requested, reference.inline),
    );
    let (o_mal, r_mal) = (
        per(ours.malloc, ours.inline),
        per(reference.malloc, reference.inline),
    );
    println!(
        "RATIO memory/{shape}: bytes per pending cookie, ours {o_req:.3} vs reference {r_req:.3} \
         = {:.4} (requested: ours {} heap B in {} allocations + {} B struct; C {} B malloc in use)",
        o_req / r_req,
        ours.requested,
        ours.allocations.unwrap_or(0),
        ours.inline,
        reference.requested,
    );
    println!(
        "      malloc in use (chunk headers included): ours {o_mal:.3} vs reference {r_mal:.3} \
         B/cookie = {:.4}",
        o_mal / r_mal
    );
    format!(
        "{shape}\tours_bytes_per_cookie\treference_bytes_per_cookie\t{o_req:.4}\t{r_req:.4}\t{:.4e}\t{o_mal:.4}\t{r_mal:.4}\t{:.4e}\n",
        o_req / r_req,
        o_mal / r_mal
    )
}

/// Times building `s` on ours, one set per iteration (dropping it untimed).
fn build_ours(s: &State) -> impl FnMut(u64) -> Duration + '_ {
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let t = Instant::now();
            let a = black_box(s.ours());
            total += t.elapsed();
            drop(a);
        }
        total
    }
}

/// Times building `s` on the C model, one set per iteration (dropping it untimed).
fn build_ref(s: &State) -> impl FnMut(u64) -> Duration + '_ {
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let t = Instant::now();
            let b = black_box(s.reference());
            total += t.elapsed();
            drop(b);
        }
        total
    }
}

fn memory(c: &mut Criterion) {
    let shapes = shapes();
    let mut tsv = String::new();
    for (shape, state) in &shapes {
        let (a, fo) = footprint_ours(state);
        let (b, fr) = footprint_reference(state);
        assert_eq!(a.pending_len(), state.pending.len());
        assert_eq!(b.pending_len(), state.pending.len());
        tsv += &report(shape, state.pending.len(), fo, fr);
        drop((a, b));
    }
    tsv += &after_burst();
    let home = criterion_home();
    let _ = std::fs::create_dir_all(&home);
    let _ = std::fs::write(home.join("sdbus-cookie-memory.tsv"), tsv);

    // Time to build each set, one insert per cookie (the set is dropped untimed).
    let mut g = c.benchmark_group("memory_build");
    let mut rows = Vec::new();
    let ids: Vec<(String, String)> = shapes
        .iter()
        .map(|(shape, _)| (format!("ours_{shape}"), format!("reference_{shape}")))
        .collect();
    for ((_, state), (o, r)) in shapes.iter().zip(&ids) {
        if state.pending.len() >= 1_000_000 {
            // Half a second a set: criterion's minimum of ten samples, one build each.
            g.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        let mut fo = build_ours(state);
        let mut fr = build_ref(state);
        g.bench_function(o.as_str(), |b| b.iter_custom(&mut fo));
        g.bench_function(r.as_str(), |b| b.iter_custom(&mut fr));
    }
    g.finish();
    for ((_, state), (o, r)) in shapes.iter().zip(&ids) {
        if !paired_wanted("memory_build", o, r) {
            continue;
        }
        let p = if state.pending.len() >= 1_000_000 {
            paired_long(
                &mut build_ours(state),
                &mut build_ref(state),
                Duration::from_millis(500),
                11,
            )
        } else {
            paired(&mut build_ours(state), &mut build_ref(state))
        };
        rows.push(Row {
            ours: o.as_str(),
            reference: r.as_str(),
            paired: p,
            target: Target::None,
        });
    }
    print_group_ratios("memory_build", &rows);
}

criterion_group!(benches, memory);
criterion_main!(benches);
