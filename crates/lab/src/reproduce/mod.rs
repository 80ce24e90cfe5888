//! `sdcookie-lab reproduce`: the cookie-overflow incident (systemd#11809) on a real vulnerable
//! PID 1, the operator's way out, and our backport holding — on the same release.
//!
//! Two builds of one release (systemd-patch/build-pid1: stock upstream, and upstream with
//! our backport; both full PID 1s with debug info) are booted in turn as PID 1 of a
//! sandbox. In each, gdb attaches to the live PID 1, stops it in `bus_seal_message()` on
//! its API-bus connection (`b->bus_client`) and writes `b->cookie`, then detaches: the
//! binaries carry no knob, the counter is moved the way a post-mortem would inspect it.
//! Then real runc-style work goes through sdbus-cgroup (scope lifecycles: start with
//! limits, wait for `JobRemoved`, stop, reset-failed) while the serials of systemd's
//! replies are watched up to and across `0xffffffff`.
//!
//! - stock: a runtime's `StartTransientUnit` is the first call past the edge. Checked: the
//!   client returns its typed timeout, PID 1 lives, `systemctl` over the private socket
//!   works, the doctor says critical; a caller without a deadline (busctl with its timeout
//!   disabled) is still blocked after 10× the client's deadline and is ended by its pid.
//!   Then the operator's way out: `systemctl daemon-reexec` over the private socket, with
//!   the sandbox's `/usr/lib/systemd/systemd` (the release's compiled-in
//!   `SYSTEMD_BINARY_PATH`) made the same binary in the sandbox's own mount namespace.
//!   Checked: the bus answers again with a fresh cookie, the doctor says ok, and the same
//!   client (no restart) cleans up what its failed call left and runs lifecycles.
//! - patched: the serial after `0xffffffff` is `0x80000000`, the requested number of
//!   lifecycles after it all succeed, the doctor says ok, cycled.
//!
//! What differs by release — whether PID 1 stays on the bus deaf or leaves it once the
//! doctor's probe fails to seal, and how its binary is put at `SYSTEMD_BINARY_PATH` — is one
//! table in `release.rs`, each entry measured on that release; the flow is the same for
//! every release and checks the table's edge entry as a claim.
//!
//! Facts are checked here and listed as claims; the report is printed (text side by side,
//! or one JSON object) and the exit status is 1 when a claim did not hold. What cannot go
//! on (gdb cannot attach, no debug info, PID 1 died) is an error naming the step. The
//! sandbox is torn down on every path; processes started here are ended by their pid.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use sdbus_cgroup::{Client, Options, PingTarget, Resources, Scope, Target};
use sdbus_sandbox::{Sandbox, SandboxOptions};

use sdcookie::exit::chain;
use sdcookie::Format;

use crate::doctor::{self, DoctorError};
use crate::{CEILING, CYCLED};

mod gdb;
mod release;
mod text;

use gdb::move_cookie;
use release::{BinaryAt, Release};
pub use sdbus_sandbox::GdbFailure;
pub use text::text;
use text::{answers, hex};

/// Where pre-v242 systemd re-executes itself from (`SYSTEMD_BINARY_PATH`, meson's default
/// `rootlibexecdir`; `do_reexecute()` in src/core/main.c). On Debian 12 `/lib` links to it.
const SYSTEMD_BINARY_PATH: &str = "/usr/lib/systemd/systemd";

/// Its directory.
const LIBEXEC_DIR: &str = "/usr/lib/systemd";

/// Lifecycles run before the edge only while this many serials are left: one lifecycle
/// costs systemd a few dozen messages (replies and the signals of two jobs), and the last
/// steps to the edge are single pings, one serial each, so every serial around it is seen.
const LIFECYCLE_MARGIN: u32 = 160;

/// Lifecycles the stock client runs after the way out, to show it works without a restart.
const RECOVERY_LIFECYCLES: u64 = 10;

/// How long the bus may take to come back after `daemon-reexec`.
const REEXEC_PATIENCE: Duration = Duration::from_secs(30);

/// `sdcookie-lab reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The stock PID 1 [default: built (or reused) by systemd-patch/build-pid1 RELEASE of
    /// the source tree sdcookie was built in].
    #[arg(long, value_name = "PATH", requires = "patched")]
    pub stock: Option<PathBuf>,
    /// The PID 1 with our backport (same release as --stock).
    #[arg(long, value_name = "PATH", requires = "stock")]
    pub patched: Option<PathBuf>,
    /// The systemd release systemd-patch/build-pid1 builds when no paths are given: 219
    /// (RHEL/CentOS 7, the post-mortem's) or 241 (Debian 10).
    #[arg(long, value_name = "N", default_value = "219", value_parser = parse_release)]
    pub release: String,
    /// The value gdb writes into PID 1's API-bus cookie.
    #[arg(long, value_name = "N", default_value = "0xffffff00", value_parser = parse_cookie)]
    pub cookie: u32,
    /// Scope lifecycles after the edge on the patched PID 1.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub lifecycles: u32,
    /// Deadline of every client call and job wait, and of each doctor step.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = sdcookie::parse::positive_duration)]
    pub timeout: Duration,
    /// Report format (text: side by side; json: one object, for scripts).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A release in the table (what it does at the edge was measured), as its number.
