//! `sdcookie scope run|update|stop`: runC's systemd cgroup driver as a command, over the
//! never-hanging `sdbus-cgroup` client.
//!
//! `run` forks the command held (see [`crate::held`]), creates the scope around its pid
//! with the limits, releases it, waits, then stops the scope and resets its failed state,
//! so nothing is left behind whatever the command did. The pid must be one systemd can
//! see: run `sdcookie` in systemd's PID namespace.

use sdbus_cgroup::{CgroupMode, Client, Options, Resources, Scope, Skipped, Target, Timeouts};

use crate::cli::{Connect, Limits, ScopeRunArgs, ScopeStopArgs, ScopeUpdateArgs};
use crate::held::{Held, SpawnError};
use sdcookie::signals::IgnoreInterrupts;

/// What can go wrong in `scope`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The client failed (connect, call, job, timeout), with its context.
    #[error(transparent)]
    Client(#[from] sdbus_cgroup::Error),
    /// The command could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A limit does not fit systemd's representation.
    #[error("{what} {value} is too large")]
    TooLarge {
        /// Which limit.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// The command ran (its status is kept) but the scope could not be cleaned up.
    #[error("the command exited with {status}, but stopping {unit} failed: {source}")]
    Cleanup {
        /// The command's exit status.
        status: u8,
        /// The scope.
        unit: String,
        /// Why.
        source: sdbus_cgroup::Error,
    },
}

impl ScopeError {
    /// The exit status for this error (see `sdcookie --help`).
    pub fn exit_code(&self) -> u8 {
        match self {
            ScopeError::Spawn(e) => e.exit_code(),
            _ => 125,
        }
    }
}

/// A client for `--address` (a bus) or the system bus, with every deadline = `--timeout`.
pub fn client(connect: &Connect) -> Client {
    let target = match &connect.address {
        Some(address) => Target::Address {
            address: address.clone(),
            direct: false,
        },
        None => Target::SystemBus,
    };
    // --timeout bounds each step; the operation as a whole gets their sum.
    Client::new(
        target,
        Options::default().with_timeouts(Timeouts::per_step(connect.timeout)),
    )
}

/// The kernel's default CFS period; the client sends no `CPUQuotaPeriodUSec` when none is
/// given, so the quota is expressed per this period (µs).
const CFS_PERIOD_USEC: u64 = 100_000;

/// u64 with `u64::MAX` = infinity → the client's OCI-style i64 with -1 = unlimited.
fn oci(what: &'static str, v: u64) -> Result<i64, ScopeError> {
    if v == u64::MAX {
        return Ok(-1);
    }
    i64::try_from(v).map_err(|_| ScopeError::TooLarge { what, value: v })
}

/// systemd's own mapping of a v2 weight onto v1 shares (`cgroup_cpu_weight_to_shares()`
/// in `src/core/cgroup.c`): shares = weight · 1024 / 100, clamped to 2..=262144.
pub fn weight_to_shares(weight: u64) -> u64 {
    (weight * 1024 / 100).clamp(2, 262_144)
}

/// The CLI's limits in the client's (OCI) terms. `--cpu-weight` becomes `CPUWeight` on
/// cgroup v2 and, like systemd does for `CPUWeight=` there, `CPUShares` on v1.
pub fn resources(l: &Limits, mode: CgroupMode) -> Result<Resources, ScopeError> {
    let (cpu_weight, cpu_shares) = match (l.cpu_weight, mode) {
        (Some(w), CgroupMode::Legacy) => (None, Some(weight_to_shares(w))),
        (w, _) => (w, None),
    };
    Ok({
        let mut r = Resources::default();
        r.memory_limit = l.memory_max.map(|v| oci("memory max", v)).transpose()?;
        r.memory_high = l.memory_high.map(|v| oci("memory high", v)).transpose()?;
        r.pids_limit = l.tasks_max.map(|v| oci("tasks max", v)).transpose()?;
        r.cpu_weight = cpu_weight;
        r.cpu_shares = cpu_shares;
        // PERCENT of one CPU = PERCENT/100 of each period (CPUQuota= semantics).
        r.cpu_quota = l
            .cpu_quota
            .map(|p| oci("cpu quota", p * CFS_PERIOD_USEC / 100))
            .transpose()?;
        r.cpus = l.allowed_cpus.as_ref().map(|c| c.as_str().to_owned());
        r
    })
}

fn warn_skipped(skipped: &[Skipped]) {
    for s in skipped {
        eprintln!("sdcookie: warning: not set: {s}");
    }
}

/// `scope run`: returns the command's exit status.
pub fn run(args: &ScopeRunArgs) -> Result<u8, ScopeError> {
    let client = client(&args.connect);
    let res = resources(&args.limits, client.cgroup_mode())?;
    // Connect (and validate) before forking, so a dead systemd costs no child.
    let mut scope = Scope::new(args.name.clone(), vec![std::process::id()]);
    scope.slice = args.slice.clone();
    // Not argv: the description is world-readable and written into the unit file.
    scope.description = Some("a command run by sdcookie scope run".to_owned());
    scope.resources = res;
    client.scope_properties(
        &scope,
        &sdbus_cgroup::releases::Capabilities::from_version(u32::MAX),
    )?;
    client.version()?;
    let mut held = Held::spawn(&args.command)?;
    scope.pids = vec![held.pid()];
    let started = match client.start_scope(&scope) {
        Ok(s) => s,
        Err(e) => {
            // Dropping the pipe makes the child exit 125 without running anything.
            let _ = held.wait();
            return Err(e.into());
        }
    };
    warn_skipped(&started.skipped);
    held.release()?;
    let status = {
        let _ignore = IgnoreInterrupts::start();
        held.wait()?
    };
    client
        .stop(&args.name)
        .map_err(|source| ScopeError::Cleanup {
            status,
            unit: args.name.clone(),
            source,
        })?;
    Ok(status)
}

/// `scope update`.
pub fn update(args: &ScopeUpdateArgs) -> Result<(), ScopeError> {
    let client = client(&args.connect);
    let skipped =
        client.set_resources(&args.name, &resources(&args.limits, client.cgroup_mode())?)?;
    warn_skipped(&skipped);
    Ok(())
}

/// `scope stop`.
pub fn stop(args: &ScopeStopArgs) -> Result<(), ScopeError> {
    client(&args.connect).stop(&args.name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_maps_to_shares_like_systemd_on_v1() {
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(1), 10);
        assert_eq!(weight_to_shares(10_000), 102_400);
        let l = Limits {
            cpu_weight: Some(200),
            ..Limits::default()
        };
        let v1 = resources(&l, CgroupMode::Legacy).unwrap();
        assert_eq!((v1.cpu_weight, v1.cpu_shares), (None, Some(2048)));
        let v2 = resources(&l, CgroupMode::Unified).unwrap();
        assert_eq!((v2.cpu_weight, v2.cpu_shares), (Some(200), None));
    }

    #[test]
    fn quota_percent_is_per_100ms_period_and_infinity_is_minus_one() {
        let l = Limits {
            cpu_quota: Some(150),
            memory_max: Some(u64::MAX),
            ..Limits::default()
        };
        let r = resources(&l, CgroupMode::Unified).unwrap();
        assert_eq!(r.cpu_quota, Some(150_000));
        assert_eq!(r.memory_limit, Some(-1));
    }
}
