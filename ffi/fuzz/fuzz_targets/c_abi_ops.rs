//! Random operation sequences through the C ABI, compared step by step with the Rust
//! allocator. Crashes found here go to ../regressions/<name>, where
//! ffi/tests/fuzz_regressions.rs replays them on stable.
#![no_main]

#[path = "../../tests/support/diff.rs"]
mod diff;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    diff::run(data);
});
