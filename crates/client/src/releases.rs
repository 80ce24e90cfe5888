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
//!
//! A version number does not say everything a distribution's systemd takes: XCP-ng 8.3 and
//! CentOS 7 run a "219" with Red Hat's backports, which has `TasksAccounting`/`TasksMax`
//! (upstream: v227) and `CPUQuotaPeriodUSec` (upstream: v242). So on each connection the
//! client introspects the root slice `-.slice`, whose `org.freedesktop.systemd1.Slice`
//! interface carries systemd's cgroup-context vtable on every release from v219, and
//! [`Capabilities`] gates each cgroup-context property by whether it is listed there: the
//! vtable and `bus_cgroup_set_property()` name the same properties in every tree read
//! (v219, v239, v241, v252, XCP-ng 8.3). The version table stays the rule for everything
//! else and the fallback for all of it:
//!
//! - unit-level and scope-only properties (`Description`, `PIDs`, `OOMPolicy`, ...) and
//!   manager methods are not on that interface, so introspecting it says nothing of them;
//! - a value's meaning (`CPUWeight=0` as cpu.idle, major:minor device rules) is not
//!   visible in an introspection;
//! - introspection may fail (an error reply, a reply without the interface), and the client
//!   then still sends only what the release is known to take.

use std::collections::BTreeSet;

/// One row of [`SINCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Since {
    /// A unit property (`TasksMax`), a manager method (`FreezeUnit`), or one of the two
    /// value- or unit-type-specific rows: [`TRANSIENT_SLICE`] and [`CPU_WEIGHT_IDLE`].
    pub name: &'static str,
    /// The first systemd release that accepts it.
    pub release: u32,
    /// Where that release accepts it (file under `src/core/` and the function or table).
    pub source: &'static str,
    /// True for a cgroup-context property: one that systemd's `bus_cgroup_vtable` lists on
    /// every unit type with a cgroup, `org.freedesktop.systemd1.Slice` included, in the
    /// same release whose setter takes it. Only these rows can be checked against what the
    /// running PID 1 exposes ([`Capabilities`]); the others (unit-level and scope-only
    /// properties, methods, value rows) are judged by `release` alone.
    pub cgroup_context: bool,
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
    cg(
        "Delegate",
        219,
        "dbus-cgroup.c bus_cgroup_set_transient_property()",
    ),
    cg("CPUAccounting", 219, CGROUP),
    cg("CPUShares", 219, CGROUP),
    cg("CPUQuotaPerSecUSec", 219, CGROUP),
    cg("BlockIOAccounting", 219, CGROUP),
    cg("BlockIOWeight", 219, CGROUP),
    cg("BlockIODeviceWeight", 219, CGROUP),
    cg("BlockIOReadBandwidth", 219, CGROUP),
    cg("BlockIOWriteBandwidth", 219, CGROUP),
    cg("MemoryAccounting", 219, CGROUP),
    cg("MemoryLimit", 219, CGROUP),
    cg("DevicePolicy", 219, CGROUP),
    cg("DeviceAllow", 219, CGROUP),
    // Added later.
    cg("TasksAccounting", 227, CGROUP),
    cg("TasksMax", 227, CGROUP),
    cg("IOAccounting", 230, CGROUP),
    cg("IOWeight", 230, CGROUP),
    cg("IODeviceWeight", 230, CGROUP),
    cg("IOReadBandwidthMax", 230, IO_LIMIT),
    cg("IOWriteBandwidthMax", 230, IO_LIMIT),
    cg("IOReadIOPSMax", 230, IO_LIMIT),
    cg("IOWriteIOPSMax", 230, IO_LIMIT),
    cg("MemoryLow", 231, CGROUP),
    cg("MemoryHigh", 231, CGROUP),
    cg("MemoryMax", 231, CGROUP),
    cg("MemorySwapMax", 232, CGROUP),
    cg("CPUWeight", 232, CGROUP),
    cg("MemoryMin", 240, CGROUP),
    cg("CPUQuotaPeriodUSec", 242, CGROUP),
    cg("AllowedCPUs", 244, CGROUP),
    cg("AllowedMemoryNodes", 244, CGROUP),
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
        cgroup_context: false,
    }
}

/// A cgroup-context row (see [`Since::cgroup_context`]).
const fn cg(name: &'static str, release: u32, source: &'static str) -> Since {
    Since {
        cgroup_context: true,
        ..row(name, release, source)
    }
}

