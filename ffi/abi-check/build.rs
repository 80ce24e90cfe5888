//! Runs bindgen over the C header and turns every function it declares into a check
//! `const _: <bindgen's fn-pointer type> = sdbus_cookie_ffi::<name>;`, compiled in lib.rs.
//! A parameter or return type that differs between the header and the Rust export, or a
//! function the header declares but Rust does not export, is then a compile error.
//!
//! The header is `$SDBUS_COOKIE_ABI_HEADER` when set (scripts/test-ffi points it at the
//! INSTALLED header), else the source header ffi/include/sdbus-cookie.h.
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use quote::ToTokens;

fn main() {
    println!("cargo:rerun-if-env-changed=SDBUS_COOKIE_ABI_HEADER");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let header = env::var_os("SDBUS_COOKIE_ABI_HEADER")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../include/sdbus-cookie.h"));
    println!("cargo:rerun-if-changed={}", header.display());
    assert!(
        header.is_file(),
        "abi-check: header {} does not exist",
        header.display()
    );

    let bindings = bindgen::Builder::default()
        .header(header.to_str().expect("UTF-8 header path"))
        .allowlist_function("sdbus_cookie_.*")
        .allowlist_type("sdbus_cookie_.*")
        .allowlist_var("SDBUS_COOKIE_.*")
        // the opaque handle must be the Rust type itself, so the checks compare like with like
        .blocklist_type("sdbus_cookie_allocator")
        .generate()
        .unwrap_or_else(|e| panic!("abi-check: bindgen failed on {}: {e}", header.display()))
        .to_string();

    let file = syn::parse_file(&bindings).expect("bindgen output parses");
    let mut checks = String::new();
    let mut names = Vec::new();
    for item in &file.items {
        let syn::Item::ForeignMod(m) = item else {
            continue;
        };
        for f in &m.items {
            let syn::ForeignItem::Fn(f) = f else { continue };
            let name = f.sig.ident.to_string();
            let params: Vec<String> = f
                .sig
                .inputs
                .iter()
                .map(|a| match a {
                    syn::FnArg::Typed(t) => t.ty.to_token_stream().to_string(),
                    syn::FnArg::Receiver(_) => unreachable!("C has no self"),
                })
                .collect();
            let ret = f.sig.output.to_token_stream().to_string();
            writeln!(
                checks,
                "const _: unsafe extern \"C\" fn({}) {ret} = sdbus_cookie_ffi::{name};",
                params.join(", ")
            )
            .unwrap();
            names.push(name);
        }
    }
    assert!(
        !names.is_empty(),
        "abi-check: no functions found in {}",
        header.display()
    );
    writeln!(
        checks,
        "/// Every function the header declares, in header order."
    )
    .unwrap();
    writeln!(checks, "pub const HEADER_FUNCTIONS: &[&str] = &{names:?};").unwrap();

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("bindings.rs"), bindings).unwrap();
    fs::write(out.join("checks.rs"), checks).unwrap();
}
