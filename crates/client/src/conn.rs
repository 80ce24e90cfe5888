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

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_lite::StreamExt;
use zbus::message::{Message, Type as MsgType};
use zbus::zvariant::{DynamicType, OwnedObjectPath};

use crate::error::{Cause, Error, Result, Step};
use crate::pending::{PendingCalls, Routed};

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

#[derive(Debug)]
pub(crate) struct State {
    calls: PendingCalls,
    /// Buffered `JobRemoved` by job path, with when it arrived.
    jobs: HashMap<String, (Instant, JobDone)>,
    job_interest: usize,
    /// Buffered signals older than this are nobody's (their waiter gave up): on a busy bus
    /// job interest may never drop to zero, so age bounds the buffer.
    job_ttl: Duration,
    /// Why the connection closed, once it has.
    closed: Option<Cause>,
    direct: bool,
    /// systemd's unique name on a bus, once known.
    systemd_owner: Option<String>,
    unique_name: Option<String>,
    peer: PeerSerials,
}

impl State {
    pub(crate) fn new(direct: bool) -> State {
        State {
            calls: PendingCalls::default(),
            jobs: HashMap::new(),
            job_interest: 0,
            job_ttl: Duration::from_secs(60),
            closed: None,
            direct,
            systemd_owner: None,
            unique_name: None,
            peer: PeerSerials::default(),
        }
    }

    fn is_from_systemd(&self, sender: Option<&str>) -> bool {
        if self.direct {
            sender.is_none()
        } else {
            sender.is_some() && sender == self.systemd_owner.as_deref()
        }
    }

