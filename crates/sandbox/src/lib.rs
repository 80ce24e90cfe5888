//! A throwaway real systemd + dbus-daemon in Linux namespaces, for tests and demos.
//!
//! [`Sandbox::boot`] starts the host's real `/lib/systemd/systemd` as PID 1 of new PID,
//! mount, cgroup and UTS namespaces, with a minimal unit set (`default.target`,
//! `dbus.socket`, `dbus.service`, `system.slice`), and returns once
//! `org.freedesktop.systemd1` answers on the sandbox's own system bus. From the host the
//! bus is reachable at [`Sandbox::bus_address`]; what systemd does to cgroups is visible
//! in the host's cgroup files below [`Sandbox::host_cgroup_paths`]. Dropping the sandbox
//! (also while unwinding from a panic) kills everything in it and removes its cgroups.
//!
//! ```
//! use sdbus_sandbox::{Sandbox, SandboxOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::boot(SandboxOptions::default())?;
//! println!("systemd {} as pid {} on {}", sandbox.systemd_version(), sandbox.pid(), sandbox.bus_address());
//!
//! // Talk to the sandbox's systemd like to any other.
//! let bus = zbus::blocking::connection::Builder::address(sandbox.bus_address().as_str())?.build()?;
//! let reply = bus.call_method(
//!     Some("org.freedesktop.systemd1"),
//!     "/org/freedesktop/systemd1",
//!     Some("org.freedesktop.DBus.Properties"),
//!     "Get",
//!     &("org.freedesktop.systemd1.Manager", "Version"),
//! )?;
//! let version: zbus::zvariant::OwnedValue = reply.body().deserialize()?;
//! assert_eq!(String::try_from(version)?, sandbox.systemd_version());
//!
//! // Run a process inside: it gets a pid in the sandbox's PID namespace.
//! let sleeper = sandbox.command("sleep").arg("60").spawn()?;
//! assert!(sleeper.pid() > 1);
//!
//! sandbox.shutdown()?; // or just drop it
//! # Ok(()) }
//! ```
//!
//! # How it boots (docs/ARCHITECTURE.md §7)
//!
//! 1. A cgroup `sandbox-<id>` is created in every hierarchy mounted under `/sys/fs/cgroup`,
//!    below the cgroup the calling process is in (so the sandbox stays inside whatever
//!    limits the caller lives under; [`CgroupParent::Root`] puts it at the top instead).
//! 2. `clone(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS)` makes PID 1. It joins those
//!    cgroups, then `unshare(CLONE_NEWCGROUP)`, so systemd sees the subtree as `/`.
//! 3. Mounts, all in the new mount namespace (made `rprivate` first, so nothing reaches
//!    the host): tmpfs on `/run`; proc on `/proc`, with `/proc/sys` read-only (systemd
//!    would otherwise raise host-wide sysctls such as `fs.file-max`); `/sys` and `/dev`
//!    read-only bind remounts (per-mount flags, the host's mounts are untouched);
//!    `/dev/console` bound to a pseudo-terminal we read (see [`Sandbox::log`]); a **fresh tmpfs on
//!    `/sys/fs/cgroup`** with fresh mounts of the host's hierarchies (`cpu`, `memory`, …,
//!    `name=systemd`, cgroup2 at `unified`), or a fresh cgroup2 mount on unified hosts.
//!    Without the fresh tmpfs, systemd remounts the host's `/sys/fs/cgroup` read-only.
//! 4. `container=sdbus-sandbox`, `SYSTEMD_UNIT_PATH=/run/sdbus-sandbox/units`, exec
//!    `systemd --system`.
//!
//! # Teardown
//!
//! [`Sandbox::shutdown`] and `Drop` (also while unwinding from a panic): SIGKILL to PID 1
//! (the kernel then kills every process of the namespace), reap it, remove the cgroup
//! subtree bottom-up. The mount namespace dies with its last process, so no mount is
//! ever left on the host.
//!
//! If the owning process dies without running destructors (SIGKILL, `abort`, a sandbox
//! kept in a `static`), PID 1 still gets SIGKILL from the kernel as its parent-death
//! signal, so no sandbox process outlives its owner; only the empty `sandbox-<id>`
//! cgroups stay behind (`rmdir` them). The signal is tied to the process, not to the
//! thread that booted the sandbox, so a sandbox may be shared between test threads.
//!
//! # Concurrency
//!
//! Several sandboxes may run at once, from any threads of one process (as `cargo test`
//! does) or from several processes: each has a unique id `<pid>-<n>-<nonce>`, its own
//! cgroups, namespaces and bus. See the `launch` module for why starting PID 1 from a
//! multithreaded process is safe.
//!
//! # Requirements
//!
//! Root, a kernel with PID/mount/cgroup/UTS namespaces, systemd (`/lib/systemd/systemd`),
//! dbus-daemon (`/usr/bin/dbus-daemon` and `/usr/share/dbus-1/system.conf`) and
//! `nsenter` (util-linux) for [`Sandbox::command`]. Each missing piece is a typed
//! [`Error`] returned before anything on the host changes.

