//! The client, the doctor and the demo on every systemd release they will meet: upstream
//! v219 (RHEL/CentOS 7, the post-mortem's release), v241 (Debian 10) and the host's 252
//! (Debian 12), each booted as PID 1 of a sandbox. One suite: `releases!` at the bottom
//! generates every scenario once per release, with what that release's sources say it
//! accepts (the client's `SINCE` table, cited by file in `crates/client/README.md`) written
//! out here as literals, so a wrong table row fails here on the real release.
//!
//! - The client: a scope with limits starts (nothing it sends is refused), the limits are
//!   read back from the host's cgroup files, the ones the release does not accept are in
//!   `Started::skipped` (with the first release that has them, or as not exposed by the
//!   running PID 1 for a cgroup property it does not list), an update lands or is
//!   skipped the same way, kill/stop/reset-failed leave nothing; `AttachProcessesToUnit`,
//!   `FreezeUnit` and transient slices work where the release has them and are
//!   `Error::Unsupported` without a call where it does not; `UnitExists`, a missing unit and
//!   a pid systemd cannot see are typed errors on each (v219 fails the start job for that
//!   pid where later releases refuse the call); a stalled (SIGSTOPped) PID 1 is a typed
//!   timeout naming the step, and the same connection works once it is back.
//! - The doctor, run inside the sandbox: reads the release's `Version`, says whether it is
//!   exposed to the overflow, and `ok` (exit 0) on a healthy PID 1.
//! - `sdcookie-lab demo --systemd PATH`: exit 0.
//!
//! Debian 10's 241-7~deb10u8 and XCP-ng 8.3's 219-57.5 (CentOS 7's 219 with backports) run
//! the same suite: the client sends a cgroup property when PID 1's `-.slice` exposes it, so
//! XCP-ng's backported `TasksMax` is sent and lands in `pids.max`, where upstream 219 has
//! none. XCP-ng's PID 1 waits for the cgroup v1 release agent's news before a scope's stop
//! completes; the sandbox stands in for it (crates/sandbox/src/release.rs).
//!
//! v219 and v241 are the stock PID 1s of `systemd-patch/build-pid1` (cached builds; set
//! SYSTEMD_SOURCES without network), 252 is `/usr/lib/systemd/systemd`. Needs root. A
//! missing piece (a PID 1 that cannot be built or found, a sandbox that does not boot)
//! fails the test with the reason; nothing is skipped. Sandboxes are torn down on drop,
//! also on panic; processes started in them end with them.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use sdbus_cgroup::{
    CgroupMode, Client, DeviceAllow, DevicePolicy, Error, Options, Resources, Scope, Slice, Step,
    Target, Timeouts,
};
use sdbus_sandbox::{Sandbox, SandboxOptions};
use sdbus_test_support::sandbox;
use sdcookie::report::{Report, Verdict};

/// One sandbox at a time: the machine is shared, and each test is about one PID 1.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What a release is and what its sources say it accepts of what these tests send.
struct Release {
    /// `219`, `241`, `252`.
    number: u32,
    /// The distribution tree built instead of the upstream tag (`debian-10`), if any.
    tree: Option<&'static str>,
    /// Properties of the test scope the release does not accept, in the order the client
    /// reports them.
    scope_skipped: &'static [&'static str],
    /// `TasksMax` (v227).
    tasks: bool,
    /// `AttachProcessesToUnit` (v238).
    attach: bool,
    /// `FreezeUnit`/`ThawUnit` (v246).
    freeze: bool,
    /// `StartTransientUnit` of a slice (v228).
    transient_slice: bool,
    /// A scope for a pid systemd cannot see is refused by the call (true), or accepted and
    /// its start job fails (v219).
    no_pid_refused: bool,
}

/// The release's PID 1: the stock build for 219, 241 and a distribution's tree, the host's
/// for 252.
fn pid1(release: &Release) -> PathBuf {
    let path = match (release.tree, release.number) {
        (Some(tree), _) => sdbus_cookie_tests::pid1s(tree).0,
        (None, 252) => PathBuf::from("/usr/lib/systemd/systemd"),
        (None, n) => sdbus_cookie_tests::pid1s(&n.to_string()).0,
    };
    assert!(
        path.is_file(),
        "the systemd {} PID 1 is missing: {}",
        release.number,
        path.display()
    );
    path
}

