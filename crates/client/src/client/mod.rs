//! The client: one connection, reused, replaced on the next operation after a loss; every
//! operation bounded by a deadline.
//!
//! [`AsyncClient`] is the one implementation: each operation is a future that waits on an
//! event with an `async_io::Timer` deadline, so it runs on any executor. Container runtimes
//! often call systemd from synchronous code (runc, crun, conmon): [`Client`] runs the same
//! futures with `block_on`. zbus runs its socket on its own executor thread and one reader
//! thread per connection routes replies (see `conn`); nobody waits on the socket itself.
//!
//! This module holds [`AsyncClient`]'s operations; around it: `target.rs` (where to connect,
//! the deadlines), `units.rs` (what a caller asks for and gets back), `session.rs` (the
//! handshake and the reconnect), `plan.rs` (input checks and the release-gated property
//! plan), `stats.rs` (the health report), `blocking.rs` ([`Client`]).

mod blocking;
mod plan;
mod session;
mod stats;
mod target;
mod units;

pub use blocking::Client;
pub use stats::{PeerWatch, Stats};
pub use target::{Options, Target, Timeouts};
#[cfg(feature = "test-support")]
pub use units::PingTarget;
#[cfg(not(feature = "test-support"))]
use units::PingTarget;
pub use units::{Scope, Slice, Started};

use plan::{check_any_unit, unit_iface, valid_pids, Props};
use session::Session;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::conn::{Counters, Dest, Request, BUS_NAME, MANAGER_IFACE, SYSTEMD_PATH};
use crate::error::{job_outcome, Cause, Error, InputError, Result, Step};
use crate::names::{check_description, check_slice_name, parent_slice};
use crate::releases::{Capabilities, TRANSIENT_SLICE};
use crate::resources::{gate, Apply, CgroupMode, PropertyPlan, PropertyValue, Resources, Skipped};

/// The systemd cgroup client as futures: every operation of [`Client`], with the same
/// deadlines and errors, on any executor (tokio, async-io, smol, ...). `Send + Sync`; its
/// futures are `Send`. Dropping an operation's future abandons it: its cookie stays
/// quarantined until the late reply, like a timeout.
///
/// ```no_run
/// # async fn demo() -> sdbus_cgroup::Result<()> {
/// use sdbus_cgroup::{AsyncClient, Options, Scope, Target};
///
/// let client = AsyncClient::connect(Target::SystemBus, Options::default()).await?;
/// let scope = Scope::new("runc-demo.scope", vec![std::process::id()]);
/// client.start_scope(&scope).await?;
/// client.stop("runc-demo.scope").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncClient {
    target: Target,
    opts: Options,
    mode: CgroupMode,
    /// The live session; held only to read or swap it, never across I/O, so `stats()`
    /// answers at once even while a reconnect waits for a stalled peer.
    session: Mutex<Option<Arc<Session>>>,
    /// Serializes handshakes (one reconnect at a time).
    connecting: async_lock::Mutex<()>,
    counters: Arc<Counters>,
}

impl AsyncClient {
    /// A client for `target`. Connects lazily, on the first operation.
    pub fn new(target: Target, opts: Options) -> AsyncClient {
        AsyncClient {
            target,
            mode: opts.cgroup_mode.unwrap_or_else(CgroupMode::detect),
            opts,
            session: Mutex::new(None),
            connecting: async_lock::Mutex::new(()),
            counters: Arc::new(Counters::default()),
        }
    }

    /// A client connected now (so connection errors surface here).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the socket, the authentication or a handshake call fails
    /// or its deadline passes; [`Error::Timeout`] with [`Step::Operation`] when
    /// [`Timeouts::operation`] passes first.
    pub async fn connect(target: Target, opts: Options) -> Result<AsyncClient> {
        let c = AsyncClient::new(target, opts);
        c.bounded(None, c.session()).await?;
        Ok(c)
    }

    /// Runs one operation under [`Timeouts::operation`]: whatever it is waiting for when
    /// the deadline passes (a reconnect, a call, a job) is abandoned the way a dropped
    /// future is (a call's cookie stays quarantined until its late reply).
    async fn bounded<T>(
        &self,
        unit: Option<&str>,
        op: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let after = self.opts.timeouts.operation;
        let deadline = async {
            async_io::Timer::after(after).await;
            Err(Error::Timeout {
                unit: unit.map(str::to_owned),
                step: Step::Operation,
                after,
            })
        };
        futures_lite::future::or(op, deadline).await
    }