/// The first release that accepts `name` (a row of [`SINCE`]), `None` for a name the table
/// does not know.
pub fn first_release(name: &str) -> Option<u32> {
    SINCE.iter().find(|s| s.name == name).map(|s| s.release)
}

/// Whether systemd `version` accepts `name`. A name missing from [`SINCE`] counts as not
/// accepted: the client never sends what it has not checked.
#[cfg(test)]
fn accepts(version: u32, name: &str) -> bool {
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

/// What one running systemd accepts: its release number and, when the introspection of
/// `-.slice` worked, the cgroup-context properties it exposes (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    version: u32,
    /// Property names of `org.freedesktop.systemd1.Slice` on `-.slice`; `None` when the
    /// introspection failed or was not done, and the version table decides.
    exposed: Option<BTreeSet<String>>,
}

/// Why [`Capabilities::check`] refuses a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// A cgroup-context property the running systemd does not list on `-.slice`.
    NotExposed,
    /// Judged by the release: the first release that accepts it is newer than the running
    /// one.
    NeedsRelease(u32),
    /// A name [`SINCE`] does not know; the client never sends what it has not checked.
    Unknown,
}

/// The interface whose properties the introspection reads.
const SLICE_IFACE: &str = "org.freedesktop.systemd1.Slice";
/// Caps on what a peer's introspection can make the client keep: systemd v252's Slice
/// interface lists about 120 properties, every name shorter than 64 bytes.
const MAX_EXPOSED: usize = 1024;
const MAX_NAME: usize = 255;

impl Capabilities {
    /// Judged by the release number alone (the table [`SINCE`]).
    pub fn from_version(version: u32) -> Capabilities {
        Capabilities {
            version,
            exposed: None,
        }
    }

    /// The release number plus the answer of
    /// `org.freedesktop.DBus.Introspectable.Introspect` on `-.slice`'s object
    /// (`/org/freedesktop/systemd1/unit/_2d_2eslice`). XML without the
    /// `org.freedesktop.systemd1.Slice` interface, or over the caps on what it may list,
    /// counts as no introspection: the version table decides.
    pub fn from_introspection(version: u32, xml: &str) -> Capabilities {
        Capabilities {
            version,
            exposed: slice_properties(xml),
        }
    }

    /// The release number (`Manager.Version`, parsed by [`parse_version`]).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether the cgroup-context properties are judged by what systemd exposes (true) or
    /// by the release table (false).
    pub fn introspected(&self) -> bool {
        self.exposed.is_some()
    }

    /// Whether this systemd accepts `name` (a row of [`SINCE`]): a cgroup-context property
    /// when it is exposed on `-.slice` (if introspected), anything else when its first
    /// release is not newer than [`version`](Capabilities::version).
    ///
    /// # Errors
    ///
    /// [`Refusal`] says why the client must not send it.
    pub fn check(&self, name: &str) -> Result<(), Refusal> {
        let Some(row) = SINCE.iter().find(|s| s.name == name) else {
            return Err(Refusal::Unknown);
        };
        match &self.exposed {
            Some(exposed) if row.cgroup_context => {
                if exposed.contains(name) {
                    Ok(())
                } else {
                    Err(Refusal::NotExposed)
                }
            }
            _ if self.version >= row.release => Ok(()),
            _ => Err(Refusal::NeedsRelease(row.release)),
        }
    }
}

