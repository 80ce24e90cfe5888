//! The post-mortem's runtimes on the same PID 1s: runc, crun, containerd and dockerd, each
//! driving the sandboxed PID 1 through its systemd cgroup driver, with sdbus-cgroup beside
//! them at the same moment.
//!
//! Per runtime and PID 1, two boots, one per way to cross the edge (a stock PID 1 crosses
//! it once): gdb moves the API-bus cookie, single pings take systemd's serials to
//! `0xffffffff`, then the next message systemd sends is either
//! - a reply sd-bus sends on its own (`edge_by_reply`: the client's `Properties.Get`), after
//!   which the runtime creates a container, or
//! - the reply to the runtime's own `StartTransientUnit` (`edge_by_call`).
//!
//! While the runtime's call is out, sdbus-cgroup starts a scope of its own and, for the
//! daemons, the call a kubelet's PLEG makes (`ctr task ls`, `docker ps`) is timed. A runtime
//! command that outlives `--runtime-patience` is ended by its pid, SIGTERM first. On the
//! stock PID 1 the call boot then runs the operator's way out (`daemon-reexec`) and checks
//! that a container started before the edge still runs in its scope and that the runtime
//! works again; on the patched one the runtime keeps creating containers past the edge.
//! Before the edge every boot runs a healthy container with memory and pids limits and
//! reads them back from the cgroup files of the container's process.

mod engine;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sdbus_cgroup::testing::{Ping, PingTarget};
use sdbus_sandbox::Sandbox;
use sdcookie::exit::chain;
use serde::Serialize;

use crate::{CEILING, CYCLED};

use super::drive::{boot as boot_sandbox, scope, Ctx};
use super::gdb::move_cookie;
use super::reexec::{bind_binary, overlay_binary, way_out};
use super::release::BinaryAt;
use super::{progress, Build, Claim, Details, ReproduceArgs, ReproduceError};

use engine::{bounded, finish, start, Engine, MEMORY, PIDS};

/// The runtimes `args` asks for.
pub(super) fn requested(args: &ReproduceArgs) -> &[RuntimeName] {
    if args.no_runtimes {
        &[]
    } else {
        &args.runtimes
    }
}

/// Before anything boots: every requested runtime installed and of the measured series.
pub(super) fn preflight(args: &ReproduceArgs) -> Result<(), ReproduceError> {
    engine::preflight(requested(args)).map_err(|(rt, detail)| ReproduceError::Runtime {
        build: Build::Stock,
        runtime: rt.as_str(),
        step: "preflight",
        detail,
    })
}
pub use engine::{Outcome, RuntimeName};

/// sdbus-cgroup's `StartTransientUnit` at the moment the runtime's call was out.
#[derive(Debug, Clone, Serialize)]
pub struct Beside {
    /// ok, error (its typed timeout among them), or blocked (never: it has a deadline).
    pub outcome: Outcome,
    /// Seconds until it returned.
    pub seconds: f64,
    /// Its error.
    pub error: Option<String>,
}

/// One runtime's container creation right after the edge was crossed.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeRun {
    /// ok, error (within the patience), or blocked (ended by its pid).
    pub outcome: Outcome,
    /// Seconds until it returned or was ended.
    pub seconds: f64,
    /// The last line it printed on stderr.
    pub error: Option<String>,
    /// Blocked only: whether SIGTERM ended it.
    pub sigterm_was_enough: Option<bool>,
    /// sdbus-cgroup on the same PID 1 at the same moment.
    pub sdbus_cgroup: Beside,
}

/// Containers a runtime created on the patched PID 1 after the edge.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    /// Created, started and deleted.
    pub ok: u32,
    /// Failed at any of those steps.
    pub failed: u32,
    /// The first failure.
    pub first_error: Option<String>,
    /// systemd's serial to the client afterwards (past `0x80000000`: the serials cycled).
    pub serial_after: u32,
}