    /// The options the client was made with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The cgroup mode used for property names.
    pub fn cgroup_mode(&self) -> CgroupMode {
        self.mode
    }

    async fn manager<B>(
        &self,
        s: &Session,
        member: &str,
        body: &B,
        unit: &str,
        step: Step,
    ) -> Result<zbus::Message>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType + Sync,
    {
        s.conn
            .call(Request {
                dest: Dest::Systemd,
                path: SYSTEMD_PATH,
                iface: MANAGER_IFACE,
                member,
                body,
                unit,
                step,
                timeout: self.opts.timeouts.call,
                sealed: None,
            })
            .await
            .map(|r| r.message)
    }

    /// systemd's version (read once per connection).
    ///
    /// # Errors
    ///
    /// the connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn version(&self) -> Result<u32> {
        self.bounded(None, async { Ok(self.session().await?.caps.version()) })
            .await
    }

    /// What the connected systemd accepts: its release and, when the introspection of
    /// `-.slice` worked, the cgroup properties it exposes (read once per connection; see
    /// [`releases`](crate::releases)).
    ///
    /// # Errors
    ///
    /// Connecting fails ([`Error::Connect`]).
    pub async fn capabilities(&self) -> Result<Capabilities> {
        self.bounded(None, async { Ok(self.session().await?.caps.clone()) })
            .await
    }

    /// Creates a transient scope for running processes, with limits, and waits for its job.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid name, slice, pid list, description or limit (nothing
    /// is sent); [`Error::Dbus`] when systemd refuses the unit (a leftover unit of the
    /// name, `UnitExists`, is reset and the start retried once first); [`Error::JobFailed`]
    /// when the start job ends other than `done` (the failed unit is reset); the
    /// connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn start_scope(&self, scope: &Scope) -> Result<Started> {
        self.bounded(Some(&scope.name), async {
            // Validate before connecting: bad input causes no traffic at all.
            self.scope_plan(scope, &Capabilities::from_version(u32::MAX))?;
            let s = self.session().await?;
            let plan = self.scope_plan(scope, &s.caps)?;
            self.start_transient(&scope.name, plan).await
        })
        .await
    }

    /// Creates a transient slice with limits and waits for its job. A slice of that name
    /// that already exists and is active is success (`Started::existed`, no job, limits
    /// unchanged: use [`set_resources`](AsyncClient::set_resources)); a failed one is
    /// reset and started again.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid name, description or limit, or the root slice
    /// (nothing is sent); [`Error::Unsupported`] on systemd < 228 (no transient slices);
    /// [`Error::Dbus`] when systemd refuses the unit; [`Error::JobFailed`] when the start
    /// job ends other than `done`; the connection's errors: [`Error::Connect`] when
    /// (re)connecting fails, [`Error::Timeout`] when a call's or job's deadline or
    /// [`Timeouts::operation`] passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn start_slice(&self, slice: &Slice) -> Result<Started> {
        self.bounded(Some(&slice.name), async {
            let build = |caps: &Capabilities| -> Result<PropertyPlan> {
                check_slice_name(&slice.name)?;
                if slice.name == "-.slice" {
                    return Err(InputError::InvalidSliceName {
                        name: slice.name.clone(),
                        reason: "the root slice always exists",
                    }
                    .into());
                }
                if let Some(d) = &slice.description {
                    check_description(d)?;
                }
                let mut props: Props = vec![(
                    "Description",
                    Value::from(
                        slice
                            .description
                            .clone()
                            .unwrap_or_else(|| format!("sdbus-cgroup slice {}", slice.name)),
                    ),
                )];
                // runc: a slice's parent is pulled in with Wants= (its place is in the name).
                if let Some(parent) = parent_slice(&slice.name).filter(|p| p != "-.slice") {
                    props.push(("Wants", Value::from(vec![parent])));
                }
                props.extend(self.accounting());
                props.push(("DefaultDependencies", Value::Bool(false)));
                let mut plan = slice.resources.plan(self.mode, caps, Apply::SliceStart)?;
                props.extend(plan.properties);
                let properties = gate(props, caps, &mut plan.skipped);
                Ok(PropertyPlan {
                    properties,
                    skipped: plan.skipped,
                })
            };
            build(&Capabilities::from_version(u32::MAX))?;
            let s = self.session().await?;
            self.need(&s, TRANSIENT_SLICE)?;
            let plan = build(&s.caps)?;
            self.start_transient(&slice.name, plan).await
        })
        .await
    }

    async fn start_transient(&self, unit: &str, plan: PropertyPlan) -> Result<Started> {
        let mut retried = false;
        loop {
            let s = self.session().await?;
            let interest = s.conn.job_interest();
            let aux: Vec<(&str, Vec<(&str, Value<'_>)>)> = Vec::new();
            let res = self
                .manager(
                    &s,
                    "StartTransientUnit",
                    &(unit, "replace", &plan.properties, aux),
                    unit,
                    Step::StartTransientUnit,
                )
                .await;
            match res {
                Ok(reply) => {
                    let job: OwnedObjectPath = body(&reply, unit, Step::StartTransientUnit)?;
                    if let Err(e) = self.finish_job(&s, unit, job.as_str()).await {
                        if matches!(e, Error::JobFailed { .. }) {
                            // Like runc: leave no failed unit behind. The job's failure is
                            // the error to report; should this cleanup fail too, the next
                            // start of the name resets it (UnitExists → reset-failed).
                            self.reset_failed(unit).await.ok();
                        }
                        return Err(e);
                    }
                    drop(interest);
                    return Ok(Started {
                        unit: unit.to_owned(),
                        job: Some(job.as_str().to_owned()),
                        retried,
                        existed: false,
                        skipped: plan.skipped,
                    });
                }
                // A slice that already exists and is active is what the caller asked for
                // (kubelet creates pod slices this way; runc ignores UnitExists for slices).
                // Its limits are left as they are: change them with set_resources.
                Err(e) if e.is_unit_exists() && unit.ends_with(".slice") => {
                    drop(interest);
                    let active = match self.unit_state(unit, "ActiveState").await {
                        Ok(state) => state == "active",
                        Err(_) => false,
                    };
                    if active {
                        return Ok(Started {
                            unit: unit.to_owned(),
                            job: None,
                            retried,
                            existed: true,
                            skipped: plan.skipped,
                        });
                    }
                    if retried {
                        return Err(e);
                    }
                    retried = true;
                    match self.reset_failed(unit).await {
                        Ok(()) => {}
                        Err(r) if r.is_no_such_unit() => {}
                        Err(_) => return Err(e),
                    }
                }
                // runc: a leftover (failed) unit of the same name; reset it so systemd can
                // garbage-collect it, and retry once.
                Err(e) if e.is_unit_exists() && !retried => {
                    drop(interest);
                    retried = true;
                    match self.reset_failed(unit).await {
                        Ok(()) => {}
                        Err(r) if r.is_no_such_unit() => {}
                        Err(_) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn finish_job(&self, s: &Session, unit: &str, job: &str) -> Result<()> {
        let done = s.conn.wait_job(job, unit, self.opts.timeouts.job).await?;
        job_outcome(unit, job, done.unit, done.result)
    }

    /// Changes limits of a running unit (`SetUnitProperties`, runtime-only like runc).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name or limit (nothing is sent);
    /// [`Error::Dbus`] when systemd refuses the change (`NoSuchUnit`, ...); the
    /// connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn set_resources(&self, unit: &str, resources: &Resources) -> Result<Vec<Skipped>> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            resources.plan(
                self.mode,
                &Capabilities::from_version(u32::MAX),
                Apply::Update,
            )?;
            let s = self.session().await?;
            let plan = resources.plan(self.mode, &s.caps, Apply::Update)?;
            if plan.properties.is_empty() {
                return Ok(plan.skipped);
            }
            self.manager(
                &s,
                "SetUnitProperties",
                &(unit, true, &plan.properties),
                unit,
                Step::SetUnitProperties,
            )
            .await?;
            Ok(plan.skipped)
        })
        .await
    }

    /// Moves processes into a running unit (`AttachProcessesToUnit`, systemd >= 238; older
    /// releases give `Error::Unsupported` without a call).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name or pid list; [`Error::Unsupported`] on
    /// systemd < 238; [`Error::Dbus`] when systemd refuses (a pid it cannot see, no such
    /// unit); the connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn attach(&self, unit: &str, pids: &[u32]) -> Result<()> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            valid_pids(pids)?;
            let s = self.session().await?;
            self.need(&s, "AttachProcessesToUnit")?;
            self.manager(
                &s,
                "AttachProcessesToUnit",
                &(unit, "", pids),
                unit,
                Step::AttachProcessesToUnit,
            )
            .await?;
            Ok(())
        })
        .await
    }

    /// Freezes every process of the unit (`FreezeUnit`, systemd >= 246, cgroup v2 freezer;
    /// older releases give `Error::Unsupported` without a call).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name; [`Error::Unsupported`] on systemd < 246;
    /// [`Error::Dbus`] when systemd refuses (no such unit, no cgroup v2 freezer); the
    /// connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn freeze(&self, unit: &str) -> Result<()> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            let s = self.session().await?;
            self.need(&s, "FreezeUnit")?;
            self.manager(&s, "FreezeUnit", &(unit,), unit, Step::FreezeUnit)
                .await?;
            Ok(())
        })
        .await
    }

    /// Thaws a frozen unit (`ThawUnit`).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name; [`Error::Unsupported`] on systemd < 246;
    /// [`Error::Dbus`] when systemd refuses; the connection's errors: [`Error::Connect`]
    /// when (re)connecting fails, [`Error::Timeout`] when a call's or job's deadline or
    /// [`Timeouts::operation`] passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn thaw(&self, unit: &str) -> Result<()> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            let s = self.session().await?;
            self.need(&s, "ThawUnit")?;
            self.manager(&s, "ThawUnit", &(unit,), unit, Step::ThawUnit)
                .await?;
            Ok(())
        })
        .await
    }

    /// Sends `signal` to every process of the unit (`KillUnit(name, "all", signal)`).
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name or a signal outside 1..=64;
    /// [`Error::Dbus`] when systemd refuses (no such unit, no process to signal); the
    /// connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn kill(&self, unit: &str, signal: i32) -> Result<()> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            if !(1..=64).contains(&signal) {
                return Err(InputError::InvalidSignal(signal).into());
            }
            let s = self.session().await?;
            self.manager(&s, "KillUnit", &(unit, "all", signal), unit, Step::KillUnit)
                .await?;
            Ok(())
        })
        .await
    }

    /// Stops the unit, waits for the job, then resets its failed state so nothing is left.
    /// A unit that does not exist counts as stopped.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name; [`Error::Dbus`] when systemd refuses the
    /// stop (other than `NoSuchUnit`); [`Error::JobFailed`] when the stop job ends other
    /// than `done`; the connection's errors: [`Error::Connect`] when (re)connecting fails,
    /// [`Error::Timeout`] when a call's or job's deadline or [`Timeouts::operation`]
    /// passes, [`Error::Disconnected`] when the connection is lost.
    pub async fn stop(&self, unit: &str) -> Result<()> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            let s = self.session().await?;
            let interest = s.conn.job_interest();
            match self
                .manager(&s, "StopUnit", &(unit, "replace"), unit, Step::StopUnit)
                .await
            {
                Ok(reply) => {
                    let job: OwnedObjectPath = body(&reply, unit, Step::StopUnit)?;
                    self.finish_job(&s, unit, job.as_str()).await?;
                }
                Err(e) if e.is_no_such_unit() => {}
                Err(e) => return Err(e),
            }
            drop(interest);
            match self.reset_failed(unit).await {
                Err(e) if !e.is_no_such_unit() => Err(e),
                _ => Ok(()),
            }
        })
        .await
    }

    /// Resets the unit's failed state (`ResetFailedUnit`), so systemd can unload it.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name; [`Error::Dbus`] when systemd refuses
    /// (`NoSuchUnit` for a unit it has not loaded); the connection's errors:
    /// [`Error::Connect`] when (re)connecting fails, [`Error::Timeout`] when a call's or
    /// job's deadline or [`Timeouts::operation`] passes, [`Error::Disconnected`] when the
    /// connection is lost.
    pub async fn reset_failed(&self, unit: &str) -> Result<()> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            let s = self.session().await?;
            self.manager(&s, "ResetFailedUnit", &(unit,), unit, Step::ResetFailedUnit)
                .await?;
            Ok(())
        })
        .await
    }

    /// The unit's object path, `None` when systemd has no such unit loaded.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name; [`Error::Dbus`] when systemd answers
    /// `GetUnit` with another error than `NoSuchUnit`; the connection's errors:
    /// [`Error::Connect`] when (re)connecting fails, [`Error::Timeout`] when a call's or
    /// job's deadline or [`Timeouts::operation`] passes, [`Error::Disconnected`] when the
    /// connection is lost.
    pub async fn unit_path(&self, unit: &str) -> Result<Option<String>> {
        self.bounded(Some(unit), async {
            check_any_unit(unit)?;
            let s = self.session().await?;
            match self
                .manager(&s, "GetUnit", &(unit,), unit, Step::GetUnit)
                .await
            {
                Ok(reply) => {
                    let p: OwnedObjectPath = body(&reply, unit, Step::GetUnit)?;
                    Ok(Some(p.as_str().to_owned()))
                }
                Err(e) if e.is_no_such_unit() => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// One property of a unit (`GetUnit` + `Properties.Get`), e.g.
    /// `("org.freedesktop.systemd1.Unit", "ActiveState")`.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for an invalid unit name; [`Error::Dbus`] with
    /// `org.freedesktop.systemd1.NoSuchUnit` when systemd has no such unit loaded, or the
    /// error systemd answers the `Get` with (`UnknownProperty`, ...); the connection's
    /// errors ([`Error::Connect`], [`Error::Timeout`], [`Error::Disconnected`]).
    pub async fn unit_property(
        &self,
        unit: &str,
        interface: &str,
        name: &str,
    ) -> Result<PropertyValue> {
        let v = self.raw_property(unit, interface, name).await?;
        Ok(PropertyValue::from_zvariant(&v))
    }

    async fn raw_property(&self, unit: &str, interface: &str, name: &str) -> Result<OwnedValue> {
        check_any_unit(unit)?;
        self.bounded(Some(unit), async {
            let path = self.unit_path(unit).await?.ok_or_else(|| Error::Dbus {
                unit: crate::error::unit_of(unit),
                step: Step::GetUnit,
                name: "org.freedesktop.systemd1.NoSuchUnit".into(),
                message: format!("Unit {unit} not loaded."),
            })?;
            let s = self.session().await?;
            let reply = s
                .conn
                .call(Request {
                    dest: Dest::Systemd,
                    path: &path,
                    iface: "org.freedesktop.DBus.Properties",
                    member: "Get",
                    body: &(interface, name),
                    unit,
                    step: Step::GetProperty,
                    timeout: self.opts.timeouts.call,
                    sealed: None,
                })
                .await?;
            body(&reply.message, unit, Step::GetProperty)
        })
        .await
    }

    /// A property of the unit's type interface (`Scope`, `Slice`, `Service`, ...), where
    /// the cgroup properties live (`MemoryMax`, `TasksMax`, `DeviceAllow`, ...).
    ///
    /// # Errors
    ///
    /// As [`unit_property`](AsyncClient::unit_property).
    pub async fn cgroup_property(&self, unit: &str, name: &str) -> Result<PropertyValue> {
        self.unit_property(unit, unit_iface(unit), name).await
    }

    /// The unit's cgroup path relative to systemd's cgroup root (`ControlGroup`).
    ///
    /// # Errors
    ///
    /// As [`unit_property`](AsyncClient::unit_property); [`Error::Protocol`] when the value
    /// is not a string.
    pub async fn control_group(&self, unit: &str) -> Result<String> {
        self.bounded(Some(unit), async {
            let v = self
                .raw_property(unit, unit_iface(unit), "ControlGroup")
                .await?;
            String::try_from(v).map_err(|e| Error::Protocol {
                unit: crate::error::unit_of(unit),
                step: Step::GetProperty,
                cause: Cause::bus(e),
            })
        })
        .await
    }

    /// A string property of `org.freedesktop.systemd1.Unit` (`ActiveState`,
    /// `FreezerState`, `SubState`, ...).
    ///
    /// # Errors
    ///
    /// As [`unit_property`](AsyncClient::unit_property); [`Error::Protocol`] when the value
    /// is not a string.
    pub async fn unit_state(&self, unit: &str, name: &str) -> Result<String> {
        self.bounded(Some(unit), async {
            let v = self
                .raw_property(unit, "org.freedesktop.systemd1.Unit", name)
                .await?;
            String::try_from(v).map_err(|e| Error::Protocol {
                unit: crate::error::unit_of(unit),
                step: Step::GetProperty,
                cause: Cause::bus(e),
            })
        })
        .await
    }

    /// A diagnostic call whose serial the caller may choose. With `sealed = Some(k)`, the
    /// message is sealed with cookie `k` and the connection adopts it the way sd-bus does
    /// (`cookie = max(cookie, k)`), which is how tests drive a connection to the edge of the
    /// 32-bit space. Returns the serial used. Public only through
    /// [`testing`](crate::testing) (feature `test-support`).
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    pub(crate) async fn ping(
        &self,
        target: PingTarget,
        sealed: Option<u32>,
        timeout: Duration,
    ) -> Result<u32> {
        self.bounded(None, async {
            let s = self.session().await?;
            let dest = match target {
                PingTarget::Systemd => Dest::Systemd,
                PingTarget::Bus if s.conn.direct => {
                    return Err(Error::Unsupported {
                        what: "a bus ping on a direct connection",
                        needs: 0,
                        found: 0,
                    })
                }
                PingTarget::Bus => Dest::Bus,
            };
            // The system bus policy denies Peer.Ping to the driver; GetId is always allowed.
            let (path, iface, member) = if dest == Dest::Bus {
                ("/org/freedesktop/DBus", BUS_NAME, "GetId")
            } else {
                (SYSTEMD_PATH, "org.freedesktop.DBus.Peer", "Ping")
            };
            let reply = s
                .conn
                .call(Request {
                    dest,
                    path,
                    iface,
                    member,
                    body: &(),
                    unit: "",
                    step: Step::Ping,
                    timeout,
                    sealed,
                })
                .await?;
            Ok(reply.serial)
        })
        .await
    }

    /// Closes the connection now (the next operation reconnects).
    pub fn disconnect(&self) {
        let old = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(old);
    }

    /// Health: connection, cookies both ways, reply checks.
    pub fn stats(&self) -> Stats {
        let guard = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let snap = guard
            .as_ref()
            .map(|s| (s.conn.snapshot(), s.caps.version()));
        drop(guard);
        let c = &self.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let (snap, version) = match snap {
            Some((s, v)) => (Some(s), Some(v)),
            None => (None, None),
        };
        let peer = snap
            .as_ref()
            .map(|s| PeerWatch::from_serials(s.peer))
            .unwrap_or_default();
        Stats {
            connects: get(&c.connects),
            disconnects: get(&c.disconnects),
            calls: get(&c.calls),
            replies: get(&c.replies),
            unmatched_replies: get(&c.unmatched_replies),
            wrong_sender_replies: get(&c.wrong_sender_replies),
            late_replies: get(&c.late_replies),
            timeouts: get(&c.timeouts),
            foreign_signals: get(&c.foreign_signals),
            jobs_removed: get(&c.jobs_removed),
            connected: snap.as_ref().is_some_and(|s| s.closed.is_none()),
            cookie: snap.as_ref().map_or(0, |s| s.cookie),
            cookie_headroom: u64::from(u32::MAX)
                .saturating_sub(snap.as_ref().map_or(0, |s| s.cookie)),
            cookie_cycled: snap.as_ref().is_some_and(|s| s.cycled),
            cookie_wraps: snap.as_ref().map_or(0, |s| s.wraps),
            pending: snap.as_ref().map_or(0, |s| s.pending),
            quarantined: snap.as_ref().map_or(0, |s| s.quarantined),
            waiting_calls: snap.as_ref().map_or(0, |s| s.waiting_slots),
            buffered_jobs: snap.as_ref().map_or(0, |s| s.buffered_jobs),
            unique_name: snap.as_ref().and_then(|s| s.unique_name.clone()),
            systemd_owner: snap.as_ref().and_then(|s| s.systemd_owner.clone()),
            systemd_version: version,
            peer: PeerWatch {
                headroom: if peer.messages == 0 {
                    u32::MAX
                } else {
                    peer.headroom
                },
                ..peer
            },
        }
    }
}

fn body<T>(msg: &zbus::Message, unit: &str, step: Step) -> Result<T>
where
    T: serde::de::DeserializeOwned + zbus::zvariant::Type,
{
    msg.body().deserialize::<T>().map_err(|e| Error::Protocol {
        unit: crate::error::unit_of(unit),
        step,
        cause: Cause::bus(e),
    })
}

#[cfg(test)]
mod tests;
