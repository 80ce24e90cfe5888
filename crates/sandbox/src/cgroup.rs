//! The host's cgroup hierarchies, and the per-sandbox subtree in each of them.
//!
//! Invariants: we only ever create, write into and remove directories named
//! `sandbox-<id>` (and what systemd creates below them); the parent cgroup of a
//! subtree is never modified. Removal is bottom-up and retried while the kernel
//! still reports the cgroup busy (tasks that were just killed are released
//! asynchronously).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Where the host keeps its cgroup mounts. Only hierarchies mounted here are mirrored.
pub(crate) const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How the host (and so the sandbox) lays out its cgroup hierarchies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupLayout {
    /// cgroup v1 only: a tmpfs on `/sys/fs/cgroup` holding one v1 mount per hierarchy.
    Legacy,
    /// cgroup v1 controllers plus a v2 hierarchy at `/sys/fs/cgroup/unified` (systemd's
    /// "hybrid" mode). Resource limits live in the v1 hierarchies (`MemoryLimit`).
    Hybrid,
    /// Pure cgroup v2: `/sys/fs/cgroup` is itself the cgroup2 mount (`MemoryMax`).
    Unified,
}

impl CgroupLayout {
    /// Whether systemd uses v2 resource control here (`MemoryMax`), as opposed to v1
    /// (`MemoryLimit`, `CPUShares`).
    pub fn is_unified(self) -> bool {
        self == CgroupLayout::Unified
    }
}

/// One cgroup hierarchy mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Host mount point, e.g. `/sys/fs/cgroup/memory` or `/sys/fs/cgroup` (v2 on unified).
    pub(crate) mount_point: PathBuf,
    /// Path of the mount point relative to `/sys/fs/cgroup` ("" for the unified root).
    pub(crate) rel_mount_point: String,
    /// `true` for cgroup2.
    pub(crate) v2: bool,
    /// Superblock options to pass to a fresh mount of the same hierarchy
    /// (`memory`, `name=systemd`, `cpu,cpuacct`; empty for v2).
    pub(crate) mount_data: String,
    /// Controllers (v1) or `name=` of the hierarchy, used to find our own cgroup in it.
    pub(crate) controllers: Vec<String>,
    /// The cgroup shown at the mount point (mountinfo's root field; `/` unless the host
    /// itself is a container that bind-mounted a subtree there).
    pub(crate) mount_root: String,
}

/// The host's cgroup setup as read from `/proc/self/mountinfo` and `/proc/self/cgroup`.
#[derive(Debug, Clone)]
pub(crate) struct HostCgroups {
    pub(crate) layout: CgroupLayout,
    pub(crate) hierarchies: Vec<Hierarchy>,
    /// Symlinks directly under `/sys/fs/cgroup` (e.g. `cpu -> cpu,cpuacct`), mirrored inside.
    pub(crate) symlinks: Vec<(String, PathBuf)>,
}

impl HostCgroups {
    pub(crate) fn detect() -> Result<HostCgroups, Error> {
        let (layout, hierarchies) = parse_mountinfo(&read("/proc/self/mountinfo")?)?;
        let mut symlinks = Vec::new();
        if layout != CgroupLayout::Unified {
            let entries = fs::read_dir(CGROUP_ROOT)
                .map_err(|e| Error::io(format!("reading {CGROUP_ROOT}"), e))?;
            for entry in entries.flatten() {
                if let Ok(target) = fs::read_link(entry.path()) {
                    symlinks.push((entry.file_name().to_string_lossy().into_owned(), target));
                }
            }
        }
        Ok(HostCgroups {
            layout,
            hierarchies,
            symlinks,
        })
    }

