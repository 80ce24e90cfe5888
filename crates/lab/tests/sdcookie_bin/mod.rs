//! The operator's `sdcookie` beside `sdcookie-lab`, which `demo` and `reproduce` run: cargo
//! builds only this package's binaries for its tests, so sdbus-test-support builds it (once
//! per test binary) with the same cargo and profile, which puts it in the same directory.

use std::path::Path;

/// Builds `sdcookie` and returns its path, which is beside `lab`.
pub fn sdcookie(lab: &str) -> String {
    let path = sdbus_test_support::bins::sdcookie();
    assert_eq!(
        path.parent(),
        Path::new(lab).parent(),
        "sdcookie-lab runs the sdcookie in its own directory"
    );
    path.to_str().expect("a UTF-8 target directory").to_owned()
}
