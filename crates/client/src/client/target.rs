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

/// The deadlines of [`Options`]: one per step, and one for a whole operation.
///
/// Each step's deadline bounds one wait (the connect handshake, one method call, one
/// `JobRemoved`); [`operation`](Timeouts::operation) bounds everything one operation of
/// [`Client`](crate::Client)/[`AsyncClient`](crate::AsyncClient) does together: a
/// reconnect, its calls and its job waits (a `start_scope` that resets a leftover unit and
/// retries makes five waits). Whichever passes first ends the operation with
/// [`Error::Timeout`](crate::Error::Timeout); for the operation's deadline its step is
/// [`Step::Operation`](crate::Step::Operation).
///
/// ```
/// use std::time::Duration;
/// use sdbus_cgroup::{Options, Timeouts};
///
/// let opts = Options::default().with_timeouts(
///     Timeouts::default()
///         .call(Duration::from_secs(5))
///         .operation(Duration::from_secs(15)),
/// );
/// assert_eq!(opts.timeouts().job, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Socket connect, authentication and the handshake calls, together (default 10 s).
    pub connect: Duration,
    /// Each method call (default 25 s, systemd's own default method timeout).
    pub call: Duration,
    /// Each wait for a job's `JobRemoved` (default 30 s, as runc waits).
    pub job: Duration,
    /// A whole operation: connect, calls and job waits together (default 60 s).
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            call: Duration::from_secs(25),
            job: Duration::from_secs(30),
            operation: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    /// Every step (the connect, each call, each job wait) bounded by `step`, and an
    /// operation by `3 × step`: time for one of each (saturating at `Duration::MAX`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use sdbus_cgroup::Timeouts;
    ///
    /// let t = Timeouts::per_step(Duration::from_secs(2));
    /// let two = Duration::from_secs(2);
    /// assert_eq!((t.connect, t.call, t.job), (two, two, two));
    /// assert_eq!(t.operation, Duration::from_secs(6));
    /// assert_eq!(Timeouts::per_step(Duration::MAX).operation, Duration::MAX);
    /// ```
    pub fn per_step(step: Duration) -> Self {
        Timeouts {
            connect: step,
            call: step,
            job: step,
            operation: step.saturating_mul(3),
        }
    }

    /// Sets the deadline of the connect handshake.
    pub fn connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }

    /// Sets the deadline of each method call.
    pub fn call(mut self, d: Duration) -> Self {
        self.call = d;
        self
    }

    /// Sets the deadline of each job wait.
    pub fn job(mut self, d: Duration) -> Self {
        self.job = d;
        self
    }

    /// Sets the deadline of a whole operation.
    pub fn operation(mut self, d: Duration) -> Self {
        self.operation = d;
        self
    }
}

/// How the client waits ([`Timeouts`]) and which cgroup property names it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// The deadlines (see [`Timeouts`]).
    pub timeouts: Timeouts,
    /// Property names for v1/hybrid or v2. `None` = detect from `/sys/fs/cgroup` like runc.
    pub cgroup_mode: Option<CgroupMode>,
}

impl Options {
    /// Sets the deadlines.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Forces the cgroup mode instead of detecting it.
    pub fn with_cgroup_mode(mut self, mode: CgroupMode) -> Self {
        self.cgroup_mode = Some(mode);
        self
    }

    /// The deadlines in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }
}
