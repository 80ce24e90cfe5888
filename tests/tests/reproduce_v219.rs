//! The post-mortem's own incident: real systemd v219 (RHEL/CentOS 7) as PID 1, stock
//! upstream and with our backport, its API-bus cookie moved to the edge by gdb: every claim
//! of `sdcookie-lab reproduce --release 219` asserted on its JSON report (the checks are in
//! `reproduce/mod.rs`, shared with v241). At the edge stock v219 stays on the bus and never
//! reads it again, so a caller without a deadline hangs, as runc did.

#[macro_use]
mod reproduce;

reproduce_tests!("219", "stays on the bus, deaf");
