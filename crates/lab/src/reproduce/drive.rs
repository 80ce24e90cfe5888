//! One PID 1's run: boot it in a sandbox, move its cookie, drive it to the edge, then hand
//! over to the stock or patched flow; the run's context and its steps.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use sdbus_cgroup::testing::{Ping, PingTarget};
use sdbus_cgroup::{Client, Options, Resources, Scope, Target, Timeouts};
use sdbus_sandbox::{Sandbox, SandboxOptions};

use sdcookie::exit::chain;

use crate::CEILING;

use super::gdb::move_cookie;
use super::patched::patched_after_edge;
use super::reexec::{bind_binary, overlay_binary};
use super::release::{BinaryAt, Release};
use super::stock::stock_after_edge;
use super::text::hex;
use super::{
    progress, release_entry, Build, Claim, Details, ReproduceArgs, ReproduceError, Run,
    LIFECYCLE_MARGIN,
};

/// True while the process exists and is not exiting. A PID namespace's init that was
/// killed stays visible, flagged `PF_EXITING`, until the kernel has reaped every other
/// process of its namespace, and only then becomes a zombie.
pub(super) fn alive(pid: u32) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // After the command name (which may hold spaces): state, ppid, pgrp, session, tty_nr,
    // tpgid, flags, ...
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("X");
    let flags = fields
        .get(6)
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0);
    !matches!(state, "Z" | "X" | "x") && flags & PF_EXITING == 0
}

/// A host process we started; ended by its pid when dropped (on every path).
pub(super) struct Reaped(pub(super) Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The run's context: which build, its sandbox, its client, and the step it is in.
pub(super) struct Ctx<'a> {
    pub(super) build: Build,
    pub(super) release: &'static Release,
    pub(super) sandbox: &'a Sandbox,
    pub(super) binary: &'a Path,
    /// The operator's `sdcookie`, for its doctor.
    pub(super) operator: &'a Path,
    pub(super) client: Client,
    pub(super) timeout: Duration,
    pub(super) step: &'static str,
    pub(super) n: u64,
    pub(super) claims: Vec<Claim>,
}

impl Ctx<'_> {
    pub(super) fn step(&mut self, step: &'static str) -> Result<(), ReproduceError> {
        self.step = step;
        progress(format!("[{}] {step}", self.build));
        self.pid1()
    }

    /// PID 1 must be alive; if not, say during which step it died.
    pub(super) fn pid1(&self) -> Result<(), ReproduceError> {
        if alive(self.sandbox.pid()) {
            return Ok(());
        }
        let log = self.sandbox.log();
        let tail: Vec<&str> = log.lines().rev().take(8).collect();
        Err(ReproduceError::Pid1Died {
            build: self.build,
            step: self.step,
            log: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        })
    }

    /// An error of the current step, unless PID 1 died (then that is the error).
    pub(super) fn fail(&self, e: ReproduceError) -> ReproduceError {
        self.pid1().err().unwrap_or(e)
    }

    pub(super) fn client_err(&self, source: sdbus_cgroup::Error) -> ReproduceError {
        self.fail(ReproduceError::Client {
            build: self.build,
            step: self.step,
            source,
        })
    }

    pub(super) fn tool_err(&self, detail: String) -> ReproduceError {
        self.fail(ReproduceError::Tool {
            build: self.build,
            step: self.step,
            detail,
        })
    }

    pub(super) fn sandbox_err(&self, source: sdbus_sandbox::Error) -> ReproduceError {
        self.fail(ReproduceError::Sandbox {
            build: self.build,
            step: self.step,
            source,
        })
    }

    pub(super) fn claim(&mut self, ok: bool, what: String) {
        progress(format!(
            "[{}] {} {what}",
            self.build,
            if ok { "ok  " } else { "FAIL" }
        ));
        self.claims.push(Claim { ok, what });
    }

    /// systemd's serial as last seen by the client (its API-bus cookie).
    pub(super) fn peer(&self) -> u32 {
        self.client.stats().peer.last_serial
    }

    pub(super) fn sleeper(&self) -> Result<sdbus_sandbox::SandboxChild, ReproduceError> {
        self.sandbox
            .command("sleep")
            .arg("300")
            .spawn()
            .map_err(|e| self.sandbox_err(e))
    }

    pub(super) fn next_unit(&mut self) -> String {
        self.n += 1;
        format!("sdcookie-reproduce-{}.scope", self.n)
    }

    /// One runc-style scope lifecycle around a `sleep` inside the sandbox: start with a
    /// limit (waits for its job), stop (waits for its job), reset-failed.
    pub(super) fn lifecycle(&mut self) -> Result<Result<(), sdbus_cgroup::Error>, ReproduceError> {
        let mut sleeper = self.sleeper()?;
        let unit = self.next_unit();
        let r = self
            .client
            .start_scope(&scope(&unit, sleeper.pid()))
            .and_then(|_| self.client.stop(&unit));
        if r.is_ok() {
            let _ = sleeper.wait();
        }
        // On failure the sleeper stays; the sandbox's teardown kills it.
        Ok(r)
    }

    /// Whether systemd's well-known name has an owner on the bus (asked with busctl).
    pub(super) fn on_bus(&self) -> Option<bool> {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.sandbox.bus_address()))
            .args([
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner",
                "s",
                "org.freedesktop.systemd1",
            ])
            .output()
            .ok()?;
        match String::from_utf8_lossy(&out.stdout).trim() {
            "b true" => Some(true),
            "b false" => Some(false),
            _ => None,
        }
    }

    /// The systemctl of the same build, or the host's.
    pub(super) fn systemctl(&self) -> PathBuf {
        let beside = self.binary.with_file_name("systemctl");
        if beside.is_file() {
            beside
        } else {
            PathBuf::from("systemctl")
        }
    }
}

