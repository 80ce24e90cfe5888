//! The numeric conversions between OCI (runc) values and systemd's, and the range checks
//! validation and the property plan share.

use super::{DEFAULT_CPU_PERIOD_USEC, INFINITY};
use crate::error::InputError;

pub(super) fn range(what: &'static str, v: u64, min: u64, max: u64) -> Result<(), InputError> {
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

pub(super) fn mem(what: &'static str, v: i64) -> Result<u64, InputError> {
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
///
/// # Errors
///
/// [`InputError::InvalidCpuset`](crate::InputError::InvalidCpuset) for an empty or
/// malformed list or a number above systemd's limit.
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
