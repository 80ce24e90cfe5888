//! More routing rules of `State::dispatch` and `check_reply`, on messages built with zbus's
//! own builders: systemd's serials only count as a wrap when they go down; only the
//! Manager's `JobRemoved` is a job result; the job buffer ages entries out only when it is
//! full, and never one younger than its TTL; a D-Bus error reply is a typed error with
//! the error's name and message; and every routing rule against a forged sender (below).

use super::{bus_state, job_removed_on, nz, park, reply};
use crate::conn::route::*;
use crate::conn::*;

fn signal_from(sender: &str, serial: u32, iface: &str, job: &str) -> Message {
    job_removed_on(iface, sender, serial, job, "done")
}

fn job_removed(serial: u32, job: &str) -> Message {
    signal_from(":1.0", serial, MANAGER_IFACE, job)
}

#[test]
fn a_rising_or_repeated_systemd_serial_is_not_a_wrap() {
    let (mut st, c) = (bus_state(), Counters::default());
    st.job_interest = 1;
    st.dispatch(&c, job_removed(10, "/j/1"));
    st.dispatch(&c, job_removed(11, "/j/2"));
    st.dispatch(&c, job_removed(11, "/j/3"));
    assert_eq!(st.peer.wraps, 0, "{:?}", st.peer);
    assert_eq!((st.peer.messages, st.peer.last), (3, 11));
    // Going down once (0xffffffff → 0x80000000 on v242+) is one wrap.
    st.dispatch(&c, job_removed(0xffff_ffff, "/j/4"));
    st.dispatch(&c, job_removed(0x8000_0000, "/j/5"));
    assert_eq!((st.peer.wraps, st.peer.messages), (1, 5));
}

#[test]
fn job_removed_counts_only_on_systemds_manager_interface() {
    let (mut st, c) = (bus_state(), Counters::default());
    st.job_interest = 1;
    let job = "/org/freedesktop/systemd1/job/7";
    assert!(!st.dispatch(&c, signal_from(":1.0", 30, "org.example.Other", job)));
    assert!(st.jobs.is_empty());
    assert_eq!(c.jobs_removed.load(Ordering::Relaxed), 0);
    assert!(st.dispatch(&c, job_removed(31, job)));
    assert_eq!(c.jobs_removed.load(Ordering::Relaxed), 1);
}

#[test]
fn job_signals_are_aged_out_only_when_the_buffer_is_full() {
    let (mut st, c) = (bus_state(), Counters::default());
    st.job_interest = 1;
    // Every buffered signal is "too old" at once, but ten of them do not fill the buffer.
    st.job_ttl = Duration::ZERO;
    for i in 0..10 {
        st.dispatch(&c, job_removed(100 + i, &format!("/j/{i}")));
    }
    assert_eq!(st.jobs.len(), 10);
}

#[test]
fn job_signals_younger_than_the_ttl_are_kept_even_when_the_buffer_is_full() {
    let (mut st, c) = (bus_state(), Counters::default());
    st.job_interest = 1;
    st.job_ttl = Duration::from_secs(3600);
    for i in 0..100 {
        st.dispatch(&c, job_removed(100 + i, &format!("/j/{i}")));
    }
    assert_eq!(st.jobs.len(), 100);
}

fn call() -> Message {
    Message::method_call(SYSTEMD_PATH, "StopUnit")
        .unwrap()
        .sender(":1.7")
        .unwrap()
        .serial(nz(5))
        .build(&("web.scope", "replace"))
        .unwrap()
}

#[test]
fn an_error_reply_is_a_dbus_error_naming_unit_step_name_and_message() {
    let err = Message::error(&call().header(), "org.freedesktop.systemd1.NoSuchUnit")
        .unwrap()
        .sender(":1.0")
        .unwrap()
        .serial(nz(9))
        .build(&("Unit web.scope not loaded.",))
        .unwrap();
    match check_reply(err, "web.scope", Step::StopUnit) {
        Err(Error::Dbus {
            unit,
            step,
            name,
            message,
        }) => {
            assert_eq!(unit.as_deref(), Some("web.scope"));
            assert_eq!(step, Step::StopUnit);
            assert_eq!(name, "org.freedesktop.systemd1.NoSuchUnit");
            assert_eq!(message, "Unit web.scope not loaded.");
        }
        other => panic!("expected Error::Dbus, got {other:?}"),
    }
    let ok = Message::method_return(&call().header())
        .unwrap()
        .sender(":1.0")
        .unwrap()
        .serial(nz(10))
        .build(&(zbus::zvariant::ObjectPath::try_from("/org/freedesktop/systemd1/job/8").unwrap(),))
        .unwrap();
    let reply = check_reply(ok, "web.scope", Step::StopUnit).expect("a method return is Ok");
    assert_eq!(reply.header().primary().serial_num().get(), 10);
}

// Forged senders: a method return or an error naming a pending call's serial, or a
// JobRemoved, from anyone but the callee (or, for errors on a bus, the bus driver) is
// refused and counted, and the call keeps waiting for the real answer.

