//! `linux.resources.devices`: the devices cgroup's rule list, as runc's
//! `devices/systemd.go` turns it into `DevicePolicy=` and `DeviceAllow=`, or an error where
//! systemd cannot express it.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::{invalid, Conv, R};
use crate::error::InputError;
use crate::resources::{DeviceAllow, DevicePolicy};

/// One device rule as the devices cgroup sees it: type `c` or `b`, `None` = wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    typ: char,
    major: Option<i64>,
    minor: Option<i64>,
    access: String,
}

impl Rule {
    fn covers(&self, other: &Rule) -> bool {
        self.typ == other.typ
            && (self.major.is_none() || self.major == other.major)
            && (self.minor.is_none() || self.minor == other.minor)
    }
}

/// runc's device emulator reduced to what systemd can hold: a deny-all list with allow
/// entries (`DevicePolicy=strict` + `DeviceAllow=`), or allow-all (`DevicePolicy=auto`).
/// A rule that would need a deny list, or a wildcard major with a fixed minor, is an error.
pub(super) fn devices(c: &mut Conv<'_>, rules: &[LinuxDeviceCgroup]) -> Result<(), InputError> {
    // The kernel's default for a new cgroup: everything allowed.
    let mut allow_all = true;
    let mut allowed: Vec<Rule> = Vec::new();
    for (i, d) in rules.iter().enumerate() {
        let field = format!("{R}.devices[{i}]");
        // runc's CreateCgroupConfig: "device access at N field cannot be empty".
        let access = d.access().clone().unwrap_or_default();
        if access.is_empty() || !access.chars().all(|ch| matches!(ch, 'r' | 'w' | 'm')) {
            return Err(invalid(
                format!("{field}.access"),
                access,
                "access must be a non-empty subset of rwm",
            ));
        }
        // "rrr" is not "rwm": its length must not make it count as all three.
        if access.len()
            != access
                .chars()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        {
            return Err(invalid(
                format!("{field}.access"),
                access,
                "access repeats a letter",
            ));
        }
        // -1 (or absent) is the wildcard; anything below is a mistake, not "any device".
        for (name, n) in [("major", d.major()), ("minor", d.minor())] {
            if let Some(n) = n.filter(|&n| n < -1) {
                return Err(invalid(
                    format!("{field}.{name}"),
                    n,
                    "below -1 (-1 or absent is the wildcard)",
                ));
            }
        }
        let typ = d.typ().unwrap_or_default();
        // runc's stringToCgroupDeviceRune takes a, b and c only; the devices cgroup has no
        // rules for the other node types.
        let types: &[char] = match typ {
            LinuxDeviceType::A => &['c', 'b'],
            LinuxDeviceType::C => &['c'],
            LinuxDeviceType::B => &['b'],
            LinuxDeviceType::U | LinuxDeviceType::P => {
                return Err(invalid(
                    field,
                    d.to_string(),
                    "the devices cgroup takes only types a, b and c",
                ))
            }
        };
        let (major, minor) = (d.major().filter(|&m| m >= 0), d.minor().filter(|&m| m >= 0));
        let everything = typ == LinuxDeviceType::A && major.is_none() && minor.is_none();
        if everything {
            if d.allow() && access.len() == 3 {
                allow_all = true;
                allowed.clear();
                continue;
            }
            if !d.allow() {
                // Deny all (with any access) starts a fresh allow list, as in runc.
                allow_all = false;
                allowed.clear();
                continue;
            }
        }
        if major.is_none() && minor.is_some() {
            return Err(invalid(
                field,
                d.to_string(),
                "systemd cannot express a wildcard major with a fixed minor",
            ));
        }
        for &t in types {
            let rule = Rule {
                typ: t,
                major,
                minor,
                access: access.clone(),
            };
            if allow_all {
                if d.allow() {
                    continue; // already allowed
                }
                return Err(invalid(
                    field,
                    d.to_string(),
                    "systemd cannot express a deny rule after allow-all (it has no deny list)",
                ));
            }
            if d.allow() {
                allowed.push(rule);
                continue;
            }
            // A deny in an allow list: take the access away from the entries it covers;
            // a wider allow entry that covers it cannot be split into systemd rules.
            for a in allowed.iter_mut() {
                if rule.covers(a) {
                    a.access.retain(|ch| !rule.access.contains(ch));
                } else if a.covers(&rule) && a.access.chars().any(|ch| rule.access.contains(ch)) {
                    return Err(invalid(
                        field.clone(),
                        d.to_string(),
                        "systemd cannot express a deny inside a wider allow rule",
                    ));
                }
            }
            allowed.retain(|a| !a.access.is_empty());
        }
    }
    if allow_all {
        c.out.device_policy = Some(DevicePolicy::Auto);
        return Ok(());
    }
    c.out.device_policy = Some(DevicePolicy::Strict);
    for a in allowed {
        let class = if a.typ == 'c' { "char" } else { "block" };
        // runc's devices/systemd.go: a fixed device is /dev/{char,block}/M:m, a wildcard
        // minor {char,block}-M, everything of a type {char,block}-* (systemd >= 240).
        let path = match (a.major, a.minor) {
            (Some(ma), Some(mi)) => format!("/dev/{class}/{ma}:{mi}"),
            (Some(ma), None) => format!("{class}-{ma}"),
            _ => format!("{class}-*"),
        };
        c.out.device_allow.push(DeviceAllow::new(path, a.access));
    }
    Ok(())
}
