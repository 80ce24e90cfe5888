//! OCI-style resource limits and their conversion to systemd unit properties.
//!
//! The conversions are runc's (opencontainers/cgroups `systemd/v1.go`, `v2.go`,
//! `common.go`, `utils.go`), checked against systemd's `src/core/dbus-cgroup.c`:
//! which property names exist on cgroup v1 and v2, which systemd version added which
//! property, and that `u64::MAX` means "infinity". Everything is validated before a
//! property list is built, so invalid input never reaches the bus.

use std::fmt;

/// `u64::MAX` is how systemd spells "infinity" for every limit here.
pub const INFINITY: u64 = u64::MAX;

/// The default CFS period (100 ms), used when a quota comes without a period.
pub const DEFAULT_CPU_PERIOD_USEC: u64 = 100_000;

/// Which cgroup hierarchy systemd manages, which decides the property names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupMode {
    /// cgroup v1 or hybrid: `MemoryLimit`, `CPUShares`, `BlockIOWeight`.
    Legacy,
    /// cgroup v2: `MemoryMax`, `CPUWeight`, `IOWeight`, `MemorySwapMax`, ...
    Unified,
}

impl CgroupMode {
    /// runc's rule (`cgroups.IsCgroup2UnifiedMode`): unified iff `/sys/fs/cgroup` itself
    /// is the cgroup2 hierarchy (then it has `cgroup.controllers`); hybrid counts as legacy.
    pub fn detect() -> CgroupMode {
        if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            CgroupMode::Unified
        } else {
            CgroupMode::Legacy
        }
    }
}

/// `DevicePolicy=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DevicePolicy {
    /// Only the listed devices (`DeviceAllow=`).
    Strict,
    /// The listed devices plus /dev/null, zero, full, random, urandom, tty, ptmx.
    Closed,
    /// No restriction unless DeviceAllow= is set.
    Auto,
}

impl DevicePolicy {
    fn as_str(self) -> &'static str {
        match self {
            DevicePolicy::Strict => "strict",
            DevicePolicy::Closed => "closed",
            DevicePolicy::Auto => "auto",
        }
    }
}

/// One `DeviceAllow=` entry: a `/dev/...` node or a `char-*`/`block-*` class, with `rwm`
/// access.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceAllow {
    /// `/dev/null`, `char-pts`, `block-loop`, ...
    pub path: String,
    /// A non-empty subset of `rwm`.
    pub access: String,
}

impl DeviceAllow {
    /// A rule for `path` with `access` (checked by [`Resources::validate`]).
    pub fn new(path: impl Into<String>, access: impl Into<String>) -> Self {
        DeviceAllow {
            path: path.into(),
            access: access.into(),
        }
    }
}

/// One per-device IO setting: a block device node (`/dev/vda`) and a number. systemd
/// resolves the node in its own mount namespace (`lookup_block_device()` in its
/// `src/core/cgroup.c`), so the node must exist there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoDeviceLimit {
    /// An absolute path under `/dev/`.
    pub device: String,
    /// Bytes or operations per second (0 = no limit, as in the OCI spec and cgroup v1's
    /// throttle files), or a blkio weight 10..=1000 for [`Resources::blkio_weight_device`].
    pub value: u64,
}

impl IoDeviceLimit {
    /// A setting of `value` for the block device node `device`.
    pub fn new(device: impl Into<String>, value: u64) -> Self {
        IoDeviceLimit {
            device: device.into(),
            value,
        }
    }
}

