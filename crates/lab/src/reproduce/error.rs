//! Why a reproduction could not run to the end.

use crate::doctor::DoctorError;

use super::{Build, GdbFailure};

/// Why the reproduction could not run to the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReproduceError {
    /// Building (or finding) the two PID 1s failed.
    #[error("build: {0}")]
    Build(String),
    /// A release whose behaviour at the edge was never measured here.
    #[error(
        "systemd {version}: reproduce knows what releases {known} do at the edge, not this one"
    )]
    UnknownRelease {
        /// The release asked for, or the booted PID 1's version.
        version: String,
        /// The releases it knows.
        known: String,
    },
    /// The sandbox failed.
    #[error("{build}: {step}: sandbox")]
    Sandbox {
        /// stock or patched.
        build: Build,
        /// The step.
        step: &'static str,
        /// What the sandbox crate said.
        source: sdbus_sandbox::Error,
    },
    /// gdb could not move the cookie.
    #[error("{build}: move the API-bus cookie with gdb: {kind}: {detail}")]
    Gdb {
        /// stock or patched.
        build: Build,
        /// What kind of failure.
        kind: GdbFailure,
        /// gdb's own words (its last lines).
        detail: String,
    },
    /// PID 1 died (the sandbox is torn down; its last log lines are included).
    #[error("{build}: PID 1 died during step '{step}'; its last log lines: {log}")]
    Pid1Died {
        /// stock or patched.
        build: Build,
        /// The step during which it was found dead.
        step: &'static str,
        /// The tail of systemd's console log.
        log: String,
    },
    /// The client failed where the reproduction cannot go on.
    #[error("{build}: {step}")]
    Client {
        /// stock or patched.
        build: Build,
        /// The step.
        step: &'static str,
        /// What the client said.
        source: sdbus_cgroup::Error,
    },
    /// A tool (mount, systemctl, busctl) failed.
    #[error("{build}: {step}: {detail}")]
    Tool {
        /// stock or patched.
        build: Build,
        /// The step.
        step: &'static str,
        /// What failed.
        detail: String,
    },
    /// A runtime could not be set up or driven (missing, unexpected version, a bundle that
    /// does not start, a daemon that does not come up).
    #[error("{build}: {runtime}: {step}: {detail}")]
    Runtime {
        /// stock or patched.
        build: Build,
        /// runc, crun, containerd or dockerd.
        runtime: &'static str,
        /// The step.
        step: &'static str,
        /// What failed.
        detail: String,
    },
    /// The operator's `sdcookie` is not beside this binary.
    #[error(transparent)]
    Doctor(DoctorError),
    /// One or more claims did not hold (the report was printed).
    #[error("{0} claim(s) did not hold: {1}")]
    Claims(usize, String),
}

impl ReproduceError {
    /// True when the reproduction ran but a claim did not hold (exit 1, not 125).
    pub fn is_check(&self) -> bool {
        matches!(self, ReproduceError::Claims(..))
    }
}
