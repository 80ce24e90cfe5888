//! OCI-style resource limits and their conversion to systemd unit properties.
//!
//! The conversions are runc's (opencontainers/cgroups `systemd/v1.go`, `v2.go`,
//! `common.go`, `utils.go`), checked against systemd's `src/core/dbus-cgroup.c`:
//! which property names exist on cgroup v1 and v2, which systemd version added which
//! property, and that `u64::MAX` means "infinity". Everything is validated before a
//! property list is built, so invalid input never reaches the bus.

use std::fmt;

use zbus::zvariant::Value;

use crate::error::InputError;
use crate::releases::{self, CPU_WEIGHT_IDLE};

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
pub struct DeviceAllow {
    /// `/dev/null`, `char-pts`, `block-loop`, ...
    pub path: String,
    /// A non-empty subset of `rwm`.
    pub access: String,
}

impl DeviceAllow {
    /// A rule.
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
pub struct IoDeviceLimit {
    /// An absolute path under `/dev/`.
    pub device: String,
    /// Bytes or operations per second (0 = no limit, as in the OCI spec and cgroup v1's
    /// throttle files), or a blkio weight 10..=1000 for [`Resources::blkio_weight_device`].
    pub value: u64,
}

impl IoDeviceLimit {
    /// A per-device setting.
    pub fn new(device: impl Into<String>, value: u64) -> Self {
        IoDeviceLimit {
            device: device.into(),
            value,
        }
    }
}

/// Resource limits, with OCI (`runtime-spec` `LinuxResources`) meanings. `None` leaves a
/// property unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// A property list ready to send, plus what was left out because this systemd or this
/// cgroup mode has no such property (runc logs and ignores these; we report them).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyPlan {
    /// `(name, value)` pairs, in a stable order.
    pub properties: Vec<(&'static str, Value<'static>)>,
    /// Properties the input asked for that were left out, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A property left out of a [`PropertyPlan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// The systemd property name.
    pub property: &'static str,
    /// Why.
    pub reason: &'static str,
    /// The first systemd release that accepts it, when the release is why it was left out
    /// (see [`SINCE`](crate::SINCE)).
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

/// Moves every property systemd `version` does not accept (by [`SINCE`](crate::SINCE)) from
/// `props` to `skipped`, keeping the order of both. Every property list the client sends
/// passes through here last, so nothing reaches a systemd that would refuse it.
pub(crate) fn gate(
    props: Vec<(&'static str, Value<'static>)>,
    version: u32,
    skipped: &mut Vec<Skipped>,
) -> Vec<(&'static str, Value<'static>)> {
    let mut kept = Vec::with_capacity(props.len());
    for (name, value) in props {
        if releases::accepts(version, name) {
            kept.push((name, value));
        } else {
            let needs = releases::first_release(name);
            skipped.push(Skipped {
                property: name,
                reason: match needs {
                    Some(_) => "this systemd release does not accept it",
                    None => "not in the client's release table, so never sent",
                },
                needs,
            });
        }
    }
    kept
}

fn range(what: &'static str, v: u64, min: u64, max: u64) -> Result<(), InputError> {
    if v < min || v > max {
        return Err(InputError::OutOfRange {
            what,
            value: i64::try_from(v).unwrap_or(i64::MAX),
            min: min as i64,
            max: max as i64,
        });
    }
    Ok(())
}

fn mem(what: &'static str, v: i64) -> Result<u64, InputError> {
    match v {
        -1 => Ok(INFINITY),
        v if v >= 0 => Ok(v as u64),
        v => Err(InputError::InvalidMemory { what, value: v }),
    }
}

/// Shares (v1) → weight (v2), the formula runc adopted in opencontainers/cgroups
/// (`ConvertCPUSharesToCgroupV2Value`): 2 → 1, 1024 → 100, 262144 → 10000, on a
/// quadratic in log2(shares) so that the default maps to the default. `0` means unset.
///
/// weight = ceil(10^((L² + 125·L) / 612 − 7/34)), L = log2(shares). The code writes 7/34
/// as 126/612 and computes (L² + 125·L − 126) / 612: one rounding (the division) instead of
/// runc's two (division, then subtraction). Measured on x86_64: the exponents differ in the
/// last bit for 108 126 of the shares values 3..=262143, the weights for none; at 1024 shares
/// (L = 10) both exponents are exactly 2.0, so weight 100. The weight depends on the last bit
/// only where 10^exponent lands just above an integer, so fewer roundings is the safer form.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l - 126.0) / 612.0;
    10f64.powf(exponent).ceil() as u64
}

