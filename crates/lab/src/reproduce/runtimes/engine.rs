//! The four runtimes of the post-mortem's chain, each driven as its users drive it, inside
//! the sandbox (so its systemd cgroup driver talks to the sandboxed PID 1 over the
//! sandbox's bus): runc and crun (`--systemd-cgroup`), containerd 1.6 with its runc shim
//! (`ctr run --runc-systemd-cgroup`), and dockerd (`native.cgroupdriver=systemd`).
//!
//! Everything they write lives on the sandbox's own `/run` tmpfs (bundle, state, the
//! daemons' roots, dockerd's `/etc/docker` under a tmpfs of the sandbox's mount namespace),
//! so the host is as before once the sandbox is gone. Every command is bounded: one that
//! outlives its patience gets SIGTERM by its pid, then SIGKILL.

use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sdbus_sandbox::{Sandbox, SandboxChild};
use serde::Serialize;

/// A runtime `reproduce` can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum RuntimeName {
    /// runc `--systemd-cgroup`.
    Runc,
    /// crun `--systemd-cgroup`.
    Crun,
    /// containerd with its runc shim, driven by `ctr run --runc-systemd-cgroup`.
    Containerd,
    /// dockerd with `native.cgroupdriver=systemd`, driven by `docker run`.
    Dockerd,
}

impl RuntimeName {
    /// Its name in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeName::Runc => "runc",
            RuntimeName::Crun => "crun",
            RuntimeName::Containerd => "containerd",
            RuntimeName::Dockerd => "dockerd",
        }
    }
}

/// Checks before anything boots that each runtime's programs are installed and of the
/// series this was measured with (Debian 12's: runc 1.1, crun 1.8, containerd 1.6, docker.io
/// 20.10): one line naming the runtime and what is wrong.
pub(super) fn preflight(runtimes: &[RuntimeName]) -> Result<(), (RuntimeName, String)> {
    for &rt in runtimes {
        let (programs, version_of, series): (&[&str], &str, &str) = match rt {
            RuntimeName::Runc => (&["runc"], "runc", "1."),
            RuntimeName::Crun => (&["crun"], "crun", "1."),
            RuntimeName::Containerd => (
                &["containerd", "ctr", "containerd-shim-runc-v2", "runc"],
                "containerd",
                "1.6.",
            ),
            RuntimeName::Dockerd => (
                &["dockerd", "docker", "containerd", "runc"],
                "dockerd",
                "20.10.",
            ),
        };
        for p in programs {
            if which(p).is_none() {
                return Err((
                    rt,
                    format!("{p} is not installed (scripts/install-deps installs it)"),
                ));
            }
        }
        let out = std::process::Command::new(version_of)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| (rt, format!("{version_of} --version: {e}")))?;
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        let version = parse_version(rt, &first);
        if !out.status.success() || !version.as_deref().is_some_and(|v| v.starts_with(series)) {
            return Err((
                rt,
                format!("{version_of} --version said {first:?}: expected version {series}x"),
            ));
        }
    }
    Ok(())
}

/// `name` if it is a path, else the first `name` in `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|p| p.is_file());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The version in the first line of `<runtime> --version`: "runc version 1.1.5+ds1",
/// "crun version 1.8.1", "containerd github.com/containerd/containerd 1.6.20~ds1 REV",
/// "Docker version 20.10.24+dfsg1, build 297e128".
fn parse_version(rt: RuntimeName, first: &str) -> Option<String> {
    let v = match rt {
        RuntimeName::Containerd => first.split_whitespace().nth(2),
        _ => first
            .split_whitespace()
            .skip_while(|w| *w != "version")
            .nth(1),
    };
    v.map(|v| v.trim_end_matches(',').to_owned())
}

/// Where the runtimes keep everything, inside the sandbox.
const DIR: &str = "/run/sdcookie-runtimes";
/// containerd's socket.
const CONTAINERD_SOCK: &str = "/run/sdcookie-runtimes/containerd/containerd.sock";
/// dockerd's socket.
const DOCKER_HOST: &str = "unix:///run/sdcookie-runtimes/docker/docker.sock";
/// The docker client of the docker.io package, by its path: `docker` in `PATH` may be
/// another release's client (this machine kind has Docker 28's in /usr/local/bin).
const DOCKER: &str = "/usr/bin/docker";
/// The image dockerd runs, imported from the bundle's rootfs.
const DOCKER_IMAGE: &str = "sdcookie-busybox:1";
/// How long a daemon may take to answer after it was started.
const DAEMON_PATIENCE: Duration = Duration::from_secs(60);
/// How long a process has after SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(5);
/// The memory limit every container asks for.
pub(super) const MEMORY: u64 = 64 << 20;
/// The pids limit every container asks for (where PID 1 takes `TasksMax`).
pub(super) const PIDS: u64 = 32;

