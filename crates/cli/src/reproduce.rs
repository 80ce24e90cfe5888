//! `sdcookie reproduce`: the cookie-overflow incident (systemd#11809) on demand, in a real
//! systemd, and the fix holding — issue 9.
//!
//! One patched systemd 252 (systemd-patch/build-pid1: a full PID 1 linked dynamically to
//! `libsdbus_cookie.so.0`) is booted twice as PID 1 in a sandbox, each time with another
//! test build of the C ABI in front of it (`LD_LIBRARY_PATH`):
//!
//! - legacy (`--features legacy,fault-injection`): cookies as in systemd <= v241, so once
//!   the API-bus cookie passes 0xffffffff sd-bus cannot seal anything on that connection;
//! - fixed (`--features fault-injection`): the v242 cycle rule.
//!
//! `SDBUS_COOKIE_FAULT_START` (ffi/src/fault.rs) starts PID 1's API-bus connection near the
//! edge, so real client work crosses it in seconds: scope lifecycles (spawn, start with
//! limits, wait for the job, stop, reset-failed) while there is room, then single pings
//! across the edge, one reply each, so every serial around it is seen. Then:
//!
//! - legacy: the next StartTransientUnit must fail with the client's typed timeout (no
//!   hang), and `sdcookie doctor` (run inside the sandbox) must say: bus unresponsive,
//!   private socket responsive, verdict critical;
//! - fixed: the serial after 0xffffffff must be 0x80000000, N further lifecycles must all
//!   succeed, and the doctor must say: bus responsive, cycled, verdict ok.
//!
//! Every claim is checked here; a failed check exits 1. The report is printed side by side
//! (and as JSON with `--format json`); progress goes to stderr.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use sdbus_cgroup::{Client, Options, PingTarget, Resources, Scope, Target};
use sdbus_sandbox::{Sandbox, SandboxOptions};

use crate::cli::Format;
use crate::doctor::{CEILING, CYCLED};

/// `sdcookie reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The patched systemd (dynamically linked to libsdbus_cookie.so.0). Default: build
    /// (or reuse) it with systemd-patch/build-pid1 of the source tree sdcookie was built in.
    #[arg(long, value_name = "PATH", requires_all = ["legacy_lib", "fixed_lib"])]
    pub systemd: Option<PathBuf>,
    /// Directory holding the legacy test build's libsdbus_cookie.so.0.
    #[arg(long, value_name = "DIR", requires = "systemd")]
    pub legacy_lib: Option<PathBuf>,
    /// Directory holding the fixed test build's libsdbus_cookie.so.0.
    #[arg(long, value_name = "DIR", requires = "systemd")]
    pub fixed_lib: Option<PathBuf>,
    /// The first cookie PID 1's API-bus connection hands out (SDBUS_COOKIE_FAULT_START).
    #[arg(long, value_name = "N", default_value = "0xffffff00", value_parser = parse_cookie)]
    pub start: u32,
    /// Scope lifecycles after the crossing in the fixed build.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub lifecycles: u32,
    /// Deadline of every client call and job wait, and of each doctor step.
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = crate::parse::positive_duration)]
    pub timeout: Duration,
    /// Report format (text: side by side; json: one object, for scripts).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_cookie(s: &str) -> Result<u32, String> {
    let v = match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))?;
    if v < 2 {
        return Err(format!("{s}: must be at least 2"));
    }
    Ok(v)
}

/// Why the reproduction failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReproduceError {
    /// Building the systemd or the libraries failed.
    #[error("build: {0}")]
    Build(String),
    /// The sandbox failed.
    #[error("sandbox ({mode}): {source}")]
    Sandbox {
        /// legacy or fixed.
        mode: &'static str,
        /// What the sandbox crate said.
        source: sdbus_sandbox::Error,
    },
    /// The client failed where it must not.
    #[error("client ({mode}): {source}")]
    Client {
        /// legacy or fixed.
        mode: &'static str,
        /// What the client said.
        source: sdbus_cgroup::Error,
    },
    /// Something the reproduction claims was not so.
    #[error("check failed ({mode}): {what}")]
    Check {
        /// legacy or fixed.
        mode: &'static str,
        /// What was expected and what was seen.
        what: String,
    },
}