fn boot(release: &Release) -> Sandbox {
    let path = pid1(release);
    Sandbox::boot(SandboxOptions::default().systemd(&path)).unwrap_or_else(|e| {
        panic!(
            "booting systemd {} ({}) in a sandbox: {e}",
            release.number,
            path.display()
        )
    })
}

fn client(sb: &Sandbox) -> Client {
    sandbox::client(sb, sandbox::options(sb))
}

/// Not a timing assertion: how long systemd may take to unload a unit before the test
/// calls it left behind.
const UNLOAD: Duration = Duration::from_secs(10);

/// The stopped unit is gone: unloaded once systemd's garbage collection runs after the
/// stop job and `ResetFailedUnit`. v219 keeps a scope whose cgroup still has a process
/// (`scope_check_gc()` in its src/core/scope.c) and learns that the cgroup emptied only
/// from the cgroup v1 release agent, which runs in the host's namespaces and cannot reach a
/// sandbox's PID 1 (v241 and 252 watch the unified hierarchy's `cgroup.events` instead):
/// when the scope's process was still exiting at the stop, v219 keeps the unit loaded,
/// `inactive`, with an empty cgroup. That is what is checked there.
fn assert_unloaded(c: &Client, sb: &Sandbox, release: &Release, unit: &str) {
    let end = std::time::Instant::now() + UNLOAD;
    loop {
        match c.unit_path(unit) {
            Ok(None) => return,
            Ok(Some(_)) if release.number < 230 && std::time::Instant::now() >= end => {
                assert_eq!(c.unit_state(unit, "ActiveState").unwrap(), "inactive");
                let cg = c.control_group(unit).unwrap();
                let procs = sb.read_cgroup_file(&format!("/system.slice/{unit}"), "cgroup.procs");
                assert!(
                    procs.as_deref().map_or(true, |p| p.trim().is_empty()),
                    "{unit} ({cg:?}) still has processes: {procs:?}"
                );
                return;
            }
            Ok(Some(_)) if std::time::Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!(
                "{unit} left behind ({other:?}), state {:?}",
                c.unit_state(unit, "ActiveState")
            ),
        }
    }
}

