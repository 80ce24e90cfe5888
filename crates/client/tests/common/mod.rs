//! Shared helpers for this crate's integration tests: the counters the leak checks compare,
//! processes and cgroups to look at, and (from sdbus-test-support, shared with the other
//! crates' tests) a real systemd in a sandbox, a client for it and processes to put in
//! scopes. Each test file uses part of it.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sdbus_cgroup::Client;
use sdbus_sandbox::Sandbox;

pub use sdbus_test_support::sandbox::{boot, client, mode, options, sleeper};

/// Open file descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// What each open fd of this process points to (for leak reports).
pub fn fd_targets() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .map(|e| {
            let t = std::fs::read_link(e.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            format!("{}->{t}", e.file_name().to_string_lossy())
        })
        .collect();
    v.sort();
    v
}

/// Names of this process's threads (for leak reports).
pub fn thread_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .map(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect();
    v.sort();
    v
}

/// Threads of this process, minus async-io's `blocking` pool: that pool (used by zbus to
/// connect) keeps its idle threads up to its own adaptive limit, shared by the whole
/// process, so they are not per-connection state. [`blocking_pool_threads`] bounds it.
/// Also minus tokio's pools: when a dependent turns on zbus's `tokio` feature,
/// `zbus::blocking` (which the sandbox uses) runs on one process-global tokio runtime
/// (`TOKIO_RT` in zbus's `utils.rs`) whose blocking threads come and go; the client itself
/// never starts a tokio thread.
pub fn thread_count() -> usize {
    thread_names()
        .iter()
        .filter(|n| !n.starts_with("blocking-") && !n.starts_with("tokio-"))
        .count()
}

/// Threads of async-io's `blocking` pool.
pub fn blocking_pool_threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with("blocking-"))
        .count()
}

/// Every `*.scope` directory below the sandbox's cgroup subtrees on the host.
pub fn scope_cgroups(sb: &Sandbox) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if p.extension().is_some_and(|x| x == "scope") {
                    out.push(p.clone());
                }
                walk(&p, out);
            }
        }
    }
    let mut out = Vec::new();
    for root in sb.host_cgroup_paths() {
        walk(&root, &mut out);
    }
    out.retain(|p| !p.ends_with("init.scope"));
    out
}

/// Polls `f` every 20 ms until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host pid of the sandbox's dbus-daemon (same PID namespace as its PID 1).
pub fn dbus_daemon_pid(sb: &Sandbox) -> Option<u32> {
    let ns = std::fs::read_link(format!("/proc/{}/ns/pid", sb.pid())).ok()?;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "dbus-daemon" {
            continue;
        }
        if std::fs::read_link(format!("/proc/{pid}/ns/pid"))
            .ok()
            .as_ref()
            == Some(&ns)
        {
            return Some(pid);
        }
    }
    None
}

pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("kill(2)");
}

/// Resumes a SIGSTOPped process even if the test panics.
pub struct ContOnDrop(pub u32);

impl Drop for ContOnDrop {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0 as i32),
            nix::sys::signal::Signal::SIGCONT,
        );
    }
}

/// The process's file descriptors and threads at one moment, to check nothing leaked since.
pub struct Baseline {
    fds: usize,
    threads: usize,
    fd_targets: Vec<String>,
    thread_names: Vec<String>,
}

impl Baseline {
    pub fn take() -> Baseline {
        Baseline {
            fds: fd_count(),
            threads: thread_count(),
            fd_targets: fd_targets(),
            thread_names: thread_names(),
        }
    }

    /// Back to the baseline's fds and threads (joined threads, ours and async-io's blocking
    /// pool, leave the task list a moment later, hence the wait), and no scope cgroup left.
    pub fn assert_nothing_leaked(&self, sb: &Sandbox) {
        assert!(
            eventually(Duration::from_secs(10), || fd_count() == self.fds
                && thread_count() == self.threads),
            "leaked: fds before {:?}, after {:?}; threads before {:?}, after {:?}",
            self.fd_targets,
            fd_targets(),
            self.thread_names,
            thread_names()
        );
        assert_eq!(
            scope_cgroups(sb),
            Vec::<PathBuf>::new(),
            "scope cgroups left"
        );
    }
}

/// Runs the ignored test `helper` of this test binary again, in a private mount namespace
/// whose /sys/fs/cgroup is a cgroup2 mount (the unified layout, on a host that may be hybrid),
/// and asserts that it passed and printed `ok_marker`. The helper checks for
/// `SDBUS_CGROUP_UNIFIED_HELPER` so that it runs only this way.
#[allow(dead_code)] // not every test binary that includes this module has such a helper
pub fn run_in_unified_namespace(helper: &str, ok_marker: &str) {
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        r#"set -e
        if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
            umount -l /sys/fs/cgroup
            mount -t cgroup2 cgroup2 /sys/fs/cgroup
        fi
        exec "$0" --exact {helper} --ignored --nocapture --test-threads=1"#
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .arg(&exe)
        .env("SDBUS_CGROUP_UNIFIED_HELPER", "1")
        .output()
        .expect("unshare(1) from util-linux");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(ok_marker),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The start of a helper run by [`run_in_unified_namespace`]: checks it was started that
/// way, boots a sandbox on the unified layout and connects a client that sees it as such.
#[allow(dead_code)] // not every test binary that includes this module has such a helper
pub fn unified_sandbox_and_client() -> (Sandbox, Client) {
    assert!(
        std::env::var_os("SDBUS_CGROUP_UNIFIED_HELPER").is_some(),
        "run by the outer test only"
    );
    let sb = boot();
    assert!(sb.cgroup_layout().is_unified(), "{:?}", sb.cgroup_layout());
    let c = client(&sb, options(&sb));
    assert_eq!(c.cgroup_mode(), sdbus_cgroup::CgroupMode::Unified);
    (sb, c)
}

/// A systemd property of `unit` that is a `t`, through the client; panics naming it.
pub fn u64_prop(c: &sdbus_cgroup::Client, unit: &str, name: &str) -> u64 {
    let v = c
        .cgroup_property(unit, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    u64::try_from(v).unwrap_or_else(|e| panic!("{name} is not a u64: {e}"))
}

/// A systemd property of `unit` that is an `a(st)` (device paths and numbers, e.g.
/// IOReadBandwidthMax), through the client; panics naming it.
pub fn pairs(c: &sdbus_cgroup::Client, unit: &str, name: &str) -> Vec<(String, u64)> {
    c.cgroup_property(unit, name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .try_into()
        .unwrap_or_else(|e| panic!("{name} is not a(st): {e}"))
}
