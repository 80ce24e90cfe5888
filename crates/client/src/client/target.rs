//! Where the client connects ([`Target`]) and how long it waits ([`Options`]).

use std::time::Duration;

use crate::resources::CgroupMode;

/// Where systemd is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The system bus: `$DBUS_SYSTEM_BUS_ADDRESS`, else `/run/dbus/system_bus_socket`.
    SystemBus,
    /// PID 1's private socket `/run/systemd/private` (direct, no bus, no `Hello`, root only).
    /// It keeps working when dbus-daemon is down. systemd only accepts peers whose pid it
    /// can see, i.e. callers inside its PID namespace.
    SystemdPrivate,
    /// The user's bus: `$DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`, where the
    /// user manager (`systemd --user`) is `org.freedesktop.systemd1`.
    UserBus,
    /// The user manager's private socket `$XDG_RUNTIME_DIR/systemd/private`.
    UserPrivate,
    /// Any D-Bus address; `direct` = a peer-to-peer socket to systemd itself (no bus).
    Address {
        /// A D-Bus address, e.g. `unix:path=/run/dbus/system_bus_socket`.
        address: String,
        /// True for systemd's private socket, false for a bus.
        direct: bool,
    },
}

impl Target {
    /// The D-Bus address and whether it is a direct connection, resolved from the
    /// environment now (so a reconnect sees a changed environment).
    pub fn resolve(&self) -> (String, bool) {
        let runtime_dir = || {
            std::env::var("XDG_RUNTIME_DIR")
                .unwrap_or_else(|_| format!("/run/user/{}", current_uid()))
        };
        match self {
            Target::SystemBus => (
                std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
                    .unwrap_or_else(|_| "unix:path=/run/dbus/system_bus_socket".into()),
                false,
            ),
            Target::SystemdPrivate => ("unix:path=/run/systemd/private".into(), true),
            Target::UserBus => (
                std::env::var("DBUS_SESSION_BUS_ADDRESS")
                    .unwrap_or_else(|_| format!("unix:path={}/bus", runtime_dir())),
                false,
            ),
            Target::UserPrivate => (format!("unix:path={}/systemd/private", runtime_dir()), true),
            Target::Address { address, direct } => (address.clone(), *direct),
        }
    }
}

fn current_uid() -> u32 {
    // /proc/self is ours; avoids a libc dependency for one number.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        })
        .and_then(|u| u.parse().ok())
        .unwrap_or(0)
}

/// Deadlines and the cgroup mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Socket connect + authentication + handshake calls.
    pub connect_timeout: Duration,
    /// Each method call (systemd's own default method timeout is 25 s).
    pub call_timeout: Duration,
    /// Each wait for `JobRemoved` (runc waits 30 s).
    pub job_timeout: Duration,
    /// Property names for v1/hybrid or v2. `None` = detect from `/sys/fs/cgroup` like runc.
    pub cgroup_mode: Option<CgroupMode>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(25),
            job_timeout: Duration::from_secs(30),
            cgroup_mode: None,
        }
    }
}

impl Options {
    /// Sets all three deadlines.
    pub fn with_timeouts(mut self, connect: Duration, call: Duration, job: Duration) -> Self {
        self.connect_timeout = connect;
        self.call_timeout = call;
        self.job_timeout = job;
        self
    }

    /// Forces the cgroup mode.
    pub fn with_cgroup_mode(mut self, mode: CgroupMode) -> Self {
        self.cgroup_mode = Some(mode);
        self
    }
}
