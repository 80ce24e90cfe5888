//! One connection to systemd whose every outgoing serial comes from our own cookie
//! allocator, with our own reply matching.
//!
//! Why not zbus's `call_method`: it numbers messages from a process-global counter and keeps
//! its own pending table, so serials set with `message::Builder::serial` and its own would
//! collide. So the connection is opened with `p2p()` (zbus sends no `Hello` of its own), we
//! send `Hello` ourselves, every message goes out through `Connection::send`, and one reader
//! thread reads the `MessageStream` and routes:
//!
//! - a method return or error to the pending call whose serial it names, only if it comes
//!   from the callee (the bus driver, systemd's unique name, or — on the private socket —
//!   the peer, which sends no sender field). Anything else is counted, never delivered;
//! - `JobRemoved` from systemd into a buffer keyed by job path (the signal can overtake the
//!   reply that tells us the job path), kept only while some caller waits for a job;
//! - the serial of every message systemd sends into the peer watch: on the API bus it is
//!   PID 1's own sd-bus cookie.
//!
//! Invariants: the calls awaiting a reply and the allocator's pending cookies are one value,
//! [`PendingCalls`], which keeps them equal; a caller whose deadline passes — or whose
//! future is dropped — quarantines its serial (the late reply releases it); on disconnect
//! every waiter wakes with `Disconnected`.
//!
//! Callers wait as futures on an [`Event`] that the reader fires after each change, bounded
//! by an `async_io::Timer`; both work on any executor. The zbus connection is built on the
//! reader thread, outside any tokio runtime, so zbus (which picks tokio whenever a tokio
//! runtime is current and its `tokio` feature is on) always runs it on its own async-io
//! executor, whatever runtime the caller uses (zbus#384).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_listener::Event;
use zbus::message::Message;
use zbus::zvariant::DynamicType;

use crate::error::{Cause, Error, Result, Step};

pub(crate) const BUS_NAME: &str = "org.freedesktop.DBus";
pub(crate) const SYSTEMD_NAME: &str = "org.freedesktop.systemd1";
pub(crate) const SYSTEMD_PATH: &str = "/org/freedesktop/systemd1";
pub(crate) const MANAGER_IFACE: &str = "org.freedesktop.systemd1.Manager";

/// Who a call goes to, which decides who may answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// The bus driver (`org.freedesktop.DBus`); only on a bus connection.
    Bus,
    /// systemd: `org.freedesktop.systemd1` on a bus, the peer on the private socket.
    Systemd,
}

/// Counters that survive reconnects.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connects: AtomicU64,
    pub disconnects: AtomicU64,
    pub calls: AtomicU64,
    pub replies: AtomicU64,
    pub unmatched_replies: AtomicU64,
    pub wrong_sender_replies: AtomicU64,
    pub late_replies: AtomicU64,
    pub timeouts: AtomicU64,
    pub foreign_signals: AtomicU64,
    pub jobs_removed: AtomicU64,
}

/// What we have seen of systemd's own serials on this connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerSerials {
    /// Messages from systemd seen.
    pub messages: u64,
    /// Serial of the last one (0 before any).
    pub last: u32,
    /// Times the serial went down (a wrap to 0x80000000 on systemd >= 242).
    pub wraps: u64,
}

/// A buffered `JobRemoved(uoss)`.
#[derive(Debug, Clone)]
pub(crate) struct JobDone {
    pub unit: String,
    pub result: String,
}

mod reader;
mod route;
mod wait;

use reader::{build_and_read, Dial, Handover, HandoverGuard};
use route::check_reply;
pub(crate) use route::State;
use wait::PendingGuard;
pub(crate) use wait::Shared;

/// One method call: where it goes, what it carries, and how long to wait for the reply.
pub(crate) struct Request<'a, B> {
    pub dest: Dest,
    pub path: &'a str,
    pub iface: &'a str,
    pub member: &'a str,
    pub body: &'a B,
    /// The unit the call is about ("" when none), for errors.
    pub unit: &'a str,
    pub step: Step,
    pub timeout: Duration,
    /// A cookie the caller sealed the message with itself (`None`: the allocator picks).
    pub sealed: Option<u32>,
}

impl<'a, B> Request<'a, B> {
    /// A call to the bus driver (`org.freedesktop.DBus` at `/org/freedesktop/DBus`), about
    /// no unit, with a cookie from the allocator.
    pub(crate) fn bus_driver(member: &'a str, body: &'a B, step: Step, timeout: Duration) -> Self {
        Request {
            dest: Dest::Bus,
            path: "/org/freedesktop/DBus",
            iface: BUS_NAME,
            member,
            body,
            unit: "",
            step,
            timeout,
            sealed: None,
        }
    }
}

/// A successful reply and the serial of the call it answers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub message: Message,
    pub serial: u32,
}

/// A live connection (the client replaces it after a loss).
#[derive(Debug)]
pub(crate) struct Conn {
    zconn: zbus::Connection,
    pub shared: Arc<Shared>,
    pub direct: bool,
}

