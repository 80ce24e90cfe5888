//! Validation of [`Resources`] on its own, before any systemd version or cgroup mode is
//! known: what no systemd would accept is refused here.

use super::convert::{cpuset_to_bits, mem, range};
use super::{IoDeviceLimit, Resources};
use crate::error::InputError;

impl Resources {
    /// Checks every field, independent of systemd version and cgroup mode.
    ///
    /// # Errors
    ///
    /// The first rule the limits break:
    /// [`InputError::OutOfRange`](crate::InputError::OutOfRange),
    /// [`InputError::InvalidMemory`](crate::InputError::InvalidMemory), a swap limit
    /// without or below the memory limit, an invalid cpuset or device rule.
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
}
