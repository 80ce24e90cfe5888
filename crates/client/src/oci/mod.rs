//! OCI runtime spec → systemd: `linux.resources` into [`Resources`], `linux.cgroupsPath`
//! into a slice and a unit name (feature `oci-spec`).
//!
//! The rules are runc's (opencontainers/runc `libcontainer/specconv/spec_linux.go`,
//! opencontainers/cgroups `systemd/{common,v2}.go` and `devices/systemd.go`), with two
//! differences: nothing systemd cannot express is dropped silently — such fields are
//! returned as [`Unconverted`] (or refused by `TryFrom`), and device rules systemd cannot
//! express are an error (runc only logs them: runc#3847); and every out-of-range field is
//! an [`InputError::InvalidOciField`] naming it, before anything is sent.

use oci_spec::runtime::LinuxResources;

use crate::error::{InputError, Unconverted};
use crate::resources::{cpuset_to_bits, IoDeviceLimit, Resources};

mod cgroups_path;
mod devices;
mod unified;

pub use cgroups_path::{parse_cgroups_path, CgroupsPath};
use devices::devices;
use unified::unified;

/// The result of [`Resources::from_oci`]: what systemd will take, and what it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OciResources {
    /// The converted limits.
    pub resources: Resources,
    /// Fields systemd has no property for; the caller writes them to cgroupfs or refuses.
    pub unconverted: Vec<Unconverted>,
}

const R: &str = "linux.resources";

fn invalid(field: impl Into<String>, value: impl ToString, reason: &'static str) -> InputError {
    InputError::InvalidOciField {
        field: field.into(),
        value: value.to_string(),
        reason,
    }
}

struct Conv<'a> {
    out: Resources,
    left: Vec<Unconverted>,
    block_device: &'a dyn Fn(i64, i64) -> Option<String>,
}

impl Conv<'_> {
    fn leave(&mut self, field: impl Into<String>, value: impl ToString, reason: &'static str) {
        self.left.push(Unconverted {
            field: field.into(),
            value: value.to_string(),
            reason,
        });
    }

    fn device(&self, field: &str, major: i64, minor: i64) -> Result<String, InputError> {
        if major < 0 || minor < 0 {
            return Err(invalid(
                field,
                format!("{major}:{minor}"),
                "negative device number",
            ));
        }
        (self.block_device)(major, minor).ok_or_else(|| {
            invalid(
                field,
                format!("{major}:{minor}"),
                "no such block device on this host (systemd needs its /dev node)",
            )
        })
    }
}

/// A block device's node from `/sys/dev/block/MAJ:MIN/uevent` (`DEVNAME=`), as youki does:
/// systemd takes IO limits by path, not by number.
fn sys_block_device(major: i64, minor: i64) -> Option<String> {
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/uevent")).ok()?;
    uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .map(|n| format!("/dev/{n}"))
}

fn mem_field(field: &str, v: i64) -> Result<i64, InputError> {
    if v < -1 {
        return Err(invalid(field, v, "must be -1 (unlimited) or >= 0"));
    }
    Ok(v)
}

/// `max` or a number, as cgroup v2 files take them (`max` → `u64::MAX`).
fn max_or_u64(field: &str, v: &str) -> Result<u64, InputError> {
    if v == "max" {
        return Ok(u64::MAX);
    }
    v.parse::<u64>()
        .map_err(|_| invalid(field, v, "not a number or \"max\""))
}

impl Resources {
    /// Converts an OCI `linux.resources` the way runc's systemd driver does. Returns the
    /// limits plus every field systemd cannot express; an out-of-range field, a malformed
    /// `unified` entry or a device rule systemd cannot express is an error naming the
    /// field. Per-device IO settings name devices by number; their `/dev` node is looked
    /// up in `/sys/dev/block` of this host.
    ///
    /// # Errors
    ///
    /// [`InputError::InvalidOciField`] naming an out-of-range or malformed field (or a
    /// device rule systemd cannot express).
    pub fn from_oci(r: &LinuxResources) -> Result<OciResources, InputError> {
        Resources::from_oci_with(r, &sys_block_device)
    }

