//! Scope lifecycles against a real systemd in a sandbox: limits land (over D-Bus and in the
//! host's cgroup files), freeze/thaw, kill, stop + reset-failed, the UnitExists retry.

mod common;

use std::time::Duration;

use common::*;
use sdbus_cgroup::convert::INFINITY;
use sdbus_cgroup::{CgroupMode, DeviceAllow, DevicePolicy, Error, Resources, Scope, Slice, Step};
use zbus::zvariant::Value;

#[test]
fn scope_limits_land_over_dbus_and_in_host_cgroup_files_then_update() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mode = c.cgroup_mode();
    let mut child = sleeper(&sb);
    let unit = "limits.scope";
    let mut scope = Scope::new(unit, vec![child.pid()]);
    scope.resources = Resources::new()
        .memory_limit(64 << 20)
        .cpu_shares(512)
        .cpu_quota(33_333)
        .cpu_period(100_000)
        .cpus("0".into())
        .pids_limit(42)
        .blkio_weight(300)
        .device_policy(DevicePolicy::Strict)
        .device_allow(vec![DeviceAllow::new("/dev/null", "rw")]);
    let started = c.start_scope(&scope).expect("start_scope");
    assert!(!started.retried);
    assert!(started.skipped.is_empty(), "{:?}", started.skipped);

    // Over D-Bus: the converted values.
    let cg = c.control_group(unit).unwrap();
    assert_eq!(cg, "/system.slice/limits.scope");
    assert_eq!(c.unit_state(unit, "ActiveState").unwrap(), "active");
    if mode == CgroupMode::Unified {
        assert_eq!(u64_prop(&c, unit, "MemoryMax"), 64 << 20);
        assert_eq!(
            u64_prop(&c, unit, "CPUWeight"),
            59,
            "512 shares -> weight 59"
        );
        assert_eq!(u64_prop(&c, unit, "IOWeight"), 2979, "blkio 300 -> io 2979");
    } else {
        assert_eq!(u64_prop(&c, unit, "MemoryLimit"), 64 << 20);
        assert_eq!(u64_prop(&c, unit, "CPUShares"), 512);
        assert_eq!(u64_prop(&c, unit, "BlockIOWeight"), 300);
    }
    assert_eq!(u64_prop(&c, unit, "TasksMax"), 42);
    assert_eq!(
        u64_prop(&c, unit, "CPUQuotaPerSecUSec"),
        340_000,
        "33.333 ms rounds up to 340 ms/s"
    );
    assert_eq!(u64_prop(&c, unit, "CPUQuotaPeriodUSec"), 100_000);
    // systemd answers with its whole allocated CPU_SET (8 bytes here): compare the bits.
    let mut cpus: Vec<u8> = c
        .cgroup_property(unit, "AllowedCPUs")
        .unwrap()
        .try_into()
        .unwrap();
    while cpus.last() == Some(&0) {
        cpus.pop();
    }
    assert_eq!(cpus, vec![1u8], "AllowedCPUs \"0\" is bit 0 of byte 0");
    let policy = String::try_from(c.cgroup_property(unit, "DevicePolicy").unwrap()).unwrap();
    assert_eq!(policy, "strict");
    let allow: Vec<(String, String)> = c
        .cgroup_property(unit, "DeviceAllow")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(allow, vec![("/dev/null".to_owned(), "rw".to_owned())]);

    // In the host's cgroup files.
    let read = |file: &str| {
        sb.read_cgroup_file(&cg, file)
            .unwrap_or_else(|e| panic!("reading {file} of {cg}: {e}"))
    };
    assert_eq!(read("pids.max"), "42");
    if mode == CgroupMode::Unified {
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("cpu.weight"), "59");
        assert_eq!(read("cpu.max"), "34000 100000");
    } else {
        assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!(read("cpu.cfs_period_us"), "100000");
        assert_eq!(read("cpu.cfs_quota_us"), "34000");
        let devices = read("devices.list");
        assert!(
            devices.lines().any(|l| l == "c 1:3 rw"),
            "devices.list: {devices:?}"
        );
    }
    let procs = sb.read_cgroup_file(&cg, "cgroup.procs").unwrap();
    assert!(
        procs.lines().any(|l| l == child.host_pid().to_string()),
        "procs: {procs:?}"
    );

    // Update at runtime.
    let update = Resources::new()
        .memory_limit(128 << 20)
        .cpu_shares(2048)
        .cpu_quota(-1)
        .pids_limit(0);
    let skipped = c.set_resources(unit, &update).expect("set_resources");
    assert!(skipped.is_empty());
    assert_eq!(
        u64_prop(&c, unit, "TasksMax"),
        1,
        "pids limit 0 -> TasksMax 1"
    );
    assert_eq!(u64_prop(&c, unit, "CPUQuotaPerSecUSec"), INFINITY);
    assert_eq!(read("pids.max"), "1");
    if mode == CgroupMode::Unified {
        assert_eq!(u64_prop(&c, unit, "MemoryMax"), 128 << 20);
        assert_eq!(read("memory.max"), (128u64 << 20).to_string());
        assert_eq!(read("cpu.weight"), "174");
        assert_eq!(read("cpu.max"), "max 100000");
    } else {
        assert_eq!(u64_prop(&c, unit, "MemoryLimit"), 128 << 20);
        assert_eq!(read("memory.limit_in_bytes"), (128u64 << 20).to_string());
        assert_eq!(read("cpu.shares"), "2048");
        assert_eq!(read("cpu.cfs_quota_us"), "-1");
    }

    c.stop(unit).expect("stop");
    child.wait().unwrap();
    let s = c.stats();
    assert_eq!(
        (s.pending, s.waiting_calls, s.buffered_jobs),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        (
            s.unmatched_replies,
            s.wrong_sender_replies,
            s.foreign_signals
        ),
        (0, 0, 0),
        "{s:?}"
    );
    assert!(s.peer.messages > 0 && s.peer.last_serial > 0, "{s:?}");
}

