//! The C models' own behaviour, pinned to the upstream facts cited in
//! `c/upstream_cookie.h`.

use super::*;
use std::collections::HashSet;

fn v242_at(current: u64) -> UpstreamV242 {
    let mut b = UpstreamV242::new();
    b.observe_sealed(current).unwrap();
    assert_eq!(b.current(), current);
    b
}

fn width(w: u32) -> Params {
    Params::with_width(w, None).unwrap()
}

#[test]
fn default_params_are_upstream_32_bit_constants() {
    let p = Params::upstream();
    assert_eq!(
        (p.cycled(), p.ceiling(), p.max()),
        (COOKIE_CYCLED, COOKIE_CEILING, COOKIE_CEILING)
    );
    assert_eq!(Params::with_width(32, None), Ok(p));
    assert_eq!(UpstreamV242::new().params(), p);
}

#[test]
fn cookie_inc_adds_one_below_ceiling_and_jumps_to_cycled_at_or_above_it() {
    let p = Params::upstream();
    assert_eq!(cookie_inc(&p, 0), 1);
    assert_eq!(cookie_inc(&p, 0x7fff_ffff), 0x8000_0000);
    assert_eq!(cookie_inc(&p, 0xffff_fffe), 0xffff_ffff);
    assert_eq!(cookie_inc(&p, 0xffff_ffff), COOKIE_CYCLED);
    assert_eq!(cookie_inc(&p, 0x1_0000_0000), COOKIE_CYCLED);
}

#[test]
fn v242_counts_up_from_one() {
    let mut b = UpstreamV242::new();
    assert_eq!(b.current(), 0);
    for want in 1..=5 {
        assert_eq!(b.next(), Ok(want));
    }
    assert_eq!(b.current(), 5);
}

#[test]
fn v242_cycles_from_0xffffffff_to_0x80000000() {
    let mut b = v242_at(0xffff_fffe);
    assert_eq!(b.next(), Ok(0xffff_ffff));
    assert_eq!(b.next(), Ok(0x8000_0000));
    assert_eq!(b.next(), Ok(0x8000_0001));
}

#[test]
fn v242_fast_path_does_not_consult_pending_before_the_cycled_bit() {
    // Upstream only looks at reply_callbacks once the candidate has bit 31 set.
    let mut b = v242_at(1);
    assert!(b.pending_add(2));
    assert_eq!(b.next(), Ok(2));
}

#[test]
fn v242_skips_pending_once_the_candidate_has_the_cycled_bit_even_before_wrapping() {
    let mut b = v242_at(0x7fff_ffff);
    assert!(b.pending_add(0x8000_0000));
    assert!(b.pending_add(0x8000_0001));
    assert_eq!(b.next(), Ok(0x8000_0002));
}

#[test]
fn v242_skips_pending_after_the_cycle_and_wraps_within_the_cycled_half() {
    let mut b = v242_at(0xffff_fffd);
    for k in [0xffff_fffe, 0xffff_ffff, 0x8000_0000, 0x8000_0001] {
        assert!(b.pending_add(k));
    }
    assert_eq!(b.next(), Ok(0x8000_0002));
    assert_eq!(b.current(), 0x8000_0002);
}

#[test]
fn v242_skips_a_dense_run_of_100000_pending_cookies() {
    let mut b = v242_at(0xffff_ffff);
    for k in 0x8000_0000..0x8000_0000 + 100_000 {
        assert!(b.pending_add(k));
    }
    assert_eq!(b.pending_len(), 100_000);
    assert_eq!(b.next(), Ok(0x8000_0000 + 100_000));
}

#[test]
fn v242_busy_when_every_cycled_cookie_is_pending_at_width_4_and_state_unchanged() {
    let mut b = UpstreamV242::with_params(width(4));
    b.observe_sealed(15).unwrap();
    for k in 8..=15 {
        assert!(b.pending_add(k));
    }
    assert_eq!(b.next(), Err(-errno::EBUSY));
    assert_eq!(b.current(), 15);
    assert_eq!(b.pending_len(), 8);
    assert!(b.pending_remove(12));
    assert_eq!(b.next(), Ok(12));
}

#[test]
fn v242_busy_at_width_32_with_a_2_pow_31_lap_uses_the_stateless_form() {
    // Every cycled cookie "pending" through the predicate: the lap runs the
    // full upstream bound of COOKIE_CYCLED lookups, then -EBUSY.
    let mut calls = 0u64;
    let r = next_cookie(&Params::upstream(), 0xffff_ffff, |_| {
        calls += 1;
        true
    });
    assert_eq!(r, Err(-errno::EBUSY));
    assert_eq!(calls, COOKIE_CYCLED);
}

#[test]
fn v242_busy_before_wrapping_only_when_the_candidate_has_the_cycled_bit() {
    let full = |b: &mut UpstreamV242| {
        for k in 8..=15 {
            b.pending_add(k);
        }
    };
    let mut b = UpstreamV242::with_params(width(4));
    b.observe_sealed(7).unwrap();
    full(&mut b);
    assert_eq!(b.next(), Err(-errno::EBUSY));

    let mut b = UpstreamV242::with_params(width(4));
    b.observe_sealed(5).unwrap();
    full(&mut b);
    assert_eq!(b.next(), Ok(6), "the fast path never looks at pending");
    assert_eq!(b.next(), Ok(7));
    assert_eq!(b.next(), Err(-errno::EBUSY));
}

