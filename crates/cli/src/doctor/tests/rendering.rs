//! What the doctor prints, checked against what crates/cli/README.md shows and documents:
//! the text report (the README's example, literally), the Prometheus gauges it names,
//! node-problem-detector's one line, and the headroom as a percentage of 2^32 cookies.
//! Every expected string is written out here.

use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::doctor::render::human_secs;
use crate::doctor::{
    assess, npd_line, prometheus, text, Answer, Observation, ProbeError, ProbeErrorKind,
};

fn answer(serial: u32, version: &str, at: Instant) -> Answer {
    Answer {
        serial,
        version: version.into(),
        at,
    }
}

fn both_answer(serial: u32, version: &str) -> Observation {
    let now = Instant::now();
    Observation {
        bus: Ok(answer(serial, version, now)),
        bus_again: None,
        private: Ok(answer(2, version, now)),
        name_owned: None,
    }
}

#[test]
fn text_report_is_the_readme_example() {
    let r = assess(&both_answer(14, "252.38-1~deb12u1"));
    assert_eq!(
        text(&r),
        "systemd version:   252.38-1~deb12u1 (has the fix of v242)\n\
         API-bus cookie:    14 (0x0000000e) of 0xffffffff\n\
         headroom:          4294967281 (100.00%)\n\
         system bus:        answers\n\
         private socket:    answers\n\
         verdict:           ok: systemd 252 has the cookie-overflow fix (v242+): cookie \
         0x0000000e, headroom 4294967281 (100.00%)\n"
    );
}

#[test]
fn text_report_of_a_vulnerable_systemd_shows_rate_eta_and_what_failed() {
    // 1000 messages/s (the doctor's own second request excluded) with 86 400 000 cookies
    // left: the ceiling is exactly one day away.
    let t0 = Instant::now();
    let cookie = 4_294_967_295 - 86_400_000;
    let r = assess(&Observation {
        bus: Ok(answer(cookie - 1001, "241", t0)),
        bus_again: Some(Ok(answer(cookie, "241", t0 + Duration::from_secs(1)))),
        private: Err("connect: No such file or directory".into()),
        name_owned: None,
    });
    let t = text(&r);
    for line in [
        "systemd version:   241 (vulnerable: before v242)\n",
        "API-bus cookie:    4208567295 (0xfad9a3ff) of 0xffffffff\n",
        "headroom:          86400000 (2.01%)\n",
        "rate:              1000.0 messages/s\n",
        "ceiling in:        1d 0h (86400 s)\n",
        "system bus:        answers\n",
        "private socket:    NO ANSWER (connect: No such file or directory)\n",
        "verdict:           warning: ",
    ] {
        assert!(t.contains(line), "{line:?} missing in:\n{t}");
    }
}

#[test]
fn text_report_without_any_answer_says_unknown_and_why() {
    let r = assess(&Observation {
        bus: Err("bus: no answer within 1s".into()),
        bus_again: None,
        private: Err("private: connection refused".into()),
        name_owned: None,
    });
    let t = text(&r);
    for line in [
        "systemd version:   unknown\n",
        "API-bus cookie:    unknown\n",
        "system bus:        NO ANSWER (bus: no answer within 1s)\n",
        "private socket:    NO ANSWER (private: connection refused)\n",
        "verdict:           unknown: no systemd reachable",
    ] {
        assert!(t.contains(line), "{line:?} missing in:\n{t}");
    }
    assert!(!t.contains("rate:") && !t.contains("ceiling in:"), "{t}");
}

#[test]
fn text_report_of_an_unparsable_version_says_so() {
    let t = text(&assess(&both_answer(1000, "weird")));
    assert!(
        t.contains("systemd version:   weird (version not understood)\n"),
        "{t}"
    );
}

#[test]
fn headroom_is_a_percentage_of_2_pow_32_cookies() {
    // 4294752547 / 4294967296 = 0.99994999..., so 99.99 (not 100.00, which a divisor of
    // 2^32 - 1 would give).
    let t = text(&assess(&both_answer(214_748, "252")));
    assert!(
        t.contains("headroom:          4294752547 (99.99%)\n"),
        "{t}"
    );
    // The documented critical threshold: 42 949 672 cookies is 1 % of 2^32.
    let t = text(&assess(&both_answer(4_252_017_623, "252")));
    assert!(t.contains("headroom:          42949672 (1.00%)\n"), "{t}");
}