/// Decrements the job interest and drops unclaimed buffered jobs when nobody waits.
pub(crate) struct JobInterest<'a> {
    conn: &'a Conn,
}

impl Drop for JobInterest<'_> {
    fn drop(&mut self) {
        let mut st = self.conn.shared.lock();
        st.job_interest -= 1;
        if st.job_interest == 0 {
            st.jobs.clear();
        }
    }
}

impl Conn {
    /// Opens the socket (no `Hello` from zbus) and starts the reader thread, which builds
    /// the zbus connection (see the module docs for why there).
    pub(crate) async fn open(
        address: &str,
        direct: bool,
        counters: Arc<Counters>,
        timeout: Duration,
    ) -> Result<Conn> {
        let deadline = Instant::now() + timeout;
        let target = address.to_owned();
        let connect_err = |cause: Cause| Error::Connect {
            target: target.clone(),
            step: Step::Connect,
            cause,
        };
        let slot: Arc<(Mutex<Handover>, Event)> = Arc::default();
        let guard = HandoverGuard {
            slot: Arc::clone(&slot),
        };
        let thread_slot = Arc::clone(&slot);
        let addr = address.to_owned();
        std::thread::Builder::new()
            .name("sdbus-cgroup-reader".into())
            .spawn(move || {
                let dial = Dial {
                    address: addr,
                    direct,
                    deadline,
                    timeout,
                };
                build_and_read(&dial, counters, &thread_slot)
            })
            .map_err(|e| connect_err(Cause::Io(Arc::new(e))))?;
        // The thread answers by the deadline (its build is bounded by it too); the grace
        // second covers a thread that died without answering.
        let give_up = deadline + Duration::from_secs(1);
        let (zconn, shared) = loop {
            let listener = {
                let mut h = slot.0.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(r) = h.result.take() {
                    break r?;
                }
                slot.1.listen()
            };
            let answered = futures_lite::future::or(
                async {
                    listener.await;
                    true
                },
                async {
                    async_io::Timer::at(give_up).await;
                    false
                },
            )
            .await;
            if !answered
                && slot
                    .0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .result
                    .is_none()
            {
                return Err(connect_err(Cause::Detail(format!(
                    "no handshake within {timeout:?}"
                ))));
            }
        };
        drop(guard);
        Ok(Conn {
            zconn,
            shared,
            direct,
        })
    }

    pub(crate) fn set_job_ttl(&self, ttl: Duration) {
        self.shared.lock().job_ttl = ttl;
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    pub(crate) fn set_names(&self, unique: Option<String>, systemd_owner: Option<String>) {
        let mut st = self.shared.lock();
        if unique.is_some() {
            st.unique_name = unique;
        }
        // A NameOwnerChanged that the reader already applied is at least as new as the
        // handshake's GetNameOwner answer (the match is added before asking).
        if systemd_owner.is_some() && st.systemd_owner.is_none() {
            st.systemd_owner = systemd_owner;
        }
    }

    /// Registers interest in `JobRemoved` signals; must be taken before the call that
    /// creates the job, so a signal that overtakes the reply is buffered.
    pub(crate) fn job_interest(&self) -> JobInterest<'_> {
        self.shared.lock().job_interest += 1;
        JobInterest { conn: self }
    }

    /// Sends one method call with a cookie from our allocator (or the request's sealed
    /// cookie) and waits for its reply until the request's timeout.
    pub(crate) async fn call<B>(&self, req: Request<'_, B>) -> Result<Reply>
    where
        B: serde::Serialize + DynamicType + Sync,
    {
        let Request {
            dest,
            path,
            iface,
            member,
            body,
            unit,
            step,
            timeout,
            sealed,
        } = req;
        let deadline = Instant::now() + timeout;
        let timeout_err = || Error::Timeout {
            unit: crate::error::unit_of(unit),
            step,
            after: timeout,
        };
        let disc = |cause: Cause| Error::Disconnected {
            unit: crate::error::unit_of(unit),
            step,
            cause,
        };
        let cookie_err = |source: sdbus_cookie::Error| Error::Cookie { step, source };

        // Reserve the serial.
        let (serial, dest_name) = {
            let mut st = self.shared.lock();
            if let Some(why) = &st.closed {
                return Err(disc(why.clone()));
            }
            let (dest_name, expect) = match dest {
                Dest::Bus => (Some(BUS_NAME.to_owned()), Some(BUS_NAME.to_owned())),
                Dest::Systemd if self.direct => (None, None),
                Dest::Systemd => (Some(SYSTEMD_NAME.to_owned()), st.systemd_owner.clone()),
            };
            let serial = st.calls.reserve(sealed, expect).map_err(cookie_err)?;
            (serial, dest_name)
        };
        self.shared.counters.calls.fetch_add(1, Ordering::Relaxed);

        let release = |this: &Self| this.shared.lock().calls.abandon(serial);

        let msg = (|| {
            let mut b = Message::method_call(path, member)?.interface(iface)?;
            if let Some(d) = dest_name.as_deref() {
                b = b.destination(d)?;
            }
            let nz = NonZeroU32::new(serial).expect("the allocator never hands out 0");
            b.serial(nz).build(body)
        })();
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                release(self);
                return Err(Error::Protocol {
                    unit: crate::error::unit_of(unit),
                    step,
                    cause: Cause::bus(e),
                });
            }
        };