    /// Routes one incoming message. Returns true when a waiter may have been satisfied.
    pub(crate) fn dispatch(&mut self, counters: &Counters, msg: Message) -> bool {
        let header = msg.header();
        let sender = header
            .sender()
            .map(|s| s.as_str())
            .filter(|s| !(self.direct && *s == crate::private::split::DIRECT_SENDER));
        if self.is_from_systemd(sender) {
            let serial = header.primary().serial_num().get();
            if self.peer.messages > 0 && serial < self.peer.last {
                self.peer.wraps += 1;
            }
            self.peer.messages += 1;
            self.peer.last = serial;
        }
        match header.message_type() {
            MsgType::MethodReturn | MsgType::Error => {
                let Some(rs) = header.reply_serial() else {
                    counters.unmatched_replies.fetch_add(1, Ordering::Relaxed);
                    return false;
                };
                let rs = rs.get();
                // The bus driver answers with errors on behalf of the callee (ServiceUnknown,
                // AccessDenied, NoReply, LimitsExceeded); dbus-daemon stamps the sender, so
                // it cannot be forged by another client.
                let driver_error = !self.direct
                    && header.message_type() == MsgType::Error
                    && sender == Some(BUS_NAME);
                let sender = sender.map(str::to_owned);
                drop(header);
                let routed = self
                    .calls
                    .route_reply(rs, sender.as_deref(), driver_error, msg);
                let counter = match routed {
                    Routed::Delivered => &counters.replies,
                    Routed::Late => &counters.late_replies,
                    Routed::Unmatched => &counters.unmatched_replies,
                    Routed::WrongSender => &counters.wrong_sender_replies,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                routed == Routed::Delivered
            }
            MsgType::Signal => {
                if sender == Some(BUS_NAME)
                    && header
                        .member()
                        .is_some_and(|m| m.as_str() == "NameOwnerChanged")
                {
                    drop(header);
                    self.owner_changed(&msg);
                    return false;
                }
                let is_job_removed = header.member().is_some_and(|m| m.as_str() == "JobRemoved")
                    && header
                        .interface()
                        .is_some_and(|i| i.as_str() == MANAGER_IFACE);
                if !is_job_removed {
                    return false;
                }
                if !self.is_from_systemd(sender) {
                    counters.foreign_signals.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
                counters.jobs_removed.fetch_add(1, Ordering::Relaxed);
                if self.job_interest == 0 {
                    return false;
                }
                drop(header);
                match msg
                    .body()
                    .deserialize::<(u32, OwnedObjectPath, String, String)>()
                {
                    Ok((_id, job, unit, result)) => {
                        let now = Instant::now();
                        if self.jobs.len() >= 64 {
                            let ttl = self.job_ttl;
                            self.jobs.retain(|_, (at, _)| now.duration_since(*at) < ttl);
                        }
                        self.jobs
                            .insert(job.as_str().to_owned(), (now, JobDone { unit, result }));
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        }
    }

    /// `NameOwnerChanged` for systemd's name: a re-executed or reconnected systemd is a new
    /// connection with a new unique name and a fresh cookie, so replies and signals are
    /// expected from the new owner and its serials are watched from scratch. Only the bus
    /// driver's signal counts (dbus-daemon stamps the sender, so no client can forge it).
    fn owner_changed(&mut self, msg: &Message) {
        if self.direct {
            return;
        }
        let Ok((name, _old, new)) = msg.body().deserialize::<(String, String, String)>() else {
            return;
        };
        if name != SYSTEMD_NAME {
            return;
        }
        let new = (!new.is_empty()).then_some(new);
        if new != self.systemd_owner {
            self.systemd_owner = new;
            self.peer = PeerSerials::default();
        }
    }

    fn close(&mut self, why: Cause) {
        if self.closed.is_none() {
            self.closed = Some(why);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Fired after every change a waiter may be waiting for.
    pub event: Event,
    /// Fired once, when the client closes the connection: the reader closes the socket.
    pub shutdown: Event,
    pub counters: Arc<Counters>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for counting.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn wake(&self) {
        self.event.notify(usize::MAX);
    }

    /// Runs `check` under the lock until it returns `Some`, waiting for changes in between;
    /// at `deadline` it runs once more with `expired = true` and must return `Some` then.
    /// A listener is registered under the lock before waiting, so no change is missed.
    pub(crate) async fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&mut State, bool) -> Option<T>,
    ) -> T {
        loop {
            let listener = {
                let mut st = self.lock();
                if let Some(v) = check(&mut st, false) {
                    return v;
                }
                self.event.listen()
            };
            let expired = futures_lite::future::or(
                async {
                    listener.await;
                    false
                },
                async {
                    async_io::Timer::at(deadline).await;
                    true
                },
            )
            .await;
            if expired {
                let mut st = self.lock();
                if let Some(v) = check(&mut st, false) {
                    return v;
                }
                return check(&mut st, true).expect("check answers once expired");
            }
        }
    }
}

/// Quarantines a call's serial if its future is dropped while the reply is outstanding, so
/// the cookie is neither reused nor leaked (the late reply or the disconnect releases it).
/// Dropped in the middle of sending, it closes the connection: part of a message may be on
/// the socket, and nothing can follow it.
struct PendingGuard<'a> {
    shared: &'a Shared,
    serial: u32,
    armed: bool,
    sending: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut st = self.shared.lock();
        if self.sending && st.closed.is_none() {
            self.shared
                .counters
                .disconnects
                .fetch_add(1, Ordering::Relaxed);
            st.close(Cause::Detail("a send was abandoned mid-message".into()));
            self.shared.wake();
            self.shared.shutdown.notify(usize::MAX);
        }
        if st.closed.is_some() {
            st.calls.abandon(self.serial);
        } else {
            st.calls.time_out(self.serial);
        }
    }
}

/// Where the reader thread hands over the connection it built.
#[derive(Debug, Default)]
struct Handover {
    result: Option<Result<(zbus::Connection, Arc<Shared>)>>,
    /// The caller gave up (deadline or dropped future): the reader closes what it built.
    abandoned: bool,
}

struct HandoverGuard {
    slot: Arc<(Mutex<Handover>, Event)>,
}

impl Drop for HandoverGuard {
    fn drop(&mut self) {
        let mut h = self.slot.0.lock().unwrap_or_else(|e| e.into_inner());
        h.abandoned = true;
        if let Some(Ok((_, shared))) = h.result.take() {
            // Built but never taken: the reader owns the socket and closes it.
            shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
            shared
                .lock()
                .close(Cause::Detail("abandoned during the handshake".into()));
            shared.shutdown.notify(usize::MAX);
        }
    }
}

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
            unit: unit.to_owned(),
            step,
            after: timeout,
        };
        let disc = |cause: Cause| Error::Disconnected {
            unit: unit.to_owned(),
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
                    unit: unit.to_owned(),
                    step,
                    cause: Cause::from(e),
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
                self.mark_closed(Cause::from(e.clone()));
                return Err(disc(Cause::from(e)));
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
                        unit: unit.to_owned(),
                        step: Step::JobWait,
                        cause: why.clone(),
                    }));
                }
                if !expired {
                    return None;
                }
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                Some(Err(Error::Timeout {
                    unit: unit.to_owned(),
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

fn check_reply(reply: Message, unit: &str, step: Step) -> Result<Message> {
    let header = reply.header();
    if header.message_type() == MsgType::Error {
        let name = header
            .error_name()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        drop(header);
        let message = reply.body().deserialize::<String>().unwrap_or_default();
        return Err(Error::Dbus {
            unit: unit.to_owned(),
            step,
            name,
            message,
        });
    }
    drop(header);
    Ok(reply)
}

/// The reader thread: builds the connection (bounded by `deadline`), hands it over, then
/// routes every incoming message until the connection closes or the client shuts it down.
/// What the reader thread connects to, and by when.
struct Dial {
    address: String,
    direct: bool,
    deadline: Instant,
    /// The handshake budget the deadline came from (for the error message).
    timeout: Duration,
}

fn build_and_read(dial: &Dial, counters: Arc<Counters>, slot: &(Mutex<Handover>, Event)) {
    let (address, direct, deadline) = (dial.address.as_str(), dial.direct, dial.deadline);
    let hand = |r: Result<(zbus::Connection, Arc<Shared>)>| -> bool {
        let mut h = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        if h.abandoned {
            return false;
        }
        h.result = Some(r);
        drop(h);
        slot.1.notify(usize::MAX);
        true
    };
    let connect_err = |cause: Cause| Error::Connect {
        target: address.to_owned(),
        step: Step::Connect,
        cause,
    };
    let build = async {
        let builder = if direct {
            // Our own read half: see the private module for why.
            let socket = crate::private::split::connect(address, true)
                .await
                .map_err(zbus::Error::from)?;
            zbus::connection::Builder::socket(socket)
        } else {
            zbus::connection::Builder::address(address)?
        };
        builder.p2p().build().await
    };
    // The timer first: a peer that keeps the handshake busy cannot starve it.
    let built = async_io::block_on(futures_lite::future::or(
        async {
            async_io::Timer::at(deadline).await;
            None
        },
        async { Some(build.await) },
    ));
    let zconn = match built {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            hand(Err(connect_err(Cause::from(e))));
            return;
        }
        None => {
            hand(Err(connect_err(Cause::Detail(format!(
                "no handshake within {:?}",
                dial.timeout
            )))));
            return;
        }
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(direct)),
        event: Event::new(),
        shutdown: Event::new(),
        counters,
    });
    // The stream must exist before anything is sent, or replies could be missed.
    let stream = zbus::MessageStream::from(&zconn);
    shared.counters.connects.fetch_add(1, Ordering::Relaxed);
    if !hand(Ok((zconn.clone(), Arc::clone(&shared)))) {
        // Nobody will use it: count it closed, as every connection opened is.
        shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
        shared
            .lock()
            .close(Cause::Detail("abandoned during the handshake".into()));
    }
    reader(stream, zconn, shared);
}

