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
use std::sync::Mutex;

/// The repository's root (this crate sits in `tests/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Builds `sdcookie`, the operator's binary, with the cargo and profile this test was
/// built with and returns the executable's path (cargo's own report of it,
/// `--message-format=json`); once per test binary.
pub fn sdcookie() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_binaries(&[("sdcookie", "sdcookie")]).remove(0))
        .clone()
}

/// Builds `sdcookie-lab` (sandbox, demo, reproduce) and, beside it, the `sdcookie` whose
/// doctor it runs; returns `sdcookie-lab`'s path. Once per test binary.
pub fn sdcookie_lab() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let built =
                build_binaries(&[("sdcookie-lab", "sdcookie-lab"), ("sdcookie", "sdcookie")]);
            assert_eq!(
                built[0].parent(),
                built[1].parent(),
                "sdcookie-lab runs the sdcookie in its own directory"
            );
            built[0].clone()
        })
        .clone()
}

/// Builds each (package, binary) in one cargo run; their paths in the same order.
fn build_binaries(wanted: &[(&str, &str)]) -> Vec<PathBuf> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo()).args(["build", "--locked"]);
    for (package, bin) in wanted {
        cmd.args(["-p", package, "--bin", bin]);
    }
    cmd.arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run cargo build");
    assert!(out.status.success(), "cargo build {wanted:?} failed");
    let artifacts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["reason"] == "compiler-artifact")
        .collect();
    wanted
        .iter()
        .map(|(_, bin)| {
            artifacts
                .iter()
                .filter(|v| v["target"]["name"] == *bin)
                .find_map(|v| v["executable"].as_str().map(PathBuf::from))
                .unwrap_or_else(|| panic!("cargo reported no {bin} executable"))
        })
        .collect()
}

/// The stock and the patched PID 1 of `release`: runs `systemd-patch/build-pid1 RELEASE`
/// (cached, so cheap on a rerun) and takes its last two lines, `stock: PATH` and
/// `patched: PATH`. Once per release and test binary: the tests of one binary run in
/// parallel, and two builds of the same release into one cache must not.
pub fn pid1s(release: &str) -> (PathBuf, PathBuf) {
    type Built = Vec<(String, (PathBuf, PathBuf))>;
    static BUILT: Mutex<Built> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, paths)) = built.iter().find(|(r, _)| r == release) {
        return paths.clone();
    }
    let paths = build_pid1s(release);
    built.push((release.to_owned(), paths.clone()));
    paths
}

fn build_pid1s(release: &str) -> (PathBuf, PathBuf) {
    let script = repo().join("systemd-patch/build-pid1");
    let out = Command::new(&script)
        .arg(release)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} {release} failed: {}",
        script.display(),
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let paths = match lines.as_slice() {
        [.., a, b] => a
            .strip_prefix("stock: ")
            .zip(b.strip_prefix("patched: "))
            .map(|(s, p)| (PathBuf::from(s), PathBuf::from(p))),
        _ => None,
    };
    let (stock, patched) = paths.unwrap_or_else(|| {
        panic!(
            "{} {release} did not end with 'stock: PATH' and 'patched: PATH': {lines:?}",
            script.display()
        )
    });
    for p in [&stock, &patched] {
        assert!(
            p.is_file(),
            "build-pid1 printed {}, which is no file",
            p.display()
        );
    }
    (stock, patched)
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

/// A child that is killed by its pid and reaped when dropped (a no-op once it exited).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `cmd` to completion and collects its output; running longer than `hang` fails the
/// test, after the process is killed by its pid (a deadline that turns a hang into a
/// failure, not a timing assertion).
pub fn run_with_deadline(cmd: &mut Command, hang: std::time::Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let reader = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            pipe.read_to_end(&mut buf).unwrap();
            buf
        })
    };
    let stdout = reader(Box::new(child.stdout.take().unwrap()));
    let stderr = reader(Box::new(child.stderr.take().unwrap()));
    let mut child = Killed(child);
    let deadline = std::time::Instant::now() + hang;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{cmd:?} hung");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub fn show(out: &std::process::Output) -> String {
    format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
