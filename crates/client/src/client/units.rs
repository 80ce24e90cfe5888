//! What a caller asks systemd for and gets back: [`Scope`], [`Slice`], [`Started`], and
//! the test-only `PingTarget`.

use crate::resources::{Resources, Skipped};

/// A transient scope to create around running processes (what runc does per container).
/// Built with [`Scope::new`] and its setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scope {
    /// `*.scope`.
    pub name: String,
    /// Parent slice; `None` = systemd's default (`system.slice` for the system manager).
    pub slice: Option<String>,
    /// `Description=`; `None` = a generated one.
    pub description: Option<String>,
    /// Processes to move in (at least one; in systemd's pid namespace).
    pub pids: Vec<u32>,
    /// `Delegate=yes` (runc sets it so the container may manage its subtree).
    pub delegate: bool,
    /// The limits the scope starts with.
    pub resources: Resources,
}

impl Scope {
    /// Sets the parent slice (default: systemd's, `system.slice` for the system manager).
    pub fn slice(mut self, slice: impl Into<String>) -> Scope {
        self.slice = Some(slice.into());
        self
    }

    /// Sets `Description=` (default: a generated one).
    pub fn description(mut self, description: impl Into<String>) -> Scope {
        self.description = Some(description.into());
        self
    }

    /// Sets `Delegate=` (default: yes, as runc).
    pub fn delegate(mut self, delegate: bool) -> Scope {
        self.delegate = delegate;
        self
    }

    /// Sets the limits.
    pub fn resources(mut self, resources: Resources) -> Scope {
        self.resources = resources;
        self
    }

    /// A delegated scope for `pids` with no limits.
    pub fn new(name: impl Into<String>, pids: Vec<u32>) -> Scope {
        Scope {
            name: name.into(),
            slice: None,
            description: None,
            pids,
            delegate: true,
            resources: Resources::default(),
        }
    }
}

/// A transient slice (a parent for scopes, e.g. a pod). Built with [`Slice::new`] and its
/// setters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Slice {
    /// `*.slice`; its parent is implied by the dashes (`a-b.slice` lives in `a.slice`).
    pub name: String,
    /// `Description=`; `None` = a generated one.
    pub description: Option<String>,
    /// The limits the slice starts with.
    pub resources: Resources,
}

impl Slice {
    /// Sets `Description=`.
    pub fn description(mut self, description: impl Into<String>) -> Slice {
        self.description = Some(description.into());
        self
    }

    /// Sets the limits.
    pub fn resources(mut self, resources: Resources) -> Slice {
        self.resources = resources;
        self
    }

    /// A slice with no limits.
    pub fn new(name: impl Into<String>) -> Slice {
        Slice {
            name: name.into(),
            description: None,
            resources: Resources::default(),
        }
    }
}

/// What a successful start did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Started {
    /// The unit name.
    pub unit: String,
    /// The object path of the job systemd ran; `None` when nothing was started
    /// ([`existed`](Started::existed)).
    pub job: Option<String>,
    /// True when a leftover unit of the same name was reset and the start retried.
    pub retried: bool,
    /// True when the unit (a slice) already existed and was active, so nothing was
    /// started and `job` is `None`; its limits were not changed.
    pub existed: bool,
    /// Properties left out for this systemd / cgroup mode.
    pub skipped: Vec<Skipped>,
}

/// Which end a diagnostic ping goes to (feature `test-support`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(not(feature = "test-support"), allow(dead_code))]
pub enum PingTarget {
    /// systemd (`org.freedesktop.DBus.Peer.Ping`).
    Systemd,
    /// The bus driver (`org.freedesktop.DBus.GetId`); bus connections only. It answers even
    /// while systemd is stalled.
    Bus,
}
