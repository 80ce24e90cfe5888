//! The property plan: which systemd properties a [`Resources`] becomes for one cgroup mode,
//! systemd version and use, and which are skipped with the reason.

use zbus::zvariant::Value;

use super::convert::{
    blkio_to_io_weight, cpuset_to_bits, mem, quota_per_sec, shares_to_weight, tasks_max,
};
use super::{CgroupMode, IoDeviceLimit, PropertyPlan, Resources, Skipped, INFINITY};
use crate::error::InputError;
use crate::releases::{Capabilities, Refusal, CPU_WEIGHT_IDLE};

/// Moves every property the running systemd does not accept ([`Capabilities::check`]) from
/// `props` to `skipped`, keeping the order of both. Every property list the client sends
/// passes through here last, so nothing reaches a systemd that would refuse it.
pub(crate) fn gate(
    props: Vec<(&'static str, Value<'static>)>,
    caps: &Capabilities,
    skipped: &mut Vec<Skipped>,
) -> Vec<(&'static str, Value<'static>)> {
    let mut kept = Vec::with_capacity(props.len());
    for (name, value) in props {
        match caps.check(name) {
            Ok(()) => kept.push((name, value)),
            Err(refusal) => skipped.push(Skipped::refused(name, refusal)),
        }
    }
    kept
}

impl Skipped {
    /// The entry for a property [`Capabilities::check`] refused, saying which evidence
    /// refused it: the running systemd's own list, or the release table.
    pub(crate) fn refused(property: &'static str, refusal: Refusal) -> Skipped {
        let (reason, needs) = match refusal {
            Refusal::NotExposed => ("not exposed by this systemd (absent from -.slice)", None),
            Refusal::NeedsRelease(n) => ("this systemd release does not accept it", Some(n)),
            Refusal::Unknown => ("not in the client's release table, so never sent", None),
        };
        Skipped {
            property,
            reason,
            needs,
        }
    }
}

impl Resources {
    /// Builds the property list for starting a scope in `mode` on a systemd that accepts
    /// `caps` (the connected one's: [`Client::capabilities`](crate::Client::capabilities);
    /// a release's by number: [`Capabilities::from_version`]), after
    /// [`validate`](Resources::validate).
    ///
    /// # Errors
    ///
    /// The first [`InputError`] of [`validate`](Resources::validate).
    pub fn to_properties(
        &self,
        mode: CgroupMode,
        caps: &Capabilities,
    ) -> Result<PropertyPlan, InputError> {
        self.plan(mode, caps, Apply::ScopeStart)
    }

    /// The property list for one use: what systemd accepts differs between creating a
    /// scope, creating a slice and changing a running unit (`OOMPolicy=`).
    pub(crate) fn plan(
        &self,
        mode: CgroupMode,
        caps: &Capabilities,
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
        let idle = self.cpu_idle == Some(true) && v2 && caps.check(CPU_WEIGHT_IDLE).is_ok();
        if self.cpu_idle == Some(true) && !idle {
            if v2 {
                skip(
                    "CPUWeight",
                    "this systemd release refuses CPUWeight=0 (cpu.idle)",
                    crate::releases::first_release(CPU_WEIGHT_IDLE),
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
        if caps.version() < 240 {
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
        let properties = gate(props, caps, &mut skipped);
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
pub(super) fn needs_240(path: &str) -> bool {
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