    /// [`from_oci`](Resources::from_oci) with the device lookup given (MAJ, MIN → `/dev`
    /// node), for callers that resolve devices in another mount namespace.
    ///
    /// # Errors
    ///
    /// As [`from_oci`](Resources::from_oci).
    pub fn from_oci_with(
        r: &LinuxResources,
        block_device: &dyn Fn(i64, i64) -> Option<String>,
    ) -> Result<OciResources, InputError> {
        let mut c = Conv {
            out: Resources::default(),
            left: Vec::new(),
            block_device,
        };
        memory(&mut c, r)?;
        cpu(&mut c, r)?;
        if let Some(p) = r.pids() {
            if p.limit() < -1 {
                return Err(invalid(
                    format!("{R}.pids.limit"),
                    p.limit(),
                    "below -1 (-1 is unlimited)",
                ));
            }
            c.out.pids_limit = Some(p.limit());
        }
        block_io(&mut c, r)?;
        if let Some(devs) = r.devices() {
            devices(&mut c, devs)?;
        }
        for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
            c.leave(
                format!("{R}.hugepageLimits[{i}]"),
                format!("{} {}", h.page_size(), h.limit()),
                "systemd has no hugetlb property",
            );
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                c.leave(
                    format!("{R}.network.classID"),
                    id,
                    "systemd has no net_cls property",
                );
            }
            for (i, p) in n.priorities().iter().flatten().enumerate() {
                c.leave(
                    format!("{R}.network.priorities[{i}]"),
                    format!("{} {}", p.name(), p.priority()),
                    "systemd has no net_prio property",
                );
            }
        }
        let mut rdma: Vec<_> = r.rdma().iter().flatten().collect();
        rdma.sort_by(|a, b| a.0.cmp(b.0));
        for (dev, l) in rdma {
            let mut v = dev.clone();
            if let Some(h) = l.hca_handles() {
                v.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                v.push_str(&format!(" hca_object={o}"));
            }
            c.leave(
                format!("{R}.rdma[{dev:?}]"),
                v,
                "systemd has no rdma property",
            );
        }
        if let Some(u) = r.unified() {
            unified(&mut c, u)?;
        }
        c.out.validate().map_err(|e| match e {
            // Name the OCI field for the checks Resources shares with its own API.
            InputError::SwapBelowMemory { swap, memory } => invalid(
                format!("{R}.memory.swap"),
                swap,
                if memory > swap {
                    "memory+swap is below memory.limit"
                } else {
                    "invalid"
                },
            ),
            InputError::SwapWithoutMemory => invalid(
                format!("{R}.memory.swap"),
                c.out.memory_swap.unwrap_or_default(),
                "a swap limit needs memory.limit",
            ),
            other => other,
        })?;
        Ok(OciResources {
            resources: c.out,
            unconverted: c.left,
        })
    }
}

impl TryFrom<&LinuxResources> for Resources {
    type Error = InputError;

    /// [`Resources::from_oci`] that refuses a spec with anything systemd cannot express
    /// ([`InputError::OciUnconverted`]).
    fn try_from(r: &LinuxResources) -> Result<Resources, InputError> {
        let o = Resources::from_oci(r)?;
        if !o.unconverted.is_empty() {
            return Err(InputError::OciUnconverted(o.unconverted));
        }
        Ok(o.resources)
    }
}

fn memory(c: &mut Conv<'_>, r: &LinuxResources) -> Result<(), InputError> {
    let Some(m) = r.memory() else {
        return Ok(());
    };
    let f = |n: &str| format!("{R}.memory.{n}");
    if let Some(v) = m.limit() {
        c.out.memory_limit = Some(mem_field(&f("limit"), v)?);
    }
    if let Some(v) = m.reservation() {
        c.out.memory_reservation = Some(mem_field(&f("reservation"), v)?);
    }
    if let Some(v) = m.swap() {
        c.out.memory_swap = Some(mem_field(&f("swap"), v)?);
    }
    if let Some(v) = m.kernel() {
        c.leave(
            f("kernel"),
            v,
            "kernel memory limits are gone from the kernel",
        );
    }
    if let Some(v) = m.kernel_tcp() {
        c.leave(
            f("kernelTCP"),
            v,
            "systemd has no kernel TCP memory property",
        );
    }
    if let Some(v) = m.swappiness() {
        if v > 100 {
            return Err(invalid(f("swappiness"), v, "must be 0..=100"));
        }
        c.leave(f("swappiness"), v, "systemd has no swappiness property");
    }
    if let Some(v) = m.disable_oom_killer() {
        c.leave(
            f("disableOOMKiller"),
            v,
            "systemd has no memory.oom_control property",
        );
    }
    if let Some(v) = m.use_hierarchy() {
        c.leave(
            f("useHierarchy"),
            v,
            "systemd has no use_hierarchy property",
        );
    }
    if let Some(v) = m.check_before_update() {
        c.leave(
            f("checkBeforeUpdate"),
            v,
            "a check for the runtime to make before an update, not a limit",
        );
    }
    Ok(())
}

