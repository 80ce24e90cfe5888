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

mod assess;
mod probe;
pub(crate) mod render;

pub use assess::assess;
pub use probe::ProbeError;
use probe::{probe_bus, probe_private};
pub use render::{npd_line, prometheus, text};
pub use sdcookie::report::{ProbeErrorKind, Report, Verdict};

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