/// A runc-style scope with a limit every release in the table takes (`MemoryLimit` on
/// cgroup v1, `MemoryMax` on v2; v219 has no `TasksMax`).
pub(super) fn scope(unit: &str, pid: u32) -> Scope {
    let mut scope = Scope::new(unit.to_owned(), vec![pid]);
    scope.resources = Resources::new().memory_limit(64 << 20);
    scope
}

/// Boots `binary` as PID 1 of a sandbox and names it (its cgroup, its host pid).
pub(super) fn boot(build: Build, binary: &Path) -> Result<Sandbox, ReproduceError> {
    let started = Instant::now();
    progress(format!("[{build}] booting {} as PID 1", binary.display()));
    let opts = SandboxOptions::default()
        .systemd(binary)
        .boot_timeout(Duration::from_secs(60));
    let sandbox = Sandbox::boot(opts).map_err(|source| ReproduceError::Sandbox {
        build,
        step: "boot",
        source,
    })?;
    progress(format!(
        "[{build}] systemd {} up as host pid {} in cgroup sandbox-{}, {:.1} s",
        sandbox.systemd_version(),
        sandbox.pid(),
        sandbox.id(),
        started.elapsed().as_secs_f64()
    ));
    Ok(sandbox)
}

impl<'a> Ctx<'a> {
    /// A run's context on a booted sandbox: its release's table entry, and a client on its
    /// bus whose every call and job wait has `timeout` (a whole operation three times it).
    pub(super) fn new(
        build: Build,
        sandbox: &'a Sandbox,
        binary: &'a Path,
        operator: &'a Path,
        timeout: Duration,
    ) -> Result<Ctx<'a>, ReproduceError> {
        let release = release_entry(sandbox.systemd_version())?;
        let client = Client::new(
            Target::Address {
                address: sandbox.bus_address(),
                direct: false,
            },
            Options::default().with_timeouts(Timeouts::per_step(timeout)),
        );
        Ok(Ctx {
            build,
            release,
            sandbox,
            binary,
            operator,
            client,
            timeout,
            step: "boot",
            n: 0,
            claims: Vec::new(),
        })
    }
}

/// Boots `binary`, moves its cookie, drives it across the edge and checks the claims.
pub(super) fn drive(
    build: Build,
    binary: &Path,
    operator: &Path,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
    let started = Instant::now();
    let sandbox = boot(build, binary)?;
    let boot_seconds = started.elapsed().as_secs_f64();
    let mut cx = Ctx::new(build, &sandbox, binary, operator, args.timeout)?;
    let mut details = Details {
        binary: binary.to_path_buf(),
        boot_seconds,
        ..Details::default()
    };
    let result = drive_booted(&mut cx, &mut details, args);
    // The log before teardown, for the report (and for a failure).
    details.systemd_log = api_bus_lines(&sandbox.log());
    let run = result?;
    drop(cx);
    sandbox
        .shutdown()
        .map_err(|source| ReproduceError::Sandbox {
            build,
            step: "teardown",
            source,
        })?;
    details.seconds = started.elapsed().as_secs_f64();
    Ok(Run { details, ..run })
}

