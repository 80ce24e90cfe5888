//! `sdcookie-lab sandbox [--systemd PATH] -- CMD ARGS...`: boot a throwaway systemd, run CMD
//! inside its namespaces (so the default system bus, `/run/systemd/private` and
//! `/sys/fs/cgroup` are the sandbox's), tear down, pass CMD's status through. SIGTERM,
//! SIGHUP and SIGINT end CMD with the sandbox, then sdcookie-lab with 128+N.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;

use sdbus_sandbox::{Sandbox, SandboxOptions};

use crate::cli::SandboxArgs;

/// The sandbox could not be booted, used or torn down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The sandbox crate failed (boot, spawn, teardown), with its context.
    #[error("sandbox")]
    Sandbox(#[from] sdbus_sandbox::Error),
    /// Starting or waiting for the command failed.
    #[error("sandbox: running {program}")]
    Wait {
        /// The command.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Boots a sandbox with the default units and, if given, another systemd binary.
pub fn boot(systemd: Option<&PathBuf>) -> Result<Sandbox, SandboxError> {
    let mut opts = SandboxOptions::default();
    if let Some(path) = systemd {
        opts = opts.systemd(path);
    }
    Ok(Sandbox::boot(opts)?)
}

/// A process status as a shell reports it: the exit code, or 128+N for signal N.
pub fn shell_status(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        (None, None) => 125,
    }
}

/// Runs `sandbox`: returns CMD's status.
pub fn run(args: &SandboxArgs) -> Result<u8, SandboxError> {
    let sandbox = boot(args.systemd.as_ref())?;
    let mut cmd = sandbox.command(&args.command[0]);
    cmd.args(&args.command[1..]);
    // Inside, the system bus is the sandbox's own; an inherited address would point out.
    cmd.as_std_mut().env_remove("DBUS_SYSTEM_BUS_ADDRESS");
    // std's spawn of the nsenter command, not SandboxCommand::spawn: that one looks for the
    // forked child's pid and fails when the command is already gone (a fast `exit 42`).
    let mut child = cmd
        .as_std_mut()
        .spawn()
        .map_err(|source| SandboxError::Wait {
            program: args.command[0].clone(),
            source,
        })?;
    // SIGTERM, SIGHUP and SIGINT (also Ctrl-C, which CMD gets too) tear the sandbox down
    // from the stop thread (stop.rs), which kills CMD and ends this wait.
    let status = child.wait().map_err(|source| SandboxError::Wait {
        program: args.command[0].clone(),
        source,
    })?;
    sandbox.shutdown()?;
    Ok(shell_status(status))
}
