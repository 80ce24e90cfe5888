//! The client's own cookies cross the 32-bit edge the way systemd v242+ does: after
//! `0xffffffff` comes `0x80000000`, and cookies still pending are skipped (docs/ARCHITECTURE.md §3).
//! The connection is driven to the edge with a message sealed by the caller, which the
//! connection adopts (`cookie = max(cookie, k)`), as sd-bus does.

mod common;

use std::time::Duration;

use common::*;
use sdbus_cgroup::testing::{Ping, PingTarget};
use sdbus_cgroup::{Client, Error, Scope, Step};

const EDGE: u32 = 0xffff_fff0;
const CYCLED: u32 = 0x8000_0000;

/// Pings `target` one at a time from the edge up to the ceiling, then once more; returns the
/// serials used.
fn ping_across(c: &Client, target: PingTarget) -> Vec<u32> {
    let mut used = Vec::new();
    loop {
        let s = c.ping(target, None, Duration::from_secs(10)).expect("ping");
        used.push(s);
        if s < EDGE {
            return used;
        }
    }
}

fn lifecycles(sb: &sdbus_sandbox::Sandbox, c: &Client, n: usize) {
    for i in 0..n {
        let mut child = sleeper(sb);
        let name = format!("edge-{i}.scope");
        c.start_scope(&Scope::new(name.as_str(), vec![child.pid()]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        c.stop(&name).unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn client_cookies_cycle_to_0x80000000_and_skip_pending_ones() {
    let sb = boot();
    let c = client(&sb, options(&sb));

    // 1. No pending cookie in the cycled half: ...fffffffe, ffffffff, 80000000.
    assert_eq!(
        c.ping(PingTarget::Systemd, Some(EDGE), Duration::from_secs(10))
            .unwrap(),
        EDGE
    );
    let s = c.stats();
    assert_eq!(
        (s.cookie, s.cookie_cycled, s.cookie_headroom),
        (u64::from(EDGE), true, 15),
        "{s:?}"
    );
    let used = ping_across(&c, PingTarget::Systemd);
    let want: Vec<u32> = (EDGE + 1..=u32::MAX).chain([CYCLED]).collect();
    assert_eq!(used, want);
    assert_eq!(c.stats().cookie_wraps, 1);
    lifecycles(&sb, &c, 10);
    let s = c.stats();
    assert!(
        s.cookie > u64::from(CYCLED) && s.cookie < u64::from(CYCLED) + 1000,
        "{s:?}"
    );
    assert_eq!((s.pending, s.waiting_calls), (0, 0), "{s:?}");

    // 2. A fresh connection (fresh allocator), with 0x80000000 and 0x80000001 held by calls
    //    to a stalled systemd that time out and stay quarantined: the cookie after
    //    0xffffffff is 0x80000002. The bus driver answers the pings meanwhile.
    c.disconnect();
    assert_eq!(
        c.ping(PingTarget::Systemd, Some(EDGE), Duration::from_secs(10))
            .unwrap(),
        EDGE
    );
    assert_eq!(c.stats().connects, 2);
    signal(sb.pid(), nix::sys::signal::Signal::SIGSTOP);
    let cont = ContOnDrop(sb.pid());
    for k in [CYCLED, CYCLED + 1] {
        let e = c
            .ping(PingTarget::Systemd, Some(k), Duration::from_millis(300))
            .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Timeout {
                    step: Step::Ping,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    let s = c.stats();
    assert_eq!(
        (s.cookie, s.pending, s.quarantined),
        (u64::from(EDGE), 2, 2),
        "sealing below the cookie does not lower it: {s:?}"
    );
    let used = ping_across(&c, PingTarget::Bus);
    let want: Vec<u32> = (EDGE + 1..=u32::MAX).chain([CYCLED + 2]).collect();
    assert_eq!(used, want, "pending 0x80000000/1 are skipped");
    signal(sb.pid(), nix::sys::signal::Signal::SIGCONT);
    drop(cont);
    // systemd wakes up and answers the parked pings late: they release their cookies.
    assert!(
        eventually(Duration::from_secs(10), || c.stats().pending == 0),
        "{:?}",
        c.stats()
    );
    assert_eq!(c.stats().late_replies, 2);
    // Lifecycles after the wrap work on the same connection.
    lifecycles(&sb, &c, 20);
    let s = c.stats();
    assert!(
        s.cookie > u64::from(CYCLED + 2) && s.cookie < u64::from(CYCLED) + 1000,
        "{s:?}"
    );
    assert_eq!(
        (s.pending, s.quarantined, s.cookie_wraps, s.connects),
        (0, 0, 1, 2),
        "{s:?}"
    );
    assert_eq!(
        (s.unmatched_replies, s.wrong_sender_replies),
        (0, 0),
        "{s:?}"
    );
    assert!(
        s.peer.messages > 0 && !s.peer.cycled,
        "systemd's own cookie is far from the edge: {s:?}"
    );
}