#![deny(missing_docs)]

mod cgroup;
mod console;
mod debug;
mod error;
mod launch;
mod spawn;
mod units;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub use cgroup::CgroupLayout;
pub use debug::{gdb_outcome, CookieMoved, GdbFailure};
pub use error::{BootStage, Error};
pub use spawn::{SandboxChild, SandboxCommand};

use cgroup::{HostCgroups, Subtree, CGROUP_ROOT};
use launch::{c, Op, Plan, Step};

/// Where the sandbox's cgroup subtree goes in each host hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CgroupParent {
    /// Below the cgroup the calling process is in (default). The sandbox stays inside the
    /// caller's own limits, and nothing outside the caller's cgroup is touched. On a pure
    /// cgroup v2 host, controllers are only available inside if the caller's cgroup
    /// already delegates them (`cgroup.subtree_control`); this crate never changes that.
    #[default]
    Current,
    /// Directly below the root of each hierarchy (`/sandbox-<id>`), as in docs/ARCHITECTURE.md §7.
    Root,
}

/// How to boot a sandbox. `SandboxOptions::default()` boots the host's systemd with the
/// minimal unit set and a 30 s deadline.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    systemd: PathBuf,
    dbus_daemon: PathBuf,
    dbus_config: PathBuf,
    units: Vec<(String, String)>,
    env: Vec<(OsString, OsString)>,
    boot_timeout: Duration,
    cgroup_parent: CgroupParent,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            systemd: PathBuf::from("/lib/systemd/systemd"),
            dbus_daemon: PathBuf::from("/usr/bin/dbus-daemon"),
            dbus_config: PathBuf::from("/usr/share/dbus-1/system.conf"),
            units: Vec::new(),
            env: Vec::new(),
            boot_timeout: Duration::from_secs(30),
            cgroup_parent: CgroupParent::Current,
        }
    }
}

impl SandboxOptions {
    /// The systemd binary to run as PID 1 (e.g. a patched build). Default `/lib/systemd/systemd`.
    pub fn systemd(mut self, path: impl Into<PathBuf>) -> Self {
        self.systemd = path.into();
        self
    }

    /// The dbus-daemon binary `dbus.service` runs. Default `/usr/bin/dbus-daemon`.
    pub fn dbus_daemon(mut self, path: impl Into<PathBuf>) -> Self {
        self.dbus_daemon = path.into();
        self
    }

    /// Adds a unit file (`name` like `foo.service`) to the sandbox's unit directory. A
    /// unit named like a default one (`default.target`, `dbus.socket`, `dbus.service`,
    /// `system.slice`) replaces it.
    pub fn unit(mut self, name: impl Into<String>, contents: impl Into<String>) -> Self {
        self.units.push((name.into(), contents.into()));
        self
    }

    /// Sets an environment variable for systemd (e.g. `SYSTEMD_LOG_LEVEL=debug`).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// How long [`Sandbox::boot`] waits for systemd to answer on the bus. Default 30 s.
    pub fn boot_timeout(mut self, timeout: Duration) -> Self {
        self.boot_timeout = timeout;
        self
    }