/// How a bounded command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Another status, within its patience.
    Error,
    /// Still running at the end of its patience; ended by its pid.
    Blocked,
}

/// A bounded command's result.
#[derive(Debug, Clone)]
pub(super) struct Ran {
    pub(super) outcome: Outcome,
    pub(super) seconds: f64,
    pub(super) stdout: String,
    /// Its stderr's last line (or the status, when it printed nothing).
    pub(super) error: Option<String>,
    /// Blocked only: whether SIGTERM ended it within the grace period.
    pub(super) sigterm_was_enough: Option<bool>,
}

/// Runs a command inside the sandbox for at most `patience`.
pub(super) fn bounded(
    sandbox: &Sandbox,
    argv: &[String],
    patience: Duration,
) -> Result<Ran, String> {
    let child = start(sandbox, argv)?;
    Ok(finish(child, patience))
}

/// A command started inside the sandbox. Its output goes to files on the sandbox's `/run`,
/// not to pipes: `runc run --detach` hands its stdio to the container, which would hold a
/// pipe open for as long as it runs.
pub(super) struct Started {
    child: SandboxChild,
    t: Instant,
    out: PathBuf,
    err: PathBuf,
}

/// Counts commands, for their output files' names.
static COMMANDS: AtomicU64 = AtomicU64::new(0);

/// Starts `argv` inside the sandbox, stdin from /dev/null, output captured.
pub(super) fn start(sandbox: &Sandbox, argv: &[String]) -> Result<Started, String> {
    let (program, args) = argv.split_first().ok_or("an empty command")?;
    let dir = host_dir(sandbox).join("output");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let n = COMMANDS.fetch_add(1, Ordering::Relaxed);
    let (out, err) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
    let file = |p: &PathBuf| File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let child = sandbox
        .command(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&out)?)
        .stderr(file(&err)?)
        .spawn()
        .map_err(|e| format!("{program}: {}", sdcookie::exit::chain(&e)))?;
    Ok(Started {
        child,
        t: Instant::now(),
        out,
        err,
    })
}

impl Started {
    /// Whether it has ended.
    pub(super) fn done(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

/// Waits for `s` until `patience` from its start; then SIGTERM by its host pid and, after
/// [`TERM_GRACE`], SIGKILL.
pub(super) fn finish(mut s: Started, patience: Duration) -> Ran {
    let status = loop {
        match s.child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if s.t.elapsed() >= patience => break None,
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let seconds = s.t.elapsed().as_secs_f64();
    let mut sigterm_was_enough = None;
    if status.is_none() {
        let pid = Pid::from_raw(s.child.host_pid() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let t = Instant::now();
        let mut ended = false;
        while t.elapsed() < TERM_GRACE {
            if !matches!(s.child.try_wait(), Ok(None)) {
                ended = true;
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        if !ended {
            let _ = s.child.kill();
        }
        sigterm_was_enough = Some(ended);
    }
    let stdout = std::fs::read_to_string(&s.out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&s.err).unwrap_or_default();
    let _ = std::fs::remove_file(&s.out);
    let _ = std::fs::remove_file(&s.err);
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_owned);
    let (outcome, error) = match status {
        Some(st) if st.success() => (Outcome::Ok, None),
        Some(st) => (Outcome::Error, Some(last.unwrap_or_else(|| st.to_string()))),
        None => (Outcome::Blocked, last),
    };
    Ran {
        outcome,
        seconds,
        stdout,
        error,
        sigterm_was_enough,
    }
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// One runtime set up in one sandbox: its files written, its daemon (if any) answering.
pub(super) struct Engine<'a> {
    pub(super) name: RuntimeName,
    sandbox: &'a Sandbox,
    /// The daemon, ended with the sandbox (and by its pid when dropped).
    _daemon: Option<SandboxChild>,
    /// Whether containers ask for a pids limit.
    pub(super) pids: bool,
}

/// The sandbox's `/run/sdcookie-runtimes` as seen from the host.
fn host_dir(sandbox: &Sandbox) -> PathBuf {
    PathBuf::from(format!("/proc/{}/root{DIR}", sandbox.pid()))
}

/// The OCI config every container runs: busybox's `sleep 300`, read-only root, no
/// network namespace change needed, cgroupsPath `system.slice:<prefix>:<id>`.
fn oci_config(root: &str, cgroups_path: &str, pids: bool) -> serde_json::Value {
    let mut resources = serde_json::json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": MEMORY},
    });
    if pids {
        resources["pids"] = serde_json::json!({"limit": PIDS});
    }
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sleep", "300"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "root": {"path": root, "readonly": true},
        "hostname": "sdcookie",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": resources,
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ]
        }
    })
}

