//! Typed errors. Every error that comes from talking to systemd names the unit (when there
//! is one) and the step that failed, so an operator reading a runtime's log knows whether
//! systemd stalled on `StartTransientUnit` or on the `JobRemoved` wait.
//!
//! An error that has another error under it returns that from
//! [`source`](std::error::Error::source) and leaves it out of its own message (the Rust API
//! guidelines' C-GOOD-ERR): print the whole chain, as `anyhow`'s `{:#}` does, to read
//! everything. What is not an error (a [`Cause::Detail`], a D-Bus error's name and message,
//! a job's result) is in the message.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The step of an operation an error happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Opening the socket and authenticating.
    Connect,
    /// `org.freedesktop.DBus.Hello`.
    Hello,
    /// `org.freedesktop.DBus.AddMatch` for `JobRemoved`.
    AddMatch,
    /// `org.freedesktop.DBus.GetNameOwner` for `org.freedesktop.systemd1`.
    GetNameOwner,
    /// `Manager.Subscribe`.
    Subscribe,
    /// Reading `Manager.Version`.
    Version,
    /// `org.freedesktop.DBus.Introspectable.Introspect` of the root slice, which says which
    /// cgroup properties this systemd exposes.
    Introspect,
    /// `Manager.StartTransientUnit`.
    StartTransientUnit,
    /// Waiting for the `JobRemoved` signal of a job.
    JobWait,
    /// `Manager.StopUnit`.
    StopUnit,
    /// `Manager.ResetFailedUnit`.
    ResetFailedUnit,
    /// `Manager.SetUnitProperties`.
    SetUnitProperties,
    /// `Manager.AttachProcessesToUnit`.
    AttachProcessesToUnit,
    /// `Manager.FreezeUnit`.
    FreezeUnit,
    /// `Manager.ThawUnit`.
    ThawUnit,
    /// `Manager.KillUnit`.
    KillUnit,
    /// `Manager.GetUnit`.
    GetUnit,
    /// `org.freedesktop.DBus.Properties.Get`.
    GetProperty,
    /// `org.freedesktop.DBus.Peer.Ping`.
    Ping,
    /// A whole operation, whose deadline ([`Timeouts::operation`](crate::Timeouts::operation))
    /// passed before any step's own.
    Operation,
}

