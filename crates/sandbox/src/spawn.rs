//! Running commands inside a booted sandbox.
//!
//! A command runs under `nsenter(1) --target <PID 1> --pid --mount --cgroup --uts`, so
//! it sees the sandbox's `/run`, `/proc` and `/sys/fs/cgroup` as a process of a booted
//! machine would. Joining a PID namespace only affects children of the caller, so some
//! process has to fork after `setns`; nsenter does that, waits for the child and exits
//! with its status, which keeps `std::process::Command`'s stdio, environment and exit
//! status handling intact. Before nsenter runs, a `pre_exec` hook moves it (and thus the
//! child it forks) into the cgroups of the sandbox's PID 1 — a cgroup namespace changes
//! only the view, not membership. The hook only opens and writes prepared paths, which
//! is async-signal-safe, so it is fine in a multithreaded caller.

use std::ffi::{CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;

/// How long to wait for nsenter to fork the real process.
const FORK_PATIENCE: Duration = Duration::from_secs(10);

/// A command to run inside a sandbox, made by [`Sandbox::command`](crate::Sandbox::command).
///
/// Mirrors the parts of [`std::process::Command`] tests need; [`as_std_mut`](Self::as_std_mut)
/// gives the rest. The current directory is `/` inside the sandbox.
#[derive(Debug)]
pub struct SandboxCommand {
    cmd: Command,
    program: String,
}

impl SandboxCommand {
    /// `cgroup_procs`: per hierarchy, the `cgroup.procs` of PID 1's cgroup and, tried when
    /// that one is gone (ENOENT), the one of its parent.
    pub(crate) fn new(
        pid1: u32,
        cgroup_procs: Vec<[CString; 2]>,
        program: &OsStr,
    ) -> SandboxCommand {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--target={pid1}"))
            .args(["--pid", "--mount", "--cgroup", "--uts", "--"])
            .arg(program);
        // SAFETY: the hook runs between fork and exec in the child; it only opens, writes
        // and closes files named by CStrings prepared here (async-signal-safe calls).
        unsafe {
            cmd.pre_exec(move || {
                for [procs, parent] in &cgroup_procs {
                    let mut fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT) {
                        fd = libc::open(parent.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    }
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    let r = libc::write(fd, b"0".as_ptr().cast(), 1);
                    let e = io::Error::last_os_error();
                    libc::close(fd);
                    if r != 1 {
                        return Err(e);
                    }
                }
                Ok(())
            });
        }
        SandboxCommand {
            cmd,
            program: program.to_string_lossy().into_owned(),
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable (the environment is otherwise inherited from this process).
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    /// Configures stdin.
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.cmd.stdin(cfg);
        self
    }

    /// Configures stdout.
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.cmd.stdout(cfg);
        self
    }

    /// Configures stderr.
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.cmd.stderr(cfg);
        self
    }

    /// The underlying `nsenter` command, for settings not mirrored here. Do not change its
    /// program or its leading arguments.
    pub fn as_std_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Runs the command to completion and collects its output (like [`Command::output`]).
    pub fn output(&mut self) -> Result<Output, Error> {
        self.cmd.output().map_err(|e| Error::Spawn {
            step: format!("running {}", self.program),
            source: Some(e),
        })
    }

    /// Runs the command to completion (like [`Command::status`]).
    pub fn status(&mut self) -> Result<ExitStatus, Error> {
        self.cmd.status().map_err(|e| Error::Spawn {
            step: format!("running {}", self.program),
            source: Some(e),
        })
    }

    /// Starts the command and finds its pid, both on the host and inside the sandbox.
    pub fn spawn(&mut self) -> Result<SandboxChild, Error> {
        let mut nsenter = self.cmd.spawn().map_err(|e| Error::Spawn {
            step: format!("starting nsenter for {}", self.program),
            source: Some(e),
        })?;
        match find_forked(&mut nsenter) {
            Ok(Forked::Running(host_pid, pid)) => Ok(SandboxChild {
                nsenter,
                host_pid,
                pid,
                done: None,
            }),
            // A short command can end, and nsenter with it, between two looks: its status
            // is nsenter's, and there is no pid left to name.
            Ok(Forked::Ended(status)) => Ok(SandboxChild {
                nsenter,
                host_pid: 0,
                pid: 0,
                done: Some(status),
            }),
            Err(step) => {
                let _ = nsenter.kill();
                let _ = nsenter.wait();
                Err(Error::Spawn {
                    step: format!("{step} (running {})", self.program),
                    source: None,
                })
            }
        }
    }
}