/// runc's `addCpuQuota`: quota·1e6/period µs per second, rounded **up** to a multiple of
/// 10 ms because systemd stores `CPUQuotaPerSecUSec` in percent (10 ms steps per second)
/// and would otherwise round it down below what the user asked. Quota <= 0 → infinity.
pub fn quota_per_sec(quota: i64, period: u64) -> u64 {
    if quota <= 0 {
        return INFINITY;
    }
    let period = if period == 0 {
        DEFAULT_CPU_PERIOD_USEC
    } else {
        period
    };
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period;
    if !per_sec.is_multiple_of(10_000) {
        (per_sec / 10_000 + 1) * 10_000
    } else {
        per_sec
    }
}

/// runc's `ConvertBlkIOToIOWeightValue`: blkio 10..=1000 → io 1..=10000.
pub fn blkio_to_io_weight(blkio: u64) -> u64 {
    1 + (blkio - 10) * 9999 / 990
}

/// OCI `pids.limit` → `TasksMax`: 0 → 1 (OCI: "0 means no new processes", systemd would
/// read 0 as no tasks at all), negative → infinity.
pub fn tasks_max(limit: i64) -> u64 {
    match limit {
        0 => 1,
        l if l < 0 => INFINITY,
        l => l as u64,
    }
}

/// A cpuset list (`0-3,8`) → systemd's `AllowedCPUs` bytes: bit i in byte i/8
/// (little-endian), as runc's `RangeToBits`. Extra spaces and empty elements are allowed
/// like runc; an empty set, a reversed range or a non-number is an error.
pub fn cpuset_to_bits(list: &str) -> Result<Vec<u8>, InputError> {
    /// systemd's CPU_SET limit is 8192 CPUs; the kernel's NR_CPUS max is the same order.
    const MAX_CPU: u64 = 8191;
    let bad = |reason| InputError::InvalidCpuset {
        value: list.to_owned(),
        reason,
    };
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("not a number or range"));
            }
            s.parse::<u64>().map_err(|_| bad("number too large"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(bad("range end below its start"));
        }
        if hi > MAX_CPU {
            return Err(bad("index above 8191"));
        }
        let need = (hi / 8 + 1) as usize;
        if bytes.len() < need {
            bytes.resize(need, 0);
        }
        for i in lo..=hi {
            bytes[(i / 8) as usize] |= 1 << (i % 8);
        }
    }
    if bytes.is_empty() {
        return Err(bad("empty set"));
    }
    Ok(bytes)
}