fn u64_prop(c: &Client, unit: &str, name: &str) -> u64 {
    let v = c
        .cgroup_property(unit, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    v.as_u64()
        .unwrap_or_else(|| panic!("{name} is not a number: {v:?}"))
}

fn unsupported(r: sdbus_cgroup::Result<impl std::fmt::Debug>, what: &str, needs: u32, found: u32) {
    match r {
        Err(Error::Unsupported {
            what: w,
            needs: n,
            found: f,
        }) if w == what && n == needs && f == found => {}
        other => {
            panic!("{what} on systemd {found}: want Unsupported (needs {needs}), got {other:?}")
        }
    }
}

fn client_scope_limits_read_back_from_cgroup_files(release: Release) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = boot(&release);
    let c = client(&sb);
    assert_eq!(c.version().unwrap(), release.number);
    assert_eq!(
        c.cgroup_mode(),
        CgroupMode::Legacy,
        "this suite reads cgroup v1 files (the sandbox mirrors the host's hybrid layout)"
    );
    let mut child = sb.command("sleep").arg("1000").spawn().expect("sleep");
    let unit = "release-limits.scope";
    let mut scope = Scope::new(unit, vec![child.pid()]);
    scope.resources = Resources::new()
        .memory_limit(64 << 20)
        .cpu_shares(512)
        .cpu_quota(33_333)
        .cpu_period(100_000)
        .cpus("0".into())
        .pids_limit(42)
        .device_policy(DevicePolicy::Strict)
        .device_allow(vec![DeviceAllow::new("/dev/null", "rw")]);
    let started = c
        .start_scope(&scope)
        .unwrap_or_else(|e| panic!("start_scope on systemd {}: {e}", release.number));
    let skipped: Vec<_> = started.skipped.iter().map(|s| s.property).collect();
    assert_eq!(skipped, release.scope_skipped, "{:?}", started.skipped);
    // Each skip names its evidence: a cgroup property the PID 1 does not list on -.slice
    // ("not exposed", no release), anything else by the first release that takes it.
    let caps = c.capabilities().unwrap();
    assert!(caps.introspected(), "systemd {}: {caps:?}", release.number);
    for s in &started.skipped {
        let by_release = s.needs.is_some() && s.reason.contains("release");
        let not_exposed = s.needs.is_none() && s.reason.starts_with("not exposed");
        assert!(by_release || not_exposed, "{s}");
    }

    let cg = c.control_group(unit).unwrap();
    assert_eq!(cg, "/system.slice/release-limits.scope");
    let read = |file: &str| {
        sb.read_cgroup_file(&cg, file)
            .unwrap_or_else(|e| panic!("reading {file} of {cg}: {e}"))
    };
    assert_eq!(u64_prop(&c, unit, "MemoryLimit"), 64 << 20);
    assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
    assert_eq!(read("cpu.shares"), "512");
    // 33.333 ms per 100 ms rounds up to 340 ms/s; without CPUQuotaPeriodUSec (< 242)
    // systemd writes its own 100 ms period, so the quota is the same.
    assert_eq!(read("cpu.cfs_period_us"), "100000");
    assert_eq!(read("cpu.cfs_quota_us"), "34000");
    let devices = read("devices.list");
    assert!(
        devices.lines().any(|l| l == "c 1:3 rw"),
        "devices.list: {devices:?}"
    );
    if release.tasks {
        assert_eq!(read("pids.max"), "42");
    }
    let procs = read("cgroup.procs");
    assert!(
        procs.lines().any(|l| l == child.host_pid().to_string()),
        "procs: {procs:?}"
    );

    let update = Resources::new()
        .memory_limit(128 << 20)
        .cpu_quota(-1)
        .pids_limit(0);
    let skipped = c.set_resources(unit, &update).expect("set_resources");
    let skipped: Vec<_> = skipped.iter().map(|s| s.property).collect();
    let want: &[&str] = if release.tasks { &[] } else { &["TasksMax"] };
    assert_eq!(skipped, want);
    assert_eq!(read("memory.limit_in_bytes"), (128u64 << 20).to_string());
    assert_eq!(read("cpu.cfs_quota_us"), "-1");
    if release.tasks {
        assert_eq!(read("pids.max"), "1", "pids limit 0 -> TasksMax 1");
    }

    c.kill(unit, 9).expect("kill");
    child.wait().expect("the killed sleep");
    c.stop(unit).expect("stop");
    assert_unloaded(&c, &sb, &release, unit);
    let s = c.stats();
    assert_eq!((s.pending, s.waiting_calls), (0, 0), "{s:?}");
    assert_eq!(
        (s.unmatched_replies, s.wrong_sender_replies),
        (0, 0),
        "{s:?}"
    );
    assert_eq!(s.systemd_version, Some(release.number));
    sb.shutdown().expect("tear the sandbox down");
}

fn client_methods_exist_or_are_unsupported_without_a_call(release: Release) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = boot(&release);
    let c = client(&sb);
    let n = release.number;
    let mut first = sb.command("sleep").arg("1000").spawn().expect("sleep");
    let mut second = sb.command("sleep").arg("1000").spawn().expect("sleep");
    let unit = "release-methods.scope";
    c.start_scope(&Scope::new(unit, vec![first.pid()]))
        .expect("start_scope");
    let cg = c.control_group(unit).unwrap();

    let calls = c.stats().calls;
    if release.attach {
        attach_from_inside(&sb, unit, second.pid());
        let procs = sb.read_cgroup_file(&cg, "cgroup.procs").unwrap();
        assert!(
            procs.lines().any(|l| l == second.host_pid().to_string()),
            "attached pid not in {cg}: {procs:?}"
        );
    } else {
        unsupported(
            c.attach(unit, &[second.pid()]),
            "AttachProcessesToUnit",
            238,
            n,
        );
        unsupported(c.freeze(unit), "FreezeUnit", 246, n);
        unsupported(c.thaw(unit), "ThawUnit", 246, n);
        assert_eq!(c.stats().calls, calls, "an unsupported method was sent");
    }
    if release.freeze {
        // cgroup v1 has no freezer in systemd: a typed NotSupported from systemd itself,
        // which proves the call was made.
        match c.freeze(unit) {
            Ok(()) => c.thaw(unit).expect("thaw"),
            Err(e) => assert_eq!(
                e.dbus_name(),
                Some("org.freedesktop.DBus.Error.NotSupported"),
                "{e}"
            ),
        }
    } else if release.attach {
        unsupported(c.freeze(unit), "FreezeUnit", 246, n);
    }

    let mut slice = Slice::new("release-pod.slice");
    slice.resources = Resources::new().memory_limit(32 << 20);
    if release.transient_slice {
        c.start_slice(&slice).expect("start_slice");
        let scg = c.control_group("release-pod.slice").unwrap();
        assert_eq!(
            sb.read_cgroup_file(&scg, "memory.limit_in_bytes").unwrap(),
            (32u64 << 20).to_string()
        );
        c.stop("release-pod.slice").expect("stop the slice");
    } else {
        let calls = c.stats().calls;
        unsupported(c.start_slice(&slice), "StartTransientUnit(slice)", 228, n);
        assert_eq!(c.stats().calls, calls, "a transient slice was sent");
    }

    c.stop(unit).expect("stop");
    first.wait().expect("the first sleep ends with its scope");
    if release.attach {
        second
            .wait()
            .expect("the attached sleep ends with the scope");
    }
    assert_unloaded(&c, &sb, &release, unit);
    sb.shutdown().expect("tear the sandbox down");
}