/// What the doctor said, the fields the report uses.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorSays {
    /// `bus_responsive`.
    pub bus_responsive: bool,
    /// `private_responsive`.
    pub private_responsive: bool,
    /// `cookie` (the API-bus cookie), if the bus answered.
    pub cookie: Option<u64>,
    /// `cycled`.
    pub cycled: Option<bool>,
    /// `verdict`.
    pub verdict: String,
    /// `message`.
    pub message: String,
    /// How long the doctor ran (s).
    pub seconds: f64,
}

/// One boot's results.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// legacy or fixed.
    pub mode: &'static str,
    /// The libsdbus_cookie.so.0 PID 1 had mapped (from /proc/PID/maps).
    pub library: String,
    /// `Manager.Version`.
    pub systemd_version: String,
    /// Boot time (s).
    pub boot_seconds: f64,
    /// PID 1's API-bus cookie as first seen (serial of its first reply to us).
    pub cookie_before: u32,
    /// The last serial seen before the edge (0xffffffff if the crossing was seen).
    pub cookie_at_edge: u32,
    /// The first serial seen after the edge (fixed: 0x80000000); None if nothing came.
    pub cookie_landed: Option<u32>,
    /// The last serial seen at the end.
    pub cookie_after: u32,
    /// Scope lifecycles that succeeded (before and after the edge).
    pub lifecycles_ok: u64,
    /// Scope lifecycles after the edge that succeeded.
    pub lifecycles_after_edge: u64,
    /// Calls that succeeded (client stats: replies).
    pub calls_ok: u64,
    /// Calls and job waits that failed (client stats: timeouts).
    pub calls_failed: u64,
    /// The first failure after the edge: the client's error, as it printed it.
    pub failure: Option<String>,
    /// Whether that failure is the client's typed timeout.
    pub failure_is_timeout: bool,
    /// The step of the typed timeout (e.g. StartTransientUnit).
    pub failure_step: Option<String>,
    /// Time from sending the failing call to the client's typed error (s).
    pub detect_seconds: Option<f64>,
    /// Replies that matched no call (must be 0).
    pub mismatched_replies: u64,
    /// Replies to a pending call from someone other than systemd (legacy: dbus-daemon's
    /// NoReply for the call systemd could not answer; fixed: must be 0).
    pub wrong_sender_replies: u64,
    /// The doctor, run inside the sandbox after the edge.
    pub doctor: DoctorSays,
    /// What systemd logged on its console about its API bus (lines mentioning it, or a
    /// failed send): in legacy, how 252's sd-bus reacts to the unsealable message.
    pub systemd_log: Vec<String>,
    /// The whole boot (s).
    pub seconds: f64,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// SDBUS_COOKIE_FAULT_START.
    pub start: u32,
    /// Build time (s), 0 if prebuilt paths were given.
    pub build_seconds: f64,
    /// The legacy boot.
    pub legacy: Run,
    /// The fixed boot.
    pub fixed: Run,
    /// Total (s).
    pub seconds: f64,
}

fn progress(msg: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "reproduce: {}", msg.as_ref());
}

/// Runs `sdcookie reproduce`; 0 when every claim held.
pub fn run(args: &ReproduceArgs) -> Result<u8, ReproduceError> {
    let started = Instant::now();
    let (systemd, legacy_lib, fixed_lib, build_seconds) = match &args.systemd {
        Some(s) => (
            s.clone(),
            args.legacy_lib.clone().expect("clap requires it"),
            args.fixed_lib.clone().expect("clap requires it"),
            0.0,
        ),
        None => build()?,
    };
    let legacy = boot_and_drive("legacy", &systemd, &legacy_lib, args)?;
    let fixed = boot_and_drive("fixed", &systemd, &fixed_lib, args)?;
    let report = Report {
        start: args.start,
        build_seconds,
        legacy,
        fixed,
        seconds: started.elapsed().as_secs_f64(),
    };
    let out = match args.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("serialises") + "\n",
        _ => text(&report),
    };
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(0)
}

