//! A container spec's `linux.resources` JSON through the OCI → systemd conversion (driver:
//! tests/support/oci_driver.rs). Finds go to ../regressions/oci_resources/<name>, which
//! tests/fuzz_regressions.rs replays on stable.
#![no_main]

#[path = "../../tests/support/oci_driver.rs"]
mod oci_driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = oci_driver::run(data);
});
