//! The doctor's pieces one by one: the assessment of what the probes saw, the rendering of
//! each format, and how probe failures are classified.

use crate::doctor::assess::*;
use crate::doctor::probe::StepError;
use crate::doctor::render::*;
use crate::doctor::*;
use sdbus_cgroup::private_socket::PeerError;
use std::time::UNIX_EPOCH;

fn answer(serial: u32, version: &str, at: Instant) -> Answer {
    Answer {
        serial,
        version: version.into(),
        at,
    }
}

fn obs(bus: Result<Answer, ProbeError>, private: Result<Answer, ProbeError>) -> Observation {
    Observation {
        bus,
        bus_again: None,
        private,
        name_owned: None,
    }
}

#[test]
fn fixed_version_with_room_is_ok() {
    let now = Instant::now();
    let r = assess(&obs(
        Ok(answer(1234, "252.38-1~deb12u1", now)),
        Ok(answer(3, "252.38-1~deb12u1", now)),
    ));
    assert_eq!(r.verdict, Verdict::Ok);
    assert_eq!(r.systemd_version, Some(252));
    assert_eq!(r.vulnerable, Some(false));
    assert_eq!(r.headroom, Some(CEILING - 1234));
    assert_eq!(r.cycled, Some(false));
    assert!(r.bus_responsive && r.private_responsive);
}

#[test]
fn fixed_version_in_cycled_half_is_still_ok() {
    let now = Instant::now();
    let r = assess(&obs(
        Ok(answer(0xfffffff0, "252", now)),
        Ok(answer(3, "252", now)),
    ));
    assert_eq!(r.verdict, Verdict::Ok);
    assert_eq!(r.cycled, Some(true));
}

#[test]
fn vulnerable_version_thresholds_on_headroom() {
    let now = Instant::now();
    let at = |c: u32| assess(&obs(Ok(answer(c, "241", now)), Ok(answer(2, "241", now)))).verdict;
    assert_eq!(at(1000), Verdict::Ok);
    assert_eq!(at(CEILING - WARN_HEADROOM), Verdict::Ok);
    assert_eq!(at(CEILING - WARN_HEADROOM + 1), Verdict::Warning);
    assert_eq!(at(CEILING - CRIT_HEADROOM + 1), Verdict::Critical);
}

#[test]
fn vulnerable_version_thresholds_on_eta() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(10);
    // 0x40000000 headroom left is far above 10%, but 1e4 msgs/s reaches it in ~1.2 days.
    let c0 = CEILING - 0x4000_0000 - 100_001;
    let mut o = obs(Ok(answer(c0, "241", t0)), Ok(answer(2, "241", t1)));
    o.bus_again = Some(Ok(answer(c0 + 100_001, "241", t1)));
    let r = assess(&o);
    assert_eq!(r.rate_per_sec, Some(10_000.0));
    assert_eq!(r.eta_seconds, Some(0x4000_0000 / 10_000));
    assert_eq!(r.verdict, Verdict::Warning);
    // The same numbers on a fixed version are fine.
    let mut o = obs(Ok(answer(c0, "252", t0)), Ok(answer(2, "252", t1)));
    o.bus_again = Some(Ok(answer(c0 + 100_001, "252", t1)));
    assert_eq!(assess(&o).verdict, Verdict::Ok);
}

#[test]
fn wrap_to_cycled_counts_as_progress_on_fixed_versions() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(1);
    let mut o = obs(Ok(answer(CEILING - 9, "252", t0)), Ok(answer(2, "252", t1)));
    o.bus_again = Some(Ok(answer(CYCLED + 10, "252", t1)));
    // 9 up to the ceiling, 11 from 0x80000000 to +10, minus our own reply.
    assert_eq!(assess(&o).rate_per_sec, Some(19.0));
}

#[test]
fn private_answering_while_bus_silent_is_the_overflow_signature() {
    let now = Instant::now();
    let r = assess(&obs(Err("timeout".into()), Ok(answer(2, "241", now))));
    assert_eq!(r.verdict, Verdict::Critical);
    assert!(
        r.message.contains("cookie-overflow signature"),
        "{}",
        r.message
    );
    assert!(!r.bus_responsive && r.private_responsive);
    assert_eq!(r.systemd_version, Some(241));
}

