//! Gives the shared library its soname, which carries the ABI version: `libsdbus_cookie.so.<major>`
//! from 1.0 on and `libsdbus_cookie.so.0.<minor>` before (in 0.x a minor release may break the
//! ABI, as Cargo's semver rules allow), so a program linked against one ABI never loads an
//! incompatible one. scripts/install-ffi installs the file as
//! `libsdbus_cookie.so.<major>.<minor>.<patch>` with the soname's link beside it.
//!
//! The header is the contract: the build fails unless its `SDBUS_COOKIE_VERSION_*` macros
//! equal this package's version.
use std::{env, fs};

fn main() {
    let header = "../include/sdbus-cookie.h";
    println!("cargo:rerun-if-changed={header}");
    println!("cargo:rerun-if-changed=build.rs");
    let text = fs::read_to_string(header).unwrap_or_else(|e| panic!("{header}: {e}"));
    let mut version = [0u64; 3];
    for (part, slot) in ["MAJOR", "MINOR", "PATCH"].iter().zip(&mut version) {
        let name = format!("#define SDBUS_COOKIE_VERSION_{part} ");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&name))
            .unwrap_or_else(|| panic!("{header} does not define SDBUS_COOKIE_VERSION_{part}"));
        *slot = line
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{header}: {name}{line}: {e}"));
    }
    let package = ["MAJOR", "MINOR", "PATCH"].map(|p| {
        let v = env::var(format!("CARGO_PKG_VERSION_{p}")).expect("cargo sets the version");
        v.parse::<u64>().expect("cargo versions are numbers")
    });
    assert_eq!(
        version, package,
        "{header} declares version {version:?}, ffi/lib/Cargo.toml {package:?}: keep them equal"
    );
    let abi = match version {
        [0, minor, _] => format!("0.{minor}"),
        [major, ..] => major.to_string(),
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsdbus_cookie.so.{abi}");
}