    /// The cgroup (relative to the hierarchy root) that process `pid` is in, per hierarchy.
    pub(crate) fn cgroups_of(&self, pid: &str) -> Result<Vec<String>, Error> {
        let path = format!("/proc/{pid}/cgroup");
        let text = read(&path)?;
        self.hierarchies
            .iter()
            .map(|h| {
                text.lines()
                    .filter_map(|l| {
                        let mut it = l.splitn(3, ':');
                        let (id, ctrl, cg) = (it.next()?, it.next()?, it.next()?);
                        let matches = if h.v2 {
                            id == "0" && ctrl.is_empty()
                        } else {
                            let set: Vec<&str> = ctrl.split(',').collect();
                            !h.controllers.is_empty()
                                && set.len() == h.controllers.len()
                                && h.controllers.iter().all(|c| set.contains(&c.as_str()))
                        };
                        // Relative to what is mounted at the mount point.
                        let root = h.mount_root.trim_end_matches('/');
                        let cg = match cg.strip_prefix(root) {
                            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
                            _ => cg,
                        };
                        matches.then(|| {
                            if cg.is_empty() {
                                "/".to_owned()
                            } else {
                                cg.to_owned()
                            }
                        })
                    })
                    .next()
                    .ok_or_else(|| Error::NoCgroups {
                        detail: format!(
                            "{path} has no line for the hierarchy at {}",
                            h.mount_point.display()
                        ),
                    })
            })
            .collect()
    }
}

/// The cgroup layout and hierarchies mounted under `/sys/fs/cgroup`, from mountinfo text.
fn parse_mountinfo(mountinfo: &str) -> Result<(CgroupLayout, Vec<Hierarchy>), Error> {
    let mut hierarchies = Vec::new();
    let mut root_fstype = None;
    for line in mountinfo.lines() {
        let Some(m) = MountInfoLine::parse(line) else {
            continue;
        };
        if m.mount_point == CGROUP_ROOT {
            // Several mounts may be stacked; the last one listed is the visible one.
            root_fstype = Some(m.fstype.to_owned());
        }
        let rel = match m.mount_point.strip_prefix(CGROUP_ROOT) {
            Some("") => String::new(),
            Some(r) if r.starts_with('/') => r[1..].to_owned(),
            _ => continue,
        };
        let h = match m.fstype {
            "cgroup2" => Hierarchy {
                mount_point: PathBuf::from(m.mount_point),
                rel_mount_point: rel,
                v2: true,
                mount_data: String::new(),
                controllers: Vec::new(),
                mount_root: m.root.to_owned(),
            },
            "cgroup" => {
                let opts: Vec<&str> = m
                    .super_options
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro"))
                    .collect();
                let controllers = opts
                    .iter()
                    .filter(|o| !o.contains('=') || o.starts_with("name="))
                    .filter(|o| {
                        !matches!(
                            **o,
                            "xattr" | "noprefix" | "none" | "clone_children" | "cpuset_v2_mode"
                        )
                    })
                    .map(|o| (*o).to_owned())
                    .collect();
                Hierarchy {
                    mount_point: PathBuf::from(m.mount_point),
                    rel_mount_point: rel,
                    v2: false,
                    mount_data: opts.join(","),
                    controllers,
                    mount_root: m.root.to_owned(),
                }
            }
            _ => continue,
        };
        // The same hierarchy mounted twice under /sys/fs/cgroup: keep the first.
        if !hierarchies
            .iter()
            .any(|o: &Hierarchy| o.mount_point == h.mount_point)
        {
            hierarchies.push(h);
        }
    }
    let layout = match root_fstype.as_deref() {
        Some("cgroup2") => CgroupLayout::Unified,
        Some("tmpfs") if hierarchies.iter().any(|h| h.v2) => CgroupLayout::Hybrid,
        Some("tmpfs") => CgroupLayout::Legacy,
        _ => {
            return Err(Error::NoCgroups {
                detail: format!("{CGROUP_ROOT} is not a cgroup2 or tmpfs mount"),
            })
        }
    };
    if layout == CgroupLayout::Unified {
        hierarchies.retain(|h| h.v2 && h.rel_mount_point.is_empty());
    }
    if hierarchies.is_empty() {
        return Err(Error::NoCgroups {
            detail: format!("no cgroup hierarchy is mounted under {CGROUP_ROOT}"),
        });
    }
    Ok((layout, hierarchies))
}

/// One line of `/proc/self/mountinfo`, borrowed.
pub(crate) struct MountInfoLine<'a> {
    pub(crate) root: &'a str,
    pub(crate) mount_point: &'a str,
    pub(crate) fstype: &'a str,
    pub(crate) super_options: &'a str,
}

