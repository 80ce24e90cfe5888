//! The cookie-overflow incident on real systemd v241 (Debian 10) as PID 1, stock upstream
//! and with our backport: every claim of `sdcookie-lab reproduce` asserted on its JSON report
//! (the checks are in `reproduce/mod.rs`, shared with v219). At the edge v241 stays on the
//! bus, deaf, after the runtime's failed call, and leaves it once a reply sd-bus sends by
//! itself fails to seal (systemd commit 5ae37ad833).

#[macro_use]
mod reproduce;

reproduce_tests!("241", "leaves the bus");
