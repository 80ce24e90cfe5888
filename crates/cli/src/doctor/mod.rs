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
mod tests;
