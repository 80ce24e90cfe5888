//! The stock PID 1 past the edge: the runtime's call, a caller without a deadline, the
//! doctor, and the operator's way out.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sdcookie::exit::chain;

use crate::CEILING;

use super::doctor_says::run_doctor;
use super::drive::{scope, Ctx, Reaped};
use super::reexec::way_out;
use super::text::answers;
use super::{Details, ReproduceArgs, ReproduceError, Run, RECOVERY_LIFECYCLES};
use sdcookie::report::Verdict;

/// stock: the runtime's call past the edge, the unbounded caller, the doctor, the way out.
pub(super) fn stock_after_edge(
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
        !doctor.bus_responsive && doctor.private_responsive && doctor.verdict == Verdict::Critical,
        format!(
            "doctor: bus {}, private socket {}, verdict {}",
            answers(doctor.bus_responsive),
            answers(doctor.private_responsive),
            doctor.verdict
        ),
    );

    cx.step("the way out: systemctl daemon-reexec over the private socket")?;
    let reexec = way_out(cx, details)?;

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
        runtimes: Default::default(),
        details: Details::default(),
    })
}

/// "yes", "no" or "unknown" (busctl did not say).
pub(super) fn opt_yes(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// A runtime without a deadline (as runc was): busctl's StartTransientUnit with its
/// timeout disabled. Still blocked after 10× the client's deadline → ended by its pid.
pub(super) fn unbounded_caller(
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
