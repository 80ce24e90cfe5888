//! A full scope lifecycle — StartTransientUnit with limits, its
//! JobRemoved, StopUnit, its JobRemoved, ResetFailedUnit — against a real systemd in a
//! sandbox (`sdbus-sandbox`), three ways, in one run:
//! * ours: `sdbus_cgroup::Client::start_scope` + `stop`, in-process, one connection;
//! * `reference_c_sdbus`: the same calls from C through libsystemd's sd-bus, in-process,
//!   one connection (`c/sdbus_client.c`), with the same properties;
//! * `reference_systemd_run`: the command-line way, inside the sandbox (through `nsenter`,
//!   as the sandbox runs commands): `systemd-run --scope -p MemoryMax/MemoryLimit -p
//!   TasksMax sleep 1000` until it execs `sleep` (it waits for the start job first), then
//!   `systemctl stop` and `systemctl reset-failed`: one process per step.
//!
//! Each lifecycle puts a fresh `sleep` (spawned untimed) into the scope; stopping the scope
//! kills it. Needs root, namespaces, systemd and dbus-daemon, like the client's tests: it
//! fails, never skips, without them.

use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sdbus_cgroup::{CgroupMode, Client, Options, Resources, Scope, Target, Timeouts};
use sdbus_cookie_benches::measure::{paired_long, paired_wanted, Target as Goal};
use sdbus_cookie_benches::{print_group_ratios, Row};
use sdbus_sandbox::{Sandbox, SandboxChild, SandboxOptions};

const MEMORY: u64 = 64 << 20;
const TASKS: u64 = 42;
/// Paired rounds of about 200 ms a side (ten or so lifecycles): one lifecycle alone varies
/// too much with the scheduling of PID 1, dbus-daemon and us on 2 shared cores.
const ROUND: Duration = Duration::from_millis(200);
const ROUNDS: usize = 21;

#[repr(C)]
struct CClient {
    _opaque: [u8; 0],
}

extern "C" {
    fn sdbench_client_open(address: *const c_char) -> *mut CClient;
    fn sdbench_client_free(c: *mut CClient);
    fn sdbench_client_lifecycle(
        c: *mut CClient,
        unit: *const c_char,
        pid: u32,
        unified: c_int,
        memory: u64,
        tasks: u64,
    ) -> c_int;
}

static UNIT: AtomicU64 = AtomicU64::new(0);

fn unit_name(who: &str) -> String {
    format!("bench-{who}-{}.scope", UNIT.fetch_add(1, Relaxed))
}

fn sleeper(sb: &Sandbox) -> SandboxChild {
    sb.command("sleep")
        .arg("1000")
        .spawn()
        .expect("spawning sleep in the sandbox")
}

/// Times `iters` lifecycles, each around a fresh sleeper spawned (and reaped) untimed.
fn lifecycles(sb: &Sandbox, iters: u64, mut one: impl FnMut(&str, u32)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let mut child = sleeper(sb);
        let start = Instant::now();
        one(&unit_name("x"), child.pid());
        total += start.elapsed();
        let _ = child.kill();
    }
    total
}

/// `systemd-run --scope` of `sleep 1000` in the sandbox with the lifecycle's limits;
/// returns once the start job is done, i.e. once systemd-run has exec'd `sleep`.
fn systemd_run_scope(sb: &Sandbox, unit: &str, memory: &str) -> SandboxChild {
    let mut run = sb
        .command("systemd-run")
        .args(["--quiet", "--scope", "--unit", unit])
        .arg("-p")
        .arg(format!("{memory}={MEMORY}"))
        .arg("-p")
        .arg(format!("TasksMax={TASKS}"))
        .args(["sleep", "1000"])
        .spawn()
        .expect("running systemd-run in the sandbox");
    wait_for_exec(&mut run, "sleep");
    run
}