fn reader(mut stream: zbus::MessageStream, zconn: zbus::Connection, shared: Arc<Shared>) {
    let why = async_io::block_on(async {
        let mut shutdown = shared.shutdown.listen();
        loop {
            if let Some(why) = shared.lock().closed.clone() {
                break why;
            }
            let next = futures_lite::future::or(
                async { Some(stream.next().await) },
                futures_lite::future::or(
                    async {
                        zconn.closed().await;
                        None
                    },
                    async {
                        (&mut shutdown).await;
                        Some(None)
                    },
                ),
            )
            .await;
            match next {
                Some(Some(Ok(msg))) => {
                    let mut st = shared.lock();
                    if st.dispatch(&shared.counters, msg) {
                        drop(st);
                        shared.wake();
                    }
                }
                Some(Some(Err(e))) => break Cause::from(e),
                Some(None) => {
                    if let Some(why) = shared.lock().closed.clone() {
                        break why;
                    }
                    break Cause::Detail("connection closed by the peer".into());
                }
                None => break Cause::Detail("connection closed".into()),
            }
        }
    });
    let mut st = shared.lock();
    if st.closed.is_none() {
        shared.counters.disconnects.fetch_add(1, Ordering::Relaxed);
    }
    st.close(why);
    drop(st);
    shared.wake();
    // Close the socket here, on our own thread, so a client's drop never blocks.
    async_io::block_on(futures_lite::future::or(
        async {
            let _ = zconn.close().await;
        },
        async {
            async_io::Timer::after(Duration::from_secs(1)).await;
        },
    ));
}

