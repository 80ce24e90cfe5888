//! The sandbox on the real thing: boot systemd, talk to it, run scopes in it, and check
//! that the host is left exactly as it was. Needs root (CI runs as root); every test
//! fails loudly, with the reason, when the sandbox cannot boot.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use std::time::Duration;

use sdbus_sandbox::{BootStage, CgroupLayout, Error, Sandbox, SandboxOptions};
use zbus::zvariant::{OwnedObjectPath, Value};

fn boot(options: SandboxOptions) -> Sandbox {
    Sandbox::boot(options).unwrap_or_else(|e| panic!("the sandbox must boot here: {e}"))
}

#[test]
fn boot_answers_version_over_the_sandbox_bus() {
    let sandbox = boot(SandboxOptions::default());
    let bus = connect(&sandbox);
    let version = get_string(&bus, "/org/freedesktop/systemd1", MANAGER, "Version");
    assert!(!version.is_empty());
    assert_eq!(version, sandbox.systemd_version());
    assert_eq!(
        sandbox.bus_address(),
        format!(
            "unix:path=/proc/{}/root/run/dbus/system_bus_socket",
            sandbox.pid()
        )
    );
    assert!(
        sandbox.private_socket().exists(),
        "systemd's private socket {:?}",
        sandbox.private_socket()
    );
    // systemd runs as PID 1 of its own namespace, in the container mode we told it about.
    let status = std::fs::read_to_string(format!("/proc/{}/status", sandbox.pid())).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("NSpid:") && l.ends_with("\t1")),
        "{status}"
    );
    // systemd knows it runs in a container (of a kind it has no name for).
    assert_eq!(
        get_string(&bus, "/org/freedesktop/systemd1", MANAGER, "Virtualization"),
        "container-other"
    );
    sandbox.shutdown().expect("clean teardown");
}

