//! What a reproduction reports: one run per PID 1, its claims, and what the text report
//! shows beyond the JSON fields (whose names are the report's contract).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::runtimes::RuntimeRun;

use sdcookie::report::Verdict;
use serde::Serialize;

/// Which of the two PID 1s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Upstream as released.
    Stock,
    /// Upstream with our backport.
    Patched,
}

impl Build {
    fn as_str(self) -> &'static str {
        match self {
            Build::Stock => "stock",
            Build::Patched => "patched",
        }
    }
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stock PID 1 after `systemctl daemon-reexec`.
#[derive(Debug, Clone, Serialize)]
pub struct Reexec {
    /// `Manager.Version` of the re-executed PID 1 (the doctor's reading).
    pub systemd_version: Option<String>,
    /// Its API-bus cookie (a fresh connection: small).
    pub cookie: Option<u32>,
    /// The doctor's verdict afterwards.
    pub doctor_verdict: Verdict,
}

/// One claim and whether it held.
#[derive(Debug, Clone)]
pub struct Claim {
    /// It held.
    pub ok: bool,
    /// What was claimed and what was seen.
    pub what: String,
}

/// What the text report shows beyond the JSON fields.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// The PID 1 binary.
    pub binary: PathBuf,
    /// Boot time (s).
    pub boot_seconds: f64,
    /// The value PID 1's cookie had when gdb stopped it.
    pub cookie_found: Option<u64>,
    /// gdb's time from attach to detach (s).
    pub gdb_seconds: f64,
    /// The first serial of systemd the client saw after gdb.
    pub first_serial_seen: u32,
    /// Lifecycles before the edge.
    pub lifecycles_before_edge: u64,
    /// Time from the failing call to the client's error (s).
    pub detect_seconds: Option<f64>,
    /// systemd's name had an owner right after the failed call.
    pub on_bus_after_failure: Option<bool>,
    /// ... and after the doctor's probe.
    pub on_bus_after_doctor: Option<bool>,
    /// `systemctl show -p Version --value` over the private socket.
    pub private_systemctl: Option<String>,
    /// The doctor's message after the edge.
    pub doctor_message: String,
    /// The doctor's cycled flag after the edge.
    pub doctor_cycled: Option<bool>,
    /// How the unbounded caller ended: "killed by pid N" or what it printed.
    pub unbounded_end: Option<String>,
    /// How `/usr/lib/systemd/systemd` was made the same binary.
    pub reexec_mount: Option<String>,
    /// Seconds from `daemon-reexec` until systemd owned its name again.
    pub reexec_seconds: Option<f64>,
    /// The failed call's unit was still loaded after the way out.
    pub left_behind: Option<bool>,
    /// systemd's serial as the client last saw it.
    pub last_serial: u32,
    /// Client calls answered.
    pub replies: u64,
    /// systemd's console lines about its API bus.
    pub systemd_log: Vec<String>,
    /// The claims checked.
    pub claims: Vec<Claim>,
    /// The whole run (s).
    pub seconds: f64,
}

/// One PID 1's results; the fields that are serialised are the report's contract.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `Manager.Version` (e.g. "241").
    pub systemd_version: String,
    /// The value gdb wrote into PID 1's API-bus cookie.
    pub cookie_set_to: u32,
    /// The last serial systemd sent before the edge (0xffffffff when the edge was seen).
    pub last_serial_before_edge: u32,
    /// The serial systemd sent after 0xffffffff; None if none came.
    pub first_serial_after_edge: Option<u32>,
    /// The client's error at the edge ("timeout: ..." for its typed timeout).
    pub client_error: Option<String>,
    /// The doctor's verdict after the edge.
    pub doctor_verdict: Verdict,
    /// The doctor found systemd answering on the bus.
    pub bus_responsive: bool,
    /// The doctor found systemd answering on its private socket.
    pub private_socket_responsive: bool,
    /// Scope lifecycles that succeeded after the edge.
    pub lifecycles_after_edge: u64,
    /// Client operations after the edge that returned an error.
    pub failed_calls: u64,
    /// Stock only: the operator's way out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reexec: Option<Reexec>,
    /// Stock only: how long the caller without a deadline was blocked before we ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unbounded_caller_blocked_s: Option<f64>,
    /// The runtimes on this PID 1, by name.
    pub runtimes: BTreeMap<String, RuntimeRun>,
    /// For the text report.
    #[serde(skip)]
    pub details: Details,
}

/// The report: `{"stock": {...}, "patched": {...}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The stock PID 1.
    pub stock: Run,
    /// The patched PID 1.
    pub patched: Run,
}