#[cfg(test)]
mod tests {
    //! The routing rules of `State::dispatch`, on messages built with zbus's own builders
    //! (no bus needed: this is our matching logic, not systemd's behaviour).
    use super::*;

    pub(super) fn nz(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).unwrap()
    }

    fn call(serial: u32) -> Message {
        Message::method_call("/org/freedesktop/systemd1", "GetUnit")
            .unwrap()
            .sender(":1.7")
            .unwrap()
            .serial(nz(serial))
            .build(&("x.scope",))
            .unwrap()
    }

    pub(super) fn reply(to: &Message, sender: Option<&str>, serial: u32) -> Message {
        let mut b = Message::method_return(&to.header())
            .unwrap()
            .serial(nz(serial));
        if let Some(s) = sender {
            b = b.sender(s).unwrap();
        }
        b.build(&()).unwrap()
    }

    pub(super) fn bus_state() -> State {
        let mut st = State::new(false);
        st.systemd_owner = Some(":1.0".into());
        st.unique_name = Some(":1.7".into());
        st
    }

    pub(super) fn park(st: &mut State, serial: u32, expect: Option<&str>) {
        assert_eq!(
            st.calls.reserve(Some(serial), expect.map(str::to_owned)),
            Ok(serial)
        );
    }

    #[test]
    fn reply_from_the_callee_is_delivered_and_recorded_as_peer_serial() {
        let (mut st, c) = (bus_state(), Counters::default());
        park(&mut st, 5, Some(":1.0"));
        assert!(st.dispatch(&c, reply(&call(5), Some(":1.0"), 900)));
        assert!(st.calls.has_reply(5));
        assert_eq!(c.replies.load(Ordering::Relaxed), 1);
        assert_eq!((st.peer.messages, st.peer.last), (1, 900));
    }

    #[test]
    fn reply_from_the_wrong_sender_is_counted_and_not_delivered() {
        let (mut st, c) = (bus_state(), Counters::default());
        park(&mut st, 5, Some(":1.0"));
        assert!(!st.dispatch(&c, reply(&call(5), Some(":1.66"), 3)));
        assert!(st.calls.is_waiting(5));
        assert!(st.calls.wrong_sender_seen(5));
        assert_eq!(c.wrong_sender_replies.load(Ordering::Relaxed), 1);
        assert_eq!(
            st.peer.messages, 0,
            "a stranger's serial is not systemd's cookie"
        );
        // A method *return* claiming to be from the bus driver is not accepted either.
        assert!(!st.dispatch(&c, reply(&call(5), Some(BUS_NAME), 4)));
        assert_eq!(c.wrong_sender_replies.load(Ordering::Relaxed), 2);
        // The right reply still gets through afterwards.
        assert!(st.dispatch(&c, reply(&call(5), Some(":1.0"), 901)));
    }

    #[test]
    fn bus_driver_error_on_behalf_of_the_callee_is_delivered() {
        let (mut st, c) = (bus_state(), Counters::default());
        park(&mut st, 5, Some(":1.0"));
        let err = Message::error(
            &call(5).header(),
            "org.freedesktop.DBus.Error.ServiceUnknown",
        )
        .unwrap()
        .sender(BUS_NAME)
        .unwrap()
        .serial(nz(8))
        .build(&("gone",))
        .unwrap();
        assert!(st.dispatch(&c, err));
        assert!(st.calls.has_reply(5));
    }

    #[test]
    fn reply_to_no_pending_call_is_counted_and_dropped() {
        let (mut st, c) = (bus_state(), Counters::default());
        park(&mut st, 5, Some(":1.0"));
        assert!(!st.dispatch(&c, reply(&call(6), Some(":1.0"), 902)));
        assert_eq!(c.unmatched_replies.load(Ordering::Relaxed), 1);
        assert!(st.calls.is_waiting(5));
        // A second reply to an already answered call is unmatched too.
        assert!(st.dispatch(&c, reply(&call(5), Some(":1.0"), 903)));
        assert!(!st.dispatch(&c, reply(&call(5), Some(":1.0"), 904)));
        assert_eq!(c.unmatched_replies.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn late_reply_releases_the_quarantined_cookie() {
        let (mut st, c) = (bus_state(), Counters::default());
        park(&mut st, 5, Some(":1.0"));
        st.calls.time_out(5).unwrap();
        assert_eq!(st.calls.counts().quarantined, 1);
        assert!(!st.dispatch(&c, reply(&call(5), Some(":1.0"), 905)));
        assert_eq!(c.late_replies.load(Ordering::Relaxed), 1);
        let left = st.calls.counts();
        assert_eq!((left.slots, left.pending, left.quarantined), (0, 0, 0));
    }

    #[test]
    fn direct_connection_expects_no_sender_and_watches_every_serial() {
        let (mut st, c) = (State::new(true), Counters::default());
        park(&mut st, 9, None);
        assert!(!st.dispatch(&c, reply(&call(9), Some(":1.3"), 10)));
        assert_eq!(c.wrong_sender_replies.load(Ordering::Relaxed), 1);
        assert!(st.dispatch(&c, reply(&call(9), None, 11)));
        assert_eq!(st.peer.last, 11);
    }

    fn owner_changed(sender: &str, name: &str, old: &str, new: &str) -> Message {
        Message::signal("/org/freedesktop/DBus", BUS_NAME, "NameOwnerChanged")
            .unwrap()
            .sender(sender)
            .unwrap()
            .serial(nz(40))
            .build(&(name, old, new))
            .unwrap()
    }

    #[test]
    fn systemd_owner_follows_name_owner_changed_from_the_bus_driver_only() {
        let (mut st, c) = (bus_state(), Counters::default());
        park(&mut st, 5, Some(":1.0"));
        assert!(st.dispatch(&c, reply(&call(5), Some(":1.0"), 0xffff_fff0)));
        // A client cannot claim systemd's name for itself.
        st.dispatch(&c, owner_changed(":1.66", SYSTEMD_NAME, ":1.0", ":1.66"));
        assert_eq!(st.systemd_owner.as_deref(), Some(":1.0"));
        // Another name's owner is none of our business.
        st.dispatch(&c, owner_changed(BUS_NAME, "org.example.x", "", ":1.9"));
        assert_eq!(st.systemd_owner.as_deref(), Some(":1.0"));
        // systemd leaves the bus, then a re-executed systemd takes its name: a new
        // connection, whose serials start over (not a wrap of the old cookie).
        st.dispatch(&c, owner_changed(BUS_NAME, SYSTEMD_NAME, ":1.0", ""));
        assert_eq!(st.systemd_owner, None);
        st.dispatch(&c, owner_changed(BUS_NAME, SYSTEMD_NAME, "", ":1.260"));
        assert_eq!(st.systemd_owner.as_deref(), Some(":1.260"));
        assert_eq!(st.peer, PeerSerials::default());
        park(&mut st, 6, Some(":1.260"));
        assert!(st.dispatch(&c, reply(&call(6), Some(":1.260"), 7)));
        assert_eq!((st.peer.last, st.peer.wraps), (7, 0));
    }

    fn job_removed(sender: &str, serial: u32, job: &str, result: &str) -> Message {
        job_removed_on(MANAGER_IFACE, sender, serial, job, result)
    }

    /// A `JobRemoved(uoss)` signal on interface `iface` (systemd sends it on the Manager's).
    pub(super) fn job_removed_on(
        iface: &str,
        sender: &str,
        serial: u32,
        job: &str,
        result: &str,
    ) -> Message {
        Message::signal(SYSTEMD_PATH, iface, "JobRemoved")
            .unwrap()
            .sender(sender)
            .unwrap()
            .serial(nz(serial))
            .build(&(
                7u32,
                zbus::zvariant::ObjectPath::try_from(job).unwrap(),
                "x.scope",
                result,
            ))
            .unwrap()
    }

    #[test]
    fn job_removed_is_buffered_by_path_only_from_systemd_and_only_while_awaited() {
        let (mut st, c) = (bus_state(), Counters::default());
        let job = "/org/freedesktop/systemd1/job/7";
        // Nobody waits: not buffered (would grow without bound).
        assert!(!st.dispatch(&c, job_removed(":1.0", 20, job, "done")));
        assert!(st.jobs.is_empty());
        st.job_interest = 1;
        // From a stranger: counted, ignored.
        assert!(!st.dispatch(&c, job_removed(":1.9", 2, job, "failed")));
        assert_eq!(c.foreign_signals.load(Ordering::Relaxed), 1);
        assert!(st.jobs.is_empty());
        assert!(st.dispatch(&c, job_removed(":1.0", 21, job, "canceled")));
        assert_eq!(st.jobs[job].1.result, "canceled");
        assert_eq!(st.peer.last, 21);
    }

    #[test]
    fn unclaimed_job_signals_age_out_while_others_keep_waiting() {
        let (mut st, c) = (bus_state(), Counters::default());
        st.job_interest = 1;
        st.job_ttl = Duration::ZERO;
        for i in 0..200 {
            st.dispatch(&c, job_removed(":1.0", 100 + i, &format!("/j/{i}"), "done"));
        }
        assert!(st.jobs.len() <= 64, "buffer grew to {}", st.jobs.len());
        assert!(st.jobs.contains_key("/j/199"), "the newest is kept");
    }

    #[test]
    fn peer_serial_going_down_counts_as_a_wrap() {
        let (mut st, c) = (bus_state(), Counters::default());
        st.job_interest = 1;
        st.dispatch(&c, job_removed(":1.0", 0xffff_fffe, "/j/1", "done"));
        st.dispatch(&c, job_removed(":1.0", 0x8000_0000, "/j/2", "done"));
        assert_eq!(st.peer.wraps, 1);
        assert_eq!(st.peer.last, 0x8000_0000);
    }
}

#[cfg(test)]
#[path = "conn_rules.rs"]
mod rules;