/// v219 at the edge keeps its name on the bus and reads nothing; v237+ leaves the bus.
/// What dbus-daemon says about the name decides, whatever the version says.
#[test]
fn silent_bus_says_deaf_when_systemd_holds_its_name_and_left_when_not() {
    let now = Instant::now();
    for (version, owned, want, not) in [
        (
            "219",
            Some(true),
            "PID 1 is deaf on the bus, callers without a deadline hang",
            "left the bus",
        ),
        (
            "241",
            Some(true),
            "PID 1 is deaf on the bus, callers without a deadline hang",
            "left the bus",
        ),
        ("241", Some(false), "PID 1 left the bus", "deaf"),
        ("219", Some(false), "PID 1 left the bus", "deaf"),
        (
            "219",
            None,
            "PID 1 is deaf on the bus, callers without a deadline hang (as v219 does",
            "left the bus",
        ),
        ("241", None, "PID 1 left the bus", "deaf"),
        ("237", None, "PID 1 left the bus", "deaf"),
    ] {
        let mut o = obs(Err("timeout".into()), Ok(answer(2, version, now)));
        o.name_owned = owned;
        let r = assess(&o);
        assert_eq!(r.verdict, Verdict::Critical);
        assert_eq!(r.name_owned, owned);
        assert!(
            r.message.contains(want),
            "{version} {owned:?}: {}",
            r.message
        );
        assert!(
            !r.message.contains(not),
            "{version} {owned:?}: {}",
            r.message
        );
        assert!(
            r.message.contains("'systemctl daemon-reexec'"),
            "{}",
            r.message
        );
    }
}

#[test]
fn a_rejected_private_socket_says_where_to_run() {
    let now = Instant::now();
    let r = assess(&obs(
        Ok(answer(9, "219", now)),
        Err(ProbeError::new(
            ProbeErrorKind::CredentialsRejected,
            "ask systemd on the private socket: authentication rejected: REJECTED",
        )),
    ));
    assert_eq!(r.verdict, Verdict::Ok);
    assert!(
        r.message
            .contains("rejected our credentials: run sdcookie in systemd's PID namespace"),
        "{}",
        r.message
    );
}

#[test]
fn a_private_socket_that_hangs_up_says_where_to_run() {
    let now = Instant::now();
    let r = assess(&obs(
        Ok(answer(9, "252", now)),
        Err(ProbeError::new(
            ProbeErrorKind::Reset,
            "ask systemd on the private socket: I/O on the socket failed: Connection reset by peer (os error 104)",
        )),
    ));
    assert_eq!(r.verdict, Verdict::Ok);
    assert!(
        r.message
            .contains("hung up on us: run sdcookie in systemd's PID namespace"),
        "{}",
        r.message
    );
}

/// The advice follows the kind of failure, not its wording.
#[test]
fn probe_failures_are_classified_by_kind_not_by_text() {
    use std::io::{Error as IoError, ErrorKind};
    let step = "ask systemd on the private socket";
    let raw = |source| ProbeError::from(StepError::Private { step, source });
    for (io, want) in [
        (ErrorKind::ConnectionReset, ProbeErrorKind::Reset),
        (ErrorKind::BrokenPipe, ProbeErrorKind::Reset),
        (ErrorKind::UnexpectedEof, ProbeErrorKind::Other),
        (ErrorKind::NotFound, ProbeErrorKind::Other),
    ] {
        // The same words in another kind's message do not change the kind.
        let e = raw(PeerError::Io(IoError::new(io, "reset by peer")));
        assert_eq!(e.kind, want, "{io:?}");
    }
    assert_eq!(
        raw(PeerError::CredentialsRejected("REJECTED EXTERNAL".into())).kind,
        ProbeErrorKind::CredentialsRejected
    );
    // A peer that sent what is not D-Bus (past the 1 MiB cap, an endless SASL line).
    assert_eq!(
        raw(PeerError::Malformed("message too long")).kind,
        ProbeErrorKind::Malformed
    );
    let timeout = ProbeError::from(StepError::Timeout {
        step,
        after: Duration::from_secs(3),
    });
    assert_eq!(timeout.kind, ProbeErrorKind::Timeout);
    assert_eq!(
        timeout.message,
        "ask systemd on the private socket: no answer within 3s"
    );
    let bus_reset = ProbeError::from(StepError::Dbus {
        step: "ask systemd on the bus",
        source: zbus::Error::InputOutput(std::sync::Arc::new(IoError::from(
            ErrorKind::ConnectionReset,
        ))),
    });
    assert_eq!(bus_reset.kind, ProbeErrorKind::Reset);
    // The message is the whole chain: the step, then each error under it, said once
    // (zbus says its I/O error in its message and as its source).
    assert_eq!(
        bus_reset.message,
        "ask systemd on the bus: I/O error: connection reset"
    );
    assert_eq!(
        raw(PeerError::Io(IoError::new(
            ErrorKind::BrokenPipe,
            "pipe gone"
        )))
        .message,
        "ask systemd on the private socket: I/O on the socket failed: pipe gone"
    );
}