#[test]
fn human_durations_switch_units_at_a_minute_an_hour_and_a_day() {
    for (secs, want) in [
        (0, "0s"),
        (59, "59s"),
        (60, "1m 0s"),
        (3_599, "59m 59s"),
        (3_600, "1h 0m"),
        (86_399, "23h 59m"),
        (86_400, "1d 0h"),
        (2_592_000, "30d 0h"),
        (90_061, "1d 1h"),
    ] {
        assert_eq!(human_secs(secs), want, "{secs} s");
    }
}

#[test]
fn prometheus_gauges_are_the_documented_ones_with_their_values() {
    let t0 = Instant::now();
    let cookie = 4_294_967_295 - 86_400_000;
    let r = assess(&Observation {
        bus: Ok(answer(cookie - 1001, "241", t0)),
        bus_again: Some(Ok(answer(cookie, "241", t0 + Duration::from_secs(1)))),
        private: Ok(answer(2, "241", t0)),
        name_owned: None,
    });
    let p = prometheus(&r, UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
    for sample in [
        "sdcookie_systemd_cookie 4208567295",
        "sdcookie_systemd_cookie_ceiling 4294967295",
        "sdcookie_systemd_cookie_headroom 86400000",
        "sdcookie_systemd_cookie_cycled 1",
        "sdcookie_systemd_cookie_rate_per_second 1000",
        "sdcookie_systemd_cookie_eta_seconds 86400",
        "sdcookie_systemd_version 241",
        "sdcookie_systemd_vulnerable 1",
        "sdcookie_systemd_bus_responsive 1",
        "sdcookie_systemd_private_responsive 1",
        "sdcookie_doctor_last_run_timestamp_seconds 1700000000.250",
        "sdcookie_doctor_verdict{verdict=\"ok\"} 0",
        "sdcookie_doctor_verdict{verdict=\"warning\"} 1",
        "sdcookie_doctor_verdict{verdict=\"critical\"} 0",
        "sdcookie_doctor_verdict{verdict=\"unknown\"} 0",
    ] {
        assert!(
            p.lines().any(|l| l == sample),
            "{sample:?} missing in:\n{p}"
        );
    }
    // Each gauge once, with its HELP and TYPE.
    for name in [
        "sdcookie_systemd_cookie",
        "sdcookie_systemd_cookie_eta_seconds",
        "sdcookie_doctor_verdict",
    ] {
        let typed = format!("# TYPE {name} gauge");
        assert_eq!(p.lines().filter(|l| *l == typed).count(), 1, "{p}");
        assert!(p.contains(&format!("# HELP {name} ")), "{p}");
    }
}

#[test]
fn prometheus_leaves_unknown_values_out_and_says_nobody_answered() {
    let r = assess(&Observation {
        bus: Err("no bus".into()),
        bus_again: None,
        private: Err("no socket".into()),
        name_owned: None,
    });
    let p = prometheus(&r, UNIX_EPOCH);
    for absent in [
        "sdcookie_systemd_cookie ",
        "sdcookie_systemd_cookie_headroom",
        "sdcookie_systemd_cookie_cycled",
        "sdcookie_systemd_version",
        "sdcookie_systemd_vulnerable",
    ] {
        assert!(!p.contains(absent), "{absent:?} in:\n{p}");
    }
    for sample in [
        "sdcookie_systemd_cookie_ceiling 4294967295",
        "sdcookie_systemd_bus_responsive 0",
        "sdcookie_systemd_private_responsive 0",
        "sdcookie_doctor_last_run_timestamp_seconds 0.000",
        "sdcookie_doctor_verdict{verdict=\"unknown\"} 1",
    ] {
        assert!(
            p.lines().any(|l| l == sample),
            "{sample:?} missing in:\n{p}"
        );
    }
}

#[test]
fn npd_line_is_the_verdict_and_the_message_on_one_line() {
    let mut r = assess(&both_answer(14, "252"));
    r.message = "first\nsecond".into();
    assert_eq!(npd_line(&r), "ok: first\\nsecond");
}

/// What a peer sent (its Version string, a D-Bus error's text, a SASL line) reaches the
/// output escaped: no added line for node-problem-detector, no terminal control sequence.
#[test]
fn peer_strings_are_escaped_in_text_and_npd_output() {
    let now = Instant::now();
    let evil = "x\n\u{1b}[2Jok: all fine";
    let mut r = assess(&Observation {
        bus: Ok(answer(14, evil, now)),
        bus_again: None,
        private: Err(ProbeError::new(
            ProbeErrorKind::CredentialsRejected,
            "authentication rejected: REJECTED\r\nfake: line",
        )),
        name_owned: None,
    });
    let line = npd_line(&r);
    assert_eq!(line.lines().count(), 1, "{line:?}");
    assert!(!line.contains('\u{1b}'), "{line:?}");
    assert!(line.contains("\\n\\u{1b}[2J"), "{line:?}");
    let t = text(&r);
    assert!(!t.contains('\u{1b}') && !t.contains('\r'), "{t:?}");
    assert!(t.contains("REJECTED\\r\\nfake: line"), "{t:?}");
    assert_eq!(t.lines().count(), 6, "{t}");
    r.message = "tab\there".into();
    assert_eq!(npd_line(&r), "ok: tab\\there");
}

#[test]
fn a_private_socket_that_hangs_up_says_to_run_in_systemds_pid_namespace() {
    // systemd 252 hangs up on private-socket peers from another PID namespace: the reset
    // shows up as ECONNRESET or, when writing, EPIPE.
    for error in [
        "ask systemd on the private socket: I/O on the socket failed: Connection reset by peer (os error 104)",
        "ask systemd on the private socket: I/O on the socket failed: Broken pipe (os error 32)",
    ] {
        let now = Instant::now();
        let r = assess(&Observation {
            bus: Ok(answer(14, "252", now)),
            bus_again: None,
            private: Err(ProbeError::new(ProbeErrorKind::Reset, error)),
            name_owned: None,
        });
        assert!(
            r.message.contains(
                "(the private socket hung up on us: run sdcookie in systemd's PID namespace)"
            ),
            "{error}: {}",
            r.message
        );
    }
}

#[test]
fn no_message_between_two_samples_means_no_rate_to_the_ceiling() {
    // Cookies 1000 and 1001 one second apart: the only message in between was the reply to
    // the doctor's own second request, so systemd's rate is 0 and there is no ETA.
    let t0 = Instant::now();
    let r = assess(&Observation {
        bus: Ok(answer(1000, "241", t0)),
        bus_again: Some(Ok(answer(1001, "241", t0 + Duration::from_secs(1)))),
        private: Ok(answer(2, "241", t0)),
        name_owned: None,
    });
    assert_eq!(r.rate_per_sec, Some(0.0));
    assert_eq!(r.eta_seconds, None);
    assert!(!text(&r).contains("ceiling in:"), "{}", text(&r));
}

#[test]
fn a_cookie_going_down_on_a_vulnerable_systemd_is_a_new_connection_without_rate() {
    // Before v242 the counter never wraps: a lower cookie is a re-executed systemd.
    let t0 = Instant::now();
    let r = assess(&Observation {
        bus: Ok(answer(0xf000_0000, "241", t0)),
        bus_again: Some(Ok(answer(0x8000_0010, "241", t0 + Duration::from_secs(1)))),
        private: Ok(answer(2, "241", t0)),
        name_owned: None,
    });
    assert_eq!(r.rate_per_sec, None);
    assert_eq!(r.cookie, Some(0x8000_0010));
    // From v242 on the same drop is the wrap from 0xffffffff to 0x80000000:
    // 0x0fffffff up to the ceiling, 0x11 from 0x80000000, minus our own reply.
    let r = assess(&Observation {
        bus: Ok(answer(0xf000_0000, "252", t0)),
        bus_again: Some(Ok(answer(0x8000_0010, "252", t0 + Duration::from_secs(1)))),
        private: Ok(answer(2, "252", t0)),
        name_owned: None,
    });
    assert_eq!(r.rate_per_sec, Some(268_435_471.0));
}