fn client_errors_are_typed_the_same_on_every_release(release: Release) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = boot(&release);
    let c = client(&sb);
    let mut a = sb.command("sleep").arg("1000").spawn().expect("sleep");
    let mut b = sb.command("sleep").arg("1000").spawn().expect("sleep");
    c.start_scope(&Scope::new("dup.scope", vec![a.pid()]))
        .expect("start_scope");
    let e = c
        .start_scope(&Scope::new("dup.scope", vec![b.pid()]))
        .unwrap_err();
    assert!(e.is_unit_exists(), "{e:?}");
    assert!(
        matches!(&e, Error::Dbus { step: Step::StartTransientUnit, unit, .. } if unit.as_deref() == Some("dup.scope")),
        "{e:?}"
    );
    // A unit that does not exist: no path, and stopping it is done already.
    assert_eq!(c.unit_path("never.scope").unwrap(), None);
    c.stop("never.scope").expect("stop of a missing unit");
    // A pid systemd cannot see: a typed error naming the unit, nothing left waiting.
    // v219 takes the pid and fails the start job (`unit_watch_pid()` does not check it);
    // later releases refuse the call (`UnixProcessIdUnknown`). Either way a typed error
    // naming the unit, and no failed unit left behind.
    let nopid = c.start_scope(&Scope::new("nopid.scope", vec![999_999]));
    match (&nopid, release.no_pid_refused) {
        (
            Err(Error::Dbus {
                step, unit, name, ..
            }),
            true,
        ) => {
            assert_eq!(
                (*step, unit.as_deref().unwrap_or_default(), name.as_str()),
                (
                    Step::StartTransientUnit,
                    "nopid.scope",
                    "org.freedesktop.DBus.Error.UnixProcessIdUnknown"
                )
            )
        }
        (Err(Error::JobFailed { unit, result, .. }), false) => {
            assert_eq!((unit.as_str(), result.as_str()), ("nopid.scope", "failed"))
        }
        _ => panic!("a pid systemd {} cannot see: {nopid:?}", release.number),
    }
    assert_unloaded(&c, &sb, &release, "nopid.scope");
    c.stop("dup.scope").expect("stop");
    a.wait().expect("the sleep ends with its scope");
    let _ = b.kill();
    let s = c.stats();
    assert_eq!(
        (s.pending, s.waiting_calls, s.buffered_jobs),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        (s.unmatched_replies, s.wrong_sender_replies),
        (0, 0),
        "{s:?}"
    );
    sb.shutdown().expect("tear the sandbox down");
}

/// Resumes a stopped PID 1 even if the test panics.
struct ContOnDrop(u32);

impl Drop for ContOnDrop {
    fn drop(&mut self) {
        signal(self.0, nix::sys::signal::Signal::SIGCONT);
    }
}

fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid"));
    nix::sys::signal::kill(pid, sig).unwrap_or_else(|e| panic!("kill({pid}, {sig}): {e}"));
}

