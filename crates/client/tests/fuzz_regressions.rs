//! The `oci_resources` fuzz target's driver (tests/support/oci_driver.rs) on stable, without
//! libFuzzer: every saved input under crates/client/fuzz/regressions/oci_resources/ (each
//! named for what it exercises or broke) and the runtime-spec examples the fuzzer starts
//! from. The private socket's framing target replays its inputs in the crate's unit tests
//! (src/private/fuzz.rs), because its driver reads crate-private code.

#[path = "support/oci_driver.rs"]
mod oci_driver;

use std::fs;
use std::path::Path;

fn replay(dir: &Path) -> usize {
    let mut n = 0;
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            continue;
        }
        eprintln!("replaying {}", path.display());
        let _ = oci_driver::run(&fs::read(&path).unwrap());
        n += 1;
    }
    n
}

#[test]
fn every_saved_oci_resources_input_still_converts_fail_closed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/oci_resources");
    assert!(replay(&dir) > 0, "no saved inputs in {}", dir.display());
}

/// The structured half of the driver on stable: 20 000 inputs from a fixed linear
/// congruential sequence. It must reach both ends of the conversion (not stop in the
/// parser), and every input that converts must hold the driver's checks.
#[test]
fn a_fixed_sweep_of_structured_inputs_both_converts_and_is_refused() {
    let mut state: u64 = 0x5eed;
    let (mut converted, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let input: Vec<u8> = (0..48)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .map(|b| if b == b'{' { 0 } else { b })
            .collect();
        match oci_driver::run(&input) {
            oci_driver::Outcome::Converted => converted += 1,
            oci_driver::Outcome::Refused => refused += 1,
            oci_driver::Outcome::NotParsed => {}
        }
    }
    eprintln!("structured sweep: {converted} converted, {refused} refused of 20000");
    assert!(
        converted > 1000 && refused > 1000,
        "{converted} converted, {refused} refused"
    );
}
