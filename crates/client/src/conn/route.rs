//! Routing of what the reader receives: replies to the pending call they answer, only from
//! the callee; `JobRemoved` into the job buffer; systemd's serials into the peer watch.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use zbus::message::{Message, Type as MsgType};
use zbus::zvariant::OwnedObjectPath;

use super::{Counters, JobDone, PeerSerials, BUS_NAME, MANAGER_IFACE, SYSTEMD_NAME};
use crate::error::{Cause, Error, Result, Step};
use crate::pending::{PendingCalls, Routed};

#[derive(Debug)]
pub(crate) struct State {
    pub(super) calls: PendingCalls,
    /// Buffered `JobRemoved` by job path, with when it arrived.
    pub(super) jobs: HashMap<String, (Instant, JobDone)>,
    pub(super) job_interest: usize,
    /// Buffered signals older than this are nobody's (their waiter gave up): on a busy bus
    /// job interest may never drop to zero, so age bounds the buffer.
    pub(super) job_ttl: Duration,
    /// Why the connection closed, once it has.
    pub(super) closed: Option<Cause>,
    pub(super) direct: bool,
    /// systemd's unique name on a bus, once known.
    pub(super) systemd_owner: Option<String>,
    pub(super) unique_name: Option<String>,
    pub(super) peer: PeerSerials,
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

    pub(super) fn is_from_systemd(&self, sender: Option<&str>) -> bool {
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
            .filter(|s| !(self.direct && *s == crate::private_socket::split::DIRECT_SENDER));
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
    pub(super) fn owner_changed(&mut self, msg: &Message) {
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

    pub(super) fn close(&mut self, why: Cause) {
        if self.closed.is_none() {
            self.closed = Some(why);
        }
    }
}

pub(super) fn check_reply(reply: Message, unit: &str, step: Step) -> Result<Message> {
    let header = reply.header();
    if header.message_type() == MsgType::Error {
        let name = header
            .error_name()
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default();
        drop(header);
        let message = reply.body().deserialize::<String>().unwrap_or_default();
        return Err(Error::Dbus {
            unit: crate::error::unit_of(unit),
            step,
            name,
            message,
        });
    }
    drop(header);
    Ok(reply)
}