impl<'a> MountInfoLine<'a> {
    pub(crate) fn parse(line: &'a str) -> Option<MountInfoLine<'a>> {
        let (left, right) = line.split_once(" - ")?;
        let mut l = left.split(' ');
        let root = l.nth(3)?;
        let mount_point = l.next()?;
        let mut r = right.split(' ');
        let fstype = r.next()?;
        let _source = r.next()?;
        let super_options = r.next()?;
        Some(MountInfoLine {
            root,
            mount_point,
            fstype,
            super_options,
        })
    }
}

/// A created subtree `<own cgroup>/sandbox-<id>` in one hierarchy.
#[derive(Debug, Clone)]
pub(crate) struct Subtree {
    pub(crate) dir: PathBuf,
}

/// Creates `sandbox-<name>` under `parents[i]` in every hierarchy. On error, removes
/// whatever it created.
pub(crate) fn create_subtrees(
    host: &HostCgroups,
    parents: &[String],
    name: &str,
) -> Result<Vec<Subtree>, Error> {
    let mut made: Vec<Subtree> = Vec::new();
    let result = (|| {
        for (h, parent) in host.hierarchies.iter().zip(parents) {
            let parent_dir = h.mount_point.join(parent.trim_start_matches('/'));
            let dir = parent_dir.join(name);
            fs::create_dir(&dir)
                .map_err(|e| Error::io(format!("creating cgroup {}", dir.display()), e))?;
            made.push(Subtree { dir: dir.clone() });
            if h.controllers.iter().any(|c| c == "cpuset") {
                // A v1 cpuset cgroup starts with empty cpus/mems and refuses tasks until both are set.
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    let value = read(parent_dir.join(file))?;
                    write(dir.join(file), value.trim())?;
                }
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(made),
        Err(e) => {
            for s in made.iter().rev() {
                let _ = remove_subtree(&s.dir, Duration::from_secs(2));
            }
            Err(e)
        }
    }
}

/// Removes the `sandbox-<pid>-…` subtrees whose owner no longer exists (it was SIGKILLed
/// or aborted, so its destructors never ran; its PID 1 died with it by the parent-death
/// signal), where this process creates its own: below `parents[i]` and at the top of each
/// hierarchy. Best effort: a tree that cannot be removed is reported on stderr and left.
///
/// The owner is the pid in the name, looked up in this PID namespace. A pid that exists is
/// taken as the owner, even if it was reused: a live sandbox is never touched, at the price
/// of keeping a stale tree until that pid is gone too. A tree that still has tasks is busy
/// (`EBUSY`), so a sandbox booted from another PID namespace loses nothing but the moment
/// between creating its directories and moving its PID 1 in.
pub(crate) fn remove_orphans(host: &HostCgroups, parents: &[String]) {
    for (h, parent) in host.hierarchies.iter().zip(parents) {
        let mut dirs = vec![h.mount_point.join(parent.trim_start_matches('/'))];
        if dirs[0] != h.mount_point {
            dirs.push(h.mount_point.clone());
        }
        for dir in dirs {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(owner) = name.to_str().and_then(sandbox_owner) else {
                    continue;
                };
                if owner_exists(owner) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                match remove_subtree(&entry.path(), Duration::ZERO) {
                    Ok(()) => {}
                    Err(Error::Teardown { source, .. })
                        if source.raw_os_error() == Some(libc::EBUSY) => {}
                    Err(e) => eprintln!(
                        "sdbus-sandbox: left {} of the gone process {owner}: {}",
                        entry.path().display(),
                        crate::error::Chain(&e)
                    ),
                }
            }
        }
    }
}

/// The owner's pid of a cgroup named `sandbox-<pid>-<n>-<nonce>` (the crate's id), or
/// `None` for any other name.
pub(crate) fn sandbox_owner(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix("sandbox-")?.split('-');
    let pid = parts.next()?.parse().ok()?;
    let n = parts.next()?;
    let nonce = parts.next()?;
    let ok = parts.next().is_none()
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && !nonce.is_empty()
        && nonce.bytes().all(|b| b.is_ascii_hexdigit());
    (ok && pid > 0).then_some(pid)
}

fn owner_exists(pid: u32) -> bool {
    // kill(pid, 0) says ESRCH only when no such process exists; EPERM means it does.
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Removes `dir` and every cgroup below it, children first. Retries `EBUSY` until `patience`
/// runs out: after SIGKILL the kernel needs a moment to release the dead tasks.
pub(crate) fn remove_subtree(dir: &Path, patience: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + patience;
    loop {
        match remove_once(dir) {
            Ok(()) => return Ok(()),
            Err((path, e))
                if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
            {
                let _ = path;
                thread::sleep(Duration::from_millis(10));
            }
            Err((path, e)) => return Err(Error::Teardown { path, source: e }),
        }
    }
}

fn remove_once(dir: &Path) -> Result<(), (PathBuf, io::Error)> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err((dir.to_owned(), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| (dir.to_owned(), e))?;
        // Only directories are child cgroups; the files are the interface and vanish with rmdir.
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_once(&entry.path())?;
        }
    }
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err((dir.to_owned(), e)),
    }
}

