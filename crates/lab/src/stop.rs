//! SIGTERM, SIGHUP and SIGINT (what `timeout`, `systemctl stop`, a closed terminal and
//! Ctrl-C send) end sdcookie-lab as a normal exit does: every sandbox it booted is torn
//! down (its processes killed, its cgroups removed; its mounts die with its namespace),
//! then it exits with 128+N. Without this the default action would kill the process with
//! no destructor run, leaving the sandbox's cgroup trees in every hierarchy of the host.
//!
//! The handler only writes the signal's number to a pipe (write(2) is async-signal-safe);
//! a thread reads it and does the work. Caught signals are reset to their default by
//! execve, so the commands sdcookie-lab runs get them as usual.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;

/// The signals that stop sdcookie-lab with a teardown.
const STOPPING: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT];

/// The write end of the pipe, for the handler; -1 until [`watch`] made it.
static WRITE_END: AtomicI32 = AtomicI32::new(-1);

/// The signal being acted on, 0 before one arrived.
static STOPPING_ON: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WRITE_END.load(Ordering::Relaxed);
    let byte = sig as u8;
    // SAFETY: write(2) on a non-blocking pipe is async-signal-safe; `byte` outlives the
    // call. A full pipe (signals already pending) loses nothing that matters: the first
    // one starts the teardown.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Catches [`STOPPING`] for the rest of the process's life and starts the thread that
/// tears the sandboxes down when one arrives.
pub fn watch() -> io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_end, write_end] = fds;
    // SAFETY: F_SETFL on a descriptor we own; a handler must never block on a full pipe.
    if unsafe { libc::fcntl(write_end, libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    WRITE_END.store(write_end, Ordering::Relaxed);
    thread::Builder::new()
        .name("sdcookie-lab-stop".into())
        .spawn(move || wait_and_stop(read_end))?;
    for sig in STOPPING {
        // SAFETY: a zeroed sigaction with a handler and an empty mask is valid; the
        // handler only does async-signal-safe work (above). SA_RESTART keeps the main
        // thread's blocking calls going while the stop thread works.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

fn wait_and_stop(read_end: libc::c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads one byte into `byte` from the pipe this thread owns.
        let n = unsafe { libc::read(read_end, (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            break;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        // The pipe cannot close (the write end lives as long as the process).
        return;
    }
    let sig = libc::c_int::from(byte);
    STOPPING_ON.store(sig, Ordering::SeqCst);
    eprintln!("sdcookie-lab: {}: tearing down, then exiting", name(sig));
    if let Err(e) = sdbus_sandbox::teardown_all() {
        eprintln!(
            "sdcookie-lab: error: teardown: {}",
            sdcookie::exit::chain(&e)
        );
        std::process::exit(i32::from(sdcookie::exit::OWN_FAILURE));
    }
    std::process::exit(128 + sig);
}

fn name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}

/// Once a stopping signal is being acted on, the stop thread owns the exit: a command
/// that ended because its sandbox was torn down must not report its own status (or an
/// error) first. Returns at once otherwise.
pub fn defer_to_stop() {
    if STOPPING_ON.load(Ordering::SeqCst) != 0 {
        loop {
            thread::park();
        }
    }
}