/// Only a bus that accepted the connection and then got no answer from systemd is the
/// overflow signature: a missing, refusing or forbidden socket, or a handshake that
/// never finished, is a connect failure with advice about dbus-daemon.
#[test]
fn a_bus_that_refuses_the_connection_is_not_the_overflow_signature() {
    use std::io::{Error as IoError, ErrorKind};
    let connect = |io: ErrorKind| {
        ProbeError::from(StepError::Dbus {
            step: "connect to the system bus",
            source: zbus::Error::InputOutput(std::sync::Arc::new(IoError::from(io))),
        })
    };
    let mut failures: Vec<ProbeError> = [
        ErrorKind::NotFound,
        ErrorKind::ConnectionRefused,
        ErrorKind::PermissionDenied,
    ]
    .into_iter()
    .map(connect)
    .collect();
    failures.push(ProbeError::from(StepError::Timeout {
        step: "connect to the system bus",
        after: Duration::from_secs(3),
    }));
    let now = Instant::now();
    for e in failures {
        assert_eq!(e.kind, ProbeErrorKind::ConnectFailed, "{e}");
        let r = assess(&obs(Err(e.clone()), Ok(answer(2, "241", now))));
        assert_eq!(r.verdict, Verdict::Critical, "{e}");
        assert!(!r.bus_reachable && !r.bus_responsive && r.private_responsive);
        assert!(r.message.contains("dbus-daemon"), "{}", r.message);
        assert!(
            r.message.contains("not the cookie-overflow signature"),
            "{}",
            r.message
        );
        assert!(!r.message.contains("daemon-reexec"), "{}", r.message);
    }
    // The same bus, connected, with systemd silent: the signature.
    let r = assess(&obs(
        Err(ProbeError::from(StepError::Timeout {
            step: "ask systemd on the bus",
            after: Duration::from_secs(3),
        })),
        Ok(answer(2, "241", now)),
    ));
    assert!(r.bus_reachable);
    assert!(r.message.contains("daemon-reexec"), "{}", r.message);
    // On the private socket: a failed connect and a call's own deadline.
    let private = |step, source| ProbeError::from(StepError::Private { step, source });
    let refused = PeerError::Io(IoError::from(ErrorKind::ConnectionRefused));
    assert_eq!(
        private("connect to the private socket", refused).kind,
        ProbeErrorKind::ConnectFailed
    );
    let late = PeerError::Timeout {
        call: "get_property",
        after: Duration::from_secs(3),
    };
    assert_eq!(
        private("ask systemd on the private socket", late).kind,
        ProbeErrorKind::Timeout
    );
}

#[test]
fn nothing_answering_is_unknown() {
    let r = assess(&obs(
        Err("connect: no such file".into()),
        Err("connect: no such file".into()),
    ));
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.verdict.exit_code(), 2);
    assert!(r.message.starts_with("no systemd reachable"));
}

#[test]
fn prometheus_output_has_one_sample_per_metric() {
    let now = Instant::now();
    let r = assess(&obs(Ok(answer(77, "252", now)), Ok(answer(3, "252", now))));
    let p = prometheus(&r, UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
    assert!(p.contains("\nsdcookie_systemd_cookie 77\n"));
    assert!(p.contains("\nsdcookie_doctor_last_run_timestamp_seconds 1700000000.250\n"));
    assert!(p.contains("sdcookie_doctor_verdict{verdict=\"ok\"} 1\n"));
    assert!(!p.contains("eta_seconds"), "unknown values are left out");
}

mod rendering;
mod verdicts;
