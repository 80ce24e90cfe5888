//! The doctor at the cookie edge of real pre-v242 PID 1s: stock upstream systemd 219
//! (RHEL/CentOS 7, the post-mortem's release) and 241 (Debian 10) as PID 1 of a sandbox,
//! the API-bus cookie moved to 0xfffffff0 by gdb and driven past 0xffffffff by the doctor's
//! own calls until PID 1 no longer answers on the bus. The doctor runs beside PID 1 (in its
//! PID namespace, as an operator's doctor runs).
//!
//! - v219 stays on the bus and reads nothing more: the doctor must say `critical`, exit 1,
//!   in every run — with its default deadline and with `--timeout 3s` — and "PID 1 is deaf
//!   on the bus, callers without a deadline hang", with the way out. What made it fail
//!   before: on that PID 1 a new private-socket connection has its epoll mask set once
//!   (sd-event's prepare queue is stuck behind the disabled API-bus source), so a client
//!   that waits for `OK` before it says more waits forever whenever the server read `AUTH`
//!   after that one prepare (`crates/client/src/private/ask.rs` has the details).
//! - v241 closes its bus connection instead (systemd commit 5ae37ad833): "PID 1 left the
//!   bus". The doctor tells the two apart by what dbus-daemon says about the name.
//!
//! Needs root, gdb (`scripts/install-deps`), the `sdcookie` binary (`cargo build --release
//! -p sdcookie`) and the stock PID 1s from `systemd-patch/build-pid1 219` and `241` (cache
//! hits after the first build; set SYSTEMD_SOURCES without network). A missing piece fails
//! the test with the reason. Sandboxes are torn down and gdb ended by its pid, also on
//! panic. Waits have a deadline that only turns a hang into a failure; nothing here
//! measures time.

use std::process::Output;
use std::time::Duration;

use sdbus_sandbox::{Sandbox, SandboxOptions};
use sdcookie::report::{Report, Verdict};

/// Not a timing assertion: how long any wait may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(120);
/// How many doctor runs each deadline must pass, all of them.
const RUNS: usize = 20;
/// Where gdb puts PID 1's API-bus cookie: 16 messages below the ceiling.
const EDGE: u32 = 0xffff_fff0;
/// What the doctor must say on v219 deaf on the bus, and on v241 gone from it.
const DEAF: &str = "PID 1 is deaf on the bus, callers without a deadline hang";
const WAY_OUT: &str = "'systemctl daemon-reexec'";

const LEFT: &str = "PID 1 left the bus";

/// One sandbox at a time: each claim is about one PID 1 on the machine, not two competing.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn doctor_on_systemd_219_deaf_on_the_bus_says_critical_in_every_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = at_the_edge("219");
    for (label, args) in [
        ("the default deadline", &[][..]),
        ("--timeout 3s", &["--timeout", "3s"][..]),
    ] {
        let mut wrong = Vec::new();
        for run in 1..=RUNS {
            let (out, report) = doctor(&sandbox, args);
            let message = &report.message;
            let right = out.status.code() == Some(1)
                && report.verdict == Verdict::Critical
                && report.private_responsive
                && report.name_owned == Some(true)
                && message.contains(DEAF)
                && message.contains(WAY_OUT);
            if !right {
                wrong.push(format!("run {run}: {}", sdbus_cookie_tests::show(&out)));
            }
        }
        assert!(
            wrong.is_empty(),
            "with {label}, {} of {RUNS} runs were not critical with '{DEAF}' and {WAY_OUT}:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
    sandbox.shutdown().expect("tear the sandbox down");
}

/// v241 closes its bus connection at the edge (systemd commit 5ae37ad833): its name has no
/// owner, which the doctor reports as such.
#[test]
fn doctor_on_systemd_241_past_the_edge_says_pid1_left_the_bus() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sandbox = at_the_edge("241");
    let (out, report) = doctor(&sandbox, &["--timeout", "3s"]);
    let message = &report.message;
    assert!(
        out.status.code() == Some(1)
            && report.verdict == Verdict::Critical
            && report.private_responsive
            && report.name_owned == Some(false)
            && message.contains(LEFT)
            && !message.contains(DEAF)
            && message.contains(WAY_OUT),
        "{}",
        sdbus_cookie_tests::show(&out)
    );
    sandbox.shutdown().expect("tear the sandbox down");
}

