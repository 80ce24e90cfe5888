//! The minimal unit set the sandbox boots with (docs/ARCHITECTURE.md §7): a `default.target` that
//! pulls in the system bus, `dbus.socket`, `dbus.service` and `system.slice`, all without
//! default dependencies so that nothing else (journald, udev, mounts, …) is needed; plus
//! empty stand-ins for the standard targets (`sysinit.target`, `basic.target`,
//! `shutdown.target`, …) so units with default dependencies can start.
//! `SYSTEMD_UNIT_PATH` points at this directory only.

use std::path::Path;

use crate::error::Error;

/// Directory inside the sandbox holding the unit files.
pub(crate) const UNIT_DIR: &str = "/run/sdbus-sandbox/units";

pub(crate) fn default_units(dbus_daemon: &Path) -> Vec<(String, String)> {
    let dbus_daemon = dbus_daemon.display();
    let mut units: Vec<(String, String)> = vec![
        (
            "default.target".into(),
            "[Unit]\nDescription=sdbus-sandbox default target\nWants=dbus.socket dbus.service\n"
                .into(),
        ),
        (
            "dbus.socket".into(),
            "[Unit]\nDescription=D-Bus System Message Bus Socket\nDefaultDependencies=no\n\n\
             [Socket]\nListenStream=/run/dbus/system_bus_socket\n"
                .into(),
        ),
        (
            "dbus.service".into(),
            // As Debian's dbus.service, minus OOMScoreAdjust (a container may not lower it).
            format!(
                "[Unit]\nDescription=D-Bus System Message Bus\nDefaultDependencies=no\n\
                 Requires=dbus.socket\nAfter=dbus.socket\n\n\
                 [Service]\nType=notify\nNotifyAccess=main\n\
                 ExecStart={dbus_daemon} --system --address=systemd: --nofork --nopidfile \
                 --systemd-activation --syslog-only\n"
            ),
        ),
        (
            "system.slice".into(),
            "[Unit]\nDescription=System Slice\nDefaultDependencies=no\n".into(),
        ),
    ];
    // Units with default dependencies (every transient service, for one) require or order
    // against these; empty, they are reached at once instead of failing with NoSuchUnit.
    for target in [
        "sysinit",
        "basic",
        "sockets",
        "timers",
        "paths",
        "slices",
        "shutdown",
        "multi-user",
    ] {
        units.push((
            format!("{target}.target"),
            format!("[Unit]\nDescription=sdbus-sandbox {target} target (empty)\nDefaultDependencies=no\n"),
        ));
    }
    units
}

/// A unit file name must be a plain file name with a unit type suffix.
pub(crate) fn check_unit_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.contains('/')
        && !name.contains('\0')
        && name != "."
        && name != ".."
        && name
            .rsplit_once('.')
            .is_some_and(|(stem, suffix)| !stem.is_empty() && !suffix.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidOption {
            detail: format!("{name:?} is not a unit file name (like foo.service)"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_with_paths_or_without_suffix_are_rejected() {
        assert!(check_unit_name("foo.service").is_ok());
        for bad in ["", "foo", "../x.service", "a/b.service", ".service", "foo."] {
            assert!(check_unit_name(bad).is_err(), "{bad:?}");
        }
    }
}