pub(crate) fn read(path: impl AsRef<Path>) -> Result<String, Error> {
    let path = path.as_ref();
    fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

pub(crate) fn write(path: impl AsRef<Path>, value: &str) -> Result<(), Error> {
    let path = path.as_ref();
    fs::write(path, value)
        .map_err(|e| Error::io(format!("writing {value:?} to {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_line_with_optional_fields_parses() {
        let l = "35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:7 - cgroup cgroup rw,memory";
        let m = MountInfoLine::parse(l).unwrap();
        assert_eq!(
            (m.mount_point, m.fstype, m.super_options),
            ("/sys/fs/cgroup/memory", "cgroup", "rw,memory")
        );
    }

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 27 0:38 / /elsewhere rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn hybrid_layout_mirrors_every_hierarchy_with_its_mount_options() {
        let (layout, hs) = parse_mountinfo(HYBRID).unwrap();
        assert_eq!(layout, CgroupLayout::Hybrid);
        let summary: Vec<(&str, bool, &str)> = hs
            .iter()
            .map(|h| (h.rel_mount_point.as_str(), h.v2, h.mount_data.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("cpu,cpuacct", false, "cpu,cpuacct"),
                ("memory", false, "memory"),
                ("systemd", false, "xattr,name=systemd"),
                ("unified", true, ""),
            ]
        );
        assert_eq!(hs[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(hs[2].controllers, ["name=systemd"]);
    }

    #[test]
    fn legacy_layout_has_no_v2_hierarchy() {
        let legacy: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        let (layout, hs) = parse_mountinfo(&legacy).unwrap();
        assert_eq!(layout, CgroupLayout::Legacy);
        assert_eq!(hs.len(), 3);
    }

    #[test]
    fn unified_layout_is_the_cgroup2_mount_on_sys_fs_cgroup() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";
        let (layout, hs) = parse_mountinfo(text).unwrap();
        assert_eq!(layout, CgroupLayout::Unified);
        assert_eq!(hs.len(), 1);
        assert!(hs[0].v2 && hs[0].rel_mount_point.is_empty());
        assert_eq!(hs[0].mount_point, Path::new("/sys/fs/cgroup"));
    }

    #[test]
    fn no_cgroup_mount_is_a_typed_error() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n";
        assert!(matches!(
            parse_mountinfo(text),
            Err(Error::NoCgroups { .. })
        ));
    }

    #[test]
    fn only_the_crates_own_ids_name_an_owner() {
        assert_eq!(sandbox_owner("sandbox-4242-0-1a2b3"), Some(4242));
        for other in [
            "sandbox-",
            "sandbox-0-0-1",
            "sandbox-x-0-1",
            "sandbox-12-0",
            "sandbox-12-0-",
            "sandbox-12-0-zz",
            "sandbox-12--1",
            "sandbox-12-0-1-2",
            "sandboxed-12-0-1",
            "system.slice",
        ] {
            assert_eq!(sandbox_owner(other), None, "{other}");
        }
    }

    #[test]
    fn a_gone_owner_is_told_from_a_live_one() {
        assert!(owner_exists(std::process::id()));
        assert!(owner_exists(1));
        // Above the kernel's pid_max (at most 2^22), so no process has it.
        assert!(!owner_exists(1 << 23));
    }

    #[test]
    fn host_layout_is_detected_and_every_hierarchy_has_our_cgroup() {
        let host = HostCgroups::detect().unwrap();
        assert!(!host.hierarchies.is_empty());
        let own = host.cgroups_of("self").unwrap();
        assert_eq!(own.len(), host.hierarchies.len());
    }
}