/// The property names of the Slice interface in an introspection document, or `None` when
/// it has no such interface or exceeds the caps. A scan, not an XML parser: sd-bus writes
/// one element per line with double-quoted attributes (`introspect_write_interface()` in
/// `sd-bus/bus-introspect.c`), and anything else yields `None`, never a guess.
fn slice_properties(xml: &str) -> Option<BTreeSet<String>> {
    let open = format!("<interface name=\"{SLICE_IFACE}\">");
    let start = xml.find(&open)? + open.len();
    let body = &xml[start..];
    let body = &body[..body.find("</interface>")?];
    let mut names = BTreeSet::new();
    for (i, chunk) in body.split("<property ").enumerate() {
        if i == 0 {
            continue;
        }
        let rest = chunk.trim_start().strip_prefix("name=\"")?;
        let name = &rest[..rest.find('"')?];
        let valid = !name.is_empty()
            && name.len() <= MAX_NAME
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid || names.len() == MAX_EXPOSED {
            return None;
        }
        names.insert(name.to_owned());
    }
    // An interface without properties is not what any release writes: no evidence.
    (!names.is_empty()).then_some(names)
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

    const UPSTREAM_219: &str = include_str!("releases/219-upstream.xml");
    const XCP_NG_219: &str = include_str!("releases/219-xcp-ng-8.3.xml");

    #[test]
    fn backported_219_that_exposes_tasks_max_gets_it_upstream_219_does_not() {
        let xcp = Capabilities::from_introspection(219, XCP_NG_219);
        assert!(xcp.introspected());
        for name in [
            "TasksAccounting",
            "TasksMax",
            "CPUQuotaPeriodUSec",
            "MemoryLimit",
        ] {
            assert_eq!(xcp.check(name), Ok(()), "{name}");
        }
        let upstream = Capabilities::from_introspection(219, UPSTREAM_219);
        assert!(upstream.introspected());
        for name in [
            "TasksAccounting",
            "TasksMax",
            "CPUQuotaPeriodUSec",
            "IOWeight",
        ] {
            assert_eq!(upstream.check(name), Err(Refusal::NotExposed), "{name}");
        }
        for name in ["Delegate", "CPUShares", "DeviceAllow", "BlockIOWeight"] {
            assert_eq!(upstream.check(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_off_the_slice_interface_are_judged_by_the_release_even_when_introspected() {
        let xcp = Capabilities::from_introspection(219, XCP_NG_219);
        // Unit-level, scope-only, methods and value rows: not on the interface.
        for name in [
            "Description",
            "PIDs",
            "Wants",
            "StartTransientUnit",
            "StopUnit",
        ] {
            assert_eq!(xcp.check(name), Ok(()), "{name}");
        }
        assert_eq!(xcp.check("OOMPolicy"), Err(Refusal::NeedsRelease(253)));
        assert_eq!(xcp.check("FreezeUnit"), Err(Refusal::NeedsRelease(246)));
        assert_eq!(xcp.check(TRANSIENT_SLICE), Err(Refusal::NeedsRelease(228)));
        assert_eq!(xcp.check(CPU_WEIGHT_IDLE), Err(Refusal::NeedsRelease(252)));
        assert_eq!(xcp.check("NoSuchProperty"), Err(Refusal::Unknown));
    }

    #[test]
    fn only_the_slice_interface_counts_and_a_document_without_it_falls_back_to_the_table() {
        // The Unit interface lists "Names" and "Id": not cgroup-context properties.
        let xcp = slice_properties(XCP_NG_219).unwrap();
        assert!(!xcp.contains("Id") && !xcp.contains("Names"));
        assert!(xcp.contains("TasksMax") && xcp.contains("ControlGroup"));
        for bad in [
            "",
            "<node/>",
            "<node><interface name=\"org.freedesktop.systemd1.Slice\"></interface></node>",
            "<node><interface name=\"org.freedesktop.systemd1.Slice\"><property name=\"Tasks Max\"/></interface></node>",
            "<node><interface name=\"org.freedesktop.systemd1.Slice\"><property name=\"TasksMax\"/>",
        ] {
            let c = Capabilities::from_introspection(219, bad);
            assert!(!c.introspected(), "{bad:?}");
            assert_eq!(c.check("TasksMax"), Err(Refusal::NeedsRelease(227)), "{bad:?}");
            assert_eq!(c.check("CPUShares"), Ok(()), "{bad:?}");
        }
    }

    #[test]
    fn an_introspection_listing_more_names_than_the_cap_is_no_evidence() {
        let mut xml = String::from("<interface name=\"org.freedesktop.systemd1.Slice\">");
        for i in 0..=MAX_EXPOSED {
            xml.push_str(&format!("<property name=\"P{i}\"/>"));
        }
        xml.push_str("</interface>");
        assert_eq!(slice_properties(&xml), None);
    }

    #[test]
    fn cgroup_context_rows_are_the_dbus_cgroup_setters() {
        for s in SINCE {
            let cgroup_setter = s.source.starts_with("dbus-cgroup.c") && s.name != CPU_WEIGHT_IDLE;
            assert_eq!(s.cgroup_context, cgroup_setter, "{}", s.name);
        }
    }

    #[test]
    fn unknown_names_are_never_accepted() {
        assert_eq!(first_release("NoSuchProperty"), None);
        assert!(!accepts(u32::MAX, "NoSuchProperty"));
    }
}