fn parse_release(s: &str) -> Result<String, String> {
    match release::find(s) {
        Some(r) if r.number == s => Ok(s.to_owned()),
        _ => Err(format!(
            "{s}: one of the releases whose edge was measured here: {}",
            release::known()
        )),
    }
}

/// A cookie gdb may write: at least 2 (the next one must not be 0 or 1, which systemd's
/// first messages use) and at most `0xffffffff - 2` (so the edge is still ahead).
fn parse_cookie(s: &str) -> Result<u32, String> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))?;
    if !(2..=CEILING - 2).contains(&v) {
        return Err(format!("{s}: must be between 2 and 0xfffffffd"));
    }
    Ok(v)
}

/// Which of the two PID 1s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Upstream as released.
    Stock,
    /// Upstream with our backport.
    Patched,
}

impl Build {
    fn as_str(self) -> &'static str {
        match self {
            Build::Stock => "stock",
            Build::Patched => "patched",
        }
    }
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the reproduction could not run to the end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReproduceError {
    /// Building (or finding) the two PID 1s failed.
    #[error("build: {0}")]
    Build(String),
    /// A release whose behaviour at the edge was never measured here.
    #[error(
        "systemd {version}: reproduce knows what releases {known} do at the edge, not this one"
    )]
    UnknownRelease {
        /// The release asked for, or the booted PID 1's version.
        version: String,
        /// The releases it knows.
        known: String,
    },
    /// The sandbox failed.
    #[error("{build}: {step}: sandbox")]
    Sandbox {
        /// stock or patched.
        build: Build,
        /// The step.
        step: &'static str,
        /// What the sandbox crate said.
        source: sdbus_sandbox::Error,
    },
    /// gdb could not move the cookie.
    #[error("{build}: move the API-bus cookie with gdb: {kind}: {detail}")]
    Gdb {
        /// stock or patched.
        build: Build,
        /// What kind of failure.
        kind: GdbFailure,
        /// gdb's own words (its last lines).
        detail: String,
    },
    /// PID 1 died (the sandbox is torn down; its last log lines are included).
    #[error("{build}: PID 1 died during step '{step}'; its last log lines: {log}")]
    Pid1Died {
        /// stock or patched.
        build: Build,
        /// The step during which it was found dead.
        step: &'static str,
        /// The tail of systemd's console log.
        log: String,
    },
    /// The client failed where the reproduction cannot go on.
    #[error("{build}: {step}")]
    Client {
        /// stock or patched.
        build: Build,
        /// The step.
        step: &'static str,
        /// What the client said.
        source: sdbus_cgroup::Error,
    },
    /// A tool (mount, systemctl, busctl) failed.
    #[error("{build}: {step}: {detail}")]
    Tool {
        /// stock or patched.
        build: Build,
        /// The step.
        step: &'static str,
        /// What failed.
        detail: String,
    },
    /// The operator's `sdcookie` is not beside this binary.
    #[error(transparent)]
    Doctor(DoctorError),
    /// One or more claims did not hold (the report was printed).
    #[error("{0} claim(s) did not hold: {1}")]
    Claims(usize, String),
}

impl ReproduceError {
    /// True when the reproduction ran but a claim did not hold (exit 1, not 125).
    pub fn is_check(&self) -> bool {
        matches!(self, ReproduceError::Claims(..))
    }
}

/// What the operator's `sdcookie doctor --format json` said (inside the sandbox).
#[derive(Debug, Clone, Default)]
pub struct DoctorSays {
    /// `bus_responsive`.
    pub bus_responsive: bool,
    /// `private_responsive`.
    pub private_responsive: bool,
    /// `cookie` (the API-bus cookie), if the bus answered.
    pub cookie: Option<u32>,
    /// `cycled`.
    pub cycled: Option<bool>,
    /// `systemd_version_string`.
    pub version: Option<String>,
    /// `verdict`.
    pub verdict: String,
    /// `message`.
    pub message: String,
}

/// The stock PID 1 after `systemctl daemon-reexec`.
#[derive(Debug, Clone, Serialize)]
pub struct Reexec {
    /// `Manager.Version` of the re-executed PID 1 (the doctor's reading).
    pub systemd_version: Option<String>,
    /// Its API-bus cookie (a fresh connection: small).
    pub cookie: Option<u32>,
    /// The doctor's verdict afterwards.
    pub doctor_verdict: String,
}

/// One claim and whether it held.
#[derive(Debug, Clone)]
pub struct Claim {
    /// It held.
    pub ok: bool,
    /// What was claimed and what was seen.
    pub what: String,
}