/// Runs systemd-patch/build-pid1 from the source tree this binary was built in, streaming
/// its progress, and takes the paths it prints.
fn build() -> Result<(PathBuf, PathBuf, PathBuf, f64), ReproduceError> {
    let t = Instant::now();
    let script = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .map(|d| d.join("systemd-patch/build-pid1"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            ReproduceError::Build(
                "no systemd-patch/build-pid1 above this binary; pass --systemd, --legacy-lib and --fixed-lib".into(),
            )
        })?;
    progress(format!(
        "building with {} (cached builds are reused)",
        script.display()
    ));
    let mut child = Command::new(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ReproduceError::Build(format!("running {}: {e}", script.display())))?;
    let mut vars = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some((k, v)) = line.split_once('=') {
                vars.push((k.to_string(), PathBuf::from(v)));
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| ReproduceError::Build(format!("waiting for {}: {e}", script.display())))?;
    if !status.success() {
        return Err(ReproduceError::Build(format!(
            "{} failed: {status}",
            script.display()
        )));
    }
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| ReproduceError::Build(format!("{} printed no {k}=", script.display())))
    };
    Ok((
        get("SYSTEMD")?,
        get("LEGACY_LIB")?,
        get("FIXED_LIB")?,
        t.elapsed().as_secs_f64(),
    ))
}

/// The path of the libsdbus_cookie.so.0 mapped into process `pid`.
fn mapped_library(pid: u32) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("libsdbus_cookie.so"))
        .map(str::to_owned)
}

struct Driver<'a> {
    mode: &'static str,
    sandbox: &'a Sandbox,
    client: Client,
    timeout: Duration,
    n: u64,
}

impl Driver<'_> {
    fn check(&self, ok: bool, what: impl FnOnce() -> String) -> Result<(), ReproduceError> {
        if ok {
            Ok(())
        } else {
            Err(ReproduceError::Check {
                mode: self.mode,
                what: what(),
            })
        }
    }

    fn client_err(&self, source: sdbus_cgroup::Error) -> ReproduceError {
        ReproduceError::Client {
            mode: self.mode,
            source,
        }
    }

    /// systemd's serial as last seen by the client (its API-bus cookie).
    fn peer(&self) -> u32 {
        self.client.stats().peer.last_serial
    }

    /// One runc-style scope lifecycle around a `sleep` inside the sandbox.
    fn lifecycle(&mut self) -> Result<Result<(), sdbus_cgroup::Error>, ReproduceError> {
        self.n += 1;
        let mut sleeper = self
            .sandbox
            .command("sleep")
            .arg("300")
            .spawn()
            .map_err(|source| ReproduceError::Sandbox {
                mode: self.mode,
                source,
            })?;
        let unit = format!("sdcookie-reproduce-{}.scope", self.n);
        let mut scope = Scope::new(unit.clone(), vec![sleeper.pid()]);
        scope.resources = Resources {
            pids_limit: Some(8),
            ..Resources::default()
        };
        let r = self
            .client
            .start_scope(&scope)
            .and_then(|_| self.client.stop(&unit));
        if r.is_ok() {
            let _ = sleeper.wait();
        }
        // On failure the sleeper stays; the sandbox's teardown kills it.
        Ok(r)
    }
}

