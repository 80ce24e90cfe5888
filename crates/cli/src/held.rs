//! A child process that is forked now but runs its command only when released.
//!
//! `scope run` must move the command into its scope *before* the command does anything,
//! or its first allocations escape the limits (runc solves the same problem with
//! `runc init` waiting on the exec fifo). So: fork, and let the child block on a pipe;
//! the parent creates the scope with the child's pid, then writes one byte and the child
//! execs. If the parent gives up instead, it closes the pipe and the child exits 125.
//!
//! The parent is multithreaded (the D-Bus client has a reader thread), so between fork and
//! exec the child only makes async-signal-safe calls (`close`, `read`, `execv`, `_exit`)
//! on data prepared before the fork.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};

/// Exit status of a child whose parent gave up before releasing it.
const ABANDONED: i32 = 125;

/// Why a command could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// No such program (exit status 127, as the shell does).
    #[error("{0}: command not found")]
    NotFound(String),
    /// Found but not executable (exit status 126).
    #[error("{0}: not executable")]
    NotExecutable(String),
    /// An argument contains a NUL byte.
    #[error("argument {0:?} contains a NUL byte")]
    Nul(String),
    /// fork/pipe/wait failed.
    #[error("{what}: {errno}")]
    Sys {
        /// Which call.
        what: &'static str,
        /// Its error.
        errno: Errno,
    },
}

impl SpawnError {
    /// The exit status a shell would give for this.
    pub fn exit_code(&self) -> u8 {
        match self {
            SpawnError::NotFound(_) => 127,
            SpawnError::NotExecutable(_) => 126,
            _ => 125,
        }
    }
}

/// A forked child waiting for [`Held::release`].
#[derive(Debug)]
pub struct Held {
    pid: Pid,
    go: Option<OwnedFd>,
}

fn is_executable(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Finds `program` like `execvp` would: as given when it contains a `/`, else in `$PATH`.
fn resolve(program: &str) -> Result<PathBuf, SpawnError> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return match p.metadata() {
            Err(_) => Err(SpawnError::NotFound(program.into())),
            Ok(_) if !is_executable(&p) => Err(SpawnError::NotExecutable(program.into())),
            Ok(_) => Ok(p),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .ok_or_else(|| SpawnError::NotFound(program.into()))
}

fn cstring(s: &OsStr) -> Result<CString, SpawnError> {
    CString::new(s.as_bytes()).map_err(|_| SpawnError::Nul(s.to_string_lossy().into_owned()))
}

impl Held {
    /// Forks a child that will exec `argv` once released.
    pub fn spawn(argv: &[String]) -> Result<Held, SpawnError> {
        let program = argv
            .first()
            .ok_or_else(|| SpawnError::NotFound(String::new()))?;
        let path = cstring(resolve(program)?.as_os_str())?;
        let args = argv
            .iter()
            .map(|a| cstring(OsStr::new(a)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let (wait_end, go_end) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|errno| SpawnError::Sys {
                what: "pipe2",
                errno,
            })?;
        // SAFETY: the child branch below only calls async-signal-safe functions (close,
        // read, execv, _exit) on memory allocated before the fork, and never returns.
        match unsafe { nix::unistd::fork() } {
            Err(errno) => Err(SpawnError::Sys {
                what: "fork",
                errno,
            }),
            Ok(ForkResult::Child) => {
                let (r, w) = (wait_end.as_raw_fd(), go_end.as_raw_fd());
                // SAFETY: plain syscalls on fds we own and a one-byte buffer on our stack;
                // `path` and `ptrs` (NULL-terminated, pointing into `args`) outlive execv.
                unsafe {
                    libc::close(w);
                    let mut byte = 0u8;
                    let n = loop {
                        let n = libc::read(r, (&mut byte as *mut u8).cast(), 1);
                        if n >= 0 || *libc::__errno_location() != libc::EINTR {
                            break n;
                        }
                    };
                    if n != 1 {
                        libc::_exit(ABANDONED);
                    }
                    libc::execv(path.as_ptr(), ptrs.as_ptr());
                    let code = if *libc::__errno_location() == libc::ENOENT {
                        127
                    } else {
                        126
                    };
                    libc::_exit(code)
                }
            }
            Ok(ForkResult::Parent { child }) => {
                drop(wait_end);
                Ok(Held {
                    pid: child,
                    go: Some(go_end),
                })
            }
        }
    }

    /// The child's pid (in our PID namespace).
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// Lets the child exec its command.
    pub fn release(&mut self) -> Result<(), SpawnError> {
        if let Some(go) = self.go.take() {
            nix::unistd::write(&go, b"g").map_err(|errno| SpawnError::Sys {
                what: "write",
                errno,
            })?;
        }
        Ok(())
    }

    /// Waits for the child; returns its exit status as a shell would (128+N for signal N).
    pub fn wait(mut self) -> Result<u8, SpawnError> {
        // Without the go byte the child exits 125 by itself.
        self.go = None;
        loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
                Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128u8.wrapping_add(sig as u8)),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(errno) => {
                    return Err(SpawnError::Sys {
                        what: "waitpid",
                        errno,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_child_runs_and_reports_its_status() {
        let mut h = Held::spawn(&["sh".into(), "-c".into(), "exit 7".into()]).unwrap();
        h.release().unwrap();
        assert_eq!(h.wait().unwrap(), 7);
    }

    #[test]
    fn abandoned_child_exits_125_without_running() {
        let dir = std::env::temp_dir().join(format!("sdcookie-held-{}", std::process::id()));
        let marker = dir.to_string_lossy().into_owned();
        let h = Held::spawn(&["touch".into(), marker.clone()]).unwrap();
        assert_eq!(h.wait().unwrap(), 125);
        assert!(!Path::new(&marker).exists());
    }

    #[test]
    fn missing_program_is_127() {
        let e = Held::spawn(&["sdcookie-no-such-program".into()]).unwrap_err();
        assert_eq!(e.exit_code(), 127);
    }

    #[test]
    fn killed_child_reports_128_plus_signal() {
        let mut h = Held::spawn(&["sh".into(), "-c".into(), "kill -TERM $$".into()]).unwrap();
        h.release().unwrap();
        assert_eq!(h.wait().unwrap(), 128 + 15);
    }
}
