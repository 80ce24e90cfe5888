//! Starting the sandbox's PID 1 from a (possibly multithreaded) process.
//!
//! Why `clone(2)` and not `fork` + `unshare(1)`: `clone(CLONE_NEWPID | CLONE_NEWNS |
//! CLONE_NEWUTS)` makes the child PID 1 of a new PID namespace directly, so it is our own
//! child (we know its host pid and reap it) and no helper process sits in between. The
//! child is a copy of one thread of a multithreaded process: other threads may have held
//! the allocator's or stdio's locks at the moment of the copy, so between `clone` and
//! `execve` the child runs only a [`Plan`] built beforehand in the parent and makes only
//! raw system calls on it (open, write, mount, mkdir, unshare, dup2, execve — all
//! async-signal-safe): no allocation, no locks, no panics. The plan's first steps move
//! the child into the `sandbox-<id>` cgroups and only then `unshare(CLONE_NEWCGROUP)`, so
//! the cgroup namespace is rooted at the subtree (a `CLONE_NEWCGROUP` in the clone flags
//! would root it at the parent's cgroup).
//!
//! A failed step is reported through a close-on-exec pipe as (step index, errno), the way
//! `std::process::Command` reports a failed exec; end-of-file on the pipe means systemd is
//! running.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::{mpsc, Mutex};
use std::thread;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