/// What the text report shows beyond the JSON fields.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// The PID 1 binary.
    pub binary: PathBuf,
    /// Boot time (s).
    pub boot_seconds: f64,
    /// The value PID 1's cookie had when gdb stopped it.
    pub cookie_found: Option<u64>,
    /// gdb's time from attach to detach (s).
    pub gdb_seconds: f64,
    /// The first serial of systemd the client saw after gdb.
    pub first_serial_seen: u32,
    /// Lifecycles before the edge.
    pub lifecycles_before_edge: u64,
    /// Time from the failing call to the client's error (s).
    pub detect_seconds: Option<f64>,
    /// systemd's name had an owner right after the failed call.
    pub on_bus_after_failure: Option<bool>,
    /// ... and after the doctor's probe.
    pub on_bus_after_doctor: Option<bool>,
    /// `systemctl show -p Version --value` over the private socket.
    pub private_systemctl: Option<String>,
    /// The doctor's message after the edge.
    pub doctor_message: String,
    /// The doctor's cycled flag after the edge.
    pub doctor_cycled: Option<bool>,
    /// How the unbounded caller ended: "killed by pid N" or what it printed.
    pub unbounded_end: Option<String>,
    /// How `/usr/lib/systemd/systemd` was made the same binary.
    pub reexec_mount: Option<String>,
    /// Seconds from `daemon-reexec` until systemd owned its name again.
    pub reexec_seconds: Option<f64>,
    /// The failed call's unit was still loaded after the way out.
    pub left_behind: Option<bool>,
    /// systemd's serial as the client last saw it.
    pub last_serial: u32,
    /// Client calls answered.
    pub replies: u64,
    /// systemd's console lines about its API bus.
    pub systemd_log: Vec<String>,
    /// The claims checked.
    pub claims: Vec<Claim>,
    /// The whole run (s).
    pub seconds: f64,
}

/// One PID 1's results; the fields that are serialised are the report's contract.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `Manager.Version` (e.g. "241").
    pub systemd_version: String,
    /// The value gdb wrote into PID 1's API-bus cookie.
    pub cookie_set_to: u32,
    /// The last serial systemd sent before the edge (0xffffffff when the edge was seen).
    pub last_serial_before_edge: u32,
    /// The serial systemd sent after 0xffffffff; None if none came.
    pub first_serial_after_edge: Option<u32>,
    /// The client's error at the edge ("timeout: ..." for its typed timeout).
    pub client_error: Option<String>,
    /// The doctor's verdict after the edge.
    pub doctor_verdict: String,
    /// The doctor found systemd answering on the bus.
    pub bus_responsive: bool,
    /// The doctor found systemd answering on its private socket.
    pub private_socket_responsive: bool,
    /// Scope lifecycles that succeeded after the edge.
    pub lifecycles_after_edge: u64,
    /// Client operations after the edge that returned an error.
    pub failed_calls: u64,
    /// Stock only: the operator's way out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reexec: Option<Reexec>,
    /// Stock only: how long the caller without a deadline was blocked before we ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unbounded_caller_blocked_s: Option<f64>,
    /// For the text report.
    #[serde(skip)]
    pub details: Details,
}

/// The report: `{"stock": {...}, "patched": {...}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The stock PID 1.
    pub stock: Run,
    /// The patched PID 1.
    pub patched: Run,
}

fn progress(msg: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "reproduce: {}", msg.as_ref());
}

/// Runs `sdcookie-lab reproduce`; Ok(0) when every claim held.
pub fn run(args: &ReproduceArgs) -> Result<u8, ReproduceError> {
    // Before anything is built or booted: every run asks the operator's doctor.
    let operator = doctor::operator_binary().map_err(ReproduceError::Doctor)?;
    let (stock, patched) = match (&args.stock, &args.patched) {
        (Some(s), Some(p)) => (s.clone(), p.clone()),
        _ => build(&args.release)?,
    };
    for p in [&stock, &patched] {
        if !p.is_file() {
            return Err(ReproduceError::Build(format!(
                "{}: no such file",
                p.display()
            )));
        }
    }
    let stock = drive(Build::Stock, &stock, &operator, args)?;
    let patched = drive(Build::Patched, &patched, &operator, args)?;
    let report = Report { stock, patched };
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("serialises") + "\n",
        _ => text(&report),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    let failed: Vec<String> = [&report.stock, &report.patched]
        .iter()
        .flat_map(|r| r.details.claims.iter())
        .filter(|c| !c.ok)
        .map(|c| c.what.clone())
        .collect();
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(ReproduceError::Claims(failed.len(), failed.join("; ")))
    }
}

/// The table's entry for a release number or a booted PID 1's version.
fn release_entry(version: &str) -> Result<&'static Release, ReproduceError> {
    release::find(version).ok_or_else(|| ReproduceError::UnknownRelease {
        version: version.to_owned(),
        known: release::known(),
    })
}

