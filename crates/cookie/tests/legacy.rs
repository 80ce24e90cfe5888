//! `sdbus_cookie::LegacyAllocator` against our C model of sd-bus before v242
//! (`sdbus_cookie_upstream::UpstreamLegacy`): `bus_seal_message()` passed
//! `++b->cookie` (64 bits) to `sd_bus_message_seal()`, which refuses a cookie
//! above `0xffffffff` on a dbus1 message with `-EOPNOTSUPP`. The increment has
//! already happened, so from that point on every message fails: the incident
//! of systemd issue #11809, fixed by PR #11818 in v242.
//!
//! Seeds are fixed (override with `PROPTEST_RNG_SEED=<u64>`).

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestError};

mod common;
use common::runner;
use sdbus_cookie::{Error, LegacyAllocator};
use sdbus_cookie_upstream::{errno, UpstreamLegacy};

const LIMIT: u64 = 0xffff_ffff;

/// Compares one `next()`: the same cookie, or the same EOPNOTSUPP for the same
/// (unsealable) cookie, and the same counter afterwards.
fn next_both(ours: &mut LegacyAllocator, theirs: &mut UpstreamLegacy) -> Result<(), TestCaseError> {
    let before = theirs.current();
    let o = ours.next();
    let t = theirs.next();
    match (o, t) {
        (Ok(a), Ok(b)) => prop_assert_eq!(u64::from(a), b),
        (Err(Error::Overflow { cookie }), Err(e)) => {
            prop_assert_eq!(e, -errno::EOPNOTSUPP);
            prop_assert_eq!(
                cookie,
                theirs.current(),
                "Overflow names the refused cookie"
            );
            prop_assert_eq!(
                Error::Overflow { cookie }.errno(),
                errno::EOPNOTSUPP,
                "Overflow maps to the C errno"
            );
        }
        (o, t) => prop_assert!(
            false,
            "next() after {:#x}: ours {:?}, upstream {:?}",
            before,
            o,
            t
        ),
    }
    prop_assert_eq!(theirs.current(), before + 1, "the counter always advances");
    prop_assert_eq!(ours.current(), theirs.current());
    Ok(())
}

/// Compares one `observe_sealed(k)`. Upstream takes cookie 0 (MAX changes
/// nothing), ours refuses it; above 0xffffffff neither could have sealed it.
fn seal_both(
    ours: &mut LegacyAllocator,
    theirs: &mut UpstreamLegacy,
    k: u64,
) -> Result<(), TestCaseError> {
    let before = theirs.current();
    let o = ours.observe_sealed(k);
    let t = theirs.observe_sealed(k);
    if k == 0 {
        prop_assert!(
            matches!(o, Err(Error::ZeroCookie)),
            "observe_sealed(0): {:?}",
            o
        );
        prop_assert_eq!(t, Ok(()));
    } else if k > LIMIT {
        prop_assert!(o.is_err(), "observe_sealed({:#x}) accepted", k);
        prop_assert_eq!(t, Err(-errno::EOPNOTSUPP));
    } else {
        prop_assert!(o.is_ok(), "observe_sealed({:#x}): {:?}", k, o);
        prop_assert_eq!(t, Ok(()));
        prop_assert_eq!(theirs.current(), before.max(k));
    }
    prop_assert_eq!(ours.current(), theirs.current());
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    /// `count` messages in a row.
    Next(u16),
    /// A caller-sealed message with cookie `LIMIT - d` (near the edge).
    SealNear(u32),
    /// A caller-sealed message with any 32-bit cookie (0 included).
    SealAny(u32),
    /// A cookie that cannot be sealed: `LIMIT + 1 + d`.
    SealHuge(u32),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        6 => (1u16..300).prop_map(Op::Next),
        3 => prop_oneof![0u32..8, 0u32..512, any::<u32>()].prop_map(Op::SealNear),
        1 => any::<u32>().prop_map(Op::SealAny),
        1 => any::<u32>().prop_map(Op::SealHuge),
    ];
    prop::collection::vec(op, 1..40)
}

#[test]
fn legacy_matches_upstream_c_pre_v242_on_random_sequences_across_the_eopnotsupp_point() {
    let crossed = std::cell::Cell::new(0u32);
    let result = runner(10_000, 0x11809).run(&ops(), |ops| {
        let mut ours = LegacyAllocator::new();
        let mut theirs = UpstreamLegacy::new();
        for op in &ops {
            match *op {
                Op::Next(n) => {
                    for _ in 0..n {
                        next_both(&mut ours, &mut theirs)?;
                    }
                }
                Op::SealNear(d) => seal_both(&mut ours, &mut theirs, LIMIT - u64::from(d))?,
                Op::SealAny(k) => seal_both(&mut ours, &mut theirs, u64::from(k))?,
                Op::SealHuge(d) => seal_both(&mut ours, &mut theirs, LIMIT + 1 + u64::from(d))?,
            }
        }
        if theirs.current() > LIMIT {
            crossed.set(crossed.get() + 1);
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => panic!("{why}\nminimal failing input: {input:#?}"),
        Err(e) => panic!("{e}"),
    }
    eprintln!("{} sequences crossed 0xffffffff", crossed.get());
    assert!(
        crossed.get() > 0,
        "no sequence reached the EOPNOTSUPP point"
    );
}

#[test]
fn legacy_eopnotsupp_point_is_the_message_after_0xffffffff_in_both() {
    let mut ours = LegacyAllocator::new();
    let mut theirs = UpstreamLegacy::new();
    seal_both(&mut ours, &mut theirs, LIMIT - 16).expect("seal");
    for want in LIMIT - 15..=LIMIT {
        assert_eq!(ours.next().map(u64::from), Ok(want));
        assert_eq!(theirs.next(), Ok(want));
    }
    assert_eq!(ours.next(), Err(Error::Overflow { cookie: LIMIT + 1 }));
    assert_eq!(theirs.next(), Err(-errno::EOPNOTSUPP));
    assert_eq!((ours.current(), theirs.current()), (LIMIT + 1, LIMIT + 1));
}

#[test]
fn legacy_counter_keeps_advancing_after_eopnotsupp_and_never_recovers_in_both() {
    let mut ours = LegacyAllocator::new();
    let mut theirs = UpstreamLegacy::new();
    seal_both(&mut ours, &mut theirs, LIMIT).expect("seal");
    for _ in 0..10_000 {
        next_both(&mut ours, &mut theirs).expect("agree");
    }
    assert_eq!(ours.current(), LIMIT + 10_000);
    // A caller-sealed message with a small cookie cannot pull it back (MAX).
    seal_both(&mut ours, &mut theirs, 1).expect("seal");
    next_both(&mut ours, &mut theirs).expect("agree");
    assert!(ours.next().is_err() && theirs.next().is_err());
}

#[test]
fn legacy_counts_from_one_like_upstream_c() {
    let mut ours = LegacyAllocator::new();
    let mut theirs = UpstreamLegacy::new();
    assert_eq!((ours.current(), theirs.current()), (0, 0));
    for want in 1..=1000 {
        assert_eq!(ours.next().map(u64::from), Ok(want));
        assert_eq!(theirs.next(), Ok(want));
    }
}