/// What became of the command nsenter forks.
enum Forked {
    /// Running: its host pid and its pid inside the sandbox.
    Running(u32, u32),
    /// Already ended, and nsenter with it (nsenter exits with its child's status).
    Ended(ExitStatus),
}

/// nsenter's only child is the command; finds its host pid and in-namespace pid.
fn find_forked(nsenter: &mut Child) -> Result<Forked, String> {
    let id = nsenter.id();
    let children = format!("/proc/{id}/task/{id}/children");
    let deadline = Instant::now() + FORK_PATIENCE;
    loop {
        if let Ok(text) = fs::read_to_string(&children) {
            if let Some(host_pid) = text
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
            {
                // Gone between the two reads: it ended and nsenter reaped it, so nsenter's
                // own end (below, at a later look) gives its status.
                if let Ok(status) = fs::read_to_string(format!("/proc/{host_pid}/status")) {
                    return Ok(Forked::Running(
                        host_pid,
                        ns_pid(&status).ok_or("no NSpid line in /proc/<pid>/status")?,
                    ));
                }
            }
        }
        match nsenter.try_wait() {
            Ok(Some(status)) => return Ok(Forked::Ended(status)),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for nsenter: {e}")),
        }
        if Instant::now() > deadline {
            return Err(format!("nsenter did not fork within {FORK_PATIENCE:?}"));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The innermost pid of `NSpid:` in a `/proc/<pid>/status` text.
pub(crate) fn ns_pid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}

/// A process running inside a sandbox. Dropping it kills the process (if still running)
/// and reaps it, so a failing test leaves nothing behind.
#[derive(Debug)]
pub struct SandboxChild {
    nsenter: Child,
    host_pid: u32,
    pid: u32,
    done: Option<ExitStatus>,
}

impl SandboxChild {
    /// The process's pid inside the sandbox (what systemd's `PIDs`/`AttachProcessesToUnit`
    /// expect when called over the sandbox bus); 0 if it ended before it could be seen.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process's pid on the host; 0 if it ended before it could be seen.
    pub fn host_pid(&self) -> u32 {
        self.host_pid
    }

    /// The nsenter process standing between us and the command; take its `stdin`,
    /// `stdout` and `stderr` pipes from here.
    pub fn std_child_mut(&mut self) -> &mut Child {
        &mut self.nsenter
    }

    /// Kills the process with SIGKILL (if it still runs) and reaps it.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if self.done.is_none() && self.nsenter.try_wait()?.is_none() {
            // nsenter has not reaped its child, so `host_pid` still names our process.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.host_pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.wait()
    }

    /// Waits for the process to end; its exit status as nsenter relays it.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Some(s) = self.done {
            return Ok(s);
        }
        let s = self.nsenter.wait()?;
        self.done = Some(s);
        Ok(s)
    }

    /// Like [`Child::try_wait`].
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.done.is_none() {
            self.done = self.nsenter.try_wait()?;
        }
        Ok(self.done)
    }
}

impl Drop for SandboxChild {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ns_pid_is_the_last_field() {
        assert_eq!(
            super::ns_pid("Name:\tsleep\nNSpid:\t4242\t7\nNSpgid:\t1\n"),
            Some(7)
        );
        assert_eq!(super::ns_pid("NSpid:\t99\n"), Some(99));
        assert_eq!(super::ns_pid("Name:\tx\n"), None);
    }
}