    /// Where the cgroup subtree goes; see [`CgroupParent`].
    pub fn cgroup_parent(mut self, parent: CgroupParent) -> Self {
        self.cgroup_parent = parent;
        self
    }
}

/// One hierarchy's cgroup subtree of a sandbox, as seen from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCgroup {
    /// Controllers of the hierarchy (`["memory"]`, `["name=systemd"]`); empty for cgroup v2.
    pub controllers: Vec<String>,
    /// Whether this is the cgroup v2 hierarchy.
    pub v2: bool,
    /// The host directory that is `/` for systemd inside, e.g.
    /// `/sys/fs/cgroup/memory/<caller's cgroup>/sandbox-<id>`.
    pub host_path: PathBuf,
}

/// A running sandbox. See the [crate docs](crate).
#[derive(Debug)]
pub struct Sandbox {
    id: String,
    /// PID 1's host pid until it has been reaped.
    pid1: Option<Pid>,
    pid1_raw: u32,
    layout: CgroupLayout,
    cgroups: Vec<SandboxCgroup>,
    host: HostCgroups,
    subtrees: Vec<Subtree>,
    version: String,
    console: Option<console::Console>,
}

/// Counts sandboxes booted by this process, for unique ids.
static BOOTED: AtomicU64 = AtomicU64::new(0);

/// How long teardown waits for the kernel to release dead tasks before `rmdir` succeeds.
const TEARDOWN_PATIENCE: Duration = Duration::from_secs(10);

impl Sandbox {
    /// Boots a sandbox and waits until systemd answers on its bus (see the crate docs).
    ///
    /// Checks root, namespaces, the systemd binary, dbus-daemon and the cgroup mounts first,
    /// returning [`Error::NotRoot`], [`Error::NoNamespaces`], [`Error::NoSystemd`],
    /// [`Error::NoDbusDaemon`] or [`Error::NoCgroups`] before anything is changed. A boot
    /// that does not finish within the deadline is torn down and reported as
    /// [`Error::BootTimeout`] naming the stage that did not come up.
    pub fn boot(options: SandboxOptions) -> Result<Sandbox, Error> {
        preflight(&options)?;
        let host = HostCgroups::detect()?;
        let parents = match options.cgroup_parent {
            CgroupParent::Current => host.cgroups_of("self")?,
            CgroupParent::Root => vec![String::from("/"); host.hierarchies.len()],
        };
        let id = unique_id();
        let name = format!("sandbox-{id}");
        let subtrees = cgroup::create_subtrees(&host, &parents, &name)?;
        let cgroups = host
            .hierarchies
            .iter()
            .zip(&subtrees)
            .map(|(h, s)| SandboxCgroup {
                controllers: h.controllers.clone(),
                v2: h.v2,
                host_path: s.dir.clone(),
            })
            .collect();
        let mut sandbox = Sandbox {
            id,
            pid1: None,
            pid1_raw: 0,
            layout: host.layout,
            cgroups,
            host,
            subtrees,
            version: String::new(),
            console: None,
        };
        // Without a console systemd logs nowhere; that is worth a warning, not a failure.
        match console::Console::open(&name) {
            Ok(c) => sandbox.console = Some(c),
            Err(e) => {
                eprintln!("sdbus-sandbox: no console for {name} (systemd's log is lost): {e}")
            }
        }
        // From here on, dropping `sandbox` on any error undoes everything done so far.
        let plan = sandbox.plan(&options)?;
        let pid = match launch::launch(plan) {
            Ok(pid) => pid,
            Err(Ok(failure)) => {
                return Err(Error::Pid1Setup {
                    step: failure.step,
                    source: failure.error,
                })
            }
            Err(Err(e)) => return Err(Error::io("starting the sandbox's PID 1 (clone)", e)),
        };
        sandbox.pid1 = Some(pid);
        sandbox.pid1_raw = pid.as_raw() as u32;
        sandbox.version = sandbox.wait_ready(options.boot_timeout)?;
        Ok(sandbox)
    }