/// Runs systemd-patch/build-pid1 RELEASE of the source tree this binary was built in,
/// streaming its progress; its last two lines are `stock: PATH` and `patched: PATH`.
fn build(release: &str) -> Result<(PathBuf, PathBuf), ReproduceError> {
    let script = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .map(|d| d.join("systemd-patch/build-pid1"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            ReproduceError::Build(
                "no systemd-patch/build-pid1 above this binary; pass --stock and --patched".into(),
            )
        })?;
    progress(format!(
        "building with {} {release} (cached builds are reused)",
        script.display()
    ));
    let mut child = Command::new(&script)
        .arg(release)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ReproduceError::Build(format!("running {}: {e}", script.display())))?;
    let lines: Vec<String> = child
        .stdout
        .take()
        .map(|out| BufReader::new(out).lines().map_while(Result::ok).collect())
        .unwrap_or_default();
    let status = child
        .wait()
        .map_err(|e| ReproduceError::Build(format!("waiting for {}: {e}", script.display())))?;
    if !status.success() {
        return Err(ReproduceError::Build(format!(
            "{} {release} failed: {status}",
            script.display()
        )));
    }
    parse_build_output(&lines).ok_or_else(|| {
        ReproduceError::Build(format!(
            "{} did not end with the lines 'stock: PATH' and 'patched: PATH' (got {:?})",
            script.display(),
            &lines[lines.len().saturating_sub(2)..]
        ))
    })
}

/// The two paths from build-pid1's last two lines.
pub fn parse_build_output(lines: &[String]) -> Option<(PathBuf, PathBuf)> {
    let [.., a, b] = lines else { return None };
    let stock = a.strip_prefix("stock: ")?;
    let patched = b.strip_prefix("patched: ")?;
    let abs = |p: &str| Some(PathBuf::from(p)).filter(|p| p.is_absolute());
    Some((abs(stock)?, abs(patched)?))
}

/// True while the process exists and is not exiting. A PID namespace's init that was
/// killed stays visible, flagged `PF_EXITING`, until the kernel has reaped every other
/// process of its namespace, and only then becomes a zombie.
fn alive(pid: u32) -> bool {
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
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The run's context: which build, its sandbox, its client, and the step it is in.
struct Ctx<'a> {
    build: Build,
    release: &'static Release,
    sandbox: &'a Sandbox,
    binary: &'a Path,
    /// The operator's `sdcookie`, for its doctor.
    operator: &'a Path,
    client: Client,
    timeout: Duration,
    step: &'static str,
    n: u64,
    claims: Vec<Claim>,
}

