//! More routing rules of `State::dispatch` and `check_reply`, on messages built with zbus's
//! own builders: systemd's serials only count as a wrap when they go down; only the
//! Manager's `JobRemoved` is a job result; the job buffer ages entries out only when it is
//! full, and never one younger than its TTL; a D-Bus error reply is a typed error with
//! the error's name and message. A module of its own so that edits of the connection
//! code leave it alone.

use super::tests::{bus_state, job_removed_on, nz};
use super::*;

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
            assert_eq!(unit, "web.scope");
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
