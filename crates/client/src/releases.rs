//! Which systemd release accepts what this client sends, and how a release names itself.
//!
//! [`SINCE`] is the one table the client consults before it sends a unit property or calls
//! a manager method: an entry's release is the first upstream tag whose own sources accept
//! it, read in that tag's `src/core/` (systemd/systemd-stable, tags v219..v254): a property
//! counts as accepted when the tag's setter takes it (`bus_cgroup_set_property()` in
//! `dbus-cgroup.c`, `bus_unit_set_transient_property()` in `dbus-unit.c`,
//! `bus_scope_set_transient_property()` in `dbus-scope.c`), a method when the tag's
//! manager vtable in `dbus-manager.c` has it. v219 (RHEL/CentOS 7) is the oldest release
//! checked, so 219 means "219 or earlier". Before the first accepting release systemd
//! answers a property with `PropertyReadOnly: Cannot set property X, or unknown property`
//! and fails the whole `StartTransientUnit`, so a property below its release is left out
//! and reported ([`Skipped`](crate::Skipped)); a method below its release is
//! [`Error::Unsupported`](crate::Error::Unsupported) before anything is sent.

/// One row of [`SINCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    /// A unit property (`TasksMax`), a manager method (`FreezeUnit`), or one of the two
    /// value- or unit-type-specific rows: [`TRANSIENT_SLICE`] and [`CPU_WEIGHT_IDLE`].
    pub name: &'static str,
    /// The first systemd release that accepts it.
    pub release: u32,
    /// Where that release accepts it (file under `src/core/` and the function or table).
    pub source: &'static str,
}

/// `StartTransientUnit` for a `.slice`: slices became transient-capable in v228
/// (`.can_transient = true` in `src/core/slice.c`; v219's `method_start_transient_unit()`
/// answers "Unit type slice does not support transient units").
pub const TRANSIENT_SLICE: &str = "StartTransientUnit(slice)";

/// `CPUWeight=0`, systemd's `CGROUP_WEIGHT_IDLE` (cgroup v2 `cpu.idle`): v252's
/// `bus_cgroup_set_cpu_weight()` takes 0, earlier releases refuse it as out of range.
pub const CPU_WEIGHT_IDLE: &str = "CPUWeight=0";

const CGROUP: &str = "dbus-cgroup.c bus_cgroup_set_property()";
const UNIT: &str = "dbus-unit.c bus_unit_set_transient_property()";
const MANAGER: &str = "dbus-manager.c bus_manager_vtable";
/// The IO limit properties, one name per `cgroup_io_limit_type_from_string()` value.
const IO_LIMIT: &str =
    "dbus-cgroup.c bus_cgroup_set_property() (cgroup_io_limit_type_from_string())";

/// Property or method → the first release that accepts it, with the source that shows it.
/// Each row's release is the first tag of v219..v254 whose `src/core/dbus-{cgroup,unit,
/// scope,slice,manager}.c` names it, with the setter or vtable entry read at that tag; the
/// name is in every later tag up to v254. v219's setters were read in full.
pub const SINCE: &[Since] = &[
    // Transient-unit properties (any unit type).
    row("Description", 219, UNIT),
    row("Slice", 219, UNIT),
    row("DefaultDependencies", 219, UNIT),
    row(
        "Wants",
        219,
        "dbus-unit.c bus_unit_set_transient_property() (dependency list)",
    ),
    // Scope-only, while the scope is being created.
    row(
        "PIDs",
        219,
        "dbus-scope.c bus_scope_set_transient_property()",
    ),
    row(
        "OOMPolicy",
        253,
        "dbus-scope.c bus_scope_set_transient_property() (scopes; services had it from v243)",
    ),
    // cgroup context, v219's names (cgroup v1).
    row(
        "Delegate",
        219,
        "dbus-cgroup.c bus_cgroup_set_transient_property()",
    ),
    row("CPUAccounting", 219, CGROUP),
    row("CPUShares", 219, CGROUP),
    row("CPUQuotaPerSecUSec", 219, CGROUP),
    row("BlockIOAccounting", 219, CGROUP),
    row("BlockIOWeight", 219, CGROUP),
    row("BlockIODeviceWeight", 219, CGROUP),
    row("BlockIOReadBandwidth", 219, CGROUP),
    row("BlockIOWriteBandwidth", 219, CGROUP),
    row("MemoryAccounting", 219, CGROUP),
    row("MemoryLimit", 219, CGROUP),
    row("DevicePolicy", 219, CGROUP),
    row("DeviceAllow", 219, CGROUP),
    // Added later.
    row("TasksAccounting", 227, CGROUP),
    row("TasksMax", 227, CGROUP),
    row("IOAccounting", 230, CGROUP),
    row("IOWeight", 230, CGROUP),
    row("IODeviceWeight", 230, CGROUP),
    row("IOReadBandwidthMax", 230, IO_LIMIT),
    row("IOWriteBandwidthMax", 230, IO_LIMIT),
    row("IOReadIOPSMax", 230, IO_LIMIT),
    row("IOWriteIOPSMax", 230, IO_LIMIT),
    row("MemoryLow", 231, CGROUP),
    row("MemoryHigh", 231, CGROUP),
    row("MemoryMax", 231, CGROUP),
    row("MemorySwapMax", 232, CGROUP),
    row("CPUWeight", 232, CGROUP),
    row("MemoryMin", 240, CGROUP),
    row("CPUQuotaPeriodUSec", 242, CGROUP),
    row("AllowedCPUs", 244, CGROUP),
    row("AllowedMemoryNodes", 244, CGROUP),
    row(
        CPU_WEIGHT_IDLE,
        252,
        "dbus-cgroup.c bus_cgroup_set_cpu_weight() (CGROUP_WEIGHT_IDLE)",
    ),
    // Manager methods.
    row("StartTransientUnit", 219, MANAGER),
    row(TRANSIENT_SLICE, 228, "slice.c slice_vtable.can_transient"),
    row("StopUnit", 219, MANAGER),
    row("KillUnit", 219, MANAGER),
    row("ResetFailedUnit", 219, MANAGER),
    row("SetUnitProperties", 219, MANAGER),
    row("GetUnit", 219, MANAGER),
    row("Subscribe", 219, MANAGER),
    row("AttachProcessesToUnit", 238, MANAGER),
    row("FreezeUnit", 246, MANAGER),
    row("ThawUnit", 246, MANAGER),
];

