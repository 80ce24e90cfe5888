//! Reconnecting does not leak: each replaced connection's socket, reader thread and zbus
//! executor thread go away. (Its own test binary, so the fd and thread counts are ours.)

mod common;

use std::time::Duration;

use common::*;

#[test]
fn fifty_reconnects_leave_no_fd_or_thread_behind() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    c.version().unwrap();
    let (fds, threads, names) = (fd_count(), thread_count(), thread_names());
    for _ in 0..50 {
        c.disconnect();
        assert_eq!(c.unit_path("none.scope").unwrap(), None);
    }
    let s = c.stats();
    assert_eq!((s.connects, s.disconnects), (51, 50), "{s:?}");
    assert_eq!(fd_count(), fds, "file descriptors leaked");
    assert!(
        eventually(Duration::from_secs(5), || thread_count() == threads),
        "threads leaked: {:?} now, {names:?} before",
        thread_names()
    );
    assert!(blocking_pool_threads() <= 4, "{:?}", thread_names());
    drop(c);
    assert!(
        eventually(Duration::from_secs(5), || fd_count() < fds),
        "dropping the client closes its socket"
    );
}
