//! `linux.resources.unified`: cgroup v2 file names and values, key by key.

use std::collections::HashMap;

use super::{invalid, max_or_u64, Conv, R};
use crate::error::InputError;
use crate::resources::{cpuset_to_bits, DEFAULT_CPU_PERIOD_USEC};

/// The `unified` map, key by key as runc's `unifiedResToSystemdProps`, plus `io.weight`
/// and `memory.oom.group` (`OOMPolicy=` when a scope starts). A key runc refuses is an
/// error; a key systemd has no property for is [`Unconverted`](crate::Unconverted). Unified values override
/// the same limits given in the structured fields (runc sends them last).
pub(super) fn unified(c: &mut Conv<'_>, u: &HashMap<String, String>) -> Result<(), InputError> {
    let mut keys: Vec<_> = u.keys().collect();
    keys.sort();
    for k in keys {
        let field = format!("{R}.unified[{k:?}]");
        if k.contains('/') {
            return Err(invalid(field, k, "must be a file name (no slashes)"));
        }
        if k.find('.').is_none_or(|i| i == 0) {
            return Err(invalid(field, k, "must be CONTROLLER.PARAMETER"));
        }
        // The kernel takes extra whitespace around values, and so does runc.
        let v = u[k].trim();
        let num = |reason| invalid(field.clone(), v, reason);
        match k.as_str() {
            "cpu.idle" => match v {
                "1" => c.out.cpu_idle = Some(true),
                "0" => c.leave(field, v, "systemd cannot set cpu.idle to 0"),
                _ => return Err(num("must be 0 or 1")),
            },
            "cpu.max" => {
                let parts: Vec<&str> = v.split_whitespace().collect();
                if parts.is_empty() || parts.len() > 2 {
                    return Err(num("must be QUOTA [PERIOD]"));
                }
                // runc starts from defCPUQuotaPeriod and so always sends a period.
                c.out.cpu_period = Some(DEFAULT_CPU_PERIOD_USEC);
                c.out.cpu_quota = Some(if parts[0] == "max" {
                    -1
                } else {
                    parts[0]
                        .parse::<i64>()
                        .ok()
                        .filter(|&q| q > 0)
                        .ok_or_else(|| num("quota must be \"max\" or a positive number"))?
                });
                if let Some(p) = parts.get(1) {
                    let p: u64 = p.parse().map_err(|_| num("period is not a number"))?;
                    if !(1_000..=1_000_000).contains(&p) {
                        return Err(num("period must be 1000..=1000000 µs"));
                    }
                    c.out.cpu_period = Some(p);
                }
            }
            "cpu.weight" => {
                let w: u64 = v.parse().map_err(|_| num("not a number"))?;
                if !(1..=10_000).contains(&w) {
                    return Err(num("must be 1..=10000"));
                }
                c.out.cpu_weight = Some(w);
                c.out.cpu_shares = None;
            }
            "cpuset.cpus" | "cpuset.mems" => {
                cpuset_to_bits(v).map_err(|_| num("not a cpuset list (e.g. 0-3,8)"))?;
                if k == "cpuset.cpus" {
                    c.out.cpus = Some(v.to_owned());
                } else {
                    c.out.mems = Some(v.to_owned());
                }
            }
            "memory.high" | "memory.low" | "memory.max" => {
                let n = max_or_u64(&field, v)?;
                let n = if n == u64::MAX {
                    -1
                } else {
                    i64::try_from(n).map_err(|_| num("too large"))?
                };
                match k.as_str() {
                    "memory.high" => c.out.memory_high = Some(n),
                    "memory.low" => c.out.memory_reservation = Some(n),
                    _ => c.out.memory_limit = Some(n),
                }
            }
            "memory.min" => c.out.memory_min = Some(max_or_u64(&field, v)?),
            "memory.swap.max" => {
                c.out.memory_swap_max = Some(max_or_u64(&field, v)?);
                c.out.memory_swap = None;
            }
            "pids.max" => {
                let n = max_or_u64(&field, v)?;
                c.out.pids_limit = Some(if n == u64::MAX {
                    -1
                } else {
                    // pids.max 0 really is zero tasks; TasksMax=0 means the same.
                    i64::try_from(n).map_err(|_| num("too large"))?.max(1)
                });
            }
            "io.weight" => {
                let w = v.strip_prefix("default ").unwrap_or(v).trim();
                match w.parse::<u64>() {
                    Ok(w) if (1..=10_000).contains(&w) => {
                        c.out.io_weight = Some(w);
                        c.out.blkio_weight = None;
                    }
                    Ok(_) => return Err(num("must be 1..=10000")),
                    // Per-device lines (MAJ:MIN WEIGHT) have no property that takes them
                    // by number.
                    Err(_) => c.leave(field, v, "systemd takes io.weight only as one number"),
                }
            }
            "memory.oom.group" => match v {
                "1" => c.out.oom_kill_group = Some(true),
                "0" => c.out.oom_kill_group = Some(false),
                _ => return Err(num("must be 0 or 1")),
            },
            _ => c.leave(field, v, "systemd has no property for this cgroup file"),
        }
    }
    Ok(())
}
