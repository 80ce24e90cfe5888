//! 1,000 scope lifecycles one after another on one connection leave nothing behind:
//! no unit, no cgroup, no pending cookie, no buffered job, no file descriptor, no thread.
//! (Its own test binary, so nothing else in the process moves the fd and thread counts.)

mod common;

use common::*;
use sdbus_cgroup::Scope;

const N: usize = 1000;

fn lifecycle(sb: &sdbus_sandbox::Sandbox, c: &sdbus_cgroup::Client, name: &str) {
    let mut child = sleeper(sb);
    c.start_scope(&Scope::new(name, vec![child.pid()]))
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    c.stop(name).unwrap_or_else(|e| panic!("stop {name}: {e}"));
    child.wait().unwrap();
}

#[test]
fn thousand_sequential_scope_lifecycles_leak_no_unit_cgroup_cookie_or_fd() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    lifecycle(&sb, &c, "warmup.scope");
    let baseline = Baseline::take();
    let calls_before = c.stats().calls;
    for i in 0..N {
        lifecycle(&sb, &c, &format!("seq-{i}.scope"));
    }
    let s = c.stats();
    assert_eq!(
        (s.pending, s.quarantined, s.waiting_calls, s.buffered_jobs),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!((s.connects, s.disconnects, s.timeouts), (1, 0, 0), "{s:?}");
    assert_eq!(
        (s.unmatched_replies, s.wrong_sender_replies, s.late_replies),
        (0, 0, 0),
        "{s:?}"
    );
    assert!(s.jobs_removed >= 2 * N as u64, "{s:?}");
    // StartTransientUnit + StopUnit + ResetFailedUnit per lifecycle.
    assert_eq!(s.calls - calls_before, 3 * N as u64, "{s:?}");
    baseline.assert_nothing_leaked(&sb);
    for i in 0..N {
        let name = format!("seq-{i}.scope");
        assert_eq!(c.unit_path(&name).unwrap(), None, "{name} still loaded");
    }
    println!("after {N} lifecycles: {s:?}");
}