impl<'a> Engine<'a> {
    /// Writes the bundle (busybox from the host's busybox-static) and starts the daemon.
    pub(super) fn set_up(name: RuntimeName, sandbox: &'a Sandbox) -> Result<Engine<'a>, String> {
        let dir = host_dir(sandbox);
        let rootfs = dir.join("rootfs");
        for d in ["bin", "proc", "dev", "sys"] {
            std::fs::create_dir_all(rootfs.join(d))
                .map_err(|e| format!("{}: {e}", rootfs.join(d).display()))?;
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .map_err(|e| format!("/bin/busybox (busybox-static): {e}"))?;
        for applet in ["sh", "sleep", "cat"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
                .map_err(|e| format!("rootfs/bin/{applet}: {e}"))?;
        }
        let daemon = match name {
            RuntimeName::Runc | RuntimeName::Crun => None,
            RuntimeName::Containerd => Some(start_containerd(sandbox, &dir)?),
            RuntimeName::Dockerd => Some(start_dockerd(sandbox)?),
        };
        Ok(Engine {
            name,
            sandbox,
            _daemon: daemon,
            pids: true,
        })
    }

    /// `<runtime> --version`'s version.
    pub(super) fn version(&self) -> Result<String, String> {
        let cmd = match self.name {
            RuntimeName::Runc => argv(&["runc", "--version"]),
            RuntimeName::Crun => argv(&["crun", "--version"]),
            RuntimeName::Containerd => argv(&["containerd", "--version"]),
            RuntimeName::Dockerd => argv(&["dockerd", "--version"]),
        };
        let ran = bounded(self.sandbox, &cmd, Duration::from_secs(10))?;
        let first = ran.stdout.lines().next().unwrap_or("").to_owned();
        match (ran.outcome, parse_version(self.name, &first)) {
            (Outcome::Ok, Some(v)) => Ok(v),
            _ => Err(format!(
                "{} --version said {first:?} ({:?})",
                cmd[0], ran.error
            )),
        }
    }

    /// The scope a container `id` lands in (`<prefix>-<id>.scope`; dockerd's uses the full id).
    fn cgroups_path(&self, id: &str) -> String {
        let prefix = match self.name {
            RuntimeName::Runc => "runc",
            RuntimeName::Crun => "crun",
            RuntimeName::Containerd => "ctr",
            RuntimeName::Dockerd => "docker",
        };
        format!("system.slice:{prefix}:{id}")
    }

    /// The command that creates and starts container `id` (detached).
    pub(super) fn run_argv(&self, id: &str) -> Result<Vec<String>, String> {
        let dir = host_dir(self.sandbox);
        match self.name {
            RuntimeName::Runc | RuntimeName::Crun => {
                let bundle = dir.join("bundles").join(id);
                std::fs::create_dir_all(&bundle)
                    .map_err(|e| format!("{}: {e}", bundle.display()))?;
                let config =
                    oci_config(&format!("{DIR}/rootfs"), &self.cgroups_path(id), self.pids);
                std::fs::write(bundle.join("config.json"), config.to_string())
                    .map_err(|e| format!("{}: {e}", bundle.display()))?;
                let rt = self.name.as_str();
                Ok(argv(&[
                    rt,
                    "--systemd-cgroup",
                    "run",
                    "--detach",
                    "--bundle",
                    &format!("{DIR}/bundles/{id}"),
                    id,
                ]))
            }
            RuntimeName::Containerd => {
                let spec = format!("{DIR}/specs/{id}.json");
                std::fs::create_dir_all(dir.join("specs")).map_err(|e| e.to_string())?;
                let config =
                    oci_config(&format!("{DIR}/rootfs"), &self.cgroups_path(id), self.pids);
                std::fs::write(
                    dir.join("specs").join(format!("{id}.json")),
                    config.to_string(),
                )
                .map_err(|e| e.to_string())?;
                Ok(argv(&[
                    "ctr",
                    "--address",
                    CONTAINERD_SOCK,
                    "run",
                    "--detach",
                    "--null-io",
                    "--rootfs",
                    "--runc-systemd-cgroup",
                    "--cgroup",
                    &self.cgroups_path(id),
                    "--config",
                    &spec,
                    id,
                ]))
            }
            RuntimeName::Dockerd => {
                let mut v = argv(&[
                    DOCKER,
                    "--host",
                    DOCKER_HOST,
                    "run",
                    "--detach",
                    "--name",
                    id,
                    "--network",
                    "none",
                    "--memory",
                    &MEMORY.to_string(),
                ]);
                if self.pids {
                    v.extend(argv(&["--pids-limit", &PIDS.to_string()]));
                }
                v.extend(argv(&[DOCKER_IMAGE, "/bin/sleep", "300"]));
                Ok(v)
            }
        }
    }

    /// The container's first process, as a pid inside the sandbox.
    pub(super) fn pid(&self, id: &str, patience: Duration) -> Result<u32, String> {
        let cmd = match self.name {
            RuntimeName::Runc | RuntimeName::Crun => argv(&[self.name.as_str(), "state", id]),
            RuntimeName::Containerd => argv(&["ctr", "--address", CONTAINERD_SOCK, "task", "ls"]),
            RuntimeName::Dockerd => argv(&[
                "docker",
                "--host",
                DOCKER_HOST,
                "inspect",
                "--format",
                "{{.State.Pid}}",
                id,
            ]),
        };
        let ran = bounded(self.sandbox, &cmd, patience)?;
        if ran.outcome != Outcome::Ok {
            return Err(format!(
                "{}: {:?} {}",
                cmd.join(" "),
                ran.outcome,
                ran.error.unwrap_or_default()
            ));
        }
        let pid = match self.name {
            RuntimeName::Runc | RuntimeName::Crun => {
                serde_json::from_str::<serde_json::Value>(&ran.stdout)
                    .ok()
                    .and_then(|v| v["pid"].as_u64())
            }
            RuntimeName::Containerd => ran
                .stdout
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find(|w| w.first() == Some(&id))
                .and_then(|w| w.get(1)?.parse().ok()),
            RuntimeName::Dockerd => ran.stdout.trim().parse().ok(),
        };
        pid.and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("no pid for {id} in {:?}", ran.stdout.trim()))
    }

    /// Stops and removes container `id`.
    pub(super) fn delete(&self, id: &str, patience: Duration) -> Ran {
        let steps: Vec<Vec<String>> = match self.name {
            RuntimeName::Runc | RuntimeName::Crun => {
                vec![argv(&[self.name.as_str(), "delete", "--force", id])]
            }
            RuntimeName::Containerd => vec![
                argv(&[
                    "ctr",
                    "--address",
                    CONTAINERD_SOCK,
                    "task",
                    "rm",
                    "--force",
                    id,
                ]),
                argv(&["ctr", "--address", CONTAINERD_SOCK, "containers", "rm", id]),
            ],
            RuntimeName::Dockerd => vec![argv(&[
                "docker",
                "--host",
                DOCKER_HOST,
                "rm",
                "--force",
                id,
            ])],
        };
        let mut last = None;
        for cmd in steps {
            let ran = match bounded(self.sandbox, &cmd, patience) {
                Ok(r) => r,
                Err(e) => Ran {
                    outcome: Outcome::Error,
                    seconds: 0.0,
                    stdout: String::new(),
                    error: Some(e),
                    sigterm_was_enough: None,
                },
            };
            let failed = ran.outcome != Outcome::Ok;
            last = Some(ran);
            if failed {
                break;
            }
        }
        last.expect("every runtime deletes in at least one step")
    }

    /// The call a kubelet's PLEG makes (`ctr task ls`, `docker ps`); None for runc and crun.
    pub(super) fn list_argv(&self) -> Option<Vec<String>> {
        match self.name {
            RuntimeName::Containerd => {
                Some(argv(&["ctr", "--address", CONTAINERD_SOCK, "task", "ls"]))
            }
            RuntimeName::Dockerd => Some(argv(&[DOCKER, "--host", DOCKER_HOST, "ps"])),
            _ => None,
        }
    }
}

/// Starts containerd with its root and state on the sandbox's `/run`; waits until it answers.
fn start_containerd(sandbox: &Sandbox, dir: &std::path::Path) -> Result<SandboxChild, String> {
    let config = format!(
        "version = 2\nroot = \"{DIR}/containerd/root\"\nstate = \"{DIR}/containerd/state\"\n\
         [grpc]\n  address = \"{CONTAINERD_SOCK}\"\n\
         [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_tcp_service = true\n"
    );
    std::fs::create_dir_all(dir.join("containerd")).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("containerd/config.toml"), config).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("containerd/log")).map_err(|e| e.to_string())?;
    let daemon = sandbox
        .command("containerd")
        .args(["--config", &format!("{DIR}/containerd/config.toml")])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("containerd: {}", sdcookie::exit::chain(&e)))?;
    wait_answers(
        sandbox,
        &argv(&["ctr", "--address", CONTAINERD_SOCK, "version"]),
        &dir.join("containerd/log"),
    )?;
    Ok(daemon)
}

