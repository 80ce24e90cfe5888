//! End-to-end tests that span several crates, C and real systemd.
//!
//! `tests/deploy.rs` runs `deploy/` end to end: the shipped textfile service in a sandboxed
//! systemd, a real node_exporter and a real Prometheus on 127.0.0.1. Other end-to-end
//! suites still sit next to what they drive — `crates/cli/tests` runs the built `sdcookie`
//! binary against a sandboxed systemd, and `scripts/test-reproduce` boots the patched
//! systemd as PID 1 and drives its cookie across `0xffffffff`. Tests that need several
//! crates at once and belong to none of them go here.
