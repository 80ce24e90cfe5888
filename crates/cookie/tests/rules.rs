//! The cycle rule at full 32-bit width, the extensions beyond upstream, and bad input.
//! Each test names the rule it checks (see the crate docs).

use sdbus_cookie::{next_cookie, Allocator, Config, Cookie, Error, LegacyAllocator};

const CEIL: u64 = 0xffff_ffff;
const CYCLED: u64 = 0x8000_0000;

fn next(a: &mut Allocator) -> u64 {
    u64::from(a.next().expect("next"))
}

#[test]
fn rule_first_cookie_is_1_and_counts_up_by_one() {
    let mut a = Allocator::new();
    for want in 1..=1000 {
        assert_eq!(next(&mut a), want);
    }
    assert!(!a.has_cycled());
}

#[test]
fn rule_inc_after_0xffffffff_jumps_to_0x80000000_not_0() {
    let mut a = Allocator::new();
    a.observe_sealed(CEIL - 1).unwrap();
    assert_eq!(next(&mut a), CEIL);
    assert_eq!(next(&mut a), CYCLED);
    assert_eq!(next(&mut a), CYCLED + 1);
    assert!(a.has_cycled());
    assert_eq!(a.wraps(), 1);
}

#[test]
fn rule_cycled_counter_skips_pending_cookies() {
    let mut a = Allocator::new();
    for k in [CYCLED, CYCLED + 1, CYCLED + 3] {
        a.insert_pending(k).unwrap();
    }
    a.observe_sealed(CEIL).unwrap();
    assert_eq!(next(&mut a), CYCLED + 2);
    assert_eq!(next(&mut a), CYCLED + 4);
}

#[test]
fn rule_pending_cookie_at_the_ceiling_is_skipped_by_wrapping() {
    let mut a = Allocator::new();
    a.observe_sealed(CEIL - 2).unwrap();
    a.insert_pending(CEIL - 1).unwrap();
    a.insert_pending(CEIL).unwrap();
    a.insert_pending(CYCLED).unwrap();
    assert_eq!(next(&mut a), CYCLED + 1);
}

#[test]
fn rule_a_run_of_1_000_000_pending_cookies_is_skipped_by_one_next() {
    let mut a = Allocator::new();
    a.observe_sealed(CYCLED + 10).unwrap();
    for k in CYCLED + 11..CYCLED + 11 + 1_000_000 {
        a.insert_pending(k).unwrap();
    }
    assert_eq!(a.pending_len(), 1_000_000);
    // One run, so one call: the allocator does not probe a million cookies.
    assert_eq!(a.pending_runs().count(), 1);
    assert_eq!(next(&mut a), CYCLED + 11 + 1_000_000);
    a.check_invariants().unwrap();
}

#[test]
fn rule_busy_when_every_cycled_cookie_is_pending_and_nothing_changes() {
    // A ceiling of 0x80000003 leaves four cycled cookies, so exhaustion fits a test.
    let cfg = Config::DEFAULT.with_ceiling(CYCLED + 3).unwrap();
    let mut a = Allocator::with_config(cfg);
    a.observe_sealed(CYCLED + 1).unwrap();
    for k in CYCLED..=CYCLED + 3 {
        a.insert_pending(k).unwrap();
    }
    assert_eq!(a.next(), Err(Error::Busy));
    assert_eq!(a.current(), CYCLED + 1);
    a.remove_pending(CYCLED + 1).unwrap();
    assert_eq!(
        next(&mut a),
        CYCLED + 1,
        "the only free cookie, one full lap later"
    );
}

#[test]
fn rule_observe_sealed_keeps_the_maximum() {
    let mut a = Allocator::new();
    a.observe_sealed(500).unwrap();
    a.observe_sealed(7).unwrap();
    assert_eq!(a.current(), 500);
    assert_eq!(next(&mut a), 501);
}

#[test]
fn ceiling_0xfffeffff_cycles_like_xdg_dbus_proxy_expects() {
    let cfg = Config::DEFAULT.with_ceiling(0xfffe_ffff).unwrap();
    let mut a = Allocator::with_config(cfg);
    a.observe_sealed(0xfffe_fffe).unwrap();
    assert_eq!(next(&mut a), 0xfffe_ffff);
    assert_eq!(next(&mut a), CYCLED);
    assert_eq!(
        a.observe_sealed(0xffff_0000),
        Err(Error::AboveCeiling {
            cookie: 0xffff_0000,
            ceiling: 0xfffe_ffff
        })
    );
}

#[test]
fn quarantined_cookie_stays_reserved_until_its_late_reply() {
    let mut a = Allocator::new();
    a.observe_sealed(CEIL).unwrap();
    let c = next(&mut a);
    a.insert_pending(c).unwrap();
    a.quarantine(c).unwrap();
    assert!(a.is_quarantined(c) && a.is_pending(c));
    assert_eq!((a.pending_len(), a.quarantined_len()), (1, 1));
    // A full lap later the quarantined cookie is still skipped.
    a.observe_sealed(CEIL).unwrap();
    assert_eq!(next(&mut a), CYCLED + 1);
    // The late reply frees it.
    a.remove_pending(c).unwrap();
    assert!(!a.is_quarantined(c));
    assert_eq!((a.pending_len(), a.quarantined_len()), (0, 0));
}

