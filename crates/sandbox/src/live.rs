//! What a sandbox's teardown undoes, kept where the whole process can reach it: a signal
//! handler's thread calls [`teardown_all`] and every sandbox of the process goes, as if each
//! had been dropped, although the threads that own them never get to run their destructors.
//!
//! Invariants: a sandbox's PID 1 and cgroup subtrees are only ever read or changed under
//! its [`Live`] lock, so teardown happens once, from whichever thread gets there first;
//! once [`teardown_all`] has run, no sandbox of this process starts again (registering is
//! refused and a registered one that has not launched PID 1 yet never will), so nothing
//! booted while the process stops is left behind.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use nix::unistd::Pid;

use crate::cgroup::{self, Subtree};
use crate::error::Error;
use crate::launch;

/// How long teardown waits for the kernel to release dead tasks before `rmdir` succeeds.
pub(crate) const TEARDOWN_PATIENCE: Duration = Duration::from_secs(10);

/// One sandbox's host state: its PID 1 until reaped, and the cgroup subtrees it made.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) pid1: Option<Pid>,
    pub(crate) subtrees: Vec<Subtree>,
    /// Set by teardown; a torn-down sandbox never launches PID 1.
    pub(crate) torn_down: bool,
}

impl Live {
    /// Kills PID 1 (the kernel kills the rest of its PID namespace) and removes the
    /// subtrees bottom-up. Idempotent.
    pub(crate) fn teardown(&mut self) -> Result<(), Error> {
        self.torn_down = true;
        if let Some(pid) = self.pid1.take() {
            // SIGKILL to a PID namespace's init makes the kernel kill all of its processes;
            // waitpid returns only after they are all gone.
            launch::kill_and_reap(pid);
        }
        let mut first_error = None;
        for s in self.subtrees.drain(..).rev() {
            if let Err(e) = cgroup::remove_subtree(&s.dir, TEARDOWN_PATIENCE) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The sandboxes of this process; `None` once [`teardown_all`] has run.
static REGISTRY: Mutex<Option<Vec<Weak<Mutex<Live>>>>> = Mutex::new(Some(Vec::new()));

/// Registers the subtrees of a sandbox being booted. After [`teardown_all`] the subtrees
/// are removed at once and the boot is refused with [`Error::Stopping`].
pub(crate) fn register(subtrees: Vec<Subtree>) -> Result<Arc<Mutex<Live>>, Error> {
    let mut live = Live {
        pid1: None,
        subtrees,
        torn_down: false,
    };
    let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    let Some(list) = registry.as_mut() else {
        drop(registry);
        live.teardown()?;
        return Err(Error::Stopping);
    };
    list.retain(|w| w.strong_count() > 0);
    let live = Arc::new(Mutex::new(live));
    list.push(Arc::downgrade(&live));
    Ok(live)
}

/// Locks one sandbox's state; a panic elsewhere while it was held does not stop teardown.
pub(crate) fn lock(live: &Mutex<Live>) -> MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(|p| p.into_inner())
}

/// Tears down every sandbox of this process, as dropping each would, and refuses to boot
/// any more: for a process that is about to exit on a signal (SIGTERM, SIGHUP, SIGINT) and
/// whose owning threads will not run their destructors. Safe to call from any thread,
/// while other threads use or drop their sandboxes; returns the first teardown error after
/// trying every sandbox.
///
/// Not async-signal-safe: call it from an ordinary thread that learned of the signal (a
/// self-pipe, `sigwait`), not from the signal handler.
pub fn teardown_all() -> Result<(), Error> {
    let list = REGISTRY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default();
    let mut first_error = None;
    for live in list.iter().filter_map(Weak::upgrade) {
        if let Err(e) = lock(&live).teardown() {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
