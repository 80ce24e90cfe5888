//! Bytes from a peer on systemd's private socket through sdbus-cgroup's framing (driver:
//! src/private/fuzz.rs). Finds go to ../regressions/private_frame/<name>, which the crate's
//! unit tests replay on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sdbus_cgroup::private_socket::fuzz::private_frame(data);
});