#[test]
fn v242_custom_ceiling_cycles_after_it() {
    let p = Params::with_width(32, Some(0xfffe_ffff)).unwrap();
    let mut b = UpstreamV242::with_params(p);
    b.observe_sealed(0xfffe_fffe).unwrap();
    assert_eq!(b.next(), Ok(0xfffe_ffff));
    assert_eq!(b.next(), Ok(0x8000_0000));
}

#[test]
fn params_reject_bad_widths_and_ceilings() {
    for (w, c) in [
        (1, None),
        (0, None),
        (33, None),
        (32, Some(0x8000_0000)),
        (32, Some(0x1_0000_0000)),
        (32, Some(0)),
        (4, Some(8)),
        (4, Some(16)),
    ] {
        assert_eq!(
            Params::with_width(w, c),
            Err(-errno::EINVAL),
            "width {w} ceiling {c:?}"
        );
    }
    let p = Params::with_width(4, Some(9)).unwrap();
    assert_eq!((p.cycled(), p.ceiling(), p.max()), (8, 9, 15));
}

#[test]
fn v242_observe_sealed_is_max_and_refuses_unsealable_cookies() {
    let mut b = v242_at(100);
    b.observe_sealed(50).unwrap();
    assert_eq!(b.current(), 100);
    b.observe_sealed(0).unwrap();
    assert_eq!(b.current(), 100);
    assert_eq!(b.observe_sealed(0x1_0000_0000), Err(-errno::EOPNOTSUPP));
    assert_eq!(b.current(), 100);
    assert_eq!(b.next(), Ok(101));
}

#[test]
fn v242_stateless_next_cookie_asks_only_about_cycled_candidates() {
    let p = Params::upstream();
    let mut asked = Vec::new();
    assert_eq!(
        next_cookie(&p, 41, |k| {
            asked.push(k);
            true
        }),
        Ok(42)
    );
    assert!(asked.is_empty());
    let r = next_cookie(&p, 0xffff_fffe, |k| {
        asked.push(k);
        k != 0x8000_0001
    });
    assert_eq!(r, Ok(0x8000_0001));
    assert_eq!(asked, [0xffff_ffff, 0x8000_0000, 0x8000_0001]);
}

#[test]
#[should_panic(expected = "predicate blew up")]
fn v242_stateless_next_cookie_resumes_a_panic_from_the_predicate() {
    let _ = next_cookie(&Params::upstream(), 0xffff_ffff, |_| {
        panic!("predicate blew up")
    });
}

#[test]
fn pending_set_matches_std_hashset_under_mixed_inserts_and_removes() {
    // A deterministic xorshift stream over a small key range forces collisions,
    // growth and backward-shift deletions; 0 and huge keys are included.
    let mut b = UpstreamV242::new();
    let mut model = HashSet::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..200_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = match x % 7 {
            0 => 0,
            1 => u64::MAX - (x >> 60),
            _ => 0x8000_0000 + (x >> 40) % 4096,
        };
        if (x >> 32).is_multiple_of(3) {
            assert_eq!(
                b.pending_remove(key),
                model.remove(&key),
                "step {i} remove {key:#x}"
            );
        } else {
            assert_eq!(
                b.pending_add(key),
                model.insert(key),
                "step {i} add {key:#x}"
            );
        }
        assert_eq!(b.pending_len(), model.len());
    }
    for key in 0x8000_0000u64..0x8000_0000 + 4096 {
        assert_eq!(b.is_pending(key), model.contains(&key));
    }
    assert_eq!(b.is_pending(0), model.contains(&0));
}

#[test]
fn legacy_counts_up_and_fails_with_eopnotsupp_past_0xffffffff() {
    let mut b = UpstreamLegacy::new();
    assert_eq!(b.next(), Ok(1));
    b.observe_sealed(0xffff_fffe).unwrap();
    assert_eq!(b.next(), Ok(0xffff_ffff));
    assert_eq!(b.next(), Err(-errno::EOPNOTSUPP));
    assert_eq!(b.current(), 0x1_0000_0000);
}

#[test]
fn legacy_counter_keeps_advancing_after_the_first_failure() {
    let mut b = UpstreamLegacy::new();
    b.observe_sealed(0xffff_ffff).unwrap();
    for i in 1..=3u64 {
        assert_eq!(b.next(), Err(-errno::EOPNOTSUPP));
        assert_eq!(b.current(), 0xffff_ffff + i);
    }
    // The MAX rule cannot bring it back down, and sealing above 32 bits fails.
    b.observe_sealed(5).unwrap();
    assert_eq!(b.current(), 0x1_0000_0002);
    assert_eq!(b.observe_sealed(0x1_0000_0005), Err(-errno::EOPNOTSUPP));
    assert_eq!(b.current(), 0x1_0000_0002);
}
