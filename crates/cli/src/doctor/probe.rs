//! Asking systemd: on the bus through zbus over sdbus-cgroup's capped socket, on the
//! private socket through sdbus-cgroup's [`Peer`]; every step under its deadline (polled
//! before the step, so a peer that keeps sending cannot starve it), every failure kept with
//! its kind. A failure to connect is told apart from an unanswered call: only a bus that
//! accepted us and a PID 1 that then stayed silent is the overflow signature. Every call
//! goes out with `NO_AUTO_START`: the doctor asks, it never starts anything.

use std::future::Future;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::StreamExt;
use zbus::message::{Flags, Message, Type};
use zbus::Connection;

use super::{Answer, Options, ProbeErrorKind};
use sdbus_cgroup::private_socket::{Peer, PeerError};

const SYSTEMD: &str = "org.freedesktop.systemd1";
const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Why a probe got no answer. The kind decides what the verdict advises; the message is
/// what the operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError {
    /// What kind of failure.
    pub kind: ProbeErrorKind,
    /// The failed step and what went wrong, e.g. `connect to the private socket: no answer
    /// within 3s`.
    pub message: String,
}

impl ProbeError {
    /// A failure of `kind` with `message`.
    pub fn new(kind: ProbeErrorKind, message: impl Into<String>) -> ProbeError {
        ProbeError {
            kind,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn io_kind(e: &std::io::Error) -> ProbeErrorKind {
    match e.kind() {
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
            ProbeErrorKind::Reset
        }
        _ => ProbeErrorKind::Other,
    }
}

impl From<StepError> for ProbeError {
    fn from(e: StepError) -> ProbeError {
        let kind = match &e {
            StepError::Timeout { step, .. } | StepError::Dbus { step, .. }
                if *step == CONNECT_BUS =>
            {
                ProbeErrorKind::ConnectFailed
            }
            StepError::Timeout { .. }
            | StepError::Private {
                source: PeerError::Timeout { .. },
                ..
            } => ProbeErrorKind::Timeout,
            StepError::Private {
                step: CONNECT_PRIVATE,
                ..
            } => ProbeErrorKind::ConnectFailed,
            StepError::Private {
                source: PeerError::Malformed(_),
                ..
            } => ProbeErrorKind::Malformed,
            StepError::Private {
                source: PeerError::Io(io),
                ..
            } => io_kind(io),
            StepError::Private {
                source: PeerError::CredentialsRejected(_),
                ..
            } => ProbeErrorKind::CredentialsRejected,
            StepError::Dbus {
                source: zbus::Error::InputOutput(io),
                ..
            } => io_kind(io),
            _ => ProbeErrorKind::Other,
        };
        ProbeError::new(kind, crate::exit::chain(&e))
    }
}

/// Tests write the failures whose kind does not matter as text.
#[cfg(test)]
impl From<&str> for ProbeError {
    fn from(message: &str) -> ProbeError {
        ProbeError::new(ProbeErrorKind::Other, message)
    }
}

/// A step that failed or ran out of time, naming the step.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The step did not finish before its deadline.
    #[error("{step}: no answer within {after:?}")]
    Timeout {
        /// Which step.
        step: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The step failed on the D-Bus level.
    #[error("{step}")]
    Dbus {
        /// Which step.
        step: &'static str,
        /// What zbus said.
        source: zbus::Error,
    },
    /// The step failed on the private socket.
    #[error("{step}")]
    Private {
        /// Which step.
        step: &'static str,
        /// What went wrong.
        source: PeerError,
    },
}

/// The step that connects to the bus; its failures are [`ProbeErrorKind::ConnectFailed`].
const CONNECT_BUS: &str = "connect to the system bus";
/// The step that connects to the private socket.
const CONNECT_PRIVATE: &str = "connect to the private socket";

/// Runs `fut` with a deadline; the timer is polled first, so a future that is always
/// ready cannot starve it.
async fn within<T, E>(
    step: &'static str,
    after: Duration,
    fut: impl Future<Output = Result<T, E>>,
    wrap: impl FnOnce(&'static str, E) -> StepError,
) -> Result<T, StepError> {
    futures_lite::future::or(
        async {
            Timer::after(after).await;
            Err(StepError::Timeout { step, after })
        },
        async { fut.await.map_err(|e| wrap(step, e)) },
    )
    .await
}

fn dbus(step: &'static str, source: zbus::Error) -> StepError {
    StepError::Dbus { step, source }
}

/// Sends a method call with `NO_AUTO_START` and waits for its reply (a D-Bus error is
/// zbus's `MethodError`). The deadline is checked at every message that arrives, so a
/// flood of other messages cannot keep it waiting.
async fn call(
    conn: &Connection,
    destination: &str,
    path: &str,
    interface: &str,
    method: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
    deadline: Instant,
) -> zbus::Result<Message> {
    let msg = Message::method_call(path, method)?
        .with_flags(Flags::NoAutoStart)?
        .destination(destination)?
        .interface(interface)?
        .build(body)?;
    let serial = msg.primary_header().serial_num();
    let mut stream = zbus::MessageStream::from(conn);
    conn.send(&msg).await?;
    while let Some(m) = stream.next().await {
        if Instant::now() >= deadline {
            break;
        }
        let m = m?;
        if m.header().reply_serial() != Some(serial) {
            continue;
        }
        return match m.message_type() {
            Type::Error => Err(zbus::Error::from(m)),
            _ => Ok(m),
        };
    }
    Err(zbus::Error::InputOutput(std::sync::Arc::new(
        std::io::ErrorKind::TimedOut.into(),
    )))
}

/// One `Properties.Get(Manager, Version)`; the reply's serial is systemd's cookie.
async fn ask(
    conn: &Connection,
    step: &'static str,
    timeout: Duration,
) -> Result<Answer, StepError> {
    let deadline = Instant::now() + timeout;
    let reply = within(
        step,
        timeout,
        call(
            conn,
            SYSTEMD,
            SYSTEMD_PATH,
            PROPERTIES,
            "Get",
            &(MANAGER, "Version"),
            deadline,
        ),
        dbus,
    )
    .await?;
    let at = Instant::now();
    let serial = reply.primary_header().serial_num().get();
    let value: zbus::zvariant::OwnedValue =
        reply.body().deserialize().map_err(|e| dbus(step, e))?;
    let version = String::try_from(value).map_err(|e| dbus(step, e.into()))?;
    Ok(Answer {
        serial,
        version,
        at,
    })
}

/// The bus at `address`, or the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the default
/// path), through the capped socket; only `unix:path=` addresses are taken.
async fn connect_bus(address: Option<&str>, timeout: Duration) -> Result<Connection, StepError> {
    let address = match address {
        Some(a) => a.to_owned(),
        None => std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .unwrap_or_else(|_| DEFAULT_SYSTEM_BUS.to_owned()),
    };
    within(
        CONNECT_BUS,
        timeout,
        sdbus_cgroup::private_socket::capped_bus(&address),
        dbus,
    )
    .await
}

/// The system bus's address when `DBUS_SYSTEM_BUS_ADDRESS` is not set (the D-Bus
/// specification's well-known address).
const DEFAULT_SYSTEM_BUS: &str = "unix:path=/var/run/dbus/system_bus_socket";

/// Whether `org.freedesktop.systemd1` has an owner, as dbus-daemon (not systemd) answers.
async fn name_owned(conn: &Connection, timeout: Duration) -> Result<bool, StepError> {
    let step = "ask the bus whether systemd holds its name";
    let deadline = Instant::now() + timeout;
    let reply = within(
        step,
        timeout,
        call(
            conn,
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            &(SYSTEMD,),
            deadline,
        ),
        dbus,
    )
    .await?;
    reply.body().deserialize().map_err(|e| dbus(step, e))
}

/// The bus's answers, and when systemd gave none, whether it still holds its name there.
pub(super) type BusProbe = (
    Result<Answer, ProbeError>,
    Option<Result<Answer, ProbeError>>,
    Option<bool>,
);

pub(super) async fn probe_bus(opts: &Options) -> BusProbe {
    let conn = match connect_bus(opts.address.as_deref(), opts.timeout).await {
        Ok(c) => c,
        Err(e) => return (Err(e.into()), None, None),
    };
    let first = ask(&conn, "ask systemd on the bus", opts.timeout)
        .await
        .map_err(ProbeError::from);
    if first.is_err() {
        // An unanswered daemon leaves it unknown; the verdict does not rest on it.
        let owned = name_owned(&conn, opts.timeout).await.ok();
        return (first, None, owned);
    }
    let second = match (&first, opts.interval) {
        (Ok(_), Some(interval)) => {
            Timer::after(interval).await;
            Some(
                ask(&conn, "ask systemd on the bus again", opts.timeout)
                    .await
                    .map_err(ProbeError::from),
            )
        }
        _ => None,
    };
    (first, second, None)
}

/// The private socket speaks D-Bus peer to peer (EXTERNAL auth, no Hello, no daemon); see
/// [`sdbus_cgroup::private_socket`] for why this is not zbus.
pub(super) async fn probe_private(opts: &Options) -> Result<Answer, ProbeError> {
    let raw = |step, e| StepError::Private { step, source: e };
    let mut peer = within(
        CONNECT_PRIVATE,
        opts.timeout,
        Peer::connect(&opts.private, opts.timeout),
        raw,
    )
    .await?;
    let step = "ask systemd on the private socket";
    let reply = within(
        step,
        opts.timeout,
        peer.get_property(SYSTEMD, SYSTEMD_PATH, MANAGER, "Version", opts.timeout),
        raw,
    )
    .await?;
    let version = reply.string.ok_or_else(|| {
        ProbeError::new(
            ProbeErrorKind::Other,
            format!("{step}: Version is not a string"),
        )
    })?;
    Ok(Answer {
        serial: reply.serial,
        version,
        at: Instant::now(),
    })
}