#[test]
fn slice_with_limits_holds_a_scope_and_both_go_away() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mut slice = Slice::new("pod-a.slice");
    slice.resources = Resources::new().memory_limit(256 << 20).pids_limit(100);
    c.start_slice(&slice).expect("start_slice");
    let mut child = sleeper(&sb);
    let mut scope = Scope::new("in-pod.scope", vec![child.pid()]);
    scope.slice = Some("pod-a.slice".into());
    c.start_scope(&scope).expect("start_scope in slice");
    let cg = c.control_group("in-pod.scope").unwrap();
    assert_eq!(cg, "/pod.slice/pod-a.slice/in-pod.scope");
    let slice_cg = c.control_group("pod-a.slice").unwrap();
    assert_eq!(sb.read_cgroup_file(&slice_cg, "pids.max").unwrap(), "100");
    c.stop("in-pod.scope").unwrap();
    child.wait().unwrap();
    c.stop("pod-a.slice").unwrap();
    assert_eq!(c.unit_path("in-pod.scope").unwrap(), None);
    assert_eq!(c.unit_path("pod-a.slice").unwrap(), None);
    assert!(
        sb.cgroup_file(&slice_cg, "cgroup.procs").is_err(),
        "slice cgroup left behind"
    );
}

#[test]
fn freeze_and_thaw_change_the_freezer_state_or_say_why_not() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mut child = sleeper(&sb);
    let unit = "freeze.scope";
    c.start_scope(&Scope::new(unit, vec![child.pid()])).unwrap();
    assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "running");
    match c.freeze(unit) {
        Ok(()) => {
            assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "frozen");
            let cg = c.control_group(unit).unwrap();
            assert_eq!(sb.read_cgroup_file(&cg, "cgroup.freeze").unwrap(), "1");
            c.thaw(unit).unwrap();
            assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "running");
            assert_eq!(sb.read_cgroup_file(&cg, "cgroup.freeze").unwrap(), "0");
        }
        Err(e) => {
            // systemd's freezer needs the unified hierarchy (cg_freezer_supported() checks
            // cg_all_unified()); on a v1/hybrid host it must be a typed refusal, not a hang.
            // freeze_unified.rs shows the state change on a unified sandbox.
            assert!(
                !sb.cgroup_layout().is_unified(),
                "freeze failed on a unified host: {e}"
            );
            match &e {
                Error::Dbus {
                    unit: u,
                    step: Step::FreezeUnit,
                    name,
                    ..
                } => {
                    assert_eq!(u.as_deref(), Some(unit));
                    assert_eq!(name, "org.freedesktop.DBus.Error.NotSupported");
                }
                other => panic!("expected a NotSupported D-Bus error, got {other:?}"),
            }
            assert_eq!(c.unit_state(unit, "FreezerState").unwrap(), "running");
        }
    }
    c.stop(unit).unwrap();
    child.wait().unwrap();
}