/// One system call (or a short fixed sequence) of the child's setup.
#[derive(Debug)]
pub(crate) enum Op {
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`: die with the launcher thread, i.e. the process.
    DieWithParent,
    /// `open(path, O_WRONLY)` and write `"0"`: moves the calling process into that cgroup.
    JoinCgroup(CString),
    Unshare(libc::c_int),
    Mount {
        source: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    /// `umount2(target, MNT_DETACH)`.
    Detach(CString),
    Mkdir(CString),
    Symlink {
        target: CString,
        link: CString,
    },
    WriteFile {
        path: CString,
        contents: Vec<u8>,
    },
    /// stdin from `/dev/null`, stdout and stderr to `path` (the console).
    Stdio {
        path: CString,
    },
}

/// A step and how to name it in an error.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) op: Op,
    pub(crate) what: String,
}

/// Everything the child does, prepared in the parent so the child never allocates.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) program: CString,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
}

/// Raw pointer arrays for `execve`, built in the parent.
struct ExecArgs {
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
}

fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(ptr::null()))
        .collect()
}

pub(crate) fn c(s: &str) -> CString {
    CString::new(s).expect("paths and arguments built by this crate contain no NUL")
}

/// Why the child failed: the step it was at (or `steps.len()` for the exec) and errno.
pub(crate) struct ChildFailure {
    pub(crate) step: String,
    pub(crate) error: io::Error,
}

type Launched = Result<Pid, Result<ChildFailure, io::Error>>;

/// The launcher thread's queue; the thread lives as long as the process.
static LAUNCHER: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);

/// A plan to launch and where to send the outcome.
type Job = (Plan, mpsc::Sender<Launched>);

/// Starts PID 1 of a new pid + mount + uts namespace and runs `plan` in it.
/// Returns its host pid once it has exec'd the program, or how it failed (the child is
/// reaped in that case).
///
/// The clone happens on one long-lived launcher thread, because the child's parent-death
/// signal (SIGKILL, set as the plan's first step) fires when the parent *thread* exits:
/// cloned from a test's own thread, a sandbox kept beyond that test (say, in a static)
/// would die with the thread. From the launcher it dies only with the process — also when
/// the process is killed and no destructor runs.
pub(crate) fn launch(plan: Plan) -> Launched {
    let (reply_tx, reply_rx) = mpsc::channel();
    {
        let mut launcher = LAUNCHER.lock().unwrap_or_else(|p| p.into_inner());
        if launcher.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            thread::Builder::new()
                .name("sdbus-sandbox-launcher".into())
                .spawn(move || {
                    for (plan, reply) in rx {
                        let _ = reply.send(launch_here(&plan));
                    }
                })
                .map_err(Err)?;
            *launcher = Some(tx);
        }
        let sent = launcher.as_ref().map(|tx| tx.send((plan, reply_tx)));
        if !matches!(sent, Some(Ok(()))) {
            return Err(Err(io::Error::other("the sandbox launcher thread is gone")));
        }
    }
    reply_rx
        .recv()
        .unwrap_or_else(|_| Err(Err(io::Error::other("the sandbox launcher thread is gone"))))
}

fn launch_here(plan: &Plan) -> Launched {
    let exec = ExecArgs {
        argv: ptrs(&plan.argv),
        envp: ptrs(&plan.envp),
    };
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Err(e.into()))?;
    let mut stack = vec![0u8; 256 * 1024];
    let report_fd = write_end.as_raw_fd();
    let flags = CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS;
    // SAFETY: the callback runs in a copy of this process that has a single thread. It
    // only reads `plan`/`exec` (prepared above, not modified while the parent waits) and
    // makes async-signal-safe system calls; it ends in execve or _exit and never returns
    // into Rust code that could unwind or allocate. `stack` outlives the clone call, and
    // without CLONE_VM the child gets its own copy of it.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(|| child_main(plan, &exec, report_fd)),
            &mut stack,
            flags,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| Err(e.into()))?;
    drop(write_end);
    let mut report = [0u8; 8];
    let mut file = File::from(read_end);
    let mut got = 0;
    while got < report.len() {
        match file.read(&mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                kill_and_reap(pid);
                return Err(Err(e));
            }
        }
    }
    if got == 0 {
        return Ok(pid);
    }
    kill_and_reap(pid);
    let index = u32::from_ne_bytes([report[0], report[1], report[2], report[3]]) as usize;
    let errno = i32::from_ne_bytes([report[4], report[5], report[6], report[7]]);
    let step = match plan.steps.get(index) {
        Some(s) => s.what.clone(),
        None => format!("exec {}", plan.program.to_string_lossy()),
    };
    Err(Ok(ChildFailure {
        step,
        error: io::Error::from_raw_os_error(errno),
    }))
}

pub(crate) fn kill_and_reap(pid: Pid) {
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(pid, None) {}
}

/// The child. Only raw system calls from here to execve (see the module docs).
fn child_main(plan: &Plan, exec: &ExecArgs, report_fd: libc::c_int) -> isize {
    // SAFETY: all calls below are async-signal-safe system call wrappers operating on
    // pointers into `plan`/`exec`, which are valid, NUL-terminated and immutable here.
    unsafe {
        // Start systemd with a clean signal state: Rust ignores SIGPIPE, and the calling
        // thread may block signals; ignored dispositions and the mask survive execve.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);

        for (index, step) in plan.steps.iter().enumerate() {
            if run_op(&step.op) < 0 {
                fail(report_fd, index);
            }
        }
        libc::execve(
            plan.program.as_ptr(),
            exec.argv.as_ptr(),
            exec.envp.as_ptr(),
        );
        fail(report_fd, plan.steps.len());
    }
}

/// Reports (step, errno) and exits. Async-signal-safe.
unsafe fn fail(report_fd: libc::c_int, index: usize) -> ! {
    // SAFETY: errno location is thread-local and valid; write/_exit are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&(index as u32).to_ne_bytes());
        buf[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(report_fd, buf.as_ptr().cast(), buf.len());
        libc::_exit(127)
    }
}

fn opt_ptr(c: &Option<CString>) -> *const libc::c_char {
    c.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// Runs one step; returns a negative value with errno set on failure. Async-signal-safe.
unsafe fn run_op(op: &Op) -> libc::c_int {
    // SAFETY: every pointer comes from a live CString/Vec owned by the plan.
    unsafe {
        match op {
            Op::DieWithParent => libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ),
            Op::JoinCgroup(procs) => write_file(procs, b"0", libc::O_WRONLY),
            Op::Unshare(flags) => libc::unshare(*flags),
            Op::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => libc::mount(
                opt_ptr(source),
                target.as_ptr(),
                opt_ptr(fstype),
                *flags,
                opt_ptr(data).cast(),
            ),
            Op::Detach(target) => libc::umount2(target.as_ptr(), libc::MNT_DETACH),
            Op::Mkdir(path) => {
                let r = libc::mkdir(path.as_ptr(), 0o755);
                if r < 0 && *libc::__errno_location() == libc::EEXIST {
                    0
                } else {
                    r
                }
            }
            Op::Symlink { target, link } => libc::symlink(target.as_ptr(), link.as_ptr()),
            Op::WriteFile { path, contents } => write_file(
                path,
                contents,
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            ),
            Op::Stdio { path } => {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if null < 0 || libc::dup2(null, 0) < 0 {
                    return -1;
                }
                libc::close(null);
                let log = libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_NOCTTY | libc::O_CLOEXEC,
                );
                if log < 0 || libc::dup2(log, 1) < 0 || libc::dup2(log, 2) < 0 {
                    return -1;
                }
                libc::close(log);
                0
            }
        }
    }
}

/// open + write all + close. Async-signal-safe.
unsafe fn write_file(path: &CStr, contents: &[u8], flags: libc::c_int) -> libc::c_int {
    // SAFETY: path is NUL-terminated, contents is a valid slice.
    unsafe {
        let fd = libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644);
        if fd < 0 {
            return -1;
        }
        let mut done = 0;
        while done < contents.len() {
            let n = libc::write(fd, contents[done..].as_ptr().cast(), contents.len() - done);
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                libc::close(fd);
                return -1;
            }
            done += n as usize;
        }
        libc::close(fd)
    }
}