/// Starts dockerd (systemd cgroup driver, no iptables, no bridge, no IP forwarding, vfs
/// storage, its own containerd) with every directory on the sandbox's `/run` and
/// `/etc/docker` (where it writes its trust key) under a tmpfs of the sandbox's mount
/// namespace; imports the bundle's rootfs as an image (no registry).
fn start_dockerd(sandbox: &Sandbox) -> Result<SandboxChild, String> {
    let etc = bounded(
        sandbox,
        &argv(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "mode=0755,size=1m",
            "tmpfs",
            "/etc/docker",
        ]),
        Duration::from_secs(10),
    )?;
    if etc.outcome != Outcome::Ok {
        return Err(format!(
            "mount tmpfs on /etc/docker: {}",
            etc.error.unwrap_or_default()
        ));
    }
    let dir = host_dir(sandbox);
    std::fs::create_dir_all(dir.join("docker")).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("docker/log")).map_err(|e| e.to_string())?;
    let daemon = sandbox
        .command("dockerd")
        .args([
            "--exec-opt",
            "native.cgroupdriver=systemd",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            "--bridge=none",
            "--storage-driver=vfs",
            "--data-root",
            &format!("{DIR}/docker/data"),
            "--exec-root",
            &format!("{DIR}/docker/exec"),
            "--pidfile",
            &format!("{DIR}/docker/pid"),
            "--host",
            DOCKER_HOST,
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("dockerd: {}", sdcookie::exit::chain(&e)))?;
    wait_answers(
        sandbox,
        &argv(&[DOCKER, "--host", DOCKER_HOST, "version"]),
        &dir.join("docker/log"),
    )?;
    let tar = bounded(
        sandbox,
        &argv(&[
            "tar",
            "-C",
            &format!("{DIR}/rootfs"),
            "-cf",
            &format!("{DIR}/rootfs.tar"),
            ".",
        ]),
        Duration::from_secs(30),
    )?;
    let import = bounded(
        sandbox,
        &argv(&[
            "docker",
            "--host",
            DOCKER_HOST,
            "import",
            &format!("{DIR}/rootfs.tar"),
            DOCKER_IMAGE,
        ]),
        Duration::from_secs(60),
    )?;
    if tar.outcome != Outcome::Ok || import.outcome != Outcome::Ok {
        return Err(format!(
            "docker import of the busybox rootfs: {}",
            tar.error.or(import.error).unwrap_or_default()
        ));
    }
    Ok(daemon)
}