/// An error reply to `to` from `sender` (`None`: no sender field, as on the private socket).
fn error_from(to: &Message, sender: Option<&str>, serial: u32) -> Message {
    let mut b = Message::error(&to.header(), "org.freedesktop.DBus.Error.AccessDenied")
        .unwrap()
        .serial(nz(serial));
    if let Some(s) = sender {
        b = b.sender(s).unwrap();
    }
    b.build(&("forged",)).unwrap()
}

/// The bus-driver rule accepts an error only when the bus driver sent it: an error from
/// another client's unique name, with the serial of a call pending at systemd, is refused.
#[test]
fn an_error_from_another_unique_name_is_refused_and_the_call_keeps_waiting() {
    let (mut st, c) = (bus_state(), Counters::default());
    park(&mut st, 5, Some(":1.0"));
    assert!(!st.dispatch(&c, error_from(&call(), Some(":1.66"), 3)));
    assert!(
        st.calls.is_waiting(5),
        "a forged error must not answer the call"
    );
    assert!(st.calls.wrong_sender_seen(5));
    assert_eq!(c.wrong_sender_replies.load(Ordering::Relaxed), 1);
    assert_eq!(c.replies.load(Ordering::Relaxed), 0);
    assert_eq!(st.peer.messages, 0, "a stranger's serial is not systemd's");
    // The callee's own answer still gets through.
    assert!(st.dispatch(&c, reply(&call(), Some(":1.0"), 900)));
    assert!(st.calls.has_reply(5));
    assert_eq!(c.replies.load(Ordering::Relaxed), 1);
}

#[test]
fn a_return_from_another_unique_name_is_refused_and_the_call_keeps_waiting() {
    let (mut st, c) = (bus_state(), Counters::default());
    park(&mut st, 5, Some(":1.0"));
    for (forger, serial) in [(":1.66", 3), (":1.7", 4)] {
        assert!(
            !st.dispatch(&c, reply(&call(), Some(forger), serial)),
            "{forger}"
        );
        assert!(st.calls.is_waiting(5), "{forger}");
    }
    assert_eq!(c.wrong_sender_replies.load(Ordering::Relaxed), 2);
    assert!(st.dispatch(&c, error_from(&call(), Some(":1.0"), 901)));
    assert!(st.calls.has_reply(5));
}

/// A bus-driver error answers a call to systemd, but only on a bus: on the private socket
/// there is no driver, and an error naming it is a forgery like any other sender.
#[test]
fn on_the_private_socket_only_the_peer_itself_answers() {
    let (mut st, c) = (State::new(true), Counters::default());
    park(&mut st, 5, None);
    for forger in [BUS_NAME, ":1.3"] {
        assert!(
            !st.dispatch(&c, error_from(&call(), Some(forger), 10)),
            "{forger}"
        );
        assert!(
            !st.dispatch(&c, reply(&call(), Some(forger), 11)),
            "{forger}"
        );
        assert!(st.calls.is_waiting(5), "{forger}");
    }
    assert_eq!(c.wrong_sender_replies.load(Ordering::Relaxed), 4);
    // systemd's own sender, as the read half rewrites it, is the peer.
    let real = reply(
        &call(),
        Some(crate::private_socket::split::DIRECT_SENDER),
        12,
    );
    assert!(st.dispatch(&c, real));
    assert!(st.calls.has_reply(5));
}

#[test]
fn a_job_removed_from_a_foreign_sender_neither_answers_nor_overwrites_the_real_one() {
    let (mut st, c) = (bus_state(), Counters::default());
    st.job_interest = 1;
    let job = "/org/freedesktop/systemd1/job/7";
    for forger in [":1.66", BUS_NAME, ":1.7"] {
        assert!(!st.dispatch(&c, job_removed_on(MANAGER_IFACE, forger, 2, job, "failed")));
    }
    assert_eq!(c.foreign_signals.load(Ordering::Relaxed), 3);
    assert!(st.jobs.is_empty(), "{:?}", st.jobs);
    assert!(st.dispatch(&c, job_removed_on(MANAGER_IFACE, ":1.0", 30, job, "done")));
    assert!(!st.dispatch(&c, job_removed_on(MANAGER_IFACE, ":1.66", 3, job, "failed")));
    assert_eq!(st.jobs[job].1.result, "done");
    assert_eq!(c.foreign_signals.load(Ordering::Relaxed), 4);
    // On the private socket, a JobRemoved with any sender but systemd's is foreign too.
    let (mut st, c) = (State::new(true), Counters::default());
    st.job_interest = 1;
    assert!(!st.dispatch(&c, job_removed_on(MANAGER_IFACE, ":1.3", 2, job, "failed")));
    assert_eq!(c.foreign_signals.load(Ordering::Relaxed), 1);
    let real = job_removed_on(
        MANAGER_IFACE,
        crate::private_socket::split::DIRECT_SENDER,
        3,
        job,
        "done",
    );
    assert!(st.dispatch(&c, real));
    assert_eq!(st.jobs[job].1.result, "done");
}
