//! `deploy/`'s least-privilege claims on real components: the sdcookie image that
//! `deploy/image/build` makes with buildah, run by podman with the DaemonSet's three
//! command lines, users and mounts against a real systemd 252; and the shipped textfile
//! service scored by `systemd-analyze security` in that systemd. podman runs inside the
//! sandbox's namespaces, so the sandbox is the node: `--pid=host` is the manifest's
//! `hostPID`, and /run/dbus and /run/systemd are the sandbox's, mounted as the manifest
//! mounts the host's (a mount cannot be bound from another mount namespace, so podman
//! outside could not mount them).
//!
//! Invariants: the image gets a name of its own and is removed when the test ends (also
//! when it panics), as is every container; podman runs with no network; files go under
//! Cargo's scratch area and are removed. A missing component (buildah, podman, runc:
//! `scripts/install-deps`; root) fails the test with that reason.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sdbus_cookie_tests::{daemonset, daemonset_container, show, strings};
use sdbus_sandbox::{Sandbox, SandboxOptions};

/// Not a timing assertion: how long any step may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(180);

/// The highest exposure `systemd-analyze security` may give the shipped service (0 to 10;
/// it says "OK" around 3). The service's one privilege is uid 0, which systemd's private
/// socket requires; everything else a unit can take away is taken.
const MAX_EXPOSURE: f64 = 3.0;