        // Send, bounded by the same deadline: a stalled peer can fill the socket buffer.
        let mut guard = PendingGuard {
            shared: &self.shared,
            serial,
            armed: true,
            sending: true,
        };
        let sent = futures_lite::future::or(async { Some(self.zconn.send(&msg).await) }, async {
            async_io::Timer::at(deadline).await;
            None
        })
        .await;
        guard.sending = false;
        match sent {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                guard.armed = false;
                release(self);
                self.mark_closed(Cause::bus(e.clone()));
                return Err(disc(Cause::bus(e)));
            }
            None => {
                // A half-written message leaves the stream unusable: drop the connection.
                guard.armed = false;
                self.quarantine(serial);
                self.shared
                    .counters
                    .timeouts
                    .fetch_add(1, Ordering::Relaxed);
                self.mark_closed(Cause::Detail("send timed out".into()));
                return Err(timeout_err());
            }
        }

        // Wait for the reader to fill our slot.
        let counters = &self.shared.counters;
        let outcome = self
            .shared
            .wait_for(deadline, |st, expired| {
                if let Some(reply) = st.calls.take_reply(serial) {
                    return Some(Ok(reply));
                }
                if let Some(why) = st.closed.clone() {
                    st.calls.abandon(serial);
                    return Some(Err(disc(why)));
                }
                if !expired {
                    return None;
                }
                let wrong_sender = st
                    .calls
                    .time_out(serial)
                    .expect("only we remove our waiting slot")
                    .wrong_sender_seen;
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                if wrong_sender {
                    // The answer came from someone else (systemd re-executed and has a new
                    // unique name?): start afresh on the next operation.
                    st.close(Cause::Detail(
                        "replies arrive from an unexpected sender".into(),
                    ));
                    self.shared.wake();
                }
                Some(Err(timeout_err()))
            })
            .await;
        guard.armed = false;
        Ok(Reply {
            message: check_reply(outcome?, unit, step)?,
            serial,
        })
    }

    fn quarantine(&self, serial: u32) {
        self.shared.lock().calls.time_out(serial);
    }

    pub(crate) fn mark_closed(&self, why: Cause) {
        let mut st = self.shared.lock();
        if st.closed.is_none() {
            self.shared
                .counters
                .disconnects
                .fetch_add(1, Ordering::Relaxed);
        }
        st.close(why);
        drop(st);
        self.shared.wake();
    }

    /// Waits for `JobRemoved` of `job` until `timeout`.
    pub(crate) async fn wait_job(
        &self,
        job: &str,
        unit: &str,
        timeout: Duration,
    ) -> Result<JobDone> {
        let deadline = Instant::now() + timeout;
        let counters = &self.shared.counters;
        self.shared
            .wait_for(deadline, |st, expired| {
                if let Some((_, done)) = st.jobs.remove(job) {
                    return Some(Ok(done));
                }
                if let Some(why) = &st.closed {
                    return Some(Err(Error::Disconnected {
                        unit: crate::error::unit_of(unit),
                        step: Step::JobWait,
                        cause: why.clone(),
                    }));
                }
                if !expired {
                    return None;
                }
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Some(Err(Error::Timeout {
                    unit: crate::error::unit_of(unit),
                    step: Step::JobWait,
                    after: timeout,
                }))
            })
            .await
    }

    pub(crate) fn snapshot(&self) -> ConnSnapshot {
        let st = self.shared.lock();
        let calls = st.calls.counts();
        ConnSnapshot {
            cookie: calls.cookie,
            cycled: calls.cycled,
            wraps: calls.wraps,
            pending: calls.pending,
            quarantined: calls.quarantined,
            waiting_slots: calls.slots,
            buffered_jobs: st.jobs.len(),
            peer: st.peer,
            closed: st.closed.clone(),
            unique_name: st.unique_name.clone(),
            systemd_owner: st.systemd_owner.clone(),
        }
    }

    /// Closes the connection without blocking: every waiter wakes with `Disconnected`,
    /// and the reader thread closes the socket and exits.
    pub(crate) fn shutdown(&self) {
        self.mark_closed(Cause::Detail("closed by the client".into()));
        self.shared.shutdown.notify(usize::MAX);
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ConnSnapshot {
    pub cookie: u64,
    pub cycled: bool,
    pub wraps: u64,
    pub pending: usize,
    pub quarantined: usize,
    pub waiting_slots: usize,
    pub buffered_jobs: usize,
    pub peer: PeerSerials,
    pub closed: Option<Cause>,
    pub unique_name: Option<String>,
    pub systemd_owner: Option<String>,
}

#[cfg(test)]
mod tests;
