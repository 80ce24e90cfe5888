//! `linux.cgroupsPath` in systemd's `slice:prefix:name` form.

use super::invalid;
use crate::error::InputError;
use crate::names::{check_scope_name, check_slice_name};

/// A parsed systemd-style `linux.cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CgroupsPath {
    /// The parent slice (`system.slice` when the spec leaves it empty).
    pub slice: String,
    /// The unit to create: `PREFIX-NAME.scope`, or `NAME` itself when it is a slice.
    pub unit: String,
}

impl CgroupsPath {
    /// True when the unit is a slice (runc creates a slice when NAME ends in `.slice`).
    pub fn is_slice(&self) -> bool {
        self.unit.ends_with(".slice")
    }
}

/// Parses `linux.cgroupsPath` in the systemd form `slice:prefix:name`, with runc's rules
/// (`specconv.CreateCgroupConfig`, `getUnitName`, `ExpandSlice`): an empty path is
/// `system.slice:runc:<container_id>`; an empty slice is `system.slice`; NAME ending in
/// `.slice` is a slice, else the unit is `PREFIX-NAME.scope` (runc joins them even when
/// PREFIX is empty: `-NAME.scope`). A cgroupfs path (`/kubepods/...`) or a bad unit name
/// is an error.
///
/// # Errors
///
/// [`InputError::InvalidOciField`] for a cgroupfs path or a path without three fields,
/// [`InputError::InvalidUnitName`]/[`InputError::InvalidSliceName`] for a name systemd
/// would refuse.
pub fn parse_cgroups_path(path: &str, container_id: &str) -> Result<CgroupsPath, InputError> {
    const FIELD: &str = "linux.cgroupsPath";
    let bad = |reason| invalid(FIELD, path, reason);
    let (slice, prefix, name) = if path.is_empty() {
        ("", "runc", container_id)
    } else {
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(bad(
                "expected \"slice:prefix:name\" for systemd cgroups (a cgroupfs path?)",
            ));
        };
        (slice, prefix, name)
    };
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    let slice = if slice.is_empty() {
        "system.slice".to_owned()
    } else {
        check_slice_name(slice).map_err(|_| bad("invalid slice name"))?;
        slice.to_owned()
    };
    let unit = if name.ends_with(".slice") {
        check_slice_name(name).map_err(|_| bad("invalid slice name"))?;
        if name == "-.slice" {
            return Err(bad("the root slice cannot be a container's unit"));
        }
        name.to_owned()
    } else {
        format!("{prefix}-{name}.scope")
    };
    if unit.ends_with(".scope") {
        check_scope_name(&unit).map_err(|_| bad("not a valid scope name"))?;
    }
    Ok(CgroupsPath { slice, unit })
}