/// Waits until the sandboxed process has exec'd `comm` (polling `/proc`, 50 µs steps).
fn wait_for_exec(child: &mut SandboxChild, comm: &str) {
    let path = format!("/proc/{}/comm", child.host_pid());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::fs::read_to_string(&path).is_ok_and(|c| c.trim() == comm) {
            return;
        }
        if let Ok(Some(status)) = child.std_child_mut().try_wait() {
            panic!("systemd-run exited before starting its command: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "systemd-run did not start its command in 30 s"
        );
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn client_lifecycle(c: &mut Criterion) {
    let sb = Sandbox::boot(SandboxOptions::default()).unwrap_or_else(|e| {
        panic!(
            "the scope lifecycle bench needs a real systemd in a sandbox (root, namespaces, systemd, \
             dbus-daemon); booting it failed: {e}"
        )
    });
    let unified = sb.cgroup_layout().is_unified();
    let mode = if unified {
        CgroupMode::Unified
    } else {
        CgroupMode::Legacy
    };
    let opts = Options::default().with_cgroup_mode(mode).with_timeouts(
        Timeouts::default()
            .connect(Duration::from_secs(20))
            .call(Duration::from_secs(20))
            .job(Duration::from_secs(30))
            .operation(Duration::from_secs(70)),
    );
    let target = Target::Address {
        address: sb.bus_address(),
        direct: false,
    };
    let ours = Client::connect(target, opts).expect("connecting our client to the sandbox bus");
    let address = CString::new(sb.bus_address()).expect("no NUL in the bus address");
    // SAFETY: a valid NUL-terminated string for the call; the C side copies it.
    let cclient = unsafe { sdbench_client_open(address.as_ptr()) };
    assert!(!cclient.is_null(), "the C sd-bus client could not connect");

    let mut run_ours = |iters: u64| {
        lifecycles(&sb, iters, |unit, pid| {
            let mut scope = Scope::new(unit, vec![pid]);
            scope.resources = Resources::new()
                .memory_limit(MEMORY as i64)
                .pids_limit(TASKS as i64);
            ours.start_scope(&scope).expect("start_scope");
            ours.stop(unit).expect("stop");
        })
    };
    let mut run_c = |iters: u64| {
        lifecycles(&sb, iters, |unit, pid| {
            let unit = CString::new(unit).expect("no NUL");
            // SAFETY: `cclient` is the live handle opened above (freed after the group);
            // `unit` is a valid NUL-terminated string for the call.
            let r = unsafe {
                sdbench_client_lifecycle(cclient, unit.as_ptr(), pid, unified.into(), MEMORY, TASKS)
            };
            assert_eq!(r, 0, "C sd-bus lifecycle failed");
        })
    };
    let memory = if unified { "MemoryMax" } else { "MemoryLimit" };
    // The same lifecycle with the command-line tools, one process per step:
    // `systemd-run --scope` (it waits for the start job, then execs the payload, so the
    // exec marks "started"), `systemctl stop` (waits for the stop job), `systemctl
    // reset-failed`.
    let mut run_systemd_run = |iters: u64| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let unit = unit_name("run");
            let start = Instant::now();
            let mut run = systemd_run_scope(&sb, &unit, memory);
            let stop = sb
                .command("systemctl")
                .args(["stop", &unit])
                .status()
                .expect("running systemctl stop in the sandbox");
            assert!(stop.success(), "systemctl stop {unit} failed: {stop}");
            // Exits 1 when the stopped scope is already unloaded ("not loaded"), which our
            // client and the C one treat as success too (NoSuchUnit).
            let reset = sb
                .command("systemctl")
                .args(["reset-failed", &unit])
                .stderr(std::process::Stdio::null())
                .status()
                .expect("running systemctl reset-failed in the sandbox");
            assert!(
                matches!(reset.code(), Some(0 | 1)),
                "systemctl reset-failed {unit}: {reset}"
            );
            total += start.elapsed();
            let _ = run.kill();
        }
        total
    };

    let name = "client_lifecycle";
    let mut g = c.benchmark_group(name);
    g.sample_size(10);
    g.bench_function("ours_client", |b| b.iter_custom(&mut run_ours));
    g.bench_function("reference_c_sdbus", |b| b.iter_custom(&mut run_c));
    g.bench_function("reference_systemd_run", |b| {
        b.iter_custom(&mut run_systemd_run)
    });
    // For reading the systemd-run row: what entering the sandbox costs per process.
    g.bench_function("nsenter_true", |b| {
        b.iter(|| {
            let status = sb.command("true").status().expect("nsenter true");
            assert!(status.success());
        })
    });
    g.finish();

    let mut rows = Vec::new();
    if paired_wanted(name, "ours_client", "reference_c_sdbus") {
        rows.push(Row {
            ours: "ours_client",
            reference: "reference_c_sdbus",
            paired: paired_long(&mut run_ours, &mut run_c, ROUND, ROUNDS),
            target: Goal::AtMost(1.1),
        });
    }
    if paired_wanted(name, "ours_client", "reference_systemd_run") {
        rows.push(Row {
            ours: "ours_client",
            reference: "reference_systemd_run",
            paired: paired_long(&mut run_ours, &mut run_systemd_run, ROUND, ROUNDS),
            target: Goal::FasterBy(5.0),
        });
    }
    print_group_ratios(name, &rows);

    // Where the time goes (the "profile" of the systemd-run row): each step timed alone,
    // median of a few lifecycles.
    if paired_wanted(name, "ours_client", "reference_systemd_run") {
        let n = if sdbus_cookie_benches::measure::quick_mode() {
            3
        } else {
            15
        };
        let med = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2].as_secs_f64() * 1e3
        };
        let (mut start_o, mut stop_o) = (Vec::new(), Vec::new());
        let (mut run_s, mut stop_s, mut reset_s) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let mut child = sleeper(&sb);
            let unit = unit_name("steps");
            let mut scope = Scope::new(&unit, vec![child.pid()]);
            scope.resources = Resources::new()
                .memory_limit(MEMORY as i64)
                .pids_limit(TASKS as i64);
            let t = Instant::now();
            ours.start_scope(&scope).expect("start_scope");
            start_o.push(t.elapsed());
            let t = Instant::now();
            ours.stop(&unit).expect("stop");
            stop_o.push(t.elapsed());
            let _ = child.kill();

            let unit = unit_name("steps-run");
            let t = Instant::now();
            let mut run = systemd_run_scope(&sb, &unit, memory);
            run_s.push(t.elapsed());
            let t = Instant::now();
            let _ = sb.command("systemctl").args(["stop", &unit]).status();
            stop_s.push(t.elapsed());
            let t = Instant::now();
            let _ = sb
                .command("systemctl")
                .args(["reset-failed", &unit])
                .stderr(std::process::Stdio::null())
                .status();
            reset_s.push(t.elapsed());
            let _ = run.kill();
        }
        println!(
            "STEPS client_lifecycle (median of {n}, ms): ours start_scope {:.2} + stop (with \
             reset-failed) {:.2}; systemd-run --scope until exec {:.2} + systemctl stop {:.2} + \
             systemctl reset-failed {:.2}",
            med(start_o),
            med(stop_o),
            med(run_s),
            med(stop_s),
            med(reset_s)
        );
    }

    // SAFETY: opened above, not used after this.
    unsafe { sdbench_client_free(cclient) };
    ours.disconnect();
    sb.shutdown().expect("sandbox teardown");
}

criterion_group!(benches, client_lifecycle);
criterion_main!(benches);
