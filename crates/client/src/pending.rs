//! The calls awaiting a reply on one connection: the cookie allocator and the reply slots
//! in one value.
//!
//! Invariant, by construction: a serial has a slot iff it is pending in the allocator.
//! Every method that adds or drops a slot changes the allocator in the same step, and no
//! other code can reach either. A serial is pending from [`reserve`](PendingCalls::reserve)
//! until its reply is taken, its late reply arrives (after a time-out or an abandoned
//! future quarantined it), or the call is dropped on a dead connection; so the allocator
//! never hands out a serial whose reply could still arrive.

use std::collections::HashMap;

use sdbus_cookie::{Allocator, Error as CookieError};
use zbus::message::Message;

#[derive(Debug)]
enum SlotState {
    Waiting,
    Done(Message),
    /// The caller gave up; the slot waits for the late reply to release the cookie.
    Quarantined,
}

#[derive(Debug)]
struct Slot {
    /// The sender a reply must carry (`None` on a direct connection).
    expect: Option<String>,
    state: SlotState,
    /// A reply with this serial came from someone else.
    wrong_sender_seen: bool,
}

/// What became of a reply routed to [`PendingCalls::route_reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routed {
    /// Stored for its waiting caller.
    Delivered,
    /// The caller had given up: the cookie is free again.
    Late,
    /// No call awaits this serial (never sent, or already answered).
    Unmatched,
    /// A call awaits this serial, but the reply came from someone else.
    WrongSender,
}

/// How a call whose deadline passed was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedOut {
    /// A reply with this serial had come from someone other than the callee.
    pub wrong_sender_seen: bool,
}

/// Counts for health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingCounts {
    pub cookie: u64,
    pub cycled: bool,
    pub wraps: u64,
    pub pending: usize,
    pub quarantined: usize,
    pub slots: usize,
}

#[derive(Debug, Default)]
pub(crate) struct PendingCalls {
    alloc: Allocator,
    slots: HashMap<u32, Slot>,
}

/// The allocator refused to drop or quarantine a serial that has a slot: only a broken
/// invariant (a bug in this module) gets here, so it is not a condition callers handle.
fn invariant(r: Result<(), CookieError>, serial: u32) {
    if let Err(e) = r {
        panic!("serial {serial:#x} has a reply slot but the allocator says: {e}");
    }
}

impl PendingCalls {
    /// Reserves a serial for a call whose reply must come from `expect` (`None`: a direct
    /// connection, where the peer sends no sender). With `sealed = Some(k)` the caller
    /// sealed the message with `k` itself: `k` is reserved and the current cookie becomes
    /// max(current, k), sd-bus's rule for caller-sealed messages. Otherwise the allocator
    /// picks the serial. On error nothing changed.
    pub(crate) fn reserve(
        &mut self,
        sealed: Option<u32>,
        expect: Option<String>,
    ) -> Result<u32, CookieError> {
        let serial = match sealed {
            Some(k) => {
                self.alloc.insert_pending(u64::from(k))?;
                if let Err(e) = self.alloc.observe_sealed(u64::from(k)) {
                    // insert_pending accepted k, so k is in range and observe_sealed cannot
                    // refuse it; undo the insert all the same, so "nothing changed" holds.
                    invariant(self.alloc.remove_pending(u64::from(k)), k);
                    return Err(e);
                }
                k
            }
            None => {
                let c = self.alloc.next()?.get();
                self.alloc.insert_pending(u64::from(c))?;
                c
            }
        };
        self.slots.insert(
            serial,
            Slot {
                expect,
                state: SlotState::Waiting,
                wrong_sender_seen: false,
            },
        );
        Ok(serial)
    }

    /// Routes a method return or error naming `serial`, sent by `sender`. `driver_error`:
    /// an error from the bus driver, which answers on the callee's behalf (dbus-daemon
    /// stamps the sender, so no client can forge it).
    pub(crate) fn route_reply(
        &mut self,
        serial: u32,
        sender: Option<&str>,
        driver_error: bool,
        reply: Message,
    ) -> Routed {
        let Some(slot) = self.slots.get_mut(&serial) else {
            return Routed::Unmatched;
        };
        if slot.expect.as_deref() != sender && !driver_error {
            slot.wrong_sender_seen = true;
            return Routed::WrongSender;
        }
        match slot.state {
            SlotState::Waiting => {
                slot.state = SlotState::Done(reply);
                Routed::Delivered
            }
            SlotState::Quarantined => {
                self.drop_slot(serial);
                Routed::Late
            }
            // A second reply to the same call.
            SlotState::Done(_) => Routed::Unmatched,
        }
    }