impl Ctx<'_> {
    fn step(&mut self, step: &'static str) -> Result<(), ReproduceError> {
        self.step = step;
        progress(format!("[{}] {step}", self.build));
        self.pid1()
    }

    /// PID 1 must be alive; if not, say during which step it died.
    fn pid1(&self) -> Result<(), ReproduceError> {
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
    fn fail(&self, e: ReproduceError) -> ReproduceError {
        self.pid1().err().unwrap_or(e)
    }

    fn client_err(&self, source: sdbus_cgroup::Error) -> ReproduceError {
        self.fail(ReproduceError::Client {
            build: self.build,
            step: self.step,
            source,
        })
    }

    fn tool_err(&self, detail: String) -> ReproduceError {
        self.fail(ReproduceError::Tool {
            build: self.build,
            step: self.step,
            detail,
        })
    }

    fn sandbox_err(&self, source: sdbus_sandbox::Error) -> ReproduceError {
        self.fail(ReproduceError::Sandbox {
            build: self.build,
            step: self.step,
            source,
        })
    }

    fn claim(&mut self, ok: bool, what: String) {
        progress(format!(
            "[{}] {} {what}",
            self.build,
            if ok { "ok  " } else { "FAIL" }
        ));
        self.claims.push(Claim { ok, what });
    }

    /// systemd's serial as last seen by the client (its API-bus cookie).
    fn peer(&self) -> u32 {
        self.client.stats().peer.last_serial
    }

    fn sleeper(&self) -> Result<sdbus_sandbox::SandboxChild, ReproduceError> {
        self.sandbox
            .command("sleep")
            .arg("300")
            .spawn()
            .map_err(|e| self.sandbox_err(e))
    }

    fn next_unit(&mut self) -> String {
        self.n += 1;
        format!("sdcookie-reproduce-{}.scope", self.n)
    }

    /// One runc-style scope lifecycle around a `sleep` inside the sandbox: start with a
    /// limit (waits for its job), stop (waits for its job), reset-failed.
    fn lifecycle(&mut self) -> Result<Result<(), sdbus_cgroup::Error>, ReproduceError> {
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
    fn on_bus(&self) -> Option<bool> {
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
    fn systemctl(&self) -> PathBuf {
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
fn scope(unit: &str, pid: u32) -> Scope {
    let mut scope = Scope::new(unit.to_owned(), vec![pid]);
    scope.resources = Resources {
        memory_limit: Some(64 << 20),
        ..Resources::default()
    };
    scope
}

/// Boots `binary`, moves its cookie, drives it across the edge and checks the claims.
fn drive(
    build: Build,
    binary: &Path,
    operator: &Path,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
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
    let boot_seconds = started.elapsed().as_secs_f64();
    let release = release_entry(sandbox.systemd_version())?;
    progress(format!(
        "[{build}] systemd {} up as host pid {} in cgroup sandbox-{}, {boot_seconds:.1} s",
        sandbox.systemd_version(),
        sandbox.pid(),
        sandbox.id()
    ));
    let t = args.timeout;
    let client = Client::new(
        Target::Address {
            address: sandbox.bus_address(),
            direct: false,
        },
        Options::default().with_timeouts(t, t, t),
    );
    let mut cx = Ctx {
        build,
        release,
        sandbox: &sandbox,
        binary,
        operator,
        client,
        timeout: t,
        step: "boot",
        n: 0,
        claims: Vec::new(),
    };
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

fn drive_booted(
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

impl Ctx<'_> {
    /// Runs `program args` in the sandbox's namespaces; a failure is this step's error.
    fn in_sandbox(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), ReproduceError> {
        let out = self
            .sandbox
            .command(program)
            .args(args)
            .output()
            .map_err(|e| self.sandbox_err(e))?;
        if !out.status.success() {
            let line: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
            return Err(self.tool_err(format!(
                "{program} {}: {}",
                line.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// The first line of `/usr/lib/systemd/systemd --version` run in the sandbox, if it
    /// runs and says it is systemd.
    fn reexec_path_version(&self) -> Result<Option<String>, ReproduceError> {
        let out = self
            .sandbox
            .command(SYSTEMD_BINARY_PATH)
            .arg("--version")
            .output()
            .map_err(|e| self.sandbox_err(e))?;
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        Ok((out.status.success() && first.starts_with("systemd ")).then_some(first))
    }

    /// The booted binary, resolved (what `daemon-reexec` must find at its path).
    fn booted_binary(&self) -> Result<PathBuf, ReproduceError> {
        self.binary
            .canonicalize()
            .map_err(|e| self.tool_err(format!("{}: {e}", self.binary.display())))
    }
}

/// Makes `/usr/lib/systemd/systemd` in the sandbox's mount namespace the booted binary,
/// and proves it runs from there (`--version`) before PID 1 would exec it. A binary that
/// finds its libraries relative to itself (`$ORIGIN`, as a meson build tree does) cannot
/// run from another directory; then its whole directory is mounted there instead.
fn bind_binary(cx: &Ctx<'_>) -> Result<String, ReproduceError> {
    let binary = cx.booted_binary()?;
    let bind = |src: &Path, dst: &str| {
        cx.in_sandbox("mount", &["--bind".as_ref(), src.as_os_str(), dst.as_ref()])
    };
    bind(&binary, SYSTEMD_BINARY_PATH)?;
    if let Some(v) = cx.reexec_path_version()? {
        return Ok(format!(
            "{SYSTEMD_BINARY_PATH} bind-mounted to {} ({v})",
            binary.display()
        ));
    }
    cx.in_sandbox("umount", &[SYSTEMD_BINARY_PATH.as_ref()])?;
    let dir = binary.parent().unwrap_or(Path::new("/"));
    bind(dir, LIBEXEC_DIR)?;
    match cx.reexec_path_version()? {
        Some(v) => Ok(format!(
            "{LIBEXEC_DIR} bind-mounted to {} (the binary finds its libraries relative to itself; {v})",
            dir.display()
        )),
        None => Err(cx.tool_err(format!(
            "{SYSTEMD_BINARY_PATH} does not run in the sandbox even with {} mounted on {LIBEXEC_DIR}: daemon-reexec would kill PID 1",
            dir.display()
        ))),
    }
}

/// Makes `/usr/lib/systemd/systemd` in the sandbox's mount namespace the booted binary
/// through a read-only overlay on `/usr/lib/systemd` whose top layer holds only a symlink
/// named `systemd` to it ([`BinaryAt::OverlaySymlink`] says why not a bind mount). The top
/// layer lives on the sandbox's own `/run` (a tmpfs that dies with it); the host's files in
/// `/usr/lib/systemd` stay visible below.
fn overlay_binary(cx: &Ctx<'_>) -> Result<String, ReproduceError> {
    let binary = cx.booted_binary()?;
    let top = "/run/sdcookie-reexec";
    let link = format!("{top}/systemd");
    cx.in_sandbox("mkdir", &["-p".as_ref(), top.as_ref()])?;
    cx.in_sandbox("ln", &["-sfn".as_ref(), binary.as_os_str(), link.as_ref()])?;
    let layers = format!("lowerdir={top}:{LIBEXEC_DIR}");
    cx.in_sandbox(
        "mount",
        &[
            "-t".as_ref(),
            "overlay".as_ref(),
            "overlay".as_ref(),
            "-o".as_ref(),
            layers.as_ref(),
            LIBEXEC_DIR.as_ref(),
        ],
    )?;
    match cx.reexec_path_version()? {
        Some(v) => Ok(format!(
            "overlay on {LIBEXEC_DIR} ({layers}), {link} -> {} ({v})",
            binary.display()
        )),
        None => Err(cx.tool_err(format!(
            "{SYSTEMD_BINARY_PATH} does not run in the sandbox through the overlay ({link} -> {}): daemon-reexec would kill PID 1",
            binary.display()
        ))),
    }
}

/// stock: the runtime's call past the edge, the unbounded caller, the doctor, the way out.
fn stock_after_edge(
    cx: &mut Ctx<'_>,
    details: &mut Details,
    at_edge: u32,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
    cx.claim(
        at_edge == CEILING,
        format!("systemd's serial reached 0xffffffff ({at_edge:#010x})"),
    );
    cx.step("StartTransientUnit past the edge")?;
    let failed_unit = cx.next_unit();
    let sleeper = cx.sleeper()?;
    let sent = Instant::now();
    let r = cx.client.start_scope(&scope(&failed_unit, sleeper.pid()));
    let detect = sent.elapsed();
    details.detect_seconds = Some(detect.as_secs_f64());
    let mut failed_calls = 0u64;
    let client_error = match r {
        Ok(_) => None,
        Err(e) => {
            failed_calls += 1;
            Some(match &e {
                sdbus_cgroup::Error::Timeout { .. } => format!("timeout: {}", chain(&e)),
                _ => chain(&e),
            })
        }
    };
    let serial_after = cx.peer();
    let first_after = (serial_after != CEILING).then_some(serial_after);
    cx.claim(
        client_error
            .as_deref()
            .is_some_and(|e| e.starts_with("timeout")),
        format!(
            "the client returned its typed timeout after {:.1} s (deadline {:?}): {}",
            detect.as_secs_f64(),
            cx.timeout,
            client_error.as_deref().unwrap_or("no error")
        ),
    );
    cx.claim(
        first_after.is_none(),
        format!("no serial came from systemd after 0xffffffff (last seen {serial_after:#010x})"),
    );
    details.on_bus_after_failure = cx.on_bus();
    cx.claim(
        details.on_bus_after_failure == Some(true),
        format!(
            "systemd's name still has its owner after the failed call (deaf, not gone): {}",
            opt_yes(details.on_bus_after_failure)
        ),
    );

    cx.step("a caller without a deadline")?;
    let blocked = unbounded_caller(cx, details)?;

    cx.step("PID 1 and its private socket")?;
    cx.pid1()?;
    cx.claim(
        true,
        format!("PID 1 (host pid {}) is alive", cx.sandbox.pid()),
    );
    // `Version=N` (v219's systemctl has no `--value`, which came in v230).
    let out = cx
        .sandbox
        .command(cx.systemctl())
        .args(["show", "-p", "Version"])
        .output()
        .map_err(|e| cx.sandbox_err(e))?;
    let version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version="))
        .unwrap_or("")
        .to_owned();
    cx.claim(
        out.status.success() && !version.is_empty(),
        format!("systemctl over the private socket answers (Version {version:?})"),
    );
    details.private_systemctl = Some(version);

    cx.step("the doctor")?;
    let doctor = run_doctor(cx)?;
    details.doctor_message = doctor.message.clone();
    details.doctor_cycled = doctor.cycled;
    details.on_bus_after_doctor = cx.on_bus();
    let edge = cx.release.at_the_edge;
    cx.claim(
        details.on_bus_after_doctor == Some(edge.name_owned_after_probe()),
        format!(
            "after the doctor's probe systemd {} {}: its name has an owner: {}",
            cx.release.number,
            edge.describe(),
            opt_yes(details.on_bus_after_doctor)
        ),
    );
    cx.claim(
        !doctor.bus_responsive && doctor.private_responsive && doctor.verdict == "critical",
        format!(
            "doctor: bus {}, private socket {}, verdict {}",
            answers(doctor.bus_responsive),
            answers(doctor.private_responsive),
            doctor.verdict
        ),
    );

    cx.step("the way out: systemctl daemon-reexec over the private socket")?;
    // The path must still run the booted release: PID 1 may have taken a mount away
    // (v219 unmounts a plain bind mount), and then it would re-execute the host's systemd.
    let booted = cx.sandbox.systemd_version().to_owned();
    match cx.reexec_path_version()? {
        Some(v) if v.split_whitespace().nth(1) == Some(booted.as_str()) => {}
        other => {
            return Err(cx.tool_err(format!(
                "{SYSTEMD_BINARY_PATH} no longer runs the booted systemd {booted} (it says {other:?}); daemon-reexec would run another one"
            )))
        }
    }
    let t = Instant::now();
    let out = cx
        .sandbox
        .command(cx.systemctl())
        .arg("daemon-reexec")
        .output()
        .map_err(|e| cx.sandbox_err(e))?;
    if !out.status.success() {
        return Err(cx.tool_err(format!(
            "systemctl daemon-reexec: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    while cx.on_bus() != Some(true) && t.elapsed() < REEXEC_PATIENCE {
        cx.pid1()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    details.reexec_seconds = Some(t.elapsed().as_secs_f64());
    let after = run_doctor(cx)?;
    let reexec = Reexec {
        systemd_version: after.version.clone(),
        cookie: after.cookie,
        doctor_verdict: after.verdict.clone(),
    };
    cx.claim(
        after.bus_responsive
            && after.version.as_deref() == Some(booted.as_str())
            // A fresh connection's cookie: nowhere near where gdb put the old one.
            && after.cookie.is_some_and(|c| c < CYCLED)
            && after.verdict == "ok",
        format!(
            "after daemon-reexec ({:.1} s): bus {}, version {:?} (booted {booted}), cookie {}, doctor {}",
            t.elapsed().as_secs_f64(),
            answers(after.bus_responsive),
            after.version,
            hex(after.cookie),
            after.verdict
        ),
    );

    cx.step("the same client recovers and cleans up")?;
    details.left_behind = match cx.client.unit_path(&failed_unit) {
        Ok(p) => Some(p.is_some()),
        Err(_) => {
            failed_calls += 1;
            None
        }
    };
    let cleaned = cx.client.stop(&failed_unit);
    if cleaned.is_err() {
        failed_calls += 1;
    }
    cx.claim(
        cleaned.is_ok(),
        format!(
            "the client (no restart) stopped and reset {failed_unit} (loaded after the way out: {:?}): {}",
            details.left_behind,
            cleaned.as_ref().err().map_or("done".into(), |e| chain(e))
        ),
    );
    let mut ok = 0;
    for _ in 0..RECOVERY_LIFECYCLES {
        match cx.lifecycle()? {
            Ok(()) => ok += 1,
            Err(_) => failed_calls += 1,
        }
    }
    drop(sleeper);
    cx.claim(
        ok == RECOVERY_LIFECYCLES,
        format!("{ok} of {RECOVERY_LIFECYCLES} lifecycles after the way out succeeded"),
    );
    Ok(Run {
        systemd_version: cx.sandbox.systemd_version().to_owned(),
        cookie_set_to: args.cookie,
        last_serial_before_edge: at_edge,
        first_serial_after_edge: first_after,
        client_error,
        doctor_verdict: doctor.verdict,
        bus_responsive: doctor.bus_responsive,
        private_socket_responsive: doctor.private_responsive,
        lifecycles_after_edge: ok,
        failed_calls,
        reexec: Some(reexec),
        unbounded_caller_blocked_s: blocked,
        details: Details::default(),
    })
}

/// "yes", "no" or "unknown" (busctl did not say).
fn opt_yes(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// A runtime without a deadline (as runc was): busctl's StartTransientUnit with its
/// timeout disabled. Still blocked after 10× the client's deadline → ended by its pid.
fn unbounded_caller(
    cx: &mut Ctx<'_>,
    details: &mut Details,
) -> Result<Option<f64>, ReproduceError> {
    let unit = cx.next_unit();
    let sleeper = cx.sleeper()?;
    let child = Command::new("busctl")
        .arg(format!("--address={}", cx.sandbox.bus_address()))
        .args([
            "call",
            "--timeout=infinity",
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StartTransientUnit",
            "ssa(sv)a(sa(sv))",
            &unit,
            "fail",
            "2",
            "PIDs",
            "au",
            "1",
            &sleeper.pid().to_string(),
            "Description",
            "s",
            "a runtime without a deadline",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| cx.tool_err(format!("running busctl: {e}")))?;
    let pid = child.id();
    let mut caller = Reaped(child);
    let t = Instant::now();
    let wait = cx.timeout * 10;
    let ended = loop {
        match caller.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if t.elapsed() >= wait => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(cx.tool_err(format!("waiting for busctl: {e}"))),
        }
    };
    let blocked = t.elapsed().as_secs_f64();
    match ended {
        None => {
            let _ = caller.0.kill();
            let status = caller.0.wait().ok();
            details.unbounded_end = Some(format!(
                "still blocked after {blocked:.1} s; ended by its pid {pid} ({})",
                status.map_or("?".into(), |s| s
                    .signal()
                    .map_or(s.to_string(), |n| format!("signal {n}")))
            ));
            cx.claim(
                true,
                format!(
                    "a caller without a deadline was still blocked after {blocked:.1} s (10x the client's deadline), ended by pid {pid}"
                ),
            );
        }
        Some(status) => {
            // A dead PID 1 (and its dbus-daemon) ends the call too: that is the error.
            cx.pid1()?;
            let mut err = String::new();
            if let Some(mut e) = caller.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            details.unbounded_end = Some(format!(
                "returned by itself after {blocked:.1} s: {status}: {}",
                err.trim()
            ));
            cx.claim(
                false,
                format!(
                    "a caller without a deadline returned after {blocked:.1} s ({}), before 10x the client's deadline",
                    err.trim()
                ),
            );
        }
    }
    drop(sleeper);
    Ok(Some(blocked))
}

/// patched: 0x80000000 after 0xffffffff, the lifecycles, the doctor.
fn patched_after_edge(
    cx: &mut Ctx<'_>,
    details: &mut Details,
    at_edge: u32,
    landed: Option<u32>,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
    cx.claim(
        at_edge == CEILING && landed == Some(CYCLED),
        format!(
            "after {at_edge:#010x} systemd's next serial was {}",
            hex(landed)
        ),
    );
    cx.step("scope lifecycles after the edge")?;
    let (mut ok, mut failed_calls, mut in_a_row) = (0u64, 0u64, 0u32);
    let mut first_error = None;
    for i in 0..args.lifecycles {
        match cx.lifecycle()? {
            Ok(()) => {
                ok += 1;
                in_a_row = 0;
            }
            Err(e) => {
                failed_calls += 1;
                in_a_row += 1;
                first_error.get_or_insert_with(|| chain(&e));
                if in_a_row >= 3 {
                    break;
                }
            }
        }
        if (i + 1) % 100 == 0 {
            progress(format!(
                "[{}] {} lifecycles after the edge, serial {:#010x}",
                cx.build,
                i + 1,
                cx.peer()
            ));
        }
    }
    cx.claim(
        ok == u64::from(args.lifecycles) && failed_calls == 0,
        format!(
            "{ok} of {} lifecycles after the edge succeeded, {failed_calls} failed calls{}",
            args.lifecycles,
            first_error.map_or(String::new(), |e| format!(" (first: {e})"))
        ),
    );
    cx.step("the doctor")?;
    let doctor = run_doctor(cx)?;
    details.doctor_message = doctor.message.clone();
    details.doctor_cycled = doctor.cycled;
    cx.claim(
        doctor.bus_responsive && doctor.cycled == Some(true) && doctor.verdict == "ok",
        format!(
            "doctor: bus {}, cycled {:?}, verdict {}",
            answers(doctor.bus_responsive),
            doctor.cycled,
            doctor.verdict
        ),
    );
    Ok(Run {
        systemd_version: cx.sandbox.systemd_version().to_owned(),
        cookie_set_to: args.cookie,
        last_serial_before_edge: at_edge,
        first_serial_after_edge: landed,
        client_error: None,
        doctor_verdict: doctor.verdict,
        bus_responsive: doctor.bus_responsive,
        private_socket_responsive: doctor.private_responsive,
        lifecycles_after_edge: ok,
        failed_calls,
        reexec: None,
        unbounded_caller_blocked_s: None,
        details: Details::default(),
    })
}

/// The operator's `sdcookie doctor --format json`, inside the sandbox (the private socket
/// only answers peers in systemd's PID namespace).
fn run_doctor(cx: &Ctx<'_>) -> Result<DoctorSays, ReproduceError> {
    let t = Instant::now();
    let v = doctor::report(cx.sandbox, cx.operator, Some(cx.timeout)).map_err(|e| match e {
        DoctorError::Sandbox(e) => cx.sandbox_err(e),
        e => cx.tool_err(format!("{:#}", anyhow::Error::new(e))),
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let f = |k: &str| v.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let says = DoctorSays {
        bus_responsive: f("bus_responsive") == true,
        private_responsive: f("private_responsive") == true,
        cookie: f("cookie").as_u64().and_then(|c| u32::try_from(c).ok()),
        cycled: f("cycled").as_bool(),
        version: f("systemd_version_string").as_str().map(str::to_owned),
        verdict: f("verdict").as_str().unwrap_or("?").to_owned(),
        message: f("message").as_str().unwrap_or("").to_owned(),
    };
    progress(format!(
        "[{}] doctor: bus {} | private socket {} | cookie {} | cycled {:?} | {} ({seconds:.1} s)",
        cx.build,
        answers(says.bus_responsive),
        answers(says.private_responsive),
        hex(says.cookie),
        says.cycled,
        says.verdict
    ));
    Ok(says)
}

/// What systemd logged about its API bus.
fn api_bus_lines(log: &str) -> Vec<String> {
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
    fn cookie_parses_hex_and_decimal_and_rejects_what_leaves_no_edge_ahead() {
        assert_eq!(parse_cookie("0xffffff00"), Ok(0xffff_ff00));
        assert_eq!(parse_cookie("4294967040"), Ok(0xffff_ff00));
        assert!(parse_cookie("0").is_err());
        assert!(parse_cookie("1").is_err());
        assert!(parse_cookie("0xfffffffe").is_err());
        assert!(parse_cookie("0x100000000").is_err());
        assert!(parse_cookie("edge").is_err());
    }

    #[test]
    fn alive_is_false_for_a_zombie_and_a_missing_pid() {
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

    #[test]
    fn release_is_one_the_table_knows_by_its_number() {
        assert_eq!(parse_release("241"), Ok("241".into()));
        assert_eq!(parse_release("219"), Ok("219".into()));
        assert!(parse_release("v241").is_err());
        assert!(parse_release("241.1").is_err());
        assert!(parse_release("237").is_err());
        assert!(parse_release("").is_err());
    }

    #[test]
    fn build_output_paths_come_from_the_last_two_lines_only() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_build_output(&l(&["noise", "stock: /a/systemd", "patched: /b/systemd"])),
            Some(("/a/systemd".into(), "/b/systemd".into()))
        );
        assert_eq!(
            parse_build_output(&l(&["stock: /a/systemd", "patched: /b/systemd", "done"])),
            None
        );
        assert_eq!(
            parse_build_output(&l(&["stock: a/systemd", "patched: /b/systemd"])),
            None
        );
        assert_eq!(parse_build_output(&l(&["patched: /b/systemd"])), None);
    }
}