const fn row(name: &'static str, release: u32, source: &'static str) -> Since {
    Since {
        name,
        release,
        source,
    }
}

/// The first release that accepts `name` (a row of [`SINCE`]), `None` for a name the table
/// does not know.
pub fn first_release(name: &str) -> Option<u32> {
    SINCE.iter().find(|s| s.name == name).map(|s| s.release)
}

/// Whether systemd `version` accepts `name`. A name missing from [`SINCE`] counts as not
/// accepted: the client never sends what it has not checked.
pub(crate) fn accepts(version: u32, name: &str) -> bool {
    first_release(name).is_some_and(|r| version >= r)
}

/// The release number of systemd's `Manager.Version` property: the leading number after an
/// optional `v`. Upstream's autotools releases report the bare number (v219's
/// `configure.ac` `AC_INIT([systemd], [219])`), meson releases their `GIT_VERSION`
/// (`241`, `v255`), distributions add their own suffix (Debian 12: `252.38-1~deb12u1`).
pub fn parse_version(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings_of_the_releases_we_meet_parse_to_their_number() {
        // v219 (autotools, AC_INIT), v241 (meson, GIT_VERSION of the tag), Debian 12.
        assert_eq!(parse_version("219"), Some(219));
        assert_eq!(parse_version("241"), Some(241));
        assert_eq!(parse_version("252.38-1~deb12u1"), Some(252));
        assert_eq!(parse_version("v255"), Some(255));
        assert_eq!(parse_version("v245.4-1.fc32"), Some(245));
        assert_eq!(parse_version(" 249\n"), Some(249));
        for bad in ["", "v", "abc", "-1", "vv255", "x219"] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn table_has_one_row_per_name_and_only_releases_from_219() {
        for (i, a) in SINCE.iter().enumerate() {
            assert!(a.release >= 219, "{} below the oldest release read", a.name);
            assert!(!a.source.is_empty());
            for b in &SINCE[i + 1..] {
                assert_ne!(a.name, b.name, "duplicate row");
            }
        }
    }

    #[test]
    fn v219_lacks_tasks_io_unified_memory_attach_freeze_and_transient_slices() {
        for name in [
            "TasksAccounting",
            "TasksMax",
            "IOAccounting",
            "IOWeight",
            "MemoryMax",
            "MemoryLow",
            "MemoryHigh",
            "MemorySwapMax",
            "CPUWeight",
            "AttachProcessesToUnit",
            "FreezeUnit",
            "ThawUnit",
            TRANSIENT_SLICE,
        ] {
            assert!(!accepts(219, name), "{name}");
        }
        for name in [
            "PIDs",
            "Delegate",
            "MemoryLimit",
            "CPUShares",
            "CPUQuotaPerSecUSec",
            "BlockIOWeight",
            "DeviceAllow",
            "Wants",
        ] {
            assert!(accepts(219, name), "{name}");
        }
    }

    #[test]
    fn v241_has_tasks_and_unified_names_but_not_period_cpuset_freeze() {
        for name in ["TasksMax", "IOWeight", "MemoryMin", "AttachProcessesToUnit"] {
            assert!(accepts(241, name), "{name}");
        }
        for name in [
            "CPUQuotaPeriodUSec",
            "AllowedCPUs",
            "FreezeUnit",
            CPU_WEIGHT_IDLE,
        ] {
            assert!(!accepts(241, name), "{name}");
        }
    }

    #[test]
    fn v252_has_everything_but_scope_oom_policy() {
        for s in SINCE {
            assert_eq!(accepts(252, s.name), s.name != "OOMPolicy", "{}", s.name);
        }
    }

    #[test]
    fn unknown_names_are_never_accepted() {
        assert_eq!(first_release("NoSuchProperty"), None);
        assert!(!accepts(u32::MAX, "NoSuchProperty"));
    }
}
