//! Moving the live PID 1's API-bus cookie: the sandbox's gdb step
//! ([`sdbus_sandbox::Sandbox::set_api_bus_cookie`]), poked by pings from a connection of
//! its own so that systemd seals a message on its API bus soon.

use std::time::Duration;

use sdbus_cgroup::testing::{Ping, PingTarget};
use sdbus_cgroup::{Client, Options, Target, Timeouts};

use super::drive::Ctx;
use super::ReproduceError;

/// What moving the cookie found and took.
pub(super) struct GdbOutcome {
    /// The cookie PID 1 had when it stopped.
    pub(super) found: Option<u64>,
    /// From attach to detach (s).
    pub(super) seconds: f64,
}

/// Sets PID 1's API-bus cookie to `value` with gdb; a failure names its kind and gdb's words.
pub(super) fn move_cookie(cx: &Ctx<'_>, value: u32) -> Result<GdbOutcome, ReproduceError> {
    // A connection of its own, so the main client's counters see none of this.
    let trigger = Client::new(
        Target::Address {
            address: cx.sandbox.bus_address(),
            direct: false,
        },
        Options::default().with_timeouts(
            Timeouts::default()
                .connect(Duration::from_secs(1))
                .call(Duration::from_secs(1))
                .job(Duration::from_secs(1))
                .operation(Duration::from_secs(3)),
        ),
    );
    let moved = cx.sandbox.set_api_bus_cookie(value, || {
        // A lost ping only means the next one comes 50 ms later.
        let _ = trigger.ping(PingTarget::Systemd, None, Duration::from_millis(500));
    });
    match moved {
        Ok(m) => Ok(GdbOutcome {
            found: Some(m.found),
            seconds: m.took.as_secs_f64(),
        }),
        Err(sdbus_sandbox::Error::Gdb { kind, detail }) => Err(cx.fail(ReproduceError::Gdb {
            build: cx.build,
            kind,
            detail,
        })),
        Err(source) => Err(cx.fail(ReproduceError::Sandbox {
            build: cx.build,
            step: "move the API-bus cookie with gdb",
            source,
        })),
    }
}
