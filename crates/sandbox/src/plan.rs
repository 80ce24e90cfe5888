//! The mount plan: what PID 1 does, step by step, before it execs systemd (the crate docs,
//! steps 2–4). Built in the parent, run by the child between `clone` and `exec`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::cgroup::CGROUP_ROOT;
use crate::launch::{c, Op, Plan, Step};
use crate::{units, CgroupLayout, Error, Sandbox, SandboxOptions};

impl Sandbox {
    /// Builds what PID 1 does before exec'ing systemd (see the crate docs, step 2–4).
    pub(crate) fn plan(&self, options: &SandboxOptions) -> Result<Plan, Error> {
        let mut steps = Vec::new();
        let mut step = |what: String, op: Op| steps.push(Step { op, what });
        step("set the parent-death signal".into(), Op::DieWithParent);
        let subtrees = crate::live::lock(&self.live).subtrees.clone();
        for s in &subtrees {
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
}