#[test]
fn release_quarantined_frees_only_the_quarantined() {
    let mut a = Allocator::new();
    for k in [CYCLED, CYCLED + 1, CYCLED + 2] {
        a.insert_pending(k).unwrap();
    }
    a.quarantine(CYCLED).unwrap();
    a.quarantine(CYCLED + 2).unwrap();
    assert_eq!(a.release_quarantined(), 2);
    assert!(a.is_pending(CYCLED + 1) && !a.is_pending(CYCLED) && !a.is_pending(CYCLED + 2));
    a.observe_sealed(CEIL).unwrap();
    assert_eq!(next(&mut a), CYCLED);
    a.check_invariants().unwrap();
}

#[test]
fn bad_input_is_a_typed_error_not_a_panic() {
    let mut a = Allocator::new();
    assert_eq!(a.insert_pending(0), Err(Error::ZeroCookie));
    assert_eq!(a.remove_pending(0), Err(Error::ZeroCookie));
    assert_eq!(a.observe_sealed(0), Err(Error::ZeroCookie));
    assert_eq!(a.quarantine(0), Err(Error::ZeroCookie));
    let above = Err(Error::AboveCeiling {
        cookie: CEIL + 1,
        ceiling: u32::MAX,
    });
    assert_eq!(a.insert_pending(CEIL + 1), above);
    assert_eq!(a.observe_sealed(CEIL + 1), above);
    assert_eq!(a.observe_sealed(u64::MAX).unwrap_err().errno(), 22);
    let k = Cookie::new(5).unwrap();
    assert_eq!(a.remove_pending(5), Err(Error::NotPending(k)));
    assert_eq!(a.quarantine(5), Err(Error::NotPending(k)));
    a.insert_pending(5).unwrap();
    assert_eq!(a.insert_pending(5), Err(Error::AlreadyPending(k)));
    assert_eq!(a.current(), 0, "failed calls changed nothing");

    for bad in [0, 1, CYCLED - 1, CYCLED, CEIL + 1, u64::MAX] {
        assert!(
            matches!(
                Config::DEFAULT.with_ceiling(bad),
                Err(Error::InvalidCeiling { .. })
            ),
            "ceiling {bad:#x} accepted"
        );
    }
    assert!(Config::DEFAULT.with_ceiling(CYCLED + 1).is_ok());
    for w in [0, 1, 33, u32::MAX] {
        assert_eq!(Config::new(w), Err(Error::InvalidWidth(w)));
    }
    assert_eq!(Cookie::new(0), None);
    assert_eq!(Cookie::new(CEIL + 1), None);
}

#[test]
fn errno_values_match_systemd() {
    assert_eq!(Error::Busy.errno(), 16);
    assert_eq!(Error::ZeroCookie.errno(), 22);
    assert_eq!(Error::AlreadyPending(Cookie::new(1).unwrap()).errno(), 17);
    assert_eq!(Error::NotPending(Cookie::new(1).unwrap()).errno(), 2);
    assert_eq!(Error::Overflow { cookie: CEIL + 1 }.errno(), 95);
    assert_eq!(Error::OutOfMemory.errno(), 12);
    assert_eq!(
        Error::OutOfMemory.to_string(),
        "out of memory for the pending set"
    );
}

#[test]
fn stateless_next_cookie_never_asks_in_use_before_the_cycle() {
    let cfg = Config::DEFAULT;
    let got = next_cookie(41, &cfg, |_| panic!("in_use called before the cycle"));
    assert_eq!(got.map(u64::from), Ok(42));
    assert_eq!(
        next_cookie(CEIL, &cfg, |k| u64::from(k) < CYCLED + 2).map(u64::from),
        Ok(CYCLED + 2)
    );
    assert_eq!(
        next_cookie(CEIL + 1, &cfg, |_| false),
        Err(Error::AboveCeiling {
            cookie: CEIL + 1,
            ceiling: u32::MAX
        })
    );
}

#[test]
fn stateless_next_cookie_is_busy_after_one_lap_when_everything_is_in_use() {
    let cfg = Config::DEFAULT.with_ceiling(CYCLED + 999).unwrap();
    let mut asked = 0u64;
    let got = next_cookie(CYCLED + 500, &cfg, |_| {
        asked += 1;
        true
    });
    assert_eq!(got, Err(Error::Busy));
    assert_eq!(asked, 1000, "one question per cycled cookie, no more");
}

#[test]
fn legacy_mode_fails_with_eopnotsupp_past_0xffffffff_and_keeps_failing() {
    let mut l = LegacyAllocator::new();
    assert_eq!(l.next().map(u64::from), Ok(1));
    l.observe_sealed(CEIL - 1).unwrap();
    assert_eq!(l.next().map(u64::from), Ok(CEIL));
    assert_eq!(l.next(), Err(Error::Overflow { cookie: CEIL + 1 }));
    assert_eq!(l.next(), Err(Error::Overflow { cookie: CEIL + 2 }));
    assert_eq!(l.current(), CEIL + 2);
    assert_eq!(l.next().unwrap_err().errno(), 95);
}