/// One runtime on one PID 1.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeRun {
    /// `<runtime> --version`.
    pub version: String,
    /// The limits its containers asked for: "memory+pids", or "memory" where the PID 1
    /// refused the pids limit (upstream 219 has no `TasksMax`).
    pub limits: String,
    /// A container with those limits was created, started and deleted in both boots, and
    /// its cgroup files showed the limits. Not a claim: runc and crun cannot run any
    /// container on upstream 219 (they always set `TasksAccounting`).
    pub healthy_ok: bool,
    /// What went wrong when it was not.
    pub healthy_error: Option<String>,
    /// The edge crossed by a reply systemd sends on its own, then the runtime's call.
    pub edge_by_reply: EdgeRun,
    /// The edge crossed by the reply to the runtime's own `StartTransientUnit`.
    pub edge_by_call: EdgeRun,
    /// Patched only, and only where the runtime runs a container at all (`healthy_ok`).
    pub patched_containers_after_edge: Option<Tally>,
    /// Stock only, where the runtime runs a container at all: after `daemon-reexec` the
    /// container started before the edge still ran in its scope and the runtime created and
    /// deleted a container again.
    pub survived_reexec: Option<bool>,
    /// containerd and dockerd: how long their list call (`ctr task ls`, `docker ps`) took
    /// while the runtime's call past the edge was out (ended at twice the client deadline).
    pub list_blocked_s: Option<f64>,
    /// ... and whether it answered.
    pub list_answered: Option<bool>,
}

/// What one boot measured.
struct Half {
    version: String,
    limits: String,
    healthy: Result<(), String>,
    edge: EdgeRun,
    tally: Option<Tally>,
    survived: Option<bool>,
    list: Option<(f64, bool)>,
}

/// How the edge is crossed in a boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Reply,
    Call,
}

/// Every runtime of `args` on one PID 1; the claims go to `claims`.
pub(super) fn measure(
    build: Build,
    binary: &Path,
    operator: &Path,
    args: &ReproduceArgs,
    claims: &mut Vec<Claim>,
) -> Result<BTreeMap<String, RuntimeRun>, ReproduceError> {
    let mut out = BTreeMap::new();
    let runtimes: &[RuntimeName] = if args.no_runtimes {
        &[]
    } else {
        &args.runtimes
    };
    for &rt in runtimes {
        let reply = boot(build, binary, operator, args, rt, By::Reply, claims)?;
        let call = boot(build, binary, operator, args, rt, By::Call, claims)?;
        let healthy_error = match (&reply.healthy, &call.healthy) {
            (Ok(()), Ok(())) => None,
            (Err(e), _) | (_, Err(e)) => Some(e.clone()),
        };
        out.insert(
            rt.as_str().to_owned(),
            RuntimeRun {
                version: reply.version,
                limits: reply.limits,
                healthy_ok: healthy_error.is_none(),
                healthy_error,
                edge_by_reply: reply.edge,
                edge_by_call: call.edge,
                patched_containers_after_edge: call.tally,
                survived_reexec: call.survived,
                list_blocked_s: call.list.map(|l| l.0),
                list_answered: call.list.map(|l| l.1),
            },
        );
    }
    Ok(out)
}

fn boot(
    build: Build,
    binary: &Path,
    operator: &Path,
    args: &ReproduceArgs,
    rt: RuntimeName,
    by: By,
    claims: &mut Vec<Claim>,
) -> Result<Half, ReproduceError> {
    progress(format!("[{build}] {}: the edge by {by:?}", rt.as_str()));
    let sandbox = boot_sandbox(build, binary)?;
    let mut cx = Ctx::new(build, &sandbox, binary, operator, args.timeout)?;
    let half = cross(&mut cx, rt, by, args);
    claims.append(&mut cx.claims);
    drop(cx);
    let half = half?;
    sandbox
        .shutdown()
        .map_err(|source| ReproduceError::Sandbox {
            build,
            step: "teardown",
            source,
        })?;
    Ok(half)
}

/// A runtime step that cannot go on: one line naming the runtime and the step.
fn failed(cx: &Ctx<'_>, rt: RuntimeName, step: &'static str, detail: String) -> ReproduceError {
    cx.fail(ReproduceError::Runtime {
        build: cx.build,
        runtime: rt.as_str(),
        step,
        detail,
    })
}

