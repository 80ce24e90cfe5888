//! A real systemd in a sandbox, and a client on its system bus.

use std::time::Duration;

use sdbus_cgroup::{CgroupMode, Client, Options, Target, Timeouts};
use sdbus_sandbox::{Sandbox, SandboxChild, SandboxOptions};

/// Boots a sandbox with the host's systemd or fails the test with the reason (never skips).
pub fn boot() -> Sandbox {
    Sandbox::boot(SandboxOptions::default()).unwrap_or_else(|e| {
        panic!(
            "these tests need a real systemd in a sandbox (root, namespaces, systemd, \
             dbus-daemon); booting it failed: {e}"
        )
    })
}

/// The cgroup mode of the sandbox's hierarchy, as the client needs it.
pub fn mode(sb: &Sandbox) -> CgroupMode {
    if sb.cgroup_layout().is_unified() {
        CgroupMode::Unified
    } else {
        CgroupMode::Legacy
    }
}

/// Client options for the sandbox: its cgroup mode, and deadlines (20 s to connect, 20 s a
/// call, 30 s a job) that only turn a hang into a failure on a loaded machine.
pub fn options(sb: &Sandbox) -> Options {
    options_with_call_timeout(sb, Duration::from_secs(20))
}

/// [`options`] with the deadline of each call set to `call`.
pub fn options_with_call_timeout(sb: &Sandbox, call: Duration) -> Options {
    Options::default().with_cgroup_mode(mode(sb)).with_timeouts(
        Timeouts::default()
            .connect(Duration::from_secs(20))
            .call(call)
            .job(Duration::from_secs(30))
            // The sum of the steps: a slow sandbox is bounded by them, not by this.
            .operation(Duration::from_secs(20) + call + Duration::from_secs(30)),
    )
}

/// The sandbox's system bus, through dbus-daemon.
pub fn target(sb: &Sandbox) -> Target {
    Target::Address {
        address: sb.bus_address(),
        direct: false,
    }
}

/// A client on the sandbox's system bus.
pub fn client(sb: &Sandbox, opts: Options) -> Client {
    Client::connect(target(sb), opts)
        .unwrap_or_else(|e| panic!("connecting to the sandbox bus: {e}"))
}

/// A long sleep inside the sandbox, for a scope to hold.
pub fn sleeper(sb: &Sandbox) -> SandboxChild {
    sb.command("sleep")
        .arg("1000")
        .spawn()
        .expect("spawning sleep in the sandbox")
}