/// Resource limits, with OCI (`runtime-spec` `LinuxResources`) meanings. `None` leaves a
/// property unset. Built with [`Resources::new`] and one setter per field (or from an OCI
/// spec with the `oci-spec` feature); the fields stay readable and assignable.
///
/// ```
/// use sdbus_cgroup::Resources;
///
/// let r = Resources::new().memory_limit(64 << 20).pids_limit(32);
/// assert_eq!(r.pids_limit, Some(32));
/// r.validate()?;
/// # Ok::<(), sdbus_cgroup::InputError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resources {
    /// Memory limit in bytes; -1 = unlimited. v2 `MemoryMax`, v1 `MemoryLimit`.
    pub memory_limit: Option<i64>,
    /// Soft limit in bytes; -1 = unlimited. v2 `MemoryLow` (v1: not available).
    pub memory_reservation: Option<i64>,
    /// OCI memory+swap total in bytes; -1 = unlimited. v2 `MemorySwapMax = swap - memory`.
    pub memory_swap: Option<i64>,
    /// v2 `MemorySwapMax` in bytes given directly (cgroup v2 `memory.swap.max`; wins over
    /// `memory_swap`).
    pub memory_swap_max: Option<u64>,
    /// v2 `MemoryMin` in bytes (systemd >= 240).
    pub memory_min: Option<u64>,
    /// v2 `MemoryHigh` in bytes; -1 = unlimited.
    pub memory_high: Option<i64>,
    /// CFS shares (v1 `CPUShares`; on v2 converted to `CPUWeight`). 0 = unset.
    pub cpu_shares: Option<u64>,
    /// A cgroup v2 weight given directly, 1..=10000 (wins over `cpu_shares` on v2).
    pub cpu_weight: Option<u64>,
    /// CFS quota in µs per period; -1 = unlimited.
    pub cpu_quota: Option<i64>,
    /// CFS period in µs, 1000..=1000000 (`CPUQuotaPeriodUSec`, systemd >= 242).
    pub cpu_period: Option<u64>,
    /// cpuset list, e.g. `0-3,8` (`AllowedCPUs`, systemd >= 244).
    pub cpus: Option<String>,
    /// memory-node list (`AllowedMemoryNodes`, systemd >= 244).
    pub mems: Option<String>,
    /// Max tasks: 0 → 1 (runc), negative → infinity. `TasksMax`.
    pub pids_limit: Option<i64>,
    /// blkio weight 10..=1000: v1 `BlockIOWeight`, v2 `IOWeight` (converted).
    pub blkio_weight: Option<u64>,
    /// An IO weight given directly, 1..=10000 (v2 `IOWeight`, wins over `blkio_weight`).
    pub io_weight: Option<u64>,
    /// Per-device blkio weights 10..=1000: v1 `BlockIODeviceWeight`, v2 `IODeviceWeight`
    /// (converted like `blkio_weight`).
    pub blkio_weight_device: Vec<IoDeviceLimit>,
    /// Read bytes/s per device: v2 `IOReadBandwidthMax`, v1 `BlockIOReadBandwidth`.
    pub io_read_bps: Vec<IoDeviceLimit>,
    /// Write bytes/s per device: v2 `IOWriteBandwidthMax`, v1 `BlockIOWriteBandwidth`.
    pub io_write_bps: Vec<IoDeviceLimit>,
    /// Read operations/s per device: v2 `IOReadIOPSMax` (systemd has none on v1).
    pub io_read_iops: Vec<IoDeviceLimit>,
    /// Write operations/s per device: v2 `IOWriteIOPSMax` (systemd has none on v1).
    pub io_write_iops: Vec<IoDeviceLimit>,
    /// cgroup v2 `cpu.idle`: `Some(true)` is `CPUWeight=0` (systemd >= 252 writes
    /// `cpu.idle = 1` for it, runc's rule); it wins over `cpu_weight`/`cpu_shares`.
    pub cpu_idle: Option<bool>,
    /// `memory.oom.group`: `OOMPolicy=kill` (true) or `continue` (false); systemd takes it
    /// for scopes only when they are created, and only from v253.
    pub oom_kill_group: Option<bool>,
    /// `DevicePolicy=`.
    pub device_policy: Option<DevicePolicy>,
    /// `DeviceAllow=` entries.
    pub device_allow: Vec<DeviceAllow>,
}

impl Resources {
    /// No limits: every property unset.
    pub fn new() -> Resources {
        Resources::default()
    }

    /// Sets [`memory_limit`](Resources::memory_limit).
    pub fn memory_limit(mut self, value: i64) -> Self {
        self.memory_limit = Some(value);
        self
    }

    /// Sets [`memory_reservation`](Resources::memory_reservation).
    pub fn memory_reservation(mut self, value: i64) -> Self {
        self.memory_reservation = Some(value);
        self
    }

    /// Sets [`memory_swap`](Resources::memory_swap).
    pub fn memory_swap(mut self, value: i64) -> Self {
        self.memory_swap = Some(value);
        self
    }

    /// Sets [`memory_swap_max`](Resources::memory_swap_max).
    pub fn memory_swap_max(mut self, value: u64) -> Self {
        self.memory_swap_max = Some(value);
        self
    }

    /// Sets [`memory_min`](Resources::memory_min).
    pub fn memory_min(mut self, value: u64) -> Self {
        self.memory_min = Some(value);
        self
    }

    /// Sets [`memory_high`](Resources::memory_high).
    pub fn memory_high(mut self, value: i64) -> Self {
        self.memory_high = Some(value);
        self
    }

