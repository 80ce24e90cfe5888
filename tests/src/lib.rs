//! End-to-end tests that span several crates, C and real systemd.
//!
//! Nothing lives here yet: today's end-to-end suites sit next to what they drive —
//! `crates/cli/tests` runs the built `sdcookie` binary against a sandboxed systemd, and
//! `scripts/test-reproduce` boots the patched systemd as PID 1 and drives its cookie across
//! `0xffffffff`. Tests that need several crates at once and belong to none of them go here.
