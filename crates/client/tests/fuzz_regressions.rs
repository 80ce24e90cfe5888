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
        oci_driver::run(&fs::read(&path).unwrap());
        n += 1;
    }
    n
}

#[test]
fn every_saved_oci_resources_input_still_converts_fail_closed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/oci_resources");
    assert!(replay(&dir) > 0, "no saved inputs in {}", dir.display());
}