    /// The reply for `serial`, if it has arrived: the call is complete and its cookie free.
    pub(crate) fn take_reply(&mut self, serial: u32) -> Option<Message> {
        if !matches!(
            self.slots.get(&serial).map(|s| &s.state),
            Some(SlotState::Done(_))
        ) {
            return None;
        }
        let slot = self.slots.remove(&serial).expect("checked above");
        invariant(self.alloc.remove_pending(u64::from(serial)), serial);
        match slot.state {
            SlotState::Done(reply) => Some(reply),
            _ => unreachable!("checked above"),
        }
    }

    /// The caller's deadline passed (or its future was dropped) while the reply is
    /// outstanding: the serial stays reserved until the late reply or the disconnect.
    /// `None` if the serial has no slot (its reply was taken, or the call was dropped).
    pub(crate) fn time_out(&mut self, serial: u32) -> Option<TimedOut> {
        let slot = self.slots.get_mut(&serial)?;
        slot.state = SlotState::Quarantined;
        let wrong_sender_seen = slot.wrong_sender_seen;
        invariant(self.alloc.quarantine(u64::from(serial)), serial);
        Some(TimedOut { wrong_sender_seen })
    }

    /// The call will never be answered on this connection (it was never sent, or the
    /// connection is gone): its cookie is free. Nothing happens if it has no slot.
    pub(crate) fn abandon(&mut self, serial: u32) {
        if self.slots.contains_key(&serial) {
            self.drop_slot(serial);
        }
    }

    fn drop_slot(&mut self, serial: u32) {
        self.slots.remove(&serial);
        invariant(self.alloc.remove_pending(u64::from(serial)), serial);
    }

    pub(crate) fn counts(&self) -> PendingCounts {
        PendingCounts {
            cookie: self.alloc.current(),
            cycled: self.alloc.has_cycled(),
            wraps: self.alloc.wraps(),
            pending: self.alloc.pending_len(),
            quarantined: self.alloc.quarantined_len(),
            slots: self.slots.len(),
        }
    }

