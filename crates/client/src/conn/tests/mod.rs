//! The routing rules of `State::dispatch`, on messages built with zbus's own builders
//! (no bus needed: this is our matching logic, not systemd's behaviour).
use super::route::*;
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

mod replies_and_senders;
