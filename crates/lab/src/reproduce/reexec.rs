//! The operator's way out on the stock PID 1: the booted binary put at the path
//! `daemon-reexec` executes (in the sandbox's own mount namespace), then `daemon-reexec`
//! over the private socket.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::CYCLED;

use super::doctor_says::run_doctor;
use super::drive::Ctx;
use super::text::{answers, hex};
use super::{Details, Reexec, ReproduceError, LIBEXEC_DIR, REEXEC_PATIENCE, SYSTEMD_BINARY_PATH};
use sdcookie::report::Verdict;

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
pub(super) fn bind_binary(cx: &Ctx<'_>) -> Result<String, ReproduceError> {
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
/// named `systemd` to it ([`BinaryAt::OverlaySymlink`](super::release::BinaryAt::OverlaySymlink)
/// says why not a bind mount). The top layer lives on the sandbox's own `/run` (a tmpfs
/// that dies with it); the host's files in `/usr/lib/systemd` stay visible below.
pub(super) fn overlay_binary(cx: &Ctx<'_>) -> Result<String, ReproduceError> {
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

/// The operator's way out of a deaf bus: `systemctl daemon-reexec` over the private socket,
/// once the path it re-executes is known to run the booted release. What PID 1 says after
/// it is the stock run's `reexec`; the claim is that the bus answers again with a fresh
/// cookie and the doctor says ok.
pub(super) fn way_out(cx: &mut Ctx<'_>, details: &mut Details) -> Result<Reexec, ReproduceError> {
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
        systemd_version: after.systemd_version_string.clone(),
        cookie: after.cookie,
        doctor_verdict: after.verdict,
    };
    cx.claim(
        after.bus_responsive
            && after.systemd_version_string.as_deref() == Some(booted.as_str())
            // A fresh connection's cookie: nowhere near where gdb put the old one.
            && after.cookie.is_some_and(|c| c < CYCLED)
            && after.verdict == Verdict::Ok,
        format!(
            "after daemon-reexec ({:.1} s): bus {}, version {:?} (booted {booted}), cookie {}, doctor {}",
            t.elapsed().as_secs_f64(),
            answers(after.bus_responsive),
            after.systemd_version_string,
            hex(after.cookie),
            after.verdict
        ),
    );
    Ok(reexec)
}
