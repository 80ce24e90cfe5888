//! How to boot a sandbox, and the checks that must pass before anything on the host changes.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{units, Error};

/// Where the sandbox's cgroup subtree goes in each host hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CgroupParent {
    /// Below the cgroup the calling process is in (default). The sandbox stays inside the
    /// caller's own limits, and nothing outside the caller's cgroup is touched. On a pure
    /// cgroup v2 host, controllers are only available inside if the caller's cgroup
    /// already delegates them (`cgroup.subtree_control`); this crate never changes that.
    #[default]
    Current,
    /// Directly below the root of each hierarchy (`/sandbox-<id>`), as in docs/ARCHITECTURE.md §7.
    Root,
}

/// How to boot a sandbox. `SandboxOptions::default()` boots the host's systemd with the
/// minimal unit set and a 30 s deadline.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub(crate) systemd: PathBuf,
    pub(crate) dbus_daemon: PathBuf,
    pub(crate) dbus_config: PathBuf,
    pub(crate) units: Vec<(String, String)>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) boot_timeout: Duration,
    pub(crate) cgroup_parent: CgroupParent,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            systemd: PathBuf::from("/lib/systemd/systemd"),
            dbus_daemon: PathBuf::from("/usr/bin/dbus-daemon"),
            dbus_config: PathBuf::from("/usr/share/dbus-1/system.conf"),
            units: Vec::new(),
            env: Vec::new(),
            boot_timeout: Duration::from_secs(30),
            cgroup_parent: CgroupParent::Current,
        }
    }
}

impl SandboxOptions {
    /// The systemd binary to run as PID 1 (e.g. a patched build). Default `/lib/systemd/systemd`.
    pub fn systemd(mut self, path: impl Into<PathBuf>) -> Self {
        self.systemd = path.into();
        self
    }

    /// The dbus-daemon binary `dbus.service` runs. Default `/usr/bin/dbus-daemon`.
    pub fn dbus_daemon(mut self, path: impl Into<PathBuf>) -> Self {
        self.dbus_daemon = path.into();
        self
    }

    /// Adds a unit file (`name` like `foo.service`) to the sandbox's unit directory. A
    /// unit named like a default one (`default.target`, `dbus.socket`, `dbus.service`,
    /// `system.slice`) replaces it.
    pub fn unit(mut self, name: impl Into<String>, contents: impl Into<String>) -> Self {
        self.units.push((name.into(), contents.into()));
        self
    }

    /// Sets an environment variable for systemd (e.g. `SYSTEMD_LOG_LEVEL=debug`).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long [`Sandbox::boot`](crate::Sandbox::boot) waits for systemd to answer on the bus. Default 30 s.
    pub fn boot_timeout(mut self, timeout: Duration) -> Self {
        self.boot_timeout = timeout;
        self
    }

    /// Where the cgroup subtree goes; see [`CgroupParent`].
    pub fn cgroup_parent(mut self, parent: CgroupParent) -> Self {
        self.cgroup_parent = parent;
        self
    }
}

/// The checks that must pass before anything changes.
pub(crate) fn preflight(options: &SandboxOptions) -> Result<(), Error> {
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 {
        return Err(Error::NotRoot { euid });
    }
    for namespace in ["pid", "mnt", "cgroup", "uts"] {
        if let Err(source) = fs::symlink_metadata(format!("/proc/self/ns/{namespace}")) {
            return Err(Error::NoNamespaces { namespace, source });
        }
    }
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if !executable(&options.systemd) {
        return Err(Error::NoSystemd {
            path: options.systemd.clone(),
        });
    }
    if !executable(&options.dbus_daemon) {
        return Err(Error::NoDbusDaemon {
            path: options.dbus_daemon.clone(),
        });
    }
    if !options.dbus_config.is_file() {
        return Err(Error::NoDbusDaemon {
            path: options.dbus_config.clone(),
        });
    }
    for (name, _) in &options.units {
        units::check_unit_name(name)?;
    }
    Ok(())
}