    /// The sandbox's unique id; its cgroups are named `sandbox-<id>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The host pid of the sandbox's PID 1 (systemd).
    pub fn pid(&self) -> u32 {
        self.pid1_raw
    }

    /// The systemd version that answered the readiness check (`Manager.Version`, e.g. "252.38-1~deb12u1").
    pub fn systemd_version(&self) -> &str {
        &self.version
    }

    /// The D-Bus address of the sandbox's system bus, usable from the host:
    /// `unix:path=/proc/<pid>/root/run/dbus/system_bus_socket`.
    pub fn bus_address(&self) -> String {
        format!("unix:path={}", self.bus_socket().display())
    }

    /// The host path of the sandbox's system bus socket.
    pub fn bus_socket(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/root/run/dbus/system_bus_socket",
            self.pid1_raw
        ))
    }

    /// The host path of systemd's private socket (peer-to-peer D-Bus, no dbus-daemon):
    /// `/proc/<pid>/root/run/systemd/private`.
    pub fn private_socket(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/run/systemd/private", self.pid1_raw))
    }

    /// The cgroup layout systemd runs with inside (the same as the host's).
    pub fn cgroup_layout(&self) -> CgroupLayout {
        self.layout
    }

    /// The sandbox's cgroup subtree in every hierarchy, with its controllers.
    pub fn cgroups(&self) -> &[SandboxCgroup] {
        &self.cgroups
    }

    /// The host directories of the sandbox's cgroup subtree, one per hierarchy.
    pub fn host_cgroup_paths(&self) -> Vec<PathBuf> {
        self.cgroups.iter().map(|c| c.host_path.clone()).collect()
    }

    /// The host path of cgroup file `file` (e.g. `memory.limit_in_bytes`, `memory.max`,
    /// `pids.max`) for a control group inside the sandbox (a unit's `ControlGroup`
    /// property, e.g. `/system.slice/foo.scope`). Looks first in the hierarchy of the
    /// controller the file is named after, then in every hierarchy.
    pub fn cgroup_file(&self, control_group: &str, file: &str) -> Result<PathBuf, Error> {
        let rel = control_group.trim_start_matches('/');
        let controller = file.split('.').next().unwrap_or("");
        let by_controller = self
            .cgroups
            .iter()
            .filter(|c| c.controllers.iter().any(|x| x == controller));
        let v2 = self.cgroups.iter().filter(|c| c.v2);
        let rest = self.cgroups.iter();
        by_controller
            .chain(v2)
            .chain(rest)
            .map(|c| c.host_path.join(rel).join(file))
            .find(|p| !rel.contains("..") && p.exists())
            .ok_or_else(|| Error::NoCgroupFile {
                control_group: control_group.into(),
                file: file.into(),
            })
    }

    /// Reads a cgroup file of a control group inside the sandbox (see [`cgroup_file`](Self::cgroup_file)),
    /// without the trailing newline.
    pub fn read_cgroup_file(&self, control_group: &str, file: &str) -> Result<String, Error> {
        let path = self.cgroup_file(control_group, file)?;
        let text = cgroup::read(&path)?;
        Ok(text.trim_end().to_owned())
    }

    /// The `ControlGroup` of a loaded unit (e.g. `/system.slice/foo.scope`), asked from
    /// the sandbox's systemd over its bus.
    pub fn unit_control_group(&self, unit: &str) -> Result<String, Error> {
        let interface = match unit.rsplit_once('.').map(|(_, t)| t) {
            Some("scope") => "org.freedesktop.systemd1.Scope",
            Some("service") => "org.freedesktop.systemd1.Service",
            Some("slice") => "org.freedesktop.systemd1.Slice",
            Some("socket") => "org.freedesktop.systemd1.Socket",
            Some("mount") => "org.freedesktop.systemd1.Mount",
            Some("swap") => "org.freedesktop.systemd1.Swap",
            _ => {
                return Err(Error::InvalidOption {
                    detail: format!("{unit:?} is not a unit type with a control group"),
                })
            }
        };
        let bus_err = |step: String| {
            move |e: zbus::Error| Error::Bus {
                step,
                message: e.to_string(),
            }
        };
        let bus = zbus::blocking::connection::Builder::address(self.bus_address().as_str())
            .map(|b| b.method_timeout(Duration::from_secs(10)))
            .and_then(|b| b.build())
            .map_err(bus_err("connecting".into()))?;
        let reply = bus
            .call_method(
                Some("org.freedesktop.systemd1"),
                "/org/freedesktop/systemd1",
                Some("org.freedesktop.systemd1.Manager"),
                "GetUnit",
                &(unit,),
            )
            .map_err(bus_err(format!("GetUnit {unit}")))?;
        let path: zbus::zvariant::OwnedObjectPath = reply
            .body()
            .deserialize()
            .map_err(bus_err(format!("GetUnit {unit}")))?;
        let step = format!("Get {interface}.ControlGroup of {unit}");
        let value: zbus::zvariant::OwnedValue = bus
            .call_method(
                Some("org.freedesktop.systemd1"),
                path.as_str(),
                Some("org.freedesktop.DBus.Properties"),
                "Get",
                &(interface, "ControlGroup"),
            )
            .and_then(|r| r.body().deserialize())
            .map_err(bus_err(step.clone()))?;
        String::try_from(value).map_err(|e| Error::Bus {
            step,
            message: e.to_string(),
        })
    }

    /// Reads cgroup file `file` of unit `unit` from the host's cgroup tree, e.g.
    /// `read_unit_cgroup_file("foo.scope", "pids.max")` (see [`cgroup_file`](Self::cgroup_file)).
    pub fn read_unit_cgroup_file(&self, unit: &str, file: &str) -> Result<String, Error> {
        self.read_cgroup_file(&self.unit_control_group(unit)?, file)
    }

    /// A command to run inside the sandbox's PID, mount, cgroup and UTS namespaces, in the
    /// cgroups of its PID 1 (see [`SandboxCommand`]). `program` is looked up in `PATH`
    /// inside the sandbox.
    pub fn command(&self, program: impl AsRef<OsStr>) -> SandboxCommand {
        let procs = match self.host.cgroups_of(&self.pid1_raw.to_string()) {
            Ok(cgs) => self
                .host
                .hierarchies
                .iter()
                .zip(cgs)
                .map(|(h, cg)| {
                    let p = h
                        .mount_point
                        .join(cg.trim_start_matches('/'))
                        .join("cgroup.procs");
                    c(&p.to_string_lossy())
                })
                .collect(),
            // PID 1 is gone: nsenter will fail and say so.
            Err(_) => Vec::new(),
        };
        SandboxCommand::new(self.pid1_raw, procs, program.as_ref())
    }

    /// What systemd wrote to its console so far (the last 256 KiB; its log target is the
    /// console, and `SYSTEMD_LOG_LEVEL` in [`SandboxOptions::env`] makes it chattier).
    pub fn log(&self) -> String {
        self.console
            .as_ref()
            .map(console::Console::text)
            .unwrap_or_default()
    }

    /// Stops the sandbox: kills every process in it, then removes its cgroups. Dropping a
    /// `Sandbox` does the same but cannot report errors.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), Error> {
        if let Some(pid) = self.pid1.take() {
            // SIGKILL to a PID namespace's init makes the kernel kill all of its processes;
            // waitpid returns only after they are all gone.
            launch::kill_and_reap(pid);
        }
        if let Some(c) = self.console.as_mut() {
            c.close();
        }
        let mut first_error = None;
        for s in self.subtrees.drain(..).rev() {
            if let Err(e) = cgroup::remove_subtree(&s.dir, TEARDOWN_PATIENCE) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Builds what PID 1 does before exec'ing systemd (see the crate docs, step 2–4).
    fn plan(&self, options: &SandboxOptions) -> Result<Plan, Error> {
        let mut steps = Vec::new();
        let mut step = |what: String, op: Op| steps.push(Step { op, what });
        step("set the parent-death signal".into(), Op::DieWithParent);
        for s in &self.subtrees {
            let procs = s.dir.join("cgroup.procs");
            step(
                format!("join cgroup {}", s.dir.display()),
                Op::JoinCgroup(c(&procs.to_string_lossy())),
            );
        }
        step(
            "unshare the cgroup namespace".into(),
            Op::Unshare(libc::CLONE_NEWCGROUP),
        );
        let mount = |source: Option<&str>,
                     target: &str,
                     fstype: Option<&str>,
                     flags: libc::c_ulong,
                     data: Option<&str>| {
            Op::Mount {
                source: source.map(c),
                target: c(target),
                fstype: fstype.map(c),
                flags,
                data: data.map(c),
            }
        };
        const NOSUID_NODEV_NOEXEC: libc::c_ulong =
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        const RO_REMOUNT: libc::c_ulong = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        step(
            "make / rprivate".into(),
            mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None),
        );
        step(
            "mount tmpfs on /run".into(),
            mount(
                Some("tmpfs"),
                "/run",
                Some("tmpfs"),
                libc::MS_NOSUID | libc::MS_NODEV,
                Some("mode=755"),
            ),
        );
        step(
            "mount proc on /proc".into(),
            mount(
                Some("proc"),
                "/proc",
                Some("proc"),
                NOSUID_NODEV_NOEXEC,
                None,
            ),
        );
        step(
            "bind /proc/sys".into(),
            mount(Some("/proc/sys"), "/proc/sys", None, libc::MS_BIND, None),
        );
        step(
            "remount /proc/sys read-only".into(),
            mount(
                None,
                "/proc/sys",
                None,
                RO_REMOUNT | NOSUID_NODEV_NOEXEC,
                None,
            ),
        );
        step(
            format!("detach the host's {CGROUP_ROOT} (in the sandbox's mount namespace)"),
            Op::Detach(c(CGROUP_ROOT)),
        );
        step(
            "remount /sys read-only".into(),
            mount(None, "/sys", None, RO_REMOUNT | NOSUID_NODEV_NOEXEC, None),
        );
        if self.layout == CgroupLayout::Unified {
            step(
                format!("mount cgroup2 on {CGROUP_ROOT}"),
                mount(
                    Some("cgroup2"),
                    CGROUP_ROOT,
                    Some("cgroup2"),
                    NOSUID_NODEV_NOEXEC,
                    None,
                ),
            );
        } else {
            step(
                format!("mount tmpfs on {CGROUP_ROOT}"),
                mount(
                    Some("tmpfs"),
                    CGROUP_ROOT,
                    Some("tmpfs"),
                    NOSUID_NODEV_NOEXEC,
                    Some("mode=755"),
                ),
            );
            for h in &self.host.hierarchies {
                let target = format!("{CGROUP_ROOT}/{}", h.rel_mount_point);
                step(format!("create {target}"), Op::Mkdir(c(&target)));
                let (fstype, data) = if h.v2 {
                    ("cgroup2", None)
                } else {
                    ("cgroup", Some(h.mount_data.as_str()))
                };
                step(
                    format!("mount {fstype} {} on {target}", data.unwrap_or("")),
                    mount(
                        Some(fstype),
                        &target,
                        Some(fstype),
                        NOSUID_NODEV_NOEXEC,
                        data,
                    ),
                );
            }
            for (name, target) in &self.host.symlinks {
                let link = format!("{CGROUP_ROOT}/{name}");
                step(
                    format!("symlink {link}"),
                    Op::Symlink {
                        target: c(&target.to_string_lossy()),
                        link: c(&link),
                    },
                );
            }
        }
        for dir in [
            "/run/sdbus-sandbox",
            units::UNIT_DIR,
            "/run/systemd",
            "/run/systemd/system",
            "/run/dbus",
        ] {
            step(format!("create {dir}"), Op::Mkdir(c(dir)));
        }
        let console = self
            .console
            .as_ref()
            .map_or("/dev/null", |c| c.slave_path.as_str());
        if Path::new("/dev/console").exists() {
            step(
                format!("bind {console} on /dev/console"),
                mount(Some(console), "/dev/console", None, libc::MS_BIND, None),
            );
        }
        step(
            "remount /dev read-only".into(),
            mount(None, "/dev", None, RO_REMOUNT | libc::MS_NOSUID, None),
        );
        let mut all_units = units::default_units(&options.dbus_daemon);
        for (name, contents) in &options.units {
            units::check_unit_name(name)?;
            all_units.retain(|(n, _)| n != name);
            all_units.push((name.clone(), contents.clone()));
        }
        for (name, contents) in all_units {
            let path = format!("{}/{name}", units::UNIT_DIR);
            step(
                format!("write {path}"),
                Op::WriteFile {
                    path: c(&path),
                    contents: contents.into_bytes(),
                },
            );
        }
        step(
            format!("set up stdio on {console}"),
            Op::Stdio { path: c(console) },
        );

        let mut env: Vec<(OsString, OsString)> = vec![
            ("container".into(), "sdbus-sandbox".into()),
            ("SYSTEMD_UNIT_PATH".into(), units::UNIT_DIR.into()),
            (
                "PATH".into(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ),
        ];
        for (k, v) in &options.env {
            env.retain(|(ek, _)| ek != k);
            env.push((k.clone(), v.clone()));
        }
        let to_c = |b: &[u8], what: &str| {
            std::ffi::CString::new(b).map_err(|_| Error::InvalidOption {
                detail: format!("{what} contains a NUL byte"),
            })
        };
        let envp = env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                to_c(&kv, "an environment variable")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let program = to_c(options.systemd.as_os_str().as_bytes(), "the systemd path")?;
        let argv = vec![
            program.clone(),
            c("--system"),
            c("--log-target=console"),
            c("--log-color=no"),
        ];
        Ok(Plan {
            steps,
            program,
            argv,
            envp,
        })
    }

    /// Waits until `org.freedesktop.systemd1` answers `Version`, PID 1 exits, or the deadline.
    fn wait_ready(&mut self, timeout: Duration) -> Result<String, Error> {
        let pid = self.pid1.expect("PID 1 is running");
        let progress = Arc::new(Mutex::new((BootStage::BusSocket, None::<String>)));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let socket = self.bus_socket();
        let address = self.bus_address();
        // The D-Bus handshake can block (e.g. dbus-daemon started but stuck), so the checks
        // run on their own thread and this one enforces the deadline; a stuck check ends
        // when teardown kills PID 1 and its socket closes.
        {
            let (progress, stop) = (Arc::clone(&progress), Arc::clone(&stop));
            thread::Builder::new()
                .name(format!("sandbox-{}-boot", self.id))
                .spawn(move || {
                    if let Some(v) = probe(&socket, &address, &progress, &stop) {
                        let _ = tx.send(v);
                    }
                })
                .map_err(|e| Error::io("starting the readiness thread", e))?;
        }
        let deadline = Instant::now() + timeout;
        let result = loop {
            match rx.recv_timeout(Duration::from_millis(5)) {
                Ok(version) => break Ok(version),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The probe thread died (a panic in zbus?): keep watching PID 1 until the deadline.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    thread::sleep(Duration::from_millis(5))
                }
            }
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR) => {}
                Ok(status) => {
                    self.pid1 = None;
                    break Err(Error::Pid1Exited {
                        status: describe(status),
                        log: self.log(),
                    });
                }
                Err(e) => break Err(Error::io("waiting for the sandbox's PID 1", e.into())),
            }
            if Instant::now() >= deadline {
                let (stage, last_error) =
                    progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
                break Err(Error::BootTimeout {
                    stage,
                    waited: timeout,
                    last_error,
                    log: self.log(),
                });
            }
        };
        stop.store(true, Ordering::SeqCst);
        result
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("sdbus-sandbox: teardown of sandbox {}: {e}", self.id);
        }
    }
}

