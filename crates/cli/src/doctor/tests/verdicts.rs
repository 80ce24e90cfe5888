//! The doctor's verdicts at the edges of each documented threshold (crates/cli/README.md):
//! systemd before v242 is `warning` below 10 % of 2^32 headroom (429 496 729 cookies) or
//! with less than 30 days (2 592 000 s) to the ceiling, `critical` below 1 % (42 949 672)
//! or less than 1 day (86 400 s); the bus silent while the private socket answers is
//! `critical` on any version; nothing answering is `unknown`. Exit codes are
//! node-problem-detector's: 0 ok, 1 problem, 2 unknown.
//!
//! Every expected number is written out here, never taken from the constants in the doctor,
//! so moving a threshold there fails these tests.

use std::time::{Duration, Instant};

use crate::doctor::{assess, Answer, Observation, Verdict};

fn answer(serial: u32, version: &str, at: Instant) -> Answer {
    Answer {
        serial,
        version: version.into(),
        at,
    }
}

/// One answer on the bus with cookie `serial`, and one on the private socket.
fn once(serial: u32, version: &str) -> Verdict {
    let now = Instant::now();
    assess(&Observation {
        bus: Ok(answer(serial, version, now)),
        bus_again: None,
        private: Ok(answer(2, version, now)),
        name_owned: None,
    })
    .verdict
}

/// Two answers on the bus one second apart: `first`, then `second`. The doctor's own second
/// request is one of the messages in between, so the rate is `second - first - 1` per second.
fn twice(first: u32, second: u32, version: &str) -> Verdict {
    let t0 = Instant::now();
    assess(&Observation {
        bus: Ok(answer(first, version, t0)),
        bus_again: Some(Ok(answer(second, version, t0 + Duration::from_secs(1)))),
        private: Ok(answer(2, version, t0)),
        name_owned: None,
    })
    .verdict
}

#[test]
fn vulnerable_systemd_is_critical_below_1_percent_headroom_42949672() {
    // headroom = 0xffffffff - cookie
    assert_eq!(
        once(4_252_017_624, "241"),
        Verdict::Critical,
        "headroom 42949671"
    );
    assert_eq!(
        once(4_252_017_623, "241"),
        Verdict::Warning,
        "headroom 42949672"
    );
    assert_eq!(once(0xffff_ffff, "241"), Verdict::Critical, "headroom 0");
}

#[test]
fn vulnerable_systemd_is_warning_below_10_percent_headroom_429496729() {
    assert_eq!(
        once(3_865_470_567, "241"),
        Verdict::Warning,
        "headroom 429496728"
    );
    assert_eq!(
        once(3_865_470_566, "241"),
        Verdict::Ok,
        "headroom 429496729"
    );
}

#[test]
fn vulnerable_systemd_is_warning_with_less_than_30_days_to_the_ceiling() {
    // 1000 messages/s; headroom 2 592 000 000 (above 10 %) is exactly 30 days away.
    let thirty_days = 4_294_967_295 - 2_592_000_000;
    assert_eq!(twice(thirty_days - 1001, thirty_days, "241"), Verdict::Ok);
    // 1000 cookies more: 2 591 999 s to go.
    let sooner = thirty_days + 1000;
    assert_eq!(twice(sooner - 1001, sooner, "241"), Verdict::Warning);
}

#[test]
fn vulnerable_systemd_is_critical_with_less_than_1_day_to_the_ceiling() {
    // 1000 messages/s; headroom 86 400 000 (between 1 % and 10 %) is exactly 1 day away.
    let one_day = 4_294_967_295 - 86_400_000;
    assert_eq!(twice(one_day - 1001, one_day, "241"), Verdict::Warning);
    let sooner = one_day + 1000;
    assert_eq!(twice(sooner - 1001, sooner, "241"), Verdict::Critical);
}

#[test]
fn systemd_242_and_later_has_the_fix_and_is_ok_at_any_cookie() {
    assert_eq!(once(0xffff_ffff, "242"), Verdict::Ok);
    assert_eq!(once(0xffff_ffff, "252.38-1~deb12u1"), Verdict::Ok);
    // 1000 messages/s with a minute to the ceiling is still fine where the counter cycles.
    let minute = 4_294_967_295 - 60_000;
    assert_eq!(twice(minute - 1001, minute, "242"), Verdict::Ok);
}

#[test]
fn systemd_of_unknown_version_is_judged_as_if_vulnerable() {
    assert_eq!(once(0xffff_ffff, "weird"), Verdict::Critical);
    assert_eq!(once(3_865_470_567, "weird"), Verdict::Warning);
    assert_eq!(once(1000, "weird"), Verdict::Ok);
}

#[test]
fn bus_silent_while_the_private_socket_answers_is_critical_on_any_version() {
    for version in ["241", "242", "252"] {
        let r = assess(&Observation {
            bus: Err("timed out".into()),
            bus_again: None,
            private: Ok(answer(3, version, Instant::now())),
            name_owned: None,
        });
        assert_eq!(r.verdict, Verdict::Critical, "systemd {version}");
        assert!(r.message.contains("timed out"), "{}", r.message);
    }
}

#[test]
fn nothing_answering_is_unknown_with_exit_code_2() {
    let r = assess(&Observation {
        bus: Err("no bus".into()),
        bus_again: None,
        private: Err("no socket".into()),
        name_owned: None,
    });
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.verdict.exit_code(), 2);
}

#[test]
fn exit_codes_are_node_problem_detectors_0_ok_1_problem_2_unknown() {
    assert_eq!(Verdict::Ok.exit_code(), 0);
    assert_eq!(Verdict::Warning.exit_code(), 1);
    assert_eq!(Verdict::Critical.exit_code(), 1);
    assert_eq!(Verdict::Unknown.exit_code(), 2);
}
