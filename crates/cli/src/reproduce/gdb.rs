//! Moving the live PID 1's API-bus cookie with gdb: a batch script that stops PID 1 in
//! `bus_seal_message()` on its API-bus connection, writes `b->cookie` and detaches. The
//! script stops at its first failing command and gdb detaches when it exits, so a failure
//! leaves PID 1 running unchanged; what went wrong is read from gdb's own output.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sdbus_cgroup::{Client, Options, PingTarget, Target};

use super::{Ctx, Reaped, ReproduceError};

/// How long gdb may take to attach, hit the breakpoint and detach.
const GDB_PATIENCE: Duration = Duration::from_secs(60);

/// Why gdb could not move the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GdbFailure {
    /// No gdb on PATH (scripts/install-deps installs it).
    NotInstalled,
    /// gdb could not attach to PID 1 (ptrace refused).
    Attach,
    /// PID 1's sd-bus has no debug info: `bus_seal_message` or its `b` are unknown.
    NoDebugInfo,
    /// gdb did not finish (breakpoint never hit) in time.
    NoBreakpointHit,
    /// Anything else gdb said.
    Other,
}

impl std::fmt::Display for GdbFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GdbFailure::NotInstalled => "gdb is not installed (run scripts/install-deps)",
            GdbFailure::Attach => "gdb could not attach to PID 1",
            GdbFailure::NoDebugInfo => {
                "the binary has no debug info for sd-bus (bus_seal_message and its argument b)"
            }
            GdbFailure::NoBreakpointHit => "PID 1 never reached bus_seal_message on its API bus",
            GdbFailure::Other => "gdb failed",
        })
    }
}

/// What moving the cookie found and took.
pub(super) struct GdbOutcome {
    /// The cookie PID 1 had when it stopped.
    pub(super) found: Option<u64>,
    /// From attach to detach (s).
    pub(super) seconds: f64,
}

/// Attaches gdb to PID 1, stops it in `bus_seal_message()` on its API-bus connection,
/// writes `b->cookie` and detaches. Fresh connections ping systemd meanwhile so that it
/// seals a message soon. A failed command ends gdb's script, and gdb detaches on exit.
pub(super) fn move_cookie(cx: &Ctx<'_>, value: u32) -> Result<GdbOutcome, ReproduceError> {
    let gdb_err = |kind, detail: String| {
        cx.fail(ReproduceError::Gdb {
            build: cx.build,
            kind,
            detail,
        })
    };
    let dir = std::env::temp_dir();
    let tag = format!("sdcookie-gdb-{}-{}", std::process::id(), cx.build);
    let script = dir.join(format!("{tag}.gdb"));
    let log = dir.join(format!("{tag}.log"));
    // Signals PID 1 receives while attached pass through without stopping it; `info scope`
    // names the argument `b` only with debug info.
    let text = format!(
        "set pagination off\nset confirm off\nhandle all nostop noprint pass\n\
         info scope bus_seal_message\nbreak bus_seal_message if b->bus_client\ncontinue\n\
         print/x b->cookie\nset var b->cookie = {value:#x}\nprint/x b->cookie\n\
         delete\ndetach\nquit\n"
    );
    let cleanup = || {
        let _ = std::fs::remove_file(&script);
        let _ = std::fs::remove_file(&log);
    };
    std::fs::write(&script, text)
        .map_err(|e| gdb_err(GdbFailure::Other, format!("{}: {e}", script.display())))?;
    let out = File::create(&log)
        .and_then(|f| Ok((f.try_clone()?, f)))
        .map_err(|e| gdb_err(GdbFailure::Other, format!("{}: {e}", log.display())))?;
    let t = Instant::now();
    let child = Command::new("gdb")
        .args(["-nx", "-batch", "-iex", "set debuginfod enabled off", "-p"])
        .arg(cx.sandbox.pid().to_string())
        .arg("-x")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(out.0)
        .stderr(out.1)
        .spawn();
    let mut gdb = match child {
        Ok(c) => Reaped(c),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            cleanup();
            return Err(gdb_err(GdbFailure::NotInstalled, e.to_string()));
        }
        Err(e) => {
            cleanup();
            return Err(gdb_err(GdbFailure::Other, format!("running gdb: {e}")));
        }
    };
    // A connection of its own, so the main client's counters see none of this.
    let trigger = Client::new(
        Target::Address {
            address: cx.sandbox.bus_address(),
            direct: false,
        },
        Options::default().with_timeouts(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(1),
        ),
    );
    let status = loop {
        match gdb.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if t.elapsed() > GDB_PATIENCE => break None,
            Ok(None) => {}
            Err(_) => break None,
        }
        let _ = trigger.ping(PingTarget::Systemd, None, Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(trigger);
    let seconds = t.elapsed().as_secs_f64();
    drop(gdb);
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    cleanup();
    let tail = || {
        said.lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ")
    };
    if status.is_none() {
        return Err(gdb_err(GdbFailure::NoBreakpointHit, tail()));
    }
    match gdb_outcome(&said, value) {
        Ok(found) => Ok(GdbOutcome {
            found: Some(found),
            seconds,
        }),
        Err(kind) => Err(gdb_err(kind, tail())),
    }
}

/// What gdb's script did, from its output: the cookie it found (the first `print/x`)
/// when the second shows the value written, or why not.
pub fn gdb_outcome(said: &str, value: u32) -> Result<u64, GdbFailure> {
    let printed: Vec<u64> = said
        .lines()
        .filter_map(|l| l.strip_prefix('$'))
        .filter_map(|l| l.split_once(" = 0x"))
        .filter_map(|(_, v)| u64::from_str_radix(v.trim(), 16).ok())
        .collect();
    if let [found, written] = printed[..] {
        if written == u64::from(value) {
            return Ok(found);
        }
    }
    Err(
        if said.contains("ptrace:") || said.contains("Could not attach") {
            GdbFailure::Attach
        } else if !said.contains("Symbol b is")
            || said.contains("No symbol \"b\"")
            || said.contains("No symbol table")
        {
            GdbFailure::NoDebugInfo
        } else {
            GdbFailure::Other
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gdb's output on the stock v241 PID 1 (gdb 13, Debian 12), abridged.
    const GDB_OK: &str = "\
Symbol b is a variable at frame base reg $rbp offset 16+-40, length 8.
Breakpoint 1 at 0x7ffb80982dcb: file ../src/libsystemd/sd-bus/sd-bus.c, line 1650.

Breakpoint 1, bus_seal_message (b=0x5624d59d6160, m=0x5624d59fff00, timeout=0) at ../src/libsystemd/sd-bus/sd-bus.c:1650
1650\t        assert(b);
$1 = 0x4
$2 = 0xffffff00
[Inferior 1 (process 5641) detached]
";

    #[test]
    fn gdb_outcome_takes_the_cookie_found_when_the_write_shows() {
        assert_eq!(gdb_outcome(GDB_OK, 0xffff_ff00), Ok(4));
        // A write that did not take is not success.
        assert_eq!(gdb_outcome(GDB_OK, 0xffff_fff0), Err(GdbFailure::Other));
    }

    #[test]
    fn gdb_outcome_names_attach_and_debug_info_failures() {
        let attach = "ptrace: Operation not permitted.\nNo symbol table is loaded.";
        assert_eq!(gdb_outcome(attach, 1), Err(GdbFailure::Attach));
        let stripped = "Symbol bus_seal_message is a function at address 0x7f00.\n\
            No symbol \"b\" in current context.";
        assert_eq!(gdb_outcome(stripped, 1), Err(GdbFailure::NoDebugInfo));
    }
}
