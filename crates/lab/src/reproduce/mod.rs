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

use std::io::Write;
use std::time::Duration;

use sdcookie::Format;

use crate::doctor;

mod args;
mod build_pid1;
mod doctor_says;
mod drive;
mod error;
mod gdb;
mod patched;
mod reexec;
mod release;
mod report;
mod runtimes;
mod stock;
mod text;

pub use args::ReproduceArgs;
pub use error::ReproduceError;
pub use report::{Build, Claim, Details, Reexec, Report, Run};
pub use sdbus_sandbox::GdbFailure;
pub use text::text;

use build_pid1::build;
use drive::drive;
use release::Release;

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
    let mut stock_run = drive(Build::Stock, &stock, &operator, args)?;
    let mut patched_run = drive(Build::Patched, &patched, &operator, args)?;
    for (run, build, binary) in [
        (&mut stock_run, Build::Stock, &stock),
        (&mut patched_run, Build::Patched, &patched),
    ] {
        run.runtimes = runtimes::measure(build, binary, &operator, args, &mut run.details.claims)?;
    }
    let (stock, patched) = (stock_run, patched_run);
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