fn cpu(c: &mut Conv<'_>, r: &LinuxResources) -> Result<(), InputError> {
    let Some(p) = r.cpu() else {
        return Ok(());
    };
    let f = |n: &str| format!("{R}.cpu.{n}");
    // runc: 0 is unset (Go's zero value).
    c.out.cpu_shares = p.shares().filter(|&s| s != 0);
    if let Some(q) = p.quota() {
        if q < -1 {
            return Err(invalid(f("quota"), q, "must be -1 (unlimited) or >= 0"));
        }
        c.out.cpu_quota = Some(q).filter(|&q| q != 0);
    }
    if let Some(period) = p.period().filter(|&p| p != 0) {
        if !(1_000..=1_000_000).contains(&period) {
            return Err(invalid(
                f("period"),
                period,
                "must be 1000..=1000000 µs (systemd's CPUQuotaPeriodUSec range)",
            ));
        }
        c.out.cpu_period = Some(period);
    }
    match p.idle() {
        None => {}
        Some(1) => c.out.cpu_idle = Some(true),
        Some(0) => c.leave(f("idle"), 0, "systemd cannot set cpu.idle to 0"),
        Some(v) => return Err(invalid(f("idle"), v, "must be 0 or 1")),
    }
    if let Some(b) = p.burst() {
        c.leave(f("burst"), b, "systemd has no cpu.max.burst property");
    }
    if let Some(v) = p.realtime_runtime() {
        c.leave(
            f("realtimeRuntime"),
            v,
            "systemd has no rt_runtime property",
        );
    }
    if let Some(v) = p.realtime_period() {
        c.leave(f("realtimePeriod"), v, "systemd has no rt_period property");
    }
    // runc's addCpuset: an empty string is unset (Go's zero value); anything else must
    // parse, and a list with no CPU in it (" ", ",") is an error.
    for (name, v, slot) in [
        ("cpus", p.cpus(), &mut c.out.cpus),
        ("mems", p.mems(), &mut c.out.mems),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            cpuset_to_bits(v).map_err(|_| invalid(f(name), v, "not a cpuset list (e.g. 0-3,8)"))?;
            *slot = Some(v.clone());
        }
    }
    Ok(())
}

fn block_io(c: &mut Conv<'_>, r: &LinuxResources) -> Result<(), InputError> {
    let Some(b) = r.block_io() else {
        return Ok(());
    };
    let f = |n: &str| format!("{R}.blockIO.{n}");
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        if !(10..=1000).contains(&w) {
            return Err(invalid(f("weight"), w, "must be 10..=1000"));
        }
        c.out.blkio_weight = Some(u64::from(w));
    }
    if let Some(w) = b.leaf_weight() {
        c.leave(f("leafWeight"), w, "systemd has no leaf weight property");
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = f(&format!("weightDevice[{i}]"));
        let dev = c.device(&field, d.major(), d.minor())?;
        if let Some(w) = d.weight() {
            if !(10..=1000).contains(&w) {
                return Err(invalid(format!("{field}.weight"), w, "must be 10..=1000"));
            }
            c.out
                .blkio_weight_device
                .push(IoDeviceLimit::new(dev, u64::from(w)));
        }
        if let Some(w) = d.leaf_weight() {
            c.leave(
                format!("{field}.leafWeight"),
                format!("{}:{} {w}", d.major(), d.minor()),
                "systemd has no leaf weight property",
            );
        }
    }
    let lists = [
        ("throttleReadBpsDevice", b.throttle_read_bps_device()),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device()),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device()),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device()),
    ];
    for (k, (name, list)) in lists.into_iter().enumerate() {
        for (i, d) in list.iter().flatten().enumerate() {
            let dev = c.device(&f(&format!("{name}[{i}]")), d.major(), d.minor())?;
            let l = IoDeviceLimit::new(dev, d.rate());
            match k {
                0 => c.out.io_read_bps.push(l),
                1 => c.out.io_write_bps.push(l),
                2 => c.out.io_read_iops.push(l),
                _ => c.out.io_write_iops.push(l),
            }
        }
    }
    Ok(())
}
