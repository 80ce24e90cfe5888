//! What the two binaries share: `sdcookie`, the operator's (`doctor`, `scope`; this
//! package's binary), and `sdcookie-lab` (`sandbox`, `demo`, `reproduce`; `crates/lab`).
//!
//! Only what both need lives here: the parsers of command-line values, the one-line error
//! and exit-status plumbing, the interrupt guard for a command we wait on, the report
//! format option, and the doctor's report type ([`report::Report`]), which the doctor
//! writes as JSON and the lab and the end-to-end tests read back typed. This library, like the whole package, does not depend on the sandbox:
//! the operator's binary runs on every node and carries no namespace, mount or gdb code.

pub mod exit;
pub mod parse;
pub mod report;
pub mod signals;

use clap::ValueEnum;

/// Output formats of `sdcookie doctor` and `sdcookie-lab reproduce` (which writes text for
/// anything but `json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON object.
    Json,
    /// Prometheus text exposition format (node_exporter textfile collector).
    Prometheus,
}
