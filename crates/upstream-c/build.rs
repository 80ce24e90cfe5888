//! Compiles our C re-implementation of sd-bus's cookie algorithms (`c/`) with
//! `cc` and generates its Rust declarations with `bindgen` (needs libclang:
//! `scripts/install-deps` installs `libclang-dev`).

use std::env;
use std::path::PathBuf;

fn main() {
    let header = "c/upstream_cookie.h";
    let source = "c/upstream_cookie.c";
    println!("cargo:rerun-if-changed={header}");
    println!("cargo:rerun-if-changed={source}");

    cc::Build::new()
        .file(source)
        .include("c")
        .flag_if_supported("-std=c99")
        .flag_if_supported("-pedantic")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("upstream_cookie");

    let bindings = bindgen::Builder::default()
        .header(header)
        .allowlist_function("uc_.*")
        .allowlist_type("uc_.*")
        .allowlist_var("UC_.*")
        .constified_enum_module("uc_errno")
        .opaque_type("uc_v242")
        .derive_debug(true)
        .derive_copy(true)
        .derive_default(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| {
            panic!("bindgen failed on {header} (is libclang-dev installed? run scripts/install-deps): {e}")
        });
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings.rs to OUT_DIR");
}
