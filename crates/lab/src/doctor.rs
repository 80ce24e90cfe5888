//! The doctor as an operator runs it: the `sdcookie` binary, inside the sandbox (systemd's
//! private socket answers only peers in its PID namespace), its JSON report read back.
//!
//! sdcookie-lab holds no doctor of its own. It runs the operator's binary from its own
//! directory, where cargo puts both (`target/release/`), so what the demo and the
//! reproduction show is the very binary the nodes run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sdbus_sandbox::Sandbox;
use sdcookie::report::Report;

/// The operator's binary, looked for beside this one.
const OPERATOR: &str = "sdcookie";

/// The doctor could not be found, run or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    /// This binary's own path is unknown.
    #[error("finding our own binary")]
    OwnPath(#[source] std::io::Error),
    /// No `sdcookie` beside this binary.
    #[error(
        "{}: no such file; sdcookie-lab runs the doctor of the operator's binary beside it: \
         build it with `cargo build --release -p sdcookie`",
        .0.display()
    )]
    Missing(PathBuf),
    /// Running it in the sandbox failed.
    #[error("running the doctor")]
    Sandbox(#[from] sdbus_sandbox::Error),
    /// It printed no report (not JSON, or not the report's fields and types).
    #[error("doctor printed no report (its stderr: {stderr})")]
    NoReport {
        /// Why its output is not a report.
        source: serde_json::Error,
        /// What it said on stderr.
        stderr: String,
    },
}

/// The operator's `sdcookie` in the directory of this binary, if it is there.
pub fn operator_binary() -> Result<PathBuf, DoctorError> {
    let exe = std::env::current_exe().map_err(DoctorError::OwnPath)?;
    let path = exe.with_file_name(OPERATOR);
    if path.is_file() {
        Ok(path)
    } else {
        Err(DoctorError::Missing(path))
    }
}

/// `OPERATOR doctor --format json [--timeout T]` inside `sandbox`, on its own system bus:
/// its JSON report, read back as the type it was written from.
pub fn report(
    sandbox: &Sandbox,
    operator: &Path,
    timeout: Option<Duration>,
) -> Result<Report, DoctorError> {
    let mut doctor = sandbox.command(operator);
    doctor.args(["doctor", "--format", "json"]);
    if let Some(t) = timeout {
        doctor.arg("--timeout").arg(format!("{}ms", t.as_millis()));
    }
    doctor.as_std_mut().env_remove("DBUS_SYSTEM_BUS_ADDRESS");
    let out = doctor.output()?;
    serde_json::from_slice(&out.stdout).map_err(|source| DoctorError::NoReport {
        source,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}
