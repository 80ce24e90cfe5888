//! What the tests of several crates of this workspace need alike, in one place: a real
//! systemd in a sandbox and a client on its bus ([`sandbox`]), the workspace's binaries
//! built with the test's own cargo and profile ([`bins`]), a run of one of them that a hang
//! fails instead of stalling CI ([`run`]), and the stock and patched PID 1s of
//! `systemd-patch/build-pid1` ([`pid1s`]).
//!
//! A dev-dependency only. What a test needs and cannot find (root, a build, a sandbox)
//! fails it with the reason, never skips it.

pub mod bins;
pub mod pid1s;
pub mod run;
pub mod sandbox;
