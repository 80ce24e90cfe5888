//! `sdcookie doctor`: how close is PID 1's API-bus cookie to 0xffffffff?
//!
//! The serial in the header of every message systemd sends on its bus connection *is* that
//! connection's cookie (sd-bus seals each message with `++cookie`), so the serial of
//! systemd's reply to one cheap call, `Properties.Get(Manager, Version)`, reads the cookie
//! without gdb or debug symbols. The same call over the private socket
//! (`/run/systemd/private`: peer to peer, no `Hello`, a connection and cookie of its own)
//! tells whether systemd itself still answers when the bus does not, which is the
//! signature of the pre-v242 overflow (systemd#11809: sealing fails with `-EOPNOTSUPP` on
//! the bus connection only).
//!
//! When systemd answers on its private socket but not on the bus, what callers on the bus
//! meet depends on the release, and the doctor tells the two apart by asking dbus-daemon
//! whether `org.freedesktop.systemd1` still has an owner: v219's PID 1 keeps its name and
//! reads nothing more (sd-bus's `io_callback()` returns the failed seal to sd-event, which
//! disables the connection's source), so callers without a deadline hang; from v237 on
//! PID 1 closes the connection (systemd commit 5ae37ad833, "sd-bus: when attached to an
//! sd-event loop, disconnect on processing errors") and its name has no owner.
//!
//! Invariants: every network step runs under a deadline and the two sockets are asked at
//! the same time, so the whole probe is bounded by about `3 × deadline + interval` (bus:
//! connect, ask, wait, ask again — or, when systemd did not answer, ask dbus-daemon for the
//! name's owner; private socket: connect, ask); the verdict is a pure function of what was
//! observed ([`assess`]), tested without a systemd.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

mod assess;
mod probe;
pub(crate) mod render;

pub use assess::assess;
use probe::{probe_bus, probe_private};
pub use probe::{ProbeError, ProbeErrorKind};
pub use render::{npd_line, prometheus, text};

/// What to probe and how long each step may take.
#[derive(Debug, Clone)]
pub struct Options {
    /// A D-Bus address of the system bus; `None` = `DBUS_SYSTEM_BUS_ADDRESS` or the default.
    pub address: Option<String>,
    /// systemd's private socket.
    pub private: PathBuf,
    /// Sample the bus twice this far apart to measure the rate.
    pub interval: Option<Duration>,
    /// The deadline of each step (connect, call).
    pub timeout: Duration,
}

/// The overall answer, in node-problem-detector's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do.
    Ok,
    /// Act within weeks: a vulnerable systemd is getting close.
    Warning,
    /// Act now: the overflow has happened or is imminent.
    Critical,
    /// No systemd could be asked.
    Unknown,
}

impl Verdict {
    /// node-problem-detector's custom-plugin exit status: 0 ok, 1 problem, 2 unknown.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Warning | Verdict::Critical => 1,
            Verdict::Unknown => 2,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }
}

/// One answer from systemd: the serial of its reply and the `Version` it reported.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The reply's serial = systemd's cookie on that connection.
    pub serial: u32,
    /// `Manager.Version`, e.g. `252.38-1~deb12u1`.
    pub version: String,
    /// When the reply arrived.
    pub at: Instant,
}

/// Everything the probe saw; [`assess`] turns it into a [`Report`].
#[derive(Debug, Clone)]
pub struct Observation {
    /// The first answer on the bus, or why there was none.
    pub bus: Result<Answer, ProbeError>,
    /// The second answer on the bus (with `--interval`), or why there was none.
    pub bus_again: Option<Result<Answer, ProbeError>>,
    /// The answer on the private socket, or why there was none.
    pub private: Result<Answer, ProbeError>,
    /// When systemd did not answer on the bus: whether dbus-daemon said
    /// `org.freedesktop.systemd1` has an owner. `None` if not asked or not answered.
    pub name_owned: Option<bool>,
}

/// The doctor's findings; serialised as the `--format json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Major version (`252`), if systemd answered anywhere.
    pub systemd_version: Option<u32>,
    /// `Manager.Version` as systemd spells it.
    pub systemd_version_string: Option<String>,
    /// PID 1's API-bus cookie (the latest reply serial on the bus).
    pub cookie: Option<u32>,
    /// 0xffffffff.
    pub ceiling: u32,
    /// `ceiling - cookie`.
    pub headroom: Option<u32>,
    /// Cookie in the cycled half (bit 31 set), like the allocator's `has_cycled()`; on v242+
    /// harmless, on older versions it means less than 2^31 messages are left.
    pub cycled: Option<bool>,
    /// Messages per second systemd sent on the bus between two samples (our own second
    /// reply excluded).
    pub rate_per_sec: Option<f64>,
    /// Seconds until the cookie reaches the ceiling at that rate.
    pub eta_seconds: Option<u64>,
    /// Version before 242.
    pub vulnerable: Option<bool>,
    /// systemd answered on the system bus.
    pub bus_responsive: bool,
    /// The system bus accepted our connection (whether or not systemd then answered);
    /// false when its socket is missing, refuses, is not ours to open or the handshake
    /// failed. Only a reachable bus without systemd's answer is the overflow signature.
    pub bus_reachable: bool,
    /// systemd answered on its private socket.
    pub private_responsive: bool,
    /// systemd's cookie on our private connection (a fresh connection, so small).
    pub private_cookie: Option<u32>,
    /// Why the bus did not answer.
    pub bus_error: Option<String>,
    /// When systemd did not answer on the bus: whether its name still had an owner there
    /// (PID 1 deaf on the bus) or not (PID 1 left the bus); null if unknown.
    pub name_owned: Option<bool>,
    /// Why the private socket did not answer.
    pub private_error: Option<String>,
    /// The kind of `bus_error` (`timeout`, `reset`, `credentials_rejected`,
    /// `connect_failed`, `malformed`, `other`).
    pub bus_error_kind: Option<ProbeErrorKind>,
    /// The kind of `private_error`.
    pub private_error_kind: Option<ProbeErrorKind>,
    /// ok, warning, critical, unknown.
    pub verdict: Verdict,
    /// One line for humans and node-problem-detector.
    pub message: String,
}

/// Probes the bus and the private socket (at the same time) and assesses the result.
pub fn run(opts: &Options) -> Report {
    let ((bus, bus_again, name_owned), private) = async_io::block_on(futures_lite::future::zip(
        probe_bus(opts),
        probe_private(opts),
    ));
    assess(&Observation {
        bus,
        bus_again,
        private,
        name_owned,
    })
}

#[cfg(test)]
mod tests {
    use super::assess::*;
    use super::probe::StepError;
    use super::render::*;
    use super::*;
    use sdbus_cgroup::private::PeerError;
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
        let at =
            |c: u32| assess(&obs(Ok(answer(c, "241", now)), Ok(answer(2, "241", now)))).verdict;
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
}