/// Polls `probe` until it succeeds; on timeout the daemon log's last line is the error.
fn wait_answers(sandbox: &Sandbox, probe: &[String], log: &std::path::Path) -> Result<(), String> {
    let t = Instant::now();
    loop {
        if bounded(sandbox, probe, Duration::from_secs(5))?.outcome == Outcome::Ok {
            return Ok(());
        }
        if t.elapsed() > DAEMON_PATIENCE {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(format!(
                "{} did not answer within {DAEMON_PATIENCE:?}; its log ends: {last}",
                probe[0]
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_each_runtimes_own_words() {
        assert_eq!(
            parse_version(RuntimeName::Runc, "runc version 1.1.5+ds1").as_deref(),
            Some("1.1.5+ds1")
        );
        assert_eq!(
            parse_version(RuntimeName::Crun, "crun version 1.8.1").as_deref(),
            Some("1.8.1")
        );
        assert_eq!(
            parse_version(
                RuntimeName::Containerd,
                "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
            )
            .as_deref(),
            Some("1.6.20~ds1")
        );
        assert_eq!(
            parse_version(
                RuntimeName::Dockerd,
                "Docker version 20.10.24+dfsg1, build 297e128"
            )
            .as_deref(),
            Some("20.10.24+dfsg1")
        );
        assert_eq!(parse_version(RuntimeName::Runc, "runc"), None);
        assert_eq!(parse_version(RuntimeName::Containerd, ""), None);
    }
}
