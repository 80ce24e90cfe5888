//! The workspace's binaries, built with the cargo and profile of the test that asks (cargo
//! builds only a package's own binaries for its tests, and another package's binary has no
//! `CARGO_BIN_EXE_*`), found through cargo's own report of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's root (this crate sits in `crates/test-support`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/test-support has a grandparent")
        .to_path_buf()
}

/// Builds `sdcookie`, the operator's binary, with the cargo and profile this test was
/// built with and returns the executable's path (cargo's own report of it,
/// `--message-format=json`); once per test binary.
pub fn sdcookie() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| build_binaries(&[("sdcookie", "sdcookie")]).remove(0))
        .clone()
}

/// Builds `sdcookie-lab` (sandbox, demo, reproduce) and, beside it, the `sdcookie` whose
/// doctor it runs; returns `sdcookie-lab`'s path. Once per test binary.
pub fn sdcookie_lab() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let built =
                build_binaries(&[("sdcookie-lab", "sdcookie-lab"), ("sdcookie", "sdcookie")]);
            assert_eq!(
                built[0].parent(),
                built[1].parent(),
                "sdcookie-lab runs the sdcookie in its own directory"
            );
            built[0].clone()
        })
        .clone()
}

/// Builds each (package, binary) in one cargo run; their paths in the same order.
pub fn build_binaries(wanted: &[(&str, &str)]) -> Vec<PathBuf> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo()).args(["build", "--locked"]);
    for (package, bin) in wanted {
        cmd.args(["-p", package, "--bin", bin]);
    }
    cmd.arg("--message-format=json-render-diagnostics")
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run cargo build");
    assert!(out.status.success(), "cargo build {wanted:?} failed");
    let artifacts: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["reason"] == "compiler-artifact")
        .collect();
    wanted
        .iter()
        .map(|(_, bin)| {
            artifacts
                .iter()
                .filter(|v| v["target"]["name"] == *bin)
                .find_map(|v| v["executable"].as_str().map(PathBuf::from))
                .unwrap_or_else(|| panic!("cargo reported no {bin} executable"))
        })
        .collect()
}
