//! The operator's `sdcookie` beside `sdcookie-lab`, which `demo` runs: cargo builds only
//! this package's binaries for its tests, so each test binary builds it once, with the same
//! cargo and profile.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Builds `sdcookie` (once per test binary) and returns its path, beside `lab`.
pub fn sdcookie(lab: &str) -> String {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let path = BUILT.get_or_init(|| {
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut build = Command::new(cargo);
        build.args(["build", "--locked", "-p", "sdcookie", "--bin", "sdcookie"]);
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p sdcookie");
        assert!(status.success(), "cargo build -p sdcookie: {status}");
        PathBuf::from(lab).with_file_name("sdcookie")
    });
    assert!(path.is_file(), "{} was not built", path.display());
    path.to_str().expect("a UTF-8 target directory").to_owned()
}
