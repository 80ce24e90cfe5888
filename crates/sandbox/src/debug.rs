//! Moving the live PID 1's API-bus cookie with gdb, as the engineers of the cookie-overflow
//! post-mortem did (systemd#11809): a batch script stops PID 1 in `bus_seal_message()` on
//! its API-bus connection (`b->bus_client`), writes `b->cookie` and detaches. Nothing in the
//! binary or its libraries changes; the systemd under test needs debug info (the builds of
//! `systemd-patch/build-pid1` have it). The script stops at its first failing command and gdb
//! detaches when it exits, so a failure leaves PID 1 running unchanged; what went wrong is
//! read from gdb's own output.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, Sandbox};

/// How long gdb may take to attach, hit the breakpoint and detach.
const GDB_PATIENCE: Duration = Duration::from_secs(60);

/// Why gdb could not move the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GdbFailure {
    /// No gdb on PATH (Debian: apt-get install gdb).
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
            GdbFailure::NotInstalled => "gdb is not installed",
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CookieMoved {
    /// The cookie PID 1 had when it stopped.
    pub found: u64,
    /// From attach to detach.
    pub took: Duration,
}

/// gdb, ended by its pid when dropped (on every path).
struct Gdb(Child);

impl Drop for Gdb {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

impl Sandbox {
    /// Sets the sandbox's PID 1's API-bus cookie (`b->cookie` of its connection to the
    /// sandbox bus) to `value` with gdb. PID 1 seals a message on that connection only when
    /// it has something to send there, so `poke` is called every 50 ms until gdb is done:
    /// it should make systemd answer on the bus (a method call from any fresh connection).
    /// The next message PID 1 seals there gets `value + 1` (before v242: `++b->cookie`).
    pub fn set_api_bus_cookie(
        &self,
        value: u32,
        mut poke: impl FnMut(),
    ) -> Result<CookieMoved, Error> {
        let gdb_err = |kind, detail: String| Error::Gdb { kind, detail };
        let dir = std::env::temp_dir();
        let tag = format!("sdbus-sandbox-gdb-{}-{}", std::process::id(), self.id());
        let script = dir.join(format!("{tag}.gdb"));
        let log = dir.join(format!("{tag}.log"));
        // Signals PID 1 receives while attached pass through without stopping it; `info
        // scope` names the argument `b` only with debug info.
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
        let started = Instant::now();
        let child = Command::new("gdb")
            .args(["-nx", "-batch", "-iex", "set debuginfod enabled off", "-p"])
            .arg(self.pid().to_string())
            .arg("-x")
            .arg(&script)
            .stdin(Stdio::null())
            .stdout(out.0)
            .stderr(out.1)
            .spawn();
        let mut gdb = match child {
            Ok(c) => Gdb(c),
            Err(e) => {
                cleanup();
                let kind = if e.kind() == std::io::ErrorKind::NotFound {
                    GdbFailure::NotInstalled
                } else {
                    GdbFailure::Other
                };
                return Err(gdb_err(kind, format!("running gdb: {e}")));
            }
        };
        let finished = loop {
            match gdb.0.try_wait() {
                Ok(Some(_)) => break true,
                Ok(None) if started.elapsed() > GDB_PATIENCE => break false,
                Ok(None) => {}
                Err(_) => break false,
            }
            poke();
            std::thread::sleep(Duration::from_millis(50));
        };
        let took = started.elapsed();
        drop(gdb);
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        cleanup();
        let tail = || {
            let lines: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(4)..].join(" | ")
        };
        if !finished {
            return Err(gdb_err(GdbFailure::NoBreakpointHit, tail()));
        }
        gdb_outcome(&said, value)
            .map(|found| CookieMoved { found, took })
            .map_err(|kind| gdb_err(kind, tail()))
    }
}

/// What gdb's script did, from its output: the cookie it found (the first `print/x`) when
/// the second shows the value written, or why not.
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