#[test]
fn config_new_width_n_has_ceiling_2_pow_n_minus_1_and_cycles_to_2_pow_n_minus_1() {
    // (width, ceiling = 2^w - 1, cycled = 2^(w-1), cycled_len = ceiling - cycled + 1)
    for (w, ceiling, cycled, cycled_len) in [
        (2, 3, 2, 2),
        (4, 15, 8, 8),
        (5, 31, 16, 16),
        (32, 0xffff_ffff, 0x8000_0000, 0x8000_0000),
    ] {
        let cfg = Config::new(w).unwrap();
        assert_eq!(
            (cfg.width(), cfg.ceiling(), cfg.cycled(), cfg.cycled_len()),
            (w, ceiling, cycled, cycled_len),
            "width {w}"
        );
    }
    assert_eq!(Config::new(32), Ok(Config::DEFAULT));
}

#[test]
fn ceiling_may_be_any_value_from_0x80000001_to_0xffffffff_inclusive() {
    for (ceiling, cycled_len) in [
        (0x8000_0001u64, 2u64),
        (0xfffe_ffff, 0x7fff_0000),
        (0xffff_ffff, 0x8000_0000),
    ] {
        let cfg = Config::DEFAULT.with_ceiling(ceiling).unwrap();
        assert_eq!(u64::from(cfg.ceiling()), ceiling);
        assert_eq!((cfg.width(), cfg.cycled()), (32, 0x8000_0000));
        assert_eq!(cfg.cycled_len(), cycled_len, "ceiling {ceiling:#x}");
    }
    assert_eq!(
        Config::DEFAULT.with_ceiling(CYCLED),
        Err(Error::InvalidCeiling {
            ceiling: CYCLED,
            cycled: 0x8000_0000,
            max: 0xffff_ffff
        })
    );
}

#[test]
fn an_allocator_reports_the_config_it_was_created_with() {
    let xdg = Config::DEFAULT.with_ceiling(0xfffe_ffff).unwrap();
    assert_eq!(Allocator::with_config(xdg).config().ceiling(), 0xfffe_ffff);
    assert_eq!(Allocator::new().config().ceiling(), 0xffff_ffff);
    assert_eq!(Allocator::default().config(), Config::DEFAULT);
}

#[test]
fn cookies_and_errors_print_cookies_in_hex_as_the_rule_states_them() {
    let k = Cookie::new(CYCLED).unwrap();
    assert_eq!(k.to_string(), "0x80000000");
    assert_eq!((u32::from(k), u64::from(k)), (0x8000_0000, CYCLED));
    assert_eq!(
        Error::NotPending(k).to_string(),
        "cookie 0x80000000 is not pending"
    );
    assert_eq!(
        Error::AboveCeiling {
            cookie: CEIL + 1,
            ceiling: 0xfffe_ffff
        }
        .to_string(),
        "cookie 0x100000000 is above the ceiling 0xfffeffff"
    );
}

#[test]
fn rule_wraps_counts_each_jump_from_0xffffffff_to_0x80000000() {
    let mut a = Allocator::new();
    assert_eq!(a.wraps(), 0);
    for lap in 1..=3 {
        a.observe_sealed(CEIL).unwrap();
        assert_eq!(next(&mut a), CYCLED);
        assert_eq!(a.wraps(), lap);
    }
    assert_eq!(next(&mut a), CYCLED + 1);
    assert_eq!(a.wraps(), 3, "counting up in the cycled half is no wrap");
}

#[test]
fn invariants_hold_after_pending_edits_at_the_current_cookie_and_the_fast_path_limit() {
    let mut a = Allocator::new();
    assert_eq!(next(&mut a), 1);
    // The current cookie itself marked pending (a call sealed with it awaits its reply).
    a.insert_pending(1).unwrap();
    assert_eq!(a.check_invariants(), Ok(()));
    // The smallest pending cookie above current, then freed again.
    a.insert_pending(5).unwrap();
    assert_eq!(a.check_invariants(), Ok(()));
    a.remove_pending(5).unwrap();
    assert_eq!(a.check_invariants(), Ok(()));
    a.remove_pending(1).unwrap();
    assert_eq!(a.check_invariants(), Ok(()));
    for want in 2..=6 {
        assert_eq!(next(&mut a), want);
    }
}

#[test]
fn stateless_next_cookie_rejects_a_current_cookie_above_a_lower_ceiling() {
    // 0xffff0000 fits 32 bits but lies above xdg-dbus-proxy's ceiling 0xfffeffff.
    let xdg = Config::DEFAULT.with_ceiling(0xfffe_ffff).unwrap();
    assert_eq!(
        next_cookie(0xffff_0000, &xdg, |_| false),
        Err(Error::AboveCeiling {
            cookie: 0xffff_0000,
            ceiling: 0xfffe_ffff
        })
    );
    assert_eq!(
        next_cookie(0xfffe_ffff, &xdg, |_| false).map(u64::from),
        Ok(CYCLED)
    );
}
