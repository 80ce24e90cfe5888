//! 50 scope lifecycles at once from 50 threads on one shared client: every reply reaches its
//! own caller, every JobRemoved its own waiter, and nothing is left behind.

mod common;

use common::*;
use sdbus_cgroup::Scope;

const THREADS: usize = 50;
const ROUNDS: usize = 2;

#[test]
fn fifty_concurrent_scope_lifecycles_leak_no_unit_cgroup_cookie_or_fd() {
    let sb = boot();
    let c = client(&sb, options(&sb));
    let baseline = Baseline::take();
    for round in 0..ROUNDS {
        // Spawn first (nsenter is the slow part), then race the D-Bus work.
        let mut children: Vec<_> = (0..THREADS).map(|_| sleeper(&sb)).collect();
        let barrier = std::sync::Barrier::new(THREADS);
        std::thread::scope(|s| {
            for (i, child) in children.iter().enumerate() {
                let (c, barrier) = (&c, &barrier);
                let pid = child.pid();
                s.spawn(move || {
                    let name = format!("par-{round}-{i}.scope");
                    barrier.wait();
                    c.start_scope(&Scope::new(name.as_str(), vec![pid]))
                        .unwrap_or_else(|e| panic!("start {name}: {e}"));
                    let cg = c.control_group(&name).unwrap();
                    assert_eq!(cg, format!("/system.slice/{name}"));
                    c.stop(&name).unwrap_or_else(|e| panic!("stop {name}: {e}"));
                });
            }
        });
        for child in &mut children {
            child.wait().unwrap();
        }
    }
    let s = c.stats();
    assert_eq!(
        (s.pending, s.quarantined, s.waiting_calls, s.buffered_jobs),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!((s.connects, s.timeouts), (1, 0), "{s:?}");
    assert_eq!(
        (s.unmatched_replies, s.wrong_sender_replies, s.late_replies),
        (0, 0, 0),
        "{s:?}"
    );
    baseline.assert_nothing_leaked(&sb);
    for round in 0..ROUNDS {
        for i in 0..THREADS {
            let name = format!("par-{round}-{i}.scope");
            assert_eq!(c.unit_path(&name).unwrap(), None, "{name} still loaded");
        }
    }
    println!("after {} concurrent lifecycles: {s:?}", THREADS * ROUNDS);
}