#[test]
fn kill_ends_the_process_and_stop_reset_failed_leaves_no_unit_and_no_cgroup() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mut child = sleeper(&sb);
    let unit = "kill.scope";
    c.start_scope(&Scope::new(unit, vec![child.pid()])).unwrap();
    let cg = c.control_group(unit).unwrap();
    assert!(sb.cgroup_file(&cg, "cgroup.procs").is_ok());
    c.kill(unit, 9).expect("kill");
    let status = child.wait().unwrap();
    assert!(!status.success(), "sleep ended by SIGKILL: {status:?}");

    c.stop(unit).expect("stop");
    assert_eq!(c.unit_path(unit).unwrap(), None, "unit still loaded");
    assert!(
        eventually(Duration::from_secs(5), || sb
            .cgroup_file(&cg, "cgroup.procs")
            .is_err()),
        "cgroup left"
    );
    assert!(scope_cgroups(&sb).is_empty(), "{:?}", scope_cgroups(&sb));
    // Stopping what is not there is fine (runc's stopUnit ignores NoSuchUnit).
    c.stop(unit).expect("second stop");
}

/// Makes `unit` a failed scope the way a crashed runtime would leave it: a process that
/// ignores SIGTERM and a short stop timeout, then `StopUnit` without `ResetFailedUnit`.
/// Uses a separate plain zbus connection: that is "another runtime".
fn leave_failed_scope(sb: &sdbus_sandbox::Sandbox, unit: &str) -> sdbus_sandbox::SandboxChild {
    let stubborn = sb
        .command("sh")
        .args(["-c", "trap '' TERM; exec sleep 1000"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100)); // let the trap be set before stopping
    let bus = zbus::blocking::connection::Builder::address(sb.bus_address().as_str())
        .unwrap()
        .build()
        .unwrap();
    let mgr = |member: &str, body: &dyn erased::Body| body.call(&bus, member);
    let props: Vec<(&str, Value<'_>)> = vec![
        ("PIDs", Value::from(vec![stubborn.pid()])),
        ("TimeoutStopUSec", Value::U64(200_000)),
    ];
    let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = vec![];
    mgr("StartTransientUnit", &(unit, "replace", props, aux));
    // Wait for it to be active before stopping.
    let c = client(sb, options(sb));
    assert!(eventually(Duration::from_secs(10), || c
        .unit_state(unit, "ActiveState")
        .ok()
        .as_deref()
        == Some("active")));
    mgr("StopUnit", &(unit, "replace"));
    assert!(
        eventually(Duration::from_secs(10), || c
            .unit_state(unit, "ActiveState")
            .ok()
            .as_deref()
            == Some("failed")),
        "scope did not fail: {:?}",
        c.unit_state(unit, "ActiveState")
    );
    stubborn
}

mod erased {
    pub trait Body {
        fn call(&self, bus: &zbus::blocking::Connection, member: &str);
    }
    impl<T: serde::Serialize + zbus::zvariant::DynamicType> Body for T {
        fn call(&self, bus: &zbus::blocking::Connection, member: &str) {
            bus.call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                member,
                self,
            )
            .unwrap_or_else(|e| panic!("{member}: {e}"));
        }
    }
}

#[test]
fn leftover_failed_unit_of_the_same_name_is_reset_and_start_retried_once() {
    let sb = boot();
    let unit = "leftover.scope";
    let mut stubborn = leave_failed_scope(&sb, unit);
    let _ = stubborn.kill();
    let c = client(&sb, options(&sb));
    assert_eq!(c.unit_state(unit, "ActiveState").unwrap(), "failed");
    let mut child = sleeper(&sb);
    let started = c
        .start_scope(&Scope::new(unit, vec![child.pid()]))
        .expect("start over the leftover");
    assert!(started.retried, "the UnitExists path was not taken");
    assert_eq!(c.unit_state(unit, "ActiveState").unwrap(), "active");
    c.stop(unit).unwrap();
    child.wait().unwrap();
    assert_eq!(c.unit_path(unit).unwrap(), None);
}

#[test]
fn an_active_unit_of_the_same_name_is_a_typed_unit_exists_error() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mut a = sleeper(&sb);
    let mut b = sleeper(&sb);
    c.start_scope(&Scope::new("dup.scope", vec![a.pid()]))
        .unwrap();
    let e = c
        .start_scope(&Scope::new("dup.scope", vec![b.pid()]))
        .unwrap_err();
    assert!(e.is_unit_exists(), "{e:?}");
    assert!(
        matches!(&e, Error::Dbus { step: Step::StartTransientUnit, unit, .. } if unit.as_deref() == Some("dup.scope"))
    );
    c.stop("dup.scope").unwrap();
    a.wait().unwrap();
    let _ = b.kill();
}