#[test]
fn spawned_process_sees_the_sandbox_as_a_booted_machine() {
    let sandbox = boot(SandboxOptions::default());
    let out = sandbox
        .command("sh")
        .args([
            "-c",
            "cat /proc/1/comm; test -S /run/dbus/system_bus_socket && echo bus; \
             test -S /run/systemd/private && echo private; grep -c cgroup /proc/self/mountinfo >/dev/null && echo cg; \
             grep '^0::' /proc/self/cgroup",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(&lines[..4], ["systemd", "bus", "private", "cg"], "{stdout}");
    // Inside, its cgroup is PID 1's, relative to the sandbox's cgroup namespace (the v2
    // line, present in both hybrid and unified layouts).
    assert_eq!(lines[4..], ["0::/init.scope"], "{stdout}");

    let child = sandbox.command("sleep").arg("600").spawn().unwrap();
    assert!(
        child.pid() > 1 && child.pid() != child.host_pid(),
        "ns pid {} host pid {}",
        child.pid(),
        child.host_pid()
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.host_pid())).unwrap();
    assert!(status.contains(&format!("\t{}\n", child.pid())), "{status}");
}

#[test]
fn transient_scope_limits_are_written_to_the_host_cgroup_files() {
    let sandbox = boot(SandboxOptions::default());
    let bus = connect(&sandbox);
    let child = sandbox.command("sleep").arg("600").spawn().unwrap();
    let unified = sandbox.cgroup_layout() == CgroupLayout::Unified;
    let memory_property = if unified { "MemoryMax" } else { "MemoryLimit" };
    let cg = start_scope(
        &bus,
        "limits-test.scope",
        child.pid(),
        vec![
            (memory_property, Value::U64(64 << 20)),
            ("TasksMax", Value::U64(42)),
        ],
    );
    assert_eq!(cg, "/system.slice/limits-test.scope");
    let memory_file = if unified {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(
        sandbox.read_cgroup_file(&cg, memory_file).unwrap(),
        (64u64 << 20).to_string()
    );
    assert_eq!(sandbox.read_cgroup_file(&cg, "pids.max").unwrap(), "42");
    // The limit file really is the host's, below the sandbox's subtree.
    let path = sandbox.cgroup_file(&cg, "pids.max").unwrap();
    assert!(path.starts_with("/sys/fs/cgroup/"), "{path:?}");
    assert!(path.to_string_lossy().contains(&format!(
        "/sandbox-{}/system.slice/limits-test.scope/",
        sandbox.id()
    )));
    // And the process was moved there, as seen from the host.
    let procs = sandbox.read_cgroup_file(&cg, "cgroup.procs").unwrap();
    assert!(
        procs
            .split_whitespace()
            .any(|p| p == child.host_pid().to_string()),
        "{procs}"
    );
}

/// One entry of `Manager.ListUnits` (`a(ssssssouso)`).
type ListedUnit = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

#[test]
fn two_sandboxes_at_once_each_see_only_their_own_units() {
    let unit = |name: &str| {
        format!("[Unit]\nDescription={name}\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n")
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| boot(SandboxOptions::default().unit("only-in-a.service", unit("a"))));
        let b = s.spawn(|| boot(SandboxOptions::default().unit("only-in-b.service", unit("b"))));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.pid(), b.pid());
    assert_ne!(a.id(), b.id());
    let (bus_a, bus_b) = (connect(&a), connect(&b));
    let load_state = |bus, name| {
        get_string(
            bus,
            &load_unit(bus, name),
            "org.freedesktop.systemd1.Unit",
            "LoadState",
        )
    };
    assert_eq!(load_state(&bus_a, "only-in-a.service"), "loaded");
    assert_eq!(load_state(&bus_a, "only-in-b.service"), "not-found");
    assert_eq!(load_state(&bus_b, "only-in-b.service"), "loaded");
    assert_eq!(load_state(&bus_b, "only-in-a.service"), "not-found");

    // A unit started in A exists in A only; its cgroup is below A's subtree only.
    manager_call(&bus_a, "StartUnit", &("only-in-a.service", "fail")).unwrap();
    let sleeper = a.command("sleep").arg("600").spawn().unwrap();
    let cg = start_scope(&bus_a, "in-a.scope", sleeper.pid(), Vec::new());
    let names = |bus| -> Vec<String> {
        let reply = manager_call(bus, "ListUnits", &()).unwrap();
        let units: Vec<ListedUnit> = reply.body().deserialize().unwrap();
        units.into_iter().map(|u| u.0).collect()
    };
    assert!(names(&bus_a).contains(&"in-a.scope".to_string()));
    assert!(!names(&bus_b).contains(&"in-a.scope".to_string()));
    assert!(!names(&bus_b).contains(&"only-in-a.service".to_string()));
    assert!(a.cgroup_file(&cg, "cgroup.procs").is_ok());
    assert!(b.cgroup_file(&cg, "cgroup.procs").is_err());
    // Each sees its own PID 1 and its own processes only.
    let ps = |s: &Sandbox| {
        String::from_utf8(
            s.command("sh")
                .args(["-c", "ls /proc | grep -c '^[0-9]'"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    };
    let in_b: u32 = ps(&b).trim().parse().unwrap();
    assert!(in_b < 10, "b sees {in_b} processes");
    drop(sleeper);
    a.shutdown().unwrap();
    b.shutdown().unwrap();
}

#[test]
fn teardown_leaves_the_host_as_before() {
    let before = HostSnapshot::take();
    let sandbox = boot(SandboxOptions::default());
    let id = sandbox.id().to_owned();
    let bus = connect(&sandbox);
    let child = sandbox.command("sleep").arg("600").spawn().unwrap();
    start_scope(
        &bus,
        "teardown-test.scope",
        child.pid(),
        vec![("TasksMax", Value::U64(7))],
    );
    let pids = sandbox_pids(&sandbox);
    assert!(
        pids.contains(&sandbox.pid()) && pids.contains(&child.host_pid()),
        "{pids:?}"
    );
    assert!(
        pids.len() >= 3,
        "systemd, dbus-daemon and sleep at least: {pids:?}"
    );
    assert!(!cgroups_named(&format!("sandbox-{id}")).is_empty());
    drop(bus);
    sandbox.shutdown().expect("clean teardown");
    for pid in &pids {
        assert!(!alive(*pid), "process {pid} of the sandbox is still alive");
    }
    assert_eq!(
        cgroups_named(&format!("sandbox-{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    before.assert_unchanged();
    drop(child);
}

/// Run by `teardown_happens_when_a_test_panics` in a child process; does nothing otherwise.
#[test]
#[ignore = "helper: run by teardown_happens_when_a_test_panics"]
fn helper_boots_then_panics() {
    if std::env::var_os("SDBUS_SANDBOX_PANIC_HELPER").is_none() {
        return;
    }
    let sandbox = boot(SandboxOptions::default());
    let bus = connect(&sandbox);
    let child = sandbox.command("sleep").arg("600").spawn().unwrap();
    start_scope(&bus, "doomed.scope", child.pid(), Vec::new());
    let pids: Vec<String> = sandbox_pids(&sandbox).iter().map(u32::to_string).collect();
    println!("SANDBOX {} {}", sandbox.id(), pids.join(" "));
    panic!("deliberate panic with a sandbox running");
}

#[test]
fn teardown_happens_when_a_test_panics() {
    let before = HostSnapshot::take();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_boots_then_panics",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SDBUS_SANDBOX_PANIC_HELPER", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the helper must fail by panicking: {stderr}"
    );
    assert!(stderr.contains("deliberate panic"), "{stderr}");
    let line = BufReader::new(&out.stdout[..])
        .lines()
        .map_while(Result::ok)
        // The harness prints "test <name> ... " before the test's own output on that line.
        .find_map(|l| l.split_once("SANDBOX ").map(|(_, rest)| rest.to_owned()))
        .unwrap_or_else(|| {
            panic!(
                "the helper did not report its sandbox: {}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
    let mut fields = line.split_whitespace();
    let id = fields.next().unwrap().to_owned();
    let pids: Vec<u32> = fields.map(|p| p.parse().unwrap()).collect();
    assert!(pids.len() >= 3, "{line}");
    for pid in &pids {
        assert!(
            !alive(*pid),
            "process {pid} of the panicked test's sandbox is still alive"
        );
    }
    assert_eq!(
        cgroups_named(&format!("sandbox-{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    before.assert_unchanged();
}

/// Run by `not_root_is_a_typed_error_before_anything_changes` as uid 65534.
#[test]
#[ignore = "helper: run by not_root_is_a_typed_error_before_anything_changes"]
fn helper_boots_as_nobody() {
    if std::env::var_os("SDBUS_SANDBOX_NOBODY_HELPER").is_none() {
        return;
    }
    match Sandbox::boot(SandboxOptions::default()) {
        Err(Error::NotRoot { euid: 65534 }) => println!("NOT ROOT OK"),
        other => panic!("expected NotRoot, got {other:?}"),
    }
}

#[test]
fn not_root_is_a_typed_error_before_anything_changes() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // The build tree may be closed to nobody (CI checks out under /root), so run a copy
    // of this test binary from a directory nobody can enter.
    let dir = std::env::temp_dir().join(format!("sdbus-sandbox-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.join("test-binary");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&exe)
        .args([
            "--exact",
            "helper_boots_as_nobody",
            "--ignored",
            "--nocapture",
        ])
        .env("SDBUS_SANDBOX_NOBODY_HELPER", "1")
        .current_dir("/")
        .uid(65534)
        .gid(65534)
        .output();
    std::fs::remove_dir_all(&dir).unwrap();
    let out = out.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("NOT ROOT OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bus_that_never_comes_up_is_a_timeout_naming_the_bus_socket() {
    // default.target no longer pulls in dbus.socket: systemd boots, the bus never appears.
    let options = SandboxOptions::default()
        .unit("default.target", "[Unit]\nDescription=nothing\n")
        .boot_timeout(Duration::from_secs(2));
    match Sandbox::boot(options) {
        Err(Error::BootTimeout {
            stage: BootStage::BusSocket,
            log,
            ..
        }) => {
            assert!(
                log.contains("systemd"),
                "PID 1's console log is reported: {log}"
            )
        }
        other => panic!("expected a timeout at the bus socket, got {other:?}"),
    }
}

#[test]
fn a_dbus_daemon_that_never_answers_is_a_timeout_naming_dbus_daemon() {
    let options = SandboxOptions::default()
        .unit(
            "dbus.service",
            "[Unit]\nDefaultDependencies=no\nRequires=dbus.socket\n[Service]\nExecStart=/bin/sleep infinity\n",
        )
        .boot_timeout(Duration::from_secs(2));
    match Sandbox::boot(options) {
        Err(
            e @ Error::BootTimeout {
                stage: BootStage::DbusDaemon,
                ..
            },
        ) => {
            assert!(e.to_string().contains("dbus-daemon"), "{e}")
        }
        other => panic!("expected a timeout at dbus-daemon, got {other:?}"),
    }
}

#[test]
fn a_pid1_that_exits_is_reported_with_its_status() {
    match Sandbox::boot(SandboxOptions::default().systemd("/bin/false")) {
        Err(Error::Pid1Exited { status, .. }) => assert_eq!(status, "exit status 1"),
        other => panic!("expected Pid1Exited, got {other:?}"),
    }
}

/// Run by `killing_the_owner_with_sigkill_kills_the_sandbox` in a child process.
#[test]
#[ignore = "helper: run by killing_the_owner_with_sigkill_kills_the_sandbox"]
fn helper_boots_then_waits_to_be_killed() {
    if std::env::var_os("SDBUS_SANDBOX_KILL_HELPER").is_none() {
        return;
    }
    // Booted from a short-lived thread: the sandbox must outlive it, and die with the process.
    let sandbox = std::thread::spawn(|| boot(SandboxOptions::default()))
        .join()
        .unwrap();
    // Not our stdout/stderr: a survivor holding them would keep `cargo test` waiting.
    let child = sandbox
        .command("sleep")
        .arg("600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        alive(sandbox.pid()),
        "the sandbox died with the thread that booted it"
    );
    let pids: Vec<String> = sandbox_pids(&sandbox).iter().map(u32::to_string).collect();
    println!("SANDBOX {} {}", sandbox.id(), pids.join(" "));
    std::thread::sleep(Duration::from_secs(600));
    drop(child);
}

#[test]
fn killing_the_owner_with_sigkill_kills_the_sandbox() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_boots_then_waits_to_be_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("SDBUS_SANDBOX_KILL_HELPER", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("SANDBOX ").map(|(_, rest)| rest.to_owned()));
    helper.kill().unwrap();
    helper.wait().unwrap();
    let line = line.expect("the helper reports its sandbox");
    let mut fields = line.split_whitespace();
    let id = fields.next().unwrap().to_owned();
    let pids: Vec<u32> = fields.map(|p| p.parse().unwrap()).collect();
    assert!(pids.len() >= 3, "{line}");
    // The kernel delivers the parent-death signal as the owner exits; wait for the kills
    // to complete (no timing claim: the bound only keeps a failure from hanging).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|p| alive(*p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let survivors: Vec<&u32> = pids.iter().filter(|p| alive(**p)).collect();
    // No destructor ran, so the (empty) cgroups are still there; removing them proves
    // they hold no process. Removing them also keeps this test from leaving anything.
    let leftovers = cgroups_named(&format!("sandbox-{id}"));
    let removed = remove_cgroup_trees(&leftovers);
    assert!(
        survivors.is_empty(),
        "sandbox processes survived their owner's SIGKILL: {survivors:?}"
    );
    assert!(
        !leftovers.is_empty(),
        "no destructor ran, so the subtree should still exist"
    );
    removed.expect("the sandbox's cgroups are empty");
}

/// Run by `unified_layout_boots_where_only_cgroup2_is_mounted`, in a mount namespace where
/// `/sys/fs/cgroup` is a cgroup2 mount, i.e. as on a pure cgroup v2 host.
#[test]
#[ignore = "helper: run by unified_layout_boots_where_only_cgroup2_is_mounted"]
fn helper_boots_on_cgroup2_only() {
    if std::env::var_os("SDBUS_SANDBOX_UNIFIED_HELPER").is_none() {
        return;
    }
    let sandbox = boot(SandboxOptions::default());
    assert_eq!(sandbox.cgroup_layout(), CgroupLayout::Unified);
    assert_eq!(sandbox.cgroups().len(), 1);
    let bus = connect(&sandbox);
    let child = sandbox.command("sleep").arg("600").spawn().unwrap();
    let cg = start_scope(&bus, "unified.scope", child.pid(), Vec::new());
    let procs = sandbox.read_cgroup_file(&cg, "cgroup.procs").unwrap();
    assert!(
        procs
            .split_whitespace()
            .any(|p| p == child.host_pid().to_string()),
        "{procs}"
    );
    let id = sandbox.id().to_owned();
    let pids = sandbox_pids(&sandbox);
    drop(bus);
    sandbox.shutdown().unwrap();
    assert!(pids.iter().all(|p| !alive(*p)), "{pids:?}");
    assert_eq!(
        cgroups_named(&format!("sandbox-{id}")),
        Vec::<std::path::PathBuf>::new()
    );
    drop(child);
    println!("UNIFIED OK");
}

#[test]
fn unified_layout_boots_where_only_cgroup2_is_mounted() {
    let before = HostSnapshot::take();
    let exe = std::env::current_exe().unwrap();
    // A private mount namespace (unshare(1)) whose /sys/fs/cgroup is replaced by a cgroup2
    // mount; the host's mounts are not touched.
    let script = r#"set -e
        if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
            umount -l /sys/fs/cgroup
            mount -t cgroup2 cgroup2 /sys/fs/cgroup
        fi
        exec "$0" --exact helper_boots_on_cgroup2_only --ignored --nocapture"#;
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(&exe)
        .env("SDBUS_SANDBOX_UNIFIED_HELPER", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("UNIFIED OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    before.assert_unchanged();
}

#[test]
fn a_command_that_ends_at_once_is_spawned_and_gives_its_status() {
    let sandbox = boot(SandboxOptions::default());
    // Short enough that nsenter often exits before its child can be seen, or that the
    // child is gone between finding it and reading its status.
    for _ in 0..200 {
        let mut ok = sandbox.command("true").spawn().unwrap();
        assert!(ok.wait().unwrap().success());
        let mut bad = sandbox.command("false").spawn().unwrap();
        assert_eq!(bad.wait().unwrap().code(), Some(1));
    }
}