impl Step {
    /// The D-Bus member (or phase) name of this step.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Hello => "Hello",
            Step::AddMatch => "AddMatch",
            Step::GetNameOwner => "GetNameOwner",
            Step::Subscribe => "Subscribe",
            Step::Version => "Version",
            Step::Introspect => "Introspect",
            Step::StartTransientUnit => "StartTransientUnit",
            Step::JobWait => "JobRemoved wait",
            Step::StopUnit => "StopUnit",
            Step::ResetFailedUnit => "ResetFailedUnit",
            Step::SetUnitProperties => "SetUnitProperties",
            Step::AttachProcessesToUnit => "AttachProcessesToUnit",
            Step::FreezeUnit => "FreezeUnit",
            Step::ThawUnit => "ThawUnit",
            Step::KillUnit => "KillUnit",
            Step::GetUnit => "GetUnit",
            Step::GetProperty => "Properties.Get",
            Step::Ping => "Ping",
            Step::Operation => "operation",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Input rejected before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// Not a valid unit name of the expected type.
    InvalidUnitName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// Not a valid slice name (`a-b-c.slice` style, parents implied by dashes).
    InvalidSliceName {
        /// The name given.
        name: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A pid of 0 (it would mean "the caller" to some APIs and nothing to systemd).
    ZeroPid,
    /// A scope needs at least one pid.
    NoPids,
    /// An empty or malformed cpuset list (`AllowedCPUs`/`AllowedMemoryNodes`).
    InvalidCpuset {
        /// The string given.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The OCI memory+swap total is below the memory limit.
    SwapBelowMemory {
        /// memory+swap in bytes.
        swap: i64,
        /// memory limit in bytes.
        memory: i64,
    },
    /// A swap limit was given without a memory limit (runc refuses this too).
    SwapWithoutMemory,
    /// A memory value below -1.
    InvalidMemory {
        /// The field, by its `Resources` name (`memory_limit`, ...).
        what: &'static str,
        /// The value given.
        value: i64,
    },
    /// A weight, period or other bounded number out of its range.
    OutOfRange {
        /// The field, by its `Resources` name (`cpu_weight`, ...).
        what: &'static str,
        /// The value given.
        value: i64,
        /// Inclusive minimum.
        min: i64,
        /// Inclusive maximum.
        max: i64,
    },
    /// A device rule that systemd's `DeviceAllow=` would not accept.
    InvalidDevice {
        /// The rule's path or class.
        path: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// Kill signal outside 1..=64.
    InvalidSignal(i32),
    /// A unit `Description=` with control characters or too long
    /// ([`check_description`](crate::names::check_description)).
    InvalidDescription {
        /// The description given.
        description: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A field of an OCI runtime spec (`linux.resources...`, `linux.cgroupsPath`) that is
    /// out of range or malformed.
    InvalidOciField {
        /// The field, spelled as in `config.json` (e.g. `linux.resources.cpu.shares`).
        field: String,
        /// The value given.
        value: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// Fields systemd cannot express were set (the strict OCI conversion refuses them).
    OciUnconverted(Vec<Unconverted>),
}

/// A field of an OCI `linux.resources` that systemd has no property for (hugetlb, rdma,
/// net_cls, swappiness, unknown `unified` keys, ...): the caller writes it to cgroupfs
/// itself, or refuses the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unconverted {
    /// The field, spelled as in `config.json`, e.g. `linux.resources.hugepageLimits[0]` or
    /// `linux.resources.unified["memory.oom.group"]`.
    pub field: String,
    /// The value as it would be written to cgroupfs (e.g. `2MB 1073741824`).
    pub value: String,
    /// Why systemd cannot take it.
    pub reason: &'static str,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::InvalidUnitName { name, reason } => {
                write!(f, "invalid unit name {name:?}: {reason}")
            }
            InputError::InvalidSliceName { name, reason } => {
                write!(f, "invalid slice name {name:?}: {reason}")
            }
            InputError::ZeroPid => f.write_str("pid 0 is not a process"),
            InputError::NoPids => f.write_str("a scope needs at least one pid"),
            InputError::InvalidCpuset { value, reason } => {
                write!(f, "invalid cpuset {value:?}: {reason}")
            }
            InputError::SwapBelowMemory { swap, memory } => write!(
                f,
                "memory+swap limit {swap} is below the memory limit {memory}"
            ),
            InputError::SwapWithoutMemory => f.write_str("a swap limit needs a memory limit"),
            InputError::InvalidMemory { what, value } => {
                write!(f, "{what} = {value}: must be -1 (unlimited) or >= 0")
            }
            InputError::OutOfRange {
                what,
                value,
                min,
                max,
            } => {
                write!(f, "{what} = {value} is outside {min}..={max}")
            }
            InputError::InvalidDevice { path, reason } => {
                write!(f, "invalid device rule {path:?}: {reason}")
            }
            InputError::InvalidSignal(s) => write!(f, "invalid signal {s}"),
            InputError::InvalidDescription {
                description,
                reason,
            } => write!(f, "invalid unit Description {description:?}: {reason}"),
            InputError::InvalidOciField {
                field,
                value,
                reason,
            } => write!(f, "{field} = {value}: {reason}"),
            InputError::OciUnconverted(fields) => {
                f.write_str("systemd cannot express ")?;
                for (i, u) in fields.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{} ({})", u.field, u.reason)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for InputError {}

/// Everything that can go wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad input, rejected before any traffic.
    Input(InputError),
    /// Could not connect (or authenticate, or finish the handshake) to `target`.
    Connect {
        /// Human-readable address of what we tried.
        target: String,
        /// The step of the handshake that failed.
        step: Step,
        /// What went wrong: the source of this error when it is an error, else in the
        /// message.
        cause: Cause,
    },
    /// The deadline of a call or job wait passed. The call's cookie stays quarantined until
    /// its late reply arrives or the connection closes.
    Timeout {
        /// The unit the operation was about, `None` for a call about no unit (the
        /// handshake, a ping).
        unit: Option<String>,
        /// The step that did not complete.
        step: Step,
        /// The deadline that passed.
        after: Duration,
    },
    /// The connection was lost (or could not send). The next operation reconnects.
    Disconnected {
        /// The unit the operation was about, `None` for a call about no unit (the
        /// handshake, a ping).
        unit: Option<String>,
        /// The step that was in progress.
        step: Step,
        /// Why the connection closed: the source of this error when it is an error, else in
        /// the message.
        cause: Cause,
    },
    /// systemd (or the bus) answered with a D-Bus error.
    Dbus {
        /// The unit the operation was about, `None` for a call about no unit (the
        /// handshake, a ping).
        unit: Option<String>,
        /// The step that failed.
        step: Step,
        /// The D-Bus error name, e.g. `org.freedesktop.systemd1.NoSuchUnit`.
        name: String,
        /// The error message systemd sent.
        message: String,
    },
    /// A job finished with a result other than `done`.
    JobFailed {
        /// The unit the job was for.
        unit: String,
        /// The job's object path.
        job: String,
        /// The job result: `canceled`, `timeout`, `failed`, `dependency`, `skipped`, ...
        result: String,
    },
    /// A reply had a body we did not expect (or our own message could not be built).
    Protocol {
        /// The unit the operation was about, `None` for a call about no unit (the
        /// handshake, a ping).
        unit: Option<String>,
        /// The step whose reply it was.
        step: Step,
        /// What was wrong: the source of this error when it is an error, else in the
        /// message.
        cause: Cause,
    },
    /// The operation needs a newer systemd.
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// The minimum systemd version.
        needs: u32,
        /// The version found.
        found: u32,
    },
    /// The cookie allocator refused (every cycled cookie pending, or a bad sealed cookie).
    Cookie {
        /// The step that needed a cookie.
        step: Step,
        /// The allocator's error, the source of this one.
        source: sdbus_cookie::Error,
    },
}

/// What lies under a failed connect, a lost connection or an unexpected reply: the error
/// that caused it, kept typed (the [`Error`]'s [`source`](std::error::Error::source)
/// returns it), or what happened when no error did. Cloned to every caller a lost
/// connection fails, hence the [`Arc`]s.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Cause {
    /// The D-Bus layer failed: the socket, authentication, sending, building a message, or
    /// a body of another type than expected ([`BusError`]).
    Bus(BusError),
    /// The operating system refused (starting the connection's reader thread).
    Io(Arc<std::io::Error>),
    /// A call of the handshake (`Hello`, `AddMatch`, `GetNameOwner`, `Version`) failed:
    /// that call's error.
    Call(Arc<Error>),
    /// No error underneath; what happened: the peer or the client closed the connection,
    /// no handshake before the deadline, a version that does not parse.
    Detail(String),
}

impl Cause {
    /// The error under this cause, if there is one.
    fn error(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Cause::Bus(e) => Some(e),
            Cause::Io(e) => Some(e.as_ref()),
            Cause::Call(e) => Some(e.as_ref()),
            Cause::Detail(_) => None,
        }
    }

    /// What an error around this cause adds to its own message: the detail when no error
    /// lies underneath (an error is the source instead).
    fn in_message(&self) -> Detail<'_> {
        Detail(match self {
            Cause::Detail(d) => Some(d),
            Cause::Bus(_) | Cause::Io(_) | Cause::Call(_) => None,
        })
    }
}