/// The readiness checks, in order; `None` if told to stop.
fn probe(
    socket: &Path,
    address: &str,
    progress: &Mutex<(BootStage, Option<String>)>,
    stop: &AtomicBool,
) -> Option<String> {
    let note = |stage: BootStage, err: Option<String>| {
        *progress.lock().unwrap_or_else(|p| p.into_inner()) = (stage, err)
    };
    let pause = || thread::sleep(Duration::from_millis(5));
    while !socket.exists() {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        pause();
    }
    note(BootStage::DbusDaemon, None);
    let bus = loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        let built = zbus::blocking::connection::Builder::address(address)
            .map(|b| b.method_timeout(Duration::from_secs(5)))
            .and_then(|b| b.build());
        match built {
            Ok(bus) => break bus,
            Err(e) => note(BootStage::DbusDaemon, Some(e.to_string())),
        }
        pause();
    };
    note(BootStage::Systemd1, None);
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        // Ask the bus first: a call to a name nobody owns yet would make dbus-daemon try to
        // activate it through systemd, which is exactly what is not up yet.
        let owned = bus
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "NameHasOwner",
                &("org.freedesktop.systemd1",),
            )
            .and_then(|r| r.body().deserialize::<bool>());
        match owned {
            Ok(true) => {
                let version = bus
                    .call_method(
                        Some("org.freedesktop.systemd1"),
                        "/org/freedesktop/systemd1",
                        Some("org.freedesktop.DBus.Properties"),
                        "Get",
                        &("org.freedesktop.systemd1.Manager", "Version"),
                    )
                    .and_then(|r| r.body().deserialize::<zbus::zvariant::OwnedValue>())
                    .map_err(|e| e.to_string())
                    .and_then(|v| String::try_from(v).map_err(|e| e.to_string()));
                match version {
                    Ok(v) => return Some(v),
                    Err(e) => note(BootStage::Systemd1, Some(e)),
                }
            }
            Ok(false) => note(
                BootStage::Systemd1,
                Some("the name has no owner yet".into()),
            ),
            Err(e) => note(BootStage::Systemd1, Some(e.to_string())),
        }
        pause();
    }
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
        other => format!("{other:?}"),
    }
}