fn cross(
    cx: &mut Ctx<'_>,
    rt: RuntimeName,
    by: By,
    args: &ReproduceArgs,
) -> Result<Half, ReproduceError> {
    let stock = cx.build == Build::Stock;
    let mut details = Details::default();
    if stock && by == By::Call {
        cx.step("prepare the way out: the same binary at SYSTEMD_BINARY_PATH")?;
        details.reexec_mount = Some(match cx.release.binary_at_reexec_path {
            BinaryAt::BindMount => bind_binary(cx)?,
            BinaryAt::OverlaySymlink => overlay_binary(cx)?,
        });
    }
    cx.step("set up the runtime")?;
    let mut engine = Engine::set_up(rt, cx.sandbox).map_err(|e| failed(cx, rt, "set up", e))?;
    let version = engine.version().map_err(|e| failed(cx, rt, "version", e))?;
    cx.step("a healthy container with limits")?;
    let healthy_run = healthy(cx, &mut engine, "healthy", args);
    let limits = if engine.pids { "memory+pids" } else { "memory" }.to_owned();
    // A runtime that cannot run a container on this PID 1 at all (runc and crun always set
    // `TasksAccounting`, which upstream 219 does not take) is still measured at the edge,
    // where even its refused call waits for a reply; what needs a running container is not.
    let runs = healthy_run.is_ok();
    let keeper = if stock && by == By::Call && runs {
        let id = "keeper";
        let ran = run_container(cx, &engine, id, args)?;
        ran.map_err(|e| failed(cx, rt, "start the container kept across daemon-reexec", e))?;
        let pid = engine
            .pid(id, args.timeout * 2)
            .map_err(|e| failed(cx, rt, "the kept container's pid", e))?;
        Some((pid, cgroup_line(cx.sandbox, pid)))
    } else {
        None
    };

    cx.step("move the API-bus cookie with gdb")?;
    move_cookie(cx, args.cookie)?;
    cx.step("single pings up to the edge")?;
    cx.client.version().map_err(|e| cx.client_err(e))?;
    while cx.peer() != CEILING {
        if cx.peer() < args.cookie {
            return Err(cx.tool_err(format!(
                "systemd's serial {:#x} is below the cookie gdb set: gdb's write did not reach the API bus",
                cx.peer()
            )));
        }
        cx.client
            .ping(PingTarget::Systemd, None, cx.timeout)
            .map_err(|e| cx.client_err(e))?;
    }
    if by == By::Reply {
        cx.step("the edge crossed by a reply systemd sends on its own")?;
        // busctl's own connection: a `Properties.Get` of `Manager.Version`, answered by
        // sd-bus's object dispatch, not by a method of PID 1's.
        let out = std::process::Command::new("busctl")
            .arg(format!("--address={}", cx.sandbox.bus_address()))
            .arg(format!("--timeout={}", cx.timeout.as_secs().max(1)))
            .args([
                "get-property",
                "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "Version",
            ])
            .output()
            .map_err(|e| cx.tool_err(format!("running busctl: {e}")))?;
        progress(format!(
            "[{}] Properties.Get at the edge: {}",
            cx.build,
            if out.status.success() {
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            } else {
                String::from_utf8_lossy(&out.stderr).trim().to_owned()
            }
        ));
    }
    cx.step("the runtime's container past the edge")?;
    let argv = engine
        .run_argv("edge")
        .map_err(|e| failed(cx, rt, "write the container", e))?;
    let mut started = start(cx.sandbox, &argv).map_err(|e| failed(cx, rt, "start", e))?;
    // Let the runtime's StartTransientUnit reach PID 1 first.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) && !started.done() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let beside = beside(cx)?;
    let list = match engine.list_argv() {
        Some(l) => {
            let ran =
                bounded(cx.sandbox, &l, cx.timeout * 2).map_err(|e| failed(cx, rt, "list", e))?;
            Some((ran.seconds, ran.outcome == Outcome::Ok))
        }
        None => None,
    };
    let ran = finish(started, args.runtime_patience);
    progress(format!(
        "[{}] {}: {:?} after {:.1} s{}; sdbus-cgroup {:?} after {:.1} s",
        cx.build,
        rt.as_str(),
        ran.outcome,
        ran.seconds,
        ran.error
            .as_deref()
            .map_or(String::new(), |e| format!(" ({e})")),
        beside.outcome,
        beside.seconds
    ));
    let edge = EdgeRun {
        outcome: ran.outcome,
        seconds: ran.seconds,
        error: ran.error,
        sigterm_was_enough: ran.sigterm_was_enough,
        sdbus_cgroup: beside,
    };
    let deadline = cx.timeout.as_secs_f64() + 2.0;
    if stock {
        cx.claim(
            edge.sdbus_cgroup.seconds <= deadline,
            format!(
                "{} by {by:?}: sdbus-cgroup beside it returned after {:.1} s (deadline {:?})",
                rt.as_str(),
                edge.sdbus_cgroup.seconds,
                cx.timeout
            ),
        );
    } else if runs {
        cx.claim(
            edge.outcome == Outcome::Ok && edge.sdbus_cgroup.outcome == Outcome::Ok,
            format!(
                "{} by {by:?}: the runtime's container past the edge {:?}, sdbus-cgroup beside it {:?}",
                rt.as_str(),
                edge.outcome,
                edge.sdbus_cgroup.outcome
            ),
        );
    }

    let mut tally = None;
    let mut survived = None;
    if let Some((pid, before)) = keeper {
        cx.step("the way out: systemctl daemon-reexec over the private socket")?;
        way_out(cx, &mut details)?;
        cx.step("the runtime after the way out")?;
        let still = alive_in_sandbox(cx.sandbox, pid) && cgroup_line(cx.sandbox, pid) == before;
        let again = healthy(cx, &mut engine, "after-reexec", args);
        survived = Some(still && again.is_ok());
        cx.claim(
            survived == Some(true),
            format!(
                "{}: after daemon-reexec the container started before the edge still runs in its scope ({still}) and a new one works ({})",
                rt.as_str(),
                again.as_ref().map_or_else(Clone::clone, |()| "yes".into())
            ),
        );
    } else if !stock && by == By::Call && runs {
        cx.step("containers past the edge")?;
        let (mut ok, mut bad, mut first_error) = (0u32, 0u32, None);
        for i in 0..args.containers {
            let id = format!("after-{i}");
            let r = run_container(cx, &engine, &id, args)?.and_then(|()| {
                let d = engine.delete(&id, args.timeout * 2);
                match d.outcome {
                    Outcome::Ok => Ok(()),
                    _ => Err(format!("delete: {}", d.error.unwrap_or_default())),
                }
            });
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    bad += 1;
                    first_error.get_or_insert(e);
                }
            }
        }
        cx.client
            .ping(PingTarget::Systemd, None, cx.timeout)
            .map_err(|e| cx.client_err(e))?;
        let serial_after = cx.peer();
        cx.claim(
            bad == 0 && (CYCLED..CEILING / 4 * 3).contains(&serial_after),
            format!(
                "{}: {ok} containers created, started and deleted past the edge, {bad} failed{}; systemd's serial afterwards {serial_after:#010x}",
                rt.as_str(),
                first_error.as_deref().map_or(String::new(), |e| format!(" (first: {e})"))
            ),
        );
        tally = Some(Tally {
            ok,
            failed: bad,
            first_error,
            serial_after,
        });
    }
    Ok(Half {
        version,
        limits,
        healthy: healthy_run,
        edge,
        tally,
        survived,
        list,
    })
}