    /// Sets [`cpu_shares`](Resources::cpu_shares).
    pub fn cpu_shares(mut self, value: u64) -> Self {
        self.cpu_shares = Some(value);
        self
    }

    /// Sets [`cpu_weight`](Resources::cpu_weight).
    pub fn cpu_weight(mut self, value: u64) -> Self {
        self.cpu_weight = Some(value);
        self
    }

    /// Sets [`cpu_quota`](Resources::cpu_quota).
    pub fn cpu_quota(mut self, value: i64) -> Self {
        self.cpu_quota = Some(value);
        self
    }

    /// Sets [`cpu_period`](Resources::cpu_period).
    pub fn cpu_period(mut self, value: u64) -> Self {
        self.cpu_period = Some(value);
        self
    }

    /// Sets [`cpus`](Resources::cpus).
    pub fn cpus(mut self, value: String) -> Self {
        self.cpus = Some(value);
        self
    }

    /// Sets [`mems`](Resources::mems).
    pub fn mems(mut self, value: String) -> Self {
        self.mems = Some(value);
        self
    }

    /// Sets [`pids_limit`](Resources::pids_limit).
    pub fn pids_limit(mut self, value: i64) -> Self {
        self.pids_limit = Some(value);
        self
    }

    /// Sets [`blkio_weight`](Resources::blkio_weight).
    pub fn blkio_weight(mut self, value: u64) -> Self {
        self.blkio_weight = Some(value);
        self
    }

    /// Sets [`io_weight`](Resources::io_weight).
    pub fn io_weight(mut self, value: u64) -> Self {
        self.io_weight = Some(value);
        self
    }

    /// Sets [`blkio_weight_device`](Resources::blkio_weight_device).
    pub fn blkio_weight_device(mut self, value: Vec<IoDeviceLimit>) -> Self {
        self.blkio_weight_device = value;
        self
    }

    /// Sets [`io_read_bps`](Resources::io_read_bps).
    pub fn io_read_bps(mut self, value: Vec<IoDeviceLimit>) -> Self {
        self.io_read_bps = value;
        self
    }

    /// Sets [`io_write_bps`](Resources::io_write_bps).
    pub fn io_write_bps(mut self, value: Vec<IoDeviceLimit>) -> Self {
        self.io_write_bps = value;
        self
    }

    /// Sets [`io_read_iops`](Resources::io_read_iops).
    pub fn io_read_iops(mut self, value: Vec<IoDeviceLimit>) -> Self {
        self.io_read_iops = value;
        self
    }

    /// Sets [`io_write_iops`](Resources::io_write_iops).
    pub fn io_write_iops(mut self, value: Vec<IoDeviceLimit>) -> Self {
        self.io_write_iops = value;
        self
    }

    /// Sets [`cpu_idle`](Resources::cpu_idle).
    pub fn cpu_idle(mut self, value: bool) -> Self {
        self.cpu_idle = Some(value);
        self
    }

    /// Sets [`oom_kill_group`](Resources::oom_kill_group).
    pub fn oom_kill_group(mut self, value: bool) -> Self {
        self.oom_kill_group = Some(value);
        self
    }

    /// Sets [`device_policy`](Resources::device_policy).
    pub fn device_policy(mut self, value: DevicePolicy) -> Self {
        self.device_policy = Some(value);
        self
    }

    /// Sets [`device_allow`](Resources::device_allow).
    pub fn device_allow(mut self, value: Vec<DeviceAllow>) -> Self {
        self.device_allow = value;
        self
    }
}

/// A property left out of a [`PropertyPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// The systemd property name.
    pub property: &'static str,
    /// Why it was left out: the cgroup mode has no such property, this systemd does not
    /// expose it, or its release does not accept it.
    pub reason: &'static str,
    /// The first systemd release that accepts it, when the release is why it was left out
    /// (see [`SINCE`](crate::releases::SINCE)).
    pub needs: Option<u32>,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.property, self.reason)?;
        if let Some(n) = self.needs {
            write!(f, " (systemd >= {n})")?;
        }
        Ok(())
    }
}

mod convert;
mod plan;
mod validate;
mod value;

pub use convert::{blkio_to_io_weight, cpuset_to_bits, quota_per_sec, shares_to_weight, tasks_max};
pub(crate) use plan::{gate, Apply};
pub use value::{PropertyPlan, PropertyValue};

#[cfg(test)]
mod tests;
