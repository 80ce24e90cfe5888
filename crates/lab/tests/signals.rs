//! `sdcookie-lab` stopped by a signal leaves the host as it found it: SIGTERM, SIGHUP and
//! SIGINT (to the process, and to its process group as Ctrl-C sends it) tear the sandbox
//! down as a normal exit does, and after SIGKILL the next sandbox removes the cgroup trees
//! the killed one left. "As found": no `sandbox-<pid>-…` cgroup of that run in any
//! hierarchy, no process in one, no mount point that was not there before. Needs root, as
//! the sandbox does; without it the run fails with the sandbox's reason.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

mod sdcookie_bin;

const LAB: &str = env!("CARGO_BIN_EXE_sdcookie-lab");
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Not timing assertions: guards so that a hang fails the test instead of CI.
const BOOT_PATIENCE: Duration = Duration::from_secs(120);
const EXIT_PATIENCE: Duration = Duration::from_secs(60);

/// A running `sdcookie-lab`, its stderr collected on a thread.
struct Lab {
    child: Child,
    stderr: thread::JoinHandle<String>,
}

impl Lab {
    /// Starts `sdcookie-lab ARGS` in its own process group (so a group signal reaches only
    /// it and what it runs).
    fn start(args: &[&str]) -> Lab {
        let mut child = Command::new(LAB)
            .args(args)
            .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {LAB}: {e}"));
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Lab { child, stderr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The cgroup name prefix of this run's sandboxes.
    fn prefix(&self) -> String {
        format!("sandbox-{}-", self.pid())
    }

    /// Waits until `ready` holds, failing with the run's stderr if the run ends first.
    fn wait_until(&mut self, what: &str, ready: impl Fn(&Lab) -> bool) {
        let deadline = Instant::now() + BOOT_PATIENCE;
        while !ready(self) {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "sdcookie-lab ended ({status}) before {what}: {}",
                    self.finish()
                );
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("no {what} after {BOOT_PATIENCE:?}: {}", self.finish());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the exit; a run that does not end is killed and fails the test.
    fn wait_exit(&mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + EXIT_PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, self.finish());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running {EXIT_PATIENCE:?} after the signal");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(&mut self) -> String {
        let _ = self.child.wait();
        let handle = std::mem::replace(&mut self.stderr, thread::spawn(String::new));
        handle.join().unwrap_or_default()
    }
}

/// Every cgroup directory on the host whose name starts with `prefix`, in every hierarchy
/// and at any depth (not looking inside them).
fn cgroups_named(prefix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, prefix: &str, found: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(prefix) {
                found.push(entry.path());
            } else if !name.starts_with("sandbox-") {
                walk(&entry.path(), prefix, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new(CGROUP_ROOT), prefix, &mut found);
    found
}

/// The host processes whose cgroup (in any hierarchy) has a component starting with `prefix`,
/// as "pid cmdline".
fn processes_in(prefix: &str) -> Vec<String> {
    let needle = format!("/{prefix}");
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(cgroup) = fs::read_to_string(entry.path().join("cgroup")) else {
            continue;
        };
        if cgroup.contains(&needle) {
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push(format!("{pid} {cmdline}"));
        }
    }
    found
}

/// The host's mount points, as this process sees them.
fn mount_points() -> BTreeSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read /proc/self/mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .collect()
}

/// `sleep 100` runs inside this run's sandbox.
fn sleeper_runs(lab: &Lab) -> bool {
    processes_in(&lab.prefix()).iter().any(|p| {
        p.split_once(' ')
            .is_some_and(|(_, cmd)| cmd.trim_end() == "sleep 100")
    })
}

/// Waits until the processes of a killed run are gone (the kernel kills PID 1 by its
/// parent-death signal and the rest with it).
fn wait_no_processes(prefix: &str) -> Vec<String> {
    let deadline = Instant::now() + EXIT_PATIENCE;
    loop {
        let left = processes_in(prefix);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// How the signal is sent.
#[derive(Debug, Clone, Copy)]
enum To {
    /// `kill PID`, as `timeout` and `systemctl stop`'s main-process kill do.
    Process,
    /// `kill -- -PGID`, as the terminal does on Ctrl-C or hang-up.
    Group,
}

fn assert_signal_leaves_host_as_found(signal: Signal, to: To) {
    let mounts_before = mount_points();
    let mut lab = Lab::start(&["sandbox", "--", "sleep", "100"]);
    let prefix = lab.prefix();
    lab.wait_until("`sleep 100` in the sandbox", sleeper_runs);
    assert!(
        !cgroups_named(&prefix).is_empty(),
        "the running sandbox has no {prefix}* cgroup: the check below would prove nothing"
    );
    let pid = Pid::from_raw(lab.pid() as i32);
    match to {
        To::Process => kill(pid, signal),
        To::Group => killpg(pid, signal),
    }
    .unwrap_or_else(|e| panic!("send {signal} to {to:?} {pid}: {e}"));
    let (status, stderr) = lab.wait_exit();
    assert_eq!(
        status.code(),
        Some(128 + signal as i32),
        "{signal} to the {to:?}: {status}; stderr:\n{stderr}"
    );
    assert_eq!(
        cgroups_named(&prefix),
        Vec::<PathBuf>::new(),
        "{signal} to the {to:?} left cgroups; stderr:\n{stderr}"
    );
    assert_eq!(
        processes_in(&prefix),
        Vec::<String>::new(),
        "{signal} to the {to:?} left processes; stderr:\n{stderr}"
    );
    let added: Vec<String> = mount_points().difference(&mounts_before).cloned().collect();
    assert_eq!(
        added,
        Vec::<String>::new(),
        "{signal} left mounts; stderr:\n{stderr}"
    );
}

#[test]
fn sigterm_tears_the_sandbox_down() {
    assert_signal_leaves_host_as_found(Signal::SIGTERM, To::Process);
}

#[test]
fn sighup_tears_the_sandbox_down() {
    assert_signal_leaves_host_as_found(Signal::SIGHUP, To::Process);
}

#[test]
fn sigint_to_the_process_tears_the_sandbox_down() {
    assert_signal_leaves_host_as_found(Signal::SIGINT, To::Process);
}

#[test]
fn sigint_to_the_process_group_tears_the_sandbox_down() {
    assert_signal_leaves_host_as_found(Signal::SIGINT, To::Group);
}

#[test]
fn sighup_to_the_process_group_tears_the_sandbox_down() {
    assert_signal_leaves_host_as_found(Signal::SIGHUP, To::Group);
}

#[test]
fn the_next_sandbox_removes_the_trees_of_a_sigkilled_one() {
    let mut lab = Lab::start(&["sandbox", "--", "sleep", "100"]);
    let prefix = lab.prefix();
    lab.wait_until("`sleep 100` in the sandbox", sleeper_runs);
    let trees = cgroups_named(&prefix);
    assert!(
        !trees.is_empty(),
        "the running sandbox has no {prefix}* cgroup"
    );
    kill(Pid::from_raw(lab.pid() as i32), Signal::SIGKILL).expect("SIGKILL sdcookie-lab");
    let (status, _) = lab.wait_exit();
    assert_eq!(status.code(), None, "{status}");
    assert_eq!(
        wait_no_processes(&prefix),
        Vec::<String>::new(),
        "processes outlived the SIGKILLed owner"
    );
    let next = Command::new(LAB)
        .args(["sandbox", "--", "true"])
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .expect("run sdcookie-lab sandbox -- true");
    assert!(
        next.status.success(),
        "the next sandbox: {}; stderr:\n{}",
        next.status,
        String::from_utf8_lossy(&next.stderr)
    );
    assert_eq!(
        cgroups_named(&prefix),
        Vec::<PathBuf>::new(),
        "the next sandbox left the trees of the SIGKILLed run (it had {trees:?})"
    );
}

#[test]
fn sigterm_during_demo_tears_its_sandbox_down() {
    sdcookie_bin::sdcookie(LAB);
    let mounts_before = mount_points();
    let mut lab = Lab::start(&["demo"]);
    let prefix = lab.prefix();
    // PID 1 (systemd) is in the sandbox's cgroups once it has booted.
    lab.wait_until("the demo's sandbox", |lab| {
        processes_in(&lab.prefix())
            .iter()
            .any(|p| p.contains("systemd"))
    });
    kill(Pid::from_raw(lab.pid() as i32), Signal::SIGTERM).expect("SIGTERM sdcookie-lab");
    let (status, stderr) = lab.wait_exit();
    assert_eq!(status.code(), Some(128 + 15), "{status}; stderr:\n{stderr}");
    assert_eq!(cgroups_named(&prefix), Vec::<PathBuf>::new(), "{stderr}");
    assert_eq!(processes_in(&prefix), Vec::<String>::new(), "{stderr}");
    let added: Vec<String> = mount_points().difference(&mounts_before).cloned().collect();
    assert_eq!(added, Vec::<String>::new(), "{stderr}");
}
