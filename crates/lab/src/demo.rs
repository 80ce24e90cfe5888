//! `sdcookie-lab demo`: the whole project working, in a throwaway systemd, in seconds.
//!
//! 1. boot a sandbox (real systemd as PID 1 of new namespaces);
//! 2. the client creates a scope with limits, and the limits are read back from the
//!    cgroup files; then updated and read back again; then stopped;
//! 3. the doctor (the operator's `sdcookie`, beside this binary) runs inside the sandbox
//!    and reports PID 1's cookie;
//! 4. the client's own connection is driven to the edge (a ping sealed with cookie
//!    0xfffffff0, then scope lifecycles); systemd is stalled with SIGSTOP, so two calls
//!    sealed with 0x80000001/2 time out (no hang) and stay quarantined; calls to the bus
//!    driver cross 0xffffffff, land on 0x80000000 and skip the two; SIGCONT, and the late
//!    replies release them.
//!
//! Every step checks what it shows; a mismatch fails the demo (exit 1).

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sdbus_cgroup::testing::{Ping, PingTarget};
use sdbus_cgroup::{Client, Options, Resources, Scope, Target, Timeouts};
use sdbus_sandbox::Sandbox;
use sdcookie::report::Verdict;

use crate::cli::DemoArgs;
use crate::doctor::{self, DoctorError};
use crate::sandbox_cmd::{self, SandboxError};
use crate::{CEILING, CYCLED};

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// Booting or using the sandbox failed.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The client failed.
    #[error("client")]
    Client(#[from] sdbus_cgroup::Error),
    /// The operator's doctor could not be found, run or read.
    #[error(transparent)]
    Doctor(#[from] DoctorError),
    /// Something the demo shows was not as it should be.
    #[error("check failed: {0}")]
    Check(String),
}

impl From<sdbus_sandbox::Error> for DemoError {
    fn from(e: sdbus_sandbox::Error) -> Self {
        DemoError::Sandbox(e.into())
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), DemoError> {
    if ok {
        Ok(())
    } else {
        Err(DemoError::Check(what()))
    }
}

const STEPS: u32 = 4;
/// Deadline of every client call and job in the demo.
const DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of the calls to ourselves that are meant to time out.
const SHORT: Duration = Duration::from_millis(300);
/// Where the client's connection is sealed to, near the ceiling.
const EDGE: u32 = 0xffff_fff0;

fn step(n: u32, title: &str) {
    println!("\n[{n}/{STEPS}] {title}");
}

fn client(sandbox: &Sandbox) -> Client {
    let target = Target::Address {
        address: sandbox.bus_address(),
        direct: false,
    };
    Client::new(
        target,
        Options::default().with_timeouts(Timeouts::per_step(DEADLINE)),
    )
}

/// Reads the first of `candidates` (file, expected value) that exists for `cgroup`.
fn read_back(
    sandbox: &Sandbox,
    cgroup: &str,
    candidates: &[(&str, String)],
) -> Result<(String, String, String), DemoError> {
    for (file, expected) in candidates {
        if let Ok(value) = sandbox.read_cgroup_file(cgroup, file) {
            return Ok((file.to_string(), value, expected.clone()));
        }
    }
    let names: Vec<&str> = candidates.iter().map(|c| c.0).collect();
    Err(DemoError::Check(format!(
        "none of {names:?} exists for {cgroup}"
    )))
}

fn show_limits(
    sandbox: &Sandbox,
    cgroup: &str,
    limits: &[Vec<(&str, String)>],
) -> Result<usize, DemoError> {
    let mut good = 0;
    for candidates in limits {
        let (file, value, expected) = read_back(sandbox, cgroup, candidates)?;
        let ok = value == expected;
        println!(
            "      {file:<24} {value:<14} {}",
            if ok { "as set" } else { "MISMATCH" }
        );
        check(ok, || {
            format!("{cgroup}/{file} is {value}, expected {expected}")
        })?;
        good += 1;
    }
    Ok(good)
}

/// Runs the demo; returns what the summary needs.
pub fn run(args: &DemoArgs) -> Result<u8, DemoError> {
    let started = Instant::now();
    // Before anything boots: step 3 needs the operator's binary.
    let operator = doctor::operator_binary()?;
    println!(
        "sdcookie-lab demo: systemd's D-Bus cookie, and the fix, end to end in a throwaway systemd"
    );

    // 1. Boot.
    step(
        1,
        "booting a sandbox: real systemd as PID 1 of new namespaces",
    );
    let t = Instant::now();
    let sandbox = sandbox_cmd::boot(args.systemd.as_ref())?;
    println!(
        "      systemd {} is up as host pid {} ({:.1} s); bus {}",
        sandbox.systemd_version(),
        sandbox.pid(),
        t.elapsed().as_secs_f64(),
        sandbox.bus_address()
    );

    // 2. A scope with limits.
    step(
        2,
        "the client creates a scope with limits; the cgroup files say what systemd did",
    );
    let client = client(&sandbox);
    let version = client.version()?;
    let mut sleeper = sandbox.command("sleep").arg("300").spawn()?;
    let unit = "sdcookie-demo.scope";
    let mut scope = Scope::new(unit, vec![sleeper.pid()]);
    scope.resources = Resources::new()
        .memory_limit(64 << 20)
        .pids_limit(16)
        .cpu_shares(512)
        .cpu_quota(50_000); // 50 ms per 100 ms period: half a CPU
    let start = client.start_scope(&scope)?;
    let cgroup = client.control_group(unit)?;
    println!(
        "      StartTransientUnit {unit} for `sleep 300` (pid {} in the sandbox): job done{}",
        sleeper.pid(),
        if start.retried {
            " (after reset-failed + retry)"
        } else {
            ""
        }
    );
    println!("      MemoryMax=64M TasksMax=16 CPUShares=512 CPUQuota=50% -> cgroup {cgroup}");
    for s in &start.skipped {
        println!("      not sent to systemd {version}: {s}");
    }
    let weight = sdbus_cgroup::convert::shares_to_weight(512);
    // A limit this systemd release does not accept was not sent (v219 has no TasksMax):
    // its file is not checked.
    let sent = |property: &str| !start.skipped.iter().any(|s| s.property == property);
    let mut expected = vec![vec![
        ("memory.limit_in_bytes", (64u64 << 20).to_string()),
        ("memory.max", (64u64 << 20).to_string()),
    ]];
    if sent("TasksMax") {
        expected.push(vec![("pids.max", "16".into())]);
    }
    expected.push(vec![
        ("cpu.shares", "512".into()),
        ("cpu.weight", weight.to_string()),
    ]);
    expected.push(vec![
        ("cpu.cfs_quota_us", "50000".into()),
        ("cpu.max", "50000 100000".into()),
    ]);
    let mut limits_ok = show_limits(&sandbox, &cgroup, &expected)?;
    client.set_resources(unit, &Resources::new().memory_limit(128 << 20))?;
    println!("      SetUnitProperties {unit}: MemoryMax=128M");
    limits_ok += show_limits(
        &sandbox,
        &cgroup,
        &[vec![
            ("memory.limit_in_bytes", (128u64 << 20).to_string()),
            ("memory.max", (128u64 << 20).to_string()),
        ]],
    )?;
    // Like runc's destroy: kill the processes, then stop the unit. A scope stopped while
    // its process is still exiting stays loaded on v219 until its release agent reports
    // the cgroup empty (scope_check_gc() in its src/core/scope.c), which cannot reach a
    // sandbox's PID 1.
    client.kill(unit, Signal::SIGKILL as i32)?;
    let _ = sleeper.wait();
    client.stop(unit)?;
    let gone = client.unit_path(unit)?.is_none();
    check(gone, || {
        format!("{unit} still exists after kill + stop + reset-failed")
    })?;
    println!("      KillUnit + StopUnit + ResetFailedUnit: {unit} is gone, its process with it");

    // 3. The doctor, from inside (the private socket only answers peers in its PID namespace).
    step(
        3,
        "sdcookie doctor, inside the sandbox: PID 1's cookie without gdb",
    );
    let report = doctor::report(&sandbox, &operator, None)?;
    // What the doctor could not tell is printed as JSON's null, as its report has it.
    let shown = |v: Option<String>| v.unwrap_or_else(|| "null".into());
    let answers = |yes: bool| if yes { "answers" } else { "silent" };
    let cookie = report.cookie.unwrap_or(0);
    println!(
        "      systemd {} | cookie {cookie} ({cookie:#010x}) | headroom {} | vulnerable {} | bus {} | private socket {}",
        shown(report.systemd_version.map(|v| v.to_string())),
        shown(report.headroom.map(|h| h.to_string())),
        shown(report.vulnerable.map(|v| v.to_string())),
        answers(report.bus_responsive),
        answers(report.private_responsive),
    );
    let verdict = report.verdict;
    println!("      verdict {verdict}: {}", report.message);
    check(cookie > 0 && cookie < CEILING, || {
        format!("doctor read cookie {cookie}")
    })?;
    check(report.private_responsive, || {
        "the private socket did not answer".into()
    })?;
    check(verdict != Verdict::Unknown, || {
        format!("doctor verdict {verdict}")
    })?;
    let peer = client.stats().peer;
    println!(
        "      (the client watched the same counter from its side: systemd's last serial to it was {})",
        peer.last_serial
    );

    // 4. The client's own cookie crosses 0xffffffff.
    step(4, "the client's own connection crosses 0xffffffff");
    let edge = client_crossing(&sandbox)?;

    println!("\nSummary ({:.1} s)", started.elapsed().as_secs_f64());
    println!("  systemd {version} booted in a sandbox and torn down again");
    println!("  {limits_ok} limits set through the client and read back from the cgroup files");
    println!("  doctor: PID 1's API-bus cookie {cookie:#010x}, verdict {verdict}");
    println!(
        "  client cookie {:#010x} -> {:#010x} -> {:#010x}, skipping pending {}; {} replies matched, {} unmatched, {} from a wrong sender",
        edge.last_before,
        edge.landed,
        edge.after,
        edge.skipped.iter().map(|c| format!("{c:#010x}")).collect::<Vec<_>>().join(", "),
        edge.replies,
        edge.unmatched,
        edge.wrong_sender
    );
    sandbox.shutdown()?;
    Ok(0)
}

/// What the crossing showed.
struct Crossing {
    last_before: u32,
    landed: u32,
    after: u32,
    skipped: Vec<u32>,
    replies: u64,
    unmatched: u64,
    wrong_sender: u64,
}

fn lifecycle(sandbox: &Sandbox, client: &Client, n: u32) -> Result<(), DemoError> {
    let mut sleeper = sandbox.command("sleep").arg("300").spawn()?;
    let unit = format!("sdcookie-demo-{n}.scope");
    let mut scope = Scope::new(unit.clone(), vec![sleeper.pid()]);
    scope.resources = Resources::new().pids_limit(8);
    client.start_scope(&scope)?;
    client.stop(&unit)?;
    let _ = sleeper.wait();
    Ok(())
}

/// Stops the sandbox's systemd (SIGSTOP) until dropped: a stalled PID 1, as in the incident.
struct Stalled(Pid);

impl Stalled {
    fn new(pid: u32) -> Result<Stalled, DemoError> {
        let pid = Pid::from_raw(pid as i32);
        kill(pid, Signal::SIGSTOP)
            .map_err(|e| DemoError::Check(format!("SIGSTOP to systemd: {e}")))?;
        Ok(Stalled(pid))
    }
}

impl Drop for Stalled {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

fn hex_list(cookies: &[u32]) -> String {
    cookies
        .iter()
        .map(|c| format!("{c:#010x}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn client_crossing(sandbox: &Sandbox) -> Result<Crossing, DemoError> {
    // A fresh connection, so its cookie starts low and everything below is its own doing.
    let client = client(sandbox);
    client.version()?;
    let cookie = || client.stats().cookie as u32;

    // What one scope lifecycle costs in cookies, measured far from the edge.
    let before = client.stats().cookie;
    lifecycle(sandbox, &client, 0)?;
    let cost = client.stats().cookie - before;
    println!(
        "      one scope lifecycle (start with limits, wait for the job, stop, reset-failed) takes {cost} cookies"
    );

    client.ping(PingTarget::Systemd, Some(EDGE), DEADLINE)?;
    println!(
        "      a ping sealed with {EDGE:#010x}: the connection adopts it (cookie = max(cookie, k), like sd-bus)"
    );
    // Scope lifecycles while one more surely fits below the ceiling.
    let mut n = 0;
    while u64::from(CEILING - cookie()) > cost + 2 {
        let before = cookie();
        n += 1;
        lifecycle(sandbox, &client, n)?;
        println!(
            "      scope lifecycle {n}: cookies {:#010x}..={:#010x}",
            before + 1,
            cookie()
        );
    }

    // systemd stalls. Two calls, sealed with cookies of the cycled half, time out at their
    // deadline instead of hanging, and their cookies stay reserved until the late reply.
    let skipped = vec![CYCLED + 1, CYCLED + 2];
    let stalled = Stalled::new(sandbox.pid())?;
    for &k in &skipped {
        match client.ping(PingTarget::Systemd, Some(k), SHORT) {
            Err(sdbus_cgroup::Error::Timeout { .. }) => {}
            Ok(_) => return Err(DemoError::Check("a stopped systemd answered".into())),
            Err(e) => return Err(e.into()),
        }
    }
    let stats = client.stats();
    println!(
        "      systemd stalls (SIGSTOP): calls sealed with {} time out after {} ms, no hang;",
        hex_list(&skipped),
        SHORT.as_millis()
    );
    println!(
        "      their cookies stay reserved (quarantined: {}) until systemd's late reply",
        stats.quarantined
    );
    check(stats.quarantined == 2, || {
        format!("{} cookies quarantined, expected 2", stats.quarantined)
    })?;

    // Single calls to the bus driver (it still answers) show every cookie around the edge.
    let mut last_before = cookie();
    let mut line = String::from("      calls to the bus driver use:");
    let landed = loop {
        let used = client.ping(PingTarget::Bus, None, DEADLINE)?;
        line += &format!(" {used:#010x}");
        if used < last_before {
            break used;
        }
        last_before = used;
        check(line.len() < 400, || "the cookie never wrapped".into())?;
    };
    let after = client.ping(PingTarget::Bus, None, DEADLINE)?;
    println!("{line} {after:#010x}");
    println!(
        "      after {last_before:#010x} the counter jumps to {landed:#010x} (bit 31 marks \"cycled\"),"
    );
    println!(
        "      skips {} (still pending) and goes on at {after:#010x}",
        hex_list(&skipped)
    );
    check(last_before == CEILING, || {
        format!("last cookie before the wrap was {last_before:#010x}")
    })?;
    check(landed == CYCLED, || {
        format!("landed on {landed:#010x}, expected 0x80000000")
    })?;
    check(after == CYCLED + 3, || {
        format!("after the wrap came {after:#010x}, expected 0x80000003")
    })?;

    // systemd wakes up and answers the parked calls late: that releases their cookies.
    drop(stalled);
    let until = Instant::now() + DEADLINE;
    while client.stats().pending > 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = client.stats();
    println!(
        "      systemd continues (SIGCONT): {} late replies release the quarantined cookies (pending now {})",
        stats.late_replies, stats.pending
    );
    check(stats.pending == 0, || {
        format!("{} cookies still pending", stats.pending)
    })?;

    n += 1;
    lifecycle(sandbox, &client, n)?;
    let stats = client.stats();
    println!(
        "      a scope lifecycle after the wrap works too: cookie now {:#010x}, cycled = {}",
        stats.cookie, stats.cookie_cycled
    );
    println!(
        "      client stats: {} calls, {} replies, {} late, {} unmatched, {} from a wrong sender, {} timeouts",
        stats.calls,
        stats.replies,
        stats.late_replies,
        stats.unmatched_replies,
        stats.wrong_sender_replies,
        stats.timeouts
    );
    check(
        stats.unmatched_replies == 0 && stats.wrong_sender_replies == 0,
        || {
            format!(
                "{} unmatched, {} wrong-sender replies",
                stats.unmatched_replies, stats.wrong_sender_replies
            )
        },
    )?;
    Ok(Crossing {
        last_before,
        landed,
        after,
        skipped,
        replies: stats.replies,
        unmatched: stats.unmatched_replies,
        wrong_sender: stats.wrong_sender_replies,
    })
}