impl Resources {
    /// Checks every field, independent of systemd version and cgroup mode.
    pub fn validate(&self) -> Result<(), InputError> {
        if let Some(m) = self.memory_limit {
            mem("memory_limit", m)?;
        }
        if let Some(m) = self.memory_reservation {
            mem("memory_reservation", m)?;
        }
        if let Some(m) = self.memory_high {
            mem("memory_high", m)?;
        }
        if let Some(s) = self.memory_swap {
            mem("memory_swap", s)?;
            // runc's ConvertMemorySwapToCgroupV2Value: unlimited swap is fine on its own;
            // a finite one needs a finite memory limit at or below it.
            if s != -1 && s != 0 {
                match self.memory_limit {
                    None | Some(0) | Some(-1) => return Err(InputError::SwapWithoutMemory),
                    Some(m) if s < m => {
                        return Err(InputError::SwapBelowMemory { swap: s, memory: m })
                    }
                    _ => {}
                }
            }
        }
        if let Some(w) = self.cpu_weight {
            range("cpu_weight", w, 1, 10_000)?;
        }
        if let Some(p) = self.cpu_period {
            // systemd's CPUQuotaPeriodUSec= clamps to 1ms..1s; runc passes what it gets, we
            // refuse what systemd would silently change.
            range("cpu_period", p, 1_000, 1_000_000)?;
        }
        if let Some(q) = self.cpu_quota {
            if q < -1 {
                return Err(InputError::OutOfRange {
                    what: "cpu_quota",
                    value: q,
                    min: -1,
                    max: i64::MAX,
                });
            }
        }
        if let Some(l) = self.pids_limit {
            // -1 is unlimited and 0 one task (runc); below -1 is a mistake, as for memory
            // and CPU quota, never "unlimited".
            if l < -1 {
                return Err(InputError::OutOfRange {
                    what: "pids_limit",
                    value: l,
                    min: -1,
                    max: i64::MAX,
                });
            }
        }
        if let Some(c) = &self.cpus {
            cpuset_to_bits(c)?;
        }
        if let Some(m) = &self.mems {
            cpuset_to_bits(m)?;
        }
        if let Some(b) = self.blkio_weight {
            range("blkio_weight", b, 10, 1000)?;
        }
        if let Some(w) = self.io_weight {
            range("io_weight", w, 1, 10_000)?;
        }
        for (what, list) in self.io_device_lists() {
            for l in list {
                let bad = |reason| InputError::InvalidDevice {
                    path: l.device.clone(),
                    reason,
                };
                if !l.device.starts_with("/dev/") || l.device.len() <= 5 {
                    return Err(bad("an IO limit needs a device node under /dev/"));
                }
                if l.device
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(bad("whitespace in path"));
                }
                if what == "blkio_weight_device" {
                    range("blkio_weight_device", l.value, 10, 1000)?;
                }
            }
        }
        for d in &self.device_allow {
            let bad = |reason| InputError::InvalidDevice {
                path: d.path.clone(),
                reason,
            };
            let class = d
                .path
                .strip_prefix("char-")
                .or_else(|| d.path.strip_prefix("block-"));
            match class {
                Some(c) if !c.is_empty() => {}
                Some(_) => return Err(bad("empty device class")),
                None if d.path.starts_with("/dev/") && d.path.len() > 5 => {}
                None => return Err(bad("must be /dev/... or char-*/block-*")),
            }
            if d.path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("whitespace in path"));
            }
            if d.access.is_empty() || !d.access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                return Err(bad("access must be a non-empty subset of \"rwm\""));
            }
        }
        Ok(())
    }

    fn io_device_lists(&self) -> [(&'static str, &[IoDeviceLimit]); 5] {
        [
            ("blkio_weight_device", &self.blkio_weight_device),
            ("io_read_bps", &self.io_read_bps),
            ("io_write_bps", &self.io_write_bps),
            ("io_read_iops", &self.io_read_iops),
            ("io_write_iops", &self.io_write_iops),
        ]
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// Builds the property list for starting a scope in `mode` on systemd `version`, after
    /// [`validate`].
    ///
    /// [`validate`]: Resources::validate
    pub fn to_properties(
        &self,
        mode: CgroupMode,
        version: u32,
    ) -> Result<PropertyPlan, InputError> {
        self.plan(mode, version, Apply::ScopeStart)
    }

    /// The property list for one use: what systemd accepts differs between creating a
    /// scope, creating a slice and changing a running unit (`OOMPolicy=`).
    pub(crate) fn plan(
        &self,
        mode: CgroupMode,
        version: u32,
        apply: Apply,
    ) -> Result<PropertyPlan, InputError> {
        self.validate()?;
        let mut props: Vec<(&'static str, Value<'static>)> = Vec::new();
        let mut skipped = Vec::new();
        let v2 = mode == CgroupMode::Unified;
        let mut skip = |property, reason, needs| {
            skipped.push(Skipped {
                property,
                reason,
                needs,
            })
        };

        // Memory.
        if let Some(m) = self.memory_limit.filter(|&m| m != 0) {
            let name = if v2 { "MemoryMax" } else { "MemoryLimit" };
            props.push((name, Value::U64(mem("memory_limit", m)?)));
        }
        if let Some(m) = self.memory_reservation.filter(|&m| m != 0) {
            if v2 {
                props.push(("MemoryLow", Value::U64(mem("memory_reservation", m)?)));
            } else {
                skip("MemoryLow", "cgroup v1 has no memory.low", None);
            }
        }
        if let Some(m) = self.memory_min {
            if v2 {
                props.push(("MemoryMin", Value::U64(m)));
            } else {
                skip("MemoryMin", "cgroup v1 has no memory.min", None);
            }
        }
        if let Some(m) = self.memory_high {
            if v2 {
                props.push(("MemoryHigh", Value::U64(mem("memory_high", m)?)));
            } else {
                skip("MemoryHigh", "cgroup v1 has no memory.high", None);
            }
        }
        if let Some(s) = self.memory_swap_max {
            if v2 {
                props.push(("MemorySwapMax", Value::U64(s)));
            } else {
                skip(
                    "MemorySwapMax",
                    "systemd has no swap property on cgroup v1",
                    None,
                );
            }
        } else if let Some(s) = self.memory_swap.filter(|&s| s != 0) {
            if v2 {
                let swap = if s == -1 {
                    INFINITY
                } else {
                    // validate() made sure memory_limit is finite and <= s.
                    (s - self.memory_limit.unwrap_or(0)) as u64
                };
                props.push(("MemorySwapMax", Value::U64(swap)));
            } else {
                skip(
                    "MemorySwapMax",
                    "systemd has no swap property on cgroup v1",
                    None,
                );
            }
        }

        if let Some(kill) = self.oom_kill_group {
            match apply {
                Apply::ScopeStart => {
                    let policy = if kill { "kill" } else { "continue" };
                    props.push(("OOMPolicy", Value::from(policy.to_owned())));
                }
                Apply::SliceStart => skip("OOMPolicy", "slices have no OOMPolicy", None),
                Apply::Update => skip(
                    "OOMPolicy",
                    "systemd takes it only when a scope starts",
                    None,
                ),
            }
        }

        // CPU. runc: cpu.idle = 1 is CPUWeight=0 on systemd >= 252 and then no other weight
        // is sent (systemd would take the last one).
        let idle = self.cpu_idle == Some(true) && v2 && releases::accepts(version, CPU_WEIGHT_IDLE);
        if self.cpu_idle == Some(true) && !idle {
            if v2 {
                skip(
                    "CPUWeight",
                    "this systemd release refuses CPUWeight=0 (cpu.idle)",
                    releases::first_release(CPU_WEIGHT_IDLE),
                );
            } else {
                skip("CPUWeight", "cgroup v1 has no cpu.idle", None);
            }
        }
        if idle {
            props.push(("CPUWeight", Value::U64(0)));
        } else if v2 {
            let weight = self
                .cpu_weight
                .or_else(|| self.cpu_shares.map(shares_to_weight).filter(|&w| w != 0));
            if let Some(w) = weight {
                props.push(("CPUWeight", Value::U64(w)));
            }
        } else if let Some(s) = self.cpu_shares.filter(|&s| s != 0) {
            props.push(("CPUShares", Value::U64(s)));
        } else if self.cpu_weight.is_some() {
            skip("CPUWeight", "cgroup v1 uses cpu_shares", None);
        }
        let quota = self.cpu_quota.unwrap_or(0);
        let period = self.cpu_period.unwrap_or(0);
        if quota != 0 || period != 0 {
            if period != 0 {
                props.push(("CPUQuotaPeriodUSec", Value::U64(period)));
            }
            props.push((
                "CPUQuotaPerSecUSec",
                Value::U64(quota_per_sec(quota, period)),
            ));
        }
        for (field, name) in [
            (&self.cpus, "AllowedCPUs"),
            (&self.mems, "AllowedMemoryNodes"),
        ] {
            if let Some(list) = field {
                props.push((name, Value::from(cpuset_to_bits(list)?)));
            }
        }

        // Tasks.
        if let Some(l) = self.pids_limit {
            props.push(("TasksMax", Value::U64(tasks_max(l))));
        }

        // IO.
        if v2 {
            let w = self.io_weight.or(self.blkio_weight.map(blkio_to_io_weight));
            if let Some(w) = w {
                props.push(("IOWeight", Value::U64(w)));
            }
        } else if let Some(b) = self.blkio_weight {
            props.push(("BlockIOWeight", Value::U64(b)));
        } else if self.io_weight.is_some() {
            skip("IOWeight", "cgroup v1 uses blkio_weight", None);
        }

        let device_values = |list: &[IoDeviceLimit], weight: bool| -> Vec<(String, u64)> {
            list.iter()
                .map(|l| {
                    let v = match (weight, l.value) {
                        (true, w) if v2 => blkio_to_io_weight(w),
                        (true, w) => w,
                        // OCI and the v1 throttle files: 0 removes the limit.
                        (false, 0) => INFINITY,
                        (false, v) => v,
                    };
                    (l.device.clone(), v)
                })
                .collect()
        };
        let io_lists: [(&[IoDeviceLimit], &'static str, Option<&'static str>, bool); 5] = [
            (
                &self.blkio_weight_device,
                "IODeviceWeight",
                Some("BlockIODeviceWeight"),
                true,
            ),
            (
                &self.io_read_bps,
                "IOReadBandwidthMax",
                Some("BlockIOReadBandwidth"),
                false,
            ),
            (
                &self.io_write_bps,
                "IOWriteBandwidthMax",
                Some("BlockIOWriteBandwidth"),
                false,
            ),
            (&self.io_read_iops, "IOReadIOPSMax", None, false),
            (&self.io_write_iops, "IOWriteIOPSMax", None, false),
        ];
        for (list, v2_name, v1_name, weight) in io_lists {
            if list.is_empty() {
                continue;
            }
            match (v2, v1_name) {
                (true, _) => props.push((v2_name, Value::from(device_values(list, weight)))),
                (false, Some(n)) => props.push((n, Value::from(device_values(list, weight)))),
                (false, None) => skip(v2_name, "systemd has no IOPS limit on cgroup v1", None),
            }
        }

        // Devices.
        if version < 240 {
            // Before v240 systemd stat()s /dev/{char,block}/M:m and wants char-NAME
            // (runc's devices/systemd.go); such rules would silently not apply.
            if let Some(d) = self.device_allow.iter().find(|d| needs_240(&d.path)) {
                return Err(InputError::InvalidDevice {
                    path: d.path.clone(),
                    reason: "major:minor device rules need systemd >= 240",
                });
            }
        }
        if let Some(p) = self.device_policy {
            props.push(("DevicePolicy", Value::from(p.as_str().to_owned())));
        }
        if !self.device_allow.is_empty() {
            let rules: Vec<(String, String)> = self
                .device_allow
                .iter()
                .map(|d| (d.path.clone(), d.access.clone()))
                .collect();
            props.push(("DeviceAllow", Value::from(rules)));
        }
        let properties = gate(props, version, &mut skipped);
        Ok(PropertyPlan {
            properties,
            skipped,
        })
    }
}

/// What a property list is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Apply {
    ScopeStart,
    SliceStart,
    Update,
}

