//! The doctor's report, the JSON `sdcookie doctor --format json` prints: a type both the
//! binary that writes it and the programs that read it (sdcookie-lab, the end-to-end
//! tests) use, so a field renamed or retyped on one side fails to compile on the other
//! instead of reading as null.
//!
//! The JSON is serde's rendering of [`Report`]: its fields in declaration order, every one
//! present (unknowns as `null`), the enums in lower or snake case. Changing a field's name,
//! type or order changes what operators' scripts read.

use serde::{Deserialize, Serialize};

/// The doctor's findings; serialised as the `--format json` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The overall answer, in node-problem-detector's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The verdict as the reports spell it: `ok`, `warning`, `critical`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Critical => "critical",
            Verdict::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The failures the doctor's advice depends on; in the JSON report as `bus_error_kind` and
/// `private_error_kind` (snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeErrorKind {
    /// No answer before the step's deadline.
    Timeout,
    /// The peer reset the connection or closed it under our write (`ECONNRESET`, `EPIPE`):
    /// systemd 252 does so to private-socket peers from another PID namespace.
    Reset,
    /// The peer refused our credentials (`AUTH EXTERNAL` rejected): systemd 219 does so to
    /// private-socket peers from another PID namespace.
    CredentialsRejected,
    /// No connection: the socket is missing, refuses connections, is not ours to open
    /// (`EACCES`), or the handshake failed or did not finish. On the bus that is
    /// dbus-daemon's state, not PID 1's.
    ConnectFailed,
    /// The peer sent what is not D-Bus as read here: garbage, a protocol version other
    /// than 1, a message longer than the 1 MiB cap, an authentication line longer than
    /// 4 KiB.
    Malformed,
    /// Anything else: a D-Bus error, a connection closed without a word.
    Other,
}
