//! `sdcookie-lab reproduce` stopped by a signal (what `timeout`, `systemctl stop` and a
//! closed terminal send) while its sandbox runs a real v241 PID 1: it exits with 128+N and
//! leaves the host as it found it: no sandbox cgroups, no PID 1, no mounts. Once right after
//! PID 1 came up, once while a caller waits on a PID 1 whose cookie gdb moved to the edge.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

use sdbus_cookie_tests::{assert_named_sandbox_gone, host_mounts, pid1s, spawn_reproduce};

/// Runs `reproduce` on the stock and patched v241, sends `signal` (a name for kill(1)) when
/// a line of its progress contains `at`, and checks the exit and what is left.
fn signal_during_reproduce(signal: &str, number: i32, at: &str) {
    let (stock, patched) = pid1s("241");
    let mounts = host_mounts();
    let mut child = spawn_reproduce(&stock, &patched);
    let mut pid1 = None;
    let mut sent = false;
    let mut stderr = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        // "reproduce: [stock] systemd 241 up as host pid N in cgroup sandbox-ID, ..."
        if let Some((_, rest)) = line.split_once("up as host pid ") {
            pid1 = rest
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok());
        }
        if !sent && line.contains(at) {
            let st = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
            assert!(
                st.is_ok_and(|s| s.success()),
                "kill -{signal} {}",
                child.id()
            );
            sent = true;
        }
        stderr.push(line);
    }
    let status = child.wait().unwrap();
    let text = stderr.join("\n");
    assert!(sent, "the run never printed a line with {at:?}:\n{text}");
    assert_eq!(
        status.code(),
        Some(128 + number),
        "SIG{signal}: {status}:\n{text}"
    );
    let pid1 = pid1.expect("the run printed PID 1's host pid");
    assert!(
        !Path::new(&format!("/proc/{pid1}")).exists(),
        "PID 1 (host pid {pid1}) still runs after SIG{signal}:\n{text}"
    );
    assert_eq!(host_mounts(), mounts, "the host's mount table changed");
    assert_named_sandbox_gone(&text);
}

#[test]
fn sigterm_right_after_pid1_came_up_leaves_the_host_as_found() {
    signal_during_reproduce("TERM", 15, "up as host pid");
}

#[test]
fn sighup_while_a_caller_waits_at_the_edge_leaves_the_host_as_found() {
    signal_during_reproduce("HUP", 1, "[stock] a caller without a deadline");
}
