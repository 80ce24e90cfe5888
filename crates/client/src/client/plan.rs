//! Which properties a unit gets: the input checks and the property plan for a scope,
//! gated by the systemd release.

use zbus::zvariant::Value;

use super::session::Session;
use super::{AsyncClient, Scope};
use crate::error::{Error, InputError, Result};
use crate::names::{check_description, check_scope_name, check_slice_name, check_unit_name};
use crate::releases::{self, Capabilities};
use crate::resources::{gate, CgroupMode, PropertyPlan};

pub(super) fn valid_pids(pids: &[u32]) -> Result<(), InputError> {
    if pids.is_empty() {
        return Err(InputError::NoPids);
    }
    if pids.contains(&0) {
        return Err(InputError::ZeroPid);
    }
    Ok(())
}

pub(super) fn check_any_unit(name: &str) -> Result<(), InputError> {
    let suffix = name.rfind('.').map(|i| &name[i..]).unwrap_or("");
    const TYPES: [&str; 11] = [
        ".service",
        ".socket",
        ".device",
        ".mount",
        ".automount",
        ".swap",
        ".target",
        ".path",
        ".timer",
        ".slice",
        ".scope",
    ];
    if !TYPES.contains(&suffix) {
        return Err(InputError::InvalidUnitName {
            name: name.to_owned(),
            reason: "unknown unit type",
        });
    }
    check_unit_name(name, suffix)
}

pub(super) fn unit_iface(unit: &str) -> &'static str {
    match unit.rsplit('.').next() {
        Some("scope") => "org.freedesktop.systemd1.Scope",
        Some("slice") => "org.freedesktop.systemd1.Slice",
        Some("service") => "org.freedesktop.systemd1.Service",
        Some("socket") => "org.freedesktop.systemd1.Socket",
        Some("mount") => "org.freedesktop.systemd1.Mount",
        Some("swap") => "org.freedesktop.systemd1.Swap",
        _ => "org.freedesktop.systemd1.Unit",
    }
}

pub(super) type Props = Vec<(&'static str, Value<'static>)>;

impl AsyncClient {
    /// `Error::Unsupported` unless this systemd accepts `what` (a row of `SINCE`).
    pub(super) fn need(&self, s: &Session, what: &'static str) -> Result<()> {
        if s.caps.check(what).is_ok() {
            return Ok(());
        }
        Err(Error::Unsupported {
            what,
            needs: releases::first_release(what).unwrap_or(u32::MAX),
            found: s.caps.version(),
        })
    }

    /// The property list [`start_scope`](crate::Client::start_scope) would send to a
    /// systemd that accepts `caps`, without sending anything (the connected one's:
    /// [`capabilities`](AsyncClient::capabilities); a release's by number:
    /// [`Capabilities::from_version`]).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid name, slice, pid list, description or limit.
    pub fn scope_properties(&self, scope: &Scope, caps: &Capabilities) -> Result<PropertyPlan> {
        self.scope_plan(scope, caps)
    }

    /// The property list for `scope` on a systemd that accepts `caps`.
    pub(super) fn scope_plan(&self, scope: &Scope, caps: &Capabilities) -> Result<PropertyPlan> {
        check_scope_name(&scope.name)?;
        if let Some(slice) = &scope.slice {
            check_slice_name(slice)?;
        }
        valid_pids(&scope.pids)?;
        if let Some(d) = &scope.description {
            check_description(d)?;
        }
        let mut props: Props = vec![(
            "Description",
            Value::from(
                scope
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("sdbus-cgroup scope {}", scope.name)),
            ),
        )];
        if let Some(slice) = &scope.slice {
            props.push(("Slice", Value::from(slice.clone())));
        }
        if scope.delegate {
            props.push(("Delegate", Value::Bool(true)));
        }
        props.push(("PIDs", Value::from(scope.pids.clone())));
        props.extend(self.accounting());
        props.push(("DefaultDependencies", Value::Bool(false)));
        let mut plan =
            scope
                .resources
                .plan(self.mode, caps, crate::resources::Apply::ScopeStart)?;
        props.extend(plan.properties);
        let properties = gate(props, caps, &mut plan.skipped);
        Ok(PropertyPlan {
            properties,
            skipped: plan.skipped,
        })
    }

    pub(super) fn accounting(&self) -> Props {
        let io = if self.mode == CgroupMode::Unified {
            "IOAccounting"
        } else {
            "BlockIOAccounting"
        };
        ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"]
            .into_iter()
            .map(|n| (n, Value::Bool(true)))
            .collect()
    }
}