/// `: DETAIL`, or nothing.
struct Detail<'a>(Option<&'a str>);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, ": {d}"),
            None => Ok(()),
        }
    }
}

impl Cause {
    /// The cause for an error of the D-Bus layer.
    pub(crate) fn bus(e: impl Into<zbus::Error>) -> Cause {
        Cause::Bus(BusError::new(e.into()))
    }
}

/// An error of the D-Bus library underneath (zbus), kept opaque so that library's types
/// are not part of this crate's API: its message is the library's, its
/// [`source`](std::error::Error::source) the library's source, and [`io`](BusError::io)
/// the operating system's error when the socket failed.
#[derive(Debug, Clone)]
pub struct BusError(Arc<zbus::Error>);

impl BusError {
    pub(crate) fn new(e: zbus::Error) -> BusError {
        BusError(Arc::new(e))
    }

    /// The socket's I/O error, when that is what failed.
    pub fn io(&self) -> Option<&std::io::Error> {
        match self.0.as_ref() {
            zbus::Error::InputOutput(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Bus(e) => write!(f, "{e}"),
            Cause::Io(e) => write!(f, "{e}"),
            Cause::Call(e) => write!(f, "{e}"),
            Cause::Detail(d) => f.write_str(d),
        }
    }
}

impl Error {
    /// The D-Bus error name, when systemd answered with an error.
    pub fn dbus_name(&self) -> Option<&str> {
        match self {
            Error::Dbus { name, .. } => Some(name),
            _ => None,
        }
    }