/// sdbus-cgroup's scope start with its deadline, while the runtime's call is out.
fn beside(cx: &mut Ctx<'_>) -> Result<Beside, ReproduceError> {
    let sleeper = cx.sleeper()?;
    let unit = cx.next_unit();
    let t = Instant::now();
    let r = cx.client.start_scope(&scope(&unit, sleeper.pid()));
    let seconds = t.elapsed().as_secs_f64();
    // The scope (if any) ends with the sandbox; the sleeper is ended by its pid on drop.
    drop(sleeper);
    Ok(match r {
        Ok(_) => Beside {
            outcome: Outcome::Ok,
            seconds,
            error: None,
        },
        Err(e) => Beside {
            outcome: Outcome::Error,
            seconds,
            error: Some(chain(&e)),
        },
    })
}

/// Creates and starts container `id`; Ok(Err) when the runtime said no.
fn run_container(
    cx: &Ctx<'_>,
    engine: &Engine<'_>,
    id: &str,
    args: &ReproduceArgs,
) -> Result<Result<(), String>, ReproduceError> {
    let argv = engine
        .run_argv(id)
        .map_err(|e| failed(cx, engine.name, "write the container", e))?;
    let ran = bounded(cx.sandbox, &argv, args.runtime_patience)
        .map_err(|e| failed(cx, engine.name, "start", e))?;
    Ok(match ran.outcome {
        Outcome::Ok => Ok(()),
        o => Err(format!(
            "{} {o:?} after {:.1} s: {}",
            argv.join(" "),
            ran.seconds,
            ran.error.unwrap_or_default()
        )),
    })
}