pub(super) fn drive_booted(
    cx: &mut Ctx<'_>,
    details: &mut Details,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
    if cx.build == Build::Stock {
        // Before anything else: a mount is a unit state change, and v241 reconnects a
        // closed API bus on any unit state change (unit_notify() → manager_recheck_dbus()),
        // which would blur what daemon-reexec alone does.
        cx.step("prepare the way out: the same binary at SYSTEMD_BINARY_PATH")?;
        details.reexec_mount = Some(match cx.release.binary_at_reexec_path {
            BinaryAt::BindMount => bind_binary(cx)?,
            BinaryAt::OverlaySymlink => overlay_binary(cx)?,
        });
    }

    cx.step("move the API-bus cookie with gdb")?;
    let gdb = move_cookie(cx, args.cookie)?;
    details.cookie_found = gdb.found;
    details.gdb_seconds = gdb.seconds;

    cx.step("connect the client")?;
    cx.client.version().map_err(|e| cx.client_err(e))?;
    let first = cx.peer();
    details.first_serial_seen = first;
    cx.claim(
        first > args.cookie,
        format!(
            "systemd's first reply after gdb has serial {first:#010x}, past the cookie gdb set ({:#010x})",
            args.cookie
        ),
    );
    if first <= args.cookie {
        return Err(ReproduceError::Tool {
            build: cx.build,
            step: "move the API-bus cookie with gdb",
            detail: format!(
                "gdb's write did not reach the API bus: systemd answered with serial {first:#x}"
            ),
        });
    }

    cx.step("scope lifecycles up to the edge")?;
    let mut before = 0u64;
    while CEILING - cx.peer() > LIFECYCLE_MARGIN {
        if let Err(e) = cx.lifecycle()? {
            return Err(cx.client_err(e));
        }
        before += 1;
    }
    details.lifecycles_before_edge = before;
    cx.step("single pings up to the edge")?;
    let mut at_edge = cx.peer();
    let mut landed = None;
    loop {
        if cx.build == Build::Stock && at_edge == CEILING {
            break;
        }
        match cx.client.ping(PingTarget::Systemd, None, cx.timeout) {
            Ok(_) => {
                let s = cx.peer();
                if s < at_edge {
                    landed = Some(s);
                    break;
                }
                at_edge = s;
            }
            Err(e) => {
                // Something other than our ping took the last serial: the edge was
                // crossed by another message, not by the runtime's call.
                return Err(cx.fail(ReproduceError::Tool {
                    build: cx.build,
                    step: "single pings up to the edge",
                    detail: format!(
                        "a ping got no reply at serial {at_edge:#x} (the edge was crossed by another message): {}",
                        chain(&e)
                    ),
                }));
            }
        }
    }
    progress(format!(
        "[{}] {before} lifecycles, then pings: last serial {at_edge:#010x}, next {}",
        cx.build,
        hex(landed)
    ));
    let run = match cx.build {
        Build::Stock => stock_after_edge(cx, details, at_edge, args)?,
        Build::Patched => patched_after_edge(cx, details, at_edge, landed, args)?,
    };
    let stats = cx.client.stats();
    details.last_serial = stats.peer.last_serial;
    details.replies = stats.replies;
    cx.claim(
        stats.unmatched_replies == 0,
        format!(
            "every reply matched a call ({} unmatched)",
            stats.unmatched_replies
        ),
    );
    details.claims = std::mem::take(&mut cx.claims);
    Ok(run)
}

/// What systemd logged about its API bus.
pub(super) fn api_bus_lines(log: &str) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|l| {
            [
                "API bus",
                "Operation not supported",
                "closing down",
                "Reexecuting",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn alive_is_false_for_a_zombie_and_a_missing_pid() {
        assert!(alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let zombie = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(child.id())
        });
        assert!(zombie, "an exited, unreaped child counts as dead");
        child.wait().unwrap();
        assert!(!alive(child.id()));
    }
}
