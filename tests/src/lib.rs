//! End-to-end tests that span several crates, C and real systemd: the helpers they share.
//!
//! The tests are in `tests/tests/`: `reproduce_v219.rs`, `reproduce_v241.rs` (one set of
//! checks, `reproduce/mod.rs`, per release) and `reproduce_faults.rs` drive the built
//! `sdcookie-lab reproduce` (built here with the same cargo and profile, since another
//! package's binary has no `CARGO_BIN_EXE_*`, beside the operator's `sdcookie` whose doctor
//! it runs) on the real PID 1s of `systemd-patch/build-pid1`; `deploy.rs` runs `deploy/` end to end (the shipped textfile
//! service in a sandboxed systemd, a real node_exporter and Prometheus on 127.0.0.1);
//! `deploy_hardening.rs` builds the sdcookie image and runs it with podman as the DaemonSet
//! does, and scores the textfile service with `systemd-analyze security`. What
//! they need and cannot find (root, gdb, a build) makes them fail with the reason, never
//! skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// The helpers this crate shares with the other crates' tests.
pub use sdbus_test_support::bins::{repo, sdcookie, sdcookie_lab};
pub use sdbus_test_support::pid1s::pid1s;
pub use sdbus_test_support::run::{run_with_deadline, show};

/// `sdcookie-lab reproduce --stock STOCK --patched PATCHED --lifecycles 1`, started with its
/// progress (stderr) piped for the test to follow and everything else closed.
pub fn spawn_reproduce(stock: &Path, patched: &Path) -> std::process::Child {
    Command::new(sdcookie_lab())
        .arg("reproduce")
        .arg("--stock")
        .arg(stock)
        .arg("--patched")
        .arg(patched)
        .arg("--lifecycles")
        .arg("1")
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sdcookie-lab reproduce")
}

/// The host's mount table, without the mount ids (which a remount would change too).
pub fn host_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("read /proc/self/mountinfo")
        .lines()
        .map(|l| l.split(' ').skip(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// Every cgroup directory on the host named `name` (a sandbox's is `sandbox-<id>`).
pub fn cgroups_named(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy() == name {
                out.push(e.path());
            }
            walk(&e.path(), name, out);
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), name, &mut out);
    out
}

/// A finished command: its status and both outputs.
#[derive(Debug)]
pub struct Output {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

/// Runs `exe args` to the end.
pub fn run(exe: &Path, args: &[&std::ffi::OsStr]) -> Output {
    let out = Command::new(exe)
        .args(args)
        .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", exe.display()));
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The sandbox a run named in `text` (its `sandbox-<id>`) left no cgroup behind.
pub fn assert_named_sandbox_gone(text: &str) {
    let sandbox = text
        .split_whitespace()
        .find(|w| w.starts_with("sandbox-"))
        .map(|w| w.trim_end_matches(','))
        .expect("the run names its sandbox");
    assert_eq!(
        cgroups_named(sandbox),
        Vec::<PathBuf>::new(),
        "{sandbox} left behind"
    );
}

/// `deploy/kubernetes/node-problem-detector-daemonset.yaml` as JSON, read by the PyYAML of
/// `build/venv-deploy` (kubernetes-validate's own dependency, `scripts/install-deps`), so
/// the tests run the containers with the command lines, users and mounts that ship.
pub fn daemonset() -> serde_json::Value {
    let python = repo().join("build/venv-deploy/bin/python");
    let manifest = repo().join("deploy/kubernetes/node-problem-detector-daemonset.yaml");
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {} (run scripts/install-deps): {e}",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "read {}: {}",
        manifest.display(),
        show(&out)
    );
    serde_json::from_slice(&out.stdout).expect("PyYAML's JSON")
}

/// The container `name` of the DaemonSet's pod (init containers included).
pub fn daemonset_container<'a>(ds: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let pod = &ds["spec"]["template"]["spec"];
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod[*k].as_array())
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("the DaemonSet has no container {name}"))
}

/// A JSON array of strings as a Vec (a container's command, a rule's args).
pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_owned()
        })
        .collect()
}