/// `<pid>-<n>-<nonce>`: unique across threads (n), processes (pid) and pid reuse (nonce).
fn unique_id() -> String {
    let n = BOOTED.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{n}-{:05x}", std::process::id(), nanos & 0xfffff)
}

/// The checks that must pass before anything changes.
fn preflight(options: &SandboxOptions) -> Result<(), Error> {
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 {
        return Err(Error::NotRoot { euid });
    }
    for namespace in ["pid", "mnt", "cgroup", "uts"] {
        if let Err(source) = fs::symlink_metadata(format!("/proc/self/ns/{namespace}")) {
            return Err(Error::NoNamespaces { namespace, source });
        }
    }
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if !executable(&options.systemd) {
        return Err(Error::NoSystemd {
            path: options.systemd.clone(),
        });
    }
    if !executable(&options.dbus_daemon) {
        return Err(Error::NoDbusDaemon {
            path: options.dbus_daemon.clone(),
        });
    }
    if !options.dbus_config.is_file() {
        return Err(Error::NoDbusDaemon {
            path: options.dbus_config.clone(),
        });
    }
    for (name, _) in &options.units {
        units::check_unit_name(name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_systemd_is_a_typed_error_naming_the_path() {
        let err =
            Sandbox::boot(SandboxOptions::default().systemd("/nonexistent/systemd")).unwrap_err();
        assert!(
            matches!(&err, Error::NoSystemd { path } if path == Path::new("/nonexistent/systemd")),
            "{err}"
        );
    }

    #[test]
    fn missing_dbus_daemon_is_a_typed_error_naming_the_path() {
        let err = Sandbox::boot(SandboxOptions::default().dbus_daemon("/nonexistent/dbus-daemon"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::NoDbusDaemon { path } if path == Path::new("/nonexistent/dbus-daemon")),
            "{err}"
        );
    }

    #[test]
    fn sandboxes_can_be_shared_between_test_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Sandbox>();
        shareable::<SandboxChild>();
        shareable::<Error>();
    }

    #[test]
    fn ids_are_unique_within_a_process() {
        assert_ne!(unique_id(), unique_id());
    }
}
