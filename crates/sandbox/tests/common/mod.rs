//! Helpers shared by the integration tests: a few systemd Manager calls over zbus, and
//! snapshots of the host state that teardown must restore.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use sdbus_sandbox::Sandbox;
use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

pub const MANAGER: &str = "org.freedesktop.systemd1.Manager";

pub fn connect(sandbox: &Sandbox) -> Connection {
    zbus::blocking::connection::Builder::address(sandbox.bus_address().as_str())
        .expect("bus address parses")
        .method_timeout(Duration::from_secs(10))
        .build()
        .expect("connect to the sandbox bus")
}

pub fn manager_call<B>(bus: &Connection, method: &str, body: &B) -> zbus::Result<zbus::Message>
where
    B: zbus::export::serde::Serialize + zbus::zvariant::DynamicType,
{
    bus.call_method(
        Some("org.freedesktop.systemd1"),
        "/org/freedesktop/systemd1",
        Some(MANAGER),
        method,
        body,
    )
}

pub fn get_property(bus: &Connection, path: &str, interface: &str, name: &str) -> OwnedValue {
    let reply = bus
        .call_method(
            Some("org.freedesktop.systemd1"),
            path,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(interface, name),
        )
        .unwrap_or_else(|e| panic!("Get {interface}.{name} on {path}: {e}"));
    reply.body().deserialize().expect("a variant")
}

pub fn get_string(bus: &Connection, path: &str, interface: &str, name: &str) -> String {
    String::try_from(get_property(bus, path, interface, name)).expect("a string property")
}

/// Loads a unit by name and returns its object path.
pub fn load_unit(bus: &Connection, name: &str) -> String {
    let reply =
        manager_call(bus, "LoadUnit", &(name,)).unwrap_or_else(|e| panic!("LoadUnit {name}: {e}"));
    let path: OwnedObjectPath = reply.body().deserialize().expect("an object path");
    path.as_str().to_owned()
}

/// Starts a transient scope holding `pid` (in-sandbox pid) with the given extra properties,
/// then waits until it is active; returns its ControlGroup.
pub fn start_scope(
    bus: &Connection,
    name: &str,
    pid: u32,
    extra: Vec<(&str, Value<'_>)>,
) -> String {
    let mut props: Vec<(&str, Value<'_>)> = vec![
        ("Description", Value::from("sdbus-sandbox test scope")),
        ("PIDs", Value::from(vec![pid])),
        ("Slice", Value::from("system.slice")),
    ];
    props.extend(extra);
    let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
    manager_call(bus, "StartTransientUnit", &(name, "fail", props, aux))
        .unwrap_or_else(|e| panic!("StartTransientUnit {name}: {e}"));
    let path = load_unit(bus, name);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = get_string(bus, &path, "org.freedesktop.systemd1.Unit", "ActiveState");
        if state == "active" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not become active (state {state})"
        );
        thread::sleep(Duration::from_millis(10));
    }
    get_string(bus, &path, "org.freedesktop.systemd1.Scope", "ControlGroup")
}

/// Lines of /proc/self/mountinfo whose mount point is /sys/fs/cgroup or below it.
pub fn cgroup_mount_lines() -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| m == "/sys/fs/cgroup" || m.starts_with("/sys/fs/cgroup/"))
        })
        .map(str::to_owned)
        .collect()
}

/// Every cgroup directory under /sys/fs/cgroup whose name starts with `prefix`.
pub fn cgroups_named(prefix: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if !t.is_dir() {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(p.clone());
            }
            walk(&p, prefix, out);
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), prefix, &mut out);
    out
}

/// Host pids of every process in the sandbox's cgroup subtree (all hierarchies).
pub fn sandbox_pids(sandbox: &Sandbox) -> BTreeSet<u32> {
    fn walk(dir: &Path, out: &mut BTreeSet<u32>) {
        if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = BTreeSet::new();
    for p in sandbox.host_cgroup_paths() {
        walk(&p, &mut out);
    }
    out
}

/// Whether a process with this pid exists on the host (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Host-wide state a sandbox must not change: cgroup mounts, sysctls systemd likes to
/// raise, the hostname, /dev entries.
#[derive(Debug, PartialEq, Eq)]
pub struct HostSnapshot {
    pub cgroup_mounts: Vec<String>,
    pub sysctls: Vec<(String, String)>,
    pub hostname: String,
    pub dev: BTreeSet<String>,
}

impl HostSnapshot {
    pub fn take() -> HostSnapshot {
        let sysctls = [
            "fs/file-max",
            "fs/nr_open",
            "net/unix/max_dgram_qlen",
            "kernel/hostname",
        ]
        .iter()
        .map(|s| {
            (
                s.to_string(),
                fs::read_to_string(format!("/proc/sys/{s}")).unwrap_or_default(),
            )
        })
        .collect();
        let dev = fs::read_dir("/dev")
            .expect("/dev")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        HostSnapshot {
            cgroup_mounts: cgroup_mount_lines(),
            sysctls,
            hostname: fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
            dev,
        }
    }

    /// Asserts the host looks as in `self`, and /sys/fs/cgroup is mounted read-write.
    pub fn assert_unchanged(&self) {
        let now = HostSnapshot::take();
        assert_eq!(
            now.cgroup_mounts, self.cgroup_mounts,
            "cgroup mounts in /proc/self/mountinfo changed"
        );
        for line in &now.cgroup_mounts {
            let opts = line.split(' ').nth(5).unwrap_or("");
            assert!(
                opts.split(',').any(|o| o == "rw"),
                "not read-write any more: {line}"
            );
        }
        assert_eq!(now.sysctls, self.sysctls, "host sysctls changed");
        assert_eq!(now.hostname, self.hostname, "host name changed");
        assert_eq!(now.dev, self.dev, "/dev entries changed");
    }
}

/// Removes cgroup directories and everything below them, deepest first.
pub fn remove_cgroup_trees(dirs: &[PathBuf]) -> std::io::Result<()> {
    fn remove(dir: &Path) -> std::io::Result<()> {
        for e in fs::read_dir(dir)?.flatten() {
            if e.file_type()?.is_dir() {
                remove(&e.path())?;
            }
        }
        match fs::remove_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
    let mut result = Ok(());
    for d in dirs {
        if d.exists() {
            if let Err(e) = remove(d) {
                result = Err(e);
            }
        }
    }
    result
}