fn client_stalled_systemd_is_a_typed_timeout_then_recovers(release: Release) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = boot(&release);
    let deadline = Duration::from_secs(2);
    let mode = CgroupMode::Legacy;
    let opts = Options::default().with_cgroup_mode(mode).with_timeouts(
        Timeouts::default()
            .connect(Duration::from_secs(20))
            .call(deadline)
            .job(deadline),
    );
    let target = Target::Address {
        address: sb.bus_address(),
        direct: false,
    };
    let c = Client::connect(target, opts).expect("connect");
    let mut child = sb.command("sleep").arg("1000").spawn().expect("sleep");
    let unit = "stalled.scope";

    // PID 1 stalled as in the incident: the call ends with a typed timeout naming the
    // step, and its cookie stays reserved until the late reply.
    signal(sb.pid(), nix::sys::signal::Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    match c.start_scope(&Scope::new(unit, vec![child.pid()])) {
        Err(Error::Timeout {
            unit: u,
            step: Step::StartTransientUnit,
            after,
        }) => assert_eq!((u.as_deref(), after), (Some(unit), deadline)),
        other => panic!("a stalled systemd {}: {other:?}", release.number),
    }
    assert_eq!(c.stats().quarantined, 1, "{:?}", c.stats());
    drop(cont);

    // Back: the same connection works, the late reply releases the cookie.
    let end = std::time::Instant::now() + UNLOAD;
    while c.stats().quarantined != 0 {
        assert!(
            std::time::Instant::now() < end,
            "the late reply never came: {:?}",
            c.stats()
        );
        c.unit_path(unit).expect("a call after SIGCONT");
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = c.stats();
    assert_eq!((s.late_replies, s.pending, s.connects), (1, 0, 1), "{s:?}");
    // systemd ran the stalled start once it woke; wait for the scope, then clean up.
    while c.unit_state(unit, "ActiveState").ok().as_deref() != Some("active") {
        assert!(
            std::time::Instant::now() < end,
            "{unit} never became active"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.kill(unit, 9).expect("kill");
    child.wait().expect("the killed sleep");
    c.stop(unit).expect("stop");
    assert_unloaded(&c, &sb, &release, unit);
    sb.shutdown().expect("tear the sandbox down");
}

/// systemd serves `AttachProcessesToUnit` only to a caller whose pid it can see (from the
/// host, the caller's pid is 0 in the sandbox's namespace and systemd answers `EPROTO`), so
/// the call is made by this test binary re-run inside the sandbox ([`inner_attach`]).
fn attach_from_inside(sb: &Sandbox, unit: &str, pid: u32) {
    let exe = std::env::current_exe().expect("this test binary");
    let out = sb
        .command(&exe)
        .args(["--exact", "inner_attach", "--ignored", "--nocapture"])
        .args(["--test-threads=1"])
        .env(INNER_UNIT, unit)
        .env(INNER_PID, pid.to_string())
        .output()
        .expect("run the inner attach in the sandbox");
    let text = show(&out);
    assert!(out.status.success(), "inner attach failed: {text}");
    assert!(
        text.contains("1 passed"),
        "inner attach did not run: {text}"
    );
}

const INNER_UNIT: &str = "SDBUS_RELEASES_INNER_UNIT";
const INNER_PID: &str = "SDBUS_RELEASES_INNER_PID";

/// The inside half of [`attach_from_inside`]; run by it, not on its own (without its
/// environment it fails).
#[test]
#[ignore = "run inside a sandbox by attach_from_inside"]
fn inner_attach() {
    let unit = std::env::var(INNER_UNIT).expect("run by attach_from_inside");
    let pid: u32 = std::env::var(INNER_PID)
        .expect("run by attach_from_inside")
        .parse()
        .expect("a pid");
    let target = Target::Address {
        address: "unix:path=/run/dbus/system_bus_socket".into(),
        direct: false,
    };
    let opts = Options::default().with_cgroup_mode(CgroupMode::Legacy);
    let c = Client::connect(target, opts).expect("connect inside the sandbox");
    c.attach(&unit, &[pid]).expect("attach");
}

fn show(out: &Output) -> String {
    sdbus_cookie_tests::show(out)
}

fn doctor_inside_reads_the_release_and_says_ok(release: Release) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let exe = sdbus_cookie_tests::sdcookie();
    let sb = boot(&release);
    let mut doctor = sb.command(&exe);
    doctor.args(["doctor", "--format", "json"]);
    // The sandbox's own bus and private socket, as an operator's doctor on the node.
    doctor.as_std_mut().env_remove("DBUS_SYSTEM_BUS_ADDRESS");
    let out = doctor.output().expect("run the doctor in the sandbox");
    let report: Report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor printed no report ({e}): {}", show(&out)));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(report.verdict, Verdict::Ok, "{report:?}");
    assert_eq!(report.systemd_version, Some(release.number), "{report:?}");
    assert_eq!(report.vulnerable, Some(release.number < 242), "{report:?}");
    assert!(report.private_responsive, "{report:?}");
    assert!(report.cookie.unwrap_or(0) > 0, "{report:?}");
    sb.shutdown().expect("tear the sandbox down");
}

fn demo_runs_end_to_end(release: Release) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let exe = sdbus_cookie_tests::sdcookie_lab();
    let path = pid1(&release);
    let out = std::process::Command::new(&exe)
        .arg("demo")
        .arg("--systemd")
        .arg(&path)
        .output()
        .expect("run sdcookie-lab demo");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let booted = format!(
        "systemd {} booted in a sandbox and torn down again",
        release.number
    );
    assert!(text.contains(&booted), "{}", show(&out));
    let tasks_skipped = text.contains("not sent to systemd 219: TasksMax");
    assert_eq!(tasks_skipped, !release.tasks, "{}", show(&out));
}

/// One test per scenario and release.
macro_rules! releases {
    ($($release:ident => $value:expr;)*) => {
        $(
            mod $release {
                use super::*;

                #[test]
                fn client_scope_limits_read_back_from_cgroup_files() {
                    super::client_scope_limits_read_back_from_cgroup_files($value);
                }

                #[test]
                fn client_methods_exist_or_are_unsupported_without_a_call() {
                    super::client_methods_exist_or_are_unsupported_without_a_call($value);
                }

                #[test]
                fn client_errors_are_typed_the_same_on_every_release() {
                    super::client_errors_are_typed_the_same_on_every_release($value);
                }

                #[test]
                fn client_stalled_systemd_is_a_typed_timeout_then_recovers() {
                    super::client_stalled_systemd_is_a_typed_timeout_then_recovers($value);
                }

                #[test]
                fn doctor_inside_reads_the_release_and_says_ok() {
                    super::doctor_inside_reads_the_release_and_says_ok($value);
                }

                #[test]
                fn demo_runs_end_to_end() {
                    super::demo_runs_end_to_end($value);
                }
            }
        )*
    };
}

releases! {
    systemd_219 => Release {
        number: 219,
        tree: None,
        scope_skipped: &["CPUQuotaPeriodUSec", "AllowedCPUs", "TasksMax", "TasksAccounting"],
        tasks: false,
        attach: false,
        freeze: false,
        transient_slice: false,
        no_pid_refused: false,
    };
    systemd_241 => Release {
        number: 241,
        tree: None,
        scope_skipped: &["CPUQuotaPeriodUSec", "AllowedCPUs"],
        tasks: true,
        attach: true,
        freeze: false,
        transient_slice: true,
        no_pid_refused: true,
    };
    // Debian 10's systemd 241-7~deb10u8, built from its tree with its 79 patches: what
    // Debian's sources accept is upstream 241's.
    debian_10 => Release {
        number: 241,
        tree: Some("debian-10"),
        scope_skipped: &["CPUQuotaPeriodUSec", "AllowedCPUs"],
        tasks: true,
        attach: true,
        freeze: false,
        transient_slice: true,
        no_pid_refused: true,
    };
    // XCP-ng 8.3 / XenServer 8 dom0's systemd 219-57.5, built from its packaging with its
    // whole series: CentOS 7's 219 with Red Hat's backports. Its `-.slice` exposes
    // `TasksAccounting`/`TasksMax` and `CPUQuotaPeriodUSec` (its `dbus-cgroup.c` takes
    // them), so the client, gating by what PID 1 exposes, sends them; `AllowedCPUs` it has
    // not. The manager methods are judged by the release number: upstream 219's.
    xcp_ng_8_3 => Release {
        number: 219,
        tree: Some("xcp-ng-8.3"),
        scope_skipped: &["AllowedCPUs"],
        tasks: true,
        attach: false,
        freeze: false,
        transient_slice: false,
        no_pid_refused: false,
    };
    systemd_252 => Release {
        number: 252,
        tree: None,
        scope_skipped: &[],
        tasks: true,
        attach: true,
        freeze: true,
        transient_slice: true,
        no_pid_refused: true,
    };
}
