//! Typed errors. Each says which step failed and carries what is needed to act on it.
//! An error with an error under it returns that from
//! [`source`](std::error::Error::source) and leaves it out of its own message (the Rust API
//! guidelines' C-GOOD-ERR); [`Chain`] prints the whole chain on one line.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What the boot was waiting for when its deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootStage {
    /// systemd had not yet created `/run/dbus/system_bus_socket` (from `dbus.socket`).
    BusSocket,
    /// The socket existed but dbus-daemon did not complete the D-Bus handshake.
    DbusDaemon,
    /// dbus-daemon answered, but `org.freedesktop.systemd1` did not (systemd had not joined
    /// the bus, or did not answer `Properties.Get(Version)`).
    Systemd1,
}

impl fmt::Display for BootStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BootStage::BusSocket => {
                "the system bus socket /run/dbus/system_bus_socket (dbus.socket)"
            }
            BootStage::DbusDaemon => "dbus-daemon (dbus.service) answering on the sandbox bus",
            BootStage::Systemd1 => "org.freedesktop.systemd1 answering on the sandbox bus",
        })
    }
}

/// Everything that can go wrong booting, using or tearing down a sandbox.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Booting needs root (namespaces, mounts, cgroups). Checked before anything changes.
    NotRoot {
        /// The effective uid we run as.
        euid: u32,
    },
    /// The kernel does not offer a namespace type we need. Checked before anything changes.
    NoNamespaces {
        /// `pid`, `mnt`, `cgroup` or `uts`.
        namespace: &'static str,
        /// Why `/proc/self/ns/<namespace>` could not be read.
        source: io::Error,
    },
    /// The systemd binary to boot is missing or not executable. Checked before anything changes.
    NoSystemd {
        /// The path that was tried.
        path: PathBuf,
    },
    /// dbus-daemon or its system bus configuration is missing. Checked before anything changes.
    NoDbusDaemon {
        /// The path that was tried (the binary or `system.conf`).
        path: PathBuf,
    },
    /// No usable cgroup hierarchy on the host. Checked before anything changes.
    NoCgroups {
        /// What was found instead.
        detail: String,
    },
    /// An option is unusable (e.g. a unit file name with a `/`).
    InvalidOption {
        /// What is wrong with it.
        detail: String,
    },
    /// A host-side step failed (creating the cgroup subtree, reading `/proc`).
    Io {
        /// The step, e.g. "creating cgroup /sys/fs/cgroup/memory/sandbox-1-0-ab".
        step: String,
        /// The OS error.
        source: io::Error,
    },
    /// Preparing the namespaces inside the new PID 1 failed, or exec'ing systemd failed.
    Pid1Setup {
        /// The step, e.g. "mount tmpfs on /sys/fs/cgroup" or "exec /lib/systemd/systemd".
        step: String,
        /// The OS error.
        source: io::Error,
    },
    /// The sandbox's PID 1 exited during boot.
    Pid1Exited {
        /// How it ended, e.g. "exit status 1" or "signal 6".
        status: String,
        /// What PID 1 wrote to its console so far.
        log: String,
    },
    /// The boot deadline passed before the sandbox came up.
    BootTimeout {
        /// What did not come up.
        stage: BootStage,
        /// The deadline that passed.
        waited: Duration,
        /// The last error seen while waiting for `stage`, if any.
        last_error: Option<String>,
        /// What PID 1 wrote to its console so far.
        log: String,
    },
    /// Starting a process inside the sandbox failed.
    Spawn {
        /// The step that failed.
        step: String,
        /// The OS error, if there was one.
        source: Option<io::Error>,
    },
    /// A cgroup could not be found or read for a unit.
    NoCgroupFile {
        /// The unit's control group, relative to the sandbox root.
        control_group: String,
        /// The file asked for.
        file: String,
    },
    /// gdb could not move PID 1's API-bus cookie ([`Sandbox::set_api_bus_cookie`](crate::Sandbox::set_api_bus_cookie)).
    Gdb {
        /// What kind of failure.
        kind: crate::GdbFailure,
        /// gdb's own words (its last lines).
        detail: String,
    },
    /// The process is stopping: [`teardown_all`](crate::teardown_all) has run, and no
    /// sandbox boots after it.
    Stopping,
    /// Teardown could not remove a cgroup of the subtree.
    Teardown {
        /// The cgroup directory that stayed.
        path: PathBuf,
        /// Why `rmdir` failed.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(step: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            step: step.into(),
            source,
        }
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(20);
    if lines.is_empty() {
        String::from(" (PID 1 wrote nothing)")
    } else {
        format!("; last lines PID 1 wrote:\n{}", lines[start..].join("\n"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotRoot { euid } => write!(f, "the sandbox needs root (running as uid {euid})"),
            Error::NoNamespaces { namespace, .. } => {
                write!(
                    f,
                    "the kernel offers no {namespace} namespaces (/proc/self/ns/{namespace})"
                )
            }
            Error::NoSystemd { path } => write!(f, "no executable systemd at {}", path.display()),
            Error::NoDbusDaemon { path } => {
                write!(
                    f,
                    "dbus-daemon is not installed: {} is missing (Debian: apt-get install dbus)",
                    path.display()
                )
            }
            Error::NoCgroups { detail } => {
                write!(f, "no usable cgroup hierarchy on the host: {detail}")
            }
            Error::InvalidOption { detail } => write!(f, "invalid sandbox option: {detail}"),
            Error::Io { step, .. } => f.write_str(step),
            Error::Pid1Setup { step, .. } => write!(f, "sandbox PID 1 failed to {step}"),
            Error::Pid1Exited { status, log } => write!(
                f,
                "sandbox PID 1 exited during boot ({status}){}",
                tail(log)
            ),
            Error::BootTimeout {
                stage,
                waited,
                last_error,
                log,
            } => {
                write!(f, "sandbox did not come up within {waited:?}: no {stage}")?;
                if let Some(e) = last_error {
                    write!(f, " (last error: {e})")?;
                }
                f.write_str(&tail(log))
            }
            Error::Spawn { step, .. } => write!(f, "spawning in the sandbox: {step}"),
            Error::NoCgroupFile {
                control_group,
                file,
            } => {
                write!(
                    f,
                    "no cgroup file {file} for control group {control_group} in any hierarchy"
                )
            }
            Error::Gdb { kind, detail } => {
                write!(f, "move PID 1's API-bus cookie with gdb: {kind}: {detail}")
            }
            Error::Stopping => f.write_str(
                "not booted: every sandbox of this process was torn down (it is stopping)",
            ),
            Error::Teardown { path, .. } => {
                write!(f, "could not remove cgroup {}", path.display())
            }
        }
    }
}

/// An error and every source under it, `: `-separated: what a log line of this crate prints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::NoNamespaces { source, .. }
            | Error::Io { source, .. }
            | Error::Pid1Setup { source, .. }
            | Error::Teardown { source, .. } => Some(source),
            Error::Spawn {
                source: Some(e), ..
            } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Chain, Error};
    use std::error::Error as _;
    use std::io;

    #[test]
    fn an_os_error_is_the_source_and_the_chain_says_it_once() {
        let e = Error::Teardown {
            path: "/sys/fs/cgroup/sandbox-1".into(),
            source: io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert_eq!(
            e.to_string(),
            "could not remove cgroup /sys/fs/cgroup/sandbox-1"
        );
        let source = e.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(source.and_then(io::Error::raw_os_error), Some(libc::EBUSY));
        let said = io::Error::from_raw_os_error(libc::EBUSY).to_string();
        assert_eq!(
            Chain(&e).to_string(),
            format!("could not remove cgroup /sys/fs/cgroup/sandbox-1: {said}")
        );
    }
}