fn boot_and_drive(
    mode: &'static str,
    systemd: &Path,
    lib: &Path,
    args: &ReproduceArgs,
) -> Result<Run, ReproduceError> {
    let started = Instant::now();
    let sandbox_err = |source| ReproduceError::Sandbox { mode, source };
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(ReproduceError::Check { mode, what })
        }
    };
    progress(format!(
        "[{mode}] booting {} as PID 1 with LD_LIBRARY_PATH={} SDBUS_COOKIE_FAULT_START={:#x}",
        systemd.display(),
        lib.display(),
        args.start
    ));
    let mut opts = SandboxOptions::default();
    // systemd's own log level, for looking into a failing run (the log is in the error).
    if let Some(level) = std::env::var_os("SYSTEMD_LOG_LEVEL") {
        opts = opts.env("SYSTEMD_LOG_LEVEL", level);
    }
    let opts = opts
        .systemd(systemd)
        .env("LD_LIBRARY_PATH", lib.as_os_str())
        .env("SDBUS_COOKIE_FAULT_START", format!("{:#x}", args.start))
        .boot_timeout(Duration::from_secs(60));
    let sandbox = Sandbox::boot(opts).map_err(sandbox_err)?;
    let boot_seconds = started.elapsed().as_secs_f64();
    let library = mapped_library(sandbox.pid()).unwrap_or_default();
    let want = lib.canonicalize().unwrap_or_else(|_| lib.to_path_buf());
    check(
        Path::new(&library).parent() == Some(want.as_path()),
        format!(
            "PID 1 mapped {library:?}, expected the library in {}",
            want.display()
        ),
    )?;
    progress(format!(
        "[{mode}] systemd {} up as host pid {} in {boot_seconds:.1} s, with {library}",
        sandbox.systemd_version(),
        sandbox.pid()
    ));

    let t = args.timeout;
    let client = Client::new(
        Target::Address {
            address: sandbox.bus_address(),
            direct: false,
        },
        Options::default().with_timeouts(t, t, t),
    );
    let mut d = Driver {
        mode,
        sandbox: &sandbox,
        client,
        timeout: t,
        n: 0,
    };
    d.client.version().map_err(|e| d.client_err(e))?;
    let cookie_before = d.peer();
    d.check(cookie_before >= args.start, || {
        format!("systemd's first reply had serial {cookie_before:#x}, below SDBUS_COOKIE_FAULT_START {:#x}: the knob did not reach the API bus", args.start)
    })?;
    progress(format!(
        "[{mode}] PID 1's API-bus cookie: {cookie_before:#010x}"
    ));

    // Lifecycles while one surely fits below the edge (a lifecycle costs systemd a few
    // dozen messages at most), then pings: one reply each, so the serials around the edge
    // are all seen.
    let mut ok = 0u64;
    while CEILING - d.peer() > 64 {
        if let Err(e) = d.lifecycle()? {
            return Err(d.client_err(e));
        }
        ok += 1;
        if ok.is_multiple_of(5) {
            progress(format!(
                "[{mode}] {ok} lifecycles, cookie {:#010x}",
                d.peer()
            ));
        }
    }
    progress(format!(
        "[{mode}] {ok} lifecycles, cookie {:#010x}; now single pings across the edge",
        d.peer()
    ));
    let mut at_edge = d.peer();
    let mut landed = None;
    let mut failure = None;
    let mut pings = String::new();
    for _ in 0..200 {
        match d.client.ping(PingTarget::Systemd, None, d.timeout) {
            Ok(_) => {
                let s = d.peer();
                pings += &format!(" {s:#010x}");
                if s < at_edge {
                    landed = Some(s);
                    break;
                }
                at_edge = s;
                // Legacy: stop with systemd's cookie at 0xffffffff, so that its very next
                // message (the reply to the runtime's StartTransientUnit) is the one that
                // cannot be sealed — the incident.
                if mode == "legacy" && s == CEILING {
                    break;
                }
            }
            Err(e) => {
                pings += " (no reply)";
                failure = Some(e);
                break;
            }
        }
    }
    progress(format!("[{mode}] systemd's serials:{pings}"));

    let mut lifecycles_after_edge = 0u64;
    let mut failure_text = None;
    let mut failure_is_timeout = false;
    let mut failure_step = None;
    let mut detect_seconds = None;
    match mode {
        "legacy" => {
            if let Some(e) = failure {
                return Err(d.client_err(e));
            }
            check(
                at_edge == CEILING,
                format!("pings stopped at serial {at_edge:#x}, expected 0xffffffff"),
            )?;
            // The incident: a container runtime creating its scope.
            progress(format!(
                "[{mode}] StartTransientUnit past the edge (deadline {:?})",
                d.timeout
            ));
            let sent = Instant::now();
            let r = d.lifecycle()?;
            detect_seconds = Some(sent.elapsed().as_secs_f64());
            let e = match r {
                Ok(()) => {
                    return Err(ReproduceError::Check {
                        mode,
                        what: "a scope lifecycle succeeded past the edge".into(),
                    })
                }
                Err(e) => e,
            };
            failure_is_timeout = e.is_timeout();
            match &e {
                sdbus_cgroup::Error::Timeout { step, .. } => {
                    failure_step = Some(step.as_str().to_string())
                }
                // 252's sd-bus closes the API-bus connection once sealing fails, and then
                // dbus-daemon answers pending calls itself with NoReply; a client that takes
                // that answer from the driver fails just as fast, still without hanging.
                sdbus_cgroup::Error::Dbus { step, name, .. }
                    if name == "org.freedesktop.DBus.Error.NoReply" =>
                {
                    failure_step = Some(step.as_str().to_string())
                }
                _ => {}
            }
            failure_text = Some(e.to_string());
            progress(format!(
                "[{mode}] client: {e} ({:.1} s)",
                detect_seconds.unwrap_or(0.0)
            ));
            check(
                failure_step.as_deref() == Some("StartTransientUnit"),
                format!("expected the typed timeout of StartTransientUnit, got: {e}"),
            )?;
        }
        _ => {
            if let Some(e) = failure {
                return Err(d.client_err(e));
            }
            check(
                at_edge == CEILING,
                format!("last serial before the wrap was {at_edge:#x}, expected 0xffffffff"),
            )?;
            check(
                landed == Some(CYCLED),
                format!("after 0xffffffff came {landed:?}, expected 0x80000000"),
            )?;
            for i in 0..args.lifecycles {
                if let Err(e) = d.lifecycle()? {
                    return Err(d.client_err(e));
                }
                lifecycles_after_edge += 1;
                if (i + 1).is_multiple_of(100) {
                    progress(format!(
                        "[{mode}] {} lifecycles after the edge, cookie {:#010x}",
                        i + 1,
                        d.peer()
                    ));
                }
            }
        }
    }

    let doctor = run_doctor(&sandbox, mode, d.timeout)?;
    progress(format!(
        "[{mode}] doctor: bus {} | private socket {} | cookie {:?} | cycled {:?} | verdict {} ({:.1} s)",
        if doctor.bus_responsive { "answers" } else { "silent" },
        if doctor.private_responsive { "answers" } else { "silent" },
        doctor.cookie,
        doctor.cycled,
        doctor.verdict,
        doctor.seconds
    ));
    if mode == "legacy" {
        check(!doctor.bus_responsive, "doctor says the bus answers".into())?;
        check(
            doctor.private_responsive,
            "doctor says the private socket is silent".into(),
        )?;
        check(
            doctor.verdict == "critical",
            format!("doctor verdict {}, expected critical", doctor.verdict),
        )?;
    } else {
        check(
            doctor.bus_responsive,
            "doctor says the bus is silent".into(),
        )?;
        check(
            doctor.cycled == Some(true),
            format!("doctor says cycled {:?}", doctor.cycled),
        )?;
        check(
            doctor.verdict == "ok",
            format!("doctor verdict {}, expected ok", doctor.verdict),
        )?;
    }

    let systemd_log: Vec<String> = sandbox
        .log()
        .lines()
        .map(str::trim)
        .filter(|l| {
            [
                "API bus",
                "Operation not supported",
                "closing down",
                "sdbus-cookie: ",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .map(str::to_owned)
        .collect();
    for line in &systemd_log {
        progress(format!("[{mode}] systemd: {line}"));
    }

    let stats = d.client.stats();
    // Wrong-sender replies are expected in legacy only: dbus-daemon's NoReply for the call
    // systemd could not answer (it answers for a callee that left the bus).
    let mismatched = stats.unmatched_replies;
    check(
        mismatched == 0,
        format!("{mismatched} replies matched no call"),
    )?;
    check(
        mode == "legacy" || stats.wrong_sender_replies == 0,
        format!(
            "{} replies came from a wrong sender",
            stats.wrong_sender_replies
        ),
    )?;
    let run = Run {
        mode,
        library,
        systemd_version: sandbox.systemd_version().to_string(),
        boot_seconds,
        cookie_before,
        cookie_at_edge: at_edge,
        cookie_landed: landed,
        cookie_after: stats.peer.last_serial,
        lifecycles_ok: ok + lifecycles_after_edge,
        lifecycles_after_edge,
        calls_ok: stats.replies,
        calls_failed: stats.timeouts,
        failure: failure_text,
        failure_is_timeout,
        failure_step,
        detect_seconds,
        mismatched_replies: mismatched,
        wrong_sender_replies: stats.wrong_sender_replies,
        doctor,
        systemd_log,
        seconds: 0.0,
    };
    drop(d);
    sandbox.shutdown().map_err(sandbox_err)?;
    Ok(Run {
        seconds: started.elapsed().as_secs_f64(),
        ..run
    })
}

/// `sdcookie doctor --format json`, inside the sandbox (the private socket only answers
/// peers in systemd's PID namespace).
fn run_doctor(
    sandbox: &Sandbox,
    mode: &'static str,
    timeout: Duration,
) -> Result<DoctorSays, ReproduceError> {
    let exe = std::env::current_exe().map_err(|e| ReproduceError::Check {
        mode,
        what: format!("finding our own binary: {e}"),
    })?;
    let t = Instant::now();
    let mut doctor = sandbox.command(&exe);
    doctor.args(["doctor", "--format", "json", "--timeout"]);
    doctor.arg(format!("{}ms", timeout.as_millis()));
    doctor.as_std_mut().env_remove("DBUS_SYSTEM_BUS_ADDRESS");
    let out = doctor
        .output()
        .map_err(|source| ReproduceError::Sandbox { mode, source })?;
    let seconds = t.elapsed().as_secs_f64();
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| ReproduceError::Check {
            mode,
            what: format!(
                "doctor printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        })?;
    let f = |k: &str| v.get(k).cloned().unwrap_or(serde_json::Value::Null);
    Ok(DoctorSays {
        bus_responsive: f("bus_responsive") == true,
        private_responsive: f("private_responsive") == true,
        cookie: f("cookie").as_u64(),
        cycled: f("cycled").as_bool(),
        verdict: f("verdict").as_str().unwrap_or("?").to_string(),
        message: f("message").as_str().unwrap_or("").to_string(),
        seconds,
    })
}

fn hex(v: Option<u32>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:#010x}"))
}

/// The side-by-side report.
pub fn text(r: &Report) -> String {
    let (l, f) = (&r.legacy, &r.fixed);
    let yes = |b: bool| if b { "answers" } else { "SILENT" };
    let rows: Vec<(&str, String, String)> = vec![
        ("library", l.library.clone(), f.library.clone()),
        (
            "systemd",
            l.systemd_version.clone(),
            f.systemd_version.clone(),
        ),
        (
            "boot",
            format!("{:.1} s", l.boot_seconds),
            format!("{:.1} s", f.boot_seconds),
        ),
        (
            "cookie before",
            hex(Some(l.cookie_before)),
            hex(Some(f.cookie_before)),
        ),
        (
            "last before edge",
            hex(Some(l.cookie_at_edge)),
            hex(Some(f.cookie_at_edge)),
        ),
        (
            "first after edge",
            l.cookie_landed
                .map_or("none (systemd silent)".into(), |v| hex(Some(v))),
            hex(f.cookie_landed),
        ),
        (
            "cookie after",
            hex(Some(l.cookie_after)),
            hex(Some(f.cookie_after)),
        ),
        (
            "lifecycles ok",
            l.lifecycles_ok.to_string(),
            format!(
                "{} ({} after the edge)",
                f.lifecycles_ok, f.lifecycles_after_edge
            ),
        ),
        (
            "calls ok / failed",
            format!("{} / {}", l.calls_ok, l.calls_failed),
            format!("{} / {}", f.calls_ok, f.calls_failed),
        ),
        (
            "failure",
            l.failure.clone().unwrap_or("-".into()),
            f.failure.clone().unwrap_or("-".into()),
        ),
        (
            "time to detect",
            l.detect_seconds
                .map_or("-".into(), |s| format!("{s:.1} s (client deadline)")),
            "-".into(),
        ),
        (
            "doctor: bus",
            yes(l.doctor.bus_responsive).into(),
            yes(f.doctor.bus_responsive).into(),
        ),
        (
            "doctor: private socket",
            yes(l.doctor.private_responsive).into(),
            yes(f.doctor.private_responsive).into(),
        ),
        (
            "doctor: cookie",
            l.doctor.cookie.map_or("-".into(), |c| format!("{c:#010x}")),
            f.doctor.cookie.map_or("-".into(), |c| format!("{c:#010x}")),
        ),
        (
            "doctor: cycled",
            format!("{:?}", l.doctor.cycled),
            format!("{:?}", f.doctor.cycled),
        ),
        (
            "doctor: verdict",
            format!("{} ({:.1} s)", l.doctor.verdict, l.doctor.seconds),
            format!("{} ({:.1} s)", f.doctor.verdict, f.doctor.seconds),
        ),
        (
            "run",
            format!("{:.1} s", l.seconds),
            format!("{:.1} s", f.seconds),
        ),
    ];
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(24);
    let mut s = format!(
        "sdcookie reproduce: PID 1's API-bus cookie started at {:#010x} (SDBUS_COOKIE_FAULT_START)\n\n{:<w0$}  {:<w1$}  {}\n",
        r.start, "", "legacy (systemd <= v241 rule)", "fixed (v242 rule, sdbus-cookie)"
    );
    for (k, a, b) in rows {
        s += &format!("{k:<w0$}  {a:<w1$}  {b}\n");
    }
    for line in &l.systemd_log {
        s += &format!("legacy systemd log: {line}\n");
    }
    for line in &f.systemd_log {
        s += &format!("fixed systemd log:  {line}\n");
    }
    s += &format!(
        "\nlegacy: the incident — systemd cannot send on its bus, the client times out instead of hanging,\n        the doctor sees it without gdb ({}).\nfixed:  the cookie cycles to 0x80000000 and systemd keeps working.\nbuild {:.1} s, total {:.1} s\n",
        l.doctor.message, r.build_seconds, r.seconds
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_cookie_parses_hex_and_decimal_and_rejects_what_cannot_be_a_start() {
        assert_eq!(parse_cookie("0xffffff00"), Ok(0xffff_ff00));
        assert_eq!(parse_cookie("4294967040"), Ok(0xffff_ff00));
        assert!(parse_cookie("0").is_err());
        assert!(parse_cookie("1").is_err());
        assert!(parse_cookie("0x100000000").is_err());
        assert!(parse_cookie("edge").is_err());
    }
}
