//! One connection's session: the handshake (`Hello`, the signal matches, systemd's unique
//! name and version) and the reconnect after a loss.

use std::sync::Arc;

use zbus::zvariant::OwnedValue;

use super::{body, AsyncClient};
use crate::conn::{Conn, Dest, Request, MANAGER_IFACE, SYSTEMD_NAME, SYSTEMD_PATH};
use crate::error::{Cause, Error, Result, Step};
use crate::releases::{parse_version, Capabilities};

#[derive(Debug)]
pub(super) struct Session {
    pub(super) conn: Conn,
    /// What this PID 1 accepts, learnt once per connection (a reconnect may meet a
    /// re-executed or different systemd).
    pub(super) caps: Capabilities,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.conn.shutdown();
    }
}

const JOB_REMOVED_MATCH: &str = "type='signal',sender='org.freedesktop.systemd1',\
path='/org/freedesktop/systemd1',interface='org.freedesktop.systemd1.Manager',\
member='JobRemoved'";

const OWNER_CHANGED_MATCH: &str = "type='signal',sender='org.freedesktop.DBus',\
path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',\
arg0='org.freedesktop.systemd1'";

/// `-.slice`'s object: the root slice exists on every release, and its Slice interface lists
/// the cgroup-context properties this PID 1 has.
const ROOT_SLICE_PATH: &str = "/org/freedesktop/systemd1/unit/_2d_2eslice";

/// The introspection XML of `-.slice`'s object (see [`Capabilities`]).
async fn introspect_root_slice(conn: &Conn, timeout: std::time::Duration) -> Result<String> {
    let reply = conn
        .call(Request {
            dest: Dest::Systemd,
            path: ROOT_SLICE_PATH,
            iface: "org.freedesktop.DBus.Introspectable",
            member: "Introspect",
            body: &(),
            unit: "-.slice",
            step: Step::Introspect,
            timeout,
            sealed: None,
        })
        .await?;
    body(&reply.message, "-.slice", Step::Introspect)
}

impl AsyncClient {
    pub(super) fn live_session(&self) -> Option<Arc<Session>> {
        let guard = self.session.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().filter(|s| !s.conn.is_closed()).cloned()
    }

    pub(super) async fn session(&self) -> Result<Arc<Session>> {
        if let Some(s) = self.live_session() {
            return Ok(s);
        }
        let _one_at_a_time = self.connecting.lock().await;
        if let Some(s) = self.live_session() {
            return Ok(s); // another thread reconnected meanwhile
        }
        // Take the dead one out and drop it outside the lock (closes its socket, ends its
        // reader; in-flight callers holding it see Disconnected).
        let dead = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(dead);
        let s = Arc::new(self.handshake().await?);
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&s));
        Ok(s)
    }

    pub(super) async fn handshake(&self) -> Result<Session> {
        let (address, direct) = self.target.resolve();
        // One deadline for the whole handshake (socket, auth, Hello, AddMatch, GetNameOwner,
        // Version), not one per step: a stalled peer costs the connect deadline, not four times it.
        let deadline = std::time::Instant::now() + self.opts.timeouts.connect;
        let left = || deadline.saturating_duration_since(std::time::Instant::now());
        let conn = Conn::open(&address, direct, Arc::clone(&self.counters), left()).await?;
        conn.set_job_ttl(self.opts.timeouts.call + self.opts.timeouts.job);
        // A failed call of the handshake is a failed connect at that call's step, with
        // the call's error as its cause.
        let fail = |e: Error| {
            let step = match &e {
                Error::Dbus { step, .. }
                | Error::Timeout { step, .. }
                | Error::Disconnected { step, .. }
                | Error::Protocol { step, .. } => *step,
                _ => return e,
            };
            Error::Connect {
                target: address.clone(),
                step,
                cause: Cause::Call(Arc::new(e)),
            }
        };
        let mut session = Session {
            conn,
            caps: Capabilities::from_version(0),
        };
        let conn = &session.conn;
        if !direct {
            let hello = conn
                .call(Request::bus_driver("Hello", &(), Step::Hello, left()))
                .await
                .map_err(fail)?;
            let unique: String = body(&hello.message, "", Step::Hello).map_err(fail)?;
            conn.set_names(Some(unique), None);
            // The match goes in before any job can be created on this connection.
            conn.call(Request::bus_driver(
                "AddMatch",
                &(JOB_REMOVED_MATCH,),
                Step::AddMatch,
                left(),
            ))
            .await
            .map_err(fail)?;
            // Follow systemd's name from before we ask who owns it, so an owner change
            // (daemon-reexec, a reconnect after its bus connection failed) between the two
            // is not missed.
            conn.call(Request::bus_driver(
                "AddMatch",
                &(OWNER_CHANGED_MATCH,),
                Step::AddMatch,
                left(),
            ))
            .await
            .map_err(fail)?;
            let owner = conn
                .call(Request::bus_driver(
                    "GetNameOwner",
                    &(SYSTEMD_NAME,),
                    Step::GetNameOwner,
                    left(),
                ))
                .await
                .map_err(fail)?;
            let owner: String = body(&owner.message, "", Step::GetNameOwner).map_err(fail)?;
            conn.set_names(None, Some(owner));
        }
        let v = conn
            .call(Request {
                dest: Dest::Systemd,
                path: SYSTEMD_PATH,
                iface: "org.freedesktop.DBus.Properties",
                member: "Get",
                body: &(MANAGER_IFACE, "Version"),
                unit: "",
                step: Step::Version,
                timeout: left(),
                sealed: None,
            })
            .await
            .map_err(fail)?;
        let v: OwnedValue = body(&v.message, "", Step::Version).map_err(fail)?;
        let vs: String = String::try_from(v).map_err(|e| {
            fail(Error::Protocol {
                unit: None,
                step: Step::Version,
                cause: Cause::bus(e),
            })
        })?;
        let version = parse_version(&vs).ok_or_else(|| {
            fail(Error::Protocol {
                unit: None,
                step: Step::Version,
                cause: Cause::Detail(format!("unparsable version {vs:?}")),
            })
        })?;
        session.caps = match introspect_root_slice(conn, left()).await {
            Ok(xml) => Capabilities::from_introspection(version, &xml),
            // An error reply (a policy that denies Introspect, a PID 1 that cannot load
            // -.slice) leaves the release table to decide; a timeout or a lost connection
            // is a failed connect like any other handshake call.
            Err(Error::Dbus { .. } | Error::Protocol { .. }) => Capabilities::from_version(version),
            Err(e) => return Err(fail(e)),
        };
        Ok(session)
    }
}