    /// True for `org.freedesktop.systemd1.NoSuchUnit` (and `LoadFailed` for a unit that
    /// was never there).
    pub fn is_no_such_unit(&self) -> bool {
        self.dbus_name() == Some("org.freedesktop.systemd1.NoSuchUnit")
    }

    /// True for `org.freedesktop.systemd1.UnitExists`.
    pub fn is_unit_exists(&self) -> bool {
        self.dbus_name() == Some("org.freedesktop.systemd1.UnitExists")
    }

    /// True for a local deadline that passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True when the transport failed (the next call reconnects).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected { .. } | Error::Connect { .. })
    }
}

/// What a finished job means for the caller: `JobRemoved` carries the job's result, one of
/// systemd's `job_result_table` (`src/core/job.c`; v241: `done`, `canceled`, `timeout`,
/// `failed`, `dependency`, `skipped`, `invalid`, `assert`, `unsupported`, `collected`,
/// `once`). Only `done` is success; anything else, including results newer releases add, is
/// [`Error::JobFailed`], naming the unit the signal named (`unit` when it named none).
pub(crate) fn job_outcome(
    unit: &str,
    job: &str,
    signal_unit: String,
    result: String,
) -> Result<()> {
    if result == "done" {
        return Ok(());
    }
    Err(Error::JobFailed {
        unit: if signal_unit.is_empty() {
            unit.to_owned()
        } else {
            signal_unit
        },
        job: job.to_owned(),
        result,
    })
}

fn unit_ctx(unit: &Option<String>) -> String {
    match unit {
        Some(unit) => format!(" for {unit}"),
        None => String::new(),
    }
}

/// The `unit` of an error about a call: internally a call about no unit names "".
pub(crate) fn unit_of(unit: &str) -> Option<String> {
    (!unit.is_empty()).then(|| unit.to_owned())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(_) => f.write_str("rejected before sending"),
            // The failed call, the source, names its step itself.
            Error::Connect {
                target,
                cause: Cause::Call(_),
                ..
            } => write!(f, "connecting to {target} failed"),
            Error::Connect {
                target,
                step,
                cause,
            } => {
                write!(
                    f,
                    "connecting to {target} failed at {step}{}",
                    cause.in_message()
                )
            }
            Error::Timeout { unit, step, after } => write!(
                f,
                "systemd did not complete {step}{} within {after:?}",
                unit_ctx(unit)
            ),
            Error::Disconnected { unit, step, cause } => write!(
                f,
                "connection lost during {step}{}{}",
                unit_ctx(unit),
                cause.in_message()
            ),
            Error::Dbus {
                unit,
                step,
                name,
                message,
            } => {
                write!(f, "{step}{} failed: {name}: {message}", unit_ctx(unit))
            }
            Error::JobFailed { unit, job, result } => {
                write!(f, "job {job} for {unit} finished with result {result:?}")
            }
            Error::Protocol { unit, step, cause } => {
                write!(
                    f,
                    "unexpected reply to {step}{}{}",
                    unit_ctx(unit),
                    cause.in_message()
                )
            }
            Error::Unsupported { what, needs, found } => {
                write!(f, "{what} needs systemd >= {needs}, found {found}")
            }
            Error::Cookie { step, .. } => write!(f, "no cookie for {step}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Input(e) => Some(e),
            Error::Cookie { source, .. } => Some(source),
            Error::Connect { cause, .. }
            | Error::Disconnected { cause, .. }
            | Error::Protocol { cause, .. } => cause.error(),
            Error::Timeout { .. }
            | Error::Dbus { .. }
            | Error::JobFailed { .. }
            | Error::Unsupported { .. } => None,
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(e)
    }
}

/// `Result` with this crate's [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