/// The stock `release` PID 1 in a sandbox, driven past its last cookie on the API bus: the
/// doctor's call after the one answered with a cookie at the edge gets no answer there.
fn at_the_edge(release: &str) -> Sandbox {
    let systemd = sdbus_cookie_tests::pid1s(release).0;
    let sandbox = Sandbox::boot(
        SandboxOptions::default()
            .systemd(&systemd)
            .boot_timeout(Duration::from_secs(60)),
    )
    .unwrap_or_else(|e| panic!("boot {}: {e}", systemd.display()));
    assert!(
        sandbox.systemd_version().starts_with(release),
        "{}",
        sandbox.systemd_version()
    );
    let (out, report) = doctor(&sandbox, &["--timeout", "3s"]);
    assert!(
        report.bus_responsive,
        "before the edge: {}",
        sdbus_cookie_tests::show(&out)
    );
    assert_eq!(
        report.systemd_version.map(|v| v.to_string()).as_deref(),
        Some(release),
        "{}",
        sdbus_cookie_tests::show(&out)
    );

    move_cookie_to_the_edge(&sandbox);
    // Each run costs PID 1 one message on the bus; the first one no longer answered is
    // the one it could not seal.
    let mut highest = 0u64;
    for _ in 0..=2 * (0xffff_ffff - EDGE) {
        let (out, report) = doctor(&sandbox, &["--timeout", "3s"]);
        if !report.bus_responsive {
            break;
        }
        highest = report
            .cookie
            .map(u64::from)
            .unwrap_or_else(|| panic!("{}", sdbus_cookie_tests::show(&out)));
    }
    assert!(
        highest >= u64::from(EDGE),
        "the bus went silent before the edge (last cookie {highest:#x}): gdb did not move it"
    );
    let (out, report) = doctor(&sandbox, &["--timeout", "3s"]);
    assert!(
        !report.bus_responsive,
        "PID 1 still answers on the bus after cookie {highest:#x}: {}",
        sdbus_cookie_tests::show(&out)
    );
    sandbox
}

/// gdb stops PID 1 at its next seal of a message on the API bus, sets that connection's
/// cookie to [`EDGE`], and detaches (`Sandbox::set_api_bus_cookie`); each poke makes systemd
/// answer on its bus.
fn move_cookie_to_the_edge(sandbox: &Sandbox) {
    let systemd = sdbus_cgroup::Client::new(
        sdbus_cgroup::Target::Address {
            address: sandbox.bus_address(),
            direct: false,
        },
        sdbus_cgroup::Options::default(),
    );
    let moved = sandbox
        .set_api_bus_cookie(EDGE, || {
            let _ = systemd.unit_state("dbus.service", "ActiveState");
        })
        .unwrap_or_else(|e| panic!("move the cookie: {e}"));
    assert!(
        moved.found < u64::from(EDGE),
        "PID 1's cookie was {:#x} before gdb moved it",
        moved.found
    );
}

/// One `sdcookie doctor --format json` in the sandbox's namespaces; its output and report.
fn doctor(sandbox: &Sandbox, args: &[&str]) -> (Output, Report) {
    let mut cmd = sandbox.command(sdbus_cookie_tests::sdcookie());
    cmd.args(["doctor", "--format", "json"]).args(args);
    let out = sdbus_cookie_tests::run_with_deadline(cmd.as_std_mut(), HANG);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor's JSON: {e}: {}", sdbus_cookie_tests::show(&out)));
    (out, report)
}
