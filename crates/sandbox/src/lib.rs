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
//! A process that stops on a signal it catches (SIGTERM, SIGHUP, SIGINT) calls
//! [`teardown_all`] from the thread that learned of it: every sandbox of the process is torn
//! down as above, although the threads that own them never run their destructors, and no
//! sandbox boots after it.
//!
//! If the owning process dies without running destructors (SIGKILL, `abort`, a sandbox
//! kept in a `static`), PID 1 still gets SIGKILL from the kernel as its parent-death
//! signal, so no sandbox process outlives its owner; only the empty `sandbox-<id>`
//! cgroups stay behind, and the next [`Sandbox::boot`] on the host removes them (those
//! whose owner pid no longer exists, where that boot creates its own and at the top of
//! each hierarchy). The signal is tied to the process, not to the thread that booted the
//! sandbox, so a sandbox may be shared between test threads.
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

pub mod built;
mod cgroup;
mod console;
mod debug;
mod error;
mod launch;
mod live;
mod options;
mod plan;
mod ready;
mod release;
mod spawn;
mod units;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub use cgroup::CgroupLayout;
pub use debug::{gdb_outcome, CookieMoved, GdbFailure};
pub use error::{BootStage, Error};
pub use live::teardown_all;
pub use options::{CgroupParent, SandboxOptions};
pub use spawn::{SandboxChild, SandboxCommand};

use cgroup::HostCgroups;
use launch::c;
use live::Live;
use options::preflight;

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
    /// PID 1 until reaped and the cgroup subtrees, shared with [`teardown_all`].
    live: Arc<Mutex<Live>>,
    pid1_raw: u32,
    layout: CgroupLayout,
    cgroups: Vec<SandboxCgroup>,
    host: HostCgroups,
    version: String,
    console: Option<console::Console>,
    /// On a v1 layout: the kernel's cgroup-empty news for PID 1 (see `release.rs`).
    release_agent: Option<release::ReleaseAgent>,
}

/// Counts sandboxes booted by this process, for unique ids.
static BOOTED: AtomicU64 = AtomicU64::new(0);

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
        cgroup::remove_orphans(&host, &parents);
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
        let live = live::register(subtrees)?;
        let mut sandbox = Sandbox {
            id,
            live,
            pid1_raw: 0,
            layout: host.layout,
            cgroups,
            host,
            version: String::new(),
            console: None,
            release_agent: None,
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
        // Launched under the lock, so teardown_all either finds PID 1 or stops the launch.
        let mut live = live::lock(&sandbox.live);
        if live.torn_down {
            return Err(Error::Stopping);
        }
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
        live.pid1 = Some(pid);
        drop(live);
        sandbox.pid1_raw = pid.as_raw() as u32;
        sandbox.version = sandbox.wait_ready(options.boot_timeout)?;
        // Only Red Hat's 219 waits for the v1 release agent's news (see release.rs).
        let before_v230 = sandbox
            .version
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|v| v < 230);
        if before_v230 && !sandbox.layout.is_unified() {
            if let Some(named) = sandbox
                .cgroups
                .iter()
                .find(|c| c.controllers.iter().any(|x| x == "name=systemd"))
            {
                let agent = release::ReleaseAgent::start(named.host_path.clone(), sandbox.pid1_raw)
                    .map_err(|e| Error::io("starting the sandbox's release agent thread", e))?;
                sandbox.release_agent = Some(agent);
            }
        }
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
                    let dir = h.mount_point.join(cg.trim_start_matches('/'));
                    // The parent too: systemd may remove the cgroup PID 1 was just read in
                    // (it trims init.scope in a hierarchy whose controller no unit needs any
                    // more, moving PID 1 up), and a command spawned right then would fail.
                    let parent = match cg.trim_end_matches('/').rsplit_once('/') {
                        Some((up, _)) if !up.is_empty() => {
                            h.mount_point.join(up.trim_start_matches('/'))
                        }
                        _ => dir.clone(),
                    };
                    [dir, parent].map(|d| c(&d.join("cgroup.procs").to_string_lossy()))
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
        self.release_agent = None;
        let mut live = live::lock(&self.live);
        // PID 1 first: the console closes once nothing in the sandbox holds it.
        let result = live.teardown();
        if let Some(c) = self.console.as_mut() {
            c.close();
        }
        result
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!(
                "sdbus-sandbox: teardown of sandbox {}: {}",
                self.id,
                error::Chain(&e)
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
