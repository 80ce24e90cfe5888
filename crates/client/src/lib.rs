//! A runC-style systemd cgroup client over D-Bus that never hangs and checks cookies both
//! ways.
//!
//! What runc's systemd driver does — transient scopes and slices with OCI resource limits,
//! updates, attach, freeze/thaw, kill, stop + reset-failed — with three differences:
//!
//! - **Deadlines everywhere.** Every method call and every `JobRemoved` wait is bounded,
//!   and one deadline bounds each operation as a whole ([`Timeouts`]); a stalled systemd
//!   gives [`Error::Timeout`] naming the unit and the [`Step`], never a hang (runc has no
//!   per-call deadline: runc#3904).
//! - **Own cookies.** Every serial on the connection comes from an `sdbus-cookie`
//!   allocator, with systemd v242's cycle rule; replies are matched by this crate and must
//!   come from the callee. Timed-out calls keep their cookie quarantined until their late
//!   reply. Mismatches are counted in [`Stats`].
//! - **A watch on systemd's cookie.** On the API bus every message systemd sends carries
//!   PID 1's own sd-bus cookie; [`Stats::peer`] reports it, its headroom to `0xffffffff`
//!   and whether it has cycled — the counter that overflowed in systemd#11809.
//!
//! Every operation exists twice: as a future on [`AsyncClient`] (any executor: tokio,
//! async-io, ...) and blocking on [`Client`], which runs the same future to completion.
//! What a systemd accepts is decided per connection ([`releases`]): the cgroup properties
//! its root slice exposes, and a release table for the rest.
//!
//! The crate root holds the client and what it takes and returns; the rest is in modules:
//! [`convert`] (runc's numeric conversions), [`names`] (systemd's unit-name rules),
//! [`releases`] (which systemd accepts what), [`private_socket`] (PID 1's private socket,
//! by hand). With the `oci-spec` feature, `Resources::from_oci` converts an OCI runtime
//! spec's `linux.resources` the way runc does and lists what systemd cannot take, and
//! `parse_cgroups_path` reads `linux.cgroupsPath` (`slice:prefix:name`).
//!
//! ```no_run
//! use sdbus_cgroup::{Client, Options, Resources, Scope, Target};
//!
//! let client = Client::connect(Target::SystemBus, Options::default())?;
//! let scope = Scope::new("runc-demo.scope", vec![std::process::id()]).resources(
//!     Resources::new()
//!         .memory_limit(256 << 20)
//!         .cpu_shares(512)
//!         .pids_limit(100),
//! );
//! client.start_scope(&scope)?;
//! println!("cgroup: {}", client.control_group("runc-demo.scope")?);
//! client.stop("runc-demo.scope")?;
//! println!("{:?}", client.stats());
//! # Ok::<(), sdbus_cgroup::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod conn;
mod error;
pub mod names;
#[cfg(feature = "oci-spec")]
mod oci;
mod pending;
pub mod private_socket;
pub mod releases;
mod resources;
#[cfg(feature = "test-support")]
pub mod testing;

pub use client::{
    AsyncClient, Client, Options, PeerWatch, Scope, Slice, Started, Stats, Target, Timeouts,
};
pub use error::{BusError, Cause, Error, InputError, Result, Step, Unconverted};
#[cfg(feature = "oci-spec")]
pub use oci::{parse_cgroups_path, CgroupsPath, OciResources};
pub use resources::{
    CgroupMode, DeviceAllow, DevicePolicy, IoDeviceLimit, PropertyPlan, PropertyValue, Resources,
    Skipped,
};

/// runc's conversions between OCI values and systemd's (opencontainers/cgroups
/// `systemd/common.go`, `utils.go`), which [`Resources`] applies; public for a caller that
/// writes cgroupfs itself or shows what a value becomes.
pub mod convert {
    pub use crate::resources::{
        blkio_to_io_weight, cpuset_to_bits, quota_per_sec, shares_to_weight, tasks_max,
        DEFAULT_CPU_PERIOD_USEC, INFINITY,
    };
}

// The README's example is compiled as a doc test (not run: it needs systemd), so the
// published page cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
