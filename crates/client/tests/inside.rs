//! Operations that systemd only serves to a caller inside its own PID namespace, run by
//! re-executing this test binary inside the sandbox:
//!
//! - `AttachProcessesToUnit`: systemd checks the caller's pid (from the bus or
//!   `SO_PEERCRED`); from the host it is 0 in the sandbox's namespace and systemd answers
//!   `EPROTO`;
//! - the private socket `/run/systemd/private` (direct, no dbus-daemon, no Hello): sd-bus's
//!   server refuses `AUTH EXTERNAL` from a peer whose pid it cannot see.
//!
//! The outer test spawns `<this binary> --exact inner_checks --ignored` with
//! `SDBUS_CGROUP_INNER=<target>`; the inner run is a normal test whose panics fail the
//! outer one through the exit status.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use sdbus_cgroup::{Client, Options, Scope, Target, Timeouts};

fn run_inside(target: &str) {
    let sb = boot();
    let exe = std::env::current_exe().unwrap();
    let out = sb
        .command(&exe)
        .args([
            "--exact",
            "inner_checks",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SDBUS_CGROUP_INNER", target)
        .env(
            "SDBUS_CGROUP_MODE",
            if sb.cgroup_layout().is_unified() {
                "unified"
            } else {
                "legacy"
            },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("running the inner checks in the sandbox");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "inner checks ({target}) failed:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "inner checks did not run:\n{text}"
    );
}

#[test]
fn attach_and_lifecycle_over_the_system_bus_from_inside_the_pid_namespace() {
    run_inside("bus");
}

#[test]
fn private_socket_without_hello_runs_a_full_lifecycle() {
    run_inside("private");
}

#[test]
#[ignore = "entry point for the checks above; runs inside the sandbox only"]
fn inner_checks() {
    let target = std::env::var("SDBUS_CGROUP_INNER").expect("run by the outer tests only");
    let mode = match std::env::var("SDBUS_CGROUP_MODE").as_deref() {
        Ok("unified") => sdbus_cgroup::CgroupMode::Unified,
        _ => sdbus_cgroup::CgroupMode::Legacy,
    };
    let target = match target.as_str() {
        "bus" => Target::SystemBus,
        "private" => Target::SystemdPrivate,
        other => panic!("unknown target {other}"),
    };
    let direct = target == Target::SystemdPrivate;
    let opts = Options::default().with_cgroup_mode(mode).with_timeouts(
        Timeouts::default()
            .connect(Duration::from_secs(20))
            .call(Duration::from_secs(20))
            .job(Duration::from_secs(30))
            .operation(Duration::from_secs(70)),
    );
    let c = Client::connect(target, opts).expect("connect from inside");
    assert_eq!(c.version().unwrap(), 252.max(c.version().unwrap()));
    let mut a = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let mut b = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let unit = "inside.scope";
    c.start_scope(&Scope::new(unit, vec![a.id()]))
        .expect("start_scope");
    c.attach(unit, &[b.id()]).expect("attach");
    let cg = c.control_group(unit).unwrap();
    let procs = std::fs::read_to_string(format!("/sys/fs/cgroup/systemd{cg}/cgroup.procs"))
        .or_else(|_| std::fs::read_to_string(format!("/sys/fs/cgroup{cg}/cgroup.procs")))
        .unwrap();
    assert!(procs.lines().any(|l| l == b.id().to_string()), "{procs:?}");
    c.kill(unit, 15).unwrap();
    c.stop(unit).unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    assert_eq!(c.unit_path(unit).unwrap(), None);
    let s = c.stats();
    assert_eq!(s.unique_name.is_none(), direct, "{s:?}");
    assert_eq!(s.systemd_owner.is_none(), direct, "{s:?}");
    assert_eq!(
        (s.pending, s.waiting_calls, s.buffered_jobs),
        (0, 0, 0),
        "{s:?}"
    );
    // The start job's JobRemoved at least (after SIGTERM the scope may be gone before
    // StopUnit, which then creates no job).
    assert!(s.jobs_removed >= 1, "{s:?}");
    assert!(s.peer.messages > 0, "{s:?}");
    println!("inner stats: {s:?}");
}