#[test]
fn a_pid_systemd_cannot_see_is_a_typed_error_at_start() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let e = c
        .start_scope(&Scope::new("nopid.scope", vec![999_999]))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Dbus { step: Step::StartTransientUnit, unit, .. } if unit.as_deref() == Some("nopid.scope")),
        "{e:?}"
    );
    let s = c.stats();
    assert_eq!((s.pending, s.waiting_calls), (0, 0), "{s:?}");
}

#[test]
fn a_canceled_start_job_is_a_typed_job_failed_error_naming_the_result() {
    use nix::sys::signal::Signal;
    let sb = boot();
    let c = client(&sb, options(&sb));
    let mut child = sleeper(&sb);
    let unit = "canceled.scope";
    let other = zbus::blocking::connection::Builder::address(sb.bus_address().as_str())
        .unwrap()
        .build()
        .unwrap();
    // With systemd stalled, queue our StartTransientUnit and then another client's
    // StopUnit(replace) for the same unit. systemd reads both before its job queue runs
    // (bus I/O has priority over the idle run queue), so the stop replaces the start job:
    // JobRemoved(..., "canceled") for ours.
    signal(sb.pid(), Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    let result = std::thread::scope(|s| {
        let ours = s.spawn(|| c.start_scope(&Scope::new(unit, vec![child.pid()])));
        assert!(eventually(Duration::from_secs(5), || c
            .stats()
            .waiting_calls
            == 1));
        std::thread::sleep(Duration::from_millis(500)); // let our call reach the bus first
        let theirs = s.spawn(|| {
            other.call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                "StopUnit",
                &(unit, "replace"),
            )
        });
        std::thread::sleep(Duration::from_millis(500));
        signal(sb.pid(), Signal::SIGCONT);
        theirs
            .join()
            .unwrap()
            .expect("StopUnit from the other client");
        ours.join().unwrap()
    });
    drop(cont);
    match result {
        Err(Error::JobFailed {
            unit: u,
            job,
            result,
        }) => {
            assert_eq!(u, unit);
            assert_eq!(result, "canceled");
            assert!(job.starts_with("/org/freedesktop/systemd1/job/"), "{job}");
        }
        other => panic!("expected JobFailed(canceled), got {other:?}"),
    }
    let s = c.stats();
    assert_eq!(
        (s.pending, s.waiting_calls, s.buffered_jobs),
        (0, 0, 0),
        "{s:?}"
    );
    c.stop(unit).unwrap();
    let _ = child.kill();
}

#[test]
fn v2_property_set_is_accepted_by_real_systemd_and_reads_back_converted() {
    // The sandbox mirrors the host's layout (hybrid here), but systemd takes the v2
    // properties in every mode; this proves names, types and conversions of the unified
    // set against a real systemd even where the cgroup files are v1.
    let sb = boot();
    let c = client(&sb, options(&sb).with_cgroup_mode(CgroupMode::Unified));
    let mut child = sleeper(&sb);
    let unit = "v2props.scope";
    let mut scope = Scope::new(unit, vec![child.pid()]);
    scope.resources = Resources::new()
        .memory_limit(300 << 20)
        .memory_swap(400 << 20)
        .memory_reservation(100 << 20)
        .memory_min(10 << 20)
        .memory_high(250 << 20)
        .cpu_shares(1024)
        .cpu_quota(1)
        .blkio_weight(1000)
        .pids_limit(-1);
    let started = c.start_scope(&scope).expect("start with v2 properties");
    assert!(started.skipped.is_empty(), "{:?}", started.skipped);
    assert_eq!(u64_prop(&c, unit, "MemoryMax"), 300 << 20);
    assert_eq!(
        u64_prop(&c, unit, "MemorySwapMax"),
        100 << 20,
        "OCI total 400M - memory 300M"
    );
    assert_eq!(u64_prop(&c, unit, "MemoryLow"), 100 << 20);
    assert_eq!(u64_prop(&c, unit, "MemoryMin"), 10 << 20);
    assert_eq!(u64_prop(&c, unit, "MemoryHigh"), 250 << 20);
    assert_eq!(u64_prop(&c, unit, "CPUWeight"), 100, "1024 shares -> 100");
    assert_eq!(
        u64_prop(&c, unit, "CPUQuotaPerSecUSec"),
        10_000,
        "1us per 100ms rounds up to 10ms/s"
    );
    assert_eq!(u64_prop(&c, unit, "IOWeight"), 10_000);
    assert_eq!(u64_prop(&c, unit, "TasksMax"), INFINITY);
    c.stop(unit).unwrap();
    child.wait().unwrap();
}
