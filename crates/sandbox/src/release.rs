//! The cgroup v1 release agent, stood in for.
//!
//! On cgroup v1 the kernel tells systemd that a cgroup emptied by running the release agent
//! of the `name=systemd` hierarchy (`cgroups-agent`, which passes the cgroup's path to PID 1
//! over `/run/systemd/cgroups-agent`). That agent belongs to the hierarchy, which the
//! sandbox shares with the host: the kernel would run it in the host's namespaces, and the
//! sandbox must not change the host's hierarchy. So the sandbox's PID 1 never hears of an
//! emptied cgroup.
//!
//! Upstream v219 does not wait for that news (`unit_kill_context()` in src/core/unit.c
//! leaves `wait_for_exit` off: "cgroup notification is unreliable ... doesn't work at all in
//! containers"), and later releases in hybrid mode follow the unified hierarchy's
//! `cgroup.events` instead. Red Hat's 219 (CentOS 7, XCP-ng 8.3) does wait, and without the
//! news a scope's stop job stays in `stop-sigterm` after its processes died. So while a
//! sandbox runs a PID 1 older than v230 on a v1 layout, a thread does the kernel's part: it
//! polls the sandbox's subtree of the `name=systemd` hierarchy and sends the path of every
//! cgroup it finds empty (no tasks, no child cgroups), as PID 1 sees it, to PID 1's
//! `/run/systemd/cgroups-agent` (reached through `/proc/<pid>/root`): at once when the
//! cgroup is new or was populated at the last look, and again every [`REPEAT`] while it
//! stays empty, because a scope can be filled and emptied between two looks. Every cgroup
//! counts, not only those with `notify_on_release` set: PID 1 sets that flag only where it
//! could install the agent, at the hierarchy's root, which the sandbox's root is not. PID 1
//! checks the cgroup again before acting (`manager_notify_cgroup_empty()` in
//! src/core/cgroup.c), so an early or repeated datagram does no harm. A PID 1 without that
//! socket (upstream v219) gets nothing.

use std::collections::HashMap;
use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often the subtree is read.
const POLL: Duration = Duration::from_millis(50);

/// How often a cgroup that stays empty is named again: the longest a stop job waits.
const REPEAT: Duration = Duration::from_secs(1);

/// The polling thread; stopped and joined on drop.
#[derive(Debug)]
pub(crate) struct ReleaseAgent {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ReleaseAgent {
    /// Starts polling `subtree` (the host directory that is `/` of the `name=systemd`
    /// hierarchy for PID 1, host pid `pid1`).
    pub(crate) fn start(subtree: PathBuf, pid1: u32) -> std::io::Result<ReleaseAgent> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let socket = PathBuf::from(format!("/proc/{pid1}/root/run/systemd/cgroups-agent"));
        let thread = thread::Builder::new()
            .name("sandbox-release-agent".into())
            .spawn(move || poll(&subtree, &socket, &flag))?;
        Ok(ReleaseAgent {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ReleaseAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn poll(subtree: &Path, socket: &Path, stop: &AtomicBool) {
    let Ok(out) = UnixDatagram::unbound() else {
        return;
    };
    // Per cgroup: populated at the last look, and when it was last named (if empty).
    let mut seen: HashMap<PathBuf, (bool, Option<Instant>)> = HashMap::new();
    while !stop.load(Ordering::Relaxed) && subtree.is_dir() {
        let mut now = HashMap::with_capacity(seen.len());
        walk(subtree, &mut now);
        let mut next = HashMap::with_capacity(now.len());
        for (dir, full) in now {
            let named = match seen.get(&dir) {
                _ if full => None,
                Some((false, Some(at))) if at.elapsed() < REPEAT => Some(*at),
                _ => {
                    // As PID 1 sees it: its cgroup namespace's root is `subtree`.
                    let rel = dir.strip_prefix(subtree).unwrap_or(&dir);
                    let path = format!("/{}", rel.display());
                    // No socket, or PID 1 going away: nobody waits for it.
                    let _ = out.send_to(path.as_bytes(), socket);
                    Some(Instant::now())
                }
            };
            next.insert(dir, (full, named));
        }
        seen = next;
        thread::sleep(POLL);
    }
}

/// Records, for `dir` and every cgroup below it, whether it holds tasks or child cgroups.
fn walk(dir: &Path, out: &mut HashMap<PathBuf, bool>) {
    let mut children = false;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                children = true;
                walk(&e.path(), out);
            }
        }
    }
    let tasks = fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|s| !s.trim().is_empty());
    out.insert(dir.to_path_buf(), children || tasks);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_marks_a_cgroup_with_children_or_tasks_as_populated() {
        let root =
            std::env::temp_dir().join(format!("sdbus-sandbox-release-{}", std::process::id()));
        let a = root.join("a.scope");
        let b = root.join("b.slice/c.scope");
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        fs::write(a.join("cgroup.procs"), "").unwrap();
        fs::write(b.join("cgroup.procs"), "42\n").unwrap();
        let mut seen = HashMap::new();
        walk(&root, &mut seen);
        let _ = fs::remove_dir_all(&root);
        assert_eq!(seen.get(&a), Some(&false));
        assert_eq!(seen.get(&b), Some(&true));
        assert_eq!(seen.get(&root.join("b.slice")), Some(&true));
        assert_eq!(seen.get(&root), Some(&true));
    }
}