/// A container with memory and pids limits: created, started, its limits read back from
/// its process's cgroups, deleted. Where PID 1 refuses `TasksMax` (upstream 219), once more
/// without the pids limit, and the engine keeps to that from then on.
fn healthy(
    cx: &Ctx<'_>,
    engine: &mut Engine<'_>,
    tag: &str,
    args: &ReproduceArgs,
) -> Result<(), String> {
    let mut id = format!("{tag}-1");
    let mut r = run_container(cx, engine, &id, args).map_err(|e| e.to_string())?;
    if let Err(e) = r.clone() {
        if engine.pids && e.contains("Tasks") {
            progress(format!(
                "[{}] {}: PID 1 refused the pids limit ({e}); again with the memory limit only",
                cx.build,
                engine.name.as_str()
            ));
            let _ = engine.delete(&id, args.timeout * 2);
            engine.pids = false;
            id = format!("{tag}-2");
            r = run_container(cx, engine, &id, args).map_err(|e| e.to_string())?;
            r = r.map_err(|e2| format!("{e}; then {e2}"));
        }
    }
    r?;
    let read = engine
        .pid(&id, args.timeout * 2)
        .and_then(|pid| limits_of(cx.sandbox, pid));
    let deleted = engine.delete(&id, args.timeout * 2);
    let (memory, pids) = read?;
    if deleted.outcome != Outcome::Ok {
        return Err(format!(
            "delete {id}: {}",
            deleted.error.unwrap_or_default()
        ));
    }
    let want_pids = engine.pids.then(|| PIDS.to_string());
    if memory != MEMORY.to_string() || (want_pids.is_some() && pids != want_pids) {
        return Err(format!(
            "limits read back: memory {memory}, pids {pids:?} (asked {MEMORY}, {want_pids:?})"
        ));
    }
    Ok(())
}

/// `/proc/<pid>/cgroup` of a sandbox process with every path as PID 1 sees it. Read from
/// here, a path is relative to this process's cgroup namespace (the host's), so the part up
/// to the sandbox's own `sandbox-<id>` directory is cut off.
fn proc_cgroup(sandbox: &Sandbox, pid: u32) -> Result<String, String> {
    let path = format!("/proc/{}/root/proc/{pid}/cgroup", sandbox.pid());
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let marker = format!("/sandbox-{}", sandbox.id());
    Ok(text
        .lines()
        .map(|l| match l.find(&marker) {
            Some(i) => {
                let (head, _) = l.split_at(l[..i].rfind(':').map_or(i, |c| c + 1));
                let rest = &l[i + marker.len()..];
                format!("{head}{}", if rest.is_empty() { "/" } else { rest })
            }
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The container process's cgroup in `name=systemd` (or v2), as PID 1 sees it.
fn cgroup_line(sandbox: &Sandbox, pid: u32) -> Option<String> {
    let text = proc_cgroup(sandbox, pid).ok()?;
    text.lines()
        .find(|l| l.contains(":name=systemd:"))
        .or_else(|| text.lines().find(|l| l.starts_with("0::")))
        .and_then(|l| l.splitn(3, ':').nth(2))
        .map(str::to_owned)
}

/// The memory limit and (if any) the pids limit of the cgroups `pid` is in.
fn limits_of(sandbox: &Sandbox, pid: u32) -> Result<(String, Option<String>), String> {
    let text = proc_cgroup(sandbox, pid)?;
    let of = |controller: &str| {
        text.lines()
            .map(|l| l.splitn(3, ':').collect::<Vec<_>>())
            .find(|f| f.len() == 3 && f[1].split(',').any(|c| c == controller))
            .or_else(|| {
                text.lines()
                    .map(|l| l.splitn(3, ':').collect::<Vec<_>>())
                    .find(|f| f.len() == 3 && f[0] == "0" && f[1].is_empty())
            })
            .map(|f| f[2].to_owned())
    };
    let scope = cgroup_line(sandbox, pid).unwrap_or_default();
    if !scope.contains(".scope") {
        return Err(format!(
            "the container's process is in {scope:?}, not in a scope"
        ));
    }
    let memory_cg = of("memory").ok_or("no memory cgroup")?;
    let memory = sandbox
        .read_cgroup_file(&memory_cg, "memory.limit_in_bytes")
        .or_else(|_| sandbox.read_cgroup_file(&memory_cg, "memory.max"))
        .map_err(|e| chain(&e))?;
    let pids = of("pids").and_then(|cg| sandbox.read_cgroup_file(&cg, "pids.max").ok());
    Ok((memory, pids))
}

/// Whether process `pid` of the sandbox runs (exists and is not a zombie).
fn alive_in_sandbox(sandbox: &Sandbox, pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{}/root/proc/{pid}/stat", sandbox.pid()))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
        })
        == Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_list_parses_by_name_and_refuses_others() {
        use clap::ValueEnum;
        assert_eq!(RuntimeName::from_str("runc", false), Ok(RuntimeName::Runc));
        assert_eq!(
            RuntimeName::from_str("dockerd", false),
            Ok(RuntimeName::Dockerd)
        );
        assert!(RuntimeName::from_str("docker", false).is_err());
        assert!(RuntimeName::from_str("", false).is_err());
    }
}