#[test]
fn the_image_runs_the_daemonsets_containers_against_a_sandboxed_systemd_252() {
    require_root();
    for tool in ["buildah", "podman", "runc"] {
        assert!(
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "{tool} is missing: run scripts/install-deps"
        );
    }
    let ds = daemonset();
    let init = strings(&daemonset_container(&ds, "install-sdcookie")["command"]);
    let doctor_container = daemonset_container(&ds, "doctor");
    let doctor = strings(&doctor_container["command"]);
    let npd = daemonset_container(&ds, "node-problem-detector");
    let monitor: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(
            sdbus_cookie_tests::repo().join("deploy/node-problem-detector/sdcookie-monitor.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let rule = &monitor["rules"][0];

    let scratch = Scratch::new();
    let image = Image::build(&sdbus_cookie_tests::sdcookie());
    let size = podman(&["image", "inspect", "--format", "{{.Size}}", &image.name]);
    let labels = podman(&[
        "image",
        "inspect",
        "--format",
        "{{json .Labels}}",
        &image.name,
    ]);
    eprintln!(
        "image {}: {} bytes, labels {}",
        image.name,
        size.trim(),
        labels.trim()
    );
    assert!(
        labels.contains("libc6=") && labels.contains("coreutils="),
        "the image names the Debian packages its files came from: {labels}"
    );
    let sandbox = Sandbox::boot(SandboxOptions::default())
        .unwrap_or_else(|e| panic!("boot the sandbox: {e}"));

    // Nothing but sdcookie, cp and their libraries: no shell to run.
    let out = podman_run(
        &sandbox,
        &image,
        &["--entrypoint", "/bin/sh"],
        &["-c", "true"],
    );
    assert_eq!(
        out.status.code(),
        Some(127),
        "podman's status for a command not in the image: {}",
        show(&out)
    );

    // The init container: cp into an emptyDir (mode 0777, as the kubelet makes it).
    let bin = scratch.dir("sdcookie-bin");
    let mut args = user_of(daemonset_container(&ds, "install-sdcookie"));
    args.extend([
        "--volume".into(),
        format!("{}:/opt/sdcookie/bin", bin.display()),
    ]);
    args.extend(["--entrypoint".into(), init[0].clone()]);
    let out = podman_run(&sandbox, &image, &args, &init[1..]);
    assert!(out.status.success(), "install-sdcookie: {}", show(&out));
    let copied = bin.join("sdcookie");
    let out = Command::new(&copied).arg("--version").output().unwrap();
    assert!(
        out.status.success(),
        "the copied binary runs on Debian 12 (NPD's base): {}",
        show(&out)
    );

    // The doctor container with its shipped command, --every included: it must write the
    // report and keep running.
    let report = scratch.dir("report");
    let report_file = doctor[doctor.iter().position(|a| a == "--output").unwrap() + 1].clone();
    let mut doctor_opts = user_of(doctor_container);
    doctor_opts.push("--pid=host".into());
    doctor_opts.extend(host_paths(&ds, doctor_container));
    doctor_opts.extend([
        "--volume".into(),
        format!(
            "{}:{}",
            report.display(),
            Path::new(&report_file).parent().unwrap().display()
        ),
        "--entrypoint".into(),
        doctor[0].clone(),
    ]);
    let detached = [&["--detach".to_owned()][..], &doctor_opts].concat();
    let out = podman_run(&sandbox, &image, &detached, &doctor[1..]);
    assert!(out.status.success(), "start the doctor: {}", show(&out));
    let container = Container {
        id: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        sandbox: &sandbox,
    };
    let written = report.join(Path::new(&report_file).file_name().unwrap());
    let deadline = Instant::now() + HANG;
    while !written.exists() {
        assert!(
            Instant::now() < deadline,
            "the doctor wrote no report: {}",
            container.podman(&["logs"])
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let state = container.podman(&["inspect", "--format", "{{.State.Running}}"]);
    assert_eq!(state.trim(), "true", "--every keeps the doctor running");
    let line = fs::read_to_string(&written).unwrap();
    eprintln!("doctor container's report: {}", line.trim_end());
    assert!(
        line.starts_with("ok: systemd 252 has the cookie-overflow fix"),
        "verdict: {line}"
    );
    drop(container);

    // NPD's plugin as NPD's user, the report read-only (NPD's own image is not here:
    // the relay is the same binary, copied by the init container above).
    let mut relay_opts = user_of(npd);
    relay_opts.extend([
        "--volume".into(),
        format!("{}:/opt/sdcookie/bin:ro", bin.display()),
        "--volume".into(),
        format!(
            "{}:{}:ro",
            report.display(),
            Path::new(&report_file).parent().unwrap().display()
        ),
        "--entrypoint".into(),
        rule["path"].as_str().unwrap().to_owned(),
    ]);
    let relay = strings(&rule["args"]);
    let out = podman_run(&sandbox, &image, &relay_opts, &relay);
    eprintln!("relay: {}", show(&out));
    assert_eq!(out.status.code(), Some(0), "relay: {}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), line);

    // The node's bus goes away: the doctor container (one run: its command without
    // `--every DUR`) says critical and exits 1, and so does the relay after it.
    let mut cmd = sandbox.command("systemctl");
    cmd.args(["stop", "dbus.socket", "dbus.service"]);
    let out = sdbus_cookie_tests::run_with_deadline(cmd.as_std_mut(), HANG);
    assert!(out.status.success(), "stop the bus: {}", show(&out));
    let every = doctor.iter().position(|a| a == "--every").unwrap();
    let once = [&doctor[1..every], &doctor[every + 2..]].concat();
    let out = podman_run(&sandbox, &image, &doctor_opts, &once);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the doctor without a bus: {}",
        show(&out)
    );
    let line = fs::read_to_string(&written).unwrap();
    eprintln!(
        "doctor container's report, bus stopped: {}",
        line.trim_end()
    );
    assert!(line.starts_with("critical: "), "verdict: {line}");
    let out = podman_run(&sandbox, &image, &relay_opts, &relay);
    assert_eq!(out.status.code(), Some(1), "relay: {}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), line);

    sandbox
        .shutdown()
        .unwrap_or_else(|e| panic!("sandbox teardown: {e}"));
}

#[test]
fn the_textfile_service_scores_at_most_3_in_systemd_analyze_security() {
    require_root();
    let unit = fs::read_to_string(
        sdbus_cookie_tests::repo().join("deploy/systemd/sdcookie-textfile.service"),
    )
    .unwrap();
    let sandbox = Sandbox::boot(SandboxOptions::default().unit("sdcookie-textfile.service", unit))
        .unwrap_or_else(|e| panic!("boot the sandbox: {e}"));
    let mut cmd = sandbox.command("systemd-analyze");
    cmd.args(["security", "--no-pager", "sdcookie-textfile.service"]);
    let out = sdbus_cookie_tests::run_with_deadline(cmd.as_std_mut(), HANG);
    let text = String::from_utf8_lossy(&out.stdout);
    let overall = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for sdcookie-textfile.service: "))
        .map(|(_, rest)| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("systemd-analyze security: {}", show(&out)));
    eprintln!(
        "systemd-analyze security sdcookie-textfile.service ({}): {overall}",
        sandbox.systemd_version()
    );
    let score: f64 = overall
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a score: {overall}"));
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {overall} above {MAX_EXPOSURE}:\n{text}"
    );
    sandbox
        .shutdown()
        .unwrap_or_else(|e| panic!("sandbox teardown: {e}"));
}

fn require_root() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "needs root (the sandbox boots systemd in new namespaces; podman runs rootful)"
    );
}

/// `--user UID:GID`, `--read-only`, no capabilities, no privilege escalation: a
/// container's securityContext as podman flags. The manifest states each of these for
/// every container; a missing field fails here.
fn user_of(container: &serde_json::Value) -> Vec<String> {
    let sc = &container["securityContext"];
    let id = |k: &str| {
        sc[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no {k}", container["name"]))
    };
    assert_eq!(sc["readOnlyRootFilesystem"], true, "{}", container["name"]);
    assert_eq!(
        sc["allowPrivilegeEscalation"], false,
        "{}",
        container["name"]
    );
    assert_eq!(
        sc["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{}",
        container["name"]
    );
    vec![
        format!("--user={}:{}", id("runAsUser"), id("runAsGroup")),
        "--read-only".into(),
        "--cap-drop=ALL".into(),
        "--security-opt=no-new-privileges".into(),
    ]
}

/// podman with this machine's quirks named: runc, since crun refuses a host whose cgroups
/// are mounted in hybrid mode (v1 controllers beside a v2 hierarchy that has some:
/// "cgroups in hybrid mode not supported"), which runc runs on as it runs on the others;
/// and small resource limits (in [`podman_run`]), since podman's defaults (1048576 open
/// files, 4194304 processes) can be above the hard limits of a container host, which the
/// runtime may not raise; the doctor needs a few descriptors and threads.
fn podman_globals(cmd: &mut Command) -> &mut Command {
    // cgroupfs: inside the sandbox podman would otherwise ask its systemd for a scope.
    cmd.args(["--runtime=runc", "--cgroup-manager=cgroupfs"])
}

fn podman_command() -> Command {
    let mut cmd = Command::new("podman");
    podman_globals(&mut cmd);
    cmd
}

fn podman(args: &[&str]) -> String {
    let out = sdbus_cookie_tests::run_with_deadline(podman_command().args(args), HANG);
    assert!(out.status.success(), "podman {args:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `podman run` inside the sandbox (removed at exit unless detached): its containers'
/// cgroups (podman's `libpod_parent`, conmon's) are made in the sandbox's cgroup subtree,
/// which goes with the sandbox, so the host keeps none.
fn podman_run(
    sandbox: &Sandbox,
    image: &Image,
    opts: &[impl AsRef<str>],
    args: &[impl AsRef<str>],
) -> Output {
    let mut cmd = sandbox.command("podman");
    podman_run_with(cmd.as_std_mut(), image, opts, args)
}

fn podman_run_with(
    cmd: &mut Command,
    image: &Image,
    opts: &[impl AsRef<str>],
    args: &[impl AsRef<str>],
) -> Output {
    podman_globals(cmd).args([
        "run",
        "--network=none",
        "--ulimit=nofile=1024:1024",
        "--ulimit=nproc=4096:4096",
    ]);
    if !opts.iter().any(|o| o.as_ref() == "--detach") {
        cmd.arg("--rm");
    }
    cmd.args(opts.iter().map(AsRef::as_ref))
        .arg(&image.name)
        .args(args.iter().map(AsRef::as_ref));
    sdbus_cookie_tests::run_with_deadline(cmd, HANG)
}

/// The container's hostPath mounts as podman volumes, read-only where the manifest says.
fn host_paths(ds: &serde_json::Value, container: &serde_json::Value) -> Vec<String> {
    let volumes = ds["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let mut args = Vec::new();
    for mount in container["volumeMounts"].as_array().unwrap() {
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]).unwrap();
        let Some(host) = volume["hostPath"]["path"].as_str() else {
            continue;
        };
        let ro = if mount["readOnly"] == true { ":ro" } else { "" };
        args.push("--volume".to_owned());
        args.push(format!(
            "{host}:{}{ro}",
            mount["mountPath"].as_str().unwrap()
        ));
    }
    assert_eq!(
        args.len(),
        4,
        "the doctor mounts /run/dbus and /run/systemd: {args:?}"
    );
    args
}

/// The image `deploy/image/build` makes from `binary`, removed on drop.
struct Image {
    name: String,
}

impl Image {
    fn build(binary: &Path) -> Image {
        let image = Image {
            name: format!("localhost/sdcookie-e2e-{}:test", std::process::id()),
        };
        let script = sdbus_cookie_tests::repo().join("deploy/image/build");
        let out = sdbus_cookie_tests::run_with_deadline(
            Command::new(&script).arg(binary).arg(&image.name),
            HANG,
        );
        assert!(out.status.success(), "{}: {}", script.display(), show(&out));
        image
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let out = podman_command()
            .args(["rmi", "--force", &self.name])
            .output();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("remove image {}: {out:?}", self.name);
        }
    }
}

/// A detached container podman started inside `sandbox`, removed (killed first) on drop,
/// before the sandbox goes.
struct Container<'a> {
    id: String,
    sandbox: &'a Sandbox,
}

impl Container<'_> {
    /// `podman ARGS ID` inside the sandbox; its stdout, or the reason it failed.
    fn podman(&self, args: &[&str]) -> String {
        let mut cmd = self.sandbox.command("podman");
        podman_globals(cmd.as_std_mut()).args(args).arg(&self.id);
        let out = sdbus_cookie_tests::run_with_deadline(cmd.as_std_mut(), HANG);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            if out.status.success() {
                String::new()
            } else {
                show(&out)
            }
        )
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let mut cmd = self.sandbox.command("podman");
        podman_globals(cmd.as_std_mut()).args(["rm", "--force", "--time", "0", &self.id]);
        let out = cmd.as_std_mut().output();
        if !out.as_ref().is_ok_and(|o| o.status.success()) {
            eprintln!("remove container {}: {out:?}", self.id);
        }
    }
}

/// A directory of this test's own under Cargo's scratch area, removed on drop.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("deploy-hardening-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }

    /// A subdirectory anyone may write, like an emptyDir.
    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.path.join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("remove {}: {e}", self.path.display());
        }
    }
}