    /// The invariant, checked in full (for tests).
    #[cfg(test)]
    pub(crate) fn check(&self) -> Result<(), String> {
        self.alloc.check_invariants()?;
        if self.alloc.pending_len() != self.slots.len() {
            return Err(format!(
                "{} pending cookies but {} slots",
                self.alloc.pending_len(),
                self.slots.len()
            ));
        }
        for (&serial, slot) in &self.slots {
            if !self.alloc.is_pending(u64::from(serial)) {
                return Err(format!("slot {serial:#x} is not pending"));
            }
            let quarantined = matches!(slot.state, SlotState::Quarantined);
            if quarantined != self.alloc.is_quarantined(u64::from(serial)) {
                return Err(format!("slot {serial:#x}: quarantine disagrees"));
            }
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn is_waiting(&self, serial: u32) -> bool {
        matches!(
            self.slots.get(&serial).map(|s| &s.state),
            Some(SlotState::Waiting)
        )
    }

    #[cfg(test)]
    pub(crate) fn has_reply(&self, serial: u32) -> bool {
        matches!(
            self.slots.get(&serial).map(|s| &s.state),
            Some(SlotState::Done(_))
        )
    }

    #[cfg(test)]
    pub(crate) fn wrong_sender_seen(&self, serial: u32) -> bool {
        self.slots.get(&serial).is_some_and(|s| s.wrong_sender_seen)
    }
}

#[cfg(test)]
mod tests {
    //! Each way a call ends keeps the slots and the allocator in step.
    use super::*;
    use std::num::NonZeroU32;

    fn reply(serial: u32, sender: &str) -> Message {
        let call = Message::method_call("/org/freedesktop/systemd1", "GetUnit")
            .unwrap()
            .serial(NonZeroU32::new(serial).unwrap())
            .build(&())
            .unwrap();
        Message::method_return(&call.header())
            .unwrap()
            .sender(sender)
            .unwrap()
            .serial(NonZeroU32::new(77).unwrap())
            .build(&())
            .unwrap()
    }

    #[test]
    fn reserve_hands_out_1_then_2_and_a_completed_call_frees_its_cookie() {
        let mut p = PendingCalls::default();
        assert_eq!(p.reserve(None, Some(":1.0".into())), Ok(1));
        assert_eq!(p.reserve(None, Some(":1.0".into())), Ok(2));
        assert_eq!(
            p.route_reply(1, Some(":1.0"), false, reply(1, ":1.0")),
            Routed::Delivered
        );
        assert!(p.take_reply(1).is_some());
        assert!(p.take_reply(1).is_none(), "a reply is taken once");
        assert_eq!((p.counts().pending, p.counts().slots), (1, 1));
        p.check().unwrap();
    }

    #[test]
    fn a_sealed_serial_is_reserved_and_raises_the_current_cookie() {
        let mut p = PendingCalls::default();
        assert_eq!(p.reserve(Some(0xffff_fff0), None), Ok(0xffff_fff0));
        assert_eq!(p.counts().cookie, 0xffff_fff0);
        // The next serial the allocator picks is the one after it.
        assert_eq!(p.reserve(None, None), Ok(0xffff_fff1));
        // Sealing a serial that is still pending is refused, and changes nothing.
        assert!(matches!(
            p.reserve(Some(0xffff_fff0), None),
            Err(CookieError::AlreadyPending(c)) if c.get() == 0xffff_fff0
        ));
        assert_eq!(p.counts().slots, 2);
        p.check().unwrap();
    }

    #[test]
    fn a_timed_out_call_keeps_its_cookie_until_the_late_reply() {
        let mut p = PendingCalls::default();
        let s = p.reserve(None, Some(":1.0".into())).unwrap();
        assert_eq!(
            p.time_out(s),
            Some(TimedOut {
                wrong_sender_seen: false
            })
        );
        assert_eq!((p.counts().pending, p.counts().quarantined), (1, 1));
        p.check().unwrap();
        assert_eq!(
            p.route_reply(s, Some(":1.0"), false, reply(s, ":1.0")),
            Routed::Late
        );
        assert_eq!((p.counts().pending, p.counts().slots), (0, 0));
        assert_eq!(p.time_out(s), None, "nothing left to time out");
        p.check().unwrap();
    }

    #[test]
    fn a_reply_from_a_stranger_is_not_delivered_and_is_remembered() {
        let mut p = PendingCalls::default();
        let s = p.reserve(None, Some(":1.0".into())).unwrap();
        assert_eq!(
            p.route_reply(s, Some(":1.66"), false, reply(s, ":1.66")),
            Routed::WrongSender
        );
        assert!(p.is_waiting(s));
        assert_eq!(
            p.time_out(s),
            Some(TimedOut {
                wrong_sender_seen: true
            })
        );
        p.check().unwrap();
    }

    #[test]
    fn an_abandoned_call_frees_its_cookie_whatever_its_state() {
        let mut p = PendingCalls::default();
        let waiting = p.reserve(None, None).unwrap();
        let quarantined = p.reserve(None, None).unwrap();
        let answered = p.reserve(None, None).unwrap();
        p.time_out(quarantined).unwrap();
        p.route_reply(answered, None, false, reply(answered, ":1.0"));
        for s in [waiting, quarantined, answered, 999] {
            p.abandon(s);
        }
        assert_eq!(
            (p.counts().pending, p.counts().quarantined, p.counts().slots),
            (0, 0, 0)
        );
        p.check().unwrap();
    }

    // The one escape hatch: a serial with a reply slot that the allocator does not hold is a
    // bug in this module, and it stops the program naming the serial rather than going on
    // with two views of what is pending.
    #[test]
    #[should_panic(expected = "serial 0x5 has a reply slot but the allocator says")]
    fn a_slot_the_allocator_does_not_hold_is_a_panic_naming_the_serial() {
        invariant(Err(CookieError::Busy), 5);
    }

    #[test]
    fn an_allocator_that_agrees_is_no_panic() {
        invariant(Ok(()), 5);
    }
}