/// `/dev/char/M:m`, `/dev/block/M:m`, `char-M`, `block-M`: parsed from the string only by
/// systemd >= 240.
fn needs_240(path: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(mm) = path
        .strip_prefix("/dev/char/")
        .or_else(|| path.strip_prefix("/dev/block/"))
    {
        return mm
            .split_once(':')
            .is_some_and(|(a, b)| digits(a) && digits(b));
    }
    path.strip_prefix("char-")
        .or_else(|| path.strip_prefix("block-"))
        .is_some_and(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &PropertyPlan) -> Vec<&'static str> {
        p.properties.iter().map(|(n, _)| *n).collect()
    }

    fn get(p: &PropertyPlan, name: &str) -> Value<'static> {
        p.properties
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .1
            .clone()
    }

    #[test]
    fn shares_to_weight_runc_edge_cases() {
        assert_eq!(
            shares_to_weight(1024),
            100,
            "the default maps to the default"
        );
        assert_eq!(shares_to_weight(0), 0, "0 is unset");
        assert_eq!(shares_to_weight(1), 1);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1 << 30), 10_000);
        // Worked by hand: L=9 → 10^(1080/612) = 58.2 → 59; L=11 → 10^(1370/612) = 173.2 → 174.
        assert_eq!(shares_to_weight(512), 59);
        assert_eq!(shares_to_weight(2048), 174);
        assert_eq!(shares_to_weight(262_143), 10_000);
        // Monotonic over the whole range.
        let mut last = 0;
        for s in 2..262_144u64 {
            let w = shares_to_weight(s);
            assert!(w >= last && (1..=10_000).contains(&w), "shares {s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn quota_rounds_up_to_10ms_per_second() {
        assert_eq!(quota_per_sec(50_000, 100_000), 500_000);
        // 1 µs over a 10 ms step rounds up to the next step, never down.
        assert_eq!(quota_per_sec(1, 100_000), 10_000);
        assert_eq!(quota_per_sec(123_456, 100_000), 1_240_000);
        assert_eq!(
            quota_per_sec(20_000, 0),
            200_000,
            "period 0 means the 100ms default"
        );
        assert_eq!(quota_per_sec(-1, 100_000), INFINITY);
        assert_eq!(quota_per_sec(0, 50_000), INFINITY);
        assert_eq!(quota_per_sec(33_333, 100_000), 340_000);
    }

    #[test]
    fn cpuset_is_little_endian_bitmask() {
        assert_eq!(cpuset_to_bits("0-3,8").unwrap(), vec![0x0f, 0x01]);
        assert_eq!(cpuset_to_bits("0").unwrap(), vec![0x01]);
        assert_eq!(cpuset_to_bits("7").unwrap(), vec![0x80]);
        assert_eq!(cpuset_to_bits("9").unwrap(), vec![0x00, 0x02]);
        assert_eq!(cpuset_to_bits(" 1 , 3-4,,").unwrap(), vec![0b0001_1010]);
        assert_eq!(cpuset_to_bits("0-15").unwrap(), vec![0xff, 0xff]);
        for bad in ["", " ", ",", "a", "3-1", "1-", "-1", "0-3,x", "8192", "1.5"] {
            assert!(
                matches!(cpuset_to_bits(bad), Err(InputError::InvalidCpuset { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn tasks_max_zero_becomes_one_negative_infinity() {
        assert_eq!(tasks_max(0), 1);
        assert_eq!(tasks_max(-1), INFINITY);
        assert_eq!(tasks_max(-5), INFINITY);
        assert_eq!(tasks_max(100), 100);
    }

    #[test]
    fn blkio_weight_maps_onto_io_weight_range() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }

    #[test]
    fn v2_names_and_swap_is_total_minus_memory() {
        let r = Resources {
            memory_limit: Some(256 << 20),
            memory_swap: Some(512 << 20),
            memory_reservation: Some(128 << 20),
            cpu_shares: Some(1024),
            cpu_quota: Some(50_000),
            cpu_period: Some(100_000),
            cpus: Some("0-3,8".into()),
            pids_limit: Some(0),
            blkio_weight: Some(1000),
            ..Resources::default()
        };
        let p = r.to_properties(CgroupMode::Unified, 252).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Value::U64(256 << 20));
        assert_eq!(get(&p, "MemorySwapMax"), Value::U64(256 << 20));
        assert_eq!(get(&p, "MemoryLow"), Value::U64(128 << 20));
        assert_eq!(get(&p, "CPUWeight"), Value::U64(100));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(500_000));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Value::U64(100_000));
        assert_eq!(get(&p, "AllowedCPUs"), Value::from(vec![0x0fu8, 0x01]));
        assert_eq!(get(&p, "TasksMax"), Value::U64(1));
        assert_eq!(get(&p, "IOWeight"), Value::U64(10_000));
        assert!(p.skipped.is_empty());
        assert!(!names(&p).contains(&"MemoryLimit"));
    }

    #[test]
    fn v1_names_and_v2_only_properties_are_reported_skipped() {
        let r = Resources {
            memory_limit: Some(-1),
            memory_swap: Some(-1),
            memory_reservation: Some(1),
            cpu_shares: Some(512),
            blkio_weight: Some(300),
            ..Resources::default()
        };
        let p = r.to_properties(CgroupMode::Legacy, 252).unwrap();
        assert_eq!(get(&p, "MemoryLimit"), Value::U64(INFINITY));
        assert_eq!(get(&p, "CPUShares"), Value::U64(512));
        assert_eq!(get(&p, "BlockIOWeight"), Value::U64(300));
        let skipped: Vec<_> = p.skipped.iter().map(|s| s.property).collect();
        assert_eq!(skipped, ["MemoryLow", "MemorySwapMax"]);
    }

    #[test]
    fn version_gates_period_and_cpuset() {
        let r = Resources {
            cpu_quota: Some(10_000),
            cpu_period: Some(50_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            ..Resources::default()
        };
        let old = r.to_properties(CgroupMode::Unified, 241).unwrap();
        assert_eq!(names(&old), ["CPUQuotaPerSecUSec"]);
        let skipped: Vec<_> = old.skipped.iter().map(|s| s.property).collect();
        assert_eq!(
            skipped,
            ["CPUQuotaPeriodUSec", "AllowedCPUs", "AllowedMemoryNodes"]
        );
        let mid = r.to_properties(CgroupMode::Unified, 243).unwrap();
        assert_eq!(names(&mid), ["CPUQuotaPeriodUSec", "CPUQuotaPerSecUSec"]);
        let new = r.to_properties(CgroupMode::Unified, 244).unwrap();
        assert_eq!(
            names(&new),
            [
                "CPUQuotaPeriodUSec",
                "CPUQuotaPerSecUSec",
                "AllowedCPUs",
                "AllowedMemoryNodes"
            ]
        );
        // 10ms quota over a 50ms period = 200ms per second.
        assert_eq!(get(&new, "CPUQuotaPerSecUSec"), Value::U64(200_000));
    }

    #[test]
    fn period_alone_sets_infinite_quota() {
        let r = Resources {
            cpu_period: Some(20_000),
            ..Resources::default()
        };
        let p = r.to_properties(CgroupMode::Unified, 252).unwrap();
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Value::U64(INFINITY));
    }

    #[test]
    fn bad_input_is_rejected() {
        let cases: Vec<(Resources, &str)> = vec![
            (
                Resources {
                    memory_limit: Some(100),
                    memory_swap: Some(99),
                    ..Default::default()
                },
                "swap below memory",
            ),
            (
                Resources {
                    memory_swap: Some(100),
                    ..Default::default()
                },
                "swap without memory",
            ),
            (
                Resources {
                    memory_limit: Some(-1),
                    memory_swap: Some(100),
                    ..Default::default()
                },
                "swap with unlimited memory",
            ),
            (
                Resources {
                    memory_limit: Some(-2),
                    ..Default::default()
                },
                "memory -2",
            ),
            (
                Resources {
                    cpu_weight: Some(0),
                    ..Default::default()
                },
                "cpu weight 0",
            ),
            (
                Resources {
                    cpu_weight: Some(10_001),
                    ..Default::default()
                },
                "cpu weight 10001",
            ),
            (
                Resources {
                    blkio_weight: Some(9),
                    ..Default::default()
                },
                "blkio 9",
            ),
            (
                Resources {
                    blkio_weight: Some(1001),
                    ..Default::default()
                },
                "blkio 1001",
            ),
            (
                Resources {
                    io_weight: Some(0),
                    ..Default::default()
                },
                "io weight 0",
            ),
            (
                Resources {
                    cpu_period: Some(999),
                    ..Default::default()
                },
                "period below 1ms",
            ),
            (
                Resources {
                    cpu_quota: Some(-2),
                    ..Default::default()
                },
                "quota -2",
            ),
            (
                Resources {
                    cpus: Some(String::new()),
                    ..Default::default()
                },
                "empty cpuset",
            ),
            (
                Resources {
                    mems: Some("0-".into()),
                    ..Default::default()
                },
                "malformed mems",
            ),
            (
                Resources {
                    device_allow: vec![DeviceAllow::new("/dev/null", "rwx")],
                    ..Default::default()
                },
                "access x",
            ),
            (
                Resources {
                    device_allow: vec![DeviceAllow::new("/dev/null", "")],
                    ..Default::default()
                },
                "empty access",
            ),
            (
                Resources {
                    device_allow: vec![DeviceAllow::new("null", "r")],
                    ..Default::default()
                },
                "relative path",
            ),
            (
                Resources {
                    device_allow: vec![DeviceAllow::new("char-", "r")],
                    ..Default::default()
                },
                "empty class",
            ),
        ];
        for (r, what) in cases {
            assert!(
                r.to_properties(CgroupMode::Unified, 252).is_err(),
                "{what} accepted"
            );
        }
        let swap_equal = Resources {
            memory_limit: Some(100),
            memory_swap: Some(100),
            ..Default::default()
        };
        let p = swap_equal.to_properties(CgroupMode::Unified, 252).unwrap();
        assert_eq!(
            get(&p, "MemorySwapMax"),
            Value::U64(0),
            "swap == memory means no swap"
        );
    }

    #[test]
    fn devices_become_policy_and_allow_list() {
        let r = Resources {
            device_policy: Some(DevicePolicy::Strict),
            device_allow: vec![
                DeviceAllow::new("/dev/null", "rw"),
                DeviceAllow::new("char-pts", "rwm"),
            ],
            ..Default::default()
        };
        let p = r.to_properties(CgroupMode::Legacy, 252).unwrap();
        assert_eq!(get(&p, "DevicePolicy"), Value::from("strict".to_owned()));
        let want: Vec<(String, String)> = vec![
            ("/dev/null".into(), "rw".into()),
            ("char-pts".into(), "rwm".into()),
        ];
        assert_eq!(get(&p, "DeviceAllow"), Value::from(want));
    }
}

#[cfg(test)]
mod io_tests {
    use super::*;

    fn get(p: &PropertyPlan, name: &str) -> Option<Value<'static>> {
        p.properties
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    fn io() -> Resources {
        Resources {
            blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 500)],
            io_read_bps: vec![IoDeviceLimit::new("/dev/vda", 1 << 20)],
            io_write_bps: vec![IoDeviceLimit::new("/dev/vda", 0)],
            io_read_iops: vec![IoDeviceLimit::new("/dev/vda", 100)],
            io_write_iops: vec![IoDeviceLimit::new("/dev/vdb", 200)],
            ..Resources::default()
        }
    }

    #[test]
    fn io_limits_on_v2_use_io_names_and_zero_rate_is_no_limit() {
        let p = io().to_properties(CgroupMode::Unified, 252).unwrap();
        let pairs = |v: Vec<(&str, u64)>| {
            Value::from(
                v.into_iter()
                    .map(|(d, n)| (d.to_owned(), n))
                    .collect::<Vec<_>>(),
            )
        };
        // blkio 500 -> io 1 + 490 * 9999 / 990 = 4950 (runc's ConvertBlkIOToIOWeightValue).
        assert_eq!(
            get(&p, "IODeviceWeight"),
            Some(pairs(vec![("/dev/vda", 4950)]))
        );
        assert_eq!(
            get(&p, "IOReadBandwidthMax"),
            Some(pairs(vec![("/dev/vda", 1 << 20)]))
        );
        assert_eq!(
            get(&p, "IOWriteBandwidthMax"),
            Some(pairs(vec![("/dev/vda", u64::MAX)]))
        );
        assert_eq!(
            get(&p, "IOReadIOPSMax"),
            Some(pairs(vec![("/dev/vda", 100)]))
        );
        assert_eq!(
            get(&p, "IOWriteIOPSMax"),
            Some(pairs(vec![("/dev/vdb", 200)]))
        );
        assert!(p.skipped.is_empty());
    }

    #[test]
    fn io_limits_on_v1_use_blockio_names_and_report_iops_skipped() {
        let p = io().to_properties(CgroupMode::Legacy, 252).unwrap();
        assert!(get(&p, "BlockIODeviceWeight").is_some());
        assert!(get(&p, "BlockIOReadBandwidth").is_some());
        assert!(get(&p, "BlockIOWriteBandwidth").is_some());
        assert!(get(&p, "IOReadBandwidthMax").is_none());
        let skipped: Vec<_> = p.skipped.iter().map(|s| s.property).collect();
        assert_eq!(skipped, ["IOReadIOPSMax", "IOWriteIOPSMax"]);
    }

    #[test]
    fn io_limits_reject_non_device_paths_and_weights_out_of_range() {
        for (r, what) in [
            (
                Resources {
                    io_read_bps: vec![IoDeviceLimit::new("vda", 1)],
                    ..Resources::default()
                },
                "relative",
            ),
            (
                Resources {
                    io_read_iops: vec![IoDeviceLimit::new("/dev/", 1)],
                    ..Resources::default()
                },
                "bare /dev/",
            ),
            (
                Resources {
                    blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 9)],
                    ..Resources::default()
                },
                "weight 9",
            ),
            (
                Resources {
                    blkio_weight_device: vec![IoDeviceLimit::new("/dev/vda", 1001)],
                    ..Resources::default()
                },
                "weight 1001",
            ),
        ] {
            assert!(r.validate().is_err(), "{what} accepted");
        }
    }

    #[test]
    fn cpu_idle_is_weight_zero_from_252_and_wins_over_weight() {
        let r = Resources {
            cpu_idle: Some(true),
            cpu_weight: Some(300),
            ..Resources::default()
        };
        let p = r.to_properties(CgroupMode::Unified, 252).unwrap();
        let weights: Vec<_> = p
            .properties
            .iter()
            .filter(|(n, _)| *n == "CPUWeight")
            .collect();
        assert_eq!(weights, [&("CPUWeight", Value::U64(0))]);
        let old = r.to_properties(CgroupMode::Unified, 251).unwrap();
        assert_eq!(get(&old, "CPUWeight"), Some(Value::U64(300)));
        assert_eq!(old.skipped[0].property, "CPUWeight");
    }

    #[test]
    fn oom_group_is_oom_policy_only_when_a_scope_starts_on_253() {
        let r = Resources {
            oom_kill_group: Some(true),
            ..Resources::default()
        };
        let at = |v, a| r.plan(CgroupMode::Unified, v, a).unwrap();
        assert_eq!(
            get(&at(253, Apply::ScopeStart), "OOMPolicy"),
            Some(Value::from("kill".to_owned()))
        );
        for p in [
            at(252, Apply::ScopeStart),
            at(253, Apply::SliceStart),
            at(253, Apply::Update),
        ] {
            assert!(get(&p, "OOMPolicy").is_none());
            assert_eq!(p.skipped[0].property, "OOMPolicy");
        }
    }

    #[test]
    fn major_minor_device_rules_are_refused_before_240() {
        let r = Resources {
            device_policy: Some(DevicePolicy::Strict),
            device_allow: vec![DeviceAllow::new("/dev/char/1:3", "rw")],
            ..Resources::default()
        };
        assert!(r.to_properties(CgroupMode::Unified, 240).is_ok());
        assert!(matches!(
            r.to_properties(CgroupMode::Unified, 239),
            Err(InputError::InvalidDevice { .. })
        ));
        assert!(needs_240("char-136") && needs_240("/dev/block/8:0"));
        assert!(!needs_240("char-pts") && !needs_240("/dev/null"));
    }
}
